/**
 * Asking the Python extension (ms-python.python) for its selected interpreter.
 * Its API is used defensively: the extension may be missing, inactive, fail to
 * activate, or expose an older API shape.
 */
import * as vscode from 'vscode';

import { PYTHON_EXTENSION_ID } from './constants';

interface EnvironmentPath {
  readonly id?: unknown;
  readonly path?: unknown;
}

interface ResolvedEnvironment {
  readonly executable?: { readonly uri?: vscode.Uri | undefined } | undefined;
}

interface PythonEnvironmentsApi {
  getActiveEnvironmentPath?: (resource?: vscode.Uri) => EnvironmentPath | undefined;
  resolveEnvironment?: (environment: EnvironmentPath | string) => Promise<ResolvedEnvironment | undefined>;
  onDidChangeActiveEnvironmentPath?: vscode.Event<unknown>;
}

interface PythonExtensionApi {
  readonly environments?: PythonEnvironmentsApi;
}

async function environmentsApi(): Promise<PythonEnvironmentsApi | undefined> {
  const extension = vscode.extensions.getExtension<unknown>(PYTHON_EXTENSION_ID);
  if (!extension) {
    return undefined;
  }
  const exports: unknown = extension.isActive ? extension.exports : await extension.activate();
  if (typeof exports !== 'object' || exports === null) {
    return undefined;
  }
  const environments = (exports as PythonExtensionApi).environments;
  return typeof environments === 'object' ? environments : undefined;
}

/**
 * The executable of the interpreter selected in the Python extension, or
 * undefined when it is not installed or reports none. May throw; the caller
 * (python.ts's resolveInterpreter) treats a throw as "no answer".
 */
export async function pythonFromExtension(resource?: vscode.Uri): Promise<string | undefined> {
  const environments = await environmentsApi();
  if (typeof environments?.getActiveEnvironmentPath !== 'function') {
    return undefined;
  }
  const active = environments.getActiveEnvironmentPath(resource);
  if (!active) {
    return undefined;
  }
  // `path` may be an environment folder rather than its executable; resolve it when the API allows.
  if (typeof environments.resolveEnvironment === 'function') {
    const resolved = await environments.resolveEnvironment(active);
    const executable = resolved?.executable?.uri?.fsPath;
    if (executable) {
      return executable;
    }
  }
  return typeof active.path === 'string' && active.path.length > 0 ? active.path : undefined;
}

/** Call `listener` when the Python extension's selected interpreter changes; a no-op without it. */
export async function onPythonInterpreterChanged(listener: () => void): Promise<vscode.Disposable> {
  try {
    const environments = await environmentsApi();
    const event = environments?.onDidChangeActiveEnvironmentPath;
    if (typeof event === 'function') {
      return event(() => listener());
    }
  } catch {
    // No Python extension API: nothing to listen to.
  }
  return new vscode.Disposable(() => undefined);
}
