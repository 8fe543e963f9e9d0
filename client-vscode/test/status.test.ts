import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { pausedView, snoozed } from '../src/activity';
import {
  CLICK_HINT,
  RESTRICTED_MODE_NOTE,
  clientPhaseView,
  formatLatency,
  parseStatus,
  serverStatusView,
  withControls,
  type WinnowStatus,
} from '../src/status';

const status = (overrides: Partial<WinnowStatus>): WinnowStatus => ({
  state: 'ready',
  message: '',
  lastLatencyMs: null,
  judge: true,
  runsCode: null,
  codeNote: '',
  model: null,
  ...overrides,
});

const BWRAP_NOTE = 'runs your code under bwrap (your files read-only, no network)';
const RESTRICTED =
  "Restricted Mode: Winnow runs none of this workspace's code; trust the workspace to turn hints on";

describe('parseStatus', () => {
  test('accepts the documented payload', () => {
    assert.deepEqual(
      parseStatus({
        state: 'ready',
        message: 'models loaded',
        lastLatencyMs: 412.5,
        judge: true,
        runsCode: true,
        codeNote: BWRAP_NOTE,
        model: ' SmolLM2 135M ',
      }),
      {
        state: 'ready',
        message: 'models loaded',
        lastLatencyMs: 412.5,
        judge: true,
        runsCode: true,
        codeNote: BWRAP_NOTE,
        model: 'SmolLM2 135M',
      },
    );
    assert.deepEqual(parseStatus({ state: 'ready', runsCode: false, codeNote: 'running your code is off' }), {
      state: 'ready',
      message: '',
      lastLatencyMs: null,
      judge: false,
      runsCode: false,
      codeNote: 'running your code is off',
      model: null,
    });
  });

  test('fills in missing or odd optional fields', () => {
    assert.deepEqual(parseStatus({ state: 'loading' }), {
      state: 'loading',
      message: '',
      lastLatencyMs: null,
      judge: false,
      runsCode: null,
      codeNote: '',
      model: null,
    });
    assert.deepEqual(
      parseStatus({ state: 'generating', message: 3, lastLatencyMs: -1, judge: 'yes', runsCode: 'no', codeNote: 7, model: 5 }),
      { state: 'generating', message: '', lastLatencyMs: null, judge: false, runsCode: null, codeNote: '', model: null },
    );
    // An older server without the fields, and runsCode null (not checked yet), read the same.
    assert.equal(parseStatus({ state: 'ready', runsCode: null })?.runsCode, null);
  });

  test('rejects payloads without a known state', () => {
    for (const bad of [undefined, null, 'ready', [], {}, { state: 'sleeping' }, { state: 1 }]) {
      assert.equal(parseStatus(bad), undefined, JSON.stringify(bad));
    }
  });
});

describe('status bar text', () => {
  test('loading spins and says so', () => {
    const view = serverStatusView(status({ state: 'loading', message: 'loading SmolLM2', judge: false }));
    assert.equal(view.text, '$(sync~spin) Winnow: loading · judge off');
    assert.equal(view.kind, 'busy');
    assert.match(view.tooltip, /loading SmolLM2/);
  });

  test('ready shows the last latency and the judge', () => {
    const view = serverStatusView(status({ state: 'ready', lastLatencyMs: 312.4, judge: true }));
    assert.equal(view.text, '$(check) Winnow · 312 ms · judge on');
    assert.equal(view.kind, 'normal');
    assert.match(view.tooltip, /Last latency: 312 ms/);
    assert.match(view.tooltip, /Judge: on/);
    assert.match(view.tooltip, /Click for the Winnow menu: Toggle, Snooze, Choose Model…, Show Stats, Reload Models\./);
  });

  test('ready with the model in use: its name in the text and the tooltip', () => {
    const view = serverStatusView(status({ state: 'ready', lastLatencyMs: 312.4 }), true, 'Qwen2.5 Coder 1.5B');
    assert.equal(view.text, '$(check) Winnow · Qwen2.5 Coder 1.5B · 312 ms · judge on');
    assert.match(view.tooltip, /^Model: Qwen2\.5 Coder 1\.5B$/m);
    assert.equal(serverStatusView(status({ state: 'loading' }), true, 'X').text, '$(sync~spin) Winnow: loading · judge on');
  });

  test('ready without a latency yet', () => {
    const view = serverStatusView(status({ state: 'ready', judge: false }));
    assert.equal(view.text, '$(check) Winnow · judge off');
    assert.match(view.tooltip, /Last latency: none yet/);
    assert.match(view.tooltip, /Judge: off \(candidates ranked by log-prob\)/);
  });

  test('generating', () => {
    assert.equal(serverStatusView(status({ state: 'generating' })).text, '$(loading~spin) Winnow: generating · judge on');
  });

  test('error is red and carries the message', () => {
    const view = serverStatusView(status({ state: 'error', message: 'model file not found' }));
    assert.equal(view.text, '$(error) Winnow: error');
    assert.equal(view.kind, 'error');
    assert.match(view.tooltip, /model file not found/);
  });

  test('client phases', () => {
    assert.equal(clientPhaseView({ phase: 'starting' }).text, '$(sync~spin) Winnow: starting');
    assert.match(clientPhaseView({ phase: 'starting', python: '/venv/bin/python' }).tooltip, /\/venv\/bin\/python/);
    assert.equal(clientPhaseView({ phase: 'running' }).kind, 'normal');
    assert.equal(clientPhaseView({ phase: 'stopped' }).kind, 'warning');
    const failed = clientPhaseView({ phase: 'failed', message: 'cannot import winnow.server' });
    assert.equal(failed.kind, 'error');
    assert.match(failed.tooltip, /cannot import winnow\.server/);
  });
});

describe('the tooltip says whether Winnow runs your code, and why not', () => {
  test('the Restricted Mode sentence is the documented one', () => {
    assert.equal(RESTRICTED_MODE_NOTE, `${RESTRICTED}.`);
  });

  test('trusted, and the server runs code: the sandbox it runs under', () => {
    const view = serverStatusView(status({ runsCode: true, codeNote: BWRAP_NOTE }), true);
    assert.match(view.tooltip, /^Runs your code under bwrap \(your files read-only, no network\)\.$/m);
    assert.doesNotMatch(view.tooltip, /Restricted Mode/);
    assert.equal(view.text, '$(check) Winnow · judge on', 'the text stays short');
  });

  test('trusted, and the server runs none: its reason', () => {
    const untrustedFolder = serverStatusView(
      status({ runsCode: false, codeNote: '/tmp/x is not in a trusted folder (VS Code: trust the workspace)' }),
      true,
    );
    assert.match(
      untrustedFolder.tooltip,
      /^Runs none of your code: \/tmp\/x is not in a trusted folder \(VS Code: trust the workspace\)\.$/m,
    );
    const noSandbox = serverStatusView(status({ runsCode: false, codeNote: 'no sandbox keeps your files read-only here.' }));
    assert.match(noSandbox.tooltip, /^Runs none of your code: no sandbox keeps your files read-only here\.$/m, 'one period');
    assert.match(serverStatusView(status({ runsCode: false })).tooltip, /^Runs none of your code\.$/m);
  });

  test('not checked yet: no line about it', () => {
    const view = serverStatusView(status({ runsCode: null }));
    assert.doesNotMatch(view.tooltip, /your code|Restricted Mode/);
  });

  test("Restricted Mode: says so, and not the server's own 'off' (the extension turned it off)", () => {
    for (const runsCode of [null, false] as const) {
      const view = serverStatusView(
        status({ runsCode, codeNote: runsCode === false ? 'running your code is off (winnow.diagnostics.runCode)' : '' }),
        false,
      );
      assert.ok(view.tooltip.includes(RESTRICTED), view.tooltip);
      assert.doesNotMatch(view.tooltip, /winnow\.diagnostics\.runCode|Runs none/);
      assert.equal(view.kind, 'normal');
    }
  });

  test('Restricted Mode, yet the server says it runs code (a stale status): both are shown', () => {
    const view = serverStatusView(status({ runsCode: true, codeNote: BWRAP_NOTE }), false);
    assert.ok(view.tooltip.includes(RESTRICTED));
    assert.match(view.tooltip, /Runs your code under bwrap/);
  });

  test('the lines sit before the click hint, in every state', () => {
    for (const state of ['loading', 'ready', 'generating', 'error'] as const) {
      const lines = serverStatusView(status({ state, runsCode: true, codeNote: BWRAP_NOTE }), false).tooltip.split('\n');
      assert.equal(lines.at(-1), CLICK_HINT);
      assert.equal(lines.at(-3), RESTRICTED_MODE_NOTE);
      assert.match(lines.at(-2) ?? '', /^Runs your code under bwrap/);
    }
  });

  test('while the client starts, Restricted Mode shows already', () => {
    assert.ok(clientPhaseView({ phase: 'starting' }, false).tooltip.includes(RESTRICTED));
    assert.ok(clientPhaseView({ phase: 'running', python: '/usr/bin/python3' }, false).tooltip.includes(RESTRICTED));
    assert.doesNotMatch(clientPhaseView({ phase: 'starting' }, true).tooltip, /Restricted Mode/);
    assert.doesNotMatch(clientPhaseView({ phase: 'starting' }).tooltip, /Restricted Mode/);
  });
});

describe('formatLatency', () => {
  test('milliseconds below a second, seconds above', () => {
    assert.equal(formatLatency(0), '0 ms');
    assert.equal(formatLatency(999.4), '999 ms');
    assert.equal(formatLatency(1000), '1.0 s');
    assert.equal(formatLatency(1450), '1.4 s');
    assert.equal(formatLatency(12_345), '12 s');
  });
});

describe('the window controls on the status bar', () => {
  const ready = serverStatusView(status({ state: 'ready', lastLatencyMs: 100 }), true, 'M');

  test('on: the server view as it is', () => {
    assert.deepEqual(withControls(ready, undefined), ready);
  });

  test('off (Toggle): says so first, the server state stays in the tooltip', () => {
    const view = withControls(ready, pausedView({ kind: 'off' }, 0));
    assert.equal(view.text, '$(circle-slash) Winnow: off');
    assert.match(view.tooltip, /^Off in this window \(Winnow: Toggle\): no inline suggestions, no hints\./);
    assert.match(view.tooltip, /Winnow: ready/);
    assert.equal(view.kind, 'normal');
  });

  test('snoozed: until when', () => {
    const now = new Date(2026, 0, 5, 14, 5).getTime();
    const view = withControls(ready, pausedView(snoozed(now), now));
    assert.equal(view.text, '$(clock) Winnow: snoozed until 14:35');
    assert.match(view.tooltip, /until 14:35; Toggle turns it on now/);
  });

  test('a language switched off (winnow.enable) for the active editor', () => {
    const view = withControls(ready, undefined, 'java');
    assert.equal(view.text, '$(circle-slash) Winnow: off for java');
    assert.match(view.tooltip, /winnow\.enable is false for this language/);
  });

  test('an error stays red while paused', () => {
    const error = serverStatusView(status({ state: 'error', message: 'no model' }));
    assert.equal(withControls(error, pausedView({ kind: 'off' }, 0)).kind, 'error');
  });
});
