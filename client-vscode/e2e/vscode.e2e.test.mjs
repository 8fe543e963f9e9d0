// Real VS Code (code-server) + the packaged extension + the real Winnow server,
// driven through headless Chromium. Run it with ./e2e/run-e2e.sh, which installs
// code-server and playwright-core and sets the WINNOW_E2E_* variables.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { createRequire } from 'node:module';
import { after, before, describe, test } from 'node:test';

const env = (name) => {
  const value = process.env[name];
  assert.ok(value, `${name} is not set (run e2e/run-e2e.sh)`);
  return value;
};
const codeServer = env('WINNOW_E2E_CODE_SERVER');
const vsix = env('WINNOW_E2E_VSIX');
const python = env('WINNOW_PYTHON');
const { chromium } = createRequire(import.meta.url)(env('WINNOW_E2E_PLAYWRIGHT'));
const chromiumPath = process.env.WINNOW_E2E_CHROMIUM ?? '/usr/bin/chromium';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'winnow-e2e-'));
const artifacts = process.env.WINNOW_E2E_ARTIFACTS ?? path.join(root, 'artifacts');

// The first window: workspace trust off (VS Code then trusts every folder), the
// Python and Java files that the completion and implement tests edit.
const trusting = session('trust-off', { trust: false });
const sample = path.join(trusting.dirs.workspace, 'sample.py');
const original = 'def add(a, b):\n    """Return the sum of a and b."""\n';
const typed = '    return';
const javaFile = path.join(trusting.dirs.workspace, 'Calc.java');
const javaOriginal = [
  'public class Calc {',
  '    /**',
  '     * Returns the sum of the decimal digits of n.',
  '     *',
  '     * @return for example 6 for 123, 0 for 0',
  '     */',
  '    public static int digitSum(int n) {',
  '        throw new UnsupportedOperationException("TODO");',
  '    }',
  '}',
  '',
].join('\n');
trusting.files = { [sample]: original, [javaFile]: javaOriginal };

// The second window: workspace trust on, the folder not trusted (Restricted Mode, no
// startup prompt), and a module whose docstring example fails.
const restricted = session('restricted', { trust: true });
const failing = path.join(restricted.dirs.workspace, 'twice.py');
const failingText = 'def f(x):\n    """Twice x.\n\n    >>> f(2)\n    4\n    """\n    return x + 3\n';
restricted.files = { [failing]: failingText };
const HINT = /`f\(2\)` returned 5; the docstring says 4/;
const RESTRICTED_NOTE = "Restricted Mode: Winnow runs none of this workspace's code; trust the workspace to turn hints on";

/** One code-server with its own user data, extensions, workspace and browser page. */
function session(name, { trust }) {
  const base = path.join(root, name);
  const dirs = {
    userData: path.join(base, 'user-data'),
    extensions: path.join(base, 'extensions'),
    workspace: path.join(base, 'workspace'),
    xdg: path.join(base, 'xdg'),
  };
  return {
    name,
    trust,
    dirs,
    files: {},
    env: {
      ...process.env,
      XDG_CONFIG_HOME: dirs.xdg,
      XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
      XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
    },
    args: [
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      ...(trust ? [] : ['--disable-workspace-trust']),
      '--config', path.join(dirs.xdg, 'config.yaml'),
      '--user-data-dir', dirs.userData,
      '--extensions-dir', dirs.extensions,
    ],
    server: undefined, // the code-server process (its own process group)
    log: '',
    browser: undefined,
    page: undefined,
  };
}

function writeFixture(s) {
  for (const dir of Object.values(s.dirs)) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.mkdirSync(path.join(s.dirs.userData, 'User'), { recursive: true });
  const settings = {
    'winnow.pythonPath': python,
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'files.autoSave': 'off',
    'editor.inlineSuggest.enabled': true,
    // The suggest widget (word-based "Return" from the docstring) would hide
    // the ghost text and take the Tab.
    'editor.quickSuggestions': { other: 'off', comments: 'off', strings: 'off' },
    'editor.suggestOnTriggerCharacters': false,
    'editor.wordBasedSuggestions': 'off',
    'editor.lightbulb.enabled': 'on',
    // Two bodies for the implement action: the e2e checks the edit, not the model.
    'winnow.candidates': 2,
    ...(s.trust
      ? {
          // Trust on, and no modal at start: the folder opens in Restricted Mode.
          'security.workspace.trust.enabled': true,
          'security.workspace.trust.startupPrompt': 'never',
          'security.workspace.trust.banner': 'always',
          'security.workspace.trust.untrustedFiles': 'open',
          // What the user asks for, which Restricted Mode must override: running code
          // on, and this very folder listed as trusted in the user's settings.
          'winnow.diagnostics.runCode': true,
          'winnow.trustedFolders': [s.dirs.workspace],
        }
      : { 'security.workspace.trust.enabled': false }),
  };
  fs.writeFileSync(path.join(s.dirs.userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  for (const [file, text] of Object.entries(s.files)) {
    fs.writeFileSync(file, text);
  }
}

function startCodeServer(s) {
  s.server = spawn(process.execPath, [codeServer, ...s.args, '--bind-addr', '127.0.0.1:0', s.dirs.workspace], {
    env: s.env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${s.log}`)), 60_000);
    const onData = (chunk) => {
      s.log += chunk.toString();
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(s.log);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    s.server.stdout.on('data', onData);
    s.server.stderr.on('data', onData);
    s.server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code}:\n${s.log}`));
    });
  });
}

async function saveArtifacts(s, name) {
  fs.mkdirSync(artifacts, { recursive: true });
  if (s.page) {
    await s.page.screenshot({ path: path.join(artifacts, `${name}.png`) }).catch(() => {});
  }
  fs.writeFileSync(path.join(artifacts, `code-server-${s.name}.log`), s.log);
  console.log(`e2e artifacts: ${artifacts}`);
}

/** Install the .vsix, start code-server, open the workspace in a fresh Chromium. */
async function open(s) {
  writeFixture(s);
  const install = spawnSync(process.execPath, [codeServer, ...s.args, '--install-extension', vsix], {
    env: s.env,
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, `--install-extension failed:\n${install.stdout}\n${install.stderr}`);
  assert.match(install.stdout, /successfully installed/);

  const url = await startCodeServer(s);
  s.browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  s.page = await s.browser.newPage({ viewport: { width: 1400, height: 900 } });
  await s.page.goto(`${url}/?folder=${encodeURIComponent(s.dirs.workspace)}`);
  await s.page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
}

async function close(s) {
  await s.browser?.close();
  s.browser = undefined;
  s.page = undefined;
  const server = s.server;
  s.server = undefined;
  if (server) {
    // code-server, its extension host and `winnow lsp`: SIGTERM, then SIGKILL
    // whatever of the group is left after 5 s.
    const signalGroup = (signal) => {
      try {
        process.kill(-server.pid, signal);
        return true;
      } catch {
        return false; // the group is gone
      }
    };
    signalGroup('SIGTERM');
    for (let i = 0; i < 50 && signalGroup(0); i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    signalGroup('SIGKILL');
  }
}

/** Run `body`; on failure keep a screenshot and the log of session `s`. */
async function withArtifacts(s, name, body) {
  try {
    await body();
  } catch (error) {
    process.exitCode = 1;
    await saveArtifacts(s, name);
    throw error;
  }
}

/** Open `fileName` from the Explorer and wait for the server's ready status ("Winnow · …"). */
async function openAndWaitReady(t, page, fileName) {
  await page.locator('.explorer-folders-view .monaco-list-row', { hasText: fileName }).click({ timeout: 30_000 });
  await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30_000 });
  // "Winnow: starting" from the extension, then the server's winnow/status:
  // "Winnow · judge on" (or "Winnow · <latency> · …") once the models are loaded.
  const ready = page.locator('.statusbar-item', { hasText: /Winnow ·/ });
  await ready.first().waitFor({ timeout: 180_000 });
  t.diagnostic(`status bar: ${(await ready.first().innerText()).trim()}`);
  return ready.first();
}

/** The Winnow status bar item's tooltip: hover it and read the hover. */
async function statusTooltip(page) {
  const item = page.locator('.statusbar-item', { hasText: /Winnow/ }).first();
  const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: /Click for Winnow stats/ });
  for (let attempt = 0; attempt < 5; attempt++) {
    await page.mouse.move(10, 10);
    await page.waitForTimeout(300);
    await item.hover();
    try {
      await hover.first().waitFor({ timeout: 3000 });
      const text = await hover.first().innerText();
      await page.mouse.move(10, 10);
      return text;
    } catch {
      // the hover did not open (the item moved, or the mouse was already on it): again
    }
  }
  throw new Error('the Winnow status bar tooltip did not show');
}

/** Wait until the tooltip satisfies `accept` (re-reading it every second). */
async function waitForTooltip(page, what, accept, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await statusTooltip(page);
    if (accept(text)) {
      return text;
    }
    await page.waitForTimeout(1000);
  }
  throw new Error(`timed out waiting for the tooltip to ${what}; it says:\n${text}`);
}

/** The rows of the Problems panel (open it first), as text. */
async function problems(page) {
  return page.locator('.markers-panel .monaco-list-row').allInnerTexts();
}

/** Run a command from the command palette by its title. */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`>${title}`);
  const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: title }).first();
  await row.waitFor({ timeout: 10_000 });
  await row.click();
}

/** Process ids of the `winnow lsp` servers that code-server of session `s` started. */
function winnowServers(s) {
  const pids = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const pgrp = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]);
      const argv = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (pgrp === s.server?.pid && argv.includes('winnow.cli') && argv.includes('lsp')) {
        pids.push(Number(entry));
      }
    } catch {
      // the process ended while we looked
    }
  }
  return pids.sort();
}

after(async () => {
  await close(trusting);
  await close(restricted);
  if (!process.env.WINNOW_E2E_ARTIFACTS && !process.exitCode) {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

describe('workspace trust off: completion and implement', () => {
  before(() => open(trusting));
  after(() => close(trusting));

  test('the extension activates on a Python file and the server reaches ready', (t) =>
    withArtifacts(trusting, 'activation', async () => {
      await openAndWaitReady(t, trusting.page, 'sample.py');
    }));

  test('an inline suggestion from Winnow is shown and accepted with Tab', (t) =>
    withArtifacts(trusting, 'inline', async () => {
      const page = trusting.page;
      await page.locator('.monaco-editor .view-lines').click();
      await page.keyboard.press('Control+End');
      await page.keyboard.type(typed, { delay: 30 });
      const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
      await ghost.first().waitFor({ timeout: 120_000 });
      const ghostText = (await ghost.allInnerTexts()).join('');
      t.diagnostic(`ghost text: ${JSON.stringify(ghostText)}`);
      assert.notEqual(ghostText.trim(), '');

      await page.keyboard.press('Tab');
      await page.keyboard.press('Control+S');
      const prefix = original + typed;
      let saved = '';
      for (let i = 0; i < 50 && !(saved.startsWith(prefix) && saved.length > prefix.length); i++) {
        await page.waitForTimeout(200);
        saved = fs.readFileSync(sample, 'utf8');
      }
      t.diagnostic(`saved file: ${JSON.stringify(saved)}`);
      assert.ok(saved.startsWith(prefix), 'the typed text is in the saved file');
      const inserted = saved.slice(prefix.length);
      assert.notEqual(inserted.trim(), '', 'Tab inserted the suggestion');
      const squash = (s) => s.replace(/\s+/g, '');
      assert.ok(
        squash(inserted).startsWith(squash(ghostText)),
        `inserted ${JSON.stringify(inserted)} is the ghost text ${JSON.stringify(ghostText)}`,
      );
    }));

  test('on a Java stub, the lightbulb offers the implement action and its edit applies', (t) =>
    withArtifacts(trusting, 'java-action', async () => {
      const page = trusting.page;
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'Calc.java' }).click({ timeout: 30_000 });
      const editor = page.locator('.monaco-editor', { hasText: 'digitSum' });
      await editor.locator('.view-lines').first().waitFor({ timeout: 30_000 });
      await editor.locator('.view-line', { hasText: 'UnsupportedOperationException' }).first().click();
      const action = page.locator('.action-widget .monaco-list-row', { hasText: 'Implement with Winnow' });
      for (let i = 0; i < 60 && !(await action.count()); i++) {
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+.');
        await page.waitForTimeout(1000);
      }
      t.diagnostic(`action: ${(await action.first().innerText()).trim()}`);
      // The widget takes keys, not clicks (a pointer block covers it while it opens): move the
      // focus onto the action and apply it with Enter.
      for (let i = 0; i < 6 && !/\bfocused\b/.test((await action.first().getAttribute('class')) ?? ''); i++) {
        await page.keyboard.press('ArrowDown');
        await page.waitForTimeout(200);
      }
      await page.keyboard.press('Enter');
      // Resolving samples the bodies; the edit lands in the editor, then it is saved.
      const stub = editor.locator('.view-line', { hasText: 'UnsupportedOperationException' });
      for (let i = 0; i < 240 && (await stub.count()); i++) {
        await page.waitForTimeout(500);
      }
      assert.equal(await stub.count(), 0, 'the stub body was replaced');
      await page.keyboard.press('Control+S');
      let saved = javaOriginal;
      for (let i = 0; i < 50 && saved === javaOriginal; i++) {
        await page.waitForTimeout(200);
        saved = fs.readFileSync(javaFile, 'utf8');
      }
      t.diagnostic(`saved file: ${JSON.stringify(saved)}`);
      assert.ok(saved.includes('public static int digitSum(int n) {'), 'the signature is kept');
      assert.ok(!saved.includes('UnsupportedOperationException'), 'the stub body is gone');
      const check = spawnSync(python, ['-c', [
        'import sys',
        'from winnow.judge.sites import functions, parses',
        'text = open(sys.argv[1]).read()',
        'assert parses(text, "java"), "tree-sitter finds an ERROR node"',
        'assert [s.name for s in functions(text, "java") if not s.is_stub] == ["digitSum"]',
      ].join('\n'), javaFile], { encoding: 'utf8' });
      assert.equal(check.status, 0, `the saved Java file does not parse:\n${check.stderr}`);
    }));
});

describe('Restricted Mode: nothing runs until the workspace is trusted', () => {
  before(() => open(restricted));
  after(() => close(restricted));

  test('no hint in Restricted Mode; trusting the workspace in the UI shows it, with no restart', (t) =>
    withArtifacts(restricted, 'restricted', async () => {
      const page = restricted.page;
      await openAndWaitReady(t, page, 'twice.py');
      // VS Code's own Restricted Mode indicator, and the extension's tooltip.
      await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
      const restrictedTooltip = await waitForTooltip(page, 'say Restricted Mode', (text) => text.includes(RESTRICTED_NOTE), 30_000);
      t.diagnostic(`tooltip in Restricted Mode: ${JSON.stringify(restrictedTooltip)}`);
      assert.doesNotMatch(restrictedTooltip, /Runs your code/);

      // A fair time for a hint that is not allowed: the server is ready and has the file
      // (a trusted window shows this one within seconds of ready, as below).
      await page.locator('.monaco-editor .view-lines').first().click();
      await page.keyboard.press('Control+Shift+M');
      await page.locator('.markers-panel').first().waitFor({ timeout: 30_000 });
      for (let i = 0; i < 20; i++) {
        const rows = await problems(page);
        assert.ok(!rows.some((row) => /Winnow/.test(row)), `a Winnow hint in Restricted Mode: ${rows.join(' | ')}`);
        await page.waitForTimeout(1000);
      }
      const servers = winnowServers(restricted);
      assert.equal(servers.length, 1, `one winnow lsp process: ${servers}`);

      // Trust the folder through VS Code's UI: Manage Workspace Trust, then Trust.
      await runCommand(page, 'Manage Workspace Trust');
      const trustButton = page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust( Folder)?$/ }).first();
      await trustButton.waitFor({ timeout: 30_000 });
      const granted = Date.now();
      await trustButton.click();
      await page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ state: 'detached', timeout: 30_000 });

      // The hint appears, from the same server process.
      await page.keyboard.press('Control+Shift+M');
      let rows = [];
      for (let i = 0; i < 240 && !rows.some((row) => HINT.test(row)); i++) {
        await page.waitForTimeout(500);
        rows = await problems(page);
      }
      t.diagnostic(`problems ${((Date.now() - granted) / 1000).toFixed(1)} s after the grant: ${JSON.stringify(rows)}`);
      assert.ok(rows.some((row) => HINT.test(row)), `no hint after trusting the workspace: ${rows.join(' | ')}`);
      assert.deepEqual(winnowServers(restricted), servers, 'the same server, not restarted');

      // The server's runsCode: true (its codeNote names the sandbox, "Runs your code under
      // bwrap (…)", when the status carries one).
      const trustedTooltip = await waitForTooltip(page, 'say the code runs', (text) => /^Runs your code\b/m.test(text), 30_000);
      t.diagnostic(`tooltip once trusted: ${JSON.stringify(trustedTooltip)}`);
      assert.ok(!trustedTooltip.includes('Restricted Mode'), trustedTooltip);
    }));
});
