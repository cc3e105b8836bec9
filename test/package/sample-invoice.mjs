// The record both consumer programs write: a valid billing record of API.md.
export function sampleInvoice(invoiceNumber, currency) {
  return {
    invoiceNumber,
    issuedAt: '2024-05-01T10:00:00.000Z',
    billingPeriod: { start: '2024-04-01', end: '2024-04-30' },
    currency,
    status: 'issued',
    lineItems: [
      { sku: 'vm', description: 'VM, 720 h', quantity: 720, unitPriceMinor: 19, amountMinor: 13680 },
    ],
    subtotalMinor: 13680,
    taxMinor: 0,
    totalMinor: 13680,
    metadata: { region: 'eastus' },
  };
}
