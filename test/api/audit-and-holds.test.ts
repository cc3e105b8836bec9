// The audit trail and legal holds through inject(): a record's history in GET /admin/audit, denials
// audited and counted, the audit of the audit, customer holds that hold (archival goes on, with the blob's
// hold marker), and a mutating request refused with 503 when its event cannot be made durable.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteAuditLog } from '../../src/adapters/sqlite/sqlite-audit-log.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { AuditEvent } from '../../src/domain/audit-event.ts';
import type { AuditLog } from '../../src/ports/audit-log.ts';
import { customerHoldMarkingJob } from '../../src/records/customer-hold-marking.ts';
import { type ApiHarness, startApiHarness } from '../support/api-harness.ts';
import { policyOf } from '../support/archival-harness.ts';
import { makeInput } from '../support/record-fixtures.ts';

const ADMIN = ['Billing.Admin', 'Billing.Read', 'Billing.Write'];
const DAY = 24 * 3600_000;
const records = (customerId: string): string => `/api/v1/customers/${customerId}/billing-records`;
const adminRecord = (customerId: string, id: string): string =>
  `/api/v1/admin/customers/${customerId}/billing-records/${id}`;

let api: ApiHarness;
beforeAll(async () => {
  api = await startApiHarness({ policy: policyOf('P3M', 'P0D', 'P1D') });
});
afterAll(async () => {
  await api.close();
});

async function auditOf(query: string): Promise<AuditEvent[]> {
  // Read events are batched: what the trail holds is written once it is flushed.
  await api.test.wired.audit.flush();
  const response = await api.call({ method: 'GET', url: `/api/v1/admin/audit?${query}`, roles: ADMIN });
  expect(response.statusCode).toBe(200);
  return response.json<{ items: AuditEvent[] }>().items;
}

function holdCustomer(customerId: string, reason: string) {
  return api.call({
    method: 'PUT',
    url: `/api/v1/admin/customers/${customerId}/legal-hold`,
    payload: { reason },
    roles: ADMIN,
  });
}

function jobIdOf(location: unknown): string {
  expect(location).toMatch(/^\/api\/v1\/admin\/jobs\/job-/);
  return String(location).split('/').at(-1)!;
}

async function createOld(customerId: string, id: string): Promise<void> {
  const issuedAt = new Date(api.clock.now().getTime() - 200 * DAY).toISOString();
  const created = await api.call({
    method: 'POST',
    url: records(customerId),
    payload: makeInput({ id, issuedAt }),
  });
  expect(created.statusCode).toBe(201);
}

describe('the audit trail', () => {
  it("follows a record's history: created, read, held, a refused change, with actors and reasons", async () => {
    await createOld('cust-aud-1', 'r1');
    expect((await api.call({ method: 'GET', url: `${records('cust-aud-1')}/r1` })).statusCode).toBe(200);
    const hold = await api.call({
      method: 'PUT',
      url: `${adminRecord('cust-aud-1', 'r1')}/legal-hold`,
      payload: { reason: 'case 7' },
      roles: ADMIN,
    });
    expect(hold.statusCode).toBe(200);
    const refused = await api.call({
      method: 'PUT',
      url: `${records('cust-aud-1')}/r1`,
      payload: makeInput({ id: 'r1' }),
    });
    expect(refused.statusCode).toBe(409);
    const events = await auditOf('recordId=r1&customerId=cust-aud-1');
    expect(events.map((event) => [event.action, event.status, event.reason])).toEqual([
      ['record.create', 201, null],
      ['record.read', 200, null],
      ['legal-hold.set', 200, 'case 7'],
      ['record.replace', 409, null],
    ]);
    expect(events[2]?.actor).toEqual({ sub: 'test-user', roles: [...ADMIN].sort() });
    expect(events.every((event) => event.requestId !== null && event.hash.length === 64)).toBe(true);
  });

  it('audits and counts every denial, by reason', async () => {
    const anonymous = await api.app.inject({ method: 'GET', url: records('cust-aud-2') });
    expect(anonymous.statusCode).toBe(401);
    const readOnly = await api.call({
      method: 'DELETE',
      url: `${records('cust-aud-2')}/r1`,
      roles: ['Billing.Read'],
    });
    expect(readOnly.statusCode).toBe(403);
    const denied = await auditOf('customerId=cust-aud-2&action=auth.denied');
    expect(denied.map((event) => [event.actor.sub, event.status, event.reason])).toEqual([
      ['anonymous', 401, 'missing_token: GET /api/v1/customers/{customerId}/billing-records'],
      ['test-user', 403, 'role: DELETE /api/v1/customers/{customerId}/billing-records/{recordId}'],
    ]);
    const metrics = await api.app.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toMatch(/auth_denied_total\{reason="missing_token"\} [1-9]/);
    expect(metrics.body).toMatch(/auth_denied_total\{reason="role"\} [1-9]/);
    expect(metrics.body).toMatch(/audit_events_total [1-9]/);
  });

  it('audits its own reads, and records the actor and reason of runs and rehydrations', async () => {
    await auditOf('customerId=nobody');
    const run = await api.call({
      method: 'POST',
      url: '/api/v1/admin/archival/runs',
      payload: { customerId: 'cust-aud-3', reason: 'pilot' },
      roles: ADMIN,
    });
    expect(run.statusCode).toBe(202);
    await api.test.archival.waitForRun(run.json<{ runId: string }>().runId);
    const bulk = await api.call({
      method: 'POST',
      url: '/api/v1/admin/rehydrations',
      payload: { customerId: 'cust-aud-3', dryRun: true, reason: 'rollback drill' },
      roles: ADMIN,
    });
    expect(bulk.statusCode).toBe(202);
    const pin = await api.call({
      method: 'PUT',
      url: `${adminRecord('cust-aud-3', 'nope')}/pin`,
      headers: { 'x-audit-reason': 'hot for the quarter' },
      roles: ADMIN,
    });
    expect(pin.statusCode).toBe(404);
    const events = await auditOf('customerId=cust-aud-3');
    expect(events.map((event) => [event.action, event.status, event.reason])).toEqual([
      ['archival.run', 202, 'pilot'],
      ['rehydrate', 202, 'rollback drill'],
      ['pin.set', 404, 'hot for the quarter'],
    ]);
    const reads = await auditOf('action=audit.read');
    expect(reads.length).toBeGreaterThanOrEqual(2);
  });

  it('pages the audit with a cursor bound to its filters', async () => {
    for (let i = 0; i < 3; i++) await api.call({ method: 'GET', url: records('cust-aud-4') });
    await api.test.wired.audit.flush();
    const first = await api.call({
      method: 'GET',
      url: '/api/v1/admin/audit?customerId=cust-aud-4&limit=2',
      roles: ADMIN,
    });
    const page = first.json<{ items: AuditEvent[]; nextCursor: string }>();
    expect(page.items).toHaveLength(2);
    const second = await api.call({
      method: 'GET',
      url: `/api/v1/admin/audit?customerId=cust-aud-4&limit=2&cursor=${page.nextCursor}`,
      roles: ADMIN,
    });
    expect(second.json()).toMatchObject({ nextCursor: null });
    expect(second.json().items).toHaveLength(1);
    const replayed = await api.call({
      method: 'GET',
      url: `/api/v1/admin/audit?customerId=cust-other&limit=2&cursor=${page.nextCursor}`,
      roles: ADMIN,
    });
    expect(replayed.statusCode).toBe(400);
  });

  it('verifies the chain over the API', async () => {
    const verified = await api.call({ method: 'POST', url: '/api/v1/admin/audit/verify', roles: ADMIN });
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toMatchObject({ ok: true, firstBroken: null, chains: 1 });
    expect(verified.json().checked).toBeGreaterThan(10);
  });
});

describe('legal holds that hold', () => {
  it("a customer's hold refuses PUT, PATCH and DELETE of present and future records; archival goes on, marking blobs", async () => {
    await createOld('cust-hold-1', 'r1');
    const set = await holdCustomer('cust-hold-1', 'regulator inquiry');
    expect(set.statusCode).toBe(200);
    expect(set.json()).toMatchObject({ customerId: 'cust-hold-1', recordId: null, setBy: 'test-user' });
    await createOld('cust-hold-1', 'r2');
    for (const id of ['r1', 'r2']) {
      const url = `${records('cust-hold-1')}/${id}`;
      const put = await api.call({ method: 'PUT', url, payload: makeInput({ id }) });
      const patch = await api.call({
        method: 'PATCH',
        url,
        payload: { currency: 'EUR' },
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      const del = await api.call({ method: 'DELETE', url });
      for (const response of [put, patch, del]) {
        expect(response.statusCode).toBe(409);
        expect(response.json()).toMatchObject({ code: 'LEGAL_HOLD' });
      }
      expect((await api.call({ method: 'GET', url })).statusCode).toBe(200);
    }
    api.clock.advance(2 * DAY);
    const run = await api.test.archival.run({ customerId: 'cust-hold-1' });
    expect(run.counts).toMatchObject({ copied: 2, purged: 2 });
    expect(api.test.archive.heldPaths().filter((path) => path.includes('cust-hold-1'))).toHaveLength(2);

    const listed = await api.call({ method: 'GET', url: '/api/v1/admin/legal-holds', roles: ADMIN });
    expect(listed.json().items).toContainEqual(
      expect.objectContaining({
        customerId: 'cust-hold-1',
        recordId: null,
        reason: 'regulator inquiry',
        setBy: 'test-user',
      }),
    );

    const released = await api.call({
      method: 'DELETE',
      url: '/api/v1/admin/customers/cust-hold-1/legal-hold',
      roles: ADMIN,
    });
    expect(released.statusCode).toBe(204);
    // Released at once; the blobs are unmarked by the job that Location names.
    await api.test.wired.jobs.waitFor(jobIdOf(released.headers.location));
    expect(api.test.archive.heldPaths().filter((path) => path.includes('cust-hold-1'))).toEqual([]);
    expect((await api.call({ method: 'DELETE', url: `${records('cust-hold-1')}/r1` })).statusCode).toBe(204);
    const again = await api.call({
      method: 'DELETE',
      url: '/api/v1/admin/customers/cust-hold-1/legal-hold',
      roles: ADMIN,
    });
    expect(again.statusCode).toBe(404);
  });

  it("marks a customer's archived blobs in a job: the hold answers at once with its jobId, the job reports and is audited", async () => {
    for (const id of ['r1', 'r2', 'r3']) await createOld('cust-hold-3', id);
    api.clock.advance(2 * DAY);
    expect((await api.test.archival.run({ customerId: 'cust-hold-3' })).counts).toMatchObject({ copied: 3 });
    const heldOf = () => api.test.archive.heldPaths().filter((path) => path.includes('cust-hold-3'));
    expect(heldOf()).toEqual([]);

    const set = await holdCustomer('cust-hold-3', 'litigation 12');
    expect(set.statusCode).toBe(200);
    const { jobId } = set.json<{ jobId: string }>();
    expect(set.headers.location).toBe(`/api/v1/admin/jobs/${jobId}`);
    // In force before any blob is marked.
    const refused = await api.call({ method: 'DELETE', url: `${records('cust-hold-3')}/r1` });
    expect(refused.statusCode).toBe(409);

    await api.test.wired.jobs.waitFor(jobId);
    expect(heldOf()).toHaveLength(3);
    const job = await api.call({ method: 'GET', url: `/api/v1/admin/jobs/${jobId}`, roles: ADMIN });
    expect(job.json()).toMatchObject({
      kind: 'legal-hold-marking',
      status: 'succeeded',
      counts: { candidates: 3, held: 3, released: 0, failed: 0 },
    });
    const [event] = await auditOf('customerId=cust-hold-3&action=legal-hold.set');
    expect(event).toMatchObject({ status: 200, reason: 'litigation 12', actor: { sub: 'test-user' } });

    const released = await api.call({
      method: 'DELETE',
      url: '/api/v1/admin/customers/cust-hold-3/legal-hold',
      roles: ADMIN,
    });
    expect(released.statusCode).toBe(204);
    const release = await api.test.wired.jobs.waitFor(jobIdOf(released.headers.location));
    expect(release.counts).toMatchObject({ candidates: 3, held: 0, released: 3 });
    expect(heldOf()).toEqual([]);
  });

  it('resumes by running again: a marking job that failed on some blobs is partial, the next converges', async () => {
    for (const id of ['r1', 'r2', 'r3']) await createOld('cust-hold-4', id);
    api.clock.advance(2 * DAY);
    expect((await api.test.archival.run({ customerId: 'cust-hold-4' })).counts).toMatchObject({ copied: 3 });
    const heldOf = () => api.test.archive.heldPaths().filter((path) => path.includes('cust-hold-4'));
    // Blob refuses the marker of one blob, once: the job goes on past the failure and counts it.
    let refused = false;
    const flaky = {
      setLegalHold: (path: string, held: boolean) => {
        if (!refused && path.includes('r2')) {
          refused = true;
          return Promise.reject(new AppError('UNAVAILABLE', 'Blob is unreachable'));
        }
        return api.test.archive.legalHolds.setLegalHold(path, held);
      },
    };
    const hold = { customerId: 'cust-hold-4', recordId: null, reason: 'r', setBy: 'u', setAt: 'now' };
    const job = () =>
      customerHoldMarkingJob(
        { holds: { get: () => Promise.resolve(hold) }, store: api.store, archiveHolds: flaky, pageSize: 2 },
        { customerId: 'cust-hold-4', change: 'set', by: 'test-user' },
      );
    const first = await api.test.wired.jobs.run(job());
    expect(first.status).toBe('partial');
    expect(first.counts).toMatchObject({ candidates: 3, held: 2, failed: 1 });
    expect(first.failures[0]).toContain('Blob is unreachable');
    expect(heldOf()).toHaveLength(2);
    const again = await api.test.wired.jobs.run(job());
    expect(again).toMatchObject({ status: 'succeeded', counts: { candidates: 3, held: 3, failed: 0 } });
    expect(heldOf()).toHaveLength(3);
  });

  it("lists a record's own hold with who set it, and marks its blob once archived", async () => {
    await createOld('cust-hold-2', 'r1');
    await api.call({
      method: 'PUT',
      url: `${adminRecord('cust-hold-2', 'r1')}/legal-hold`,
      payload: { reason: 'dispute' },
      roles: ADMIN,
    });
    api.clock.advance(2 * DAY);
    expect((await api.test.archival.run({ customerId: 'cust-hold-2' })).counts).toMatchObject({ copied: 1 });
    expect(api.test.archive.heldPaths().filter((path) => path.includes('cust-hold-2'))).toHaveLength(1);
    const listed = await api.call({ method: 'GET', url: '/api/v1/admin/legal-holds', roles: ADMIN });
    expect(listed.json().items).toContainEqual(
      expect.objectContaining({
        customerId: 'cust-hold-2',
        recordId: 'r1',
        reason: 'dispute',
        setBy: 'test-user',
      }),
    );
    await api.call({ method: 'DELETE', url: `${adminRecord('cust-hold-2', 'r1')}/legal-hold`, roles: ADMIN });
    expect(api.test.archive.heldPaths().filter((path) => path.includes('cust-hold-2'))).toEqual([]);
    const after = await api.call({ method: 'GET', url: '/api/v1/admin/legal-holds', roles: ADMIN });
    expect(after.json().items.some((hold: { customerId: string }) => hold.customerId === 'cust-hold-2')).toBe(
      false,
    );
  });
});

/** A log that refuses appends while `down` is set. */
class SwitchableAuditLog implements AuditLog {
  down = false;
  readonly #inner = new SqliteAuditLog({ path: ':memory:' });
  append(events: readonly AuditEvent[]): Promise<void> {
    if (this.down) return Promise.reject(new AppError('UNAVAILABLE', 'audit store down'));
    return this.#inner.append(events);
  }
  query(...args: Parameters<AuditLog['query']>) {
    return this.#inner.query(...args);
  }
  chains() {
    return this.#inner.chains();
  }
  close() {
    return this.#inner.close();
  }
}

describe('when the audit log refuses events', () => {
  it('answers 503 to a mutating request, refuses the next before it changes anything, and writes the event once back', async () => {
    const log = new SwitchableAuditLog();
    const local = await startApiHarness({ audit: log });
    try {
      const url = `${records('cust-down')}`;
      log.down = true;
      const first = await local.call({ method: 'POST', url, payload: makeInput({ id: 'a' }) });
      expect(first.statusCode).toBe(503);
      expect(first.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(first.headers['retry-after']).toBeDefined();
      const second = await local.call({ method: 'POST', url, payload: makeInput({ id: 'b' }) });
      expect(second.statusCode).toBe(503);
      expect(await local.store.get({ customerId: 'cust-down', id: 'b' })).toBeUndefined();
      // Reads still answer; their events wait in the batch.
      expect((await local.call({ method: 'GET', url: `${url}/a` })).statusCode).toBe(200);
      log.down = false;
      await local.test.wired.audit.flush();
      const events = (await log.query({ customerId: 'cust-down', limit: 10 })).items;
      expect(events.map((event) => [event.action, event.recordId, event.status])).toEqual([
        // The change was made; its event (with the handler's outcome) was kept and written once back.
        ['record.create', 'a', 201],
        // Refused before it changed anything; its event too is written once the log is back.
        ['record.create', null, 503],
        ['record.read', 'a', 200],
      ]);
      expect((await local.call({ method: 'POST', url, payload: makeInput({ id: 'b' }) })).statusCode).toBe(
        201,
      );
    } finally {
      await local.close();
    }
  });
});
