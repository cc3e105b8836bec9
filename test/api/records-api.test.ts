// The records endpoints of API.md, through Fastify inject() over the SQLite adapter, run twice: with
// every record hot, and with every record archived and purged before each request (asOf ten years
// ahead, grace 0). Every answer (status, ETag, Location, content type, body bytes) must be identical:
// archival is invisible through the API, and an If-Match taken before archival still holds after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fullDocument } from '../../src/domain/record-document.ts';
import { type ApiHarness, type LoggedResponse, startApiHarness } from '../support/api-harness.ts';
import { policyOf } from '../support/archival-harness.ts';
import { makeInput, resetFixtureSequence } from '../support/record-fixtures.ts';

const TIERS = ['hot', 'archived'] as const;
const responses: Record<(typeof TIERS)[number], LoggedResponse[]> = { hot: [], archived: [] };

describe.each(TIERS)('records API with every record %s', (tier) => {
  let api: ApiHarness;
  beforeAll(async () => {
    resetFixtureSequence();
    api = await startApiHarness({
      policy: policyOf('P3M', 'P0D', 'P1D'),
      deterministicIds: true,
      archiveBeforeEachCall: tier === 'archived',
      responses: responses[tier],
    });
  });
  afterAll(async () => {
    await api.close();
  });

  let seq = 0;
  const customer = (): string => `cust-api-${++seq}`;
  const base = (customerId: string): string => `/api/v1/customers/${customerId}/billing-records`;

  async function create(customerId: string, overrides = {}) {
    const response = await api.call({ method: 'POST', url: base(customerId), payload: makeInput(overrides) });
    expect(response.statusCode).toBe(201);
    return response;
  }

  describe('POST /billing-records', () => {
    it('creates a record at version 1 with Location and ETag, and answers the bytes a GET returns next', async () => {
      const customerId = customer();
      const created = await create(customerId, { id: 'inv-1' });
      expect(created.headers.etag).toBe('"1"');
      expect(created.headers.location).toBe(`${base(customerId)}/inv-1`);
      const body = created.json();
      expect(body).toMatchObject({ id: 'inv-1', customerId, version: 1 });
      expect(body.createdAt).toBe(api.clock.now().toISOString());
      const read = await api.call({ method: 'GET', url: `${base(customerId)}/inv-1` });
      expect(read.statusCode).toBe(200);
      expect(read.body).toBe(created.body);
      expect(read.headers.etag).toBe('"1"');
      expect(read.headers['content-type']).toMatch(/^application\/json/);
    });

    it('keeps the key order of API.md whatever order the client sent', async () => {
      const customerId = customer();
      const input = makeInput({ id: 'ordered' });
      const reversed = Object.fromEntries(Object.entries(input).reverse());
      const created = await api.call({ method: 'POST', url: base(customerId), payload: reversed });
      expect(Object.keys(created.json())).toEqual([
        'id',
        'customerId',
        'invoiceNumber',
        'issuedAt',
        'billingPeriod',
        'currency',
        'status',
        'lineItems',
        'subtotalMinor',
        'taxMinor',
        'totalMinor',
        'metadata',
        'version',
        'createdAt',
        'updatedAt',
      ]);
    });

    it('generates an id when the body has none', async () => {
      const customerId = customer();
      const created = await create(customerId);
      const { id } = created.json<{ id: string }>();
      expect(id).toMatch(/^[A-Za-z0-9._:-]{1,128}$/);
      expect((await api.call({ method: 'GET', url: `${base(customerId)}/${id}` })).statusCode).toBe(200);
    });

    it('answers 409 ALREADY_EXISTS for an existing id and keeps the first record', async () => {
      const customerId = customer();
      const first = await create(customerId, { id: 'dup' });
      const second = await api.call({
        method: 'POST',
        url: base(customerId),
        payload: makeInput({ id: 'dup', invoiceNumber: 'X' }),
      });
      expect(second.statusCode).toBe(409);
      expect(second.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(second.json()).toMatchObject({ status: 409, code: 'ALREADY_EXISTS' });
      expect((await api.call({ method: 'GET', url: `${base(customerId)}/dup` })).body).toBe(first.body);
    });

    it.each([
      ['an unknown property', { surprise: 1 }, '/surprise'],
      ['a server-managed version', { version: 7 }, '/version'],
      ['a server-managed createdAt', { createdAt: '2024-01-01T00:00:00.000Z' }, '/createdAt'],
      ['a subtotal that is not the sum of the line items', { subtotalMinor: 1 }, '/subtotalMinor'],
      ['a total that is not subtotal + tax', { totalMinor: 1 }, '/totalMinor'],
      ['a currency that is not ISO 4217', { currency: 'XYZ' }, '/currency'],
      ['a fractional amount', { taxMinor: 1.5 }, '/taxMinor'],
      ['an unknown status', { status: 'lost' }, '/status'],
      ['an id outside the charset', { id: 'bad id!' }, '/id'],
      ['a date that does not exist', { issuedAt: '2024-02-30T00:00:00.000Z' }, '/issuedAt'],
      [
        'a period that ends before it starts',
        { billingPeriod: { start: '2024-05-01', end: '2024-04-01' } },
        '/billingPeriod/end',
      ],
      ['a customerId other than the path', { customerId: 'someone-else' }, '/customerId'],
    ])(
      'rejects %s with 400 VALIDATION_FAILED naming the field, and stores nothing',
      async (_what, overrides, field) => {
        const customerId = customer();
        const payload = { ...makeInput({ id: 'never' }), ...overrides };
        const response = await api.call({ method: 'POST', url: base(customerId), payload });
        expect(response.statusCode).toBe(400);
        const problem = response.json<{ code: string; errors: Array<{ field: string }> }>();
        expect(problem.code).toBe('VALIDATION_FAILED');
        expect(problem.errors.map((e) => e.field)).toContain(field);
        const list = await api.call({ method: 'GET', url: base(customerId) });
        expect(list.json().items).toEqual([]);
      },
    );

    it('lists every failing field at once', async () => {
      const payload = { ...makeInput(), currency: 'usd', status: 'lost', extra: true };
      const problem = (await api.call({ method: 'POST', url: base(customer()), payload })).json<{
        errors: Array<{ field: string }>;
      }>();
      expect(problem.errors.map((e) => e.field)).toEqual(
        expect.arrayContaining(['/currency', '/status', '/extra']),
      );
    });

    it('answers 413 PAYLOAD_TOO_LARGE over 1 MiB, 415 for other content types, 400 for bad JSON', async () => {
      const customerId = customer();
      const huge = await api.call({
        method: 'POST',
        url: base(customerId),
        headers: { 'content-type': 'application/json' },
        payload: JSON.stringify({ ...makeInput(), metadata: { pad: 'x'.repeat(1024 * 1024) } }),
      });
      expect(huge.statusCode).toBe(413);
      expect(huge.json()).toMatchObject({ code: 'PAYLOAD_TOO_LARGE' });
      const text = await api.call({
        method: 'POST',
        url: base(customerId),
        headers: { 'content-type': 'text/plain' },
        payload: 'hi',
      });
      expect(text.statusCode).toBe(415);
      expect(text.json()).toMatchObject({ code: 'UNSUPPORTED_MEDIA_TYPE' });
      const broken = await api.call({
        method: 'POST',
        url: base(customerId),
        headers: { 'content-type': 'application/json' },
        payload: '{"id":',
      });
      expect(broken.statusCode).toBe(400);
      expect(broken.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
    });
  });

  describe('GET, PUT, PATCH, DELETE /billing-records/{id}', () => {
    it('answers 404 NOT_FOUND as problem+json for an absent record', async () => {
      const response = await api.call({ method: 'GET', url: `${base(customer())}/nope` });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toMatchObject({
        type: expect.any(String),
        title: expect.any(String),
        status: 404,
        code: 'NOT_FOUND',
        detail: expect.any(String),
      });
    });

    it('answers 304 for a matching If-None-Match and 200 otherwise', async () => {
      const customerId = customer();
      await create(customerId, { id: 'cached' });
      const url = `${base(customerId)}/cached`;
      const hit = await api.call({ method: 'GET', url, headers: { 'if-none-match': '"1"' } });
      expect(hit.statusCode).toBe(304);
      expect(hit.body).toBe('');
      expect(hit.headers.etag).toBe('"1"');
      expect((await api.call({ method: 'GET', url, headers: { 'if-none-match': 'W/"1"' } })).statusCode).toBe(
        304,
      );
      expect((await api.call({ method: 'GET', url, headers: { 'if-none-match': '"2"' } })).statusCode).toBe(
        200,
      );
    });

    it('replaces with PUT, bumps the version, keeps createdAt, and honours If-Match', async () => {
      const customerId = customer();
      const created = (await create(customerId, { id: 'put' })).json();
      api.clock.advance(60_000);
      const url = `${base(customerId)}/put`;
      const stale = await api.call({
        method: 'PUT',
        url,
        headers: { 'if-match': '"9"' },
        payload: makeInput({ status: 'paid' }),
      });
      expect(stale.statusCode).toBe(412);
      expect(stale.json()).toMatchObject({ code: 'PRECONDITION_FAILED' });
      const put = await api.call({
        method: 'PUT',
        url,
        headers: { 'if-match': '"1"' },
        payload: makeInput({ status: 'paid' }),
      });
      expect(put.statusCode).toBe(200);
      expect(put.headers.etag).toBe('"2"');
      const body = put.json();
      expect(body).toMatchObject({ id: 'put', status: 'paid', version: 2, createdAt: created.createdAt });
      expect(body.updatedAt).not.toBe(created.updatedAt);
      expect((await api.call({ method: 'GET', url })).body).toBe(put.body);
      const noCondition = await api.call({ method: 'PUT', url, payload: makeInput({ status: 'void' }) });
      expect(noCondition.headers.etag).toBe('"3"');
    });

    it('answers 404 for PUT of an absent record and 400 when the body id differs from the path', async () => {
      const customerId = customer();
      expect(
        (await api.call({ method: 'PUT', url: `${base(customerId)}/ghost`, payload: makeInput() }))
          .statusCode,
      ).toBe(404);
      await create(customerId, { id: 'a' });
      const clash = await api.call({
        method: 'PUT',
        url: `${base(customerId)}/a`,
        payload: makeInput({ id: 'b' }),
      });
      expect(clash.statusCode).toBe(400);
    });

    it('applies a JSON merge patch, removing fields set to null, and checks the result', async () => {
      const customerId = customer();
      await create(customerId, { id: 'patch' });
      const url = `${base(customerId)}/patch`;
      const patched = await api.call({
        method: 'PATCH',
        url,
        headers: { 'content-type': 'application/merge-patch+json', 'if-match': '"1"' },
        payload: JSON.stringify({ status: 'paid', metadata: null }),
      });
      expect(patched.statusCode).toBe(200);
      expect(patched.json()).toMatchObject({ status: 'paid', version: 2 });
      expect(patched.json()).not.toHaveProperty('metadata');
      const broken = await api.call({
        method: 'PATCH',
        url,
        headers: { 'content-type': 'application/merge-patch+json' },
        payload: JSON.stringify({ taxMinor: 5 }),
      });
      expect(broken.statusCode).toBe(400);
      expect(broken.json().errors.map((e: { field: string }) => e.field)).toContain('/totalMinor');
      const managed = await api.call({
        method: 'PATCH',
        url,
        headers: { 'content-type': 'application/merge-patch+json' },
        payload: JSON.stringify({ version: 10 }),
      });
      expect(managed.statusCode).toBe(400);
      expect((await api.call({ method: 'GET', url })).headers.etag).toBe('"2"');
    });

    it('deletes with 204, honours If-Match, and then answers 404', async () => {
      const customerId = customer();
      await create(customerId, { id: 'del' });
      const url = `${base(customerId)}/del`;
      expect((await api.call({ method: 'DELETE', url, headers: { 'if-match': '"5"' } })).statusCode).toBe(
        412,
      );
      const deleted = await api.call({ method: 'DELETE', url, headers: { 'if-match': '"1"' } });
      expect(deleted.statusCode).toBe(204);
      expect((await api.call({ method: 'GET', url })).statusCode).toBe(404);
      expect((await api.call({ method: 'DELETE', url })).statusCode).toBe(404);
    });

    it('refuses to delete a record under legal hold with 409 LEGAL_HOLD', async () => {
      const customerId = customer();
      const record = (await create(customerId, { id: 'held' })).json();
      await api.store.replace(
        fullDocument(record, { legalHold: { reason: 'audit', setAt: '2026-01-01T00:00:00.000Z' } }),
        {},
      );
      const response = await api.call({ method: 'DELETE', url: `${base(customerId)}/held` });
      expect(response.statusCode).toBe(409);
      expect(response.json()).toMatchObject({ code: 'LEGAL_HOLD' });
      expect((await api.call({ method: 'GET', url: `${base(customerId)}/held` })).statusCode).toBe(200);
    });

    it('refuses PUT and PATCH of a record under legal hold with 409 LEGAL_HOLD, and changes nothing', async () => {
      const customerId = customer();
      const record = (await create(customerId, { id: 'held-write' })).json();
      await api.store.replace(
        fullDocument(record, { legalHold: { reason: 'audit', setAt: '2026-01-01T00:00:00.000Z' } }),
        {},
      );
      const url = `${base(customerId)}/held-write`;
      const before = await api.call({ method: 'GET', url });
      const { id: _i, customerId: _c, version: _v, createdAt: _ca, updatedAt: _u, ...input } = record;
      const put = await api.call({ method: 'PUT', url, payload: { ...input, status: 'void' } });
      expect(put.statusCode).toBe(409);
      expect(put.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(put.json()).toMatchObject({ code: 'LEGAL_HOLD' });
      const patch = await api.call({
        method: 'PATCH',
        url,
        payload: { status: 'void' },
        headers: { 'content-type': 'application/merge-patch+json' },
      });
      expect(patch.statusCode).toBe(409);
      expect(patch.json()).toMatchObject({ code: 'LEGAL_HOLD' });
      const after = await api.call({ method: 'GET', url });
      expect(after.body).toBe(before.body);
      expect(after.headers.etag).toBe(before.headers.etag);
    });
  });

  describe('GET /billing-records (list)', () => {
    it('pages newest issuedAt first with a cursor, returns summaries, and filters', async () => {
      const customerId = customer();
      for (let month = 1; month <= 7; month++) {
        await create(customerId, {
          id: `m${month}`,
          issuedAt: `2024-0${month}-10T00:00:00.000Z`,
          status: month % 2 === 0 ? 'paid' : 'issued',
        });
      }
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const query: Record<string, string> = { limit: '3', ...(cursor ? { cursor } : {}) };
        const page = await api.call({ method: 'GET', url: base(customerId), query });
        expect(page.statusCode).toBe(200);
        const body = page.json<{ items: Array<Record<string, unknown>>; nextCursor: string | null }>();
        for (const item of body.items) {
          expect(item).not.toHaveProperty('lineItems');
          expect(item).not.toHaveProperty('metadata');
          expect(item).toHaveProperty('totalMinor');
        }
        ids.push(...body.items.map((i) => String(i.id)));
        cursor = body.nextCursor;
      } while (cursor !== null);
      expect(ids).toEqual(['m7', 'm6', 'm5', 'm4', 'm3', 'm2', 'm1']);

      const paid = await api.call({ method: 'GET', url: base(customerId), query: { status: 'paid' } });
      expect(paid.json().items.map((i: { id: string }) => i.id)).toEqual(['m6', 'm4', 'm2']);
      const window = await api.call({
        method: 'GET',
        url: base(customerId),
        query: { issuedFrom: '2024-03-01T00:00:00Z', issuedTo: '2024-05-10T00:00:00.000Z' },
      });
      expect(window.json().items.map((i: { id: string }) => i.id)).toEqual(['m4', 'm3']);
    });

    it('rejects a bad limit, a bad cursor and a cursor replayed with other filters', async () => {
      const customerId = customer();
      for (let i = 0; i < 3; i++) await create(customerId);
      expect(
        (await api.call({ method: 'GET', url: base(customerId), query: { limit: '0' } })).statusCode,
      ).toBe(400);
      expect(
        (await api.call({ method: 'GET', url: base(customerId), query: { limit: '101' } })).statusCode,
      ).toBe(400);
      expect(
        (await api.call({ method: 'GET', url: base(customerId), query: { cursor: '!!' } })).statusCode,
      ).toBe(400);
      expect(
        (await api.call({ method: 'GET', url: base(customerId), query: { colour: 'red' } })).statusCode,
      ).toBe(400);
      const first = (await api.call({ method: 'GET', url: base(customerId), query: { limit: '1' } })).json();
      const replay = await api.call({
        method: 'GET',
        url: base(customerId),
        query: { limit: '1', status: 'paid', cursor: first.nextCursor },
      });
      expect(replay.statusCode).toBe(400);
      expect(replay.json().errors[0].field).toBe('/cursor');
    });

    it('filters by exact invoice number, combined with the other filters, and binds the cursor to it', async () => {
      const customerId = customer();
      // Spaces, '#', '&', '/' and non-ASCII: the value arrives URL-encoded and is compared as sent.
      const invoice = 'INV 2024/05 #7 & Zürich';
      for (let month = 1; month <= 5; month++) {
        await create(customerId, {
          id: `i${month}`,
          invoiceNumber: invoice,
          issuedAt: `2024-0${month}-10T00:00:00.000Z`,
          status: month % 2 === 0 ? 'paid' : 'issued',
        });
      }
      await create(customerId, { id: 'prefix', invoiceNumber: 'INV 2024/05 #7' });
      await create(customer(), { id: 'i1', invoiceNumber: invoice });
      const list = (query: Record<string, string>) =>
        api.call({ method: 'GET', url: base(customerId), query });
      const ids = (body: { items: Array<{ id: string }> }): string[] => body.items.map((item) => item.id);

      const pages: string[][] = [];
      let cursor: string | null = null;
      do {
        const page = await list({ invoiceNumber: invoice, limit: '2', ...(cursor ? { cursor } : {}) });
        expect(page.statusCode).toBe(200);
        const body = page.json<{
          items: Array<{ id: string; invoiceNumber: string }>;
          nextCursor: string | null;
        }>();
        for (const item of body.items) expect(item.invoiceNumber).toBe(invoice);
        pages.push(ids(body));
        cursor = body.nextCursor;
      } while (cursor !== null);
      expect(pages).toEqual([['i5', 'i4'], ['i3', 'i2'], ['i1']]);

      expect(ids((await list({ invoiceNumber: invoice, status: 'paid' })).json())).toEqual(['i4', 'i2']);
      const window = await list({
        invoiceNumber: invoice,
        issuedFrom: '2024-02-10T00:00:00Z',
        issuedTo: '2024-04-10T00:00:00.000Z',
      });
      expect(ids(window.json())).toEqual(['i3', 'i2']);
      expect(ids((await list({ invoiceNumber: 'INV 2024/05 #7' })).json())).toEqual(['prefix']);
      expect((await list({ invoiceNumber: 'inv 2024/05 #7 & zürich' })).json()).toEqual({
        items: [],
        nextCursor: null,
      });

      // A cursor belongs to its invoice number, and a cursor of another query does not continue this one.
      const first = (await list({ invoiceNumber: invoice, limit: '1' })).json<{ nextCursor: string }>();
      const plain = (await list({ limit: '1' })).json<{ nextCursor: string }>();
      const replays: Array<Record<string, string>> = [
        { limit: '1', cursor: first.nextCursor },
        { limit: '1', invoiceNumber: 'INV 2024/05 #7', cursor: first.nextCursor },
        { limit: '1', invoiceNumber: invoice, cursor: plain.nextCursor },
      ];
      for (const replay of replays) {
        const refused = await list(replay);
        expect(refused.statusCode, JSON.stringify(replay)).toBe(400);
        expect(refused.json()).toMatchObject({ code: 'VALIDATION_FAILED', errors: [{ field: '/cursor' }] });
      }
      const next = await list({ invoiceNumber: invoice, limit: '1', cursor: first.nextCursor });
      expect(ids(next.json())).toEqual(['i4']);
    });

    it.each([
      ['empty', ''],
      ['over 128 characters', 'x'.repeat(129)],
    ])(
      'rejects an invoice number that is %s with 400 VALIDATION_FAILED naming the field',
      async (_what, invoiceNumber) => {
        const response = await api.call({ method: 'GET', url: base(customer()), query: { invoiceNumber } });
        expect(response.statusCode).toBe(400);
        expect(response.headers['content-type']).toMatch(/^application\/problem\+json/);
        const problem = response.json<{ code: string; errors: Array<{ field: string }> }>();
        expect(problem.code).toBe('VALIDATION_FAILED');
        expect(problem.errors.map((e) => e.field)).toEqual(['/invoiceNumber']);
      },
    );

    it('rejects an invoice number given twice with 400 naming the field, and takes one of 128 characters', async () => {
      const customerId = customer();
      const twice = await api.call({
        method: 'GET',
        url: `${base(customerId)}?invoiceNumber=a&invoiceNumber=b`,
      });
      expect(twice.statusCode).toBe(400);
      expect(twice.json().errors.map((e: { field: string }) => e.field)).toEqual(['/invoiceNumber']);
      const longest = 'x'.repeat(128);
      await create(customerId, { id: 'longest', invoiceNumber: longest });
      const found = await api.call({
        method: 'GET',
        url: base(customerId),
        query: { invoiceNumber: longest },
      });
      expect(found.statusCode).toBe(200);
      expect(found.json().items.map((item: { id: string }) => item.id)).toEqual(['longest']);
    });

    it('defaults to 25 items a page', async () => {
      const customerId = customer();
      for (let i = 0; i < 27; i++) await create(customerId);
      const page = (await api.call({ method: 'GET', url: base(customerId) })).json();
      expect(page.items).toHaveLength(25);
      expect(page.nextCursor).toEqual(expect.any(String));
    });
  });

  if (tier === 'archived') {
    it('really served archived records (the comparison below is not hot against hot)', async () => {
      const status = await api.test.archival.status();
      expect(status.counts.archived).toBeGreaterThan(20);
    });
  }
});

describe('the same answers from every tier', () => {
  it('answers every request identically, byte for byte, whether the records were hot or archived', () => {
    expect(responses.archived.length).toBe(responses.hot.length);
    expect(responses.hot.length).toBeGreaterThan(50);
    for (let i = 0; i < responses.hot.length; i++) expect(responses.archived[i]).toEqual(responses.hot[i]);
  });
});
