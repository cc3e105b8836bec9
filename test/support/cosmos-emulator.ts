// Starts @vercel/cosmosdb-server in-process over HTTPS (its self-signed cert) on a free port, with a
// fault hook in front of it so tests can make the wire answer 429, 503, 413, hang, or lose a response.
import { once } from 'node:events';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHttpsServer } from '@vercel/cosmosdb-server';

/** What the emulator does instead of (or after) serving a matching request. */
export type EmulatorFaultAction =
  /** Answer with this status without touching the data, as a throttled or failing service would. */
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Readonly<Record<string, string>> }
  /** Never answer (until stop): the client's request timeout or abort signal has to end it. */
  | { readonly kind: 'hang' }
  /** Apply the request, then reset the connection instead of answering: a write whose outcome is unknown. */
  | { readonly kind: 'lose-response' };

export interface EmulatorFault {
  readonly action: EmulatorFaultAction;
  /** Which requests it applies to; by default every request on a document (`/docs`). */
  readonly method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  readonly path?: RegExp;
  /** How many matching requests it applies to (default 1). */
  readonly times?: number;
  /** How many matching requests it lets through, served normally, before it applies (default 0). */
  readonly skip?: number;
}

export interface InjectedFault {
  /** Resolves with the first matching request's headers when it arrives: wait on this, never sleep. */
  readonly hit: Promise<IncomingHttpHeaders>;
  /** How many requests it has answered so far. */
  hits(): number;
  /** How many requests matched so far, those let through by `skip` included. */
  matched(): number;
}

export interface CosmosEmulator {
  readonly endpoint: string;
  /** Any key works: the emulator does not check signatures. */
  readonly key: string;
  injectFault(fault: EmulatorFault): InjectedFault;
  clearFaults(): void;
  stop(): Promise<void>;
}

interface PendingFault {
  readonly fault: EmulatorFault;
  remaining: number;
  hits: number;
  toSkip: number;
  matched: number;
  readonly onHit: (headers: IncomingHttpHeaders) => void;
}

type RequestHandler = (request: IncomingMessage, response: ServerResponse) => void;

export async function startCosmosEmulator(): Promise<CosmosEmulator> {
  // keepAlive makes the emulator answer `connection: keep-alive`, so the client reuses its TLS sockets.
  const server = createHttpsServer({ keepAlive: true });
  const [serve] = server.listeners('request') as RequestHandler[];
  if (serve === undefined) throw new Error('cosmosdb-server registered no request handler');
  server.removeAllListeners('request');

  let faults: PendingFault[] = [];
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const pending = faults.find((candidate) => matches(candidate.fault, request));
    if (pending === undefined) return serve(request, response);
    pending.matched += 1;
    if (pending.toSkip > 0) {
      pending.toSkip -= 1;
      return serve(request, response);
    }
    pending.remaining -= 1;
    pending.hits += 1;
    if (pending.remaining <= 0) faults = faults.filter((candidate) => candidate !== pending);
    pending.onHit(request.headers);
    const action = pending.fault.action;
    if (action.kind === 'hang') return;
    if (action.kind === 'lose-response') {
      // The emulator applies the write and only then would answer; the client sees a reset socket.
      response.end = (() => {
        request.socket.destroy();
        return response;
      }) as ServerResponse['end'];
      return serve(request, response);
    }
    request.resume();
    response.writeHead(action.status, { 'content-type': 'application/json', ...action.headers });
    response.end(JSON.stringify({ code: String(action.status), message: `injected fault ${action.status}` }));
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  let stopped = false;

  return {
    endpoint: `https://127.0.0.1:${port}`,
    key: 'C2y6yDjf5/R+ob0N8A7Cgv30VRDJIWEHLM+4QDU5DE2nQ9nDuVTqobD4b8mGGyPMbIZnqyMsEcaGQy67XIw/Jw==',
    injectFault(fault) {
      let onHit: PendingFault['onHit'] = () => {};
      const hit = new Promise<IncomingHttpHeaders>((resolve) => (onHit = resolve));
      const pending: PendingFault = {
        fault,
        remaining: fault.times ?? 1,
        hits: 0,
        toSkip: fault.skip ?? 0,
        matched: 0,
        onHit,
      };
      faults.push(pending);
      return { hit, hits: () => pending.hits, matched: () => pending.matched };
    },
    clearFaults() {
      faults = [];
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const closed = once(server, 'close');
      server.close();
      // Keep-alive and hanging connections would hold close() open for ever.
      server.closeAllConnections();
      await closed;
    },
  };
}

function matches(fault: EmulatorFault, request: IncomingMessage): boolean {
  const path = request.url ?? '';
  return (
    (fault.method === undefined || fault.method === request.method) &&
    (fault.path ?? /\/docs(\/|$)/).test(path)
  );
}

/**
 * The settings of a deployment on this emulator as the end-to-end files run it: its own database, auth
 * from a JWKS file as an Entra ID deployment has it, and the archive (and control store) on the
 * in-process Azurite in DATA_DIR, so the Blob SDK path runs end to end.
 */
export function cosmosDeploymentSettings(
  emulator: Pick<CosmosEmulator, 'endpoint' | 'key'>,
  options: {
    readonly database: string;
    readonly jwksPath: string;
    readonly issuer: string;
    readonly audience: string;
  },
): Record<string, string> {
  return {
    COSMOS_ENDPOINT: emulator.endpoint,
    COSMOS_KEY: emulator.key,
    COSMOS_DATABASE: options.database,
    COSMOS_ALLOW_INSECURE_TLS: 'true',
    // The emulator cannot say its throughput (the default budget would fall back to 100 RU/s of
    // estimated charges): runs here are unlimited unless a test sets a budget itself.
    ARCHIVE_MAX_RU_PER_SECOND: '0',
    AUTH_JWKS_PATH: options.jwksPath,
    AUTH_ISSUER: options.issuer,
    AUTH_AUDIENCE: options.audience,
    // The embedded default archive is files; Azurite is chosen here.
    EMBEDDED_ARCHIVE: 'azurite',
  };
}
