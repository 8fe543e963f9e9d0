/**
 * The status bar item: paints a StatusView (src/status.ts) with the model in use and the
 * window's controls (off, snoozed, a language switched off); a click opens the menu.
 */
import * as vscode from 'vscode';

import { CLIENT_COMMANDS } from './constants';
import {
  clientPhaseView,
  serverStatusView,
  withControls,
  type ClientPhase,
  type StatusView,
  type WinnowStatus,
} from './status';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  /** What is shown, so that a change of workspace trust can repaint it. */
  private shown: { readonly status: WinnowStatus } | { readonly phase: ClientPhase } = { phase: { phase: 'starting' } };
  private trusted: boolean;
  private model: string | undefined;
  private paused: { readonly text: string; readonly tooltip: string } | undefined;
  private languageOff: string | undefined;

  constructor(trusted: boolean) {
    this.trusted = trusted;
    this.item = vscode.window.createStatusBarItem('winnow.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Winnow';
    this.item.command = CLIENT_COMMANDS.showMenu;
    this.showClientPhase({ phase: 'starting' });
    this.item.show();
  }

  showServerStatus(status: WinnowStatus): void {
    this.shown = { status };
    this.repaint();
  }

  showClientPhase(phase: ClientPhase): void {
    this.shown = { phase };
    this.repaint();
  }

  /** Whether VS Code trusts the workspace (the tooltip says Restricted Mode when not). */
  setTrusted(trusted: boolean): void {
    this.trusted = trusted;
    this.repaint();
  }

  /** The model in use (its label), or undefined when not known. */
  setModel(model: string | undefined): void {
    this.model = model;
    this.repaint();
  }

  get currentModel(): string | undefined {
    return this.model;
  }

  /** The window's controls: paused (src/activity.ts `pausedView`), the active editor's language switched off. */
  setControls(paused: { readonly text: string; readonly tooltip: string } | undefined, languageOff: string | undefined): void {
    this.paused = paused;
    this.languageOff = languageOff;
    this.repaint();
  }

  private repaint(): void {
    const view =
      'status' in this.shown
        ? serverStatusView(this.shown.status, this.trusted, this.model)
        : clientPhaseView(this.shown.phase, this.trusted);
    this.paint(withControls(view, this.paused, this.languageOff));
  }

  private paint(view: StatusView): void {
    this.item.text = view.text;
    this.item.tooltip = view.tooltip;
    this.item.backgroundColor =
      view.kind === 'error'
        ? new vscode.ThemeColor('statusBarItem.errorBackground')
        : view.kind === 'warning'
          ? new vscode.ThemeColor('statusBarItem.warningBackground')
          : undefined;
  }

  dispose(): void {
    this.item.dispose();
  }
}
