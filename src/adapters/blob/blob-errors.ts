// Blob Storage failures as the core sees them: every SDK or socket error becomes an AppError here, once,
// for every Blob adapter (the archive and the archiver's control documents).
import { RestError } from '@azure/storage-blob';
import { AppError } from '../../domain/errors.ts';

/** Maps an error the SDK threw while trying to `what` (e.g. "download a/b.json") to an AppError. */
export function toAppError(error: unknown, what: string): AppError {
  if (error instanceof AppError) return error;
  if (isRestError(error)) {
    const status = error.statusCode;
    const detail = `Blob Storage could not ${what}: ${status ?? error.code ?? 'network error'} ${error.message.split('\n')[0] ?? ''}`;
    // No status: the request never got an answer (refused, reset, DNS, timeout).
    if (status === undefined || [408, 429, 500, 502, 503, 504].includes(status)) {
      const retryAfterMs = retryAfter(error);
      return new AppError('UNAVAILABLE', detail, {
        cause: error,
        ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
      });
    }
    // Bad credentials, missing rights or a missing container: the store cannot serve, and retrying will not help.
    if (status === 401 || status === 403 || (status === 404 && error.code === 'ContainerNotFound')) {
      return new AppError('UNAVAILABLE', detail, { cause: error, retryable: false });
    }
    return new AppError('INTERNAL', detail, { cause: error });
  }
  if (isNetworkError(error)) {
    return new AppError('UNAVAILABLE', `Blob Storage could not ${what}: ${error.message}`, { cause: error });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new AppError('INTERNAL', `Blob Storage could not ${what}: ${message}`, { cause: error });
}

/** True when the service answered `status` (and, when given, the error code `code`). */
export function hasStatus(error: unknown, status: number, code?: string): boolean {
  return isRestError(error) && error.statusCode === status && (code === undefined || error.code === code);
}

/** The service's error code (`x-ms-error-code`), when the service answered at all. */
export function errorCode(error: unknown): string | undefined {
  return isRestError(error) ? error.code : undefined;
}

function isRestError(error: unknown): error is RestError {
  // By name as well: a second copy of core-rest-pipeline in node_modules defeats instanceof.
  return error instanceof RestError || (error instanceof Error && error.name === 'RestError');
}

/** A Node socket error while a body streams in, after the SDK handed the response over. */
function isNetworkError(error: unknown): error is Error {
  const code = (error as { code?: unknown } | undefined)?.code;
  return (
    error instanceof Error && typeof code === 'string' && /^(E[A-Z]+|ERR_STREAM_PREMATURE_CLOSE)$/.test(code)
  );
}

/** `retry-after` is seconds or an HTTP date. */
function retryAfter(error: RestError): number | undefined {
  const header = error.response?.headers.get('retry-after');
  if (header === undefined) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1_000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
