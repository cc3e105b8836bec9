// Opaque cursors of the audit query: the position plus a fingerprint of the filters, so a cursor cannot
// be replayed against another query and silently skip events.
import { createHash } from 'node:crypto';
import { AppError } from './errors.ts';

export interface AuditCursorPosition {
  readonly at: string;
  readonly chain: string;
  readonly seq: number;
}

/**
 * A page from the events a query matched, in position order and read one past the page (`limit + 1`):
 * the first `limit`, and where the next page starts when there is more.
 */
export function auditPageOf<E extends AuditCursorPosition>(
  matching: readonly E[],
  limit: number,
): { items: E[]; next: AuditCursorPosition | undefined } {
  const items = matching.slice(0, limit);
  const last = items.at(-1);
  return {
    items,
    next:
      matching.length > limit && last !== undefined
        ? { at: last.at, chain: last.chain, seq: last.seq }
        : undefined,
  };
}

function fingerprint(filters: object): string {
  const sorted = Object.entries(filters)
    .filter(([, value]) => value !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : 1));
  return createHash('sha256').update(JSON.stringify(sorted)).digest('base64url').slice(0, 16);
}

export function encodeAuditCursor(position: AuditCursorPosition, filters: object): string {
  return Buffer.from(
    JSON.stringify({ a: position.at, c: position.chain, s: position.seq, f: fingerprint(filters) }),
  ).toString('base64url');
}

export function decodeAuditCursor(cursor: string, filters: object): AuditCursorPosition {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const { a, c, s, f } = (parsed ?? {}) as { a?: unknown; c?: unknown; s?: unknown; f?: unknown };
  if (typeof a !== 'string' || typeof c !== 'string' || typeof s !== 'number' || typeof f !== 'string')
    throw invalid('is not a cursor this service issued');
  if (f !== fingerprint(filters)) throw invalid('belongs to a query with other filters');
  return { at: a, chain: c, seq: s };
}

function invalid(message: string): AppError {
  return new AppError('VALIDATION_FAILED', `The cursor ${message}`, {
    errors: [{ field: '/cursor', message }],
  });
}
