// A child process serving the API exactly as `npm start` composes it (loadConfig, openServices with its
// archival worker, buildHttpServer), on the data folder in DATA_DIR, for autocannon in the parent. With `--bare` it
// serves the baseline instead: Fastify answering a record's stored JSON from a direct SQLite read,
// with no auth, validation or tiers. Prints one JSON line {port, token} once it listens. With
// BENCH_TRACING=off the API runs without OpenTelemetry's tracer provider (not a setting of the product);
// with BENCH_TELEMETRY=off, without the tracer provider and without the request metrics either.
// With BENCH_BARE_ROUTE=1 the API's server also serves the baseline's route (/r/...), through every hook
// the server has (request span, metrics, request logger and id) and none of the API's pipeline.
// With BENCH_GC_ON_SIGNAL=1, SIGUSR2 forces a full garbage collection and then writes the process's memory
// to gc-<n>.json in DATA_DIR: what the process retains, garbage left out (the export benchmark).
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import Fastify, { type FastifyInstance } from 'fastify';
import { loadOrCreateDevKeyPair } from '../../src/adapters/dev-identity/dev-key-pair.ts';
import { buildHttpServer } from '../../src/api/http-server.ts';
import { createLogger } from '../../src/composition/create-logger.ts';
import { openServices } from '../../src/composition/open-services.ts';
import { startTracing } from '../../src/composition/telemetry.ts';
import { loadConfig } from '../../src/config/app-config.ts';
import { ModelledThroughput, remoteModelPorts } from './remote-model.ts';

const bare = process.argv.includes('--bare');
const dataDir = process.env.DATA_DIR;
if (dataDir === undefined) throw new Error('DATA_DIR is required');

if (process.env.BENCH_GC_ON_SIGNAL === '1') {
  // gc() without starting the process with --expose-gc: the flag set now, the function from a new context.
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let collections = 0;
  process.on('SIGUSR2', () => {
    // Twice: the first full GC may leave what only its finalizers release.
    gc();
    gc();
    const file = join(dataDir, `gc-${collections++}.json`);
    // Each V8 space's committed size beside the totals: what of the RSS is heap the collector keeps.
    const spaces = Object.fromEntries(
      getHeapSpaceStatistics().map((space) => [space.space_name, space.space_size]),
    );
    writeFileSync(`${file}.tmp`, JSON.stringify({ ...process.memoryUsage(), spaces }));
    renameSync(`${file}.tmp`, file);
  });
}

/** The baseline's route: a record's stored JSON from a direct SQLite read, sent as it is. Returns the close. */
function addBareRoute(app: FastifyInstance, folder: string): () => void {
  const db = new DatabaseSync(join(folder, 'hot-store.sqlite'), { readOnly: true });
  const read = db.prepare('SELECT doc FROM records WHERE customer_id = ? AND id = ?');
  app.get<{ Params: { customerId: string; id: string } }>('/r/:customerId/:id', (request, reply) => {
    const row = read.get(request.params.customerId, request.params.id) as { doc: string } | undefined;
    if (row === undefined) return reply.code(404).send();
    return reply.type('application/json').send(row.doc);
  });
  return () => db.close();
}

if (bare) {
  const app = Fastify({ logger: false });
  const closeBare = addBareRoute(app, dataDir);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.server.address();
  console.log(
    JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0, token: '' }),
  );
  process.once('SIGTERM', () => {
    void app.close().then(() => {
      closeBare();
      process.exit(0);
    });
  });
} else {
  const config = loadConfig(process.env, process.cwd());
  // As serve() does: the tracer provider first, so every request is traced as under `npm start`.
  // BENCH_TRACING=off leaves it out (no context manager, no request spans): what tracing costs a request.
  const telemetryOff = process.env.BENCH_TELEMETRY === 'off';
  if (process.env.BENCH_TRACING !== 'off' && !telemetryOff)
    await startTracing({ connectionString: config.telemetry.connectionString });
  const logger = createLogger(config);
  // REMOTE_MODEL_RU_PER_SECOND: the stores behind the remote model, one RU/s limit for the API and the
  // archiver (which then runs in this process, where the limit is).
  const modelled = process.env.REMOTE_MODEL_RU_PER_SECOND;
  const throughput = modelled === undefined ? undefined : new ModelledThroughput(Number(modelled));
  const services = await openServices(config, logger, {
    archivalWorker: config.archival.worker === 'process',
    ...(throughput !== undefined ? { wrapPorts: (ports) => remoteModelPorts(ports, throughput) } : {}),
  });
  const app = await buildHttpServer({
    ...services.application,
    logger,
    ...(telemetryOff ? {} : { metrics: services.httpMetrics }),
  });
  const closeBare = process.env.BENCH_BARE_ROUTE === '1' ? addBareRoute(app, dataDir) : () => undefined;
  await app.listen({ port: 0, host: '127.0.0.1' });
  if (config.auth.kind !== 'dev-keys') throw new Error('the benchmark server signs its own dev token');
  const keys = await loadOrCreateDevKeyPair(config.auth.folder);
  const token = await keys.sign({
    subject: 'bench',
    roles: ['Billing.Read', 'Billing.Admin'],
    issuer: config.auth.issuer,
    audience: config.auth.audience,
    expiresInSeconds: 3600,
  });
  const address = app.server.address();
  console.log(
    JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0, token }),
  );
  process.once('SIGTERM', () => {
    // What the model refused and charged, for the parent (read after this process ends).
    if (throughput !== undefined)
      writeFileSync(
        join(dataDir, 'remote-model.json'),
        JSON.stringify({ refused: throughput.refused, spent: throughput.spent }),
      );
    void app
      .close()
      .then(() => closeBare())
      .then(() => services.close())
      .then(() => process.exit(0));
  });
}
