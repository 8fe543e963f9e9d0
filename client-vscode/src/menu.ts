/**
 * The quick pick a click on the status bar item opens. Pure: no `vscode` import; the
 * command in src/commands.ts shows it and runs the picked item's command.
 */
import { activityAt, clockTime, SNOOZE_MINUTES, type Activity } from './activity';
import { CLIENT_COMMANDS } from './constants';

export interface MenuItem {
  readonly label: string;
  readonly description?: string;
  /** The command the item runs (a `winnow.client.*` id). */
  readonly command: string;
}

/** The items, in order: Toggle, Snooze, Choose Model…, Show Stats, Reload Models, Restart Server, Settings. */
export function menuItems(activity: Activity, now: number, model?: string): MenuItem[] {
  const current = activityAt(activity, now);
  const toggle: MenuItem =
    current.kind === 'on'
      ? {
          label: '$(circle-slash) Toggle: turn off',
          description: 'inline suggestions and hints, in this window',
          command: CLIENT_COMMANDS.toggle,
        }
      : {
          label: '$(check) Toggle: turn on',
          description: current.kind === 'snoozed' ? `snoozed until ${clockTime(current.until)}` : 'off in this window',
          command: CLIENT_COMMANDS.toggle,
        };
  return [
    toggle,
    {
      label: `$(clock) Snooze ${SNOOZE_MINUTES} min`,
      description:
        current.kind === 'snoozed'
          ? `until ${clockTime(current.until)} now; again: ${SNOOZE_MINUTES} min from now`
          : `off, then back on by itself`,
      command: CLIENT_COMMANDS.snooze,
    },
    {
      label: '$(library) Choose Model…',
      ...(model ? { description: `in use: ${model}` } : {}),
      command: CLIENT_COMMANDS.chooseModel,
    },
    { label: '$(graph) Show Stats', description: 'in the Winnow output channel', command: CLIENT_COMMANDS.showStats },
    { label: '$(refresh) Reload Models', description: 'load the models again', command: CLIENT_COMMANDS.reloadModels },
    { label: '$(debug-restart) Restart Server', command: CLIENT_COMMANDS.restartServer },
    { label: '$(gear) Settings', description: 'winnow.*', command: CLIENT_COMMANDS.openSettings },
  ];
}
