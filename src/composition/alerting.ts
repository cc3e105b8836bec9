// The embedded alerting: the rule file's in-process rendering, evaluated on a timer over the same
// instruments /metrics exposes, its state served at GET /api/v1/admin/alerts and each change POSTed to
// ALERT_WEBHOOK_URL. Under Prometheus or Azure Monitor the same rules run there instead (ops/).
import { DataPointType, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { AlertWebhook } from '../adapters/webhook/alert-webhook.ts';
import type { AlertRule } from '../alerts/alert-rules.ts';
import {
  AlertEvaluator,
  type AlertState,
  type MetricSnapshot,
  type Series,
} from '../alerts/alert-evaluator.ts';
import type { Clock } from '../ports/clock.ts';
import type { Logger } from '../ports/logger.ts';
import { SERVICE_NAME, type PullMetricReader } from './telemetry.ts';

export interface Alerting {
  alerts(): AlertState[];
  /** One evaluation now (the timer does this every interval). */
  evaluate(): Promise<void>;
  close(): Promise<void>;
}

export interface AlertingOptions {
  readonly rules: readonly AlertRule[];
  readonly reader: PullMetricReader;
  readonly clock: Clock;
  readonly log: Logger;
  readonly intervalMs: number;
  readonly webhookUrl?: string | undefined;
  /** Rules that do not apply in this process (the dead man's switch without a schedule). */
  readonly inactive?: ReadonlySet<string>;
  readonly onNotification?: (outcome: 'delivered' | 'failed' | 'dropped') => void;
  /** Off in tests that drive `evaluate` themselves. */
  readonly timer?: boolean;
}

export function startAlerting(options: AlertingOptions): Alerting {
  const webhook =
    options.webhookUrl === undefined
      ? undefined
      : new AlertWebhook({
          url: options.webhookUrl,
          clock: options.clock,
          log: options.log,
          ...(options.onNotification !== undefined ? { onOutcome: options.onNotification } : {}),
        });
  const evaluator = new AlertEvaluator({
    rules: options.rules,
    clock: options.clock,
    snapshot: () => snapshotOf(options.reader),
    ...(options.inactive !== undefined ? { inactive: options.inactive } : {}),
    onChange: ({ alert, change }) => {
      const fields = { alert: alert.name, value: alert.value, threshold: alert.threshold };
      if (change === 'firing') options.log.warn(fields, 'alert firing');
      else options.log.info(fields, 'alert resolved');
      webhook?.send({ service: SERVICE_NAME, change, ...alert });
    },
  });
  let evaluating: Promise<void> = Promise.resolve();
  const evaluate = (): Promise<void> => {
    evaluating = evaluating.then(
      () => evaluator.evaluate().then(() => undefined),
      () => undefined,
    );
    return evaluating.catch((error: unknown) => options.log.warn({ err: error }, 'alert evaluation failed'));
  };
  const timer = options.timer === false ? undefined : setInterval(() => void evaluate(), options.intervalMs);
  timer?.unref();
  return {
    alerts: () => evaluator.alerts(),
    evaluate,
    async close() {
      if (timer !== undefined) clearInterval(timer);
      await evaluating.catch(() => undefined);
      await webhook?.close();
    },
  };
}

/** The instruments as series (cumulative), the shape the evaluator computes over. */
export async function snapshotOf(reader: PullMetricReader): Promise<MetricSnapshot> {
  const { resourceMetrics } = await reader.collect();
  const series: Series[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      const name = metric.descriptor.name;
      for (const point of metric.dataPoints) {
        const labels = Object.fromEntries(Object.entries(point.attributes).map(([k, v]) => [k, String(v)]));
        if (metric.dataPointType === DataPointType.HISTOGRAM) {
          const value = (point as HistogramMetricData['dataPoints'][number]).value;
          series.push({
            name,
            labels,
            value: {
              kind: 'histogram',
              count: value.count,
              boundaries: value.buckets.boundaries,
              counts: value.buckets.counts,
            },
          });
        } else if (typeof point.value === 'number') {
          series.push({ name, labels, value: { kind: 'number', value: point.value } });
        }
      }
    }
  }
  return series;
}
