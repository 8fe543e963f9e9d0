/**
 * Starts the real server with the extension's own launch code (src/server.ts)
 * and completes an LSP handshake over stdio: initialize → initialized →
 * shutdown → exit.
 *
 * Python: $WINNOW_PYTHON, else <repo>/.venv/bin/python. When that Python
 * cannot import winnow.server the test FAILS, unless WINNOW_SKIP_SERVER_TEST=1.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import {
  ExitNotification,
  InitializeRequest,
  InitializedNotification,
  ShutdownRequest,
  StreamMessageReader,
  StreamMessageWriter,
  createMessageConnection,
  type InitializeParams,
  type InitializeResult,
} from 'vscode-languageserver-protocol/node';

import { SERVER_COMMANDS } from '../src/constants';
import { checkWinnowImport } from '../src/python';
import { buildServerLaunch, spawnServer } from '../src/server';
import { toServerSettings } from '../src/settings';
import { PACKAGE_ROOT, REPO_ROOT } from './paths';

const INITIALIZE_TIMEOUT_MS = 90_000;
const EXIT_TIMEOUT_MS = 30_000;

const python =
  process.env['WINNOW_PYTHON'] ??
  path.join(REPO_ROOT, '.venv', process.platform === 'win32' ? path.join('Scripts', 'python.exe') : path.join('bin', 'python'));
const skip = process.env['WINNOW_SKIP_SERVER_TEST'] === '1';

/** The settings a fresh VS Code sends: package.json's defaults, mapped like the extension maps them. */
function defaultServerSettings(): Record<string, unknown> {
  const packageJson = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as {
    contributes: { configuration: { properties: Record<string, { default?: unknown }> } };
  };
  const flat = Object.fromEntries(
    Object.entries(packageJson.contributes.configuration.properties).map(([key, schema]) => [key, schema.default]),
  );
  return toServerSettings(flat);
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what()}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

test(
  `the real server (${python} -m winnow.cli lsp) completes an LSP handshake`,
  { timeout: INITIALIZE_TIMEOUT_MS + EXIT_TIMEOUT_MS + 60_000, skip: skip ? 'WINNOW_SKIP_SERVER_TEST=1' : false },
  async () => {
    const check = await checkWinnowImport(python);
    assert.ok(
      check.ok,
      `${python} cannot import winnow.server (${check.ok ? '' : check.detail}). ` +
        'Install Winnow into it (python -m pip install -e <repo>), or point WINNOW_PYTHON at a Python that has it; ' +
        'set WINNOW_SKIP_SERVER_TEST=1 to skip this test.',
    );

    const settings = defaultServerSettings();
    const launch = buildServerLaunch(python, { cwd: REPO_ROOT });
    const child = spawnServer(launch);
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('exit', (code, signal) => resolve({ code, signal }));
    });
    const failed = new Promise<never>((_, reject) => {
      child.on('error', (error) => reject(new Error(`could not spawn the server: ${error.message}`)));
      void exited.then(({ code, signal }) =>
        reject(new Error(`the server exited early (code ${code}, signal ${signal})`)),
      );
    });
    failed.catch(() => undefined);
    const context = () => `\n--- server stderr ---\n${stderr.slice(-4000)}`;

    const connection = createMessageConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
    const messages: { type: number; message: string }[] = [];
    const notifications: string[] = [];
    connection.onNotification((method: string, params: unknown) => {
      notifications.push(method);
      if (method === 'window/showMessage' || method === 'window/logMessage') {
        messages.push(params as { type: number; message: string });
      }
    });
    // Answer whatever the server asks of its client (workspace/configuration, progress, registrations).
    connection.onRequest((method: string, params: unknown) => {
      if (method === 'workspace/configuration') {
        const items = (params as { items?: unknown[] } | undefined)?.items ?? [];
        return items.map(() => settings);
      }
      return null;
    });
    connection.listen();

    try {
      const initializeParams: InitializeParams = {
        processId: process.pid,
        clientInfo: { name: 'winnow-vscode-integration-test', version: '0.1.0' },
        locale: 'en',
        rootUri: pathToFileURL(REPO_ROOT).href,
        workspaceFolders: [{ uri: pathToFileURL(REPO_ROOT).href, name: path.basename(REPO_ROOT) }],
        capabilities: {
          workspace: { configuration: true, didChangeConfiguration: { dynamicRegistration: true }, applyEdit: true },
          textDocument: {
            synchronization: { didSave: true },
            inlineCompletion: { dynamicRegistration: true },
            completion: { completionItem: { snippetSupport: false } },
            codeAction: { codeActionLiteralSupport: { codeActionKind: { valueSet: ['quickfix', 'refactor.rewrite'] } } },
            publishDiagnostics: { relatedInformation: false },
          },
          window: { workDoneProgress: true, showMessage: {} },
        },
        initializationOptions: settings,
      };
      let result: InitializeResult;
      try {
        result = await withTimeout(
          Promise.race([connection.sendRequest(InitializeRequest.type, initializeParams), failed]),
          INITIALIZE_TIMEOUT_MS,
          () => 'the initialize result',
        );
      } catch (error) {
        assert.fail(`initialize failed: ${error instanceof Error ? error.message : String(error)}${context()}`);
      }

      assert.equal(typeof result.capabilities, 'object', `initialize result has no capabilities: ${JSON.stringify(result)}`);
      assert.ok(result.capabilities, 'capabilities is null');
      const capabilities = result.capabilities;
      assert.ok(
        capabilities.inlineCompletionProvider,
        `the server does not advertise inlineCompletionProvider: ${JSON.stringify(capabilities)}`,
      );
      const commands = capabilities.executeCommandProvider?.commands ?? [];
      for (const command of [SERVER_COMMANDS.showStats, SERVER_COMMANDS.implementFunction]) {
        assert.ok(commands.includes(command), `executeCommandProvider lacks ${command}: ${JSON.stringify(commands)}`);
      }

      await connection.sendNotification(InitializedNotification.type, {});

      try {
        await withTimeout(
          Promise.race([connection.sendRequest(ShutdownRequest.type), failed]),
          EXIT_TIMEOUT_MS,
          () => 'the shutdown result',
        );
      } catch (error) {
        assert.fail(`shutdown failed: ${error instanceof Error ? error.message : String(error)}${context()}`);
      }
      await connection.sendNotification(ExitNotification.type);
      const exit = await withTimeout(exited, EXIT_TIMEOUT_MS, () => `the server to exit${context()}`);
      assert.equal(exit.code, 0, `the server exited with code ${exit.code} (signal ${exit.signal})${context()}`);

      // The server reports bad settings with window/showMessage; the extension's defaults must not be among them.
      const settingComplaints = messages.filter((m) => m.type <= 2 && /setting/i.test(m.message));
      assert.deepEqual(settingComplaints, [], 'the server rejected the settings the extension sends by default');
    } finally {
      connection.dispose();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill();
      }
    }
  },
);
