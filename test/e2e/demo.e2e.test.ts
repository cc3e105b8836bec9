// End to end: `npm run demo -- --records 300 --seed 7` loads seeded records, says what it loaded, and
// serves them; a second run on the same DATA_DIR skips what is already there.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatBytes } from '../../src/demo/billing-record-generator.ts';
import {
  killStartedProcesses,
  runScript,
  type ServerProcess,
  startServerProcess,
} from '../support/server-process.ts';
import { call, recordsUrl } from './api-scenario.ts';

const dataDir = mkdtempSync(join(tmpdir(), 'billing-e2e-demo-'));
const env = { DATA_DIR: dataDir };
const DEMO_ARGS = ['--records', '300', '--seed', '7'];

afterAll(async () => {
  await killStartedProcesses();
  rmSync(dataDir, { recursive: true, force: true });
});

interface Banner {
  readonly loaded: number;
  readonly present: number;
  readonly customerId: string;
  readonly customerRecords: number;
  readonly largestPath: string;
  readonly largestSize: string;
}

function readBanner(output: string): Banner {
  const figures = /Demo data: 300 records from seed 7: (\d+) loaded, (\d+) already present/.exec(output);
  const busiest =
    /List a customer's records \((\d+) of them\), newest first:\n.*\/api\/v1\/customers\/([\w.:-]+)\/billing-records\?limit=5/.exec(
      output,
    );
  const largest =
    /Read the largest record \(([\d.]+ [KM]iB)\):\n.*(\/api\/v1\/customers\/[\w.:-]+\/billing-records\/[\w.:-]+)/.exec(
      output,
    );
  if (figures === null || busiest === null || largest === null)
    throw new Error(`unexpected banner:\n${output}`);
  return {
    loaded: Number(figures[1]),
    present: Number(figures[2]),
    customerRecords: Number(busiest[1]),
    customerId: busiest[2] ?? '',
    largestSize: largest[1] ?? '',
    largestPath: largest[2] ?? '',
  };
}

async function readAll(
  baseUrl: string,
  token: string,
  customerId: string,
): Promise<Array<Record<string, unknown>>> {
  const items: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  do {
    const query: string = `?limit=20${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const page = await call(baseUrl, `${recordsUrl(customerId)}${query}`, { token });
    expect(page.status, page.text).toBe(200);
    items.push(...page.json().items);
    cursor = page.json().nextCursor;
  } while (cursor !== null && items.length < 1000);
  return items;
}

describe('npm run demo', () => {
  let first: Banner;
  let firstLargest: string;

  it('loads 300 seeded records, prints what it loaded, and serves a customer named in the banner', async () => {
    const demo: ServerProcess = await startServerProcess(env, { script: 'src/cli/demo.ts', args: DEMO_ARGS });
    first = readBanner(demo.output());
    expect(first).toMatchObject({ loaded: 300, present: 0 });
    expect(demo.output()).toContain('Loading demo records: 100% (300/300, ');
    expect(first.customerRecords).toBeGreaterThan(1);

    const token = await runScript('src/cli/token.ts', ['--role', 'Billing.Read'], env);
    expect(token.code, token.stderr).toBe(0);
    const bearer = token.stdout.trim();
    const items = await readAll(demo.baseUrl, bearer, first.customerId);
    expect(items).toHaveLength(first.customerRecords);
    expect(new Set(items.map((item) => item.id)).size).toBe(items.length);
    for (const item of items) expect(item).toMatchObject({ customerId: first.customerId, version: 1 });
    const issued = items.map((item) => String(item.issuedAt));
    expect(issued).toEqual([...issued].sort().reverse());

    const largest = await call(demo.baseUrl, first.largestPath, { token: bearer });
    expect(largest.status).toBe(200);
    expect(largest.headers.get('etag')).toBe('"1"');
    expect(formatBytes(Buffer.byteLength(largest.text))).toBe(first.largestSize);
    firstLargest = largest.text;

    expect(await demo.stop('SIGTERM')).toBe(0);
  });

  it('skips the records already there when run again on the same DATA_DIR', async () => {
    expect(first).toBeDefined();
    const demo = await startServerProcess(env, { script: 'src/cli/demo.ts', args: DEMO_ARGS });
    const again = readBanner(demo.output());
    expect(again).toEqual({ ...first, loaded: 0, present: 300 });

    const token = await runScript('src/cli/token.ts', ['--role', 'Billing.Read'], env);
    expect(token.code, token.stderr).toBe(0);
    const bearer = token.stdout.trim();
    expect(await readAll(demo.baseUrl, bearer, first.customerId)).toHaveLength(first.customerRecords);
    const largest = await call(demo.baseUrl, first.largestPath, { token: bearer });
    expect(largest.text).toBe(firstLargest);
    expect(largest.headers.get('etag')).toBe('"1"');

    expect(await demo.stop('SIGTERM')).toBe(0);
  });
});
