// The API with its operations console, over the test application's real in-memory adapters, with the
// dev sign-in of the embedded default (tokens signed by the test key pair).
import type { FastifyInstance } from 'fastify';
import type { ConsoleOptions } from '../../src/api/console-routes.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import { policyOf } from './archival-harness.ts';
import { createTestApplication, TEST_AUDIENCE, TEST_ISSUER, type TestApplication } from './api-harness.ts';

export interface ConsoleServer {
  readonly test: TestApplication;
  readonly app: FastifyInstance;
  close(): Promise<void>;
}

export async function startConsoleServer(
  options: { readonly devSignIn?: boolean; readonly entra?: ConsoleOptions['entra'] } = {},
): Promise<ConsoleServer> {
  // Grace 0: a run copies and purges at once, so a run started in the console finishes its records.
  const test = await createTestApplication({ policy: policyOf('P3M', 'P0D', 'P1D') });
  const devSignIn = (roles: readonly string[]) =>
    test.keys.sign({
      subject: 'console-dev',
      roles,
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      expiresInSeconds: 600,
    });
  const app = await buildHttpServer({
    ...test.application,
    metrics: test.metrics,
    console: {
      ...(options.devSignIn !== false ? { devSignIn } : {}),
      ...(options.entra !== undefined ? { entra: options.entra } : {}),
    },
  });
  return {
    test,
    app,
    async close() {
      await app.close();
      await test.wired.shutdown();
      await test.store.close();
    },
  };
}
