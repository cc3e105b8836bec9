// The app's Functions registration. One data-access layer per worker, opened on the first request from
// the app's own settings (COSMOS_*, BLOB_*, REDIS_URL, ARCHIVE_*: the library's settings table); an app
// that already builds its own clients passes them instead: openDataAccess({ clients: { records, ... } }).
import { app, type HttpRequest } from '@azure/functions';
import { type DataAccess, openDataAccess } from 'billing-archive';
import { createInvoice, getInvoice } from './invoice-handlers.ts';

let opening: Promise<DataAccess> | undefined;
const layer = (): Promise<DataAccess> => {
  // A failed open is not kept: the next request tries again.
  opening ??= openDataAccess({ settings: process.env }).catch((error: unknown) => {
    opening = undefined;
    throw error;
  });
  return opening;
};

app.http('getInvoice', {
  methods: ['GET'],
  route: 'invoices/{customerId}/{invoiceNumber}',
  handler: async (request: HttpRequest) => getInvoice(await layer(), request),
});
app.http('createInvoice', {
  methods: ['POST'],
  route: 'invoices/{customerId}',
  handler: async (request: HttpRequest) => createInvoice(await layer(), request),
});
app.hook.appTerminate(async () => (await opening?.catch(() => undefined))?.close());
