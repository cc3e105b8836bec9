// Seeded, deterministic billing records for the demo and the benchmarks: Azure-style invoices whose
// serialized sizes follow a skewed distribution like the reference workload (median ~8 KiB, max 300 KiB).
// Everything comes from (seed, index, now): no clock, no environment, no Math.random.
import { type BillingRecord, serializeRecord } from '../domain/billing-record.ts';

export interface GenerateRecordsOptions {
  /** Any unsigned 32-bit integer; the same seed (and `now`) gives the same records, byte for byte. */
  readonly seed: number;
  readonly count: number;
  /** Distinct customers; default: about one invoice per customer per month of history. */
  readonly customers?: number;
  /** issuedAt falls in the `monthsOfHistory` months before this instant. */
  readonly now: Date;
  readonly monthsOfHistory?: number;
  /**
   * Index of the first record: batches generated apart (by parallel loaders) join up seamlessly,
   * provided each passes the same `customers` (the default depends on `count`).
   */
  readonly offset?: number;
}

/** No generated record serializes above this (the reference workload's largest record). */
export const MAX_RECORD_BYTES = 300 * 1024;
/** No generated record serializes below this. */
export const MIN_RECORD_BYTES = 2 * 1024;
export const DEFAULT_MONTHS_OF_HISTORY = 36;

const DAY_MS = 86_400_000;

// Size model: 2 KiB plus a log-normal part (median 6 KiB), so the median is ~8 KiB and p99 ~200 KiB.
// Part of the spread belongs to the customer (big estates send big invoices every month).
const SIZE_FLOOR = MIN_RECORD_BYTES;
const SIZE_LOG_MEDIAN = Math.log(6 * 1024);
const SIZE_SIGMA_CUSTOMER = 1.15;
const SIZE_SIGMA_RECORD = 1.05;
// Room under the maximum for the money fields' digits and a credit line, known only after the items.
const SIZE_RESERVE = 240;

/**
 * Generates `count` records for indexes offset, offset + 1, ... each independent of the others.
 * A record depends on every option (the default `customers` follows `count`), not on the seed alone.
 */
export function* generateRecords(options: GenerateRecordsOptions): Generator<BillingRecord> {
  const plan = planFor(options);
  const offset = options.offset ?? 0;
  requireInteger('count', options.count, 0, Number.MAX_SAFE_INTEGER);
  requireInteger('offset', offset, 0, Number.MAX_SAFE_INTEGER);
  for (let index = offset; index < offset + options.count; index++) yield generateRecord(plan, index);
}

/** The customer count `generateRecords` uses when none is given. */
export function defaultCustomerCount(count: number, monthsOfHistory = DEFAULT_MONTHS_OF_HISTORY): number {
  return Math.max(1, Math.round(count / monthsOfHistory));
}

// ---- Seeded randomness ----

type Random = () => number;

/** mulberry32: a tiny, fast 32-bit PRNG, plenty for test data (not for anything secret). */
function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** One independent stream per (seed, purpose, index...), so record i never depends on record i - 1. */
function streamFor(...parts: number[]): Random {
  let hash = 0x9e3779b9;
  for (const part of parts) hash = fmix32((hash ^ (part >>> 0)) + 0x9e3779b9 + (hash << 6) + (hash >>> 2));
  return mulberry32(hash);
}

// murmur3's finaliser: spreads every input bit over the whole word.
function fmix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const STREAM_RECORD = 1;
const STREAM_CUSTOMER = 2;
const STREAM_RESOURCE = 3;

function integer(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

function pick<T>(random: Random, items: readonly T[]): T {
  const item = items[Math.floor(random() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function weighted<T>(random: Random, items: readonly (readonly [T, number])[]): T {
  const total = items.reduce((sum, [, weight]) => sum + weight, 0);
  let point = random() * total;
  for (const [item, weight] of items) {
    point -= weight;
    if (point < 0) return item;
  }
  return items[items.length - 1]![0];
}

/** Box-Muller: one standard normal draw. */
function normal(random: Random): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

function hex(random: Random, digits: number): string {
  let text = '';
  for (let i = 0; i < digits; i++) text += Math.floor(random() * 16).toString(16);
  return text;
}

function guid(random: Random): string {
  return `${hex(random, 8)}-${hex(random, 4)}-4${hex(random, 3)}-${pick(random, ['8', '9', 'a', 'b'])}${hex(random, 3)}-${hex(random, 12)}`;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

// ---- Reference data: regions, currencies, tax, and an Azure price list (USD cents, roughly list) ----

interface Market {
  readonly country: string;
  readonly currency: string;
  /** Minor units of the currency per US cent. */
  readonly perUsdCent: number;
  /** Share of customers billed in this market. */
  readonly weight: number;
  /** Tax rates in basis points a customer there may pay (0: exempt or reverse charge). */
  readonly taxRates: readonly number[];
  readonly regions: readonly string[];
}

type MarketRow = [string, string, number, number, number[], string];
const MARKET_ROWS: readonly MarketRow[] = [
  ['US', 'USD', 1, 40, [0, 0, 625, 725, 800, 888], 'eastus eastus2 westus2 westus3 centralus southcentralus'],
  ['DE', 'EUR', 0.92, 9, [1900, 0], 'westeurope northeurope germanywestcentral'],
  ['FR', 'EUR', 0.92, 6, [2000, 0], 'francecentral westeurope'],
  ['NL', 'EUR', 0.92, 5, [2100, 0], 'westeurope northeurope'],
  ['GB', 'GBP', 0.79, 10, [2000], 'uksouth ukwest'],
  ['JP', 'JPY', 1.55, 7, [1000], 'japaneast japanwest'],
  ['AU', 'AUD', 1.52, 5, [1000], 'australiaeast australiasoutheast'],
  ['CA', 'CAD', 1.37, 5, [500, 1300, 1500], 'canadacentral canadaeast'],
  ['CH', 'CHF', 0.88, 3, [810], 'switzerlandnorth'],
  ['SE', 'SEK', 10.5, 3, [2500], 'swedencentral northeurope'],
  ['SG', 'USD', 1, 7, [900, 0], 'southeastasia eastasia'],
];
const MARKETS: readonly Market[] = MARKET_ROWS.map(
  ([country, currency, perUsdCent, weight, taxRates, regions]) => ({
    country,
    currency,
    perUsdCent,
    weight,
    taxRates,
    regions: regions.split(' '),
  }),
);
const MARKET_WEIGHTS = MARKETS.map((market) => [market, market.weight] as const);

type QuantityModel =
  // scales: how many units a resource runs in parallel (vCores); 1 when absent.
  | { readonly kind: 'hours'; readonly scales?: readonly number[] }
  | { readonly kind: 'month' }
  | { readonly kind: 'volume'; readonly median: number; readonly sigma: number };

/** The kind of Azure resource a meter is billed on, and how its resource id is built. */
interface ResourceType {
  readonly service: string;
  readonly provider: string;
  readonly prefix: string;
  /** For child resources (a database in a server): the parent's name prefix and the child collection. */
  readonly parent?: { readonly prefix: string; readonly collection: string };
}

interface Sku {
  readonly sku: string;
  readonly type: ResourceType;
  readonly meter: string;
  readonly unit: string;
  /** List price per unit in US cents (integer, as minor units must be). */
  readonly usdCents: number;
  readonly quantity: QuantityModel;
  /** How common this meter is among resources. */
  readonly weight: number;
}

const HOURS: QuantityModel = { kind: 'hours' };
const VCORE_HOURS: QuantityModel = { kind: 'hours', scales: [2, 4, 8, 16] };
const MONTH: QuantityModel = { kind: 'month' };
const volume = (median: number, sigma: number): QuantityModel => ({ kind: 'volume', median, sigma });

const resourceType = (
  service: string,
  provider: string,
  prefix: string,
  parent?: ResourceType['parent'],
): ResourceType =>
  parent === undefined ? { service, provider, prefix } : { service, provider, prefix, parent };
const VIRTUAL_MACHINE = resourceType('Virtual Machines', 'Microsoft.Compute/virtualMachines', 'vm');
const DISK = resourceType('Storage', 'Microsoft.Compute/disks', 'disk');
const STORAGE = resourceType('Storage', 'Microsoft.Storage/storageAccounts', 'st');
const BANDWIDTH = resourceType('Bandwidth', 'Microsoft.Network/publicIPAddresses', 'pip');
const PUBLIC_IP = resourceType('Virtual Network', 'Microsoft.Network/publicIPAddresses', 'pip');
const SQL_SERVER = { prefix: 'sql', collection: 'databases' };
const SQL_DATABASE = resourceType('SQL Database', 'Microsoft.Sql/servers', 'sqldb', SQL_SERVER);
const COSMOS = resourceType('Azure Cosmos DB', 'Microsoft.DocumentDB/databaseAccounts', 'cosmos');
const AKS = resourceType('Azure Kubernetes Service', 'Microsoft.ContainerService/managedClusters', 'aks');
const APP_SERVICE = resourceType('Azure App Service', 'Microsoft.Web/serverfarms', 'asp');
const FUNCTIONS = resourceType('Functions', 'Microsoft.Web/sites', 'func');
const LOG_ANALYTICS = resourceType('Log Analytics', 'Microsoft.OperationalInsights/workspaces', 'log');
const KEY_VAULT = resourceType('Key Vault', 'Microsoft.KeyVault/vaults', 'kv');
const REDIS = resourceType('Azure Cache for Redis', 'Microsoft.Cache/Redis', 'redis');
const DEFENDER = resourceType('Microsoft Defender for Cloud', 'Microsoft.Compute/virtualMachines', 'vm');
const BACKUP = resourceType('Backup', 'Microsoft.RecoveryServices/vaults', 'rsv');

type SkuRow = [string, ResourceType, string, string, number, QuantityModel, number];
const SKU_ROWS: readonly SkuRow[] = [
  ['vm-d2s-v5', VIRTUAL_MACHINE, 'Dsv5 Series D2s v5', '1 Hour', 10, HOURS, 8],
  ['vm-d4s-v5', VIRTUAL_MACHINE, 'Dsv5 Series D4s v5', '1 Hour', 19, HOURS, 8],
  ['vm-d8s-v5', VIRTUAL_MACHINE, 'Dsv5 Series D8s v5', '1 Hour', 38, HOURS, 4],
  ['vm-e8s-v5', VIRTUAL_MACHINE, 'Esv5 Series E8s v5', '1 Hour', 50, HOURS, 3],
  ['vm-b2ms', VIRTUAL_MACHINE, 'BS Series B2ms', '1 Hour', 8, HOURS, 5],
  ['vm-f8s-v2', VIRTUAL_MACHINE, 'FSv2 Series F8s v2', '1 Hour', 34, HOURS, 2],
  ['vm-nc6s-v3', VIRTUAL_MACHINE, 'NCSv3 Series NC6s v3', '1 Hour', 306, HOURS, 1],
  ['disk-p10-lrs', DISK, 'Premium SSD Managed Disks P10 LRS Disk', '1/Month', 1971, MONTH, 8],
  ['disk-p30-lrs', DISK, 'Premium SSD Managed Disks P30 LRS Disk', '1/Month', 13516, MONTH, 3],
  ['disk-e10-lrs', DISK, 'Standard SSD Managed Disks E10 LRS Disk', '1/Month', 960, MONTH, 5],
  ['blob-hot-lrs-data', STORAGE, 'Block Blob Hot LRS Data Stored', '100 GB/Month', 208, volume(20, 1.2), 4],
  ['blob-cool-grs-data', STORAGE, 'Block Blob Cool GRS Data Stored', '100 GB/Month', 200, volume(40, 1.2), 2],
  ['blob-hot-lrs-write', STORAGE, 'Block Blob Hot LRS Write Operations', '10K', 7, volume(500, 1.5), 3],
  ['bandwidth-out', BANDWIDTH, 'Standard Data Transfer Out', '1 GB', 9, volume(300, 1.3), 3],
  ['ip-standard-static', PUBLIC_IP, 'IP Addresses Standard IPv4 Static Public IP', '1/Month', 365, MONTH, 4],
  ['sqldb-gp-gen5-vcore', SQL_DATABASE, 'General Purpose Compute Gen5 vCore', '1 Hour', 25, VCORE_HOURS, 3],
  ['sqldb-gp-storage', SQL_DATABASE, 'General Purpose Data Stored', '1 GB/Month', 12, volume(250, 1), 3],
  ['cosmos-ru-100', COSMOS, 'Provisioned Throughput 100 RU/s', '100 RU/s/Month', 584, volume(10, 1), 3],
  ['cosmos-data-stored', COSMOS, 'Transactional Data Stored', '1 GB/Month', 25, volume(100, 1.2), 2],
  ['aks-uptime-sla', AKS, 'Standard Uptime SLA', '1 Hour', 10, HOURS, 2],
  ['app-service-p1v3', APP_SERVICE, 'Premium v3 Plan P1 v3 App', '1 Hour', 17, HOURS, 3],
  ['functions-exec-time', FUNCTIONS, 'Standard Execution Time', '100K GB Seconds', 160, volume(20, 1.5), 3],
  ['log-analytics-ingest', LOG_ANALYTICS, 'Analytics Logs Data Ingestion', '1 GB', 230, volume(50, 1.3), 2],
  ['key-vault-ops', KEY_VAULT, 'Standard Operations', '10K', 3, volume(100, 1.5), 2],
  ['redis-c1-standard', REDIS, 'Standard C1 Cache Instance', '1 Hour', 14, HOURS, 1],
  ['defender-servers-p2', DEFENDER, 'Defender for Servers Plan 2 Node', '1/Month', 1500, MONTH, 2],
  ['backup-vm-instance', BACKUP, 'Azure VM Protected Instances', '1/Month', 1000, MONTH, 2],
];
const SKUS: readonly Sku[] = SKU_ROWS.map(([sku, type, meter, unit, usdCents, quantity, weight]) => ({
  sku,
  type,
  meter,
  unit,
  usdCents,
  quantity,
  weight,
}));
const SKU_WEIGHTS = SKUS.map((sku) => [sku, sku.weight] as const);

const APPS = 'web api data ml billing etl identity search payments analytics crm iot'.split(' ');
const ENVIRONMENTS = ['prod', 'prod', 'prod', 'staging', 'dev', 'test', 'shared'];
const COMPANY_WORDS =
  'Contoso Fabrikam Northwind Tailspin Woodgrove Adatum Litware Proseware Wingtip Alpine Coho'.split(' ');
const COMPANY_SUFFIXES = ['Ltd', 'Inc', 'GmbH', 'SAS', 'BV', 'KK', 'Pty Ltd', 'AG', 'AB', 'LLC', 'Group'];
const AGREEMENTS = Object.entries({
  MicrosoftCustomerAgreement: 6,
  EnterpriseAgreement: 3,
  MicrosoftPartnerAgreement: 2,
  MicrosoftOnlineServicesProgram: 2,
});

// ---- Customers and their Azure estates, derived from (seed, customer index) alone ----

interface Customer {
  readonly index: number;
  readonly id: string;
  readonly market: Market;
  readonly region: string;
  readonly taxBasisPoints: number;
  /** 1-28: invoices are issued on the same day every month. */
  readonly billingDay: number;
  /** This customer's share of the size spread (a standard normal draw times its sigma). */
  readonly sizeOffset: number;
  /** A negotiated discount off list price, 0-15 %. */
  readonly discount: number;
  readonly subscriptions: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

function makeCustomer(seed: number, index: number): Customer {
  const random = streamFor(seed, STREAM_CUSTOMER, index);
  const market = weighted(random, MARKET_WEIGHTS);
  const region = pick(random, market.regions);
  const agreement = weighted(random, AGREEMENTS);
  const sizeOffset = SIZE_SIGMA_CUSTOMER * normal(random);
  const subscriptions = Array.from(
    { length: Math.max(1, Math.min(12, Math.round(Math.exp(1 + sizeOffset)))) },
    () => guid(random),
  );
  const company = `${pick(random, COMPANY_WORDS)} ${pick(random, APPS)} ${pick(random, COMPANY_SUFFIXES)}`;
  const billingProfile = `${hex(random, 4)}-${hex(random, 4)}-${hex(random, 3)}-pgb`.toUpperCase();
  const purchaseOrder = random() < 0.4 ? `PO-${integer(random, 10_000, 99_999)}` : undefined;
  // Keys in sorted order, as canonical JSON writes them, so JSON.stringify(record) is the wire form too.
  const metadata: Record<string, string> = {
    agreementType: agreement,
    billingAccountId: `${integer(random, 10_000_000, 99_999_999)}`,
    billingProfileId: billingProfile,
    companyName: company,
    costCenter: `CC-${integer(random, 1000, 9999)}`,
    country: market.country,
    paymentTerms: 'Net 30',
    ...(purchaseOrder !== undefined ? { purchaseOrder } : {}),
    region,
    subscriptionCount: String(subscriptions.length),
  };
  return {
    index,
    id: `cust-${String(index).padStart(5, '0')}`,
    market,
    region,
    taxBasisPoints: pick(random, market.taxRates),
    billingDay: integer(random, 1, 28),
    sizeOffset,
    discount: random() < 0.5 ? 0 : Math.round(random() * 15) / 100,
    subscriptions,
    metadata,
  };
}

interface Resource {
  readonly sku: Sku;
  readonly description: string;
  /** How many units run in parallel (vCores, instances). */
  readonly scale: number;
}

/** Resource k of a customer is the same every month, so consecutive invoices list the same estate. */
function resourceOf(seed: number, customer: Customer, k: number): Resource {
  const random = streamFor(seed, STREAM_RESOURCE, customer.index, k);
  const sku = weighted(random, SKU_WEIGHTS);
  const app = pick(random, APPS);
  const environment = pick(random, ENVIRONMENTS);
  const region = random() < 0.85 ? customer.region : pick(random, pick(random, MARKETS).regions);
  const subscription = pick(random, customer.subscriptions);
  const { type } = sku;
  const name = `${type.prefix}-${app}-${environment}-${String(k).padStart(3, '0')}`;
  const parent =
    type.parent === undefined ? '' : `${type.parent.prefix}-${app}-${environment}/${type.parent.collection}/`;
  const group = `rg-${app}-${environment}`;
  const resourceId = `/subscriptions/${subscription}/resourceGroups/${group}/providers/${type.provider}/${parent}${name}`;
  return {
    sku,
    description: `${type.service} - ${sku.meter} (${sku.unit}) - ${region} - ${resourceId}`,
    scale:
      sku.quantity.kind === 'hours' && sku.quantity.scales !== undefined
        ? pick(random, sku.quantity.scales)
        : 1,
  };
}

// ---- Records ----

interface Plan {
  readonly seed: number;
  readonly nowMs: number;
  readonly windowStartMs: number;
  readonly monthsOfHistory: number;
  readonly customerCount: number;
  readonly customers: Map<number, Customer>;
}

function planFor(options: GenerateRecordsOptions): Plan {
  const { seed, now } = options;
  requireInteger('seed', seed, 0, 0xffff_ffff);
  const nowMs = now.getTime();
  if (!Number.isFinite(nowMs)) throw new RangeError('now must be a valid date');
  const monthsOfHistory = options.monthsOfHistory ?? DEFAULT_MONTHS_OF_HISTORY;
  requireInteger('monthsOfHistory', monthsOfHistory, 1, 1200);
  const customerCount = options.customers ?? defaultCustomerCount(options.count, monthsOfHistory);
  requireInteger('customers', customerCount, 1, 9_999_999);
  return {
    seed,
    nowMs,
    windowStartMs: addMonths(nowMs, -monthsOfHistory),
    monthsOfHistory,
    customerCount,
    customers: new Map(),
  };
}

function requireInteger(name: string, value: number, min: number, max: number): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
}

function customerOf(plan: Plan, index: number): Customer {
  let customer = plan.customers.get(index);
  if (customer === undefined) {
    customer = makeCustomer(plan.seed, index);
    plan.customers.set(index, customer);
  }
  return customer;
}

function generateRecord(plan: Plan, index: number): BillingRecord {
  const random = streamFor(plan.seed, STREAM_RECORD, index);
  const customer = customerOf(plan, Math.floor(random() * plan.customerCount) + 1);
  const issuedMs = issuedInstant(plan, customer, random);
  const issued = new Date(issuedMs);
  const periodStart = Date.UTC(issued.getUTCFullYear(), issued.getUTCMonth() - 1, 1);
  const periodEnd = Date.UTC(issued.getUTCFullYear(), issued.getUTCMonth(), 0);
  const hoursInPeriod = (periodEnd - periodStart + DAY_MS) / 3_600_000;
  const createdMs = Math.min(issuedMs + integer(random, 200, 120_000), plan.nowMs);
  const createdAt = new Date(createdMs).toISOString();
  const serial = String(index).padStart(7, '0');
  const hasCredit = random() < 0.04;

  // Measure the record without line items, then add the customer's resources until the target size.
  const shell: BillingRecord = {
    id: `inv-${plan.seed}-${serial}`,
    customerId: customer.id,
    invoiceNumber: `INV-${plan.seed}-${serial}`,
    issuedAt: issued.toISOString(),
    dueAt: new Date(issuedMs + 30 * DAY_MS).toISOString(),
    billingPeriod: { start: dayOf(periodStart), end: dayOf(periodEnd) },
    currency: customer.market.currency,
    status: statusFor(plan.nowMs - issuedMs, random),
    lineItems: [],
    subtotalMinor: 0,
    taxMinor: 0,
    totalMinor: 0,
    metadata: { ...customer.metadata },
    version: 1,
    createdAt,
    updatedAt: createdAt,
  };
  const shellBytes = JSON.stringify(shell).length;
  const budget = targetBytes(customer, random) - shellBytes;
  const ceiling = MAX_RECORD_BYTES - shellBytes - SIZE_RESERVE;
  const lineItems: BillingRecord['lineItems'] = [];
  let used = 0;
  for (let k = 0; lineItems.length === 0 || used < budget; k++) {
    const item = lineItemFor(resourceOf(plan.seed, customer, k), customer, hoursInPeriod, random);
    // Every character is ASCII, so string length is the byte length; +1 for the separating comma.
    const bytes = JSON.stringify(item).length + 1;
    if (used + bytes > ceiling) break;
    lineItems.push(item);
    used += bytes;
  }
  let subtotalMinor = lineItems.reduce((sum, item) => sum + item.amountMinor, 0);
  if (hasCredit && subtotalMinor > 0) {
    const credit = Math.max(1, Math.round(subtotalMinor * (0.02 + random() * 0.08)));
    lineItems.push({
      sku: 'azure-credit',
      description: 'Azure Credit - Sponsorship offer applied to eligible charges',
      quantity: 1,
      unitPriceMinor: -credit,
      amountMinor: -credit,
    });
    subtotalMinor -= credit;
  }
  const taxMinor = Math.round((subtotalMinor * customer.taxBasisPoints) / 10_000);
  return { ...shell, lineItems, subtotalMinor, taxMinor, totalMinor: subtotalMinor + taxMinor };
}

/** Issued on the customer's billing day of a month in the window, at a night-time batch hour. */
function issuedInstant(plan: Plan, customer: Customer, random: Random): number {
  const start = new Date(plan.windowStartMs);
  for (let attempt = 0; attempt < 16; attempt++) {
    const month = integer(random, 0, plan.monthsOfHistory);
    const candidate = Date.UTC(
      start.getUTCFullYear(),
      start.getUTCMonth() + month,
      customer.billingDay,
      integer(random, 0, 11),
      integer(random, 0, 59),
      integer(random, 0, 59),
    );
    if (candidate >= plan.windowStartMs && candidate < plan.nowMs) return candidate;
  }
  // Only a window of a month or two can miss 16 times; any instant inside it will do.
  return plan.windowStartMs + Math.floor((random() * (plan.nowMs - plan.windowStartMs)) / 1000) * 1000;
}

type StatusMix = Readonly<Partial<Record<BillingRecord['status'], number>>>;
const OPEN: StatusMix = { draft: 15, issued: 70, paid: 15 };
const DUE_SOON: StatusMix = { issued: 60, paid: 40 };
const PAST_DUE: StatusMix = { paid: 82, overdue: 14, void: 4 };
const SETTLED: StatusMix = { paid: 95, void: 3, overdue: 2 };

/** Recent invoices are still open; old ones are nearly all settled, a few voided or never paid. */
function statusFor(ageMs: number, random: Random): BillingRecord['status'] {
  const days = ageMs / DAY_MS;
  const mix = days < 15 ? OPEN : days < 30 ? DUE_SOON : days < 90 ? PAST_DUE : SETTLED;
  return weighted(random, Object.entries(mix) as [BillingRecord['status'], number][]);
}

function targetBytes(customer: Customer, random: Random): number {
  for (;;) {
    const target =
      SIZE_FLOOR + Math.exp(SIZE_LOG_MEDIAN + customer.sizeOffset + SIZE_SIGMA_RECORD * normal(random));
    // Redraw rather than clamp, so there is no spike of records at exactly the maximum.
    if (target <= MAX_RECORD_BYTES) return Math.round(target);
  }
}

function lineItemFor(
  resource: Resource,
  customer: Customer,
  hoursInPeriod: number,
  random: Random,
): BillingRecord['lineItems'][number] {
  const { sku } = resource;
  const unitPriceMinor = Math.max(
    1,
    Math.round(sku.usdCents * customer.market.perUsdCent * (1 - customer.discount)),
  );
  let quantity: number;
  if (sku.quantity.kind === 'hours') {
    // Most resources run the whole month; the rest were created, deleted or stopped part-way.
    const hours = random() < 0.65 ? hoursInPeriod : round2(hoursInPeriod * random());
    quantity = round2(hours * resource.scale);
  } else if (sku.quantity.kind === 'month') {
    quantity = random() < 0.8 ? 1 : round2(random());
  } else {
    quantity = round2(sku.quantity.median * Math.exp(sku.quantity.sigma * normal(random)));
  }
  return {
    sku: sku.sku,
    description: resource.description,
    quantity,
    unitPriceMinor,
    amountMinor: Math.round(quantity * unitPriceMinor),
  };
}

function addMonths(ms: number, months: number): number {
  const date = new Date(ms);
  return Date.UTC(
    date.getUTCFullYear(),
    date.getUTCMonth() + months,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    date.getUTCMilliseconds(),
  );
}

function dayOf(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

// ---- Size statistics, shared by the demo banner and the benchmarks ----

export interface SizeReport {
  readonly count: number;
  readonly totalBytes: number;
  readonly meanBytes: number;
  readonly minBytes: number;
  readonly p50Bytes: number;
  readonly p90Bytes: number;
  readonly p99Bytes: number;
  readonly maxBytes: number;
  readonly customers: number;
  /** Distinct calendar months (UTC) of issuedAt. */
  readonly months: number;
  readonly firstIssuedAt: string | undefined;
  readonly lastIssuedAt: string | undefined;
  /** The customer with the most records: a good one to list. */
  readonly busiestCustomer: { readonly customerId: string; readonly records: number } | undefined;
  readonly largestRecord:
    { readonly customerId: string; readonly id: string; readonly bytes: number } | undefined;
}

/** Accumulates sizes one record at a time, for streams too long to hold (a benchmark's millions). */
export class SizeTally {
  readonly #sizes: number[] = [];
  readonly #perCustomer = new Map<string, number>();
  readonly #months = new Set<string>();
  #totalBytes = 0;
  #first: string | undefined;
  #last: string | undefined;
  #largest: SizeReport['largestRecord'];

  /** Returns the record's serialized size in bytes (UTF-8 of `serializeRecord`). */
  add(record: BillingRecord): number {
    const bytes = Buffer.byteLength(serializeRecord(record));
    this.#sizes.push(bytes);
    this.#totalBytes += bytes;
    this.#perCustomer.set(record.customerId, (this.#perCustomer.get(record.customerId) ?? 0) + 1);
    this.#months.add(record.issuedAt.slice(0, 7));
    if (this.#first === undefined || record.issuedAt < this.#first) this.#first = record.issuedAt;
    if (this.#last === undefined || record.issuedAt > this.#last) this.#last = record.issuedAt;
    if (this.#largest === undefined || bytes > this.#largest.bytes) {
      this.#largest = { customerId: record.customerId, id: record.id, bytes };
    }
    return bytes;
  }

  report(): SizeReport {
    const sorted = Float64Array.from(this.#sizes).sort();
    // Nearest-rank percentile: an actual record size, never an interpolation.
    const percentile = (p: number): number =>
      sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
    let busiest: SizeReport['busiestCustomer'];
    for (const [customerId, records] of this.#perCustomer) {
      if (busiest === undefined || records > busiest.records) busiest = { customerId, records };
    }
    const count = sorted.length;
    return {
      count,
      totalBytes: this.#totalBytes,
      meanBytes: count === 0 ? 0 : Math.round(this.#totalBytes / count),
      minBytes: sorted[0] ?? 0,
      p50Bytes: percentile(50),
      p90Bytes: percentile(90),
      p99Bytes: percentile(99),
      maxBytes: sorted[count - 1] ?? 0,
      customers: this.#perCustomer.size,
      months: this.#months.size,
      firstIssuedAt: this.#first,
      lastIssuedAt: this.#last,
      busiestCustomer: busiest,
      largestRecord: this.#largest,
    };
  }
}

export function describeSizes(records: Iterable<BillingRecord>): SizeReport {
  const tally = new SizeTally();
  for (const record of records) tally.add(record);
  return tally.report();
}

/** Two human-readable lines: the size distribution, and who and when the records cover. */
export function formatSizeReport(report: SizeReport): string[] {
  const span =
    report.firstIssuedAt === undefined || report.lastIssuedAt === undefined
      ? 'no records'
      : `issued ${report.firstIssuedAt.slice(0, 10)} .. ${report.lastIssuedAt.slice(0, 10)} (${report.months} months)`;
  return [
    `${report.count} records, ${formatBytes(report.totalBytes)}: min ${formatBytes(report.minBytes)}, ` +
      `p50 ${formatBytes(report.p50Bytes)}, p90 ${formatBytes(report.p90Bytes)}, p99 ${formatBytes(report.p99Bytes)}, ` +
      `max ${formatBytes(report.maxBytes)}, mean ${formatBytes(report.meanBytes)}`,
    `${report.customers} customers, ${span}`,
  ];
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(2)} GiB`;
}
