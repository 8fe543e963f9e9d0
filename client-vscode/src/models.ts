/**
 * Choose Model…: the server's `winnow.models.list` answer as quick pick entries, the
 * `winnow.models.download` answer, the download's progress, and the name of the model in
 * use for the status bar. Pure: no `vscode` import; src/modelPicker.ts shows the pick.
 */

export const MODEL_KINDS = ['embedded', 'local', 'hub'] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** One entry of `winnow.models.list`'s `options`. */
export interface ModelOption {
  /** What `winnow.generatorModel` takes: `default`, a `.gguf` path, `hf:OWNER/REPO/FILE.gguf`. */
  readonly spec: string;
  readonly label: string;
  readonly detail: string;
  readonly sizeBytes: number | null;
  readonly onDisk: boolean;
  readonly kind: ModelKind;
}

export interface ModelList {
  /** The spec of the model in use. */
  readonly current: string;
  readonly options: readonly ModelOption[];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseOption(value: unknown): ModelOption | undefined {
  if (!isRecord(value) || typeof value['spec'] !== 'string' || value['spec'].trim() === '') {
    return undefined;
  }
  const kind = value['kind'];
  const size = value['sizeBytes'];
  const spec = value['spec'];
  return {
    spec,
    label: typeof value['label'] === 'string' && value['label'].trim() ? value['label'] : spec,
    detail: typeof value['detail'] === 'string' ? value['detail'] : '',
    sizeBytes: typeof size === 'number' && Number.isFinite(size) && size >= 0 ? size : null,
    onDisk: value['onDisk'] === true,
    kind: typeof kind === 'string' && (MODEL_KINDS as readonly string[]).includes(kind) ? (kind as ModelKind) : 'local',
  };
}

/** Validate `winnow.models.list`'s answer; undefined when it is not one. Bad options are dropped. */
export function parseModelList(value: unknown): ModelList | undefined {
  if (!isRecord(value) || !Array.isArray(value['options'])) {
    return undefined;
  }
  const current = value['current'];
  const currentSpec =
    typeof current === 'string' ? current : isRecord(current) && typeof current['spec'] === 'string' ? current['spec'] : '';
  const options = value['options'].map(parseOption).filter((option): option is ModelOption => option !== undefined);
  return { current: currentSpec, options };
}

/** `145 MB`, `1.1 GB`, `512 B`: powers of 1000, as the hub and the server's progress messages write sizes. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let size = bytes;
  let unit = 0;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  if (unit === 0) {
    return `${bytes} B`;
  }
  return `${size < 10 ? size.toFixed(1) : Math.round(size)} ${units[unit]}`;
}

/** Whether picking this option downloads it first. */
export function needsDownload(option: Pick<ModelOption, 'kind' | 'onDisk'>): boolean {
  return option.kind === 'hub' && !option.onDisk;
}

/** `hf:OWNER/REPO/FILE.gguf` (a file may sit in a folder of the repository). */
export function isHubSpec(text: string): boolean {
  return /^hf:[^/\s]+\/[^/\s]+\/\S+\.gguf$/i.test(text.trim());
}

/** The input box's check of a typed hub spec: undefined when fine, else what is wrong. */
export function hubSpecProblem(text: string): string | undefined {
  return isHubSpec(text) ? undefined : 'A model on the Hugging Face Hub: hf:OWNER/REPO/FILE.gguf';
}

/** What an entry of the pick does. */
export type ModelPickAction =
  | { readonly kind: 'option'; readonly option: ModelOption }
  | { readonly kind: 'browse' }
  | { readonly kind: 'hubSpec' };

export type ModelPickEntry =
  | { readonly separator: true; readonly label: string }
  | {
      readonly separator: false;
      readonly label: string;
      readonly description: string;
      readonly detail?: string;
      readonly action: ModelPickAction;
    };

const GROUPS: readonly { readonly label: string; readonly accepts: (option: ModelOption) => boolean }[] = [
  { label: 'Embedded', accepts: (option) => option.kind === 'embedded' },
  { label: 'On disk', accepts: (option) => option.kind !== 'embedded' && !needsDownload(option) },
  { label: 'Download (Hugging Face Hub)', accepts: needsDownload },
];

/** `current · 138 MB · on disk` */
function describeOption(option: ModelOption, current: string): string {
  const parts: string[] = [];
  if (option.spec === current) {
    parts.push('in use');
  }
  if (option.sizeBytes !== null) {
    parts.push(formatBytes(option.sizeBytes));
  }
  parts.push(option.kind === 'embedded' ? 'ships with Winnow' : needsDownload(option) ? 'downloads first' : 'on disk');
  return parts.join(' · ');
}

/**
 * The quick pick's entries: the options grouped (embedded, on disk, to download), the one
 * in use first in its group and marked, then "a .gguf file…" and "a Hugging Face model…".
 */
export function modelPickEntries(list: ModelList): ModelPickEntry[] {
  const entries: ModelPickEntry[] = [];
  for (const group of GROUPS) {
    const options = list.options.filter(group.accepts);
    if (options.length === 0) {
      continue;
    }
    options.sort((a, b) => Number(b.spec === list.current) - Number(a.spec === list.current));
    entries.push({ separator: true, label: group.label });
    for (const option of options) {
      entries.push({
        separator: false,
        label: `${option.spec === list.current ? '$(check)' : '$(circle-large-outline)'} ${option.label}`,
        description: describeOption(option, list.current),
        ...(option.detail ? { detail: option.detail } : {}),
        action: { kind: 'option', option },
      });
    }
  }
  entries.push(
    { separator: true, label: 'Other' },
    {
      separator: false,
      label: '$(file) A .gguf file on disk…',
      description: 'browse',
      action: { kind: 'browse' },
    },
    {
      separator: false,
      label: '$(cloud-download) A model on the Hugging Face Hub…',
      description: 'hf:OWNER/REPO/FILE.gguf',
      action: { kind: 'hubSpec' },
    },
  );
  return entries;
}

/** The model in use, for the status bar: the option's label, else the spec's file name. */
export function currentModelLabel(list: ModelList): string | undefined {
  if (!list.current) {
    return undefined;
  }
  const option = list.options.find((candidate) => candidate.spec === list.current);
  return option?.label ?? specName(list.current);
}

/** `qwen2.5-coder-1.5b-instruct-q4_k_m` for `hf:…/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`; `default` stays. */
export function specName(spec: string): string {
  const base = spec.split(/[/\\]/).pop() ?? spec;
  return base.replace(/\.gguf$/i, '') || spec;
}

/** `winnow.models.download`'s answer. */
export interface DownloadResult {
  readonly spec: string;
  readonly path: string | null;
  readonly cancelled: boolean;
  readonly error: string | null;
}

export function parseDownloadResult(value: unknown, requested: string): DownloadResult {
  if (!isRecord(value)) {
    return { spec: requested, path: null, cancelled: false, error: `unexpected answer ${JSON.stringify(value)}` };
  }
  const error = value['error'];
  const path = value['path'];
  return {
    spec: typeof value['spec'] === 'string' && value['spec'] ? value['spec'] : requested,
    path: typeof path === 'string' && path ? path : null,
    cancelled: value['cancelled'] === true,
    error: typeof error === 'string' && error ? error : null,
  };
}

/**
 * The name of the model in a `winnow/status` "ready" message (`SmolLM2 135M ready`,
 * `… ready (no judge)`, as the server says once the models loaded); undefined for the
 * plain "ready" that follows a request, or any other message.
 */
export function modelFromStatusMessage(message: string): string | undefined {
  const match = /^(.+?) ready(?: \(no judge\))?$/.exec(message.trim());
  return match?.[1];
}

/**
 * What a `winnow/status` says about the model for the status bar: null to clear it (the
 * models are loading, or failed), a name to show, undefined to keep what is shown. Where
 * the server has `winnow.models.list`, its label decides (asked once the models are
 * ready); otherwise the status's `model` field, else the name in its "… ready" message.
 */
export function statusModelName(
  status: { readonly state: string; readonly message: string; readonly model?: string | null },
  hasModelList: boolean,
): string | null | undefined {
  if (status.state === 'loading' || status.state === 'error') {
    return null;
  }
  if (hasModelList) {
    return undefined;
  }
  if (status.model) {
    return status.model;
  }
  return status.state === 'ready' ? modelFromStatusMessage(status.message) : undefined;
}

/** A `$/progress` percentage as VS Code's `increment` (VS Code adds them up). */
export function progressIncrement(reported: number, percentage: unknown): { increment: number; reported: number } | undefined {
  if (typeof percentage !== 'number' || !Number.isFinite(percentage)) {
    return undefined;
  }
  const clamped = Math.max(0, Math.min(100, percentage));
  const increment = Math.max(0, clamped - reported);
  return { increment, reported: reported + increment };
}

/**
 * Whether a server progress (its `begin`) belongs to the download the user started: the
 * server's own cancellable progress, or one whose title says it downloads, while a
 * download is waited for.
 */
export function isDownloadProgress(begin: { readonly title?: unknown; readonly cancellable?: unknown }, downloading: boolean): boolean {
  if (!downloading) {
    return false;
  }
  return begin.cancellable === true || (typeof begin.title === 'string' && /download/i.test(begin.title));
}
