/**
 * The status bar's words: parsing the server's `winnow/status` notification and
 * turning it (or the client's own phase) into text and tooltip. Pure: no
 * `vscode` import; src/statusBar.ts paints the result.
 */

export const SERVER_STATES = ['loading', 'ready', 'generating', 'error'] as const;
export type ServerState = (typeof SERVER_STATES)[number];

/** The `winnow/status` notification's params (docs/settings.md). */
export interface WinnowStatus {
  readonly state: ServerState;
  readonly message: string;
  readonly lastLatencyMs: number | null;
  readonly judge: boolean;
  /** Whether the workspace's code runs (hints, examples, tests); null: not checked yet. */
  readonly runsCode: boolean | null;
  /** Why not, or under what sandbox it runs (e.g. "runs your code under bwrap (…)"); may be empty. */
  readonly codeNote: string;
  /** The loaded generator's name, where the server sends it; null otherwise. */
  readonly model: string | null;
}

/** What the client knows before (or instead of) the server's own status. */
export type ClientPhase =
  | { readonly phase: 'starting'; readonly python?: string }
  | { readonly phase: 'running'; readonly python?: string }
  | { readonly phase: 'stopped'; readonly message?: string }
  | { readonly phase: 'failed'; readonly message: string };

export type StatusKind = 'normal' | 'busy' | 'warning' | 'error';

export interface StatusView {
  readonly text: string;
  readonly tooltip: string;
  readonly kind: StatusKind;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Validate a `winnow/status` payload; undefined when it has no known `state`. */
export function parseStatus(params: unknown): WinnowStatus | undefined {
  if (!isRecord(params)) {
    return undefined;
  }
  const state = params['state'];
  if (typeof state !== 'string' || !(SERVER_STATES as readonly string[]).includes(state)) {
    return undefined;
  }
  const message = params['message'];
  const latency = params['lastLatencyMs'];
  const judge = params['judge'];
  const runsCode = params['runsCode'];
  const codeNote = params['codeNote'];
  const model = params['model'];
  return {
    state: state as ServerState,
    message: typeof message === 'string' ? message : '',
    lastLatencyMs: typeof latency === 'number' && Number.isFinite(latency) && latency >= 0 ? latency : null,
    judge: judge === true,
    runsCode: typeof runsCode === 'boolean' ? runsCode : null,
    codeNote: typeof codeNote === 'string' ? codeNote.trim() : '',
    model: typeof model === 'string' && model.trim() ? model.trim() : null,
  };
}

/** `312 ms`, `1.4 s`, `12 s`. */
export function formatLatency(ms: number): string {
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const seconds = ms / 1000;
  return seconds < 10 ? `${seconds.toFixed(1)} s` : `${Math.round(seconds)} s`;
}

/** The tooltip's last line. */
export const CLICK_HINT = 'Click for the Winnow menu: Toggle, Snooze, Choose Model…, Show Stats, Reload Models.';

/** The tooltip's line in Restricted Mode (`vscode.workspace.isTrusted` false). */
export const RESTRICTED_MODE_NOTE =
  "Restricted Mode: Winnow runs none of this workspace's code; trust the workspace to turn hints on.";

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/**
 * The tooltip's lines on running the workspace's code: Restricted Mode first when the
 * workspace is untrusted; then what the server said (`runsCode`, `codeNote`). In Restricted
 * Mode the server's "off" is the extension's own doing (it sends `diagnostics.runCode:
 * false`), so only a server that still says it runs code is shown there.
 */
export function codeLines(status: Pick<WinnowStatus, 'runsCode' | 'codeNote'> | undefined, trusted: boolean): string[] {
  const lines = trusted ? [] : [RESTRICTED_MODE_NOTE];
  const note = status?.codeNote.replace(/[\s.]+$/, '') ?? '';
  if (status?.runsCode === true) {
    lines.push(note ? `${capitalized(note)}.` : 'Runs your code in the sandbox.');
  } else if (status?.runsCode === false && trusted) {
    lines.push(note ? `Runs none of your code: ${note}.` : 'Runs none of your code.');
  }
  return lines;
}

/**
 * Status bar text for a server status. Codicons: `$(name)`, `~spin` animates. `trusted`:
 * whether VS Code trusts the workspace (false: Restricted Mode, said in the tooltip).
 */
export function serverStatusView(status: WinnowStatus, trusted = true, model?: string): StatusView {
  const judgeText = status.judge ? 'judge on' : 'judge off';
  const latency = status.lastLatencyMs === null ? undefined : formatLatency(status.lastLatencyMs);
  const parts: string[] = [];
  let icon: string;
  let kind: StatusKind;
  switch (status.state) {
    case 'loading':
      icon = '$(sync~spin)';
      kind = 'busy';
      parts.push('Winnow: loading');
      break;
    case 'generating':
      icon = '$(loading~spin)';
      kind = 'busy';
      parts.push('Winnow: generating');
      break;
    case 'ready':
      icon = '$(check)';
      kind = 'normal';
      parts.push('Winnow');
      if (model) {
        parts.push(model);
      }
      if (latency !== undefined) {
        parts.push(latency);
      }
      break;
    case 'error':
      icon = '$(error)';
      kind = 'error';
      parts.push('Winnow: error');
      break;
  }
  if (status.state !== 'error') {
    parts.push(judgeText);
  }
  const tooltip = [
    `Winnow: ${status.state}${status.message ? ` — ${status.message}` : ''}`,
    ...(model ? [`Model: ${model}`] : []),
    `Last latency: ${latency ?? 'none yet'}`,
    status.judge ? 'Judge: on (candidates ranked by the judge)' : 'Judge: off (candidates ranked by log-prob)',
    ...codeLines(status, trusted),
    CLICK_HINT,
  ].join('\n');
  return { text: `${icon} ${parts.join(' · ')}`, tooltip, kind };
}

/** Status bar text while the client itself is starting, stopped or failed. */
export function clientPhaseView(phase: ClientPhase, trusted = true): StatusView {
  switch (phase.phase) {
    case 'starting':
      return {
        text: '$(sync~spin) Winnow: starting',
        tooltip: [
          `Starting the Winnow server${phase.python ? ` with ${phase.python}` : ''}.`,
          ...codeLines(undefined, trusted),
          CLICK_HINT,
        ].join('\n'),
        kind: 'busy',
      };
    case 'running':
      return {
        text: '$(check) Winnow',
        tooltip: [
          `The Winnow server is running${phase.python ? ` with ${phase.python}` : ''}; it has not reported its status yet.`,
          ...codeLines(undefined, trusted),
          CLICK_HINT,
        ].join('\n'),
        kind: 'normal',
      };
    case 'stopped':
      return {
        text: '$(circle-slash) Winnow: stopped',
        tooltip: `${phase.message ?? 'The Winnow server is not running.'}\nRun "Winnow: Restart Server" to start it.`,
        kind: 'warning',
      };
    case 'failed':
      return {
        text: '$(error) Winnow: not running',
        tooltip: `${phase.message}\nRun "Winnow: Restart Server" after fixing it.`,
        kind: 'error',
      };
  }
}

/**
 * The view while the window is paused (Toggle, Snooze: src/activity.ts `pausedView`) or
 * the active editor's language is switched off (`winnow.enable`): their words first, the
 * server's state still in the tooltip; an error stays red.
 */
export function withControls(
  view: StatusView,
  paused: { readonly text: string; readonly tooltip: string } | undefined,
  languageOff?: string,
): StatusView {
  if (paused) {
    return {
      text: paused.text,
      tooltip: `${paused.tooltip}\n${view.tooltip}`,
      kind: view.kind === 'error' ? 'error' : 'normal',
    };
  }
  if (languageOff) {
    return {
      text: `$(circle-slash) Winnow: off for ${languageOff}`,
      tooltip: `Off for ${languageOff} files (winnow.enable is false for this language).\n${view.tooltip}`,
      kind: view.kind === 'error' ? 'error' : 'normal',
    };
  }
  return view;
}
