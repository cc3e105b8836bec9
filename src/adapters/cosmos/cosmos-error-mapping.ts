// Turns whatever @azure/cosmos (or the HTTP stack under it) throws into an AppError, so the core never
// sees an SDK error type. Whether a retry can help, and how long to wait, is decided here.
import { AppError, isAppError } from '../../domain/errors.ts';

/** The fields of the SDK's `ErrorResponse` (HTTP answers) and of `RestError` / `TimeoutError` (no answer). */
export interface CosmosErrorLike {
  readonly code?: number | string;
  readonly statusCode?: number;
  readonly substatus?: number;
  readonly retryAfterInMs?: number;
  readonly headers?: Readonly<Record<string, unknown>>;
  readonly message?: string;
  readonly name?: string;
}

export function isCosmosErrorLike(error: unknown): error is CosmosErrorLike {
  if (typeof error !== 'object' || error === null) return false;
  const { code, statusCode } = error as { code?: unknown; statusCode?: unknown };
  return typeof code === 'number' || typeof code === 'string' || typeof statusCode === 'number';
}

/** Socket-level failures: the request may never have reached Cosmos, or its answer was lost. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'REQUEST_SEND_ERROR',
  'UND_ERR_SOCKET',
]);

/** Failures after which a write may or may not have been applied; see `isAmbiguousWriteFailure`. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

export function statusOf(error: unknown): number | undefined {
  if (!isCosmosErrorLike(error)) return undefined;
  if (typeof error.code === 'number') return error.code;
  return error.statusCode;
}

/** Maps an SDK error; `what` names the operation for the message (never a stack trace). */
export function toAppError(error: unknown, what: string): AppError {
  if (isAppError(error)) return error;
  const status = statusOf(error);
  const code = isCosmosErrorLike(error) && typeof error.code === 'string' ? error.code : undefined;
  const name = error instanceof Error ? error.name : undefined;
  const reason = firstLine(error);
  const cause = { cause: error };

  if (status === 429) {
    const retryAfterMs = retryAfterOf(error);
    return new AppError('THROTTLED', `${what}: Cosmos DB throttled the request (429)`, {
      ...cause,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  if (status === 413) {
    return new AppError('RECORD_TOO_LARGE', `${what}: Cosmos DB refused the item as too large (413)`, cause);
  }
  if (status === 408 || code === 'TimeoutError' || code === 'ETIMEDOUT') {
    return new AppError('TIMEOUT', `${what}: Cosmos DB did not answer in time`, cause);
  }
  if (name === 'AbortError' || code === 'ABORT_ERR') {
    return new AppError('TIMEOUT', `${what}: the operation was aborted`, cause);
  }
  if (code !== undefined && CONNECTION_ERROR_CODES.has(code)) {
    return new AppError('UNAVAILABLE', `${what}: Cosmos DB is unreachable (${code})`, cause);
  }
  if (status !== undefined && (status >= 500 || status === 449 || status === 410)) {
    // 449 (retry with) and 410 (gone: a partition moved) are transient by Cosmos DB's own definition.
    const retryAfterMs = retryAfterOf(error);
    return new AppError('UNAVAILABLE', `${what}: Cosmos DB answered ${status}: ${reason}`, {
      ...cause,
      ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    });
  }
  // Anything else (401/403 from a wrong key or role, 400 from a bad query, a bug) will not heal by retrying.
  const answered = status !== undefined ? `answered ${status}: ` : 'failed: ';
  return new AppError('UNAVAILABLE', `${what}: Cosmos DB ${answered}${reason}`, {
    ...cause,
    retryable: false,
  });
}

/**
 * True when the request may have been applied although no answer came back (timeout, reset, 5xx).
 * A retried write after such a failure can meet its own earlier success (409, 412, 404).
 */
export function isAmbiguousWriteFailure(error: AppError): boolean {
  if (!error.retryable || error.code === 'THROTTLED') return false;
  const code = isCosmosErrorLike(error.cause) ? error.cause.code : undefined;
  return !(typeof code === 'string' && NOT_SENT_CODES.has(code));
}

function retryAfterOf(error: unknown): number | undefined {
  if (!isCosmosErrorLike(error)) return undefined;
  if (typeof error.retryAfterInMs === 'number' && Number.isFinite(error.retryAfterInMs))
    return error.retryAfterInMs;
  const header = error.headers?.['x-ms-retry-after-ms'];
  const parsed = typeof header === 'string' || typeof header === 'number' ? Number(header) : Number.NaN;
  return Number.isFinite(parsed) && parsed >= 0 ? parsed : undefined;
}

/** Cosmos DB messages can carry JSON and diagnostics over many lines; one line is enough for a log. */
function firstLine(error: unknown): string {
  const message =
    error instanceof Error ? error.message : isCosmosErrorLike(error) ? error.message : undefined;
  const line = (message ?? String(error)).split(/\r?\n/, 1)[0] ?? '';
  return line.length > 300 ? `${line.slice(0, 300)}…` : line;
}
