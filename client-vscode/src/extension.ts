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
  const statusBar = new StatusBar();
  const serverController = new ServerController(output, statusBar);
  controller = serverController;
  context.subscriptions.push(output, statusBar, serverController, ...registerCommands(serverController, output));

  context.subscriptions.push(
    vscode.workspace.onDidChangeConfiguration((event) => {
      const affects = (key: string) => event.affectsConfiguration(key);
      if (needsRestart(affects)) {
        void serverController.restart('a setting that needs a restart changed');
      } else if (affectsServerSettings(affects)) {
        void serverController.pushSettings().catch((error: unknown) => {
          output.error(`Sending settings failed: ${String(error)}`);
        });
      }
    }),
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
