import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { clientPhaseView, formatLatency, parseStatus, serverStatusView, type WinnowStatus } from '../src/status';

const status = (overrides: Partial<WinnowStatus>): WinnowStatus => ({
  state: 'ready',
  message: '',
  lastLatencyMs: null,
  judge: true,
  ...overrides,
});

describe('parseStatus', () => {
  test('accepts the documented payload', () => {
    assert.deepEqual(parseStatus({ state: 'ready', message: 'models loaded', lastLatencyMs: 412.5, judge: true }), {
      state: 'ready',
      message: 'models loaded',
      lastLatencyMs: 412.5,
      judge: true,
    });
  });

  test('fills in missing or odd optional fields', () => {
    assert.deepEqual(parseStatus({ state: 'loading' }), { state: 'loading', message: '', lastLatencyMs: null, judge: false });
    assert.deepEqual(parseStatus({ state: 'generating', message: 3, lastLatencyMs: -1, judge: 'yes' }), {
      state: 'generating',
      message: '',
      lastLatencyMs: null,
      judge: false,
    });
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
    assert.match(view.tooltip, /Click for Winnow stats/);
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

describe('formatLatency', () => {
  test('milliseconds below a second, seconds above', () => {
    assert.equal(formatLatency(0), '0 ms');
    assert.equal(formatLatency(999.4), '999 ms');
    assert.equal(formatLatency(1000), '1.0 s');
    assert.equal(formatLatency(1450), '1.4 s');
    assert.equal(formatLatency(12_345), '12 s');
  });
});
