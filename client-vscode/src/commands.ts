/**
 * The extension's own commands (`winnow.client.*`). Show Stats and Implement
 * Function forward to the server's `workspace/executeCommand` commands.
 */
import * as vscode from 'vscode';
import { ExecuteCommandRequest } from 'vscode-languageclient/node';

import { CLIENT_COMMANDS, LANGUAGES, SERVER_COMMANDS } from './constants';
import type { ServerController } from './controller';
import { describeError } from './python';
import { formatStats } from './stats';

export function registerCommands(controller: ServerController, output: vscode.LogOutputChannel): vscode.Disposable[] {
  const requireClient = () => {
    const client = controller.runningClient;
    if (!client) {
      void vscode.window.showWarningMessage(
        'The Winnow server is not running. See the Winnow output channel, then run "Winnow: Restart Server".',
      );
    }
    return client;
  };

  return [
    vscode.commands.registerCommand(CLIENT_COMMANDS.restartServer, () => controller.restart('requested by the user')),

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
        void vscode.window.showErrorMessage(`Winnow: could not get stats: ${describeError(error)}`);
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
        void vscode.window.showErrorMessage(`Winnow: could not implement the function: ${describeError(error)}`);
      }
    }),
  ];
}
