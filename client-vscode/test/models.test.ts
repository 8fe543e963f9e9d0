/** Choose Model… (src/models.ts) and the buttons on the server's messages (src/messages.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { EXTENSION_ID } from '../src/constants';
import { ACTIONS, MESSAGE_TYPE, serverMessageActions, settingsQuery } from '../src/messages';
import {
  currentModelLabel,
  formatBytes,
  hubSpecProblem,
  isDownloadProgress,
  isHubSpec,
  modelFromStatusMessage,
  modelPickEntries,
  needsDownload,
  parseDownloadResult,
  parseModelList,
  progressIncrement,
  specName,
  statusModelName,
  type ModelPickEntry,
} from '../src/models';

const QWEN = 'hf:Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf';
const LIST = {
  current: 'default',
  options: [
    { spec: QWEN, label: 'Qwen2.5 Coder 1.5B', detail: 'recommended: a coder model', sizeBytes: 1_117_320_736, onDisk: false, kind: 'hub' },
    { spec: 'default', label: 'SmolLM2 135M', detail: 'embedded', sizeBytes: 145_000_000, onDisk: true, kind: 'embedded' },
    { spec: '/models/mine.gguf', label: 'mine', detail: '', sizeBytes: 512, onDisk: true, kind: 'local' },
    { spec: 'hf:a/b/c.gguf', label: 'C', detail: 'downloaded before', sizeBytes: null, onDisk: true, kind: 'hub' },
  ],
};

/** The entries as `label | description` lines, separators as `-- label`. */
const lines = (entries: ModelPickEntry[]) =>
  entries.map((entry) => (entry.separator ? `-- ${entry.label}` : `${entry.label} | ${entry.description}`));

describe('winnow.models.list → the quick pick', () => {
  test('grouped: embedded, on disk, to download; the one in use marked; then other sources', () => {
    const list = parseModelList(LIST);
    assert.ok(list);
    assert.deepEqual(lines(modelPickEntries(list)), [
      '-- Embedded',
      '$(check) SmolLM2 135M | in use · 145 MB · ships with Winnow',
      '-- On disk',
      '$(circle-large-outline) mine | 512 B · on disk',
      '$(circle-large-outline) C | on disk',
      '-- Download (Hugging Face Hub)',
      '$(circle-large-outline) Qwen2.5 Coder 1.5B | 1.1 GB · downloads first',
      '-- Other',
      '$(file) A .gguf file on disk… | browse',
      '$(cloud-download) A model on the Hugging Face Hub… | hf:OWNER/REPO/FILE.gguf',
    ]);
  });

  test('each option entry carries its option (the spec to set), and its detail', () => {
    const list = parseModelList(LIST);
    assert.ok(list);
    const qwen = modelPickEntries(list).find((entry) => !entry.separator && entry.label.includes('Qwen'));
    assert.ok(qwen && !qwen.separator && qwen.action.kind === 'option');
    assert.equal(qwen.action.option.spec, QWEN);
    assert.equal(qwen.detail, 'recommended: a coder model');
    assert.equal(needsDownload(qwen.action.option), true);
  });

  test('the model in use comes first in its group', () => {
    const list = parseModelList({ ...LIST, current: 'hf:a/b/c.gguf' });
    assert.ok(list);
    const onDisk = lines(modelPickEntries(list)).slice(2, 5);
    assert.deepEqual(onDisk, ['-- On disk', '$(check) C | in use · on disk', '$(circle-large-outline) mine | 512 B · on disk']);
  });

  test('what needs a download: a hub model not on disk, nothing else', () => {
    assert.equal(needsDownload({ kind: 'hub', onDisk: false }), true);
    assert.equal(needsDownload({ kind: 'hub', onDisk: true }), false);
    assert.equal(needsDownload({ kind: 'local', onDisk: false }), false);
    assert.equal(needsDownload({ kind: 'embedded', onDisk: true }), false);
  });

  test('a malformed answer is no list; malformed options are dropped, odd fields defaulted', () => {
    assert.equal(parseModelList(null), undefined);
    assert.equal(parseModelList({ current: 'default' }), undefined);
    const list = parseModelList({
      current: { spec: 'x.gguf' },
      options: [null, { label: 'no spec' }, { spec: 'x.gguf', sizeBytes: -1, kind: 'weird', onDisk: 'yes' }],
    });
    assert.deepEqual(list, {
      current: 'x.gguf',
      options: [{ spec: 'x.gguf', label: 'x.gguf', detail: '', sizeBytes: null, onDisk: false, kind: 'local' }],
    });
  });

  test('the status bar name of the model in use', () => {
    const list = parseModelList(LIST);
    assert.ok(list);
    assert.equal(currentModelLabel(list), 'SmolLM2 135M');
    assert.equal(currentModelLabel({ current: '/m/other-model.Q4.gguf', options: [] }), 'other-model.Q4');
    assert.equal(currentModelLabel({ current: '', options: [] }), undefined);
    assert.equal(specName(QWEN), 'qwen2.5-coder-1.5b-instruct-q4_k_m');
    assert.equal(specName('default'), 'default');
  });

  test('sizes as the CLI prints them', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(999), '999 B');
    assert.equal(formatBytes(145_000_000), '145 MB'); // as the server's "98 MB of 98 MB" and the hub write sizes
    assert.equal(formatBytes(1_117_320_736), '1.1 GB');
    assert.equal(formatBytes(5 * 1024 * 1024), '5.2 MB');
  });

  test('a typed hub spec', () => {
    assert.equal(isHubSpec(QWEN), true);
    assert.equal(isHubSpec('hf:owner/repo/sub/dir/file.GGUF'), true);
    assert.equal(isHubSpec('hf:owner/file.gguf'), false);
    assert.equal(isHubSpec('owner/repo/file.gguf'), false);
    assert.equal(isHubSpec('hf:owner/repo/file.bin'), false);
    assert.equal(hubSpecProblem(QWEN), undefined);
    assert.match(hubSpecProblem('qwen') ?? '', /hf:OWNER\/REPO\/FILE\.gguf/);
  });
});

describe('winnow.models.download and its progress', () => {
  test('the answer', () => {
    assert.deepEqual(parseDownloadResult({ spec: QWEN, path: '/hub/q.gguf', cancelled: false, error: null }, QWEN), {
      spec: QWEN,
      path: '/hub/q.gguf',
      cancelled: false,
      error: null,
    });
    assert.deepEqual(parseDownloadResult({ spec: QWEN, path: null, cancelled: true, error: null }, QWEN), {
      spec: QWEN,
      path: null,
      cancelled: true,
      error: null,
    });
    assert.equal(parseDownloadResult({ error: '404' }, QWEN).error, '404');
    assert.equal(parseDownloadResult({ error: '404' }, QWEN).spec, QWEN);
    assert.match(parseDownloadResult('??', QWEN).error ?? '', /unexpected answer/);
  });

  test('percentages become VS Code increments that add up to the percentage', () => {
    let reported = 0;
    const increments: number[] = [];
    for (const percentage of [0, 10, 10, 55, 40, 100, 120]) {
      const step = progressIncrement(reported, percentage);
      assert.ok(step);
      reported = step.reported;
      increments.push(step.increment);
    }
    assert.deepEqual(increments, [0, 10, 0, 45, 0, 45, 0]);
    assert.equal(reported, 100);
    assert.equal(progressIncrement(30, undefined), undefined);
  });

  test('which server progress is the download: cancellable, or titled so, while one runs', () => {
    assert.equal(isDownloadProgress({ title: 'Downloading q.gguf', cancellable: false }, true), true);
    assert.equal(isDownloadProgress({ title: 'Winnow: mapping tests', cancellable: true }, true), true);
    assert.equal(isDownloadProgress({ title: 'Winnow: loading models', cancellable: false }, true), false);
    assert.equal(isDownloadProgress({ title: 'Downloading q.gguf', cancellable: true }, false), false);
  });

  test("the model named in the server's ready status", () => {
    assert.equal(modelFromStatusMessage('SmolLM2 135M ready'), 'SmolLM2 135M');
    assert.equal(modelFromStatusMessage('Qwen2.5 Coder 1.5B Instruct ready (no judge)'), 'Qwen2.5 Coder 1.5B Instruct');
    assert.equal(modelFromStatusMessage('ready'), undefined);
    assert.equal(modelFromStatusMessage('loading default'), undefined);
  });
});

describe('the model on the status bar, from winnow/status', () => {
  const status = (state: string, message: string, model: string | null = null) => ({ state, message, model });

  test('loading or failed: cleared', () => {
    assert.equal(statusModelName(status('loading', 'loading default'), false), null);
    assert.equal(statusModelName(status('error', 'no model'), true), null);
  });

  test("a server with winnow.models.list: its label decides (kept here)", () => {
    assert.equal(statusModelName(status('ready', 'Smollm2 135M ready', 'Smollm2 135M'), true), undefined);
  });

  test("otherwise the status's model field, else the ready message's name, else kept", () => {
    assert.equal(statusModelName(status('ready', 'Smollm2 135M ready', 'SmolLM2'), false), 'SmolLM2');
    assert.equal(statusModelName(status('ready', 'Smollm2 135M ready'), false), 'Smollm2 135M');
    assert.equal(statusModelName(status('ready', 'ready'), false), undefined);
    assert.equal(statusModelName(status('generating', 'inline completion'), false), undefined);
  });
});

describe("buttons on the server's messages", () => {
  test('a model that did not load: Choose a Model…, Open Settings, Show Output', () => {
    const text = 'Winnow: could not load the generator model: /x/missing.gguf does not exist';
    assert.deepEqual(serverMessageActions(MESSAGE_TYPE.error, text), [ACTIONS.chooseModel, ACTIONS.openSettings, ACTIONS.showOutput]);
    assert.equal(settingsQuery(text, EXTENSION_ID), 'winnow.generatorModel');
  });

  test('invalid settings: Open Settings on the setting named', () => {
    const text = 'Winnow: invalid settings were replaced by their defaults: winnow.candidates must be 1–16';
    assert.deepEqual(serverMessageActions(MESSAGE_TYPE.warning, text), [ACTIONS.openSettings, ACTIONS.showOutput]);
    assert.equal(settingsQuery(text, EXTENSION_ID), 'winnow.candidates');
    assert.equal(settingsQuery('Winnow: invalid settings', EXTENSION_ID), '@ext:winnow.winnow');
  });

  test('any other error: Show Output; information: no buttons', () => {
    assert.deepEqual(serverMessageActions(MESSAGE_TYPE.error, 'Winnow: something broke'), [ACTIONS.showOutput]);
    assert.deepEqual(serverMessageActions(MESSAGE_TYPE.info, 'Winnow: SmolLM2 (judge on), 80 tok/s'), []);
    assert.deepEqual(serverMessageActions(MESSAGE_TYPE.log, 'x'), []);
  });

  test('a command named in a message is not taken for a setting', () => {
    assert.equal(settingsQuery('run the command winnow.reloadModels', EXTENSION_ID), '@ext:winnow.winnow');
  });
});
