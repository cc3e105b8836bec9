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
    // As `npm start` runs the server: AsyncLocalStorage (OpenTelemetry's context) on async context frames.
    execArgv: ['--experimental-async-context-frame'],
    // Two files at a time (vitest's default on 2 cores is one): most suites wait on emulators and child
    // processes. Tests that build share nothing: the package test compiles into its own --out folder.
    maxWorkers: 2,
    reporters: ['default', 'json'],
    outputFile: { json: '.data/test-results.json' },
  },
});
