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
} as const;

/** Commands the server answers through `workspace/executeCommand` (docs/settings.md). */
export const SERVER_COMMANDS = {
  showStats: 'winnow.showStats',
  reloadModels: 'winnow.reloadModels',
  implementFunction: 'winnow.implementFunction',
} as const;

/** Notification the server sends whenever its state changes (docs/settings.md). */
export const STATUS_NOTIFICATION = 'winnow/status';

/** The ms-python extension, whose selected interpreter is the second choice. */
export const PYTHON_EXTENSION_ID = 'ms-python.python';
