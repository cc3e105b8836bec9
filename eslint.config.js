// Lint: type-aware rules (no floating promises) and no import cycles.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import importX, { createNodeResolver } from 'eslint-plugin-import-x';

export default tseslint.config(
  {
    ignores: [
      'node_modules/**',
      'dist/**',
      '.data/**',
      'coverage/**',
      'bench/results/**',
      '.package/**',
      // A consumer's plain JavaScript, run against the packed tarball by test/package/packed-library.test.ts.
      'test/package/*.mjs',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    // The default resolver lookup finds the `node` devDependency (the Node 22 binary) and crashes.
    settings: { 'import-x/resolver-next': [createNodeResolver()] },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'import-x/no-cycle': 'error',
      // ESLint's type service sees typebox 1.x schemas as error types, so it misjudges assertions on them.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      'no-console': 'error',
    },
  },
  {
    files: ['src/cli/**', 'bench/**', 'test/**'],
    rules: { 'no-console': 'off' },
  },
  {
    // Tests read JSON response bodies, which are `any` by nature; assertions check their shape.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  {
    files: ['src/domain/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['@azure/*', 'ioredis', 'fastify', 'node:sqlite'], message: 'domain/ imports no SDK' },
            { group: ['**/ports/*'], message: 'domain/ imports no port: ports import the domain' },
          ],
        },
      ],
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'config is read at the edge' },
      ],
    },
  },
  {
    // The layers of STYLE.md, enforced: a forbidden import fails the build instead of being remembered.
    files: ['src/**'],
    rules: {
      'import-x/no-restricted-paths': [
        'error',
        {
          zones: [
            {
              target: './src/domain',
              from: './src',
              except: ['./domain'],
              message: 'domain/ imports nothing of the project outside itself',
            },
            {
              target: './src/ports',
              from: './src',
              except: ['./ports', './domain'],
              message: 'ports/ speak the domain only',
            },
            {
              target: ['./src/records', './src/archival', './src/jobs', './src/costs', './src/audit'],
              from: [
                './src/adapters',
                './src/composition',
                './src/config',
                './src/api',
                './src/functions',
                './src/cli',
              ],
              message: 'use cases work over ports: never an adapter, the composition, config or an edge',
            },
            {
              target: './src/archival',
              from: './src/records',
              message: 'records/ owns every change of a record; archival/ works through the ports',
            },
            {
              target: ['./src/api', './src/functions', './src/cli', './src/library'],
              from: './src/adapters',
              message: 'edges reach adapters only through the composition (src/composition)',
            },
            {
              target: './src/adapters',
              from: [
                './src/records',
                './src/archival',
                './src/jobs',
                './src/costs',
                './src/audit',
                './src/composition',
                './src/api',
                './src/functions',
                './src/cli',
                './src/library',
              ],
              message: 'adapters implement ports; they know no use case and no edge',
            },
          ],
        },
      ],
    },
  },
  { files: ['*.js'], ...tseslint.configs.disableTypeChecked },
  {
    // The operations console: plain ES modules served to the browser as they are (no build step).
    files: ['src/console/**/*.js'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      globals: Object.fromEntries(
        ['window', 'document', 'location', 'sessionStorage', 'fetch', 'URL', 'Intl', 'Node', 'atob']
          .concat(['setTimeout', 'clearTimeout', 'globalThis', 'console'])
          .map((name) => [name, 'readonly']),
      ),
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, 'no-console': 'error' },
  },
);
