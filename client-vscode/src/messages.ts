/**
 * Buttons on the messages users see: the server's `window/showMessage` warnings and errors
 * get a way to act on them ("Choose a Model…", "Open Settings", "Show Output"). Pure: no
 * `vscode` import; src/controller.ts shows them.
 */

export const ACTIONS = {
  openSettings: 'Open Settings',
  chooseModel: 'Choose a Model…',
  showOutput: 'Show Output',
} as const;

export type MessageAction = (typeof ACTIONS)[keyof typeof ACTIONS];

/** LSP's `MessageType`. */
export const MESSAGE_TYPE = { error: 1, warning: 2, info: 3, log: 4 } as const;

/** Whether the message is about the models (the generator or the judge, a file, a download). */
function aboutModels(text: string): boolean {
  return /\b(generator model|generatorModel|model file|\.gguf|hf:|judge\b.*could not load|could not load the (generator|judge))/i.test(text);
}

function aboutSettings(text: string): boolean {
  return /\bsettings?\b|winnow\.[a-zA-Z]/.test(text);
}

/** The buttons of a server message: errors and warnings get some, information none. */
export function serverMessageActions(type: number, text: string): MessageAction[] {
  if (type !== MESSAGE_TYPE.error && type !== MESSAGE_TYPE.warning) {
    return [];
  }
  const actions: MessageAction[] = [];
  if (aboutModels(text)) {
    actions.push(ACTIONS.chooseModel);
  }
  if (aboutModels(text) || aboutSettings(text)) {
    actions.push(ACTIONS.openSettings);
  }
  actions.push(ACTIONS.showOutput);
  return actions;
}

/**
 * What "Open Settings" searches for: the `winnow.*` setting the message names (or the
 * generator model's for a model message), else every Winnow setting.
 */
export function settingsQuery(text: string, extensionId: string): string {
  const named = /\bwinnow\.([a-zA-Z]+(?:\.[a-zA-Z]+)*)/.exec(text);
  if (named && !/^(showStats|reloadModels|implementFunction|models)\b/.test(named[1] ?? '')) {
    return `winnow.${named[1]}`;
  }
  if (/generatorModel|generator model/i.test(text)) {
    return 'winnow.generatorModel';
  }
  return `@ext:${extensionId}`;
}
