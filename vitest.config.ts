import { defineConfig } from 'vitest/config';

export default defineConfig({
  // The examples import the package by name, as a consumer does; in the tests that is the source (as in tsconfig).
  resolve: { alias: { 'billing-archive': new URL('./src/library/index.ts', import.meta.url).pathname } },
  test: {
    include: ['test/**/*.test.ts'],
    // Generous: a run waited for on a loaded 2-core machine (CI) must not be mistaken for a hang.
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: '.data/test-results.json' },
  },
});
