// The Azure Functions v4 entry point (package.json "main" for the Functions host): one HTTP trigger per
// route of the shared table. The stores open on the first request a worker serves, not at indexing.
import { app } from '@azure/functions';
import { type ApiApplication, ROUTE_TABLE } from '../api/api-application.ts';
import { createLogger } from '../composition/create-logger.ts';
import { openServices } from '../composition/open-services.ts';
import { loadConfig } from '../config/app-config.ts';
import { type RegisterHttpFunction, registerHttpFunctions } from './http-functions.ts';

export interface OpenedApplication {
  readonly application: ApiApplication;
  close(): Promise<void>;
}

export interface RegisteredFunctions {
  /** Closes the stores if a request opened them (worker shutdown). */
  close(): Promise<void>;
}

/** Registers every route; `open` runs once per worker, and again only after it failed. */
export function registerAll(
  register: RegisterHttpFunction,
  open: () => Promise<OpenedApplication>,
): RegisteredFunctions {
  let opening: Promise<OpenedApplication> | undefined;
  const opened = (): Promise<OpenedApplication> => {
    // A failed open (Cosmos DB unreachable at cold start) is not cached: the next request retries.
    opening ??= open().catch((error: unknown) => {
      opening = undefined;
      throw error;
    });
    return opening;
  };
  registerHttpFunctions(register, ROUTE_TABLE.routes, async () => (await opened()).application);
  return {
    async close() {
      const current = await opening?.catch(() => undefined);
      opening = undefined;
      await current?.close();
    },
  };
}

/** The composition `npm start` uses, from the Function App's settings. */
export async function openFromEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<OpenedApplication> {
  const config = loadConfig(env, cwd);
  const services = await openServices(config, createLogger(config));
  return { application: services.application, close: () => services.close() };
}

const functions = registerAll(
  (name, options) => app.http(name, options),
  () => openFromEnvironment(process.env, process.cwd()),
);
app.hook.appTerminate(() => functions.close());
