// What a reviewer checks by eye in infra/, checked on every run: every parameter documented, no keys or
// connection strings, and the app's identity given data-plane roles only.
import { readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  bicepFiles,
  expandVars,
  loopCollections,
  params,
  readBicep,
  resourceName,
  resources,
  ROOT,
} from '../support/bicep-source.ts';

/** What a reviewer wants in Log Analytics: each service that holds data, runs the code or guards the key. */
const DIAGNOSED_TYPES = [
  'Microsoft.DocumentDB/databaseAccounts',
  'Microsoft.Storage/storageAccounts/blobServices',
  'Microsoft.Storage/storageAccounts/queueServices',
  'Microsoft.Web/sites',
  'Microsoft.Cache/redisEnterprise',
  'Microsoft.Cache/redisEnterprise/databases',
  'Microsoft.KeyVault/vaults',
];

/** The only role definitions the Bicep may assign: data plane, each named in the module that assigns it. */
const DATA_PLANE_ROLES = new Map([
  ['ba92f5b4-2d11-453d-a403-e96b0029c9fe', 'Storage Blob Data Contributor'],
  ['974c5e8b-45b9-4653-ba55-5f855dd0fb88', 'Storage Queue Data Contributor'],
  ['b7e6dc6d-f1e8-4753-8033-0f276bb0955b', 'Storage Blob Data Owner (Functions host storage only)'],
  ['00000000-0000-0000-0000-000000000002', 'Cosmos DB Built-in Data Contributor'],
  ['e147488a-f6f5-4113-8e2d-b22465e65bf6', 'Key Vault Crypto Service Encryption User (CMK identity only)'],
]);

describe('infra/ Bicep', () => {
  const files = bicepFiles();

  it('has main.bicep and one module per concern', () => {
    expect(files).toContain('infra/main.bicep');
    expect(files.filter((file) => file.startsWith('infra/modules/')).length).toBeGreaterThanOrEqual(8);
  });

  it.each(files)('%s documents every parameter with @description', (file) => {
    const found = params(file);
    if (file !== 'infra/main.bicep') expect(found.length).toBeGreaterThan(0);
    const undocumented = found
      .filter((param) => !param.decorators.some((line) => line.startsWith('@description(')))
      .map((param) => param.name);
    expect(undocumented).toEqual([]);
  });

  it.each(files)('%s reads no keys and holds no secrets', (file) => {
    const source = readBicep(file);
    expect(source).not.toMatch(
      /listKeys\(|listConnectionStrings\(|AccountKey=|primaryKey|SharedAccessSignature/,
    );
  });

  it('assigns data-plane roles only', () => {
    const assigned = new Set(
      files.flatMap((file) =>
        [
          ...readBicep(file).matchAll(/'([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})'/g),
        ].map((match) => match[1]!),
      ),
    );
    expect([...assigned].filter((id) => !DATA_PLANE_ROLES.has(id))).toEqual([]);
    expect(assigned.size).toBe(DATA_PLANE_ROLES.size);
  });

  it('turns off key auth and public network access on every data service', () => {
    expect(readBicep('infra/modules/cosmos.bicep')).toMatch(
      /disableLocalAuth: true[\s\S]*publicNetworkAccess: 'Disabled'/,
    );
    for (const file of ['infra/modules/storage.bicep', 'infra/modules/function-app.bicep']) {
      expect(readBicep(file)).toMatch(
        /allowSharedKeyAccess: false[\s\S]*minimumTlsVersion: 'TLS1_2'[\s\S]*publicNetworkAccess: 'Disabled'/,
      );
    }
    expect(readBicep('infra/modules/redis.bicep')).toMatch(
      /publicNetworkAccess: 'Disabled'[\s\S]*accessKeysAuthentication: 'Disabled'/,
    );
  });

  it.each(files)('%s never reads a loop over items() by position (items() sorts by key)', (file) => {
    const sorted = resources(file)
      .filter((resource) => resource.loopSource?.startsWith('items(') === true)
      .map((resource) => resource.symbol);
    const source = readBicep(file);
    const byPosition = sorted.filter((symbol) => new RegExp(`\\b${symbol}\\[\\d+\\]`).test(source));
    expect(byPosition).toEqual([]);
  });

  // Bicep needs a loop's length at the start of the deployment (BCP178): a module's outputs or a resource's
  // properties are known only once it has run, so a loop over an array built from them does not compile.
  it.each(files)('%s loops only over collections known when the deployment starts', (file) => {
    const runtime = loopCollections(file).filter((collection) =>
      /\.outputs\.|\.properties\.|\breference\(/.test(expandVars(file, collection)),
    );
    expect(runtime).toEqual([]);
  });

  it('finds the loops and the vars they loop over (the check above reads something)', () => {
    const loops = files.flatMap((file) => loopCollections(file).map((collection) => ({ file, collection })));
    expect(loops.length).toBeGreaterThanOrEqual(4);
    const endpoints = loops.find(({ collection }) => collection === 'privateEndpoints');
    expect(endpoints).toBeDefined();
    expect(expandVars(endpoints!.file, endpoints!.collection)).toMatch(/groupId: 'Sql'/);
  });

  // A private endpoint's connection cannot be moved to another resource (CannotChangePrivateLinkConnectionOnPrivateEndpoint):
  // named after its target, an endpoint for the account a point-in-time restore created is a new one.
  it("names each private endpoint of main.bicep after the resource it connects to, as that resource's module names it", () => {
    const main = readBicep('infra/main.bicep');
    const entries = [
      ...expandVars('infra/main.bicep', 'privateEndpoints').matchAll(
        /\{ [^}]*target: '(\w+)', targetName: (\w+)[^}]*\}/g,
      ),
    ];
    expect(entries.length).toBe(4);
    for (const [, target, targetName] of entries) {
      const start = main.indexOf(`\nmodule ${target} '`);
      const block = main.slice(start, main.indexOf('\n}\n', start));
      expect(/^ {4}name: (\S+)$/m.exec(block)?.[1], target).toBe(targetName);
    }
    expect(main).toMatch(/^ {6}name: 'pe-\$\{endpoint\.targetName\}-\$\{toLower\(endpoint\.groupId\)\}'$/m);
  });

  // A locked time-based policy can only be extended: a create-or-update of it fails, so once an operator has
  // locked it (docs/operations.md) the Bicep must stop declaring it, by a parameter CI passes.
  it("declares the audit container's immutability policy only until it is locked", () => {
    const policies = resources('infra/modules/storage.bicep').filter((resource) =>
      resource.type.endsWith('/containers/immutabilityPolicies'),
    );
    expect(policies).toHaveLength(1);
    expect(policies[0]!.body.split('\n', 1)[0]).toMatch(/ = if \(!auditImmutabilityLocked\) \{$/);
    expect(readBicep('infra/main.bicep')).toMatch(/^ {4}auditImmutabilityLocked: auditImmutabilityLocked$/m);
    const parameters = JSON.parse(readFileSync(join(ROOT, 'infra/main.parameters.json'), 'utf8')) as {
      parameters: Record<string, { value: unknown }>;
    };
    expect(parameters.parameters.auditImmutabilityLocked?.value).toBe('${AUDIT_IMMUTABILITY_LOCKED=false}');
  });

  it('names each Redis access policy assignment as the API allows: ^[A-Za-z0-9]{1,60}$', () => {
    const assignments = files.flatMap((file) =>
      resources(file).filter((resource) => resource.type.endsWith('/accessPolicyAssignments')),
    );
    expect(assignments.length).toBeGreaterThan(0);
    for (const assignment of assignments) {
      // uniqueString() is 13 letters and digits; guid() has hyphens and is refused.
      expect(resourceName(assignment)).toMatch(/^(?:uniqueString\(|'[A-Za-z0-9]{1,60}'$)/);
    }
  });

  it('sends the logs and metrics of every data service, the app and the key vault to Log Analytics', () => {
    const diagnosed = files.flatMap((file) => {
      const declared = resources(file);
      return declared
        .filter((resource) => resource.type === 'Microsoft.Insights/diagnosticSettings')
        .map((setting) => {
          expect(setting.body).toMatch(/^ {4}workspaceId: workspaceResourceId$/m);
          const scope = /^ {2}scope: (\w+)$/m.exec(setting.body)?.[1];
          return declared.find((resource) => resource.symbol === scope)?.type;
        });
    });
    expect(DIAGNOSED_TYPES.filter((type) => !diagnosed.includes(type))).toEqual([]);
  });

  it('deploys every module: each file under infra/modules/ is referenced by main.bicep or another module', () => {
    const sources = files.map((file) => readBicep(file)).join('\n');
    const unused = files
      .filter((file) => file.startsWith('infra/modules/'))
      .filter((file) => !new RegExp(`^module \\w+ '(?:modules/)?${basename(file)}'`, 'm').test(sources));
    expect(unused).toEqual([]);
  });

  it.each(files)('%s uses GA API versions (diagnosticSettings has none newer than its preview)', (file) => {
    const previews = resources(file)
      .filter((resource) => resource.type !== 'Microsoft.Insights/diagnosticSettings')
      .filter((resource) => /@[\d-]+-preview'/.test(resource.body.split('\n', 1)[0]!))
      .map((resource) => resource.type);
    expect(previews).toEqual([]);
  });

  it("main.parameters.json sets main.bicep's parameters only, and every one without a default", () => {
    const file = JSON.parse(readFileSync(join(ROOT, 'infra/main.parameters.json'), 'utf8')) as {
      parameters: Record<string, unknown>;
    };
    const given = Object.keys(file.parameters);
    const declared = readBicep('infra/main.bicep').matchAll(/^param (\w+) \w+( =)?/gm);
    const all = [...declared];
    expect(given.filter((name) => !all.some((match) => match[1] === name))).toEqual([]);
    const required = all.filter((match) => match[2] === undefined).map((match) => match[1]);
    expect(required.filter((name) => !given.includes(name!))).toEqual([]);
  });
});
