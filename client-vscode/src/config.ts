/**
 * Reading the `winnow.*` settings from VS Code into the flat record that
 * src/settings.ts maps onto the server's settings object.
 */
import * as vscode from 'vscode';

import { withActivity } from './activity';
import { CONFIG_SECTION } from './constants';
import {
  SERVER_SETTING_KEYS,
  isExplicitlySet,
  serverSettingsUnderTrust,
  type FlatSettings,
  type ServerSettings,
  type WorkspaceTrust,
} from './settings';

/**
 * The server settings the user set (in any scope), keyed by path. Settings left at
 * their defaults are not sent: the server then applies its own defaults, which may
 * depend on the judge (diagnostics stay off for a judge that measured near chance).
 */
export function readFlatSettings(scope?: vscode.ConfigurationScope): FlatSettings {
  const config = vscode.workspace.getConfiguration(CONFIG_SECTION, scope);
  const flat: Record<string, unknown> = {};
  for (const key of SERVER_SETTING_KEYS) {
    if (isExplicitlySet(config.inspect<unknown>(key))) {
      flat[key] = config.get<unknown>(key);
    }
  }
  return flat;
}

/** Whether the workspace is trusted, and its folders on disk. */
export function readWorkspaceTrust(): WorkspaceTrust {
  return {
    trusted: vscode.workspace.isTrusted,
    folders: (vscode.workspace.workspaceFolders ?? [])
      .filter((folder) => folder.uri.scheme === 'file')
      .map((folder) => folder.uri.fsPath),
  };
}

/**
 * The object sent as `initializationOptions` and in `workspace/didChangeConfiguration`:
 * the user's settings as workspace trust allows them (Restricted Mode: nothing runs;
 * trusted: the workspace's folders are trusted folders), and while the window is paused
 * (Toggle, Snooze, every language off: src/activity.ts) no inline completion, no hints.
 */
export function readServerSettings(paused: boolean, scope?: vscode.ConfigurationScope): ServerSettings {
  return serverSettingsUnderTrust(withActivity(readFlatSettings(scope), paused), readWorkspaceTrust());
}

/** The raw `winnow.pythonPath` value, if set. */
export function readPythonPath(scope?: vscode.ConfigurationScope): string | undefined {
  const value = vscode.workspace.getConfiguration(CONFIG_SECTION, scope).get<string>('pythonPath');
  return typeof value === 'string' && value.trim().length > 0 ? value : undefined;
}
