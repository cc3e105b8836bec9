// Record profiles (issue 19): the age field in each format, the profile check, the owner's bytes or
// canonical JSON, and the persisted layout of a foreign profile's documents (the owner's fields, the
// engine's only under sys).
import { describe, expect, it } from 'vitest';
import { BILLING_PROFILE } from '../../src/domain/billing-profile.ts';
import {
  fromPersisted,
  presentRecord,
  serializeAnyRecord,
  summaryOf,
  toPersisted,
} from '../../src/domain/record-document.ts';
import {
  ageInstantOf,
  ageValueOf,
  buildOwnerRecord,
  checkProfile,
  type RecordProfile,
} from '../../src/domain/record-profile.ts';
import { makeRecord } from '../support/record-fixtures.ts';

const profile: RecordProfile = {
  name: 'orders',
  idPath: '/id',
  partitionKeyPath: '/shop',
  agePath: '/placedMs',
  ageFormat: 'epoch-ms',
  stubFields: ['total'],
  canonical: false,
};
const NOW = new Date('2026-03-01T10:00:00.000Z');

describe('record profiles', () => {
  it('converts the age field both ways in every format', () => {
    const instant = '2025-06-10T08:00:00.000Z';
    for (const ageFormat of ['iso', 'epoch-seconds', 'epoch-ms'] as const) {
      const p = { ...profile, ageFormat };
      expect(ageInstantOf(p, ageValueOf(p, instant))).toBe(instant);
    }
    expect(ageValueOf({ ...profile, ageFormat: 'epoch-seconds' }, instant)).toBe(1_749_542_400);
    expect(ageInstantOf(profile, 'yesterday')).toBeUndefined();
    expect(ageInstantOf({ ...profile, ageFormat: 'iso' }, 1_749_542_400)).toBeUndefined();
  });

  it('refuses paths the stores cannot query, and the system property', () => {
    expect(() => checkProfile({ ...profile, partitionKeyPath: '/a/b' })).toThrow(/one top-level property/);
    expect(() => checkProfile({ ...profile, agePath: '/sys' })).toThrow(/\/sys/);
    expect(() => checkProfile({ ...profile, stubFields: ['bad-name'] })).toThrow(/bad-name/);
    expect(checkProfile(profile)).toEqual(profile);
    expect(checkProfile(BILLING_PROFILE)).toEqual(BILLING_PROFILE);
  });

  it('keeps the owner fields as written and puts only sys beside them; a document without sys is hot v1', () => {
    const owner = { shop: 's1', id: 'o-1', placedMs: 1_749_542_400_000, total: 12, lines: [{ sku: 'a' }] };
    const document = fromPersisted(owner, profile, NOW.getTime());
    expect(document).toMatchObject({ tier: 'hot', customerId: 's1', id: 'o-1', sys: {} });
    const record = document.tier === 'hot' ? document.record : undefined;
    expect(record).toMatchObject({ version: 1, issuedAt: '2025-06-10T08:00:00.000Z' });
    expect(record?.updatedAt).toBe(NOW.toISOString());
    expect(JSON.stringify(presentRecord(record!))).toBe(JSON.stringify(owner));
    expect(toPersisted(document)).toEqual({
      ...owner,
      sys: { tier: 'hot', version: 1, createdAt: NOW.toISOString(), updatedAt: NOW.toISOString() },
    });
    // The stub keeps id, partition key, age and the stub fields, in the owner's order.
    expect(Object.keys((summaryOf(document) as unknown as { ownerDocument: object }).ownerDocument)).toEqual([
      'shop',
      'id',
      'placedMs',
      'total',
    ]);
  });

  it('answers the owner bytes, or sorted-key JSON where the profile asks for canonical', () => {
    const body = { shop: 's1', placedMs: 1_749_542_400_000, z: 1, a: { y: 2, b: 3 } };
    const built = buildOwnerRecord(profile, body, { customerId: 's1', id: 'o-2' }, NOW);
    expect(serializeAnyRecord(built as never)).toBe(JSON.stringify({ ...body, id: 'o-2' }));
    const canonical = buildOwnerRecord(
      { ...profile, canonical: true },
      body,
      { customerId: 's1', id: 'o-2' },
      NOW,
    );
    expect(serializeAnyRecord(canonical as never)).toBe(
      '{"a":{"b":3,"y":2},"id":"o-2","placedMs":1749542400000,"shop":"s1","z":1}',
    );
    const billing = makeRecord();
    expect(presentRecord(billing)).toBe(billing);
  });

  it('bumps the owner version property where the profile has one, and refuses what does not fit', () => {
    const versioned = { ...profile, versionPath: '/rev' };
    const next = buildOwnerRecord(
      versioned,
      { shop: 's1', placedMs: 1, rev: 99 },
      { customerId: 's1', id: 'o-3' },
      NOW,
      { version: 4, createdAt: NOW.toISOString() },
    );
    expect(next.version).toBe(5);
    expect(next.ownerDocument.rev).toBe(5);
    expect(() =>
      buildOwnerRecord(profile, { shop: 'other', placedMs: 1 }, { customerId: 's1', id: 'o-4' }, NOW),
    ).toThrow(/invalid field/);
    expect(() =>
      buildOwnerRecord(profile, { placedMs: 1, sys: {} }, { customerId: 's1', id: 'o-4' }, NOW),
    ).toThrow(/invalid field/);
  });
});
