import { defineConfig } from 'vitest/config';

// `npm run test:azure` only: the contract suites against a real account (test/azure/*.azure.ts).
export default defineConfig({
  test: {
    include: ['test/azure/**/*.azure.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // As `npm start` and the Functions worker run: AsyncLocalStorage on async context frames.
    execArgv: ['--experimental-async-context-frame'],
  },
});
