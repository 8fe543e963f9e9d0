/**
 * Winnow for VS Code: wires the output channel, status bar, window controls, server
 * lifecycle, commands and settings listeners together. Everything else lives in its own
 * module under src/.
 */
import * as vscode from 'vscode';

import { registerCommands } from './commands';
import { readPythonPath } from './config';
import { CLIENT_NAME, LANGUAGES } from './constants';
import { ServerController } from './controller';
import { WindowControls } from './controls';
import { onPythonInterpreterChanged } from './pythonExtension';
import { affectsControls, affectsServerSettings, needsRestart } from './settings';
import { StatusBar } from './statusBar';

let controller: ServerController | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  const statusBar = new StatusBar(vscode.workspace.isTrusted);
  const controls = new WindowControls();
  const serverController = new ServerController(output, statusBar, controls);
  controller = serverController;
  context.subscriptions.push(
    output,
    statusBar,
    controls,
    serverController,
    ...registerCommands(serverController, output, controls, statusBar),
  );
  const pushSettings = (reason: string): void => {
    serverController.pushSettings(reason).catch((error: unknown) => {
      output.error(`Sending settings failed: ${String(error)}`);
    });
  };
  if (!vscode.workspace.isTrusted) {
    output.info('Restricted Mode: Winnow runs none of this workspace\'s code until the workspace is trusted.');
  }

  // The status bar says when this window is off, or the active editor's language is.
  const paintControls = (): void => {
    const document = vscode.window.activeTextEditor?.document;
    const served = document && (LANGUAGES as readonly string[]).includes(document.languageId);
    const languageOff = served && !controls.languageEnabled(document) ? document.languageId : undefined;
    statusBar.setControls(controls.pausedView, languageOff);
  };
  paintControls();

  context.subscriptions.push(
    // Toggle, Snooze and the end of a snooze: the server gets the settings (inline completion
    // and hints off or back on), the kept hints are hidden or shown at once.
    controls.onDidChange((reason) => {
      output.info(`${reason}.`);
      paintControls();
      serverController.reapplyControls();
      pushSettings(reason);
    }),
    vscode.window.onDidChangeActiveTextEditor(paintControls),
    vscode.workspace.onDidChangeConfiguration((event) => {
      const affects = (key: string) => event.affectsConfiguration(key);
      if (affectsControls(affects)) {
        paintControls();
        serverController.reapplyControls();
      }
      if (needsRestart(affects)) {
        void serverController.restart('a setting that needs a restart changed');
      } else if (affectsServerSettings(affects) || affectsControls(affects)) {
        pushSettings('settings changed');
      }
    }),
    // Trust decides what the server may run (src/settings.ts, applyWorkspaceTrust): granting
    // it sends the settings again, with no restart; so does a change of the workspace's
    // folders (they are the trusted folders).
    vscode.workspace.onDidGrantWorkspaceTrust(() => {
      output.info('The workspace is trusted now: Winnow may run its code.');
      statusBar.setTrusted(vscode.workspace.isTrusted);
      pushSettings('workspace trusted');
    }),
    vscode.workspace.onDidChangeWorkspaceFolders(() => pushSettings('workspace folders changed')),
  );

  // Follow the Python extension's interpreter when winnow.pythonPath does not pin one.
  void onPythonInterpreterChanged(() => {
    if (readPythonPath() === undefined) {
      void serverController.restartIfInterpreterChanged();
    }
  }).then((disposable) => context.subscriptions.push(disposable));

  void serverController.start();
}

export async function deactivate(): Promise<void> {
  await controller?.stop();
  controller = undefined;
}
