/**
 * The window's controls: Toggle and Snooze (state of this window only, kept in memory),
 * and reading `winnow.enable` (language-overridable) and `winnow.inlineCompletion.trigger`.
 * The decisions are src/activity.ts's pure functions.
 */
import * as vscode from 'vscode';

import {
  activityAt,
  isPaused,
  ON,
  parseTrigger,
  pausedView,
  serverPaused,
  snoozed,
  toggled,
  wakeDelayMs,
  type Activity,
  type Gate,
  type InlineTrigger,
  type LanguageSwitches,
} from './activity';
import { CONFIG_SECTION, LANGUAGES } from './constants';

/** A document as the controls need it. */
export interface DocumentRef {
  readonly languageId: string;
  readonly uri?: vscode.Uri | undefined;
}

export class WindowControls implements vscode.Disposable {
  private activity: Activity = ON;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly changed = new vscode.EventEmitter<string>();
  /** Fires with the reason whenever the window is turned off or on. */
  readonly onDidChange = this.changed.event;

  constructor(private readonly now: () => number = Date.now) {}

  /** The activity now (a snooze that ran out reads as on). */
  get state(): Activity {
    return activityAt(this.activity, this.now());
  }

  get paused(): boolean {
    return isPaused(this.activity, this.now());
  }

  /** The status bar's words while paused, else undefined. */
  get pausedView(): { readonly text: string; readonly tooltip: string } | undefined {
    return pausedView(this.activity, this.now());
  }

  toggle(): void {
    this.set(toggled(this.activity, this.now()), this.paused ? 'Winnow turned on' : 'Winnow turned off in this window');
  }

  snooze(minutes?: number): void {
    this.set(snoozed(this.now(), minutes), 'Winnow snoozed');
  }

  /** `winnow.enable` for a document's language (language-specific settings win). */
  languageEnabled(document: DocumentRef): boolean {
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION, { languageId: document.languageId, uri: document.uri });
    return config.get<boolean>('enable', true) !== false;
  }

  /** `winnow.inlineCompletion.trigger` for a document (also language-overridable). */
  trigger(document: DocumentRef): InlineTrigger {
    const config = vscode.workspace.getConfiguration(CONFIG_SECTION, { languageId: document.languageId, uri: document.uri });
    return parseTrigger(config.get<unknown>('inlineCompletion.trigger'));
  }

  /** `winnow.enable` of each language the extension serves. */
  languageSwitches(): LanguageSwitches {
    return Object.fromEntries(LANGUAGES.map((languageId) => [languageId, this.languageEnabled({ languageId })]));
  }

  /** Whether the server is told to stop: paused, or every language switched off. */
  get serverPaused(): boolean {
    return serverPaused(this.activity, this.now(), this.languageSwitches());
  }

  gate(document: DocumentRef): Gate {
    return { paused: this.paused, languageEnabled: this.languageEnabled(document) };
  }

  private set(activity: Activity, reason: string): void {
    this.activity = activity;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const delay = wakeDelayMs(activity, this.now());
    if (delay !== undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.activity = ON;
        this.changed.fire('the snooze ended');
      }, delay);
    }
    this.changed.fire(reason);
  }

  dispose(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
    }
    this.changed.dispose();
  }
}
