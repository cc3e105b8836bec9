// A record profile: what the engine needs to know about a collection's documents (issue 19). The billing
// schema of API.md is the built-in profile; any other profile describes an existing container's own
// documents, which the engine archives, reads and writes as their owner wrote them.
//
// The engine's code works on records through their facts (id, partition key value, age as an instant,
// version, timestamps). A billing record has them as its own fields. A record of another profile travels
// as an `OwnerRecord`: the facts beside the owner's document, with the profile (plain data) attached, so
// the domain functions (summary, persisted layout, archive bytes) answer for it without the profile being
// threaded through every use case. Only the stores (queries name fields) and the write rules (bodies
// become records) are given the profile.
import { AppError } from './errors.ts';

export type AgeFormat = 'iso' | 'epoch-seconds' | 'epoch-ms';

export interface RecordProfile {
  /** 'billing' is the built-in profile (API.md); any other name is a foreign profile. */
  readonly name: string;
  /** The id path; Cosmos DB requires `/id`. */
  readonly idPath: '/id';
  /** One top-level property, e.g. `/tenantId`; its value is a string (the engine's `customerId`). */
  readonly partitionKeyPath: string;
  /** One top-level property whose age decides archival, and its format. */
  readonly agePath: string;
  readonly ageFormat: AgeFormat;
  /** The owner's version property (an integer bumped by every write through the engine); absent: `sys.version`. */
  readonly versionPath?: string;
  /** Top-level properties a stub keeps (besides id, partition key, age and version) so lists never read Blob. */
  readonly stubFields: readonly string[];
  /** True: the archive keeps (and reads answer) JSON with sorted keys; false: the owner's bytes as stored. */
  readonly canonical: boolean;
}

/** The system property (tier, archive pointer, holds, pin; and for foreign profiles version and timestamps). */
export const SYSTEM_PROPERTY = 'sys';

export const BILLING_PROFILE_NAME = 'billing';

/** The record's facts: all the engine reads of a record. A billing record has them as its own fields. */
export interface RecordFacts {
  readonly id: string;
  readonly customerId: string;
  /** The age field as an instant (ISO 8601; for an `iso` profile, the owner's string as stored). */
  readonly issuedAt: string;
  readonly version: number;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** A record of a foreign profile: the facts, the owner's document, and the profile it follows. */
export interface OwnerRecord extends RecordFacts {
  readonly ownerDocument: Readonly<Record<string, unknown>>;
  readonly profile: RecordProfile;
}

export function isOwnerRecord(value: object): value is OwnerRecord {
  return 'ownerDocument' in value && 'profile' in value;
}

export function isBillingProfile(profile: RecordProfile): boolean {
  return profile.name === BILLING_PROFILE_NAME;
}

/** The property name of a one-segment path (`/tenantId` → `tenantId`). */
export function propertyOf(path: string): string {
  return path.slice(1);
}

const PROPERTY_PATH = /^\/[A-Za-z_][A-Za-z0-9_]*$/;

/** Refuses a profile the stores cannot query: paths of one plain property, not the system property. */
export function checkProfile(profile: RecordProfile): RecordProfile {
  const paths = [
    profile.partitionKeyPath,
    profile.agePath,
    ...(profile.versionPath !== undefined ? [profile.versionPath] : []),
    ...profile.stubFields.map((field) => `/${field}`),
  ];
  const bad = paths.filter((path) => !PROPERTY_PATH.test(path) || path === `/${SYSTEM_PROPERTY}`);
  if (profile.idPath !== '/id' || bad.length > 0) {
    throw new AppError(
      'VALIDATION_FAILED',
      `Record profile ${profile.name}: paths must name one top-level property other than /${SYSTEM_PROPERTY} (${bad.join(', ') || profile.idPath})`,
    );
  }
  return Object.freeze({ ...profile, stubFields: Object.freeze([...profile.stubFields]) });
}

// ---- The age field: the engine compares instants; the store compares the owner's values. ----

/** The owner's age value as the engine's instant; undefined when it is not one. */
export function ageInstantOf(profile: RecordProfile, value: unknown): string | undefined {
  if (profile.ageFormat === 'iso') {
    return typeof value === 'string' && Number.isFinite(Date.parse(value)) ? value : undefined;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined;
  const ms = profile.ageFormat === 'epoch-seconds' ? value * 1000 : value;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** An instant (a query bound or a keyset position) as the owner's age value, for the store's comparisons. */
export function ageValueOf(profile: RecordProfile, instant: string): string | number {
  if (profile.ageFormat === 'iso') return instant;
  const ms = Date.parse(instant);
  return profile.ageFormat === 'epoch-seconds' ? ms / 1000 : ms;
}

// ---- Owner records ----

type Json = Record<string, unknown>;

/** The owner's document as persisted (system property removed) → the record, with its facts. */
export function ownerRecordOf(
  profile: RecordProfile,
  ownerDocument: Json,
  sys: { readonly version?: number; readonly createdAt?: string; readonly updatedAt?: string },
  modifiedAtMs: number | undefined,
): OwnerRecord {
  const id = ownerDocument.id;
  const customerId = ownerDocument[propertyOf(profile.partitionKeyPath)];
  const issuedAt = ageInstantOf(profile, ownerDocument[propertyOf(profile.agePath)]);
  if (typeof id !== 'string' || typeof customerId !== 'string' || issuedAt === undefined) {
    throw new AppError(
      'VALIDATION_FAILED',
      `Document ${String(id)} does not fit profile ${profile.name}: it needs a string id, a string ${profile.partitionKeyPath} and an ${profile.ageFormat} ${profile.agePath}`,
    );
  }
  const own = profile.versionPath === undefined ? undefined : ownerDocument[propertyOf(profile.versionPath)];
  // Written before adoption: no system property. Version 1 (or the owner's own), last written when the
  // store says (Cosmos `_ts`), so the archival cool-down still applies.
  const version = typeof own === 'number' ? own : (sys.version ?? 1);
  const updatedAt = sys.updatedAt ?? new Date(modifiedAtMs ?? Date.parse(issuedAt)).toISOString();
  return {
    id,
    customerId,
    issuedAt,
    version,
    createdAt: sys.createdAt ?? updatedAt,
    updatedAt,
    ownerDocument,
    profile,
  };
}

/** What a stub keeps of an owner record: id, partition key, age, version and the profile's stub fields. */
export function ownerSummaryOf(record: OwnerRecord): OwnerRecord {
  const { profile, ownerDocument } = record;
  const kept = [
    'id',
    propertyOf(profile.partitionKeyPath),
    propertyOf(profile.agePath),
    ...(profile.versionPath !== undefined ? [propertyOf(profile.versionPath)] : []),
    ...profile.stubFields,
  ];
  const picked: Json = {};
  // In the owner's key order, so a list item reads like the document it summarises.
  for (const [field, value] of Object.entries(ownerDocument)) {
    if (kept.includes(field)) picked[field] = value;
  }
  return { ...record, ownerDocument: picked };
}

/** The system fields an owner record keeps in `sys` (what its own document does not say). */
export function ownerSysOf(record: OwnerRecord): Json {
  return {
    ...(record.profile.versionPath === undefined ? { version: record.version } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** The bytes a read answers and the archive keeps: the owner's JSON as stored, or sorted keys if canonical. */
export function serializeOwnerRecord(record: OwnerRecord): string {
  return record.profile.canonical
    ? JSON.stringify(sortedKeys(record.ownerDocument))
    : JSON.stringify(record.ownerDocument);
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Json = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortedKeys((value as Json)[key]);
  return sorted;
}

/**
 * A caller's body → the record to store (a create when `previous` is absent). The engine validates only
 * what it needs (an object with the id, the partition key and a readable age); the owner's rules stay
 * the owner's. The version property, if the profile has one, is the engine's to set.
 */
export function buildOwnerRecord(
  profile: RecordProfile,
  body: unknown,
  key: { readonly customerId: string; readonly id: string },
  now: Date,
  previous?: Pick<RecordFacts, 'version' | 'createdAt'>,
): OwnerRecord {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw new AppError('VALIDATION_FAILED', 'A record must be a JSON object', {
      errors: [{ field: '/', message: 'must be an object' }],
    });
  }
  const document = body as Json;
  const pk = propertyOf(profile.partitionKeyPath);
  const errors: Array<{ field: string; message: string }> = [];
  if (document.id !== undefined && document.id !== key.id)
    errors.push({ field: '/id', message: 'must equal the record id' });
  if (document[pk] !== undefined && document[pk] !== key.customerId)
    errors.push({ field: profile.partitionKeyPath, message: 'must equal the partition key' });
  if (ageInstantOf(profile, document[propertyOf(profile.agePath)]) === undefined)
    errors.push({ field: profile.agePath, message: `must be an ${profile.ageFormat} instant` });
  if (SYSTEM_PROPERTY in document)
    errors.push({ field: `/${SYSTEM_PROPERTY}`, message: 'is managed by the engine and must not be sent' });
  if (errors.length > 0)
    throw new AppError('VALIDATION_FAILED', `The body has ${errors.length} invalid field(s)`, { errors });
  const version = (previous?.version ?? 0) + 1;
  const stamp = now.toISOString();
  // The owner's key order is kept (a read answers the bytes as written); missing keys go last.
  const ownerDocument: Json = { ...document };
  ownerDocument.id ??= key.id;
  ownerDocument[pk] ??= key.customerId;
  if (profile.versionPath !== undefined) ownerDocument[propertyOf(profile.versionPath)] = version;
  return ownerRecordOf(
    profile,
    ownerDocument,
    { version, createdAt: previous?.createdAt ?? stamp, updatedAt: stamp },
    undefined,
  );
}
