// What both consumer programs share: a valid billing record of API.md, and the asOf of their run.
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

/** Past the default cool-down (P1D) of a record just written; a far asOf means many slices to sweep. */
export function twoDaysAhead() {
  return new Date(Date.now() + 2 * 86_400_000).toISOString();
}
