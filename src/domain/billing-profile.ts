// The built-in record profile: the billing record of API.md. Its validation and money rules stay with it
// (record-rules.ts, billing-record.ts); the engine reads only the paths below.
import { type RecordProfile, BILLING_PROFILE_NAME } from './record-profile.ts';

export const BILLING_PROFILE: RecordProfile = Object.freeze({
  name: BILLING_PROFILE_NAME,
  idPath: '/id',
  partitionKeyPath: '/customerId',
  agePath: '/issuedAt',
  ageFormat: 'iso',
  versionPath: '/version',
  // The summary of API.md: the record without lineItems and metadata.
  stubFields: Object.freeze([
    'invoiceNumber',
    'dueAt',
    'billingPeriod',
    'currency',
    'status',
    'subtotalMinor',
    'taxMinor',
    'totalMinor',
    'createdAt',
    'updatedAt',
  ]),
  canonical: true,
});
