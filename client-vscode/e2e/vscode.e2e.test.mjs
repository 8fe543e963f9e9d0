// Real VS Code (code-server) + the packaged extension + the real Winnow server,
// driven through headless Chromium. Run it with ./e2e/run-e2e.sh, which installs
// code-server and playwright-core and sets the WINNOW_E2E_* variables.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
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

// The third window: default editor settings (only winnow.pythonPath set), a copy of a real
// standard-library module (statistics.py) with two docstring examples made wrong, a small
// module to type in, and a local stand-in for the Hugging Face Hub (HF_ENDPOINT).
const defaults = session('defaults', { trust: false, plain: true });
const stdlibFile = spawnSync(python, ['-c', 'import statistics; print(statistics.__file__)'], { encoding: 'utf8' }).stdout.trim();
const stdlibText = fs.readFileSync(stdlibFile, 'utf8');
const MEAN_EXAMPLE = '    >>> mean([1, 2, 3, 4, 4])\n    2.8\n';
const MEDIAN_EXAMPLE = '    >>> median([1, 3, 5])\n    3\n';
assert.ok(stdlibText.includes(MEAN_EXAMPLE) && stdlibText.includes(MEDIAN_EXAMPLE), `${stdlibFile} has other examples`);
const statsCopy = path.join(defaults.dirs.workspace, 'stats_copy.py');
const statsText = stdlibText
  .replace(MEAN_EXAMPLE, '    >>> mean([1, 2, 3, 4, 4])\n    2.9\n')
  .replace(MEDIAN_EXAMPLE, '    >>> median([1, 3, 5])\n    4\n');
const MEAN_HINT = /`mean\(\[1, 2, 3, 4, 4\]\)` returned 2\.8; the docstring says 2\.9/;
const MEDIAN_HINT = /`median\(\[1, 3, 5\]\)` returned 3; the docstring says 4/;
const typingFile = path.join(defaults.dirs.workspace, 'typing_here.py');
defaults.files = { [statsCopy]: statsText, [typingFile]: original };
const RESTRICTED_NOTE = "Restricted Mode: Winnow runs none of this workspace's code; trust the workspace to turn hints on";

/** One code-server with its own user data, extensions, workspace and browser page. */
function session(name, { trust, plain = false }) {
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
    plain,
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
  const quiet = {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoCheckUpdates': false,
    'extensions.autoUpdate': false,
    'update.mode': 'none',
    'files.autoSave': 'off',
  };
  // Default editor and Winnow settings: only the interpreter, and VS Code's own start-up noise off.
  const plainSettings = { 'winnow.pythonPath': python, ...quiet, 'security.workspace.trust.enabled': false };
  const settings = s.plain ? plainSettings : {
    'winnow.pythonPath': python,
    ...quiet,
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
  const hover = page.locator('.workbench-hover, .monaco-hover').filter({ hasText: /Click for the Winnow menu/ });
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

/** Take the code action whose row matches `title` from the open action widget (keys: it takes no clicks while it opens). */
async function takeAction(page, title) {
  const action = page.locator('.action-widget .monaco-list-row', { hasText: title }).first();
  await action.waitFor({ timeout: 30_000 });
  for (let i = 0; i < 12 && !/\bfocused\b/.test((await action.getAttribute('class')) ?? ''); i++) {
    await page.keyboard.press('ArrowDown');
    await page.waitForTimeout(150);
  }
  assert.match((await action.getAttribute('class')) ?? '', /\bfocused\b/, `could not focus the action ${title}`);
  await page.keyboard.press('Enter');
}

/** Put the cursor at the start of a 1-based line (Go to Line: the quick input's `:` mode). */
async function gotoLine(page, line) {
  await page.keyboard.press('F1');
  const input = page.locator('.quick-input-widget input');
  await input.waitFor({ timeout: 10_000 });
  await input.fill(`:${line}`);
  await page.keyboard.press('Enter');
  await page.waitForTimeout(300);
}

/**
 * With the cursor on a line that has a Winnow hint: wait for the lightbulb, open it, and
 * return the rows of the action widget it opens.
 */
async function openLightbulb(t, page) {
  const bulb = page.locator('.monaco-editor .lightBulbWidget').first();
  await bulb.waitFor({ state: 'visible', timeout: 60_000 });
  t.diagnostic(`lightbulb: ${(await bulb.getAttribute('class')) ?? ''} ${(await bulb.innerHTML()).slice(0, 120)}`);
  const rows = page.locator('.action-widget .monaco-list-row');
  await bulb.click();
  try {
    await rows.first().waitFor({ timeout: 5000 });
  } catch {
    await page.keyboard.press('Control+.'); // a click that landed while the bulb moved
    await rows.first().waitFor({ timeout: 30_000 });
  }
  return rows.allInnerTexts();
}

/** The line (0-based) of `needle` in `text`. */
const lineOf = (text, needle) => text.split('\n').findIndex((line) => line.startsWith(needle));

/** Wait until the Problems panel's rows satisfy `accept`; returns them. */
async function waitForProblems(page, what, accept, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  let rows = [];
  while (Date.now() < deadline) {
    rows = await problems(page);
    if (accept(rows)) {
      return rows;
    }
    await page.waitForTimeout(500);
  }
  throw new Error(`timed out waiting for the problems to ${what}: ${JSON.stringify(rows)}`);
}

/** Wait until the file on disk satisfies `accept`; returns its text. */
async function waitForDisk(file, accept, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = fs.readFileSync(file, 'utf8');
    if (accept(text)) {
      return text;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return text;
}

/**
 * A stand-in for the Hugging Face Hub (huggingface_hub's HEAD and GET of
 * `/{owner}/{repo}/resolve/{revision}/{file}`): every file is `served`, sent slowly enough
 * (2 MB every 80 ms) that the download's progress shows.
 */
function startHub(served) {
  const size = fs.statSync(served).size;
  const requests = [];
  const server = http.createServer((req, res) => {
    const url = decodeURIComponent((req.url ?? '').split('?')[0]);
    requests.push(`${req.method} ${url}`);
    if (!/^\/[^/]+\/[^/]+\/resolve\/[^/]+\/.+\.gguf$/.test(url)) {
      res.writeHead(404, { 'X-Error-Code': 'EntryNotFound', 'X-Error-Message': 'Entry not found' });
      res.end();
      return;
    }
    const range = /^bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const headers = {
      'Content-Type': 'application/octet-stream',
      'Accept-Ranges': 'bytes',
      ETag: `"e2e-${size}"`,
      'X-Repo-Commit': '0123456789abcdef0123456789abcdef01234567',
      'Content-Length': String(size - start),
      ...(range ? { 'Content-Range': `bytes ${start}-${size - 1}/${size}` } : {}),
    };
    res.writeHead(range ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    const stream = fs.createReadStream(served, { start, highWaterMark: 2 * 1024 * 1024 });
    stream.on('data', (chunk) => {
      stream.pause();
      res.write(chunk, () => setTimeout(() => stream.resume(), 80));
    });
    stream.on('end', () => res.end());
    req.on('close', () => stream.destroy());
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${server.address().port}`, requests, server }));
  });
}

let hub;

after(async () => {
  await close(trusting);
  await close(restricted);
  await close(defaults);
  hub?.server.close();
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

describe('default settings: answering hints, one suggestion list, choosing a model', () => {
  before(async () => {
    const model = spawnSync(python, ['-c', 'from winnow.judge.llm.model_files import resolve; print(resolve("default").path)'], {
      encoding: 'utf8',
    });
    assert.equal(model.status, 0, model.stderr);
    hub = await startHub(model.stdout.trim());
    defaults.env = {
      ...defaults.env,
      HF_ENDPOINT: hub.url,
      HF_HOME: path.join(root, 'defaults', 'hf-home'),
      HF_HUB_DISABLE_TELEMETRY: '1',
    };
    delete defaults.env.HF_HUB_OFFLINE;
    await open(defaults);
  });
  after(() => close(defaults));

  test('on a copy of statistics.py: the lightbulb offers the quick fixes; Ignore and Update the docstring answer the hints', (t) =>
    withArtifacts(defaults, 'quick-fixes', async () => {
      const page = defaults.page;
      await openAndWaitReady(t, page, 'stats_copy.py');
      await page.locator('.monaco-editor .view-lines').first().click();
      await page.keyboard.press('Control+Shift+M');
      await page.locator('.markers-panel').first().waitFor({ timeout: 30_000 });
      const shown = Date.now();
      const first = await waitForProblems(page, 'show both hints', (rows) => rows.some((r) => MEAN_HINT.test(r)) && rows.some((r) => MEDIAN_HINT.test(r)));
      t.diagnostic(`hints after ${((Date.now() - shown) / 1000).toFixed(1)} s: ${JSON.stringify(first)}`);

      // mean: the lightbulb on its def line lists the three quick fixes; take "ignore this hint".
      await gotoLine(page, lineOf(statsText, 'def mean(data):') + 1);
      const meanRows = await openLightbulb(t, page);
      t.diagnostic(`actions on mean: ${JSON.stringify(meanRows)}`);
      assert.ok(meanRows.some((r) => /Winnow: update the docstring to the observed value \(2\.8\)/.test(r)), meanRows.join(' | '));
      assert.ok(meanRows.some((r) => /Winnow: ignore this .?example:value.? hint on .?mean/.test(r)), meanRows.join(' | '));
      assert.ok(meanRows.some((r) => /Winnow: ignore every Winnow hint on .?mean/.test(r)), meanRows.join(' | '));
      await takeAction(page, /Winnow: ignore this .?example:value.? hint on .?mean/);
      await page.keyboard.press('Control+S');
      const ignored = await waitForDisk(statsCopy, (text) => text.includes('def mean(data):  # winnow: ignore[example:value]\n'));
      assert.ok(ignored.includes('def mean(data):  # winnow: ignore[example:value]\n'), 'the comment is in the saved file');
      const afterIgnore = await waitForProblems(page, 'drop the mean hint', (rows) => !rows.some((r) => MEAN_HINT.test(r)));
      assert.ok(afterIgnore.some((r) => MEDIAN_HINT.test(r)), `the median hint stays: ${JSON.stringify(afterIgnore)}`);

      // median: "update the docstring" writes the observed value into the example.
      await gotoLine(page, lineOf(ignored, 'def median(data):') + 1);
      const medianRows = await openLightbulb(t, page);
      t.diagnostic(`actions on median: ${JSON.stringify(medianRows)}`);
      await takeAction(page, /Winnow: update the docstring to the observed value \(3\)/);
      await page.keyboard.press('Control+S');
      const updated = await waitForDisk(statsCopy, (text) => text.includes(MEDIAN_EXAMPLE));
      assert.ok(updated.includes(MEDIAN_EXAMPLE), 'the docstring shows the observed value');
      assert.equal(updated, stdlibText.replace('def mean(data):\n', 'def mean(data):  # winnow: ignore[example:value]\n').replace(MEAN_EXAMPLE, '    >>> mean([1, 2, 3, 4, 4])\n    2.9\n'));
      const done = await waitForProblems(page, 'drop the median hint', (rows) => !rows.some((r) => /Winnow/.test(r) && /median/.test(r)));
      t.diagnostic(`problems at the end: ${JSON.stringify(done)}`);
      assert.ok(!done.some((r) => MEAN_HINT.test(r) || MEDIAN_HINT.test(r)), JSON.stringify(done));
      await page.keyboard.press('Control+Shift+M'); // close the panel
    }));

  test('the ghost text shows; Ctrl+Space lists no Winnow item beside it', (t) =>
    withArtifacts(defaults, 'one-list', async () => {
      const page = defaults.page;
      await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'typing_here.py' }).click({ timeout: 30_000 });
      const editor = page.locator('.monaco-editor', { hasText: 'Return the sum of a and b' }).first();
      await editor.locator('.view-lines').waitFor({ timeout: 30_000 });
      await editor.locator('.view-lines').click();
      await page.keyboard.press('Control+End');
      // Default settings: the word-based suggest widget opens on "return" (Return, from the
      // docstring) and closes at the space; the ghost text comes after it.
      await page.keyboard.type('    return ', { delay: 30 });
      const ghost = page.locator('.monaco-editor .ghost-text-decoration, .monaco-editor .ghost-text');
      let asked = false;
      try {
        await ghost.first().waitFor({ timeout: 60_000 });
      } catch {
        asked = true; // not by itself: ask for it (Alt+\\, the extension's keybinding)
        await page.keyboard.press('Escape');
        await page.keyboard.press('Alt+Backslash');
        await ghost.first().waitFor({ timeout: 60_000 });
      }
      const ghostText = (await ghost.allInnerTexts()).join('').trim();
      t.diagnostic(`ghost text${asked ? ' (after Alt+\\)' : ' (as typed)'}: ${JSON.stringify(ghostText)}`);
      assert.notEqual(ghostText, '');

      await page.keyboard.press('Control+Space');
      const widget = page.locator('.editor-widget.suggest-widget.visible');
      await widget.waitFor({ timeout: 30_000 });
      await page.waitForTimeout(1500); // every provider has answered
      const rows = await widget.locator('.monaco-list-row').allInnerTexts();
      const snippets = await widget.locator('.monaco-list-row .codicon-symbol-snippet').count();
      t.diagnostic(`suggest widget: ${JSON.stringify(rows)} (${snippets} snippet rows)`);
      const firstLine = ghostText.split('\n')[0].trim();
      assert.ok(!rows.some((row) => /Winnow/.test(row)), `a Winnow item in the list: ${JSON.stringify(rows)}`);
      assert.ok(!rows.some((row) => firstLine && row.split('\n')[0].trim() === firstLine), `the ghost text listed again: ${JSON.stringify(rows)}`);
      assert.equal(snippets, 0, 'no snippet item (the fallback\'s kind)');
      await page.keyboard.press('Escape');
      await page.keyboard.press('Escape');
    }));

  test('Choose Model…: a hub model downloads under a progress notification, then the status bar names it', (t) =>
    withArtifacts(defaults, 'choose-model', async () => {
      const page = defaults.page;
      await runCommand(page, 'Winnow: Choose Model…');
      const missing = page.locator('.notification-toast', { hasText: /cannot list models/ });
      const title = page.locator('.quick-input-widget .quick-input-title', { hasText: 'Winnow: Choose Model' });
      const pick = page.locator('.quick-input-widget .monaco-list-row');
      await Promise.race([missing.first().waitFor({ timeout: 30_000 }), title.first().waitFor({ timeout: 30_000 })]);
      if (await missing.count()) {
        t.diagnostic(`not run: ${(await missing.first().innerText()).trim()}`);
        await page.keyboard.press('Escape');
        t.skip('the server has no winnow.models.list yet');
        return;
      }
      await pick.first().waitFor({ timeout: 30_000 });
      const listed = await pick.allInnerTexts();
      t.diagnostic(`quick pick: ${JSON.stringify(listed)}`);
      assert.ok(listed.some((row) => /ships with Winnow/.test(row)), 'the embedded model is listed');
      await page.locator('.quick-input-widget input').fill('Hugging Face Hub');
      await page.locator('.quick-input-widget .monaco-list-row', { hasText: 'A model on the Hugging Face Hub' }).first().click();
      const spec = 'hf:winnow-e2e/Tiny-GGUF/tiny-e2e.gguf';
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10_000 });
      await input.fill(spec);
      await page.keyboard.press('Enter');

      const toast = page.locator('.notification-toast', { hasText: 'Winnow: downloading tiny-e2e' });
      await toast.first().waitFor({ timeout: 60_000 });
      // The notification: the title, a Cancel button, the server's own progress messages.
      const seen = new Set();
      const started = Date.now();
      while ((await toast.count()) > 0 && Date.now() - started < 300_000) {
        const text = await toast.first().innerText().catch(() => '');
        seen.add(text.replace(/\s+/g, ' ').trim());
        await page.waitForTimeout(150);
      }
      t.diagnostic(`progress notification, as seen: ${JSON.stringify([...seen])}`);
      assert.equal(await toast.count(), 0, 'the download notification closed');
      assert.ok([...seen].some((text) => /\bCancel\b/.test(text)), 'it has a Cancel button');
      assert.ok([...seen].some((text) => / of \d/.test(text)), 'it showed the server\'s progress ("… MB of … MB")');
      assert.ok(hub.requests.some((r) => r.startsWith('GET /winnow-e2e/Tiny-GGUF/resolve/')), JSON.stringify(hub.requests));
      // The download's answer comes after its sha256 check (a progress of its own): then the setting is written.
      const settingsFile = path.join(defaults.dirs.userData, 'User', 'settings.json');
      const chosen = () => JSON.parse(fs.readFileSync(settingsFile, 'utf8'))['winnow.generatorModel'];
      for (const until = Date.now() + 60_000; chosen() !== spec && Date.now() < until; ) {
        await page.waitForTimeout(250);
      }
      assert.equal(chosen(), spec);
      // The same server loads it: loading, then ready with the model named (winnow.models.list's label).
      const tooltip = await waitForTooltip(page, 'name the model', (text) => /^Winnow: ready/m.test(text) && /^Model: .*tiny-e2e/m.test(text), 180_000);
      t.diagnostic(`tooltip: ${JSON.stringify(tooltip)}`);
      const item = (await page.locator('.statusbar-item', { hasText: /Winnow ·/ }).first().innerText()).trim();
      t.diagnostic(`status bar: ${item}`);
      assert.match(item, /Winnow · tiny-e2e/, 'the status bar names the model now in use');
      assert.equal(winnowServers(defaults).length, 1, 'one server, not restarted');
    }));
});
