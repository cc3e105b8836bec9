// How the operations console signs people in, from the config: MSAL with Entra ID when its app is set,
// and a dev sign-in only on the embedded default (dev key pair) listening on loopback alone.
import type { ConsoleOptions } from '../api/console-routes.ts';
import { isLoopbackHost } from '../api/console-routes.ts';
import type { AppConfig } from '../config/app-config.ts';
import { signDevToken } from './dev-tokens.ts';

/** A dev token from the console lives an hour: enough for a session, short if it leaks. */
const DEV_TOKEN_SECONDS = 3600;

export function consoleSignIn(config: AppConfig): ConsoleOptions {
  const { auth } = config;
  const clientId = config.console.clientId;
  const entra =
    clientId !== undefined && auth.kind !== 'dev-keys'
      ? {
          clientId,
          // Entra ID's v2 issuer is the authority followed by /v2.0.
          authority: auth.issuer.replace(/\/v2\.0\/?$/, ''),
          scopes: [`${auth.audience}/.default`],
        }
      : undefined;
  const devSignIn =
    auth.kind === 'dev-keys' && isLoopbackHost(config.host)
      ? (roles: readonly string[]) =>
          signDevToken(auth, { subject: 'console-dev', roles, expiresInSeconds: DEV_TOKEN_SECONDS })
      : undefined;
  return { ...(entra !== undefined ? { entra } : {}), ...(devSignIn !== undefined ? { devSignIn } : {}) };
}
