// What the code and the Bicep under infra/ both need lives once, in JSON the code imports and the Bicep
// loads with loadJsonContent; these tests fail when the two disagree. No Bicep compiler runs here, so the
// Bicep is read as text (test/support/bicep-source.ts): `az bicep build` is the check where it exists.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import {
  LEDGER_CONTAINER_ID,
  LEDGER_INDEXING_POLICY,
  LEDGER_PARTITION_KEY_PATH,
  LEDGER_QUERY_ORDERS,
} from '../../src/adapters/cosmos/cosmos-archive-ledger.ts';
import {
  PARTITION_KEY_PATH,
  RECORDS_INDEXING_POLICY,
} from '../../src/adapters/cosmos/cosmos-record-store.ts';
import { AZURE_MONITOR_RULES_PATH } from '../../src/alerts/alert-renderings.ts';
import { ROLES } from '../../src/api/authentication.ts';
import { ConfigError, loadConfig, readSettings } from '../../src/config/app-config.ts';
import { describeSetting, type SettingName } from '../../src/config/settings-schema.ts';
import { bicepFiles, loadedJsonFiles, readBicep, ROOT } from '../support/bicep-source.ts';
import {
  appSettingsOverrides,
  bicepAppSettingNames,
  deployedEnvironment,
  isSettingName,
} from '../support/deployed-settings.ts';

const MAIN = 'infra/main.bicep';
const COSMOS_CONTAINERS = 'src/adapters/cosmos/cosmos-containers.json';
const RESOURCE_NAMES = 'src/config/resource-names.json';

/**
 * App settings of the Functions host itself, not of the code: identity-based host storage, disabled
 * triggers, the Node worker's command-line flags.
 */
const HOST_SETTING =
  /^(?:AzureWebJobsStorage__accountName|AzureWebJobs\.\w+\.Disabled|languageWorkers__node__arguments)$/;

const readJson = (file: string): unknown => JSON.parse(readFileSync(join(ROOT, file), 'utf8'));
const mainParameter = (name: string): unknown =>
  (readJson('infra/main.parameters.json') as { parameters: Record<string, { value: unknown }> }).parameters[
    name
  ]?.value;
const appSettingNames = bicepAppSettingNames();
const overrides = appSettingsOverrides();

describe('app settings of infra/main.bicep', () => {
  it('are settings the code knows, or the Functions host own', () => {
    expect(appSettingNames.length).toBeGreaterThan(10);
    const unknown = appSettingNames.filter((name) => !isSettingName(name) && !HOST_SETTING.test(name));
    expect(unknown).toEqual([]);
  });

  it('set everything production requires: the app starts on Cosmos, Blob, Redis, Entra ID and the run queue', () => {
    const config = loadConfig(deployedEnvironment(), ROOT);
    expect(config.security.production).toBe(true);
    expect(config.hotStore.kind).toBe('cosmos');
    expect(config.archive.kind).toBe('blob');
    expect(config.cache).toMatchObject({ kind: 'redis', entraObjectId: expect.any(String) });
    expect(config.auth.kind).toBe('jwks-uri');
    expect(config.audit.kind).toBe('blob');
    expect(config.functions.runQueue?.kind).toBe('service-uri');
  });

  it('include each setting whose absence stops the app under Functions', () => {
    const required = appSettingNames.filter((name) => {
      try {
        loadConfig(deployedEnvironment({}, name), ROOT);
        return false;
      } catch (error) {
        if (error instanceof ConfigError) return true;
        throw error;
      }
    });
    expect(required).toEqual(
      expect.arrayContaining([
        'COSMOS_ENDPOINT',
        'BLOB_ACCOUNT_URL',
        'ARCHIVE_QUEUE__QUEUESERVICEURI',
        'AUTH_JWKS_URI',
        'AUTH_ISSUER',
        'AUTH_AUDIENCE',
      ]),
    );
  });

  it("disable only triggers the Functions entry registers (the staged rollout's switch must reach its timer)", () => {
    const entry = readFileSync(join(ROOT, 'src/functions/main.ts'), 'utf8');
    const registered = [...entry.matchAll(/\.register\('(\w+)'/g)].map((match) => match[1]);
    const disabled = appSettingNames.flatMap(
      (name) => /^AzureWebJobs\.(\w+)\.Disabled$/.exec(name)?.[1] ?? [],
    );
    expect(disabled).toEqual(['archivalRun']);
    expect(registered).toEqual(expect.arrayContaining(disabled));
  });

  it('take per-environment overrides (main.parameters.json) that are known settings with valid values', () => {
    expect(Object.keys(overrides).filter((name) => !isSettingName(name))).toEqual([]);
    expect(readSettings(overrides).problems).toEqual([]);
  });
});

describe('Cosmos DB containers', () => {
  const containers = readJson(COSMOS_CONTAINERS) as Record<
    'records' | 'ledger',
    { partitionKeyPath: string; indexingPolicy: unknown; defaultTtl?: number }
  >;

  it('are declared by the Bicep from the JSON the adapters import', () => {
    expect(loadedJsonFiles('infra/modules/cosmos.bicep')).toEqual([COSMOS_CONTAINERS]);
  });

  it("have the adapters' partition keys and indexing policies", () => {
    expect(containers.records.indexingPolicy).toEqual(RECORDS_INDEXING_POLICY);
    expect(containers.ledger.indexingPolicy).toEqual(LEDGER_INDEXING_POLICY);
    expect(containers.records.partitionKeyPath).toBe(PARTITION_KEY_PATH);
    expect(containers.ledger.partitionKeyPath).toBe(LEDGER_PARTITION_KEY_PATH);
  });

  it("give the ledger one composite index per ORDER BY of its queries, in the queries' order", () => {
    const composite = LEDGER_INDEXING_POLICY.compositeIndexes?.map((index) =>
      index.map(({ path, order }) => `${path.slice(1)} ${order}`),
    );
    expect(composite).toEqual(
      LEDGER_QUERY_ORDERS.map((order) => order.map((property) => `${property} ascending`)),
    );
  });

  it('turn TTL on for the ledger without expiring anything that carries no ttl of its own', () => {
    expect(containers.ledger.defaultTtl).toBe(-1);
    expect(containers.records.defaultTtl).toBeUndefined();
  });
});

describe('resource names', () => {
  const names = readJson(RESOURCE_NAMES) as Record<string, string>;
  const defaults: Record<string, SettingName> = {
    cosmosDatabase: 'COSMOS_DATABASE',
    recordsContainer: 'COSMOS_CONTAINER',
    ledgerContainer: 'COSMOS_LEDGER_CONTAINER',
    archiveContainer: 'BLOB_CONTAINER',
    controlContainer: 'BLOB_CONTROL_CONTAINER',
    auditContainer: 'AUDIT_CONTAINER',
    runQueue: 'ARCHIVE_QUEUE_NAME',
  };

  it('are loaded by main.bicep from the JSON the settings take their defaults from', () => {
    expect(loadedJsonFiles(MAIN)).toEqual([RESOURCE_NAMES]);
    expect(Object.keys(names).filter((key) => key !== '$comment')).toEqual(Object.keys(defaults));
    for (const [key, setting] of Object.entries(defaults))
      expect(describeSetting(setting).default).toBe(names[key]);
    expect(LEDGER_CONTAINER_ID).toBe(names.ledgerContainer);
  });
});

describe('alert rules', () => {
  // Their fields and types, as scheduledQueryRules takes them: test/unit/infra-schemas.test.ts.
  it('are the Azure Monitor rendering that `npm run alerts:render` writes, loaded as they are', () => {
    expect(loadedJsonFiles('infra/modules/alerts.bicep')).toEqual([AZURE_MONITOR_RULES_PATH]);
  });
});

describe('loadJsonContent', () => {
  it('names files that exist, in every Bicep file', () => {
    const loaded = bicepFiles().flatMap((file) => loadedJsonFiles(file));
    expect(loaded.length).toBeGreaterThanOrEqual(3);
    expect(loaded.filter((file) => !existsSync(join(ROOT, file)))).toEqual([]);
  });
});

describe("the API's Entra ID app registration (README, Deploy)", () => {
  it('declares exactly the roles the routes check, each a role users and applications can hold', () => {
    const roles = readJson('infra/entra-app-roles.json') as Array<{
      value: string;
      allowedMemberTypes: string[];
      isEnabled: boolean;
    }>;
    expect(roles.map((role) => role.value)).toEqual([...ROLES]);
    for (const role of roles) {
      expect(role.allowedMemberTypes).toEqual(['User', 'Application']);
      expect(role.isEnabled).toBe(true);
    }
  });

  it('is what AUTH_AUDIENCE names: the client ID, the aud of the v2.0 tokens AUTH_ISSUER issues', () => {
    expect(readBicep(MAIN)).toMatch(
      /AUTH_ISSUER: '\$\{environment\(\)\.authentication\.loginEndpoint\}\$\{authTenantId\}\/v2\.0'/,
    );
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    expect(readme).toContain('--set api.requestedAccessTokenVersion=2');
    expect(readme).toMatch(/azd env set AUTH_AUDIENCE "\$API_APP_ID"/);
    // No default audience: azd asks for it rather than deploying one no Entra ID token carries.
    expect(mainParameter('authAudience')).toBe('${AUTH_AUDIENCE}');
  });
});

describe("the API's delegated scope: operators' tokens from the Azure CLI (README, Deploy; docs/operations.md)", () => {
  /** The Azure CLI's well-known application (client) id. */
  const AZURE_CLI = '04b07795-8ddb-461a-bbee-02f9e1bf7b46';
  type Api = {
    api: {
      requestedAccessTokenVersion: number;
      oauth2PermissionScopes: Array<{ id: string; value: string; isEnabled: boolean }>;
      preAuthorizedApplications?: Array<{ appId: string; delegatedPermissionIds: string[] }>;
    };
  };
  const scope = readJson('infra/entra-api-scope.json') as Api;
  const preauthorized = readJson('infra/entra-api-preauthorized.json') as Api;

  it('exposes one scope, then preauthorizes the Azure CLI for it (two requests: Graph refuses both in one)', () => {
    const { preAuthorizedApplications, ...rest } = preauthorized.api;
    // The second body repeats the first whole, so the PATCH of api keeps the scope and the token version.
    expect(rest).toEqual(scope.api);
    expect(scope.api.requestedAccessTokenVersion).toBe(2);
    expect(scope.api.oauth2PermissionScopes).toMatchObject([
      { value: 'user_impersonation', isEnabled: true },
    ]);
    expect(preAuthorizedApplications).toEqual([
      { appId: AZURE_CLI, delegatedPermissionIds: [scope.api.oauth2PermissionScopes[0]!.id] },
    ]);
  });

  it('is set up by the README in that order, and used by the runbook', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const first = readme.indexOf('--body @infra/entra-api-scope.json');
    expect(first).toBeGreaterThan(0);
    expect(readme.indexOf('--body @infra/entra-api-preauthorized.json')).toBeGreaterThan(first);
    const operations = readFileSync(join(ROOT, 'docs/operations.md'), 'utf8');
    expect(operations).toContain('az account get-access-token --resource "api://$API_APP_ID"');
    expect(operations).toContain('/appRoleAssignedTo');
  });
});

describe("the README's Deploy steps", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

  it('register the resource provider of every resource type and subnet delegation infra/ declares', () => {
    const declared = new Set(
      bicepFiles().flatMap((file) =>
        [
          ...readBicep(file).matchAll(/^resource \w+ '(Microsoft\.\w+)\/|serviceName: '(Microsoft\.\w+)\//gm),
        ].map((match) => (match[1] ?? match[2])!),
      ),
    );
    // Registered in every subscription from the start.
    for (const always of ['Microsoft.Resources', 'Microsoft.Authorization']) declared.delete(always);
    expect(declared).toContain('Microsoft.App');
    const loop = /for namespace in ([^;]+); do\s+az provider register --namespace "\$namespace"/.exec(readme);
    const registered = loop?.[1]!.split(/[\s\\]+/).filter((word) => word.startsWith('Microsoft.'));
    expect(registered?.sort()).toEqual([...declared].sort());
  });

  it('give the deploying identity its roles at subscription scope (main.bicep creates the resource group)', () => {
    expect(readBicep(MAIN)).toMatch(/^targetScope = 'subscription'$/m);
    expect(readme).not.toMatch(/on the subscription or resource group/);
    expect(readme.replace(/\s+/g, ' ')).toContain(
      '_Owner_, or _Contributor_ and _Role Based Access Control Administrator_, at subscription scope',
    );
  });
});

describe('azure.yaml', () => {
  it('deploys the package `npm run package` stages, as built: node_modules in, no remote build', () => {
    const project = parseYaml(readFileSync(join(ROOT, 'azure.yaml'), 'utf8')) as {
      services: Record<
        string,
        { host: string; language: string; dist: string; remoteBuild?: boolean; hooks: unknown }
      >;
    };
    const api = project.services.api!;
    expect(api).toMatchObject({ host: 'function', language: 'js', dist: '.package/app' });
    // azd zips a JavaScript Function App without node_modules and builds it remotely unless remoteBuild is false.
    expect(api.remoteBuild).toBe(false);
    expect(api.hooks).toEqual({ prepackage: { shell: 'sh', run: 'npm run package' } });
    // The folder the package script stages (its --out default, then app/).
    const script = readFileSync(join(ROOT, 'scripts/package-functions.ts'), 'utf8');
    expect(script).toContain("default: '.package'");
    expect(script).toContain("const stage = join(out, 'app');");
  });
});
