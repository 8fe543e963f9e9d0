import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatStats } from '../src/stats';

test('formatStats prints nested key: value lines', () => {
  const text = formatStats({
    model: 'SmolLM2-135M-Instruct.Q4_1.gguf',
    judge: { name: 'default', auc: 0.8612 },
    tokensPerSecond: 74.25,
    lastLatenciesMs: [120, 340.5],
    cache: null,
  });
  assert.equal(
    text,
    [
      'Winnow stats',
      '  model: SmolLM2-135M-Instruct.Q4_1.gguf',
      '  judge:',
      '    name: default',
      '    auc: 0.8612',
      '  tokensPerSecond: 74.25',
      '  lastLatenciesMs: 120, 340.5',
      '  cache: —',
    ].join('\n'),
  );
});

test('formatStats copes with non-objects', () => {
  assert.equal(formatStats(null), 'Winnow stats\n  —');
  assert.equal(formatStats('ok'), 'Winnow stats\n  ok');
  assert.equal(formatStats({}), 'Winnow stats\n  (empty)');
});
