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
import { after, before, test } from 'node:test';

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
const dirs = {
  userData: path.join(root, 'user-data'),
  extensions: path.join(root, 'extensions'),
  workspace: path.join(root, 'workspace'),
  xdg: path.join(root, 'xdg'),
};
const sample = path.join(dirs.workspace, 'sample.py');
const original = 'def add(a, b):\n    """Return the sum of a and b."""\n';
const typed = '    return';
const javaFile = path.join(dirs.workspace, 'Calc.java');
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

const childEnv = {
  ...process.env,
  XDG_CONFIG_HOME: dirs.xdg,
  XDG_DATA_HOME: path.join(dirs.xdg, 'data'),
  XDG_CACHE_HOME: path.join(dirs.xdg, 'cache'),
};
const codeServerArgs = [
  '--auth', 'none',
  '--disable-telemetry',
  '--disable-update-check',
  '--disable-workspace-trust',
  '--config', path.join(dirs.xdg, 'config.yaml'),
  '--user-data-dir', dirs.userData,
  '--extensions-dir', dirs.extensions,
];

let server; // the code-server process (its own process group)
let serverLog = '';
let browser;
let page;

function writeFixture() {
  for (const dir of Object.values(dirs)) {
    fs.mkdirSync(dir, { recursive: true });
  }
  fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
  const settings = {
    'winnow.pythonPath': python,
    'security.workspace.trust.enabled': false,
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
  };
  fs.writeFileSync(path.join(dirs.userData, 'User', 'settings.json'), JSON.stringify(settings, null, 2));
  fs.writeFileSync(sample, original);
  fs.writeFileSync(javaFile, javaOriginal);
}

function startCodeServer() {
  server = spawn(process.execPath, [codeServer, ...codeServerArgs, '--bind-addr', '127.0.0.1:0', dirs.workspace], {
    env: childEnv,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`code-server did not start:\n${serverLog}`)), 60_000);
    const onData = (chunk) => {
      serverLog += chunk.toString();
      const match = /HTTP server listening on (http:\/\/127\.0\.0\.1:\d+)\//.exec(serverLog);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    server.stdout.on('data', onData);
    server.stderr.on('data', onData);
    server.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`code-server exited with ${code}:\n${serverLog}`));
    });
  });
}

async function saveArtifacts(name) {
  fs.mkdirSync(artifacts, { recursive: true });
  if (page) {
    await page.screenshot({ path: path.join(artifacts, `${name}.png`) }).catch(() => {});
  }
  fs.writeFileSync(path.join(artifacts, 'code-server.log'), serverLog);
  console.log(`e2e artifacts: ${artifacts}`);
}

before(async () => {
  writeFixture();
  const install = spawnSync(process.execPath, [codeServer, ...codeServerArgs, '--install-extension', vsix], {
    env: childEnv,
    encoding: 'utf8',
  });
  assert.equal(install.status, 0, `--install-extension failed:\n${install.stdout}\n${install.stderr}`);
  assert.match(install.stdout, /successfully installed/);

  const url = await startCodeServer();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
  });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${url}/?folder=${encodeURIComponent(dirs.workspace)}`);
  await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
});

after(async () => {
  await browser?.close();
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
  if (!process.env.WINNOW_E2E_ARTIFACTS && !process.exitCode) {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('the extension activates on a Python file and the server reaches ready', async (t) => {
  try {
    await page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'sample.py' }).click({ timeout: 30_000 });
    await page.waitForSelector('.monaco-editor .view-lines', { timeout: 30_000 });
    // "Winnow: starting" from the extension, then the server's winnow/status:
    // "Winnow · judge on" (or "Winnow · <latency> · …") once the models are loaded.
    const ready = page.locator('.statusbar-item', { hasText: /Winnow ·/ });
    await ready.first().waitFor({ timeout: 180_000 });
    t.diagnostic(`status bar: ${(await ready.first().innerText()).trim()}`);
  } catch (error) {
    process.exitCode = 1;
    await saveArtifacts('activation');
    throw error;
  }
});

test('an inline suggestion from Winnow is shown and accepted with Tab', async (t) => {
  try {
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
  } catch (error) {
    process.exitCode = 1;
    await saveArtifacts('inline');
    throw error;
  }
});

test('on a Java stub, the lightbulb offers the implement action and its edit applies', async (t) => {
  try {
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
      'from winnow.judge.base.code_sites import functions, parses',
      'text = open(sys.argv[1]).read()',
      'assert parses(text, "java"), "tree-sitter finds an ERROR node"',
      'assert [s.name for s in functions(text, "java") if not s.is_stub] == ["digitSum"]',
    ].join('\n'), javaFile], { encoding: 'utf8' });
    assert.equal(check.status, 0, `the saved Java file does not parse:\n${check.stderr}`);
  } catch (error) {
    process.exitCode = 1;
    await saveArtifacts('java-action');
    throw error;
  }
});
