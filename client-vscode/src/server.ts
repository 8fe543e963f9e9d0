/**
 * How the server is launched: `<python> -m winnow.cli lsp`, speaking
 * LSP over stdio. Pure apart from spawning: no `vscode` import. The extension
 * hands `buildServerLaunch`'s command/args/env to the language client; the
 * integration test spawns the same launch with `spawnServer`.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export const SERVER_MODULE = 'winnow.cli';

export interface ServerLaunch {
  readonly command: string;
  readonly args: readonly string[];
  readonly cwd?: string | undefined;
  readonly env: NodeJS.ProcessEnv;
}

export interface LaunchOptions {
  /** Working directory for the server (the first workspace folder). */
  readonly cwd?: string | undefined;
  /** Environment to start from; defaults to this process's environment. */
  readonly baseEnv?: NodeJS.ProcessEnv;
}

/** The command line and environment that start the server with this Python. */
export function buildServerLaunch(python: string, options: LaunchOptions = {}): ServerLaunch {
  return {
    command: python,
    args: ['-m', SERVER_MODULE, 'lsp'],
    cwd: options.cwd,
    env: {
      ...(options.baseEnv ?? process.env),
      // Logs on stderr reach the output channel as they happen.
      PYTHONUNBUFFERED: '1',
      // stdio carries JSON-RPC in UTF-8 whatever the locale says.
      PYTHONIOENCODING: 'utf-8',
    },
  };
}

/** Start the server process with stdin/stdout/stderr as pipes (stdin/stdout carry LSP). */
export function spawnServer(launch: ServerLaunch): ChildProcessWithoutNullStreams {
  return spawn(launch.command, [...launch.args], {
    cwd: launch.cwd,
    env: launch.env,
    stdio: 'pipe',
    windowsHide: true,
  });
}
