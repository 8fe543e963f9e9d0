/**
 * Identifiers shared by the extension's modules. Pure: no `vscode` import.
 *
 * The client-side command ids live under `winnow.client.*` on purpose: the
 * language client registers every command the server lists in
 * `executeCommandProvider.commands` (`winnow.showStats`, `winnow.reloadModels`,
 * `winnow.implementFunction`) as a VS Code command of the same id, and a second
 * registration of one of those ids would fail.
 */

/** Languages whose files the server serves (inline completion everywhere; functions, code
 * actions and hints for these: judge/sites/). package.json's activation events
 * name the same list (a test checks it). */
export const LANGUAGES = ['python', 'java'] as const;

/** The configuration section, and the language client's id (it reads `winnow.trace.server`). */
export const CONFIG_SECTION = 'winnow';

export const CLIENT_NAME = 'Winnow';

export const CLIENT_COMMANDS = {
  restartServer: 'winnow.client.restartServer',
  showStats: 'winnow.client.showStats',
  implementFunction: 'winnow.client.implementFunction',
  toggle: 'winnow.client.toggle',
  snooze: 'winnow.client.snooze',
  chooseModel: 'winnow.client.chooseModel',
  reloadModels: 'winnow.client.reloadModels',
  showMenu: 'winnow.client.showMenu',
  openSettings: 'winnow.client.openSettings',
} as const;

/** The extension's id (`publisher.name` in package.json), for `@ext:` settings searches. */
export const EXTENSION_ID = 'winnow.winnow';

/** Commands the server answers through `workspace/executeCommand` (docs/settings.md). */
export const SERVER_COMMANDS = {
  showStats: 'winnow.showStats',
  reloadModels: 'winnow.reloadModels',
  implementFunction: 'winnow.implementFunction',
} as const;

/**
 * The server's model commands (`workspace/executeCommand`): `winnow.models.list` →
 * `{"current", "options": [{"spec", "label", "detail", "sizeBytes", "onDisk", "kind"}]}`;
 * `winnow.models.download` with a spec `hf:OWNER/REPO/FILE.gguf` → `{"spec", "path",
 * "cancelled", "error"}`, reporting `$/progress` (cancellable). Used only when the server
 * lists them in `executeCommandProvider.commands`.
 */
export const MODEL_COMMANDS = {
  list: 'winnow.models.list',
  download: 'winnow.models.download',
} as const;

/** Notification the server sends whenever its state changes (docs/settings.md). */
export const STATUS_NOTIFICATION = 'winnow/status';

/** The ms-python extension, whose selected interpreter is the second choice. */
export const PYTHON_EXTENSION_ID = 'ms-python.python';
