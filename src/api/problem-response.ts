// RFC 9457 problem+json from the error registry. Unknown errors become a 500 without internals.
import { trace } from '@opentelemetry/api';
import { AppError, ERROR_CODES, isAppError } from '../domain/errors.ts';

export interface ApiResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /** Serialized body (text or UTF-8), or chunks streamed as they come (an export); absent for 204 and 304. */
  readonly body?: string | Uint8Array | AsyncIterable<string | Uint8Array>;
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';
/**
 * The Content-Type of a JSON answer, charset stated: Fastify adds one to text and none to bytes, the
 * Functions host adds none, so an answer states it itself and every edge and tier sends the same header.
 */
export const JSON_RESPONSE_TYPE = 'application/json; charset=utf-8';
export const PROBLEM_RESPONSE_TYPE = `${PROBLEM_CONTENT_TYPE}; charset=utf-8`;

export function problemTypeUri(code: string): string {
  return `urn:billing-records:problem:${code.toLowerCase().replaceAll('_', '-')}`;
}

export function toAppError(error: unknown): AppError {
  return isAppError(error)
    ? error
    : new AppError('INTERNAL', 'An unexpected error occurred', { cause: error });
}

export function problemResponse(error: AppError, instance?: string): ApiResponse {
  const spec = ERROR_CODES[error.code];
  const body = {
    type: problemTypeUri(error.code),
    title: spec.title,
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(instance !== undefined ? { instance } : {}),
    ...(error.errors.length > 0 ? { errors: error.errors } : {}),
    // The trace of this request, to find its logs and spans (W3C traceparent is honoured).
    ...traceIdMember(),
  };
  const headers: Record<string, string> = { 'content-type': PROBLEM_RESPONSE_TYPE };
  if (error.status === 503 || error.status === 429) {
    headers['retry-after'] = String(Math.max(1, Math.ceil((error.retryAfterMs ?? 5_000) / 1000)));
  }
  return { status: error.status, headers, body: JSON.stringify(body) };
}

function traceIdMember(): { traceId?: string } {
  const context = trace.getActiveSpan()?.spanContext();
  return context !== undefined && trace.isSpanContextValid(context) ? { traceId: context.traceId } : {};
}
