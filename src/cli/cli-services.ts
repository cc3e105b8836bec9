// How every operator CLI (`npm run archive`, `npm run audit`) opens the services: the settings of the
// server, a logger quieter than the server's, Ctrl+C that stops after the current batch, known failures
// turned into a message (and what to do next) and an exit code, and the services always closed.
import { createLogger } from '../composition/create-logger.ts';
import { openServices, type OpenedServices } from '../composition/open-services.ts';
import { describeError, isAppError } from '../domain/errors.ts';
import { loadConfigOrExit } from './serve.ts';

/** The opened services, with the signal that Ctrl+C raises. */
export type CliServices = OpenedServices & { readonly abortSignal: AbortSignal };

/** Opens the services, runs the command, closes them, and exits with the command's code. */
export async function withCliServices(
  work: (services: CliServices) => Promise<number>,
  settings: Readonly<Record<string, string>> = {},
): Promise<void> {
  const config = loadConfigOrExit(settings);
  const logger = createLogger({ logLevel: config.logLevel === 'info' ? 'warn' : config.logLevel });
  let services: OpenedServices;
  try {
    services = await openServices(config, logger);
  } catch (error) {
    console.error(`Could not open the stores: ${(error as Error).message}`);
    console.error(
      'Check the store settings (COSMOS_*, BLOB_*) and that the services answer, then try again.',
    );
    process.exit(1);
  }
  const controller = new AbortController();
  process.once('SIGINT', () => {
    console.error('\nStopping after the current batch (Ctrl+C again to quit now) ...');
    controller.abort();
    process.once('SIGINT', () => process.exit(130));
  });
  let code: number;
  try {
    code = await work({ ...services, abortSignal: controller.signal });
  } catch (error) {
    console.error(describeError(error));
    if (isAppError(error) && error.retryable)
      console.error('The failure is transient: try again in a moment.');
    code = 1;
  } finally {
    await services.close();
  }
  process.exit(code);
}
