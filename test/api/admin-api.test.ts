// The operations endpoints of API.md through inject(): runs, status, rehydrate, legal hold, pin, inspect.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiHarness, startApiHarness } from '../support/api-harness.ts';
import { policyOf } from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const ADMIN = ['Billing.Admin', 'Billing.Read', 'Billing.Write'];
const DAY = 24 * 3600_000;
let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness({ policy: policyOf('P3M', 'P0D', 'P1D') });
});
afterAll(async () => {
  await api.close();
});

const records = (customerId: string): string => `/api/v1/customers/${customerId}/billing-records`;
const admin = (customerId: string, id: string): string =>
  `/api/v1/admin/customers/${customerId}/billing-records/${id}`;

async function createOld(customerId: string, id: string): Promise<string> {
  const issuedAt = new Date(api.clock.now().getTime() - 200 * DAY).toISOString();
  const response = await api.call({
    method: 'POST',
    url: records(customerId),
    payload: makeInput({ id, issuedAt }),
  });
  expect(response.statusCode).toBe(201);
  return response.body;
}

async function runArchival(body: object = {}): Promise<Record<string, unknown>> {
  const started = await api.call({
    method: 'POST',
    url: '/api/v1/admin/archival/runs',
    payload: body,
    roles: ADMIN,
  });
  expect(started.statusCode).toBe(202);
  const { runId } = started.json<{ runId: string }>();
  expect(started.headers.location).toBe(`/api/v1/admin/archival/runs/${runId}`);
  await api.test.archival.waitForRun(runId);
  const report = await api.call({ method: 'GET', url: `/api/v1/admin/archival/runs/${runId}`, roles: ADMIN });
  expect(report.statusCode).toBe(200);
  return report.json();
}

describe('admin authorization and validation', () => {
  it('answers 403 without Billing.Admin and 401 without a token', async () => {
    const forbidden = await api.call({ method: 'GET', url: '/api/v1/admin/archival/status' });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });
    const anonymous = await api.app.inject({ method: 'GET', url: '/api/v1/admin/archival/status' });
    expect(anonymous.statusCode).toBe(401);
  });

  it.each([
    [{ dryRun: 'yes' }, '/dryRun'],
    [{ asOf: 'tomorrow' }, '/asOf'],
    [{ limit: 0 }, '/limit'],
    [{ surprise: true }, '/surprise'],
  ])('refuses a run request %j with a field error and starts nothing', async (body, field) => {
    const response = await api.call({
      method: 'POST',
      url: '/api/v1/admin/archival/runs',
      payload: body,
      roles: ADMIN,
    });
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    expect(response.json<{ errors: Array<{ field: string }> }>().errors.map((e) => e.field)).toContain(field);
    expect((await api.test.archival.listRuns()).length).toBe(0);
  });

  it('answers 404 for an unknown run', async () => {
    const response = await api.call({
      method: 'GET',
      url: '/api/v1/admin/archival/runs/run-nope',
      roles: ADMIN,
    });
    expect(response.statusCode).toBe(404);
  });
});

describe('archival through the API', () => {
  it('runs archival (no body needed), reports it, and the record reads the same bytes and ETag afterwards', async () => {
    const before = await createOld('cust-adm-1', 'r1');
    api.clock.advance(2 * DAY);
    const report = await runArchival();
    expect(report).toMatchObject({ status: 'succeeded', counts: { copied: 1, purged: 1, failed: 0 } });
    expect(report.finishedAt).toEqual(expect.any(String));
    // The report says what budget the run had and where it came from (SQLite: nothing provisioned).
    expect(report.throughput).toMatchObject({
      requestUnitsPerSecond: 0,
      source: 'embedded',
      concurrency: { current: expect.any(Number) as number },
    });
    const read = await api.call({ method: 'GET', url: `${records('cust-adm-1')}/r1` });
    expect(read.headers['x-storage-tier']).toMatch(/archive|cache/);
    expect(read.body).toBe(before);
    expect(read.headers.etag).toBe('"1"');
    // The copy was due the instant the purge read it (one manual clock, grace 0): the purge's position, and
    // so the status, counts it as history from the next run on (with a real clock, from the same run).
    api.clock.advance(60_000);
    await runArchival();
    const status = await api.call({ method: 'GET', url: '/api/v1/admin/archival/status', roles: ADMIN });
    expect(status.json()).toMatchObject({
      counts: { archived: 1, copied: 0, stuck: 0, failed: 0 },
      stuck: [],
      failed: [],
    });
  });

  it('a dry run with asOf, limit and customerId counts without writing', async () => {
    await createOld('cust-adm-2', 'r1');
    await createOld('cust-adm-2', 'r2');
    const report = await runArchival({
      dryRun: true,
      limit: 1,
      customerId: 'cust-adm-2',
      asOf: '2027-01-01T00:00:00Z',
    });
    expect(report).toMatchObject({ counts: { candidates: 1, copied: 0, purged: 0 } });
    const read = await api.call({ method: 'GET', url: `${records('cust-adm-2')}/r1` });
    expect(read.headers['x-storage-tier']).toBe('hot');
  });

  it('rehydrates an archived record: hot again, same bytes and ETag', async () => {
    const before = await createOld('cust-adm-3', 'r1');
    api.clock.advance(2 * DAY);
    await runArchival({ customerId: 'cust-adm-3' });
    const rehydrated = await api.call({
      method: 'POST',
      url: `${admin('cust-adm-3', 'r1')}/rehydrate`,
      roles: ADMIN,
    });
    expect(rehydrated.json()).toEqual({ result: 'rehydrated' });
    const read = await api.call({ method: 'GET', url: `${records('cust-adm-3')}/r1` });
    expect(read.headers['x-storage-tier']).toBe('hot');
    expect(read.body).toBe(before);
    const again = await api.call({
      method: 'POST',
      url: `${admin('cust-adm-3', 'r1')}/rehydrate`,
      roles: ADMIN,
    });
    expect(again.json()).toEqual({ result: 'already-hot' });
    const missing = await api.call({
      method: 'POST',
      url: `${admin('cust-adm-3', 'nope')}/rehydrate`,
      roles: ADMIN,
    });
    expect(missing.statusCode).toBe(404);
  });

  it('a legal hold blocks DELETE (409 LEGAL_HOLD) on hot and archived records until cleared', async () => {
    await createOld('cust-adm-4', 'r1');
    const hold = await api.call({
      method: 'PUT',
      url: `${admin('cust-adm-4', 'r1')}/legal-hold`,
      payload: { reason: 'litigation 42' },
      roles: ADMIN,
    });
    expect(hold.statusCode).toBe(200);
    expect(hold.json()).toMatchObject({ legalHold: { reason: 'litigation 42' } });
    const badHold = await api.call({
      method: 'PUT',
      url: `${admin('cust-adm-4', 'r1')}/legal-hold`,
      payload: {},
      roles: ADMIN,
    });
    expect(badHold.statusCode).toBe(400);
    api.clock.advance(2 * DAY);
    await runArchival({ customerId: 'cust-adm-4' });
    const blocked = await api.call({ method: 'DELETE', url: `${records('cust-adm-4')}/r1` });
    expect(blocked.statusCode).toBe(409);
    expect(blocked.json()).toMatchObject({ code: 'LEGAL_HOLD' });
    const cleared = await api.call({
      method: 'DELETE',
      url: `${admin('cust-adm-4', 'r1')}/legal-hold`,
      roles: ADMIN,
    });
    expect(cleared.json()).not.toHaveProperty('legalHold');
    expect((await api.call({ method: 'DELETE', url: `${records('cust-adm-4')}/r1` })).statusCode).toBe(204);
  });

  it('a pinned record is never archived; unpinned, it is', async () => {
    await createOld('cust-adm-5', 'r1');
    await api.call({ method: 'PUT', url: `${admin('cust-adm-5', 'r1')}/pin`, roles: ADMIN });
    api.clock.advance(2 * DAY);
    const pinned = await runArchival({ customerId: 'cust-adm-5' });
    expect(pinned).toMatchObject({ counts: { copied: 0 }, skippedReasons: { pinned: 1 } });
    await api.call({ method: 'DELETE', url: `${admin('cust-adm-5', 'r1')}/pin`, roles: ADMIN });
    const unpinned = await runArchival({ customerId: 'cust-adm-5' });
    expect(unpinned).toMatchObject({ counts: { copied: 1, purged: 1 } });
  });
});

describe('status after a run as of a later instant', () => {
  it('counts the records a run a month ahead purged as archived, and the rest as hot', async () => {
    // A harness of its own: the status counts every record, and the other tests share theirs.
    const own = await startApiHarness({ policy: policyOf('P3M', 'P0D', 'P1D') });
    try {
      for (const [id, daysAgo] of [
        ['old-1', 200],
        ['old-2', 200],
        ['old-3', 200],
        ['recent', 30],
      ] as const) {
        const issuedAt = new Date(own.clock.now().getTime() - daysAgo * DAY).toISOString();
        const created = await own.call({
          method: 'POST',
          url: records('cust-asof'),
          payload: makeInput({ id, issuedAt }),
        });
        expect(created.statusCode).toBe(201);
      }
      own.clock.advance(2 * DAY);
      const asOf = new Date(own.clock.now().getTime() + 31 * DAY).toISOString();
      const started = await own.call({
        method: 'POST',
        url: '/api/v1/admin/archival/runs',
        payload: { asOf },
        roles: ADMIN,
      });
      expect(started.statusCode).toBe(202);
      const report = await own.test.archival.waitForRun(started.json<{ runId: string }>().runId);
      expect(report.counts).toMatchObject({ copied: 3, purged: 3, failed: 0 });
      const status = await own.call({ method: 'GET', url: '/api/v1/admin/archival/status', roles: ADMIN });
      expect(status.json()).toMatchObject({
        counts: { hot: 1, copied: 0, archived: 3, stuck: 0, failed: 0 },
      });
    } finally {
      await own.close();
    }
  });
});

describe('a record’s controls', () => {
  it('shows tier, version, own and customer hold, pin and archive location as they change', async () => {
    await createOld('cust-adm-6', 'r1');
    const inspect = async () => {
      const response = await api.call({ method: 'GET', url: admin('cust-adm-6', 'r1'), roles: ADMIN });
      expect(response.statusCode).toBe(200);
      return response.json<Record<string, unknown>>();
    };
    expect(await inspect()).toEqual({
      customerId: 'cust-adm-6',
      recordId: 'r1',
      tier: 'hot',
      version: 1,
      legalHold: null,
      customerLegalHold: null,
      pinned: false,
      rehydratedAt: null,
      archive: null,
    });
    await api.call({ method: 'PUT', url: `${admin('cust-adm-6', 'r1')}/pin`, roles: ADMIN });
    expect(await inspect()).toMatchObject({ pinned: true });
    await api.call({ method: 'DELETE', url: `${admin('cust-adm-6', 'r1')}/pin`, roles: ADMIN });
    api.clock.advance(2 * DAY);
    await runArchival({ customerId: 'cust-adm-6' });
    const archived = await inspect();
    expect(archived).toMatchObject({ tier: 'archived', version: 1, pinned: false });
    expect(archived.archive).toMatchObject({
      blobPath: expect.stringContaining('/cust-adm-6/r1/v1.json.gz'),
    });
    await api.call({
      method: 'PUT',
      url: '/api/v1/admin/customers/cust-adm-6/legal-hold',
      payload: { reason: 'audit 2026' },
      roles: ADMIN,
    });
    await api.call({
      method: 'PUT',
      url: `${admin('cust-adm-6', 'r1')}/legal-hold`,
      payload: { reason: 'litigation 7' },
      roles: ADMIN,
    });
    expect(await inspect()).toMatchObject({
      legalHold: { reason: 'litigation 7' },
      customerLegalHold: { reason: 'audit 2026' },
    });
    const missing = await api.call({ method: 'GET', url: admin('cust-adm-6', 'nope'), roles: ADMIN });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ code: 'NOT_FOUND' });
    const reader = await api.call({ method: 'GET', url: admin('cust-adm-6', 'r1') });
    expect(reader.statusCode).toBe(403);
  });
});

describe('cost report', () => {
  it('measures the stores and prices them before, after and at the floor, saying how each figure was obtained', async () => {
    await createOld('cust-cost', 'r1');
    await createOld('cust-cost', 'r2');
    api.clock.advance(2 * DAY);
    await runArchival({ customerId: 'cust-cost' });
    const response = await api.call({ method: 'GET', url: '/api/v1/admin/cost-report', roles: ADMIN });
    expect(response.statusCode).toBe(200);
    const report = response.json();
    expect(report.prices).toMatchObject({ currency: 'USD', asOf: expect.any(String) });
    expect(report.measurements.archivedRecords.value).toBeGreaterThanOrEqual(2);
    expect(report.measurements.compressionRatio.value).toBeGreaterThan(1);
    expect(report.measurements.archivalRuPerRecord).toMatchObject({ source: 'estimated' });
    for (const figure of Object.values(report.measurements) as Array<{ source: string; how: string }>) {
      expect(['measured', 'estimated']).toContain(figure.source);
      expect(figure.how.length).toBeGreaterThan(0);
    }
    expect(report.before.total).toBeGreaterThan(0);
    expect(report.after.total).toBeLessThanOrEqual(report.before.total);
    expect(report.floor.total).toBeLessThanOrEqual(report.after.total);
    expect(report.whatIf.map((w: { archiveAfterMonths: number }) => w.archiveAfterMonths)).toEqual([
      1, 3, 6, 12,
    ]);
    const forbidden = await api.call({ method: 'GET', url: '/api/v1/admin/cost-report' });
    expect(forbidden.statusCode).toBe(403);
  });
});

describe('runs answer at once, and the most recent are listed', () => {
  it('answers GET .../runs/{runId} right after the 202, before the run has gone anywhere', async () => {
    const started = await api.call({
      method: 'POST',
      url: '/api/v1/admin/archival/runs',
      payload: { dryRun: true },
      roles: ADMIN,
    });
    expect(started.statusCode).toBe(202);
    const { runId } = started.json<{ runId: string }>();
    const atOnce = await api.call({
      method: 'GET',
      url: `/api/v1/admin/archival/runs/${runId}`,
      roles: ADMIN,
    });
    expect(atOnce.statusCode, atOnce.body).toBe(200);
    expect(['running', 'succeeded']).toContain(atOnce.json().status);
    await api.test.archival.waitForRun(runId);
  });

  it('lists the most recent runs, newest first, as GET .../runs/{runId} shows each', async () => {
    await runArchival({ dryRun: true });
    await runArchival({ dryRun: true });
    const listed = await api.call({
      method: 'GET',
      url: '/api/v1/admin/archival/runs?limit=2',
      roles: ADMIN,
    });
    expect(listed.statusCode).toBe(200);
    const { items } = listed.json<{ items: Array<{ runId: string; startedAt: string }> }>();
    expect(items).toHaveLength(2);
    expect(items[0]!.runId > items[1]!.runId).toBe(true);
    const one = await api.call({
      method: 'GET',
      url: `/api/v1/admin/archival/runs/${items[0]!.runId}`,
      roles: ADMIN,
    });
    expect(one.json()).toEqual(items[0]);
    for (const limit of ['0', '101', 'many']) {
      const bad = await api.call({
        method: 'GET',
        url: `/api/v1/admin/archival/runs?limit=${limit}`,
        roles: ADMIN,
      });
      expect(bad.statusCode, limit).toBe(400);
      expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    }
  });
});

describe('bulk rehydration as a job', () => {
  async function startJob(body: object): Promise<string> {
    const started = await api.call({
      method: 'POST',
      url: '/api/v1/admin/rehydrations',
      payload: body,
      roles: ADMIN,
    });
    expect(started.statusCode, started.body).toBe(202);
    const { jobId } = started.json<{ jobId: string }>();
    expect(started.headers.location).toBe(`/api/v1/admin/jobs/${jobId}`);
    const atOnce = await api.call({ method: 'GET', url: `/api/v1/admin/jobs/${jobId}`, roles: ADMIN });
    expect(atOnce.statusCode).toBe(200);
    expect(atOnce.json()).toMatchObject({ jobId, kind: 'rehydration' });
    await api.test.wired.jobs.waitFor(jobId);
    const done = await api.call({ method: 'GET', url: `/api/v1/admin/jobs/${jobId}`, roles: ADMIN });
    return done.json();
  }

  it('dry-runs, then brings a customer’s archived records back hot with the same bytes and ETags', async () => {
    const bodies = new Map<string, string>();
    for (const id of ['b1', 'b2', 'b3']) bodies.set(id, await createOld('cust-bulk', id));
    await createOld('cust-bulk-other', 'o1');
    api.clock.advance(2 * DAY);
    await runArchival({});
    const dry = await startJob({ customerId: 'cust-bulk', dryRun: true });
    expect(dry).toMatchObject({
      status: 'succeeded',
      dryRun: true,
      counts: { candidates: 3, rehydrated: 0, failed: 0 },
      finishedAt: expect.any(String),
    });
    expect((await api.store.get({ customerId: 'cust-bulk', id: 'b1' }))?.document.tier).toBe('archived');

    const real = await startJob({ customerId: 'cust-bulk' });
    expect(real).toMatchObject({
      status: 'succeeded',
      dryRun: false,
      counts: { candidates: 3, rehydrated: 3, alreadyHot: 0, failed: 0 },
      failures: [],
    });
    for (const [id, body] of bodies) {
      const read = await api.call({ method: 'GET', url: `${records('cust-bulk')}/${id}` });
      expect(read.body).toBe(body);
      expect(read.headers['x-storage-tier']).toBe('hot');
    }
    // Only the named customer: the other one's record stays archived.
    expect((await api.store.get({ customerId: 'cust-bulk-other', id: 'o1' }))?.document.tier).toBe(
      'archived',
    );
  });

  it('refuses a bad body and answers 404 for an unknown job', async () => {
    const bad = await api.call({
      method: 'POST',
      url: '/api/v1/admin/rehydrations',
      payload: { customerId: 'a b', everything: true },
      roles: ADMIN,
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    const unknown = await api.call({ method: 'GET', url: '/api/v1/admin/jobs/job-nope', roles: ADMIN });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ code: 'NOT_FOUND' });
    const forbidden = await api.call({ method: 'POST', url: '/api/v1/admin/rehydrations', payload: {} });
    expect(forbidden.statusCode).toBe(403);
  });
});

describe('customer export', () => {
  it('streams every record of the customer as NDJSON, each line the bytes a GET returns, oldest first', async () => {
    const bodies = [];
    for (const [id, days] of [
      ['e1', 300],
      ['e2', 250],
    ] as const) {
      const issuedAt = new Date(api.clock.now().getTime() - days * DAY).toISOString();
      const created = await api.call({
        method: 'POST',
        url: records('cust-export'),
        payload: makeInput({ id, issuedAt }),
      });
      bodies.push(created.body);
    }
    api.clock.advance(2 * DAY);
    await runArchival({ customerId: 'cust-export' });
    const recent = await api.call({
      method: 'POST',
      url: records('cust-export'),
      payload: makeInput({ id: 'e3', issuedAt: api.clock.now().toISOString() }),
    });
    bodies.push(recent.body);
    const exported = await api.call({
      method: 'GET',
      url: '/api/v1/admin/customers/cust-export/export',
      roles: ADMIN,
    });
    expect(exported.statusCode).toBe(200);
    expect(exported.headers['content-type']).toBe('application/x-ndjson');
    expect(exported.body).toBe(bodies.map((body) => `${body}\n`).join(''));
    const empty = await api.call({
      method: 'GET',
      url: '/api/v1/admin/customers/cust-nobody/export',
      roles: ADMIN,
    });
    expect(empty.statusCode).toBe(200);
    expect(empty.body).toBe('');
    const forbidden = await api.call({ method: 'GET', url: '/api/v1/admin/customers/cust-export/export' });
    expect(forbidden.statusCode).toBe(403);
    // Every admin read is on record too: the alert state as well.
    expect((await api.call({ method: 'GET', url: '/api/v1/admin/alerts', roles: ADMIN })).statusCode).toBe(
      200,
    );
    // Who took the customer's data out is on record, by name.
    await api.test.wired.audit.flush();
    const trail = await api.call({
      method: 'GET',
      url: '/api/v1/admin/audit?customerId=cust-export&action=export',
      roles: ADMIN,
    });
    expect(trail.statusCode).toBe(200);
    expect((trail.json() as { items: Array<{ status: number }> }).items.map((event) => event.status)).toEqual(
      [200],
    );
    const alertReads = await api.call({
      method: 'GET',
      url: '/api/v1/admin/audit?action=alerts.read',
      roles: ADMIN,
    });
    expect((alertReads.json() as { items: unknown[] }).items).toHaveLength(1);
  });
});
