/**
 * The status bar item: paints a StatusView (src/status.ts); a click shows stats.
 */
import * as vscode from 'vscode';

import { CLIENT_COMMANDS } from './constants';
import { clientPhaseView, serverStatusView, type ClientPhase, type StatusView, type WinnowStatus } from './status';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor() {
    this.item = vscode.window.createStatusBarItem('winnow.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'Winnow';
    this.item.command = CLIENT_COMMANDS.showStats;
    this.showClientPhase({ phase: 'starting' });
    this.item.show();
  }

  showServerStatus(status: WinnowStatus): void {
    this.paint(serverStatusView(status));
  }

  showClientPhase(phase: ClientPhase): void {
    this.paint(clientPhaseView(phase));
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
