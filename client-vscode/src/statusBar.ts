/**
 * The status bar item: paints a StatusView (src/status.ts); a click shows stats.
 */
import * as vscode from 'vscode';

import { CLIENT_COMMANDS } from './constants';
import { clientPhaseView, serverStatusView, type ClientPhase, type StatusView, type WinnowStatus } from './status';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  /** What is shown, so that a change of workspace trust can repaint it. */
  private shown: { readonly status: WinnowStatus } | { readonly phase: ClientPhase } = { phase: { phase: 'starting' } };
  private trusted: boolean;

  constructor(trusted: boolean) {
    this.trusted = trusted;
    this.item = vscode.window.createStatusBarItem('winnow.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Winnow';
    this.item.command = CLIENT_COMMANDS.showStats;
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

  private repaint(): void {
    this.paint(
      'status' in this.shown
        ? serverStatusView(this.shown.status, this.trusted)
        : clientPhaseView(this.shown.phase, this.trusted),
    );
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
