// `npm run alerts:render`: writes the Prometheus rules, their promtool tests and the Azure Monitor rules
// from ops/alerts/alert-rules.yaml (the one source); a test fails when the committed files differ.
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadAlertRules } from '../alerts/alert-rules.ts';
import {
  AZURE_MONITOR_RULES_PATH,
  PROMETHEUS_RULES_PATH,
  PROMETHEUS_TESTS_PATH,
  renderAzureMonitorRules,
  renderPrometheusRules,
  renderPrometheusTests,
} from '../alerts/alert-renderings.ts';

const root = resolve(import.meta.dirname, '../..');
const rules = loadAlertRules();
for (const [path, text] of [
  [PROMETHEUS_RULES_PATH, renderPrometheusRules(rules)],
  [PROMETHEUS_TESTS_PATH, renderPrometheusTests(rules)],
  [AZURE_MONITOR_RULES_PATH, renderAzureMonitorRules(rules)],
] as const) {
  writeFileSync(resolve(root, path), text);
  console.log(`wrote ${path}`);
}
