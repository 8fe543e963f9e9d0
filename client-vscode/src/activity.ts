/**
 * Whether Winnow speaks in this window: the Toggle and Snooze controls, the per-language
 * `winnow.enable` switch and the manual-trigger mode. Pure: no `vscode` import, so node
 * tests can load it; src/controls.ts holds the state and reads the settings.
 *
 * Off (toggled or snoozed) reaches the server as settings: `inlineCompletion.enabled` and
 * `diagnostics.enabled` false in what the extension sends, so the server stops generating
 * and clears its hints; the server keeps running. A language switched off with
 * `"[python]": {"winnow.enable": false}` is filtered in the extension's middleware (the
 * server's settings are one object for every language); when every language the
 * extension serves is off, the server is told as for Toggle.
 */
import type { FlatSettings } from './settings';

/** Snooze's length. */
export const SNOOZE_MINUTES = 30;

/** The window's switch: on, off (Toggle), or off until a time (Snooze, ms since the epoch). */
export type Activity =
  | { readonly kind: 'on' }
  | { readonly kind: 'off' }
  | { readonly kind: 'snoozed'; readonly until: number };

export const ON: Activity = { kind: 'on' };

/** The activity as it stands at `now`: a snooze that has run out is on again. */
export function activityAt(activity: Activity, now: number): Activity {
  return activity.kind === 'snoozed' && now >= activity.until ? ON : activity;
}

/** Whether inline suggestions and hints are off in this window at `now`. */
export function isPaused(activity: Activity, now: number): boolean {
  return activityAt(activity, now).kind !== 'on';
}

/** Toggle: off when on; on when off or snoozed. */
export function toggled(activity: Activity, now: number): Activity {
  return isPaused(activity, now) ? ON : { kind: 'off' };
}

/** Snooze: off until `minutes` from now (snoozing again starts the time over). */
export function snoozed(now: number, minutes: number = SNOOZE_MINUTES): Activity {
  return { kind: 'snoozed', until: now + minutes * 60_000 };
}

/** Milliseconds until a snooze ends (0 when it has), or undefined when nothing is timed. */
export function wakeDelayMs(activity: Activity, now: number): number | undefined {
  return activity.kind === 'snoozed' ? Math.max(0, activity.until - now) : undefined;
}

/** `14:05`, local time. */
export function clockTime(epochMs: number): string {
  const date = new Date(epochMs);
  return `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')}`;
}

/** The status bar's words for a paused window; undefined when on. */
export function pausedView(activity: Activity, now: number): { readonly text: string; readonly tooltip: string } | undefined {
  const current = activityAt(activity, now);
  if (current.kind === 'on') {
    return undefined;
  }
  if (current.kind === 'off') {
    return {
      text: '$(circle-slash) Winnow: off',
      tooltip: 'Off in this window (Winnow: Toggle): no inline suggestions, no hints. Toggle again to turn it on.',
    };
  }
  const until = clockTime(current.until);
  return {
    text: `$(clock) Winnow: snoozed until ${until}`,
    tooltip: `Snoozed (Winnow: Snooze 30 min): no inline suggestions, no hints until ${until}; Toggle turns it on now.`,
  };
}

/** The settings the server gets while nothing should speak: no inline completion, no hints. */
export const PAUSED_SETTINGS: FlatSettings = { 'inlineCompletion.enabled': false, 'diagnostics.enabled': false };

/** `flat` with the pause applied (the user's own values otherwise, untouched). */
export function withActivity(flat: FlatSettings, paused: boolean): FlatSettings {
  return paused ? { ...flat, ...PAUSED_SETTINGS } : flat;
}

/** `winnow.enable` of each language the extension serves (true where unset). */
export type LanguageSwitches = Readonly<Record<string, boolean>>;

/**
 * Whether the server should be told to stop: the window is paused, or `winnow.enable` is
 * false for every language it serves (then no document of this window wants it).
 */
export function serverPaused(activity: Activity, now: number, languages: LanguageSwitches): boolean {
  const values = Object.values(languages);
  return isPaused(activity, now) || (values.length > 0 && values.every((enabled) => !enabled));
}

/** `winnow.inlineCompletion.trigger`. */
export const INLINE_TRIGGERS = ['automatic', 'manual'] as const;
export type InlineTrigger = (typeof INLINE_TRIGGERS)[number];

/** Anything but `manual` is automatic (the default). */
export function parseTrigger(value: unknown): InlineTrigger {
  return value === 'manual' ? 'manual' : 'automatic';
}

/** VS Code's `InlineCompletionTriggerKind` (a stable API enum). */
export const TRIGGER_KIND = { invoke: 0, automatic: 1 } as const;

/** What decides whether a request reaches the server, for one document. */
export interface Gate {
  /** The window is off (Toggle) or snoozed. */
  readonly paused: boolean;
  /** `winnow.enable` for the document's language. */
  readonly languageEnabled: boolean;
}

/**
 * Whether an inline completion request goes to the server: not while paused, not in a
 * language switched off, and in `manual` mode only when the user asked (Alt+\, the
 * "Trigger Inline Suggestion" command: `triggerKind` Invoke), not as they type.
 */
export function offersInline(gate: Gate & { readonly trigger: InlineTrigger; readonly triggerKind: number }): boolean {
  if (gate.paused || !gate.languageEnabled) {
    return false;
  }
  return gate.trigger === 'automatic' || gate.triggerKind === TRIGGER_KIND.invoke;
}

/** Whether the server's hints on a document are shown. */
export function showsHints(gate: Gate): boolean {
  return !gate.paused && gate.languageEnabled;
}

/**
 * Whether code actions and hovers are asked for: everything of a language switched off
 * stays out; Toggle and Snooze keep them (the user asks for an action, it never
 * interrupts), and the quick fixes of hints have no hint to hang on while paused.
 */
export function offersActions(gate: Gate): boolean {
  return gate.languageEnabled;
}
