/**
 * The language client's middleware that applies the window's controls to each document:
 * inline completion (paused, language off, manual trigger), hints (paused, language off),
 * code actions and hovers (language off). The decisions are src/activity.ts's.
 */
import * as vscode from 'vscode';
import type { LanguageClient, Middleware } from 'vscode-languageclient/node';

import { offersActions, offersInline, showsHints } from './activity';
import type { DocumentRef, WindowControls } from './controls';

/** The document a diagnostics URI names (its language from the open document, else the file's extension). */
function documentOf(uri: vscode.Uri): DocumentRef {
  const open = vscode.workspace.textDocuments.find((document) => document.uri.toString() === uri.toString());
  if (open) {
    return open;
  }
  const languageId = /\.java$/i.test(uri.path) ? 'java' : /\.pyi?$/i.test(uri.path) ? 'python' : '';
  return { languageId, uri };
}

/**
 * The server's hints as it published them, so that a change of the controls can show or
 * hide them again without asking the server.
 */
export class HintStore {
  private readonly published = new Map<string, { uri: vscode.Uri; diagnostics: vscode.Diagnostic[] }>();

  constructor(private readonly controls: WindowControls) {}

  /** `handleDiagnostics`: keep what the server sent, pass on what the controls allow. */
  readonly middleware: NonNullable<Middleware['handleDiagnostics']> = (uri, diagnostics, next) => {
    this.published.set(uri.toString(), { uri, diagnostics });
    next(uri, showsHints(this.controls.gate(documentOf(uri))) ? diagnostics : []);
  };

  /** Show or hide the hints kept, as the controls now say (after Toggle, Snooze, `winnow.enable`). */
  reapply(client: LanguageClient | undefined): void {
    const collection = client?.diagnostics;
    if (!collection) {
      return;
    }
    for (const { uri, diagnostics } of this.published.values()) {
      collection.set(uri, showsHints(this.controls.gate(documentOf(uri))) ? diagnostics : []);
    }
  }

  clear(): void {
    this.published.clear();
  }
}

export function controlsMiddleware(controls: WindowControls, hints: HintStore): Middleware {
  return {
    provideInlineCompletionItems: (document, position, context, token, next) => {
      const allowed = offersInline({
        ...controls.gate(document),
        trigger: controls.trigger(document),
        triggerKind: context.triggerKind,
      });
      return allowed ? next(document, position, context, token) : null;
    },
    handleDiagnostics: hints.middleware,
    provideCodeActions: (document, range, context, token, next) =>
      offersActions(controls.gate(document)) ? next(document, range, context, token) : [],
    provideHover: (document, position, token, next) =>
      offersActions(controls.gate(document)) ? next(document, position, token) : null,
  };
}
