// The in-process rendering of the alert rules (the embedded default, where no Prometheus runs): each
// evaluation takes a snapshot of the instruments, keeps the snapshots of the longest window, computes
// every rule's signal over them as Prometheus would, and moves each alert between ok, pending and
// firing. Changes (firing, resolved) go to the notifier once each. Time comes from the injected clock.
import type { Clock } from '../ports/clock.ts';
import { type AlertRule, holdsForWindow, runbookLink } from './alert-rules.ts';

/** One series of a snapshot: a counter or gauge value, or a histogram's buckets. */
export type SeriesValue =
  | { readonly kind: 'number'; readonly value: number }
  | {
      readonly kind: 'histogram';
      readonly count: number;
      /** Upper bounds, ascending; the last bucket (+Inf) has no bound. */
      readonly boundaries: readonly number[];
      /** Per-bucket counts (not cumulative), one more than `boundaries`. */
      readonly counts: readonly number[];
    };

export interface Series {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: SeriesValue;
}

export type MetricSnapshot = readonly Series[];

export interface AlertState {
  readonly name: string;
  readonly severity: AlertRule['severity'];
  readonly state: 'firing' | 'ok';
  /** When it entered this state (or when the evaluator started). */
  readonly since: string;
  readonly value: number | null;
  readonly threshold: number;
  readonly summary: string;
  readonly runbook: string;
}

export interface AlertChange {
  readonly alert: AlertState;
  readonly change: 'firing' | 'resolved';
}

export interface AlertEvaluatorOptions {
  readonly rules: readonly AlertRule[];
  readonly clock: Clock;
  readonly snapshot: () => Promise<MetricSnapshot>;
  readonly onChange?: (change: AlertChange) => void;
  /** Rules that cannot apply here (the dead man's switch without a schedule): always ok. */
  readonly inactive?: ReadonlySet<string>;
}

interface RuleState {
  state: 'firing' | 'ok';
  since: Date;
  /** When the condition started to hold (pending), for gauge and age rules. */
  pendingSince: Date | undefined;
  value: number | null;
}

export class AlertEvaluator {
  readonly #options: AlertEvaluatorOptions;
  readonly #history: Array<{ readonly at: number; readonly snapshot: MetricSnapshot }> = [];
  readonly #states = new Map<string, RuleState>();
  readonly #keepMs: number;

  constructor(options: AlertEvaluatorOptions) {
    this.#options = options;
    const started = options.clock.now();
    for (const rule of options.rules)
      this.#states.set(rule.name, { state: 'ok', since: started, pendingSince: undefined, value: null });
    this.#keepMs = Math.max(...options.rules.map((rule) => rule.windowMs));
  }

  /** Takes a snapshot now and evaluates every rule; answers the changes it made. */
  async evaluate(): Promise<AlertChange[]> {
    const snapshot = await this.#options.snapshot();
    const now = this.#options.clock.now();
    this.#history.push({ at: now.getTime(), snapshot });
    // Keep one snapshot older than the longest window: the baseline of its range.
    while (this.#history.length > 2 && this.#history[1]!.at <= now.getTime() - this.#keepMs)
      this.#history.shift();
    const changes: AlertChange[] = [];
    for (const rule of this.#options.rules) {
      const change = this.#evaluateRule(rule, now);
      if (change !== undefined) {
        changes.push(change);
        this.#options.onChange?.(change);
      }
    }
    return changes;
  }

  /** GET /api/v1/admin/alerts. */
  alerts(): AlertState[] {
    return this.#options.rules.map((rule) => this.#view(rule, this.#states.get(rule.name)!));
  }

  #evaluateRule(rule: AlertRule, now: Date): AlertChange | undefined {
    const state = this.#states.get(rule.name)!;
    const value = this.#options.inactive?.has(rule.name) === true ? null : this.signalValue(rule, now);
    state.value = value;
    const breached = value !== null && (rule.below ? value < rule.threshold : value > rule.threshold);
    let firing = breached;
    if (holdsForWindow(rule)) {
      if (!breached) state.pendingSince = undefined;
      else state.pendingSince ??= now;
      firing = breached && now.getTime() - state.pendingSince!.getTime() >= rule.windowMs;
    }
    const next = firing ? 'firing' : 'ok';
    if (next === state.state) return undefined;
    state.state = next;
    state.since = now;
    return { alert: this.#view(rule, state), change: firing ? 'firing' : 'resolved' };
  }

  #view(rule: AlertRule, state: RuleState): AlertState {
    return {
      name: rule.name,
      severity: rule.severity,
      state: state.state,
      since: state.since.toISOString(),
      value: state.value,
      threshold: rule.threshold,
      summary: rule.summary,
      runbook: runbookLink(rule),
    };
  }

  /** The rule's signal now, as its PromQL rendering computes it; null where Prometheus has no value. */
  signalValue(rule: AlertRule, now: Date): number | null {
    const signal = rule.signal;
    const latest = this.#history.at(-1)?.snapshot ?? [];
    const baseline = this.#baseline(now.getTime() - rule.windowMs);
    switch (signal.kind) {
      case 'gauge': {
        const values = numbers(latest, signal.metric, signal.match);
        return values.length === 0 ? null : sum(values);
      }
      case 'age': {
        const values = numbers(latest, signal.metric, signal.match);
        return values.length === 0 ? null : now.getTime() / 1000 - Math.max(...values);
      }
      case 'increase':
        return increase(latest, baseline, signal.metric, signal.match);
      case 'delta': {
        const current = numbers(latest, signal.metric, signal.match);
        const before = baseline === undefined ? [] : numbers(baseline, signal.metric, signal.match);
        return current.length === 0 || before.length === 0
          ? null
          : Math.max(...current) - Math.max(...before);
      }
      case 'ratio': {
        const numerator = increase(latest, baseline, signal.metric, signal.match);
        const denominator = increase(latest, baseline, signal.denominator, signal.denominatorMatch);
        return numerator === null || denominator === null || denominator === 0
          ? null
          : numerator / denominator;
      }
      case 'quantile':
        return quantileOver(latest, baseline, signal.metric, signal.match, signal.quantile);
    }
  }

  /** The newest snapshot at or before `at`, or the oldest one kept (the process started after `at`). */
  #baseline(at: number): MetricSnapshot | undefined {
    let found: MetricSnapshot | undefined;
    for (const entry of this.#history) {
      if (entry.at <= at) found = entry.snapshot;
      else break;
    }
    if (found !== undefined) return found;
    return this.#history.length > 1 ? this.#history[0]!.snapshot : undefined;
  }
}

function matches(
  series: Series,
  metric: string,
  match: Readonly<Record<string, string>> | undefined,
): boolean {
  if (series.name !== metric) return false;
  for (const [label, pattern] of Object.entries(match ?? {})) {
    if (!new RegExp(`^(?:${pattern})$`).test(series.labels[label] ?? '')) return false;
  }
  return true;
}

/** Counter and gauge values; `<histogram>_count` reads a histogram's count, as Prometheus exposes it. */
function numbers(
  snapshot: MetricSnapshot,
  metric: string,
  match?: Readonly<Record<string, string>>,
): number[] {
  const values: number[] = [];
  const histogramCount = metric.endsWith('_count') ? metric.slice(0, -'_count'.length) : undefined;
  for (const series of snapshot) {
    if (series.value.kind === 'number' && matches(series, metric, match)) values.push(series.value.value);
    else if (
      series.value.kind === 'histogram' &&
      histogramCount !== undefined &&
      matches(series, histogramCount, match)
    )
      values.push(series.value.count);
  }
  return values;
}

function seriesKey(series: Series): string {
  return `${series.name}${JSON.stringify(Object.entries(series.labels).sort())}`;
}

/** Sum over matching series of their growth since the baseline (a series absent then started at 0). */
function increase(
  latest: MetricSnapshot,
  baseline: MetricSnapshot | undefined,
  metric: string,
  match: Readonly<Record<string, string>> | undefined,
): number | null {
  if (baseline === undefined) return null;
  const before = new Map<string, number>();
  const histogramCount = metric.endsWith('_count') ? metric.slice(0, -'_count'.length) : undefined;
  const valueOf = (series: Series): number | undefined =>
    series.value.kind === 'number'
      ? matches(series, metric, match)
        ? series.value.value
        : undefined
      : histogramCount !== undefined && matches(series, histogramCount, match)
        ? series.value.count
        : undefined;
  for (const series of baseline) {
    const value = valueOf(series);
    if (value !== undefined) before.set(seriesKey(series), value);
  }
  let total = 0;
  let any = false;
  for (const series of latest) {
    const value = valueOf(series);
    if (value === undefined) continue;
    any = true;
    total += Math.max(0, value - (before.get(seriesKey(series)) ?? 0));
  }
  return any ? total : null;
}

/** histogram_quantile over the buckets' growth since the baseline, interpolated within a bucket. */
function quantileOver(
  latest: MetricSnapshot,
  baseline: MetricSnapshot | undefined,
  metric: string,
  match: Readonly<Record<string, string>> | undefined,
  quantile: number,
): number | null {
  if (baseline === undefined) return null;
  let boundaries: readonly number[] | undefined;
  let counts: number[] | undefined;
  const old = new Map<string, readonly number[]>();
  for (const series of baseline)
    if (series.value.kind === 'histogram' && matches(series, metric, match))
      old.set(seriesKey(series), series.value.counts);
  for (const series of latest) {
    if (series.value.kind !== 'histogram' || !matches(series, metric, match)) continue;
    boundaries ??= series.value.boundaries;
    counts ??= new Array<number>(series.value.counts.length).fill(0);
    const before = old.get(seriesKey(series));
    series.value.counts.forEach((count, i) => (counts![i]! += Math.max(0, count - (before?.[i] ?? 0))));
  }
  if (boundaries === undefined || counts === undefined) return null;
  const total = sum(counts);
  if (total === 0) return null;
  const rank = quantile * total;
  let cumulative = 0;
  for (let i = 0; i < counts.length; i++) {
    const previous = cumulative;
    cumulative += counts[i]!;
    if (cumulative >= rank) {
      // The +Inf bucket answers the highest finite bound, as Prometheus does.
      if (i >= boundaries.length) return boundaries.at(-1) ?? null;
      const lower = i === 0 ? 0 : boundaries[i - 1]!;
      const upper = boundaries[i]!;
      return lower + ((upper - lower) * (rank - previous)) / (counts[i] || 1);
    }
  }
  return boundaries.at(-1) ?? null;
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}
