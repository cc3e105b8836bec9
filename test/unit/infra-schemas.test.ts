// The JSON (and YAML) inputs of the deployment, validated against small schemas written from what their
// consumers need: ARM's deploymentParameters file, azd's azure.yaml, and the fields of
// Microsoft.Insights/scheduledQueryRules that alerts.bicep copies from each rendered alert rule. No Azure
// tooling runs here, so these catch a malformed input before `azd provision` would.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type SchemaObject } from 'ajv';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { AZURE_MONITOR_RULES_PATH } from '../../src/alerts/alert-renderings.ts';
import { readBicep, ROOT } from '../support/bicep-source.ts';

const ajv = new Ajv({ allErrors: true });
const readJson = (file: string): unknown => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));

/** The schema's errors for a value: [] when it validates. */
function problems(schema: SchemaObject, value: unknown): string[] {
  const validate = ajv.compile(schema);
  return validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

/** An azd substitution from the environment, `${NAME}` or `${NAME=default}`, whose default is `value`'s form. */
const substitution = (value: string): SchemaObject => ({
  type: 'string',
  pattern: `^\\$\\{[A-Z][A-Z0-9_]*(?:=${value})?\\}$`,
});

/** A parameter's value, by its Bicep type: the literal, or an azd substitution of one. */
const VALUE_BY_TYPE: Record<string, SchemaObject> = {
  string: { type: 'string' },
  bool: { anyOf: [{ type: 'boolean' }, substitution('(?:true|false)')] },
  int: { anyOf: [{ type: 'integer' }, substitution('-?[0-9]+')] },
  array: { type: 'array' },
  object: { type: 'object' },
};

/** ARM's deploymentParameters file, its parameters those main.bicep declares, each value of its type. */
function parametersSchema(): SchemaObject {
  const declared = [...readBicep('infra/main.bicep').matchAll(/^param (\w+) (\w+)/gm)];
  expect(declared.length).toBeGreaterThan(5);
  return {
    type: 'object',
    required: ['$schema', 'contentVersion', 'parameters'],
    additionalProperties: false,
    properties: {
      $schema: { const: 'https://schema.management.azure.com/schemas/2019-04-01/deploymentParameters.json#' },
      contentVersion: { type: 'string', pattern: '^[0-9]+\\.[0-9]+\\.[0-9]+\\.[0-9]+$' },
      parameters: {
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(
          declared.map(([, name, type]) => {
            const value = VALUE_BY_TYPE[type!];
            if (value === undefined) throw new Error(`main.bicep: no schema for ${name}'s type ${type}`);
            // A value, never a Key Vault reference: the deployment takes no secret.
            return [
              name,
              { type: 'object', required: ['value'], additionalProperties: false, properties: { value } },
            ];
          }),
        ),
      },
    },
  };
}

/** What azd needs of azure.yaml (a subset of its schema: the keys this project uses). */
const AZURE_YAML: SchemaObject = {
  type: 'object',
  required: ['name', 'services'],
  properties: {
    name: { type: 'string', minLength: 2 },
    metadata: { type: 'object', properties: { template: { type: 'string' } } },
    infra: {
      type: 'object',
      properties: {
        provider: { enum: ['bicep', 'terraform'] },
        path: { type: 'string' },
        module: { type: 'string' },
      },
    },
    services: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        required: ['project', 'language', 'host'],
        properties: {
          project: { type: 'string' },
          language: { enum: ['dotnet', 'csharp', 'fsharp', 'py', 'python', 'js', 'ts', 'java', 'docker'] },
          host: { enum: ['appservice', 'containerapp', 'function', 'staticwebapp', 'aks', 'springapp'] },
          dist: { type: 'string' },
          remoteBuild: { type: 'boolean' },
          hooks: {
            type: 'object',
            additionalProperties: {
              type: 'object',
              required: ['run'],
              properties: { shell: { enum: ['sh', 'pwsh'] }, run: { type: 'string', minLength: 1 } },
            },
          },
        },
      },
    },
  },
};

const DURATION = { type: 'string', pattern: '^P(?:[0-9]+D)?(?:T(?:[0-9]+H)?(?:[0-9]+M)?)?$', minLength: 3 };

/** Each rendered rule: the scheduledQueryRules (LogAlert) fields alerts.bicep copies, as the API types them. */
const ALERT_RULES: SchemaObject = {
  type: 'object',
  required: ['rules'],
  properties: {
    $comment: { type: 'string' },
    rules: {
      type: 'array',
      minItems: 1,
      items: {
        type: 'object',
        required: [
          'name',
          'displayName',
          'description',
          'severity',
          'evaluationFrequency',
          'windowSize',
          'criteria',
          'runbook',
        ],
        additionalProperties: false,
        properties: {
          // Part of the resource name: none of the characters Azure refuses in one.
          name: { type: 'string', pattern: '^[^<>*%{}&:\\\\?+/#|\\s]+$' },
          displayName: { type: 'string', minLength: 1 },
          description: { type: 'string' },
          severity: { type: 'integer', minimum: 0, maximum: 4 },
          evaluationFrequency: DURATION,
          windowSize: DURATION,
          runbook: { type: 'string', pattern: '^docs/operations\\.md#[a-z0-9-]+$' },
          criteria: {
            type: 'object',
            required: ['allOf'],
            additionalProperties: false,
            properties: {
              allOf: {
                type: 'array',
                minItems: 1,
                items: {
                  type: 'object',
                  required: ['query', 'timeAggregation', 'operator', 'threshold', 'failingPeriods'],
                  additionalProperties: false,
                  properties: {
                    query: { type: 'string', minLength: 1 },
                    timeAggregation: { enum: ['Count', 'Average', 'Minimum', 'Maximum', 'Total'] },
                    metricMeasureColumn: { type: 'string', minLength: 1 },
                    operator: {
                      enum: ['Equals', 'GreaterThan', 'GreaterThanOrEqual', 'LessThan', 'LessThanOrEqual'],
                    },
                    threshold: { type: 'number' },
                    failingPeriods: {
                      type: 'object',
                      required: ['numberOfEvaluationPeriods', 'minFailingPeriodsToAlert'],
                      additionalProperties: false,
                      properties: {
                        numberOfEvaluationPeriods: { type: 'integer', minimum: 1 },
                        minFailingPeriodsToAlert: { type: 'integer', minimum: 1 },
                      },
                    },
                  },
                  // An aggregation other than Count aggregates a column the query must name.
                  if: { not: { properties: { timeAggregation: { const: 'Count' } } } },
                  then: { required: ['metricMeasureColumn'] },
                },
              },
            },
          },
        },
      },
    },
  },
};

describe('infra/main.parameters.json', () => {
  it("is an ARM deploymentParameters file of main.bicep's parameters, each value of its type", () => {
    expect(problems(parametersSchema(), readJson('infra/main.parameters.json'))).toEqual([]);
  });

  it('would be refused with a wrongly typed value or an undeclared parameter (the schema checks something)', () => {
    const file = readJson('infra/main.parameters.json') as { parameters: Record<string, unknown> };
    const schema = parametersSchema();
    const wrong = (parameters: Record<string, unknown>) => problems(schema, { ...file, parameters });
    expect(wrong({ ...file.parameters, archivalScheduleEnabled: { value: 'yes' } })).not.toEqual([]);
    expect(wrong({ ...file.parameters, alertEmails: { value: 'ops@example.com' } })).not.toEqual([]);
    expect(wrong({ ...file.parameters, notAParameter: { value: 1 } })).not.toEqual([]);
    expect(wrong({ ...file.parameters, authAudience: { reference: { keyVault: {} } } })).not.toEqual([]);
  });
});

describe('azure.yaml', () => {
  it('has what azd needs: a name, and each service its project, language and host', () => {
    const project = parseYaml(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as unknown;
    expect(problems(AZURE_YAML, project)).toEqual([]);
    expect(problems(AZURE_YAML, { name: 'x', services: { api: { project: '.' } } })).not.toEqual([]);
  });
});

describe('the rendered Azure Monitor alert rules', () => {
  const file = readJson(AZURE_MONITOR_RULES_PATH) as {
    rules: Array<{ criteria: { allOf: Array<{ failingPeriods: Record<string, number> }> } }>;
  };

  it('give each scheduled query rule the fields the API needs, of its types', () => {
    expect(problems(ALERT_RULES, file)).toEqual([]);
  });

  it('would be refused with a severity, aggregation or missing column the API refuses (the schema checks something)', () => {
    const [rule] = file.rules as Array<Record<string, unknown> & { criteria: { allOf: object[] } }>;
    const condition = rule!.criteria.allOf[0] as Record<string, unknown>;
    const variant = (change: Record<string, unknown>, conditionChange: Record<string, unknown> = {}) =>
      problems(ALERT_RULES, {
        rules: [{ ...rule, ...change, criteria: { allOf: [{ ...condition, ...conditionChange }] } }],
      });
    expect(variant({})).toEqual([]);
    expect(variant({ severity: 5 })).not.toEqual([]);
    expect(variant({ windowSize: '1h' })).not.toEqual([]);
    expect(variant({}, { timeAggregation: 'Sum' })).not.toEqual([]);
    expect(variant({}, { timeAggregation: 'Maximum', metricMeasureColumn: undefined })).not.toEqual([]);
  });

  it('never ask for more failing periods than they evaluate', () => {
    for (const condition of file.rules.flatMap((rule) => rule.criteria.allOf)) {
      const { numberOfEvaluationPeriods, minFailingPeriodsToAlert } = condition.failingPeriods;
      expect(minFailingPeriodsToAlert).toBeLessThanOrEqual(numberOfEvaluationPeriods!);
    }
  });
});
