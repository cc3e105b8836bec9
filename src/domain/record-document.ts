// What the hot store keeps for a record: the full record, or (after archival) a stub with the summary
// fields and a pointer to the archived blob. System fields never leave through the API.
import { type BillingRecord, type RecordSummary, serializeRecord } from './billing-record.ts';
import {
  isBillingProfile,
  isOwnerRecord,
  type OwnerRecord,
  ownerRecordOf,
  ownerSummaryOf,
  ownerSysOf,
  type RecordProfile,
  serializeOwnerRecord,
} from './record-profile.ts';

export const CURRENT_SCHEMA_VERSION = 2;

export interface ArchivePointer {
  /** Blob path `{yyyy}/{mm}/{customerId}/{recordId}/v{version}.json.gz`. */
  readonly blobPath: string;
  /** sha256 (hex) of the canonical JSON of the archived record. */
  readonly sha256: string;
  /** Size in bytes of the canonical JSON before compression. */
  readonly size: number;
  readonly encoding: 'gzip';
  readonly archivedAt: string;
}

export interface LegalHold {
  readonly reason: string;
  readonly setAt: string;
  /** The `sub` of whoever set it (absent on holds set before it was recorded). */
  readonly setBy?: string;
}

export interface SystemFields {
  readonly legalHold?: LegalHold;
  /** A pinned record is never archived. */
  readonly pinned?: boolean;
  /** When an archived record was brought back; the archival cool-down counts from here. */
  readonly rehydratedAt?: string;
}

interface DocumentBase {
  readonly id: string;
  readonly customerId: string;
  readonly sys: SystemFields;
}

export interface FullDocument extends DocumentBase {
  readonly tier: 'hot';
  readonly record: BillingRecord;
}

export interface StubDocument extends DocumentBase {
  readonly tier: 'archived';
  readonly summary: RecordSummary;
  readonly archive: ArchivePointer;
}

export type RecordDocument = FullDocument | StubDocument;

/** A document as read from a store, with the store's opaque etag for conditional writes. */
export interface StoredDocument<D extends RecordDocument = RecordDocument> {
  readonly document: D;
  readonly etag: string;
}

/** A hot record's API JSON (UTF-8 of what `serializeRecord` gives) as a store keeps it, read without parsing. */
export interface StoredRecordJson {
  /**
   * The API JSON's bytes. May be a view into a larger buffer that also holds the document's system
   * property (holds, pins, the archive pointer): send exactly these bytes, never `json.buffer`.
   */
  readonly json: Uint8Array;
  readonly version: number;
  readonly etag: string;
}

export function fullDocument(record: BillingRecord, sys: SystemFields = {}): FullDocument {
  return { id: record.id, customerId: record.customerId, tier: 'hot', record, sys };
}

export function summaryOf(document: RecordDocument): RecordSummary {
  if (document.tier === 'archived') return document.summary;
  // A foreign profile's record: its stub fields (an owner record is carried as a BillingRecord).
  if (isOwnerRecord(document.record)) return ownerSummaryOf(document.record) as unknown as RecordSummary;
  const { lineItems: _l, metadata: _m, ...summary } = document.record;
  return summary;
}

/** The bytes a read answers and the archive keeps, whatever the record's profile. */
export function serializeAnyRecord(record: BillingRecord): string {
  return isOwnerRecord(record) ? serializeOwnerRecord(record) : serializeRecord(record);
}

/** What a caller is given: the billing record, or the owner's document of a foreign profile. */
export function presentRecord(record: BillingRecord): BillingRecord {
  return isOwnerRecord(record) ? (record.ownerDocument as unknown as BillingRecord) : record;
}

/** A list item as a caller is given it: the summary, or the stub fields of the owner's document. */
export function presentSummary(summary: RecordSummary): RecordSummary {
  return isOwnerRecord(summary) ? (summary.ownerDocument as unknown as RecordSummary) : summary;
}

export function versionOf(document: RecordDocument): number {
  return document.tier === 'hot' ? document.record.version : document.summary.version;
}

// ---- Persisted layout, shared by every hot-store adapter ----
// { id, customerId, schemaVersion, ...record or summary fields, sys: { tier, archive?, legalHold?, ... } }

export interface PersistedSys extends SystemFields {
  readonly tier: 'hot' | 'archived';
  readonly archive?: ArchivePointer;
  /** Foreign profiles: the version (when the owner's document has none) and the engine's timestamps. */
  readonly version?: number;
  readonly createdAt?: string;
  readonly updatedAt?: string;
}

export type PersistedDocument = Record<string, unknown> & {
  id: string;
  customerId: string;
  schemaVersion: number;
  sys: PersistedSys;
};

export function toPersisted(document: RecordDocument): PersistedDocument {
  const owner = ownerOf(document);
  if (owner !== undefined) {
    // A foreign profile's document: the owner's fields as they are, the engine's under `sys` only.
    const sys = persistedSys(document, ownerSysOf(owner));
    return { ...owner.ownerDocument, sys } as unknown as PersistedDocument;
  }
  const fields = document.tier === 'hot' ? document.record : document.summary;
  return {
    ...fields,
    id: document.id,
    customerId: document.customerId,
    schemaVersion: CURRENT_SCHEMA_VERSION,
    sys: persistedSys(document),
  };
}

/** A document's system property: its system fields (and a foreign owner's), the tier, a stub's archive pointer. */
function persistedSys(document: RecordDocument, owner: Partial<PersistedSys> = {}): PersistedSys {
  return document.tier === 'hot'
    ? { ...document.sys, ...owner, tier: 'hot' }
    : { ...document.sys, ...owner, tier: 'archived', archive: document.archive };
}

/**
 * What follows a hot billing record's API JSON in its persisted text (`persistedJson`): a store checks it
 * before it answers that JSON, since a document of another schema version is upcast when read.
 */
export const PERSISTED_API_TAIL = `,"schemaVersion":${CURRENT_SCHEMA_VERSION},"sys":`;

/**
 * A document as the text a store keeps. A hot billing record's text is its API JSON (the canonical bytes
 * a GET answers) with the persisted layout's last fields appended (`PERSISTED_API_TAIL` first), and
 * `apiEnd` is the UTF-8 length of that JSON without its closing brace, so a store that keeps `apiEnd`
 * answers a read with those bytes and a `}`, without parsing. Any other document (a stub, a foreign
 * profile's, a record with fields the schema lacks, which the canonical JSON would drop) is
 * `JSON.stringify` of `toPersisted`, without `apiEnd`. Both parse to the same document.
 */
export function persistedJson(document: RecordDocument): {
  readonly json: string;
  readonly apiEnd?: number;
  /** The system property's JSON, as the text holds it (a store keeps it in a column of its own too). */
  readonly sysJson: string;
} {
  const whole = (): { json: string; sysJson: string } => {
    const persisted = toPersisted(document);
    return { json: JSON.stringify(persisted), sysJson: JSON.stringify(persisted.sys) };
  };
  if (document.tier === 'archived' || isOwnerRecord(document.record)) return whole();
  const { record } = document;
  const api = serializeRecord(record);
  // Same values with keys reordered: the same length unless the canonical JSON left a field out.
  const lossless =
    record.id === document.id &&
    record.customerId === document.customerId &&
    JSON.stringify(record).length === api.length;
  if (!lossless) return whole();
  const sysJson = JSON.stringify(persistedSys(document));
  const json = `${api.slice(0, -1)}${PERSISTED_API_TAIL}${sysJson}}`;
  return { json, apiEnd: Buffer.byteLength(api) - 1, sysJson };
}

function ownerOf(document: RecordDocument): OwnerRecord | undefined {
  const fields: object = document.tier === 'hot' ? document.record : document.summary;
  return isOwnerRecord(fields) ? fields : undefined;
}

/**
 * Reads a persisted document: of any schema version (upcasting it first) for the billing profile; as
 * the owner wrote it for another profile, where a document without the system property (written before
 * adoption) is a hot full document. `modifiedAtMs` is when the store last wrote it (Cosmos `_ts`).
 */
export function fromPersisted(
  raw: Record<string, unknown>,
  profile?: RecordProfile,
  modifiedAtMs?: number,
): RecordDocument {
  if (profile !== undefined && !isBillingProfile(profile))
    return fromOwnerDocument(raw, profile, modifiedAtMs);
  const persisted = upcast(raw);
  const { schemaVersion: _s, sys, ...fields } = persisted;
  const { tier, archive, ...systemFields } = sys;
  if (tier === 'archived') {
    if (archive === undefined)
      throw new Error(`stub ${persisted.customerId}/${persisted.id} has no archive pointer`);
    return {
      id: persisted.id,
      customerId: persisted.customerId,
      tier: 'archived',
      summary: fields as unknown as RecordSummary,
      archive,
      sys: systemFields,
    };
  }
  return {
    id: persisted.id,
    customerId: persisted.customerId,
    tier: 'hot',
    record: fields as unknown as BillingRecord,
    sys: systemFields,
  };
}

function fromOwnerDocument(
  raw: Record<string, unknown>,
  profile: RecordProfile,
  modifiedAtMs: number | undefined,
): RecordDocument {
  const { sys: persistedSys, ...ownerDocument } = raw as Record<string, unknown> & {
    sys?: PersistedSys;
  };
  const { tier, archive, version, createdAt, updatedAt, ...sys } = persistedSys ?? { tier: 'hot' };
  const record = ownerRecordOf(
    profile,
    ownerDocument,
    {
      ...(version !== undefined ? { version } : {}),
      ...(createdAt !== undefined ? { createdAt } : {}),
      ...(updatedAt !== undefined ? { updatedAt } : {}),
    },
    modifiedAtMs,
  );
  const base = { id: record.id, customerId: record.customerId, sys };
  if (tier !== 'archived') return { ...base, tier: 'hot', record: record as unknown as BillingRecord };
  if (archive === undefined) throw new Error(`stub ${record.customerId}/${record.id} has no archive pointer`);
  return { ...base, tier: 'archived', summary: record as unknown as RecordSummary, archive };
}

// ---- Upcasters: each turns a document of schema version N into N + 1. ----

type Upcaster = (document: Record<string, unknown>) => Record<string, unknown>;

/**
 * v1 (the first release) kept the billing period as two flat fields and no amount per line item;
 * v2 has `billingPeriod: { start, end }` and `lineItems[].amountMinor`.
 */
const upcasters: ReadonlyMap<number, Upcaster> = new Map([
  [
    1,
    (document) => {
      const { periodStart, periodEnd, lineItems, ...rest } = document as Record<string, unknown> & {
        periodStart?: string;
        periodEnd?: string;
        lineItems?: Array<Record<string, unknown>>;
      };
      return {
        ...rest,
        ...(periodStart !== undefined ? { billingPeriod: { start: periodStart, end: periodEnd } } : {}),
        ...(lineItems !== undefined
          ? {
              lineItems: lineItems.map((item) => ({
                ...item,
                amountMinor:
                  item.amountMinor ?? Math.round(Number(item.quantity) * Number(item.unitPriceMinor)),
              })),
            }
          : {}),
        schemaVersion: 2,
      };
    },
  ],
]);

export function upcast(raw: Record<string, unknown>): PersistedDocument {
  let document = raw;
  let version = typeof document.schemaVersion === 'number' ? document.schemaVersion : 1;
  if (version > CURRENT_SCHEMA_VERSION) {
    throw new Error(
      `document schemaVersion ${version} is newer than this build understands (${CURRENT_SCHEMA_VERSION})`,
    );
  }
  while (version < CURRENT_SCHEMA_VERSION) {
    const step = upcasters.get(version);
    if (step === undefined) throw new Error(`no upcaster from schemaVersion ${version}`);
    document = step(document);
    version += 1;
  }
  if (document.sys === undefined) document = { ...document, sys: { tier: 'hot' } };
  return document as PersistedDocument;
}
