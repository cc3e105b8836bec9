// What an archival run costs live traffic on the embedded default (issue 18): autocannon reads one hot
// record from the server `npm start` composes, idle, then while an archival run started through the
// admin API (asOf a month ahead of the data) copies and purges in the same server process. The ratios
// compare the two windows of the same run; the run's own rate is reported beside them.
import { join } from 'node:path';
import autocannon from 'autocannon';
import { SqliteRecordStore } from '../src/adapters/sqlite/sqlite-record-store.ts';
import { BENCH_DIR, type Figure, runBenchmark } from './support/bench-result.ts';
import { benchFolder, benchRecords, loadRecords, removeFolder } from './support/bench-world.ts';
import { startChild } from './support/child-process.ts';
import { round } from './support/latency-stats.ts';
import { GENERATOR_NOW } from './support/profile.ts';

const CONNECTIONS = 16;
const SERVER = join(BENCH_DIR, 'support', 'api-server.ts');
/** A month ahead of the data: most records are old enough, the newest stay hot. */
const AS_OF = new Date(GENERATOR_NOW.getTime() + 31 * 24 * 3600_000).toISOString();

interface Window {
  readonly requestsPerSecond: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly non2xx: number;
  readonly errors: number;
}

interface RunAnswer {
  readonly status: string;
  readonly counts: { readonly copied: number; readonly purged: number };
  readonly durationMs: number;
  readonly throughput?: unknown;
}

await runBenchmark('live-during-archival', async ({ profile, log }) => {
  const dir = benchFolder('live-archival', 'tmpfs');
  const records = profile.mode === 'quick' ? 1_500 : 3_000;
  const seconds = Math.max(3, profile.apiSeconds);
  try {
    const loader = new SqliteRecordStore({ path: join(dir, 'hot-store.sqlite') });
    await loadRecords(loader, records, log);
    await loader.close();
    // The newest record stays hot through the run: the live traffic reads it.
    const newest = Array.from(benchRecords(records)).reduce((a, b) => (a.issuedAt > b.issuedAt ? a : b));
    const path = `/api/v1/customers/${newest.customerId}/billing-records/${newest.id}`;
    const server = await startChild<{ port: number; token: string }>(SERVER, [], {
      LOG_LEVEL: 'warn',
      PORT: '0',
      DATA_DIR: dir,
      REHYDRATE_AFTER_READS: '0',
      RATE_LIMIT_PER_PRINCIPAL: '10000000',
      RATE_LIMIT_PER_CUSTOMER: '10000000',
      ARCHIVE_GRACE_PERIOD: 'P0D',
    });
    try {
      const { port, token } = server.hello;
      const base = `http://127.0.0.1:${port}`;
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      await cannon(base, token, path, 1); // JIT and connections: not recorded
      const idle = summarize(await cannon(base, token, path, seconds));
      log(`idle: ${JSON.stringify(idle)}`);
      const started = await fetch(`${base}/api/v1/admin/archival/runs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ asOf: AS_OF }),
      });
      if (started.status !== 202) throw new Error(`starting a run answered ${started.status}`);
      const { runId } = (await started.json()) as { runId: string };
      const during = summarize(await cannon(base, token, path, seconds));
      log(`during the run: ${JSON.stringify(during)}`);
      const runAtEndOfLoad = await readRun(base, headers, runId);
      let run = runAtEndOfLoad;
      while (run.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 250));
        run = await readRun(base, headers, runId);
      }
      log(`run ${run.status}: ${JSON.stringify(run.counts)} in ${run.durationMs} ms`);
      for (const window of [idle, during])
        if (window.non2xx > 0 || window.errors > 0)
          throw new Error(`errors under load: ${JSON.stringify(window)}`);
      const archivedPerSecond = round(run.counts.purged / (run.durationMs / 1000), 1);
      const figures: Record<string, Figure> = {
        'live.hotThroughputDuringArchivalRatio': {
          value: round(during.requestsPerSecond / idle.requestsPerSecond),
          unit: 'x',
          description: `hot-read req/s during an archival run / idle, same server, ${CONNECTIONS} connections, embedded default`,
          target: { kind: 'min', value: 0.8, text: '>= 0.8' },
        },
        'live.hotP99DuringArchivalRatio': {
          value: round(during.latencyP99Ms / Math.max(1, idle.latencyP99Ms)),
          unit: 'x',
          description: 'hot-read p99 during an archival run / idle (p99 floored at 1 ms), embedded default',
          target: { kind: 'max', value: 1.5, text: '<= 1.5' },
        },
        'live.archivedPerSecondDuringLoad': {
          value: archivedPerSecond,
          unit: 'records/s',
          description: "the archival run's own rate (records purged / run duration) while the load ran",
        },
      };
      return {
        figures,
        details: {
          records,
          secondsPerWindow: seconds,
          connections: CONNECTIONS,
          asOf: AS_OF,
          idle,
          during,
          run: { ...run, stillRunningWhenLoadEnded: runAtEndOfLoad.status === 'running' },
          note: 'the archiver runs in the API process (no worker thread yet); measured on a machine shared with other work',
        },
      };
    } finally {
      await server.stop();
    }
  } finally {
    removeFolder(dir);
  }
});

async function readRun(base: string, headers: Record<string, string>, runId: string): Promise<RunAnswer> {
  const response = await fetch(`${base}/api/v1/admin/archival/runs/${runId}`, { headers });
  if (response.status !== 200) throw new Error(`reading run ${runId} answered ${response.status}`);
  return (await response.json()) as RunAnswer;
}

function cannon(base: string, token: string, path: string, seconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: `${base}${path}`,
    connections: CONNECTIONS,
    duration: seconds,
    headers: { authorization: `Bearer ${token}` },
  });
}

function summarize(result: autocannon.Result): Window {
  return {
    requestsPerSecond: Math.round(result['2xx'] / result.duration),
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}
