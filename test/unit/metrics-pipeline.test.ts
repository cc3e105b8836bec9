// Prometheus and the alert evaluator read the instruments through one cumulative reader: a scrape must
// not take from what the evaluator sees next, nor the evaluator from the next scrape.
import { describe, expect, it } from 'vitest';
import { snapshotOf } from '../../src/composition/alerting.ts';
import { createMetricsPipeline } from '../../src/composition/telemetry.ts';

describe('the metrics pipeline', () => {
  it('gives Prometheus and the evaluator the same cumulative values, one collecting after the other', async () => {
    const pipeline = createMetricsPipeline();
    const requests = pipeline.meter.createCounter('demo_requests_total');
    const duration = pipeline.meter.createHistogram('demo_duration_seconds', {
      advice: { explicitBucketBoundaries: [0.1, 1] },
    });
    const evaluatorSees = async () =>
      (await snapshotOf(pipeline.reader)).filter((series) => series.name.startsWith('demo_'));
    const scrapeLine = async (prefix: string) =>
      (await pipeline.prometheusText()).body.split('\n').find((line) => line.startsWith(prefix));

    requests.add(2, { route: 'a' });
    duration.record(0.05);
    expect(await scrapeLine('demo_requests_total')).toBe('demo_requests_total{route="a"} 2');
    requests.add(3, { route: 'a' });
    duration.record(0.5);
    expect(await evaluatorSees()).toEqual([
      { name: 'demo_requests_total', labels: { route: 'a' }, value: { kind: 'number', value: 5 } },
      {
        name: 'demo_duration_seconds',
        labels: {},
        value: { kind: 'histogram', count: 2, boundaries: [0.1, 1], counts: [1, 1, 0] },
      },
    ]);
    // Collected twice already: nothing was taken from the totals.
    expect(await scrapeLine('demo_requests_total')).toBe('demo_requests_total{route="a"} 5');
    expect(await scrapeLine('demo_duration_seconds_count')).toBe('demo_duration_seconds_count 2');
    await pipeline.shutdown();
  });

  it('answers a scrape and an evaluation at the same time alike, observable instruments included', async () => {
    const pipeline = createMetricsPipeline();
    const requests = pipeline.meter.createCounter('demo_requests_total');
    let callbacks = 0;
    pipeline.meter.createObservableGauge('demo_backlog').addCallback(async (result) => {
      callbacks++;
      await new Promise((resolve) => setImmediate(resolve));
      result.observe(7);
    });
    requests.add(4);
    const [text, snapshot] = await Promise.all([pipeline.prometheusText(), snapshotOf(pipeline.reader)]);
    const lines = text.body.split('\n');
    expect(lines).toContain('demo_requests_total 4');
    expect(lines).toContain('demo_backlog 7');
    expect(snapshot.filter((series) => series.name.startsWith('demo_'))).toEqual([
      { name: 'demo_requests_total', labels: {}, value: { kind: 'number', value: 4 } },
      { name: 'demo_backlog', labels: {}, value: { kind: 'number', value: 7 } },
    ]);
    // Each collection asks the observable once, as with a reader of its own.
    expect(callbacks).toBe(2);
    await pipeline.shutdown();
  });
});
