import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';

import { CLIENT_COMMANDS, LANGUAGES, SERVER_COMMANDS, STATUS_NOTIFICATION } from '../src/constants';
import {
  isExplicitlySet,
  CLIENT_SETTING_KEYS,
  RESTART_SETTING_KEYS,
  SERVER_SETTING_KEYS,
  affectsControls,
  affectsServerSettings,
  applyWorkspaceTrust,
  needsRestart,
  serverSettingsUnderTrust,
  toServerSettings,
} from '../src/settings';
import { PACKAGE_ROOT, REPO_ROOT } from './paths';

interface PropertySchema {
  type?: string;
  scope?: string;
  default?: unknown;
  minimum?: number;
  maximum?: number;
  enum?: unknown[];
  items?: { type?: string };
  markdownDescription?: string;
  description?: string;
}

interface PackageJson {
  name: string;
  activationEvents: string[];
  version: string;
  main: string;
  engines: { vscode: string };
  dependencies: Record<string, string>;
  contributes: {
    commands: { command: string; title: string; category?: string }[];
    keybindings: { command: string; key: string; when?: string }[];
    menus: Record<string, { command: string; when?: string }[]>;
    configuration: { properties: Record<string, PropertySchema> };
  };
}

const packageJson = JSON.parse(fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8')) as PackageJson;
const properties = packageJson.contributes.configuration.properties;
const settingsDoc = fs.readFileSync(path.join(REPO_ROOT, 'docs', 'settings.md'), 'utf8');

interface DocRow {
  path: string;
  type: string;
  default: unknown;
  meaning: string;
}

/** The settings table of docs/settings.md: | `path` | type | `default` | meaning | */
function docRows(): DocRow[] {
  const rows: DocRow[] = [];
  for (const line of settingsDoc.split('\n')) {
    const match = /^\|\s*`([^`]+)`\s*\|(.*)\|\s*`([^`]+)`\s*\|(.*)\|\s*$/.exec(line);
    if (!match) {
      continue;
    }
    const [, docPath, type, defaultText, meaning] = match as unknown as [string, string, string, string, string];
    rows.push({ path: docPath, type: type.trim(), default: JSON.parse(defaultText) as unknown, meaning: meaning.trim() });
  }
  return rows;
}

/** "integer 1–16" → {type: integer, minimum: 1, maximum: 16}; an enum column → {type: string, enum}. */
function expectedSchema(docType: string): Pick<PropertySchema, 'type' | 'minimum' | 'maximum' | 'enum'> {
  const enumValues = [...docType.matchAll(/`"([^"]+)"`/g)].map((m) => m[1]);
  if (enumValues.length > 0) {
    return { type: 'string', enum: enumValues };
  }
  const range = /^(integer|number)\s+([\d.]+)\s*[–-]\s*([\d.]+)$/.exec(docType);
  if (range) {
    return { type: range[1], minimum: Number(range[2]), maximum: Number(range[3]) };
  }
  const lowerBound = /^(integer|number)\s*≥\s*([\d.]+)$/.exec(docType);
  if (lowerBound) {
    return { type: lowerBound[1], minimum: Number(lowerBound[2]) };
  }
  assert.match(docType, /^(string|boolean|integer|number|array)$/, `unparsed type column: ${docType}`);
  return { type: docType };
}

const rows = docRows();

describe('package.json settings follow docs/settings.md', () => {
  test('the doc table was found', () => {
    assert.equal(rows.length, SERVER_SETTING_KEYS.length, `docs/settings.md should list ${SERVER_SETTING_KEYS.length} settings`);
  });

  test('SERVER_SETTING_KEYS lists exactly the documented paths, in order', () => {
    assert.deepEqual([...SERVER_SETTING_KEYS], rows.map((row) => row.path));
  });

  for (const row of rows) {
    test(`winnow.${row.path}: type, range, enum, default and description`, () => {
      const property = properties[`winnow.${row.path}`];
      assert.ok(property, `package.json lacks winnow.${row.path}`);
      const expected = expectedSchema(row.type);
      assert.equal(property.type, expected.type);
      assert.equal(property.minimum, expected.minimum);
      assert.equal(property.maximum, expected.maximum);
      assert.deepEqual(property.enum, expected.enum);
      if (expected.type === 'array') {
        // The only array setting so far (trustedFolders) is a list of paths; the server
        // rejects anything but non-empty strings.
        assert.deepEqual(property.items, { type: 'string' }, `winnow.${row.path}: items`);
      }
      assert.deepEqual(property.default, row.default);
      const description = property.markdownDescription ?? property.description ?? '';
      const meaning = row.meaning.charAt(0).toUpperCase() + row.meaning.slice(1);
      assert.ok(
        description.toLowerCase().startsWith(`${meaning}.`.toLowerCase()),
        `description of winnow.${row.path} should start with the doc's meaning:\n  doc: ${meaning}.\n  got: ${description}`,
      );
    });
  }

  test('the only other settings are the client-side ones', () => {
    const extra = Object.keys(properties)
      .map((key) => key.replace(/^winnow\./, ''))
      .filter((key) => !(SERVER_SETTING_KEYS as readonly string[]).includes(key));
    assert.deepEqual(extra.sort(), [...CLIENT_SETTING_KEYS].sort());
    assert.deepEqual(properties['winnow.trace.server']?.enum, ['off', 'messages', 'verbose']);
    assert.equal(properties['winnow.trace.server']?.default, 'off');
    assert.equal(properties['winnow.pythonPath']?.default, '');
  });

  test('winnow.enable and winnow.inlineCompletion.trigger: client-side, language-overridable', () => {
    assert.equal(properties['winnow.enable']?.type, 'boolean');
    assert.equal(properties['winnow.enable']?.default, true);
    assert.equal(properties['winnow.enable']?.scope, 'language-overridable');
    assert.deepEqual(properties['winnow.inlineCompletion.trigger']?.enum, ['automatic', 'manual']);
    assert.equal(properties['winnow.inlineCompletion.trigger']?.default, 'automatic');
    assert.equal(properties['winnow.inlineCompletion.trigger']?.scope, 'language-overridable');
    assert.deepEqual(toServerSettings({ enable: false, 'inlineCompletion.trigger': 'manual' }), {});
  });

  test('the install hint names no package that PyPI lacks', () => {
    assert.doesNotMatch(properties['winnow.pythonPath']?.markdownDescription ?? '', /install winnow-lsp/);
    assert.match(properties['winnow.pythonPath']?.markdownDescription ?? '', /pip install -e PATH\/TO\/winnow/);
  });
});

describe('toServerSettings', () => {
  test('maps the package.json defaults onto the nested object of the doc', () => {
    const flat = Object.fromEntries(Object.entries(properties).map(([key, schema]) => [key, schema.default]));
    assert.deepEqual(toServerSettings(flat), {
      generatorModel: 'default',
      judge: 'default',
      allowDownload: false,
      candidates: 5,
      temperature: 0.8,
      maxTokens: 64,
      debounceMs: 150,
      threads: 0,
      trustedFolders: [],
      inlineCompletion: { enabled: true, candidates: 3 },
      codeActions: { enabled: true },
      diagnostics: {
        enabled: true, runCode: true, examples: true, probes: 24, typedInputs: true, callSites: true, judge: 'off',
        threshold: 0.5, severity: 'warning', tests: true, testRunner: 'auto', testTimeout: 60, crashes: 'edit', exclude: [],
      },
      context: { enabled: true, maxTokens: 128, maxFiles: 5000 },
    });
  });

  test('nests dotted paths and keeps siblings together', () => {
    assert.deepEqual(
      toServerSettings({ 'diagnostics.threshold': 0.3, 'diagnostics.severity': 'warning', candidates: 8 }),
      { diagnostics: { threshold: 0.3, severity: 'warning' }, candidates: 8 },
    );
  });

  test('accepts keys with the winnow. prefix', () => {
    assert.deepEqual(toServerSettings({ 'winnow.inlineCompletion.enabled': false }), { inlineCompletion: { enabled: false } });
  });

  test('drops client-only settings, unknown keys and undefined values', () => {
    assert.deepEqual(
      toServerSettings({
        pythonPath: '/usr/bin/python3',
        'trace.server': 'verbose',
        'winnow.trace.server': 'off',
        somethingElse: 1,
        judge: undefined,
        threads: 4,
      }),
      { threads: 4 },
    );
  });

  test('passes values through unchanged (the server validates them)', () => {
    assert.deepEqual(toServerSettings({ candidates: 99, temperature: 'hot' }), { candidates: 99, temperature: 'hot' });
  });

  test('an empty record maps to an empty object', () => {
    assert.deepEqual(toServerSettings({}), {});
  });

  test('an array value (trustedFolders) passes as an array, not as a nested object', () => {
    assert.deepEqual(toServerSettings({ trustedFolders: ['/a', '/b'] }), { trustedFolders: ['/a', '/b'] });
  });
});

describe('workspace trust decides what the server may run', () => {
  const untrusted = { trusted: false, folders: ['/work/repo'] };
  const trusted = { trusted: true, folders: ['/work/repo', '/work/lib'] };

  test('Restricted Mode: runCode false and no trusted folders, whatever the user set', () => {
    assert.deepEqual(
      serverSettingsUnderTrust(
        { 'diagnostics.runCode': true, trustedFolders: ['/home/me/code', '/'], 'diagnostics.severity': 'hint', candidates: 3 },
        untrusted,
      ),
      { candidates: 3, trustedFolders: [], diagnostics: { runCode: false, severity: 'hint' } },
    );
  });

  test('Restricted Mode with nothing set still sends runCode false and an empty list', () => {
    assert.deepEqual(serverSettingsUnderTrust({}, untrusted), { diagnostics: { runCode: false }, trustedFolders: [] });
    assert.deepEqual(serverSettingsUnderTrust({}, { trusted: false, folders: [] }), {
      diagnostics: { runCode: false },
      trustedFolders: [],
    });
  });

  test("trusted: the workspace's folders, then the user's own, without duplicates", () => {
    assert.deepEqual(serverSettingsUnderTrust({ trustedFolders: ['/home/me/code', '/work/lib'] }, trusted), {
      trustedFolders: ['/work/repo', '/work/lib', '/home/me/code'],
    });
  });

  test("trusted: runCode stays the user's (off stays off; unset stays unset, the server's default)", () => {
    assert.deepEqual(serverSettingsUnderTrust({ 'diagnostics.runCode': false }, trusted), {
      trustedFolders: ['/work/repo', '/work/lib'],
      diagnostics: { runCode: false },
    });
    assert.deepEqual(serverSettingsUnderTrust({}, trusted), { trustedFolders: ['/work/repo', '/work/lib'] });
  });

  test('trusted with no folder open and nothing set: an explicit empty list', () => {
    assert.deepEqual(serverSettingsUnderTrust({}, { trusted: true, folders: [] }), { trustedFolders: [] });
    assert.deepEqual(serverSettingsUnderTrust({ trustedFolders: ['~/code'] }, { trusted: true, folders: [] }), {
      trustedFolders: ['~/code'],
    });
  });

  test("blank entries and non-strings in the user's list are dropped (the server would reject the whole list)", () => {
    assert.deepEqual(
      serverSettingsUnderTrust({ trustedFolders: ['  /srv/x  ', '', '   ', 3, null, '/srv/x'] }, trusted),
      { trustedFolders: ['/work/repo', '/work/lib', '/srv/x'] },
    );
    assert.deepEqual(serverSettingsUnderTrust({ trustedFolders: '/not/a/list' }, trusted), {
      trustedFolders: ['/work/repo', '/work/lib'],
    });
  });

  test('keys with the winnow. prefix are read the same way and come back without it', () => {
    assert.deepEqual(applyWorkspaceTrust({ 'winnow.trustedFolders': ['/x'], 'winnow.candidates': 2 }, trusted), {
      trustedFolders: ['/work/repo', '/work/lib', '/x'],
      candidates: 2,
    });
    assert.deepEqual(applyWorkspaceTrust({ 'winnow.diagnostics.runCode': true }, untrusted), {
      'diagnostics.runCode': false,
      trustedFolders: [],
    });
  });

  test('the input record is left as it was', () => {
    const flat = { trustedFolders: ['/x'], 'diagnostics.runCode': true };
    applyWorkspaceTrust(flat, untrusted);
    applyWorkspaceTrust(flat, trusted);
    assert.deepEqual(flat, { trustedFolders: ['/x'], 'diagnostics.runCode': true });
  });

  test('package.json restricts winnow.trustedFolders and winnow.pythonPath in untrusted workspaces', () => {
    const capabilities = (packageJson as unknown as {
      capabilities: { untrustedWorkspaces: { supported: unknown; restrictedConfigurations: string[] } };
    }).capabilities;
    assert.equal(capabilities.untrustedWorkspaces.supported, 'limited');
    assert.deepEqual([...capabilities.untrustedWorkspaces.restrictedConfigurations].sort(), [
      'winnow.pythonPath',
      'winnow.trustedFolders',
    ]);
  });
});

describe('isExplicitlySet', () => {
  test('a value in any scope counts; defaults and no inspection do not', () => {
    assert.equal(isExplicitlySet(undefined), false);
    assert.equal(isExplicitlySet({}), false);
    assert.equal(isExplicitlySet({ globalValue: undefined, workspaceValue: undefined }), false);
    assert.equal(isExplicitlySet({ globalValue: 3 }), true);
    assert.equal(isExplicitlySet({ workspaceFolderValue: false }), true);
    assert.equal(isExplicitlySet({ workspaceLanguageValue: 'hint' }), true);
  });
});

describe('restart or notify', () => {
  const affectsOnly = (key: string) => (candidate: string) => candidate === key;

  test('only pythonPath restarts the server', () => {
    assert.deepEqual([...RESTART_SETTING_KEYS], ['pythonPath']);
    assert.equal(needsRestart(affectsOnly('winnow.pythonPath')), true);
  });

  test('generatorModel, judge and threads reach the running server (it loads the models again in place)', () => {
    for (const key of ['generatorModel', 'judge', 'threads']) {
      assert.equal(needsRestart(affectsOnly(`winnow.${key}`)), false, key);
      assert.equal(affectsServerSettings(affectsOnly(`winnow.${key}`)), true, key);
    }
  });

  test('winnow.enable and the trigger are controls: applied in the extension, not server settings', () => {
    for (const key of ['winnow.enable', 'winnow.inlineCompletion.trigger']) {
      assert.equal(affectsControls(affectsOnly(key)), true, key);
      assert.equal(affectsServerSettings(affectsOnly(key)), false, key);
      assert.equal(needsRestart(affectsOnly(key)), false, key);
    }
    assert.equal(affectsControls(affectsOnly('winnow.candidates')), false);
  });

  test('the other server settings are sent as didChangeConfiguration', () => {
    for (const key of SERVER_SETTING_KEYS.filter((k) => !(RESTART_SETTING_KEYS as readonly string[]).includes(k))) {
      assert.equal(needsRestart(affectsOnly(`winnow.${key}`)), false, key);
      assert.equal(affectsServerSettings(affectsOnly(`winnow.${key}`)), true, key);
    }
  });

  test('trace.server neither restarts nor notifies (the language client handles it)', () => {
    assert.equal(needsRestart(affectsOnly('winnow.trace.server')), false);
    assert.equal(affectsServerSettings(affectsOnly('winnow.trace.server')), false);
  });
});

describe('commands and notifications', () => {
  test('package.json contributes exactly the client commands, titled "Winnow: …"', () => {
    const contributed = packageJson.contributes.commands;
    assert.deepEqual(contributed.map((c) => c.command).sort(), Object.values(CLIENT_COMMANDS).sort());
    const titles = Object.fromEntries(contributed.map((c) => [c.command, `${c.category ?? ''}: ${c.title}`]));
    assert.equal(titles[CLIENT_COMMANDS.restartServer], 'Winnow: Restart Server');
    assert.equal(titles[CLIENT_COMMANDS.showStats], 'Winnow: Show Stats');
    assert.equal(titles[CLIENT_COMMANDS.implementFunction], 'Winnow: Implement Function (best of N)');
    assert.equal(titles[CLIENT_COMMANDS.toggle], 'Winnow: Toggle (inline suggestions and hints, this window)');
    assert.equal(titles[CLIENT_COMMANDS.snooze], 'Winnow: Snooze 30 min');
    assert.equal(titles[CLIENT_COMMANDS.chooseModel], 'Winnow: Choose Model…');
    assert.equal(titles[CLIENT_COMMANDS.reloadModels], 'Winnow: Reload Models');
    assert.equal(titles[CLIENT_COMMANDS.showMenu], 'Winnow: Show Menu');
    assert.ok(contributed.every((c) => c.category === 'Winnow'), 'every command in the palette under Winnow');
  });

  test('Alt+\\ asks for an inline suggestion in the languages Winnow serves', () => {
    const [binding] = packageJson.contributes.keybindings;
    assert.equal(binding?.command, 'editor.action.inlineSuggest.trigger');
    assert.equal(binding?.key, 'alt+\\');
    assert.match(binding?.when ?? '', /editorLangId == python \|\| editorLangId == java/);
  });

  test("client command ids never collide with the server's executeCommand ids", () => {
    const serverIds = new Set<string>(Object.values(SERVER_COMMANDS));
    for (const id of Object.values(CLIENT_COMMANDS)) {
      assert.equal(serverIds.has(id), false, id);
    }
  });

  test('the server commands and the status notification are the documented ones', () => {
    for (const id of Object.values(SERVER_COMMANDS)) {
      assert.ok(settingsDoc.includes(`\`${id}\``), `${id} is not in docs/settings.md`);
    }
    assert.ok(settingsDoc.includes(`\`${STATUS_NOTIFICATION}\``));
  });

  test('engines and language client versions', () => {
    assert.equal(packageJson.engines.vscode, '^1.91.0');
    assert.match(packageJson.dependencies['vscode-languageclient'] ?? '', /^\^?11\./);
    assert.equal(packageJson.main, './dist/extension.js');
  });

  test('the extension starts for every language the client serves, and its menus follow', () => {
    assert.deepEqual(packageJson.activationEvents, LANGUAGES.map((language) => `onLanguage:${language}`));
    for (const items of Object.values(packageJson.contributes.menus)) {
      for (const item of items.filter((i) => i.command === CLIENT_COMMANDS.implementFunction)) {
        assert.equal(item.when, LANGUAGES.map((language) => `editorLangId == ${language}`).join(' || '));
      }
    }
  });
});
