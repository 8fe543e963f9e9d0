/**
 * The server's `$/progress`, shown by the extension itself. The language client would show
 * every server-initiated progress in the status bar (`ProgressLocation.Window`), where
 * VS Code offers no Cancel: a model download must be cancellable. So the extension answers
 * `window/workDoneProgress/create` itself: while a download the user started (Choose
 * Model…) runs, the server's cancellable progress (or one titled as a download) goes into
 * that download's notification, whose Cancel sends `window/workDoneProgress/cancel` for
 * each of them; any other cancellable progress gets a notification with Cancel of its own;
 * the rest (loading the models, mapping tests) shows in the status bar as before. A
 * `workDoneToken` the extension passes with the request is followed the same way.
 */
import * as vscode from 'vscode';
import {
  WorkDoneProgress,
  WorkDoneProgressCancelNotification,
  WorkDoneProgressCreateRequest,
  type LanguageClient,
  type ProgressToken,
  type WorkDoneProgressBegin,
  type WorkDoneProgressReport,
} from 'vscode-languageclient/node';

import { isDownloadProgress, progressIncrement } from './models';

type ProgressValue = WorkDoneProgressBegin | WorkDoneProgressReport | { kind: 'end'; message?: string };

interface Shown {
  readonly progress: vscode.Progress<{ message?: string; increment?: number }>;
  reported: number;
  readonly finish: () => void;
}

/** The notification of a download the user started, and the server tokens that report into it. */
interface DownloadSink {
  readonly progress: vscode.Progress<{ message?: string; increment?: number }>;
  reported: number;
  readonly tokens: Set<ProgressToken>;
  cancelled: boolean;
}

let tokenCounter = 0;

/** A begin's message and percentage, as a report. */
function asReport(begin: WorkDoneProgressBegin): WorkDoneProgressReport {
  return {
    kind: 'report',
    ...(begin.message ? { message: begin.message } : {}),
    ...(begin.percentage !== undefined ? { percentage: begin.percentage } : {}),
  };
}

export class ServerProgress implements vscode.Disposable {
  private readonly disposables: vscode.Disposable[] = [];
  private readonly shown = new Map<ProgressToken, Shown>();
  private sink: DownloadSink | undefined;

  constructor(private readonly client: LanguageClient) {}

  /** Take over `window/workDoneProgress/create` (call once the client has started). */
  install(): this {
    this.disposables.push(this.client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => this.follow(token)));
    return this;
  }

  private follow(token: ProgressToken, forDownload = false): void {
    const handler = this.client.onProgress(WorkDoneProgress.type, token, (value: ProgressValue) => {
      if (value.kind === 'begin') {
        this.begin(token, value, forDownload);
      } else if (value.kind === 'report') {
        this.report(token, value);
      } else {
        this.end(token);
        handler.dispose();
      }
    });
    this.disposables.push(handler);
  }

  private begin(token: ProgressToken, begin: WorkDoneProgressBegin, forDownload: boolean): void {
    const sink = this.sink;
    if (sink && (forDownload || isDownloadProgress(begin, true))) {
      sink.tokens.add(token);
      if (sink.cancelled) {
        this.cancelToken(token);
      }
      this.report(token, asReport(begin));
      return;
    }
    // The server's other cancellable progress (a download a model load started itself, with
    // winnow.allowDownload) gets a notification with Cancel too; the rest stays in the status bar.
    const cancellable = begin.cancellable === true;
    void vscode.window.withProgress(
      {
        location: cancellable ? vscode.ProgressLocation.Notification : vscode.ProgressLocation.Window,
        title: begin.title,
        cancellable,
      },
      (progress, cancellation) =>
        new Promise<void>((resolve) => {
          this.shown.set(token, { progress, reported: 0, finish: resolve });
          cancellation.onCancellationRequested(() => this.cancelToken(token));
          this.report(token, asReport(begin));
        }),
    );
  }

  private report(token: ProgressToken, report: WorkDoneProgressReport): void {
    const target = this.sink?.tokens.has(token) ? this.sink : this.shown.get(token);
    if (!target) {
      return;
    }
    const step = progressIncrement(target.reported, report.percentage);
    if (step) {
      target.reported = step.reported;
    }
    if (report.message || (step && step.increment > 0)) {
      target.progress.report({
        ...(report.message ? { message: report.message } : {}),
        ...(step && step.increment > 0 ? { increment: step.increment } : {}),
      });
    }
  }

  private end(token: ProgressToken): void {
    this.sink?.tokens.delete(token);
    const shown = this.shown.get(token);
    this.shown.delete(token);
    shown?.finish();
  }

  private cancelToken(token: ProgressToken): void {
    void this.client.sendNotification(WorkDoneProgressCancelNotification.type, { token });
  }

  /**
   * Run a download request under a cancellable notification titled `title`. `run` gets the
   * `workDoneToken` to pass with the request and a token that fires when the server did
   * not answer a Cancel in time (then the request itself is cancelled).
   */
  async withDownload<T>(
    title: string,
    run: (workDoneToken: string, cancelRequest: vscode.CancellationToken) => Promise<T>,
  ): Promise<{ readonly result: T; readonly cancelled: boolean }> {
    const workDoneToken = `winnow-client-download-${process.pid}-${++tokenCounter}`;
    const cancelRequest = new vscode.CancellationTokenSource();
    let giveUp: ReturnType<typeof setTimeout> | undefined;
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title, cancellable: true },
        async (progress, cancellation) => {
          const sink: DownloadSink = { progress, reported: 0, tokens: new Set([workDoneToken]), cancelled: false };
          this.sink = sink;
          this.follow(workDoneToken, true);
          cancellation.onCancellationRequested(() => {
            sink.cancelled = true;
            for (const token of sink.tokens) {
              this.cancelToken(token);
            }
            // A server that does not stop within 15 s: cancel the request itself.
            giveUp = setTimeout(() => cancelRequest.cancel(), 15_000);
          });
          try {
            const result = await run(workDoneToken, cancelRequest.token);
            return { result, cancelled: sink.cancelled };
          } finally {
            if (this.sink === sink) {
              this.sink = undefined;
            }
          }
        },
      );
    } finally {
      if (giveUp !== undefined) {
        clearTimeout(giveUp);
      }
      cancelRequest.dispose();
    }
  }

  dispose(): void {
    for (const shown of this.shown.values()) {
      shown.finish();
    }
    this.shown.clear();
    for (const disposable of this.disposables) {
      disposable.dispose();
    }
    this.disposables.length = 0;
  }
}
