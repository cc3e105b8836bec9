// The one rule file of every alert (ops/alerts/alert-rules.yaml): read and validated here, then rendered
// for the in-process evaluator, Prometheus and Azure Monitor. A rule names a signal over the service's
// instruments, a threshold, a window, a severity, a summary and its runbook anchor in docs/operations.md.
import { readFileSync } from 'node:fs';
import Type, { type Static } from 'typebox';
import { parse } from 'yaml';
import { parseIsoDuration } from '../domain/iso-duration.ts';
import { compileValidator } from '../domain/schema-validation.ts';

export const ALERT_RULES_PATH = new URL('../../ops/alerts/alert-rules.yaml', import.meta.url);
export const RUNBOOK_DOCUMENT = 'docs/operations.md';

const Match = Type.Record(Type.String({ pattern: '^[a-z_]+$' }), Type.String({ minLength: 1 }));
const Metric = Type.String({ pattern: '^[a-z_][a-z0-9_]*$' });

const Signal = Type.Union([
  Type.Object(
    { kind: Type.Literal('increase'), metric: Metric, match: Type.Optional(Match) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('gauge'), metric: Metric, match: Type.Optional(Match) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('age'), metric: Metric, match: Type.Optional(Match) },
    { additionalProperties: false },
  ),
  Type.Object(
    { kind: Type.Literal('delta'), metric: Metric, match: Type.Optional(Match) },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('ratio'),
      metric: Metric,
      match: Type.Optional(Match),
      denominator: Metric,
      denominatorMatch: Type.Optional(Match),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('quantile'),
      quantile: Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 }),
      metric: Metric,
      match: Type.Optional(Match),
      /** The span whose duration Azure Monitor measures (its metrics carry no histogram buckets). */
      span: Type.String({ minLength: 1 }),
    },
    { additionalProperties: false },
  ),
]);

const Rule = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Z][A-Za-z0-9]+$' }),
    severity: Type.Enum(['critical', 'warning', 'info']),
    summary: Type.String({ minLength: 1 }),
    runbook: Type.String({ pattern: '^[a-z0-9-]+$' }),
    signal: Signal,
    threshold: Type.Number(),
    below: Type.Optional(Type.Boolean()),
    window: Type.String({ minLength: 3 }),
  },
  { additionalProperties: false },
);

const RuleFile = Type.Object({ rules: Type.Array(Rule, { minItems: 1 }) }, { additionalProperties: false });

export type AlertSignal = Static<typeof Signal>;
export type AlertSeverity = 'critical' | 'warning' | 'info';

export interface AlertRule {
  readonly name: string;
  readonly severity: AlertSeverity;
  readonly summary: string;
  /** The anchor of its runbook entry in docs/operations.md. */
  readonly runbook: string;
  readonly signal: AlertSignal;
  readonly threshold: number;
  readonly below: boolean;
  /** As written (ISO 8601), and in milliseconds. */
  readonly window: string;
  readonly windowMs: number;
}

/** Gauge and age signals hold for the window before they fire; range signals are computed over it. */
export function holdsForWindow(rule: AlertRule): boolean {
  return rule.signal.kind === 'gauge' || rule.signal.kind === 'age';
}

export function runbookLink(rule: AlertRule): string {
  return `${RUNBOOK_DOCUMENT}#${rule.runbook}`;
}

const validate = compileValidator(RuleFile);

export function parseAlertRules(text: string): readonly AlertRule[] {
  const file = validate(parse(text) as unknown) as Static<typeof RuleFile>;
  const names = new Set<string>();
  return file.rules.map((rule) => {
    if (names.has(rule.name)) throw new Error(`alert rule ${rule.name} is defined twice`);
    names.add(rule.name);
    const duration = parseIsoDuration(rule.window);
    if (duration === undefined || duration.years !== 0 || duration.months !== 0)
      throw new Error(`alert rule ${rule.name}: window ${rule.window} is not a fixed ISO 8601 duration`);
    return {
      ...rule,
      severity: rule.severity as AlertSeverity,
      below: rule.below === true,
      windowMs: durationMs(duration),
    };
  });
}

export function loadAlertRules(path: URL | string = ALERT_RULES_PATH): readonly AlertRule[] {
  return parseAlertRules(readFileSync(path, 'utf8'));
}

function durationMs(duration: NonNullable<ReturnType<typeof parseIsoDuration>>): number {
  return (
    (((duration.weeks * 7 + duration.days) * 24 + duration.hours) * 60 + duration.minutes) * 60_000 +
    duration.seconds * 1000
  );
}

/** Prometheus durations: the largest unit that divides the window (1h, 30s, 1d). */
export function promDuration(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
