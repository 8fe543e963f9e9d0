/**
 * Just enough of the `vscode` module to activate the bundled extension
 * (dist/extension.js) under plain node: settings, commands, output channel,
 * status bar, messages and configuration events are real fakes that the test
 * can read and drive; anything else resolves to an inert stand-in that can be
 * called, constructed or extended (the language client subclasses a few
 * VS Code classes when it loads).
 */
import Module from 'node:module';

type Listener<T> = (event: T) => unknown;

export class Disposable {
  constructor(private readonly onDispose?: () => unknown) {}
  static from(...disposables: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => disposables.forEach((d) => d.dispose()));
  }
  dispose(): void {
    this.onDispose?.();
  }
}

export class EventEmitter<T> {
  private listeners: Listener<T>[] = [];
  readonly event = (listener: Listener<T>): Disposable => {
    this.listeners.push(listener);
    return new Disposable(() => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    });
  };
  fire(event: T): void {
    for (const listener of [...this.listeners]) {
      listener(event);
    }
  }
  dispose(): void {
    this.listeners = [];
  }
}

const noEvent = (): Disposable => new Disposable();

/** A value that can be read, called, constructed and subclassed, and always gives another like it. */
function inert(): unknown {
  const target = function () {
    /* inert */
  };
  const handler: ProxyHandler<typeof target> = {
    get: (_target, key) => (key === 'then' || typeof key === 'symbol' ? undefined : key === 'prototype' ? {} : inert()),
    apply: () => inert(),
    construct: () => inert() as object,
  };
  return new Proxy(target, handler);
}

/** Known members as given; unknown ones inert. */
function withFallback<T extends object>(known: T): T {
  return new Proxy(known, {
    get: (target, key, receiver) => {
      if (key in target || typeof key === 'symbol' || key === 'then') {
        return Reflect.get(target, key, receiver) as unknown;
      }
      return inert();
    },
  });
}

export interface FakeMessage {
  readonly level: 'error' | 'warning' | 'information';
  readonly text: string;
  readonly items: readonly string[];
}

/** A `window.withProgress` call: its options, what it reported, and a way to press its Cancel. */
export interface FakeProgress {
  readonly title: string | undefined;
  readonly location: number;
  readonly cancellable: boolean;
  readonly reports: { message?: string; increment?: number }[];
  done: boolean;
  cancel(): void;
}

/** A `window.showQuickPick` call: its items and options; the test's `pick` chose the answer. */
export interface FakeQuickPick {
  readonly items: readonly Record<string, unknown>[];
  readonly options: Record<string, unknown> | undefined;
}

/** A `WorkspaceConfiguration.update` call. */
export interface FakeUpdate {
  readonly key: string;
  readonly value: unknown;
  readonly target: unknown;
}

export interface FakeVscode {
  /** The module object the extension gets from `require('vscode')`. */
  readonly module: unknown;
  /** `winnow.*` settings by key below `winnow.` (e.g. `diagnostics.threshold`). */
  readonly settings: Record<string, unknown>;
  readonly commands: Map<string, (...args: unknown[]) => unknown>;
  /** Every text the status bar item showed, in order. */
  readonly statusTexts: string[];
  /** Every tooltip the status bar item showed, in order. */
  readonly statusTooltips: string[];
  /** Every line written to an output channel. */
  readonly logLines: string[];
  readonly messages: FakeMessage[];
  /** Every `window.withProgress`, in order. */
  readonly progresses: FakeProgress[];
  /** Every `window.showQuickPick`, in order. */
  readonly quickPicks: FakeQuickPick[];
  /** Every `WorkspaceConfiguration.update`, in order (each also changes `settings` and fires the change event). */
  readonly updates: FakeUpdate[];
  /** Every `commands.executeCommand` of a VS Code command (not the extension's own), in order. */
  readonly executed: { readonly id: string; readonly args: unknown[] }[];
  /** Answers `window.showQuickPick` (default: nothing picked). */
  pick: (items: readonly Record<string, unknown>[]) => Record<string, unknown> | undefined;
  /** `winnow.*` settings for one language (`"[python]": {"winnow.enable": false}`), by key below `winnow.`. */
  readonly languageSettings: Record<string, Record<string, unknown>>;
  /** Set a language's `winnow.<key>` (`"[java]": {"winnow.enable": false}`) and fire the change. */
  changeLanguageSetting(languageId: string, key: string, value: unknown): void;
  /** Fire `workspace.onDidChangeConfiguration` for these full keys (e.g. `winnow.candidates`). */
  changeSettings(changes: Record<string, unknown>): void;
  /** Trust the workspace: `workspace.isTrusted` becomes true and `onDidGrantWorkspaceTrust` fires. */
  grantTrust(): void;
  /** Replace the workspace folders (paths on disk) and fire `onDidChangeWorkspaceFolders`. */
  setWorkspaceFolders(paths: readonly string[]): void;
}

export interface FakeWorkspace {
  /** `workspace.isTrusted` (default true: VS Code with trust off, or a trusted folder). */
  readonly trusted?: boolean;
  /** The workspace folders, as paths on disk (default: none open). */
  readonly folders?: readonly string[];
}

/** A `file:` Uri, as far as the extension and the language client read one. */
function fileUri(fsPath: string): Record<string, unknown> {
  return {
    scheme: 'file',
    authority: '',
    path: fsPath,
    fsPath,
    query: '',
    fragment: '',
    toString: () => `file://${fsPath.split('/').map(encodeURIComponent).join('/')}`,
  };
}

export function createFakeVscode(settings: Record<string, unknown>, workspaceState: FakeWorkspace = {}): FakeVscode {
  const commands = new Map<string, (...args: unknown[]) => unknown>();
  const statusTexts: string[] = [];
  const statusTooltips: string[] = [];
  let trusted = workspaceState.trusted ?? true;
  const folderObjects = (paths: readonly string[]) =>
    paths.map((fsPath, index) => ({ uri: fileUri(fsPath), name: fsPath.split('/').pop() ?? fsPath, index }));
  let folders = workspaceState.folders === undefined ? undefined : folderObjects(workspaceState.folders);
  const trustGranted = new EventEmitter<void>();
  const foldersChanged = new EventEmitter<{ added: unknown[]; removed: unknown[] }>();
  const logLines: string[] = [];
  const messages: FakeMessage[] = [];
  const progresses: FakeProgress[] = [];
  const quickPicks: FakeQuickPick[] = [];
  const updates: FakeUpdate[] = [];
  const executed: { readonly id: string; readonly args: unknown[] }[] = [];
  const languageSettings: Record<string, Record<string, unknown>> = {};
  const configurationChanged = new EventEmitter<{ affectsConfiguration(section: string): boolean }>();

  const outputChannel = (name: string) => {
    const channel: Record<string, unknown> = {
      name,
      logLevel: 3, // Info: the client traces nothing unless this is Trace.
      onDidChangeLogLevel: noEvent,
      show: () => undefined,
      hide: () => undefined,
      clear: () => undefined,
      replace: () => undefined,
      dispose: () => undefined,
    };
    for (const method of ['trace', 'debug', 'info', 'warn', 'error', 'append', 'appendLine']) {
      channel[method] = (...args: unknown[]) => {
        logLines.push(`[${method}] ${args.map((arg) => (arg instanceof Error ? arg.message : String(arg))).join(' ')}`);
      };
    }
    return channel;
  };

  const statusBarItem = () => {
    const item: Record<string, unknown> = { show: () => undefined, hide: () => undefined, dispose: () => undefined };
    return new Proxy(item, {
      set: (target, key, value) => {
        target[key as string] = value;
        if (key === 'text') {
          statusTexts.push(String(value));
        }
        if (key === 'tooltip') {
          statusTooltips.push(String(value));
        }
        return true;
      },
    });
  };

  const message =
    (level: FakeMessage['level']) =>
    (text: string, ...items: unknown[]): Promise<undefined> => {
      messages.push({ level, text, items: items.filter((item): item is string => typeof item === 'string') });
      return Promise.resolve(undefined);
    };

  const fireChange = (keys: readonly string[]) =>
    configurationChanged.fire({
      affectsConfiguration: (section: string) => keys.some((key) => key === section || key.startsWith(`${section}.`)),
    });

  const getConfiguration = (section?: string, scope?: { languageId?: string } | null) => {
    const language = scope && typeof scope === 'object' && 'languageId' in scope ? languageSettings[scope.languageId ?? ''] : undefined;
    const lookup = (key: string): { found: boolean; value?: unknown } =>
      section !== 'winnow'
        ? { found: false }
        : language && key in language
          ? { found: true, value: language[key] }
          : key in settings
            ? { found: true, value: settings[key] }
            : { found: false };
    return {
      get: (key: string, defaultValue?: unknown): unknown => {
        const found = lookup(key);
        return found.found ? found.value : defaultValue;
      },
      has: (key: string) => lookup(key).found,
      inspect: (key: string) =>
        section === 'winnow' && key in settings ? { key, globalValue: settings[key] } : { key },
      update: (key: string, value: unknown, target: unknown) => {
        updates.push({ key, value, target });
        settings[key] = value;
        fireChange([`winnow.${key}`]);
        return Promise.resolve();
      },
    };
  };

  class CancellationTokenSource {
    private readonly state = { cancelled: false };
    private readonly emitter = new EventEmitter<void>();
    readonly token: { readonly isCancellationRequested: boolean; onCancellationRequested: EventEmitter<void>['event'] };
    constructor() {
      const state = this.state;
      this.token = {
        get isCancellationRequested(): boolean {
          return state.cancelled;
        },
        onCancellationRequested: this.emitter.event,
      };
    }
    cancel(): void {
      if (!this.state.cancelled) {
        this.state.cancelled = true;
        this.emitter.fire();
      }
    }
    dispose(): void {
      this.emitter.dispose();
    }
  }

  const withProgress = async (
    options: { title?: string; location: number; cancellable?: boolean },
    task: (progress: { report(value: { message?: string; increment?: number }): void }, token: unknown) => Promise<unknown>,
  ): Promise<unknown> => {
    const cancellation = new CancellationTokenSource();
    const record: FakeProgress = {
      title: options.title,
      location: options.location,
      cancellable: options.cancellable === true,
      reports: [],
      done: false,
      cancel: () => cancellation.cancel(),
    };
    progresses.push(record);
    try {
      return await task({ report: (value) => record.reports.push(value) }, cancellation.token);
    } finally {
      record.done = true;
    }
  };

  const vscodeModule = withFallback({
    version: '1.91.0',
    Disposable,
    EventEmitter,
    LogLevel: { Off: 0, Trace: 1, Debug: 2, Info: 3, Warning: 4, Error: 5 },
    StatusBarAlignment: { Left: 1, Right: 2 },
    ProgressLocation: { SourceControl: 1, Window: 10, Notification: 15 },
    QuickPickItemKind: { Separator: -1, Default: 0 },
    ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
    InlineCompletionTriggerKind: { Invoke: 0, Automatic: 1 },
    CancellationTokenSource,
    ThemeColor: class {
      constructor(readonly id: string) {}
    },
    env: withFallback({
      language: 'en',
      appName: 'fake-vscode',
      machineId: 'test',
      sessionId: 'test',
      clipboard: { writeText: () => Promise.resolve(), readText: () => Promise.resolve('') },
    }),
    window: withFallback({
      createOutputChannel: outputChannel,
      createStatusBarItem: statusBarItem,
      showErrorMessage: message('error'),
      showWarningMessage: message('warning'),
      showInformationMessage: message('information'),
      withProgress,
      showQuickPick: async (items: unknown, options?: Record<string, unknown>) => {
        const resolved = (await Promise.resolve(items)) as Record<string, unknown>[];
        quickPicks.push({ items: resolved, options });
        return fake.pick(resolved);
      },
      activeTextEditor: undefined,
      visibleTextEditors: [],
      onDidChangeActiveTextEditor: noEvent,
      onDidChangeVisibleTextEditors: noEvent,
      tabGroups: { all: [], onDidChangeTabs: noEvent, onDidChangeTabGroups: noEvent },
    }),
    workspace: withFallback({
      getConfiguration,
      get isTrusted() {
        return trusted;
      },
      get workspaceFolders() {
        return folders;
      },
      onDidGrantWorkspaceTrust: trustGranted.event,
      textDocuments: [],
      notebookDocuments: [],
      onDidChangeConfiguration: configurationChanged.event,
      onDidOpenTextDocument: noEvent,
      onDidCloseTextDocument: noEvent,
      onDidChangeTextDocument: noEvent,
      onDidSaveTextDocument: noEvent,
      onWillSaveTextDocument: noEvent,
      onDidChangeWorkspaceFolders: foldersChanged.event,
      onDidOpenNotebookDocument: noEvent,
      onDidCloseNotebookDocument: noEvent,
      onDidChangeNotebookDocument: noEvent,
      onDidSaveNotebookDocument: noEvent,
      onDidCreateFiles: noEvent,
      onDidRenameFiles: noEvent,
      onDidDeleteFiles: noEvent,
      onWillCreateFiles: noEvent,
      onWillRenameFiles: noEvent,
      onWillDeleteFiles: noEvent,
    }),
    languages: withFallback({ match: () => 0 }),
    commands: withFallback({
      registerCommand: (id: string, callback: (...args: unknown[]) => unknown) => {
        if (commands.has(id)) {
          throw new Error(`command '${id}' already exists`);
        }
        commands.set(id, callback);
        return new Disposable(() => commands.delete(id));
      },
      executeCommand: async (id: string, ...args: unknown[]) => {
        const own = commands.get(id);
        if (own) {
          return await own(...args);
        }
        executed.push({ id, args });
        return undefined;
      },
    }),
    extensions: withFallback({ getExtension: () => undefined }),
  });

  const fake: FakeVscode = {
    module: vscodeModule,
    settings,
    commands,
    statusTexts,
    statusTooltips,
    logLines,
    messages,
    progresses,
    quickPicks,
    updates,
    executed,
    languageSettings,
    pick: () => undefined,
    changeLanguageSetting(languageId, key, value) {
      languageSettings[languageId] = { ...languageSettings[languageId], [key]: value };
      fireChange([`winnow.${key}`]);
    },
    changeSettings(changes) {
      for (const [key, value] of Object.entries(changes)) {
        settings[key.replace(/^winnow\./, '')] = value;
      }
      fireChange(Object.keys(changes));
    },
    grantTrust() {
      trusted = true;
      trustGranted.fire();
    },
    setWorkspaceFolders(paths) {
      const removed = folders ?? [];
      folders = folderObjects(paths);
      foldersChanged.fire({ added: folders, removed });
    },
  };
  return fake;
}

/** Make `require('vscode')` return `fake.module` from now on. Returns a function that undoes it. */
export function installFakeVscode(fake: FakeVscode): () => void {
  const moduleInternals = Module as unknown as {
    _resolveFilename: (request: string, ...rest: unknown[]) => string;
    _cache: Record<string, unknown>;
  };
  const originalResolve = moduleInternals._resolveFilename;
  moduleInternals._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
    return request === 'vscode' ? 'vscode' : originalResolve.call(this, request, ...rest);
  };
  moduleInternals._cache['vscode'] = { id: 'vscode', filename: 'vscode', loaded: true, exports: fake.module };
  return () => {
    moduleInternals._resolveFilename = originalResolve;
    delete moduleInternals._cache['vscode'];
  };
}
