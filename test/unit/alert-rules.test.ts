// The one rule file and its three renderings: the committed Prometheus and Azure Monitor files are what
// the rules render (drift fails here), promtool runs its unit tests on them, every rule has a runbook
// entry, and the in-process evaluator fires and resolves with a fake clock, POSTing each change once to
// a real local HTTP receiver.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AlertWebhook } from '../../src/adapters/webhook/alert-webhook.ts';
import { AlertEvaluator, type MetricSnapshot } from '../../src/alerts/alert-evaluator.ts';
import { loadAlertRules } from '../../src/alerts/alert-rules.ts';
import {
  AZURE_MONITOR_RULES_PATH,
  PROMETHEUS_RULES_PATH,
  PROMETHEUS_TESTS_PATH,
  renderAzureMonitorRules,
  renderPrometheusRules,
  renderPrometheusTests,
} from '../../src/alerts/alert-renderings.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { silentLogger } from '../support/archival-harness.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const rules = loadAlertRules();
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');

describe('the rule file and its renderings', () => {
  it('covers the failure classes of DESIGN.md', () => {
    expect(rules.map((rule) => rule.name)).toEqual(
      expect.arrayContaining([
        'ArchivalRunFailed',
        'ArchivalRunOverdue',
        'ArchivalItemsStuck',
        'ArchivalItemsParked',
        'ArchiveIntegrityFailure',
        'ArchivedReadLatencyHigh',
        'ServerErrorRatioHigh',
        'UnauthorizedSpike',
        'CustomerScopeDenied',
        'CacheErrors',
        'ArchivalBacklogGrowing',
        'AuditChainBroken',
      ]),
    );
  });

  it('renders exactly the committed Prometheus rules, their tests and the Azure Monitor rules (run `npm run alerts:render`)', () => {
    expect(read(PROMETHEUS_RULES_PATH)).toBe(renderPrometheusRules(rules));
    expect(read(PROMETHEUS_TESTS_PATH)).toBe(renderPrometheusTests(rules));
    expect(read(AZURE_MONITOR_RULES_PATH)).toBe(renderAzureMonitorRules(rules));
  });

  it('passes `promtool test rules` (series that fire and series that do not, for every rule)', () => {
    const found = spawnSync('promtool', ['--version'], { encoding: 'utf8' });
    if (found.error !== undefined)
      throw new Error(
        'promtool is missing: install it (apt-get install -y prometheus) and run the tests again',
      );
    const output = execFileSync('promtool', ['test', 'rules', 'alerts.test.yml'], {
      cwd: resolve(ROOT, 'ops/prometheus'),
      encoding: 'utf8',
    });
    expect(output).toMatch(/SUCCESS/);
    const tests = read(PROMETHEUS_TESTS_PATH);
    for (const rule of rules) {
      expect(tests).toContain(`${rule.name} fires`);
      expect(tests).toContain(`${rule.name} stays quiet`);
    }
  });

  it('gives Azure Monitor one scheduled query rule per alert, in the shape the Bicep loads', () => {
    const document = JSON.parse(read(AZURE_MONITOR_RULES_PATH)) as {
      rules: Array<Record<string, unknown> & { criteria: { allOf: unknown[] } }>;
    };
    expect(document.rules.map((rule) => rule.name)).toEqual(rules.map((rule) => rule.name));
    for (const rule of document.rules) {
      expect(rule).toMatchObject({
        severity: expect.any(Number),
        evaluationFrequency: expect.stringMatching(/^PT/),
        windowSize: expect.stringMatching(/^P/),
        runbook: expect.stringMatching(/^docs\/operations\.md#/),
      });
      const [criterion] = rule.criteria.allOf;
      expect(criterion).toMatchObject({
        query: expect.stringMatching(/\| summarize /),
        metricMeasureColumn: 'value',
        operator: expect.stringMatching(/^(GreaterThan|LessThan)$/),
        threshold: expect.any(Number),
      });
    }
  });

  it('links every rule to a runbook entry of docs/operations.md', () => {
    const operations = read('docs/operations.md');
    for (const rule of rules) expect(operations, rule.runbook).toContain(`<a id="${rule.runbook}"></a>`);
  });
});

describe('the in-process evaluator', () => {
  it('fires after the window, resolves on recovery, and POSTs each change once to the webhook', async () => {
    const received: Array<{ name: string; change: string }> = [];
    let failFirst = true;
    const receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        // The first delivery fails: the webhook retries it.
        if (failFirst) {
          failFirst = false;
          response.writeHead(503).end();
          return;
        }
        received.push(JSON.parse(body) as { name: string; change: string });
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((done) => receiver.listen(0, '127.0.0.1', done));
    const clock = new ManualClock();
    const webhook = new AlertWebhook({
      url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/`,
      clock,
      log: silentLogger,
      retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 1 },
    });
    let up = 1;
    const snapshot = (): Promise<MetricSnapshot> =>
      Promise.resolve<MetricSnapshot>([
        { name: 'dependency_up', labels: { dependency: 'archive' }, value: { kind: 'number', value: up } },
      ]);
    const evaluator = new AlertEvaluator({
      rules: rules.filter((rule) => rule.name === 'ArchiveUnreachable'),
      clock,
      snapshot,
      onChange: ({ alert, change }) => webhook.send({ change, ...alert }),
    });
    try {
      await evaluator.evaluate();
      up = 0;
      await evaluator.evaluate();
      expect(evaluator.alerts()[0]!.state).toBe('ok'); // pending: the window has not passed
      clock.advance(29_000);
      await evaluator.evaluate();
      expect(evaluator.alerts()[0]!.state).toBe('ok');
      clock.advance(1_000);
      await evaluator.evaluate();
      expect(evaluator.alerts()[0]).toMatchObject({ state: 'firing', value: 0, threshold: 1 });
      await evaluator.evaluate(); // still firing: no second POST
      // The retry sleeps on the manual clock: move it until the delivery is done.
      while (received.length < 1) {
        await clock.tick(10);
        await new Promise((done) => setImmediate(done));
      }
      up = 1;
      clock.advance(15_000);
      await evaluator.evaluate();
      expect(evaluator.alerts()[0]!.state).toBe('ok');
      while (received.length < 2) {
        await clock.tick(10);
        await new Promise((done) => setImmediate(done));
      }
      await webhook.idle();
      expect(received.map((r) => [r.name, r.change])).toEqual([
        ['ArchiveUnreachable', 'firing'],
        ['ArchiveUnreachable', 'resolved'],
      ]);
    } finally {
      await webhook.close();
      await new Promise((done) => receiver.close(done));
    }
  });

  it('computes increase, ratio and p99 over the window as Prometheus does', async () => {
    const clock = new ManualClock();
    let failed = 0;
    let buckets = [0, 0, 0];
    const evaluator = new AlertEvaluator({
      rules,
      clock,
      snapshot: () =>
        Promise.resolve<MetricSnapshot>([
          {
            name: 'archival_runs_total',
            labels: { status: 'failed' },
            value: { kind: 'number', value: failed },
          },
          {
            name: 'archived_read_duration_seconds',
            labels: { source: 'archive' },
            value: {
              kind: 'histogram',
              count: buckets.reduce((a, b) => a + b, 0),
              boundaries: [0.5, 2],
              counts: buckets,
            },
          },
        ]),
    });
    await evaluator.evaluate();
    failed = 1;
    buckets = [0, 100, 0];
    clock.advance(60_000);
    await evaluator.evaluate();
    const byName = new Map(evaluator.alerts().map((alert) => [alert.name, alert]));
    expect(byName.get('ArchivalRunFailed')).toMatchObject({ state: 'firing', value: 1 });
    expect(byName.get('ArchivedReadLatencyHigh')!.state).toBe('firing');
    expect(byName.get('ArchivedReadLatencyHigh')!.value).toBeCloseTo(1.985, 2);
    // An hour later the failure has left the window.
    clock.advance(3_600_000);
    await evaluator.evaluate();
    expect(
      new Map(evaluator.alerts().map((alert) => [alert.name, alert])).get('ArchivalRunFailed')!.state,
    ).toBe('ok');
  });
});
