/** Toggle, Snooze, `winnow.enable` per language and the manual trigger (src/activity.ts), and the status bar menu (src/menu.ts). */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import {
  ON,
  PAUSED_SETTINGS,
  SNOOZE_MINUTES,
  TRIGGER_KIND,
  activityAt,
  clockTime,
  isPaused,
  offersActions,
  offersInline,
  parseTrigger,
  pausedView,
  serverPaused,
  showsHints,
  snoozed,
  toggled,
  wakeDelayMs,
  withActivity,
  type Activity,
} from '../src/activity';
import { CLIENT_COMMANDS } from '../src/constants';
import { menuItems } from '../src/menu';
import { serverSettingsUnderTrust } from '../src/settings';

const T0 = new Date(2026, 0, 5, 9, 0).getTime();
const MINUTE = 60_000;

describe('Toggle and Snooze', () => {
  test('Toggle turns off, and on again', () => {
    const off = toggled(ON, T0);
    assert.deepEqual(off, { kind: 'off' });
    assert.equal(isPaused(off, T0), true);
    assert.equal(isPaused(off, T0 + 1000 * MINUTE), true, 'off stays off');
    assert.deepEqual(toggled(off, T0), ON);
  });

  test('Snooze is off for 30 minutes, then on by itself', () => {
    assert.equal(SNOOZE_MINUTES, 30);
    const snooze = snoozed(T0);
    assert.deepEqual(snooze, { kind: 'snoozed', until: T0 + 30 * MINUTE });
    assert.equal(isPaused(snooze, T0), true);
    assert.equal(isPaused(snooze, T0 + 29 * MINUTE), true);
    assert.equal(isPaused(snooze, T0 + 30 * MINUTE), false);
    assert.deepEqual(activityAt(snooze, T0 + 31 * MINUTE), ON);
    assert.equal(wakeDelayMs(snooze, T0 + 10 * MINUTE), 20 * MINUTE);
    assert.equal(wakeDelayMs(snooze, T0 + 40 * MINUTE), 0);
    assert.equal(wakeDelayMs(ON, T0), undefined);
    assert.equal(wakeDelayMs({ kind: 'off' }, T0), undefined);
  });

  test('Toggle during a snooze turns on now; after it ran out, off', () => {
    const snooze = snoozed(T0);
    assert.deepEqual(toggled(snooze, T0 + MINUTE), ON);
    assert.deepEqual(toggled(snooze, T0 + 31 * MINUTE), { kind: 'off' });
  });

  test('Snoozing again starts the 30 minutes over', () => {
    assert.deepEqual(snoozed(T0 + 20 * MINUTE), { kind: 'snoozed', until: T0 + 50 * MINUTE });
  });

  test('the status bar words', () => {
    assert.equal(pausedView(ON, T0), undefined);
    assert.equal(pausedView({ kind: 'off' }, T0)?.text, '$(circle-slash) Winnow: off');
    assert.equal(pausedView(snoozed(T0), T0)?.text, '$(clock) Winnow: snoozed until 09:30');
    assert.equal(pausedView(snoozed(T0), T0 + 30 * MINUTE), undefined);
    assert.equal(clockTime(new Date(2026, 0, 5, 23, 7).getTime()), '23:07');
  });
});

describe('what the server is sent while paused', () => {
  test('inline completion and hints off, the rest of the user settings kept', () => {
    const flat = { candidates: 3, 'inlineCompletion.enabled': true, 'diagnostics.severity': 'hint' };
    assert.deepEqual(withActivity(flat, false), flat);
    assert.deepEqual(withActivity(flat, true), {
      candidates: 3,
      'inlineCompletion.enabled': false,
      'diagnostics.severity': 'hint',
      'diagnostics.enabled': false,
    });
    assert.deepEqual(PAUSED_SETTINGS, { 'inlineCompletion.enabled': false, 'diagnostics.enabled': false });
  });

  test('through the trust mapping, as the server reads it', () => {
    assert.deepEqual(serverSettingsUnderTrust(withActivity({}, true), { trusted: true, folders: ['/w'] }), {
      inlineCompletion: { enabled: false },
      diagnostics: { enabled: false },
      trustedFolders: ['/w'],
    });
    // On again: the user's own value (or none, the server's default) goes back.
    assert.deepEqual(serverSettingsUnderTrust(withActivity({}, false), { trusted: true, folders: ['/w'] }), {
      trustedFolders: ['/w'],
    });
  });

  test('the server is paused when the window is, or when every language is switched off', () => {
    assert.equal(serverPaused(ON, T0, { python: true, java: true }), false);
    assert.equal(serverPaused(ON, T0, { python: false, java: true }), false, 'Java still wants it');
    assert.equal(serverPaused(ON, T0, { python: false, java: false }), true);
    assert.equal(serverPaused({ kind: 'off' }, T0, { python: true, java: true }), true);
    assert.equal(serverPaused(snoozed(T0), T0 + 31 * MINUTE, { python: true }), false);
    assert.equal(serverPaused(ON, T0, {}), false);
  });
});

describe('per document: language, trigger', () => {
  const on = { paused: false, languageEnabled: true };

  test('automatic: every request goes out', () => {
    assert.equal(offersInline({ ...on, trigger: 'automatic', triggerKind: TRIGGER_KIND.automatic }), true);
    assert.equal(offersInline({ ...on, trigger: 'automatic', triggerKind: TRIGGER_KIND.invoke }), true);
  });

  test('manual: only when the user asks (Alt+\\, Trigger Inline Suggestion)', () => {
    assert.equal(offersInline({ ...on, trigger: 'manual', triggerKind: TRIGGER_KIND.automatic }), false);
    assert.equal(offersInline({ ...on, trigger: 'manual', triggerKind: TRIGGER_KIND.invoke }), true);
  });

  test('paused or a language switched off: nothing, even when asked', () => {
    for (const gate of [
      { paused: true, languageEnabled: true },
      { paused: false, languageEnabled: false },
    ]) {
      assert.equal(offersInline({ ...gate, trigger: 'manual', triggerKind: TRIGGER_KIND.invoke }), false);
      assert.equal(offersInline({ ...gate, trigger: 'automatic', triggerKind: TRIGGER_KIND.automatic }), false);
      assert.equal(showsHints(gate), false);
    }
    assert.equal(showsHints(on), true);
  });

  test('code actions and hovers: off only for a language switched off (the user asks for them)', () => {
    assert.equal(offersActions({ paused: true, languageEnabled: true }), true);
    assert.equal(offersActions({ paused: false, languageEnabled: false }), false);
  });

  test('the trigger setting: anything but manual is automatic', () => {
    assert.equal(parseTrigger('manual'), 'manual');
    assert.equal(parseTrigger('automatic'), 'automatic');
    assert.equal(parseTrigger(undefined), 'automatic');
    assert.equal(parseTrigger('Manual'), 'automatic');
  });
});

describe('the status bar menu', () => {
  const commands = (activity: Activity, now = T0) => menuItems(activity, now).map((item) => item.command);

  test('Toggle, Snooze 30 min, Choose Model…, Show Stats, Reload Models, then Restart and Settings', () => {
    assert.deepEqual(commands(ON), [
      CLIENT_COMMANDS.toggle,
      CLIENT_COMMANDS.snooze,
      CLIENT_COMMANDS.chooseModel,
      CLIENT_COMMANDS.showStats,
      CLIENT_COMMANDS.reloadModels,
      CLIENT_COMMANDS.restartServer,
      CLIENT_COMMANDS.openSettings,
    ]);
    const labels = menuItems(ON, T0).map((item) => item.label.replace(/^\$\([a-z-]+\) /, ''));
    assert.deepEqual(labels, [
      'Toggle: turn off',
      'Snooze 30 min',
      'Choose Model…',
      'Show Stats',
      'Reload Models',
      'Restart Server',
      'Settings',
    ]);
  });

  test('Toggle says what it will do; a snooze says until when', () => {
    assert.equal(menuItems({ kind: 'off' }, T0)[0]?.label, '$(check) Toggle: turn on');
    const [toggle, snooze] = menuItems(snoozed(T0), T0);
    assert.equal(toggle?.label, '$(check) Toggle: turn on');
    assert.equal(toggle?.description, 'snoozed until 09:30');
    assert.match(snooze?.description ?? '', /until 09:30 now/);
    assert.equal(menuItems(snoozed(T0), T0 + 31 * MINUTE)[0]?.label, '$(circle-slash) Toggle: turn off');
  });

  test('Choose Model… names the model in use', () => {
    assert.equal(menuItems(ON, T0, 'SmolLM2 135M')[2]?.description, 'in use: SmolLM2 135M');
    assert.equal(menuItems(ON, T0)[2]?.description, undefined);
  });
});
