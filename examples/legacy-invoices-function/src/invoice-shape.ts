// The app's own invoice JSON (its contract with its callers), and how it maps to a billing record.
import type { BillingRecord, RecordInput } from 'billing-archive';

/** What the app's callers send and receive; amounts are decimal strings, as they always were. */
export interface Invoice {
  readonly number: string;
  readonly customer: string;
  readonly issued: string;
  readonly currency: string;
  readonly status: 'open' | 'paid' | 'void';
  readonly total: string;
  readonly lines: ReadonlyArray<{ readonly sku: string; readonly text: string; readonly amount: string }>;
}

const STATUS_TO_RECORD = { open: 'issued', paid: 'paid', void: 'void' } as const;
const STATUS_FROM_RECORD: Record<string, Invoice['status']> = { issued: 'open', paid: 'paid', void: 'void' };

const toMinor = (amount: string): number => Math.round(Number(amount) * 100);
const fromMinor = (minor: number): string => (minor / 100).toFixed(2);

export function toRecordInput(invoice: Omit<Invoice, 'customer'>): RecordInput {
  const lineItems = invoice.lines.map((line) => ({
    sku: line.sku,
    description: line.text,
    quantity: 1,
    unitPriceMinor: toMinor(line.amount),
    amountMinor: toMinor(line.amount),
  }));
  const subtotalMinor = lineItems.reduce((sum, line) => sum + line.amountMinor, 0);
  const month = invoice.issued.slice(0, 7);
  return {
    invoiceNumber: invoice.number,
    issuedAt: invoice.issued,
    billingPeriod: { start: `${month}-01`, end: `${month}-28` },
    currency: invoice.currency,
    status: STATUS_TO_RECORD[invoice.status],
    lineItems,
    subtotalMinor,
    taxMinor: toMinor(invoice.total) - subtotalMinor,
    totalMinor: toMinor(invoice.total),
    metadata: {},
  };
}

export function fromRecord(record: BillingRecord): Invoice {
  return {
    number: record.invoiceNumber,
    customer: record.customerId,
    issued: record.issuedAt,
    currency: record.currency,
    status: STATUS_FROM_RECORD[record.status] ?? 'open',
    total: fromMinor(record.totalMinor),
    lines: record.lineItems.map((line) => ({
      sku: line.sku,
      text: line.description ?? '',
      amount: fromMinor(line.amountMinor),
    })),
  };
}
