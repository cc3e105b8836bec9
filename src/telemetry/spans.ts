// Spans for the product's own steps (an archived read and its layers, an archival run, its slices and
// batches), through the OpenTelemetry API only: the SDK and its exporters are set up by the composition,
// and without one these calls cost next to nothing (the API's no-op tracer).
import {
  type Attributes,
  INVALID_SPAN_CONTEXT,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';

const tracer = trace.getTracer('billing-records');

/** What `work` is given where no span is made: takes attributes and ends like any, records nothing. */
const UNRECORDED = trace.wrapSpanContext(INVALID_SPAN_CONTEXT);

/**
 * Runs `work` in a child span of the active one; an error marks the span and is rethrown. Only under a
 * span that records: a child of an unrecorded one (no tracer provider, the embedded default's
 * always-off sampler, a trace sampled out) would record nothing, and making it cost more than the
 * hot read it wraps. Work outside any request or run (a CLI job's reads) makes no trace of its own.
 */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  if (trace.getActiveSpan()?.isRecording() !== true) return work(UNRECORDED);
  return tracer.startActiveSpan(name, { attributes }, (span) => endedAfter(span, work));
}

/** Starts a root span (a new trace), for work that is not part of a request: an archival run. */
export function inRootSpan<T>(
  name: string,
  attributes: Attributes,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer.startActiveSpan(name, { attributes, root: true }, (span) => endedAfter(span, work));
}

/**
 * Runs `work` in a server span continuing the caller's trace (W3C `traceparent` in `carrier`), for an
 * edge that no instrumentation covers (the Functions HTTP triggers). `statusOf` reads the answer's HTTP
 * status: a 5xx marks the span as an error, as the HTTP instrumentations do.
 */
export function inServerSpan<T>(
  name: string,
  carrier: Readonly<Record<string, string>>,
  attributes: Attributes,
  statusOf: (result: T) => number,
  work: (span: Span) => Promise<T>,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, carrier);
  return tracer.startActiveSpan(name, { kind: SpanKind.SERVER, attributes }, parent, (span) =>
    endedAfter(span, async () => {
      const result = await work(span);
      const status = statusOf(result);
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      return result;
    }),
  );
}

/** Ends `span` after `work`; an error marks it (exception and status) and is rethrown. */
async function endedAfter<T>(span: Span, work: (span: Span) => Promise<T>): Promise<T> {
  try {
    return await work(span);
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({
      code: SpanStatusCode.ERROR,
      message: error instanceof Error ? error.message : String(error),
    });
    throw error;
  } finally {
    span.end();
  }
}

/** The trace and span ids of the active span, as pino's instrumentation writes them in each log line. */
export function logCorrelation(): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext !== undefined && trace.isSpanContextValid(spanContext)
    ? { trace_id: spanContext.traceId, span_id: spanContext.spanId }
    : {};
}
