/**
 * The server's lifecycle: find a Python with Winnow, start the language
 * client, restart it, stop it. Starts and stops run one at a time, in order.
 */
import * as vscode from 'vscode';
import { DidChangeConfigurationNotification, State, type LanguageClient } from 'vscode-languageclient/node';

import { createLanguageClient } from './client';
import { readPythonPath, readServerSettings } from './config';
import { CONFIG_SECTION, PYTHON_EXTENSION_ID, STATUS_NOTIFICATION } from './constants';
import {
  checkWinnowImport,
  describeError,
  installCommand,
  missingWinnowMessage,
  resolveInterpreter,
  type ResolvedInterpreter,
} from './python';
import { pythonFromExtension } from './pythonExtension';
import type { ServerSettings } from './settings';
import { parseStatus } from './status';
import type { StatusBar } from './statusBar';

const STOP_TIMEOUT_MS = 5000;

/** The first folder on disk: the server's working directory and the base for relative paths. */
function workspaceFolder(): vscode.WorkspaceFolder | undefined {
  return vscode.workspace.workspaceFolders?.find((folder) => folder.uri.scheme === 'file');
}

export class ServerController implements vscode.Disposable {
  private client: LanguageClient | undefined;
  /** The interpreter of the last start attempt. */
  private python: string | undefined;
  private queue: Promise<void> = Promise.resolve();
  private disposed = false;

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly statusBar: StatusBar,
  ) {}

  /** The client, when its server is running. */
  get runningClient(): LanguageClient | undefined {
    return this.client?.isRunning() ? this.client : undefined;
  }

  start(): Promise<void> {
    return this.enqueue(() => this.doStart());
  }

  restart(reason: string): Promise<void> {
    return this.enqueue(async () => {
      this.output.info(`Restarting the server: ${reason}`);
      await this.doStop();
      await this.doStart();
    });
  }

  stop(): Promise<void> {
    return this.enqueue(() => this.doStop());
  }

  /**
   * Send the current settings to the running server (`workspace/didChangeConfiguration`):
   * after a change of settings that needs no restart, of workspace trust or of the
   * workspace's folders. A server still starting gets them once it has started.
   */
  async pushSettings(reason = 'settings changed'): Promise<void> {
    const client = this.runningClient;
    if (!client) {
      return;
    }
    await this.sendSettings(client, readServerSettings(), reason);
  }

  private async sendSettings(client: LanguageClient, settings: ServerSettings, reason: string): Promise<void> {
    this.output.info(`Sending settings to the server (${reason}): ${JSON.stringify(settings)}`);
    await client.sendNotification(DidChangeConfigurationNotification.type, { settings: { [CONFIG_SECTION]: settings } });
  }

  /** Restart when the interpreter the settings and the Python extension point at is no longer the one in use. */
  restartIfInterpreterChanged(): Promise<void> {
    return this.enqueue(async () => {
      const interpreter = await this.resolveInterpreter();
      if (interpreter.command !== this.python) {
        this.output.info(`Restarting the server: the interpreter changed to ${interpreter.command}`);
        await this.doStop();
        await this.doStart();
      }
    });
  }

  dispose(): void {
    this.disposed = true;
    void this.stop();
  }

  private enqueue(task: () => Promise<void>): Promise<void> {
    const run = this.queue.then(task);
    this.queue = run.catch((error: unknown) => {
      this.output.error(`Winnow: ${describeError(error)}`);
    });
    return this.queue;
  }

  private async doStart(): Promise<void> {
    if (this.disposed || this.client) {
      return;
    }
    const folder = workspaceFolder();
    this.statusBar.showClientPhase({ phase: 'starting' });

    const interpreter = await this.resolveInterpreter();
    this.python = interpreter.command;
    this.output.info(`Using Python ${interpreter.command} (from ${interpreter.source}).`);
    this.statusBar.showClientPhase({ phase: 'starting', python: interpreter.command });

    const check = await checkWinnowImport(interpreter.command);
    if (!check.ok) {
      const message = missingWinnowMessage(interpreter, check);
      this.output.error(message);
      this.statusBar.showClientPhase({ phase: 'failed', message });
      void this.offerFixes(message, interpreter);
      return;
    }
    if (this.disposed) {
      return;
    }

    const initialSettings = readServerSettings();
    const client = createLanguageClient({
      python: interpreter.command,
      cwd: folder?.uri.fsPath,
      outputChannel: this.output,
      initializationOptions: initialSettings,
    });
    let statusSeen = false;
    // One handler per method: a second onNotification for the same method would replace this one.
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      statusSeen = true;
      const status = parseStatus(params);
      if (status === undefined) {
        this.output.warn(`Ignoring a malformed ${STATUS_NOTIFICATION} notification: ${JSON.stringify(params)}`);
        return;
      }
      if (this.client === client) {
        this.statusBar.showServerStatus(status);
      }
      if (status.state === 'error') {
        this.output.error(`Server error: ${status.message}`);
      }
    });
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client) {
        this.statusBar.showClientPhase({ phase: 'stopped' });
      }
    });
    this.client = client;
    try {
      await client.start();
    } catch (error) {
      const message = `The Winnow server did not start: ${describeError(error)}`;
      this.output.error(message);
      this.statusBar.showClientPhase({ phase: 'failed', message });
      return;
    }
    if (!statusSeen && this.client === client) {
      this.statusBar.showClientPhase({ phase: 'running', python: interpreter.command });
    }
    // Trust granted (or settings changed) while the server started: pushSettings found no
    // running client then, so send what the server has not seen.
    const current = readServerSettings();
    if (this.client === client && client.isRunning() && JSON.stringify(current) !== JSON.stringify(initialSettings)) {
      await this.sendSettings(client, current, 'changed while the server started');
    }
  }

  private resolveInterpreter(): Promise<ResolvedInterpreter> {
    const folder = workspaceFolder();
    return resolveInterpreter({
      configured: readPythonPath(),
      fromPythonExtension: () => pythonFromExtension(folder?.uri),
      workspaceFolder: folder?.uri.fsPath,
      log: (message) => this.output.warn(message),
    });
  }

  private async doStop(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (!client) {
      return;
    }
    try {
      await client.dispose(STOP_TIMEOUT_MS);
    } catch (error) {
      this.output.warn(`Stopping the server: ${describeError(error)}`);
    }
    this.statusBar.showClientPhase({ phase: 'stopped' });
  }

  private async offerFixes(message: string, interpreter: ResolvedInterpreter): Promise<void> {
    const openSettings = 'Set winnow.pythonPath';
    const selectInterpreter = 'Select Interpreter';
    const copyInstall = 'Copy Install Command';
    const actions = [openSettings, copyInstall];
    if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) {
      actions.splice(1, 0, selectInterpreter);
    }
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    if (choice === openSettings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'winnow.pythonPath');
    } else if (choice === selectInterpreter) {
      await vscode.commands.executeCommand('python.setInterpreter');
    } else if (choice === copyInstall) {
      await vscode.env.clipboard.writeText(installCommand(interpreter.command));
    }
  }
}
