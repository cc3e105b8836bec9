// Business rules beyond the schema: money invariants, real calendar dates, ISO 4217, server-managed fields.
import { type BillingRecord, RecordInput, SERVER_MANAGED_FIELDS } from './billing-record.ts';
import { AppError, type FieldError } from './errors.ts';
import { compileValidator } from './schema-validation.ts';

const validateShape = compileValidator<RecordInput>(RecordInput);
const ISO_4217 = new Set(Intl.supportedValuesOf('currency'));

export interface RecordKey {
  readonly customerId: string;
  readonly id: string;
}

/**
 * Validates a client body (POST, PUT, or the result of a merge patch) and returns it normalised:
 * instants in `toISOString()` form, id and customerId filled from the path.
 */
export function parseRecordInput(body: unknown, path: { customerId: string; id?: string }): RecordInput {
  const managed = serverManagedFieldErrors(body);
  let input: RecordInput;
  try {
    input = validateShape(body);
  } catch (error) {
    if (error instanceof AppError && managed.length > 0) {
      const rest = error.errors.filter((e) => !managed.some((m) => m.field === e.field));
      throw invalid([...managed, ...rest]);
    }
    throw error;
  }
  const errors: FieldError[] = [];
  if (input.customerId !== undefined && input.customerId !== path.customerId) {
    errors.push({ field: '/customerId', message: 'must equal the customerId in the path' });
  }
  if (path.id !== undefined && input.id !== undefined && input.id !== path.id) {
    errors.push({ field: '/id', message: 'must equal the record id in the path' });
  }
  for (const field of ['issuedAt', 'dueAt'] as const) {
    const value = input[field];
    if (value !== undefined && !isRealInstant(value))
      errors.push({ field: `/${field}`, message: 'is not a real date-time' });
  }
  const { start, end } = input.billingPeriod;
  if (!isRealDay(start)) errors.push({ field: '/billingPeriod/start', message: 'is not a real day' });
  if (!isRealDay(end)) errors.push({ field: '/billingPeriod/end', message: 'is not a real day' });
  if (isRealDay(start) && isRealDay(end) && end < start) {
    errors.push({ field: '/billingPeriod/end', message: 'must not be before start' });
  }
  if (!ISO_4217.has(input.currency))
    errors.push({ field: '/currency', message: 'is not an ISO 4217 currency code' });
  const sum = input.lineItems.reduce((total, item) => total + item.amountMinor, 0);
  if (!Number.isSafeInteger(sum) || sum !== input.subtotalMinor) {
    errors.push({
      field: '/subtotalMinor',
      message: `must equal the sum of lineItems[].amountMinor (${sum})`,
    });
  }
  if (input.subtotalMinor + input.taxMinor !== input.totalMinor) {
    errors.push({ field: '/totalMinor', message: 'must equal subtotalMinor + taxMinor' });
  }
  if (errors.length > 0) throw invalid(errors);
  return {
    ...input,
    ...(path.id !== undefined || input.id !== undefined ? { id: path.id ?? input.id } : {}),
    customerId: path.customerId,
    issuedAt: normaliseInstant(input.issuedAt),
    ...(input.dueAt !== undefined ? { dueAt: normaliseInstant(input.dueAt) } : {}),
  };
}

/** Builds the stored record from validated input; `previous` is the record it replaces, if any. */
export function buildRecord(
  input: RecordInput,
  key: RecordKey,
  now: Date,
  previous?: Pick<BillingRecord, 'version' | 'createdAt'>,
): BillingRecord {
  const stamp = now.toISOString();
  return {
    ...input,
    id: key.id,
    customerId: key.customerId,
    version: (previous?.version ?? 0) + 1,
    createdAt: previous?.createdAt ?? stamp,
    updatedAt: stamp,
  };
}

/** The client-writable part of a stored record: what a merge patch applies to. */
export function toInput(record: BillingRecord): RecordInput {
  const { version: _v, createdAt: _c, updatedAt: _u, ...input } = record;
  return input;
}

function serverManagedFieldErrors(body: unknown): FieldError[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return [];
  return SERVER_MANAGED_FIELDS.filter((field) => field in body).map((field) => ({
    field: `/${field}`,
    message: 'is managed by the server and must not be sent',
  }));
}

function invalid(errors: FieldError[]): AppError {
  return new AppError('VALIDATION_FAILED', `The body has ${errors.length} invalid field(s)`, { errors });
}

function normaliseInstant(value: string): string {
  return new Date(value).toISOString();
}

function isRealInstant(value: string): boolean {
  const time = Date.parse(value);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 19) === value.slice(0, 19);
}

function isRealDay(value: string): boolean {
  const time = Date.parse(`${value}T00:00:00.000Z`);
  return Number.isFinite(time) && new Date(time).toISOString().slice(0, 10) === value;
}
