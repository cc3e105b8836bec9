// Opaque list cursors: the keyset position plus a fingerprint of the filters, so a cursor cannot be
// replayed against another query and silently skip records.
import { createHash } from 'node:crypto';
import { AppError } from './errors.ts';

export interface CursorPosition {
  readonly issuedAt: string;
  readonly id: string;
}

export interface CursorFilters {
  readonly customerId: string;
  readonly issuedFrom?: string | undefined;
  readonly issuedTo?: string | undefined;
  readonly status?: string | undefined;
  readonly invoiceNumber?: string | undefined;
}

function fingerprint(filters: CursorFilters): string {
  const canonical = JSON.stringify([
    filters.customerId,
    filters.issuedFrom ?? null,
    filters.issuedTo ?? null,
    filters.status ?? null,
    // Appended only when set: cursors issued before this filter existed keep their fingerprint.
    ...(filters.invoiceNumber !== undefined ? [filters.invoiceNumber] : []),
  ]);
  return createHash('sha256').update(canonical).digest('base64url').slice(0, 16);
}

export function encodeCursor(position: CursorPosition, filters: CursorFilters): string {
  return Buffer.from(
    JSON.stringify({ a: position.issuedAt, i: position.id, f: fingerprint(filters) }),
  ).toString('base64url');
}

export function decodeCursor(cursor: string, filters: CursorFilters): CursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalidCursor('is not a cursor this service issued');
  }
  const { a, i, f } = (parsed ?? {}) as { a?: unknown; i?: unknown; f?: unknown };
  if (typeof a !== 'string' || typeof i !== 'string' || typeof f !== 'string') {
    throw invalidCursor('is not a cursor this service issued');
  }
  if (f !== fingerprint(filters)) throw invalidCursor('belongs to a query with other filters');
  return { issuedAt: a, id: i };
}

function invalidCursor(message: string): AppError {
  return new AppError('VALIDATION_FAILED', `The cursor ${message}`, {
    errors: [{ field: '/cursor', message }],
  });
}
