/**
 * Mapping VS Code's flat `winnow.*` settings onto the server's settings object
 * (docs/settings.md). Pure: no `vscode` import, so node tests can load it.
 */

/**
 * Every server setting, by its path below `winnow.` (the same path the server
 * reads from `initializationOptions`). The defaults and descriptions live in
 * package.json's `contributes.configuration`; a test checks both against
 * docs/settings.md.
 */
export const SERVER_SETTING_KEYS = [
  'generatorModel',
  'judge',
  'allowDownload',
  'candidates',
  'temperature',
  'maxTokens',
  'debounceMs',
  'threads',
  'trustedFolders',
  'inlineCompletion.enabled',
  'inlineCompletion.candidates',
  'codeActions.enabled',
  'diagnostics.enabled',
  'diagnostics.runCode',
  'diagnostics.examples',
  'diagnostics.probes',
  'diagnostics.typedInputs',
  'diagnostics.callSites',
  'diagnostics.judge',
  'diagnostics.threshold',
  'diagnostics.severity',
  'diagnostics.tests',
  'diagnostics.testRunner',
  'diagnostics.testTimeout',
  'diagnostics.crashes',
  'diagnostics.exclude',
  'context.enabled',
  'context.maxTokens',
  'context.maxFiles',
] as const;

export type ServerSettingKey = (typeof SERVER_SETTING_KEYS)[number];

/**
 * Settings only the extension reads; they are never sent to the server. `enable`
 * (language-overridable) and `inlineCompletion.trigger` are applied in the extension's
 * middleware (src/activity.ts).
 */
export const CLIENT_SETTING_KEYS = ['pythonPath', 'trace.server', 'enable', 'inlineCompletion.trigger'] as const;

/** The client settings that decide, per document, what reaches the server and what is shown. */
export const CONTROL_SETTING_KEYS = ['enable', 'inlineCompletion.trigger'] as const;

/**
 * Settings whose change restarts the server: the interpreter. Everything else reaches the
 * running server through `workspace/didChangeConfiguration`; a change of `generatorModel`,
 * `judge` or `allowDownload` makes it load the models again in place (its `model_key`),
 * `threads` applies to the loaded models.
 */
export const RESTART_SETTING_KEYS = ['pythonPath'] as const;

/** The part of VS Code's `WorkspaceConfiguration.inspect()` result that says where a value was set. */
export interface SettingInspection {
  globalValue?: unknown;
  workspaceValue?: unknown;
  workspaceFolderValue?: unknown;
  globalLanguageValue?: unknown;
  workspaceLanguageValue?: unknown;
  workspaceFolderLanguageValue?: unknown;
}

/** Whether a setting was set in any scope (rather than left at its default). */
export function isExplicitlySet(inspection: SettingInspection | undefined): boolean {
  if (inspection === undefined) {
    return false;
  }
  return [
    inspection.globalValue,
    inspection.workspaceValue,
    inspection.workspaceFolderValue,
    inspection.globalLanguageValue,
    inspection.workspaceLanguageValue,
    inspection.workspaceFolderLanguageValue,
  ].some((value) => value !== undefined);
}

/** A flat record of settings, keyed by path below `winnow.` (a `winnow.` prefix is accepted too). */
export type FlatSettings = Readonly<Record<string, unknown>>;

/** The nested object the server reads (`initializationOptions`, `didChangeConfiguration`). */
export interface ServerSettings {
  [key: string]: unknown;
}

const SERVER_KEYS: ReadonlySet<string> = new Set<string>(SERVER_SETTING_KEYS);

function stripPrefix(key: string): string {
  return key.startsWith('winnow.') ? key.slice('winnow.'.length) : key;
}

/**
 * Turn `{"diagnostics.threshold": 0.3, "candidates": 5}` into
 * `{"diagnostics": {"threshold": 0.3}, "candidates": 5}`.
 *
 * Only the server's settings are kept: client-only settings (`pythonPath`,
 * `trace.server`) and unknown keys are dropped, and so are `undefined` values
 * (the server then takes its own default). Values pass through unchanged: the
 * server validates them and reports bad ones.
 */
export function toServerSettings(flat: FlatSettings): ServerSettings {
  const result: ServerSettings = {};
  for (const [rawKey, value] of Object.entries(flat)) {
    const key = stripPrefix(rawKey);
    if (!SERVER_KEYS.has(key) || value === undefined) {
      continue;
    }
    const parts = key.split('.');
    const leaf = parts.pop();
    if (leaf === undefined) {
      continue;
    }
    let node = result;
    for (const part of parts) {
      const child = node[part];
      if (typeof child === 'object' && child !== null && !Array.isArray(child)) {
        node = child as ServerSettings;
      } else {
        const created: ServerSettings = {};
        node[part] = created;
        node = created;
      }
    }
    node[leaf] = value;
  }
  return result;
}

/** Whether a change of `winnow.<key>` needs a server restart. */
export function needsRestart(affects: (fullKey: string) => boolean): boolean {
  return RESTART_SETTING_KEYS.some((key) => affects(`winnow.${key}`));
}

/** Whether a change touches `winnow.enable` or `winnow.inlineCompletion.trigger`. */
export function affectsControls(affects: (fullKey: string) => boolean): boolean {
  return CONTROL_SETTING_KEYS.some((key) => affects(`winnow.${key}`));
}

/** Whether a change reaches the running server as `workspace/didChangeConfiguration`. */
export function affectsServerSettings(affects: (fullKey: string) => boolean): boolean {
  return SERVER_SETTING_KEYS.some((key) => affects(`winnow.${key}`));
}

/** What VS Code says about the workspace's trust, as the settings mapping needs it. */
export interface WorkspaceTrust {
  /** `vscode.workspace.isTrusted`: false in Restricted Mode. */
  readonly trusted: boolean;
  /** The workspace folders on disk (their `fsPath`s), in VS Code's order. */
  readonly folders: readonly string[];
}

/** The strings of a `winnow.trustedFolders` value, trimmed; blanks and non-strings dropped. */
function folderList(value: unknown): string[] {
  if (!Array.isArray(value)) {
    return [];
  }
  return value.filter((item): item is string => typeof item === 'string' && item.trim().length > 0).map((item) => item.trim());
}

/**
 * The flat settings as workspace trust allows them (docs/settings.md, `trustedFolders`):
 *
 * - Restricted Mode (`trusted` false): `diagnostics.runCode` is false and `trustedFolders`
 *   empty, whatever the user set, so the server runs none of the workspace's code;
 * - trusted: `trustedFolders` is the workspace's folders followed by the user's own
 *   `winnow.trustedFolders` (duplicates, blank entries and non-strings dropped: the server
 *   rejects a whole list that holds one bad entry, the workspace's folders with it), and
 *   `diagnostics.runCode` stays as the user set it.
 *
 * Keys come back without the `winnow.` prefix. Pure: the caller reads `isTrusted` and the
 * folders from VS Code.
 */
export function applyWorkspaceTrust(flat: FlatSettings, trust: WorkspaceTrust): FlatSettings {
  const result: Record<string, unknown> = {};
  for (const [rawKey, value] of Object.entries(flat)) {
    result[stripPrefix(rawKey)] = value;
  }
  if (!trust.trusted) {
    return { ...result, 'diagnostics.runCode': false, trustedFolders: [] };
  }
  const folders = [...folderList([...trust.folders]), ...folderList(result['trustedFolders'])];
  result['trustedFolders'] = [...new Set(folders)];
  return result;
}

/** The server's settings object under workspace trust: `toServerSettings(applyWorkspaceTrust(…))`. */
export function serverSettingsUnderTrust(flat: FlatSettings, trust: WorkspaceTrust): ServerSettings {
  return toServerSettings(applyWorkspaceTrust(flat, trust));
}
