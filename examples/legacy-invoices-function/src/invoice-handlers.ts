// The app's handlers. Before adoption they queried the Cosmos container directly; now they call the
// library, which serves hot and archived invoices alike. Their routes, JSON and statuses are unchanged.
import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import { type DataAccess, isAppError } from 'billing-archive';
import { fromRecord, type Invoice, toRecordInput } from './invoice-shape.ts';

/** GET /invoices/{customerId}/{invoiceNumber}: the app looked invoices up by number, and still does. */
export async function getInvoice(layer: DataAccess, request: HttpRequest): Promise<HttpResponseInit> {
  const customerId = request.params.customerId ?? '';
  const number = request.params.invoiceNumber ?? '';
  // The list is served from the hot documents and stubs alike; the read goes to whichever tier holds it.
  const page = await layer.records.list(customerId, { invoiceNumber: number, limit: 1 });
  const summary = page.items[0];
  if (summary === undefined) return { status: 404, jsonBody: { error: 'invoice not found' } };
  const { record } = await layer.records.get({ customerId, id: summary.id });
  return { status: 200, jsonBody: fromRecord(record) };
}

/** POST /invoices/{customerId}: 201 with the invoice as stored; 400 with the app's own error shape. */
export async function createInvoice(layer: DataAccess, request: HttpRequest): Promise<HttpResponseInit> {
  const customerId = request.params.customerId ?? '';
  const body = (await request.json()) as Omit<Invoice, 'customer'>;
  try {
    const record = await layer.records.create(customerId, toRecordInput(body));
    return { status: 201, jsonBody: fromRecord(record) };
  } catch (error) {
    if (isAppError(error) && error.status < 500) return { status: 400, jsonBody: { error: error.message } };
    throw error;
  }
}
