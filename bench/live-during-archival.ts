// What an archival run costs live traffic (issue 18): autocannon reads one hot record from the server
// `npm start` composes, idle, then while an archival run started through the admin API (asOf a month
// ahead of the data) copies and purges. Two worlds: the embedded default (the run in the server's
// archival worker process), and the remote model (bench/support/remote-model.ts: modelled Cosmos and
// Blob round trips and one modelled RU/s limit that the API and the archiver share, 429 with
// retry-after past it), where the load is a fixed request rate that uses half of that limit. The ratios
// compare the two windows of the same server; the run's own rate is reported beside them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { fullDocument, toPersisted } from '../src/domain/record-document.ts';
import { estimateReadUnits } from '../src/domain/request-unit-model.ts';
import { BENCH_DIR, type Figure, runBenchmark } from './support/bench-result.ts';
import {
  benchFolder,
  benchRecords,
  loadRecords,
  REMOTE_MODEL_MS,
  removeFolder,
} from './support/bench-world.ts';
import { startChild } from './support/child-process.ts';
import { round } from './support/latency-stats.ts';
import { GENERATOR_NOW } from './support/profile.ts';

const CONNECTIONS = 16;
const SERVER = join(BENCH_DIR, 'support', 'api-server.ts');
/** A month ahead of the data: most records are old enough, the newest stay hot. */
const AS_OF = new Date(GENERATOR_NOW.getTime() + 31 * 24 * 3600_000).toISOString();
/** The remote model's load: a fixed rate, using this share of the modelled RU/s (the archiver's is 25 %). */
const REMOTE_REQUESTS_PER_SECOND = 200;
const REMOTE_API_SHARE = 0.5;

interface Window {
  readonly requestsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly non2xx: number;
  /** 429 and 503 answers (throttling or an outage reaching the caller). */
  readonly throttled: number;
  readonly errors: number;
}

interface RunAnswer {
  readonly status: string;
  readonly counts: { readonly copied: number; readonly purged: number };
  readonly durationMs: number;
  readonly throughput?: unknown;
  readonly executedBy?: unknown;
}

interface World {
  readonly idle: Window;
  readonly during: Window;
  readonly run: RunAnswer;
  readonly runAtEndOfLoad: RunAnswer;
  readonly model?: unknown;
}

await runBenchmark('live-during-archival', async ({ profile, log }) => {
  const records = profile.mode === 'quick' ? 1_500 : 3_000;
  const seconds = Math.max(3, profile.apiSeconds);
  const embedded = await measure('embedded', records, seconds, log);
  const remote = await measure('remote-model', records, seconds, log);
  for (const [name, world] of Object.entries({ embedded })) {
    for (const window of [world.idle, world.during])
      if (window.non2xx > 0 || window.errors > 0)
        throw new Error(`${name}: errors under load: ${JSON.stringify(window)}`);
  }
  const p99Ratio = (world: World) => round(world.during.latencyP99Ms / Math.max(1, world.idle.latencyP99Ms));
  const figures: Record<string, Figure> = {
    'live.hotThroughputDuringArchivalRatio': {
      value: round(embedded.during.requestsPerSecond / embedded.idle.requestsPerSecond),
      unit: 'x',
      description: `hot-read req/s during an archival run / idle, same server, ${CONNECTIONS} connections, embedded default (the run in the archival worker process)`,
      target: { kind: 'min', value: 0.8, text: '>= 0.8' },
    },
    'live.hotP99DuringArchivalRatio': {
      value: p99Ratio(embedded),
      unit: 'x',
      description: 'hot-read p99 during an archival run / idle (p99 floored at 1 ms), embedded default',
      target: { kind: 'max', value: 1.5, text: '<= 1.5' },
    },
    'live.archivedPerSecondDuringLoad': {
      value: round(embedded.run.counts.purged / (embedded.run.durationMs / 1000), 1),
      unit: 'records/s',
      description:
        "the archival run's own rate (records purged / run duration) while the load ran, embedded default",
    },
    'live.hotP99DuringArchivalRatioRemoteModel': {
      value: p99Ratio(remote),
      unit: 'x',
      description: `hot-read p99 during an archival run / idle behind the remote model (Cosmos ${REMOTE_MODEL_MS.cosmosPoint}/${REMOTE_MODEL_MS.cosmosQuery} ms, Blob ${REMOTE_MODEL_MS.blob} ms, one RU/s limit for the API and the archiver, the API's load at ${REMOTE_API_SHARE * 100} % of it): a model, not a measurement of Azure`,
      target: { kind: 'max', value: 1.25, text: '<= 1.25' },
    },
    'live.throttledAtCallersRemoteModel': {
      value: remote.idle.throttled + remote.during.throttled,
      unit: 'responses',
      description: '429 and 503 answers reaching API callers behind the remote model, both windows',
      target: { kind: 'max', value: 0, text: '0' },
    },
    'live.copiedPerSecondDuringLoadRemoteModel': {
      value: round(remote.runAtEndOfLoad.counts.copied / (remote.runAtEndOfLoad.durationMs / 1000), 1),
      unit: 'records/s',
      description:
        "the archival run's own rate behind the remote model while the load ran (records copied / run time so far; its RU budget is 25 % of the limit)",
    },
  };
  return {
    figures,
    details: {
      records,
      secondsPerWindow: seconds,
      connections: CONNECTIONS,
      asOf: AS_OF,
      embedded,
      remoteModel: remote,
      note: 'embedded: the run executes in the archival worker process of the server; remote model: in the server process, where the modelled RU/s limit it shares with the API is. Measured on a machine shared with other work (see machine.loadAverage)',
    },
  };
});

async function measure(
  mode: 'embedded' | 'remote-model',
  records: number,
  seconds: number,
  log: (message: string) => void,
): Promise<World> {
  const dir = benchFolder(`live-archival-${mode}`, 'tmpfs');
  try {
    const loader = new SqliteRecordStore({ path: join(dir, 'hot-store.sqlite') });
    await loadRecords(loader, records, log);
    await loader.close();
    // The newest record stays hot through the run: the live traffic reads it.
    const newest = Array.from(benchRecords(records)).reduce((a, b) => (a.issuedAt > b.issuedAt ? a : b));
    const path = `/api/v1/customers/${newest.customerId}/billing-records/${newest.id}`;
    const remote = mode === 'remote-model';
    const readUnits = estimateReadUnits(Buffer.byteLength(JSON.stringify(toPersisted(fullDocument(newest)))));
    const limit = Math.ceil((REMOTE_REQUESTS_PER_SECOND * readUnits) / REMOTE_API_SHARE);
    const server = await startChild<{ port: number; token: string }>(SERVER, [], {
      LOG_LEVEL: 'warn',
      PORT: '0',
      DATA_DIR: dir,
      REHYDRATE_AFTER_READS: '0',
      RATE_LIMIT_PER_PRINCIPAL: '10000000',
      RATE_LIMIT_PER_CUSTOMER: '10000000',
      ARCHIVE_GRACE_PERIOD: 'P0D',
      // Behind the model a run copies a few records a second: smaller pages report its progress within the window.
      ...(remote ? { REMOTE_MODEL_RU_PER_SECOND: String(limit), ARCHIVE_BATCH_SIZE: '10' } : {}),
    });
    let stopped = false;
    try {
      const { port, token } = server.hello;
      const base = `http://127.0.0.1:${port}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      const rate = remote ? REMOTE_REQUESTS_PER_SECOND : undefined;
      await cannon(base, token, path, 1, rate); // JIT and connections: not recorded
      const idle = summarize(await cannon(base, token, path, seconds, rate));
      log(`${mode} idle: ${JSON.stringify(idle)}`);
      const started = await fetch(`${base}/api/v1/admin/archival/runs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ asOf: AS_OF }),
      });
      if (started.status !== 202) throw new Error(`starting a run answered ${started.status}`);
      const { runId } = (await started.json()) as { runId: string };
      const during = summarize(await cannon(base, token, path, seconds, rate));
      log(`${mode} during the run: ${JSON.stringify(during)}`);
      const runAtEndOfLoad = await readRun(base, headers, runId);
      let run = runAtEndOfLoad;
      // Behind the model the run goes on at its budget's pace: its rate meanwhile is what is reported.
      while (!remote && run.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 250));
        run = await readRun(base, headers, runId);
      }
      log(`${mode} run ${run.status}: ${JSON.stringify(run.counts)} in ${run.durationMs} ms`);
      await server.stop();
      stopped = true;
      const model = remote
        ? {
            requestUnitsPerSecond: limit,
            hotReadUnits: readUnits,
            requestsPerSecond: rate,
            ...readModel(dir),
          }
        : undefined;
      return { idle, during, run, runAtEndOfLoad, ...(model !== undefined ? { model } : {}) };
    } finally {
      if (!stopped) await server.stop();
    }
  } finally {
    removeFolder(dir);
  }
}

/** What the server's remote model refused and charged (written when it stopped). */
function readModel(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'remote-model.json'), 'utf8')) as Record<string, unknown>;
}

async function readRun(base: string, headers: Record<string, string>, runId: string): Promise<RunAnswer> {
  const response = await fetch(`${base}/api/v1/admin/archival/runs/${runId}`, { headers });
  if (response.status !== 200) throw new Error(`reading run ${runId} answered ${response.status}`);
  return (await response.json()) as RunAnswer;
}

function cannon(
  base: string,
  token: string,
  path: string,
  seconds: number,
  overallRate: number | undefined,
): Promise<autocannon.Result> {
  return autocannon({
    url: `${base}${path}`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
    ...(overallRate !== undefined ? { overallRate } : {}),
  });
}

function summarize(result: autocannon.Result): Window {
  return {
    requestsPerSecond: Math.round(result['2xx'] / result.duration),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    throttled: ['429', '503'].reduce(
      (sum, code) =>
        sum + (result.statusCodeStats?.[code as keyof autocannon.Result['statusCodeStats']]?.count ?? 0),
      0,
    ),
    errors: result.errors,
  };
}
