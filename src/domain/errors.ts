// One registry of stable error codes. A code is never reused for another meaning; the HTTP status,
// the title and whether a retry can help are decided here, once, for every edge (HTTP, Functions, CLI).

export interface ErrorCodeSpec {
  readonly status: number;
  readonly title: string;
  readonly retryable: boolean;
}

export const ERROR_CODES = {
  VALIDATION_FAILED: { status: 400, title: 'The request is not valid', retryable: false },
  UNAUTHENTICATED: { status: 401, title: 'Authentication is required', retryable: false },
  FORBIDDEN: { status: 403, title: 'Not allowed', retryable: false },
  NOT_FOUND: { status: 404, title: 'Not found', retryable: false },
  METHOD_NOT_ALLOWED: { status: 405, title: 'Method not allowed', retryable: false },
  ALREADY_EXISTS: { status: 409, title: 'The record already exists', retryable: false },
  LEGAL_HOLD: { status: 409, title: 'The record is under legal hold', retryable: false },
  RETENTION_DISABLED: {
    status: 409,
    title: 'Retention is off: RETENTION_PERIOD is empty',
    retryable: false,
  },
  PRECONDITION_FAILED: { status: 412, title: 'The record has changed', retryable: false },
  PAYLOAD_TOO_LARGE: { status: 413, title: 'The request body is too large', retryable: false },
  RECORD_TOO_LARGE: {
    status: 413,
    title: 'The stored record would exceed the item size limit',
    retryable: false,
  },
  URI_TOO_LONG: { status: 414, title: 'The request URL is too long', retryable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, title: 'Unsupported content type', retryable: false },
  THROTTLED: { status: 429, title: 'Too many requests', retryable: true },
  HEADERS_TOO_LARGE: { status: 431, title: 'The request headers are too large', retryable: false },
  INTERNAL: { status: 500, title: 'Internal error', retryable: false },
  ARCHIVE_INTEGRITY: { status: 500, title: 'The archived copy failed its integrity check', retryable: false },
  UNAVAILABLE: { status: 503, title: 'A dependency is unavailable', retryable: true },
  TIMEOUT: { status: 503, title: 'A dependency did not answer in time', retryable: true },
} as const satisfies Record<string, ErrorCodeSpec>;

export type ErrorCode = keyof typeof ERROR_CODES;

export interface FieldError {
  /** JSON pointer of the failing field, e.g. `/lineItems/0/amountMinor`. */
  readonly field: string;
  readonly message: string;
}

export interface AppErrorOptions {
  readonly errors?: readonly FieldError[];
  /** For retryable errors: how long the caller should wait, when the dependency said so. */
  readonly retryAfterMs?: number;
  /** Overrides the registry (a 409 conflict on a store write may be retryable, say). */
  readonly retryable?: boolean;
  readonly cause?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly errors: readonly FieldError[];
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(detail, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryable = options.retryable ?? ERROR_CODES[code].retryable;
    this.errors = options.errors ?? [];
    this.retryAfterMs = options.retryAfterMs;
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

export function hasCode(error: unknown, code: ErrorCode): error is AppError {
  return isAppError(error) && error.code === code;
}

/** One line for a report or a log: the stable code and message of an AppError, the message otherwise. */
export function describeError(error: unknown): string {
  if (isAppError(error)) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}
