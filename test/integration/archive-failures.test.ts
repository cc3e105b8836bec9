// Issue 4, failures of the archive through the real composition (SQLite, Azurite in-process): a blob whose
// bytes no longer match its stub is never served (500 ARCHIVE_INTEGRITY, counted, listed by verify),
// and Blob down makes archived reads 503 with Retry-After while hot records keep serving.
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRecords,
  type Deployment,
  expectOutage,
  header,
  openDeployment,
  pointerOf,
  RECENT_ISSUED_AT,
  recordUrl,
  type Snapshot,
  snapshotOf,
  storedTier,
} from './tiered-records.scenario.ts';

const OLD = '2024-04-03T10:00:00.000Z';

/** Replaces a blob by other bytes under the same metadata: bit rot, or a bad hand edit. */
async function rewriteBlob(
  deployment: Deployment,
  path: string,
  change: (json: string) => string,
): Promise<void> {
  const archive = deployment.services.ports.archive;
  const blob = await archive.get(path);
  if (blob === undefined) throw new Error(`no blob ${path}`);
  const json = gunzipSync(blob.body).toString('utf8');
  const changed = change(json);
  if (changed === json) throw new Error(`the change left ${path} as it was`);
  await archive.delete(path, {});
  await archive.putIfAbsent({
    path,
    body: gzipSync(changed),
    contentType: blob.properties.contentType,
    contentEncoding: 'gzip',
    metadata: blob.properties.metadata,
    accessTier: 'Cold',
  });
}

function expectIntegrityFailure(answer: {
  statusCode: number;
  body: string;
  headers: Record<string, unknown>;
}): void {
  expect(answer.statusCode, answer.body).toBe(500);
  expect(String(answer.headers['content-type'])).toMatch(/^application\/problem\+json/);
  expect(JSON.parse(answer.body)).toMatchObject({ status: 500, code: 'ARCHIVE_INTEGRITY' });
  // Nothing of the record leaks: not its line items, not its invoice number.
  expect(answer.body).not.toContain('lineItems');
  expect(answer.body).not.toContain('INV-');
}

describe('a corrupted archive', () => {
  const customerId = 'cust-corrupt';
  const key = (id: string): { customerId: string; id: string } => ({ customerId, id });
  let deployment: Deployment | undefined;
  let hot: Map<string, Snapshot>;
  const paths = new Map<string, string>();

  beforeAll(async () => {
    deployment = await openDeployment();
    hot = await createRecords(
      deployment,
      customerId,
      ['inv-reformatted', 'inv-tampered', 'inv-missing', 'inv-fine'].map((id) => ({ id, issuedAt: OLD })),
    );
    await deployment.archive();
    for (const id of hot.keys()) paths.set(id, (await pointerOf(deployment, key(id))).blobPath);
    // The same record, differently spaced: it parses to identical content, only the sha256 tells.
    await rewriteBlob(deployment, paths.get('inv-reformatted')!, (json) =>
      json.replace('"version":', '"version" :'),
    );
    // Another amount: valid JSON, a valid record, the wrong one.
    await rewriteBlob(deployment, paths.get('inv-tampered')!, (json) =>
      json.replace(
        /"totalMinor":(\d+)/,
        (_match, total: string) => `"totalMinor":${Number(total) + 100_000}`,
      ),
    );
    await deployment.services.ports.archive.delete(paths.get('inv-missing')!, {});
  });
  afterAll(() => deployment?.close());

  it('answers 500 ARCHIVE_INTEGRITY for a blob whose bytes no longer hash to the stub, every time, and counts it', async () => {
    const d = deployment!;
    const failures = await d.counter('archive_integrity_failures_total');
    for (let attempt = 1; attempt <= 2; attempt++) {
      expectIntegrityFailure(await d.call('GET', recordUrl(key('inv-reformatted'))));
      expect(await d.counter('archive_integrity_failures_total')).toBe(failures + attempt);
    }
  });

  it('never serves a tampered record, even one that is valid JSON', async () => {
    const d = deployment!;
    const failures = await d.counter('archive_integrity_failures_total');
    const answer = await d.call('GET', recordUrl(key('inv-tampered')));
    expectIntegrityFailure(answer);
    expect(answer.body).not.toContain('totalMinor');
    expect(await d.counter('archive_integrity_failures_total')).toBe(failures + 1);
  });

  it('answers 500 ARCHIVE_INTEGRITY for a stub whose blob is gone', async () => {
    const d = deployment!;
    const failures = await d.counter('archive_integrity_failures_total');
    expectIntegrityFailure(await d.call('GET', recordUrl(key('inv-missing'))));
    expect(await d.counter('archive_integrity_failures_total')).toBe(failures + 1);
  });

  it('refuses to write over a corrupted record: the PATCH fails and the stub stays as it was', async () => {
    const d = deployment!;
    const before = await pointerOf(d, key('inv-tampered'));
    expectIntegrityFailure(
      await d.call('PATCH', recordUrl(key('inv-tampered')), { body: { status: 'paid' } }),
    );
    expect(await pointerOf(d, key('inv-tampered'))).toEqual(before);
  });

  it('still serves the healthy archived record with its bytes and ETag', async () => {
    const answer = await deployment!.call('GET', recordUrl(key('inv-fine')));
    expect(answer.statusCode).toBe(200);
    expect(header(answer, 'x-storage-tier')).toBe('archive');
    expect(snapshotOf(answer)).toEqual(hot.get('inv-fine'));
  });

  it('has verify list exactly the broken records', async () => {
    const result = await deployment!.services.archival.verify();
    expect(result.checked).toBe(4);
    expect(
      result.mismatches.map(({ customerId: customer, id, blobPath }) => ({
        customerId: customer,
        id,
        blobPath,
      })),
    ).toEqual(
      expect.arrayContaining(
        ['inv-reformatted', 'inv-tampered', 'inv-missing'].map((id) => ({
          customerId,
          id,
          blobPath: paths.get(id),
        })),
      ),
    );
    expect(result.mismatches).toHaveLength(3);
  });
});

describe('Blob down', () => {
  const customerId = 'cust-blob-down';
  const key = (id: string): { customerId: string; id: string } => ({ customerId, id });
  let deployment: Deployment | undefined;
  let hot: Map<string, Snapshot>;

  beforeAll(async () => {
    deployment = await openDeployment({ azuriteOnDisk: true });
    hot = await createRecords(deployment, customerId, [
      { id: 'inv-archived', issuedAt: OLD },
      { id: 'inv-recent', issuedAt: RECENT_ISSUED_AT },
    ]);
    await deployment.archive();
  });
  afterAll(() => deployment?.close());

  it('answers 503 with Retry-After for archived records while hot ones serve, and recovers when Blob is back', async () => {
    const d = deployment!;
    expect(await storedTier(d, key('inv-archived'))).toBe('archived');
    const failures = await d.counter('archive_integrity_failures_total');
    await d.stopAzurite();

    expectOutage(await d.call('GET', recordUrl(key('inv-archived'))));
    expectOutage(await d.call('PATCH', recordUrl(key('inv-archived')), { body: { status: 'paid' } }));
    expect(await storedTier(d, key('inv-archived'))).toBe('archived');
    const hotRead = await d.call('GET', recordUrl(key('inv-recent')));
    expect(hotRead.statusCode).toBe(200);
    expect(header(hotRead, 'x-storage-tier')).toBe('hot');
    expect(snapshotOf(hotRead)).toEqual(hot.get('inv-recent'));
    // The audit trail lives in the same Blob account (append blobs): a change whose event cannot be made
    // durable is refused (503), before it changes anything, until the account answers again.
    const hotWrite = await d.call('PATCH', recordUrl(key('inv-recent')), { body: { status: 'paid' } });
    expectOutage(hotWrite);
    expect(snapshotOf(await d.call('GET', recordUrl(key('inv-recent'))))).toEqual(hot.get('inv-recent'));
    const ready = await d.app.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(503);
    expect(ready.json()).toMatchObject({ checks: { archive: 'down', hotStore: 'up' } });
    // An outage is not an integrity failure.
    expect(await d.counter('archive_integrity_failures_total')).toBe(failures);

    await d.restartAzurite();
    // The events held back meanwhile are written at the next flush; then changes are taken again.
    await d.services.audit.flush();
    const hotWriteAfter = await d.call('PATCH', recordUrl(key('inv-recent')), { body: { status: 'paid' } });
    expect(hotWriteAfter.statusCode, hotWriteAfter.body).toBe(200);
    const read = await d.call('GET', recordUrl(key('inv-archived')));
    expect(read.statusCode, read.body).toBe(200);
    expect(header(read, 'x-storage-tier')).toBe('archive');
    expect(snapshotOf(read)).toEqual(hot.get('inv-archived'));
  });
});
