// ESLint flat config: typescript-eslint's type-checked rules over src/ and test/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that must stay loadable without VS Code (node tests import them). */
const pureModules = [
  'src/activity.ts',
  'src/constants.ts',
  'src/menu.ts',
  'src/messages.ts',
  'src/models.ts',
  'src/python.ts',
  'src/server.ts',
  'src/settings.ts',
  'src/stats.ts',
  'src/status.ts',
];

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', '*.vsix'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.mjs', 'e2e/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      eqeqeq: ['error', 'always'],
      curly: ['error', 'all'],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises that the runner itself awaits.
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it'] }] },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: [...pureModules, 'test/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'vscode', message: 'Keep this module free of VS Code so node tests can load it.' },
            { name: 'vscode-languageclient', message: 'vscode-languageclient needs VS Code; keep this module pure.' },
            { name: 'vscode-languageclient/node', message: 'vscode-languageclient needs VS Code; keep this module pure.' },
          ],
        },
      ],
    },
  },
  {
    files: ['eslint.config.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // The real-VS-Code test (e2e/run-e2e.sh): plain Node ESM, run outside tsc.
    files: ['e2e/**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: { console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly' },
    },
  },
);
