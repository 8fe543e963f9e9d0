/**
 * Winnow for VS Code: wires the output channel, status bar, server lifecycle,
 * commands and settings listeners together. Everything else lives in its own
 * module under src/.
 */
import * as vscode from 'vscode';

import { registerCommands } from './commands';
import { readPythonPath } from './config';
import { CLIENT_NAME } from './constants';
import { ServerController } from './controller';
import { onPythonInterpreterChanged } from './pythonExtension';
import { affectsServerSettings, needsRestart } from './settings';
import { StatusBar } from './statusBar';

let controller: ServerController | undefined;

export function activate(context: vscode.ExtensionContext): void {
  const output = vscode.window.createOutputChannel(CLIENT_NAME, { log: true });
  const statusBar = new StatusBar(vscode.workspace.isTrusted);
  const serverController = new ServerController(output, statusBar);
  controller = serverController;
  context.subscriptions.push(output, statusBar, serverController, ...registerCommands(serverController, output));
  const pushSettings = (reason: string): void => {
    serverController.pushSettings(reason).catch((error: unknown) => {
      output.error(`Sending settings failed: ${String(error)}`);
    });
  };
  if (!vscode.workspace.isTrusted) {
    output.info('Restricted Mode: Winnow runs none of this workspace\'s code until the workspace is trusted.');
  }

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      const affects = (key: string) => event.affectsConfiguration(key);
      if (needsRestart(affects)) {
        void serverController.restart('a setting that needs a restart changed');
      } else if (affectsServerSettings(affects)) {
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
