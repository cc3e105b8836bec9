// Prometheus metrics for the HTTP edge, on a registry of its own (no global state between tests).
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

export interface HttpMetrics {
  readonly registry: Registry;
  observeRequest(labels: { method: string; route: string; status: number }, seconds: number): void;
}

export function createHttpMetrics(
  registry: Registry = new Registry(),
  options: { defaultMetrics?: boolean } = {},
): HttpMetrics {
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP requests by route, method and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  return {
    registry,
    observeRequest: (labels, seconds) =>
      duration.observe(
        { method: labels.method, route: labels.route, status: String(labels.status) },
        seconds,
      ),
  };
}
