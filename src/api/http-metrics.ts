// The HTTP edge's request histogram (`http_request_duration_seconds{method,route,status}`), recorded
// on the OpenTelemetry instrument the composition hands over.
import type { Histogram } from '@opentelemetry/api';

export interface HttpMetrics {
  observeRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
}

export function createHttpMetrics(histogram: Histogram): HttpMetrics {
  return {
    observeRequest: (labels, seconds) =>
      histogram.record(seconds, {
        method: labels.method,
        route: labels.route,
        status: String(labels.status),
      }),
  };
}
