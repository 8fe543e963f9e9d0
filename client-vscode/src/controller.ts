/**
 * The server's lifecycle: find a Python with Winnow, start the language
 * client, restart it, stop it. Starts and stops run one at a time, in order.
 */
import * as vscode from 'vscode';
import {
  DidChangeConfigurationNotification,
  ExecuteCommandRequest,
  ShowMessageNotification,
  State,
  type LanguageClient,
  type ShowMessageParams,
} from 'vscode-languageclient/node';

import { createLanguageClient } from './client';
import { readPythonPath, readServerSettings, readWorkspaceTrust } from './config';
import { CLIENT_COMMANDS, CONFIG_SECTION, EXTENSION_ID, MODEL_COMMANDS, PYTHON_EXTENSION_ID, STATUS_NOTIFICATION } from './constants';
import type { WindowControls } from './controls';
import { ACTIONS, MESSAGE_TYPE, serverMessageActions, settingsQuery } from './messages';
import { controlsMiddleware, HintStore } from './middleware';
import { currentModelLabel, parseModelList, statusModelName } from './models';
import { ServerProgress } from './progress';
import {
  checkWinnowImport,
  describeError,
  findWinnowCheckout,
  installCommand,
  missingWinnowMessage,
  resolveInterpreter,
  type ResolvedInterpreter,
} from './python';
import { pythonFromExtension } from './pythonExtension';
import type { ServerSettings } from './settings';
import { parseStatus, type ServerState } from './status';
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
  /** The settings the server has last been sent (initializationOptions or didChangeConfiguration). */
  private sent: { readonly client: LanguageClient; readonly json: string } | undefined;
  /** The running client's `$/progress` handling (src/progress.ts). */
  private progress: ServerProgress | undefined;
  /** The server's hints as published, shown as the window's controls allow. */
  private readonly hints: HintStore;

  constructor(
    private readonly output: vscode.LogOutputChannel,
    private readonly statusBar: StatusBar,
    private readonly controls: WindowControls,
  ) {
    this.hints = new HintStore(controls);
  }

  /** The client, when its server is running. */
  get runningClient(): LanguageClient | undefined {
    return this.client?.isRunning() ? this.client : undefined;
  }

  /** Whether the running server answers `workspace/executeCommand` `command`. */
  serverHas(command: string): boolean {
    const commands = this.runningClient?.initializeResult?.capabilities.executeCommandProvider?.commands;
    return commands?.includes(command) ?? false;
  }

  /** The server settings as the window's controls and workspace trust allow them. */
  private settings(scope?: vscode.ConfigurationScope): ServerSettings {
    return readServerSettings(this.controls.serverPaused, scope);
  }

  /** Show or hide the kept hints after a change of the controls (Toggle, Snooze, `winnow.enable`). */
  reapplyControls(): void {
    this.hints.reapply(this.runningClient);
  }

  /** Run a model download under a cancellable notification (src/progress.ts). */
  withDownload<T>(
    title: string,
    run: (workDoneToken: string, cancelRequest: vscode.CancellationToken) => Promise<T>,
  ): Promise<{ readonly result: T; readonly cancelled: boolean }> {
    if (!this.progress) {
      return Promise.reject(new Error('the Winnow server is not running'));
    }
    return this.progress.withDownload(title, run);
  }

  /** Ask the server which model it uses (`winnow.models.list`) and show it in the status bar. */
  async refreshModel(): Promise<void> {
    const client = this.runningClient;
    if (!client || !this.serverHas(MODEL_COMMANDS.list)) {
      return;
    }
    try {
      const list = parseModelList(
        await client.sendRequest(ExecuteCommandRequest.type, { command: MODEL_COMMANDS.list, arguments: [] }),
      );
      const label = list && currentModelLabel(list);
      if (label && this.client === client) {
        this.statusBar.setModel(label);
      }
    } catch (error) {
      this.output.warn(`Asking the server for its models: ${describeError(error)}`);
    }
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
    await this.sendSettings(client, this.settings(), reason);
  }

  private async sendSettings(client: LanguageClient, settings: ServerSettings, reason: string): Promise<void> {
    if (this.sent?.client === client && this.sent.json === JSON.stringify(settings)) {
      return; // e.g. winnow.enable changed for one language: nothing the server reads
    }
    this.sent = { client, json: JSON.stringify(settings) };
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
      const checkout = findWinnowCheckout(readWorkspaceTrust().folders);
      const message = missingWinnowMessage(interpreter, check, checkout);
      this.output.error(message);
      this.statusBar.showClientPhase({ phase: 'failed', message });
      void this.offerFixes(message, interpreter, checkout);
      return;
    }
    if (this.disposed) {
      return;
    }

    const initialSettings = this.settings();
    this.hints.clear();
    const client = createLanguageClient({
      python: interpreter.command,
      cwd: folder?.uri.fsPath,
      outputChannel: this.output,
      initializationOptions: initialSettings,
      serverSettings: (scope) => this.settings(scope),
      middleware: controlsMiddleware(this.controls, this.hints),
    });
    let statusSeen = false;
    let lastState: ServerState | undefined;
    // One handler per method: a second onNotification for the same method would replace this one.
    client.onNotification(STATUS_NOTIFICATION, (params: unknown) => {
      statusSeen = true;
      const status = parseStatus(params);
      if (status === undefined) {
        this.output.warn(`Ignoring a malformed ${STATUS_NOTIFICATION} notification: ${JSON.stringify(params)}`);
        return;
      }
      if (this.client === client) {
        // The model in use: winnow.models.list's label where the server has it (asked once
        // ready, below), else what the status names (src/models.ts, statusModelName).
        const named = statusModelName(status, this.serverHas(MODEL_COMMANDS.list));
        if (named !== undefined) {
          this.statusBar.setModel(named ?? undefined);
        }
        this.statusBar.showServerStatus(status);
        if (status.state === 'ready' && lastState !== 'ready' && lastState !== 'generating') {
          void this.refreshModel();
        }
      }
      lastState = status.state;
      if (status.state === 'error') {
        this.output.error(`Server error: ${status.message}`);
      }
    });
    // The server's messages, with buttons that act on them (the language client would show them bare).
    client.onNotification(ShowMessageNotification.type, (params) => void this.showServerMessage(params));
    client.onDidChangeState((event) => {
      if (event.newState === State.Stopped && this.client === client) {
        this.statusBar.showClientPhase({ phase: 'stopped' });
      }
    });
    this.client = client;
    this.sent = { client, json: JSON.stringify(initialSettings) };
    try {
      await client.start();
      if (this.client === client) {
        this.progress?.dispose();
        this.progress = new ServerProgress(client).install();
      }
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
    const current = this.settings();
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
    this.progress?.dispose();
    this.progress = undefined;
    this.statusBar.setModel(undefined);
    try {
      await client.dispose(STOP_TIMEOUT_MS);
    } catch (error) {
      this.output.warn(`Stopping the server: ${describeError(error)}`);
    }
    this.statusBar.showClientPhase({ phase: 'stopped' });
  }

  private async offerFixes(message: string, interpreter: ResolvedInterpreter, checkout: string | undefined): Promise<void> {
    const selectInterpreter = 'Select Interpreter';
    const copyInstall = 'Copy Install Command';
    const actions: string[] = [ACTIONS.openSettings, copyInstall];
    if (vscode.extensions.getExtension(PYTHON_EXTENSION_ID)) {
      actions.splice(1, 0, selectInterpreter);
    }
    actions.push(ACTIONS.showOutput);
    const choice = await vscode.window.showErrorMessage(message, ...actions);
    if (choice === ACTIONS.openSettings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', 'winnow.pythonPath');
    } else if (choice === selectInterpreter) {
      await vscode.commands.executeCommand('python.setInterpreter');
    } else if (choice === copyInstall) {
      await vscode.env.clipboard.writeText(installCommand(interpreter.command, checkout));
    } else if (choice === ACTIONS.showOutput) {
      this.output.show(true);
    }
  }

  /** A `window/showMessage` of the server, with buttons for warnings and errors (src/messages.ts). */
  private async showServerMessage(params: ShowMessageParams): Promise<void> {
    const actions = serverMessageActions(params.type, params.message);
    const show =
      params.type === MESSAGE_TYPE.error
        ? vscode.window.showErrorMessage
        : params.type === MESSAGE_TYPE.warning
          ? vscode.window.showWarningMessage
          : vscode.window.showInformationMessage;
    const choice = await show(params.message, ...actions);
    if (choice === ACTIONS.openSettings) {
      await vscode.commands.executeCommand('workbench.action.openSettings', settingsQuery(params.message, EXTENSION_ID));
    } else if (choice === ACTIONS.chooseModel) {
      await vscode.commands.executeCommand(CLIENT_COMMANDS.chooseModel);
    } else if (choice === ACTIONS.showOutput) {
      this.output.show(true);
    }
  }
}
