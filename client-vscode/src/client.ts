/**
 * Building the language client for one server process: launch options,
 * document selector, initialization options and the `workspace/configuration`
 * answer. Inline completions, code actions and diagnostics are the client's
 * built-in features, driven by the server's capabilities.
 */
import * as vscode from 'vscode';
import {
  LanguageClient,
  ResponseError,
  type ConfigurationParams,
  type Executable,
  type LanguageClientOptions,
  type Middleware,
} from 'vscode-languageclient/node';

import { CLIENT_NAME, CONFIG_SECTION, LANGUAGES } from './constants';
import { describeError } from './python';
import { buildServerLaunch } from './server';
import type { ServerSettings } from './settings';

export interface ClientOptions {
  readonly python: string;
  readonly cwd?: string | undefined;
  readonly outputChannel: vscode.LogOutputChannel;
  /** The settings the server starts with (src/config.ts, `readServerSettings`). */
  readonly initializationOptions: ServerSettings;
  /** The settings now, for `workspace/configuration` (the same mapping, the window's controls applied). */
  readonly serverSettings: (scope?: vscode.ConfigurationScope) => ServerSettings;
  /** The window's controls per document (src/middleware.ts). */
  readonly middleware?: Middleware;
}

export function createLanguageClient(options: ClientOptions): LanguageClient {
  const launch = buildServerLaunch(options.python, { cwd: options.cwd });
  // No `transport`: with TransportKind.stdio the client would append `--stdio` to the
  // arguments, which `winnow lsp` does not take. Without it the client still talks
  // over the process's stdin/stdout, and runs exactly the command the tests run.
  const executable: Executable = {
    command: launch.command,
    args: [...launch.args],
    options: { cwd: launch.cwd, env: launch.env },
  };

  const clientOptions: LanguageClientOptions = {
    documentSelector: LANGUAGES.flatMap((language) => [
      { scheme: 'file', language },
      { scheme: 'untitled', language },
    ]),
    initializationOptions: options.initializationOptions,
    outputChannel: options.outputChannel,
    traceOutputChannel: options.outputChannel,
    // A server that fails to initialize is not retried: the controller reports it once.
    initializationFailedHandler: (error) => {
      options.outputChannel.error(`The Winnow server failed to initialize: ${describeError(error)}`);
      return false;
    },
    middleware: {
      ...options.middleware,
      workspace: {
        // If the server pulls its settings, answer for the `winnow` section with the
        // same mapped object it gets in initializationOptions.
        configuration: async (params: ConfigurationParams, token, next) => {
          const answer = await next(params, token);
          if (answer instanceof ResponseError) {
            return answer;
          }
          return params.items.map((item, index) =>
            item.section === CONFIG_SECTION
              ? options.serverSettings(item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined)
              : (answer[index] as unknown),
          );
        },
      },
    },
  };

  // The id `winnow` makes the client read `winnow.trace.server`.
  return new LanguageClient(CONFIG_SECTION, CLIENT_NAME, executable, clientOptions);
}
