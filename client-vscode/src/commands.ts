/**
 * The extension's own commands (`winnow.client.*`), every one in the command palette
 * under the "Winnow" category. Show Stats, Reload Models and Implement Function forward to
 * the server's `workspace/executeCommand` commands; Toggle and Snooze change the window's
 * controls (src/controls.ts); Show Menu is the status bar item's quick pick.
 */
import * as vscode from 'vscode';
import { ExecuteCommandRequest } from 'vscode-languageclient/node';

import { CLIENT_COMMANDS, EXTENSION_ID, LANGUAGES, SERVER_COMMANDS } from './constants';
import type { ServerController } from './controller';
import type { WindowControls } from './controls';
import { menuItems } from './menu';
import { ACTIONS } from './messages';
import { chooseModel } from './modelPicker';
import { describeError } from './python';
import { formatStats } from './stats';
import type { StatusBar } from './statusBar';

export function registerCommands(
  controller: ServerController,
  output: vscode.LogOutputChannel,
  controls: WindowControls,
  statusBar: StatusBar,
): vscode.Disposable[] {
  const showOutputOn = async (message: Thenable<string | undefined>) => {
    if ((await message) === ACTIONS.showOutput) {
      output.show(true);
    }
  };
  const requireClient = () => {
    const client = controller.runningClient;
    if (!client) {
      void vscode.window
        .showWarningMessage('Winnow: the server is not running. See the output, then restart it.', 'Restart Server', ACTIONS.showOutput)
        .then((choice) => {
          if (choice === 'Restart Server') {
            void controller.restart('requested by the user');
          } else if (choice === ACTIONS.showOutput) {
            output.show(true);
          }
        });
    }
    return client;
  };

  return [
    vscode.commands.registerCommand(CLIENT_COMMANDS.restartServer, () => controller.restart('requested by the user')),

    vscode.commands.registerCommand(CLIENT_COMMANDS.toggle, () => controls.toggle()),

    vscode.commands.registerCommand(CLIENT_COMMANDS.snooze, () => controls.snooze()),

    vscode.commands.registerCommand(CLIENT_COMMANDS.chooseModel, () => chooseModel(controller, output)),

    vscode.commands.registerCommand(CLIENT_COMMANDS.openSettings, () =>
      vscode.commands.executeCommand('workbench.action.openSettings', `@ext:${EXTENSION_ID}`),
    ),

    vscode.commands.registerCommand(CLIENT_COMMANDS.showMenu, async () => {
      const items = menuItems(controls.state, Date.now(), statusBar.currentModel);
      const picked = await vscode.window.showQuickPick(
        items.map((item) => ({ ...item })),
        { title: 'Winnow', placeHolder: 'Winnow in this window' },
      );
      if (picked) {
        await vscode.commands.executeCommand(picked.command);
      }
    }),

    vscode.commands.registerCommand(CLIENT_COMMANDS.reloadModels, async () => {
      const client = requireClient();
      if (!client) {
        return;
      }
      try {
        // The status bar shows loading, then ready (or the error, which the server also shows).
        const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
          command: SERVER_COMMANDS.reloadModels,
          arguments: [],
        });
        output.info(`Reload Models: ${JSON.stringify(result)}`);
      } catch (error) {
        void showOutputOn(vscode.window.showErrorMessage(`Winnow: could not reload the models: ${describeError(error)}`, ACTIONS.showOutput));
      }
    }),

    vscode.commands.registerCommand(CLIENT_COMMANDS.showStats, async () => {
      const client = requireClient();
      if (!client) {
        output.show(true);
        return;
      }
      try {
        const result: unknown = await client.sendRequest(ExecuteCommandRequest.type, {
          command: SERVER_COMMANDS.showStats,
          arguments: [],
        });
        output.info(formatStats(result));
        output.show(true);
      } catch (error) {
        void showOutputOn(vscode.window.showErrorMessage(`Winnow: could not get stats: ${describeError(error)}`, ACTIONS.showOutput));
      }
    }),

    vscode.commands.registerCommand(CLIENT_COMMANDS.implementFunction, async () => {
      const editor = vscode.window.activeTextEditor;
      if (!editor || !(LANGUAGES as readonly string[]).includes(editor.document.languageId)) {
        void vscode.window.showInformationMessage('Winnow: put the cursor inside a Python function or Java method first.');
        return;
      }
      const client = requireClient();
      if (!client) {
        return;
      }
      const uri = client.code2ProtocolConverter.asUri(editor.document.uri);
      const position = editor.selection.active;
      let cancelled = false;
      try {
        await vscode.window.withProgress(
          {
            location: vscode.ProgressLocation.Notification,
            title: 'Winnow: sampling and judging candidates…',
            cancellable: true,
          },
          (_progress, token) => {
            token.onCancellationRequested(() => {
              cancelled = true;
            });
            return client.sendRequest(
              ExecuteCommandRequest.type,
              {
                command: SERVER_COMMANDS.implementFunction,
                arguments: [uri, { line: position.line, character: position.character }],
              },
              token,
            );
          },
        );
      } catch (error) {
        if (cancelled) {
          return;
        }
        void showOutputOn(
          vscode.window.showErrorMessage(`Winnow: could not implement the function: ${describeError(error)}`, ACTIONS.showOutput),
        );
      }
    }),
  ];
}
