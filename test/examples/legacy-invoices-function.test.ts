// The example app (examples/legacy-invoices-function) over the library and the embedded stores: its own
// routes and JSON before and after an invoice is archived, and its own 404 and 400 answers.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpRequest } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createInvoice, getInvoice } from '../../examples/legacy-invoices-function/src/invoice-handlers.ts';
import { type DataAccess, openDataAccess } from '../../src/library/index.ts';

/** Past the default cool-down (P1D) of the record just written; a far asOf means many slices to sweep. */
const twoDaysAhead = () => new Date(Date.now() + 2 * 86_400_000).toISOString();

const folder = mkdtempSync(join(tmpdir(), 'legacy-invoices-'));
let layer: DataAccess;

const invoice = {
  number: 'LEG-2024-0042',
  issued: '2024-03-15T09:30:00.000Z',
  currency: 'USD',
  status: 'open',
  total: '121.00',
  lines: [
    { sku: 'support', text: 'Support plan, March', amount: '100.00' },
    { sku: 'storage', text: 'Storage, 1 TB', amount: '10.00' },
  ],
} as const;

const get = (customerId: string, invoiceNumber: string) =>
  getInvoice(
    layer,
    new HttpRequest({
      method: 'GET',
      url: `http://localhost/invoices/${customerId}/${invoiceNumber}`,
      params: { customerId, invoiceNumber },
    }),
  );

beforeAll(async () => {
  layer = await openDataAccess({
    settings: {
      DATA_DIR: folder,
      EMBEDDED_ARCHIVE: 'files',
      ARCHIVE_GRACE_PERIOD: 'PT0S',
      LOG_LEVEL: 'silent',
    },
  });
});
afterAll(async () => {
  await layer?.close();
  rmSync(folder, { recursive: true, force: true });
});

describe('an existing Functions app on the library', () => {
  it('keeps its routes and JSON for a hot invoice and, unchanged, for the same invoice archived', async () => {
    const created = await createInvoice(
      layer,
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/invoices/acme',
        params: { customerId: 'acme' },
        body: { string: JSON.stringify(invoice) },
      }),
    );
    expect(created.status).toBe(201);
    expect(created.jsonBody).toEqual({ ...invoice, customer: 'acme' });

    const hot = await get('acme', invoice.number);
    expect(hot).toEqual({ status: 200, jsonBody: { ...invoice, customer: 'acme' } });

    const report = await layer.archival.run({ asOf: twoDaysAhead() });
    expect(report.counts).toMatchObject({ copied: 1, purged: 1 });
    expect(await layer.records.countByTier()).toMatchObject({ archived: 1 });

    expect(await get('acme', invoice.number)).toEqual(hot);
  });

  it('answers its own 404 and 400 shapes', async () => {
    expect(await get('acme', 'LEG-NONE')).toEqual({ status: 404, jsonBody: { error: 'invoice not found' } });
    const bad = await createInvoice(
      layer,
      new HttpRequest({
        method: 'POST',
        url: 'http://localhost/invoices/acme',
        params: { customerId: 'acme' },
        body: { string: JSON.stringify({ ...invoice, currency: 'dollars' }) },
      }),
    );
    expect(bad.status).toBe(400);
    expect(bad.jsonBody).toEqual({ error: expect.any(String) });
  });
});
