// The Prometheus and Azure Monitor renderings of the rule file, and the promtool unit tests of the
// Prometheus one (a series that fires and one that does not, per rule). `npm run alerts:render` writes
// them into ops/; a test fails when the files in the repository differ from what this renders.
import { stringify } from 'yaml';
import {
  type AlertRule,
  type AlertSignal,
  holdsForWindow,
  promDuration,
  runbookLink,
} from './alert-rules.ts';

export const PROMETHEUS_RULES_PATH = 'ops/prometheus/alerts.yml';
export const PROMETHEUS_TESTS_PATH = 'ops/prometheus/alerts.test.yml';
export const AZURE_MONITOR_RULES_PATH = 'ops/azure-monitor/alert-rules.json';

const HEADER =
  '# Generated from ops/alerts/alert-rules.yaml by `npm run alerts:render`: edit that file, not this one.\n';

function selector(metric: string, match: Readonly<Record<string, string>> | undefined): string {
  const labels = Object.entries(match ?? {}).map(([name, value]) => `${name}=~"${value}"`);
  return labels.length === 0 ? metric : `${metric}{${labels.join(',')}}`;
}

export function promExpression(rule: AlertRule): string {
  const s: AlertSignal = rule.signal;
  const range = promDuration(rule.windowMs);
  const op = rule.below ? '<' : '>';
  const value = ((): string => {
    switch (s.kind) {
      case 'increase':
        return `sum(increase(${selector(s.metric, s.match)}[${range}]))`;
      case 'gauge':
        return `sum(${selector(s.metric, s.match)})`;
      case 'age':
        return `time() - max(${selector(s.metric, s.match)})`;
      case 'delta':
        return `max(${selector(s.metric, s.match)}) - max(${selector(s.metric, s.match)} offset ${range})`;
      case 'ratio':
        return `sum(increase(${selector(s.metric, s.match)}[${range}])) / sum(increase(${selector(s.denominator, s.denominatorMatch)}[${range}]))`;
      case 'quantile':
        return `histogram_quantile(${s.quantile}, sum by (le) (rate(${selector(`${s.metric}_bucket`, s.match)}[${range}])))`;
    }
  })();
  return `(${value}) ${op} ${rule.threshold}`;
}

export function renderPrometheusRules(rules: readonly AlertRule[]): string {
  const document = {
    groups: [
      {
        name: 'billing-records',
        rules: rules.map((rule) => ({
          alert: rule.name,
          expr: promExpression(rule),
          ...(holdsForWindow(rule) ? { for: promDuration(rule.windowMs) } : {}),
          labels: { severity: rule.severity },
          annotations: { summary: rule.summary, runbook_url: runbookLink(rule) },
        })),
      },
    ],
  };
  return HEADER + stringify(document, { lineWidth: 0 });
}

/**
 * promtool unit tests: per rule, input series that breach the threshold (the alert must fire) and series
 * that stay within it (it must not), evaluated one scrape interval (1m) at a time.
 */
export function renderPrometheusTests(rules: readonly AlertRule[]): string {
  const tests = rules.flatMap((rule) => [testCase(rule, true), testCase(rule, false)]);
  return (
    HEADER + stringify({ rule_files: ['alerts.yml'], evaluation_interval: '1m', tests }, { lineWidth: 0 })
  );
}

function testCase(rule: AlertRule, fire: boolean): object {
  const s = rule.signal;
  const windowMinutes = Math.max(1, Math.ceil(rule.windowMs / 60_000));
  // Long enough to cover the window (and an offset) and a `for` hold, evaluated at its end.
  const steps = Math.min(windowMinutes * 2 + 10, 3000);
  const evalMinutes = steps;
  const labels = (match: Readonly<Record<string, string>> | undefined): string => {
    const entries = Object.entries(match ?? {}).map(([name, pattern]) => `${name}="${example(pattern)}"`);
    return entries.length === 0 ? '' : `{${entries.join(',')}}`;
  };
  const series: Array<{ series: string; values: string }> = [];
  const t = rule.threshold;
  switch (s.kind) {
    case 'increase': {
      // A counter that climbs by (threshold + 1) over the last part of the window, or stays flat.
      const rise = fire ? t + 2 : 0;
      series.push({ series: `${s.metric}${labels(s.match)}`, values: `0x${steps - 2} ${rise} ${rise}` });
      break;
    }
    case 'gauge': {
      const value = rule.below ? (fire ? t - 1 : t) : fire ? t + 1 : t;
      series.push({ series: `${s.metric}${labels(s.match)}`, values: `${value}x${steps}` });
      break;
    }
    case 'age': {
      // The last success long ago (fires) or at the end of the test (does not).
      const last = fire ? evalMinutes * 60 - t - 600 : evalMinutes * 60;
      series.push({ series: `${s.metric}${labels(s.match)}`, values: `${last}x${steps}` });
      break;
    }
    case 'delta': {
      const end = fire ? 100 + t + 1 : 100;
      series.push({
        series: `${s.metric}${labels(s.match)}`,
        values: `100x${steps - windowMinutes} ${end}x${windowMinutes}`,
      });
      break;
    }
    case 'ratio': {
      // 100 requests a minute; errors are above or at most at the threshold's share.
      const errorsPerMinute = fire ? Math.ceil(100 * t) + 5 : Math.floor(100 * t * 0.5);
      series.push({ series: `${s.metric}${labels(s.match)}`, values: `0+${errorsPerMinute}x${steps}` });
      const okPerMinute = 100 - errorsPerMinute;
      series.push({ series: `${s.denominator}{status="200"}`, values: `0+${okPerMinute}x${steps}` });
      break;
    }
    case 'quantile': {
      // Every observation in the bucket above the threshold (fires) or in the lowest bucket (does not).
      const bounds = [t / 10, t, t * 10];
      for (const bound of [...bounds, '+Inf']) {
        const inBucket = fire ? bound === t * 10 || bound === '+Inf' : true;
        series.push({
          series: `${s.metric}_bucket${labels(s.match).replace(/}$/, ',').replace(/^$/, '{')}le="${bound}"}`,
          values: `0+${inBucket ? 10 : 0}x${steps}`,
        });
      }
      break;
    }
  }
  return {
    name: `${rule.name} ${fire ? 'fires' : 'stays quiet'}`,
    interval: '1m',
    input_series: series,
    alert_rule_test: [
      {
        eval_time: `${evalMinutes}m`,
        alertname: rule.name,
        exp_alerts: fire
          ? [
              {
                exp_labels: { severity: rule.severity },
                exp_annotations: { summary: rule.summary, runbook_url: runbookLink(rule) },
              },
            ]
          : [],
      },
    ],
  };
}

/** A label value that an anchored pattern matches (`5..` gives 500). */
function example(pattern: string): string {
  return pattern.replaceAll('.', '0');
}

// ---- Azure Monitor ----

const AZURE_SEVERITY = { critical: 1, warning: 2, info: 3 } as const;

/** KQL over Application Insights, where the OTel instruments arrive as customMetrics under the same names. */
export function kqlQuery(rule: AlertRule): string {
  const s = rule.signal;
  const where = (metric: string, match: Readonly<Record<string, string>> | undefined): string =>
    [
      `name == "${metric.replace(/_count$/, '')}"`,
      ...Object.entries(match ?? {}).map(
        ([label, pattern]) => `tostring(customDimensions["${label}"]) matches regex "^(${pattern})$"`,
      ),
    ].join(' and ');
  const range = `ago(${promDuration(rule.windowMs)})`;
  switch (s.kind) {
    case 'increase':
      return `customMetrics | where timestamp > ${range} and ${where(s.metric, s.match)} | summarize value = sum(valueSum)`;
    case 'gauge':
      return `customMetrics | where timestamp > ago(5m) and ${where(s.metric, s.match)} | summarize value = max(valueMax)`;
    case 'age':
      return `customMetrics | where timestamp > ago(1d) and ${where(s.metric, s.match)} | summarize last = max(valueMax) | extend value = datetime_diff("second", now(), unixtime_seconds_todatetime(last))`;
    case 'delta':
      return `customMetrics | where timestamp > ago(${promDuration(rule.windowMs * 2)}) and ${where(s.metric, s.match)} | summarize now_ = maxif(valueMax, timestamp > ${range}), before = maxif(valueMax, timestamp <= ${range}) | extend value = now_ - before`;
    case 'ratio':
      return `customMetrics | where timestamp > ${range} and name == "${s.denominator.replace(/_count$/, '')}" | summarize errors = sumif(valueCount, ${
        Object.entries(s.match ?? {})
          .map(([label, pattern]) => `tostring(customDimensions["${label}"]) matches regex "^(${pattern})$"`)
          .join(' and ') || 'true'
      }), total = sum(valueCount) | extend value = iff(total == 0, 0.0, todouble(errors) / total)`;
    case 'quantile':
      return `dependencies | where timestamp > ${range} and name == "${s.span}" | summarize value = percentile(duration, ${s.quantile * 100}) / 1000.0`;
  }
}

/** Scheduled query rules for the Bicep (`loadJsonContent('alert-rules.json')`), one per rule. */
export function renderAzureMonitorRules(rules: readonly AlertRule[]): string {
  const document = {
    $comment: HEADER.trim().slice(2),
    rules: rules.map((rule) => ({
      name: rule.name,
      displayName: rule.name,
      description: `${rule.summary}. Runbook: ${runbookLink(rule)}`,
      severity: AZURE_SEVERITY[rule.severity],
      evaluationFrequency: 'PT5M',
      windowSize: rule.windowMs < 300_000 ? 'PT5M' : rule.window,
      criteria: {
        allOf: [
          {
            query: kqlQuery(rule),
            timeAggregation: 'Maximum',
            metricMeasureColumn: 'value',
            operator: rule.below ? 'LessThan' : 'GreaterThan',
            threshold: rule.threshold,
            failingPeriods: { numberOfEvaluationPeriods: 1, minFailingPeriodsToAlert: 1 },
          },
        ],
      },
      runbook: runbookLink(rule),
    })),
  };
  return `${JSON.stringify(document, null, 2)}\n`;
}
