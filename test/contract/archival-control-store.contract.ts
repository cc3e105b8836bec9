// The behaviour every ArchivalControlStore adapter must share: JSON documents written on their etag,
// create-only and conditional writes, ordered listing, and leases that exclude and fence other workers.
// Each adapter's test file calls this.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, hasCode } from '../../src/domain/errors.ts';
import type { ArchivalControlStore, Lease } from '../../src/ports/archival-control-store.ts';

export interface ControlStoreHarness {
  readonly store: ArchivalControlStore;
  /**
   * Moves the store's clock on, where the harness owns it (memory). Blob leases expire on the service's
   * own clock, 15 s at the least: waiting for that is too slow for a contract suite, so the expiry tests
   * are skipped for Blob, whose release-and-reacquire and fencing tests cover the same handover.
   */
  readonly advanceClock?: (ms: number) => void;
  /** Stops whatever the harness started. */
  dispose(): Promise<void>;
}

interface SliceState {
  readonly watermark: string;
  readonly continuation: string | null;
  readonly counts: { readonly copied: number; readonly skipped: readonly string[] };
  readonly done: boolean;
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => hasCode(error, code));
}

/**
 * `ownsClock`: the adapter's leases expire on a clock the harness moves (memory). Blob leases expire on
 * the service's clock (15 s at the least), so for Blob the expiry cases are left out, not skipped:
 * its release-and-reacquire and fencing tests cover the same handover.
 */
export function describeControlStoreContract(
  name: string,
  start: () => Promise<ControlStoreHarness>,
  options: { readonly ownsClock: boolean },
): void {
  describe(`ArchivalControlStore contract: ${name}`, () => {
    let harness: ControlStoreHarness;
    let store: ArchivalControlStore;
    let prefixSeq = 0;
    // Every test works under its own prefix, so tests sharing one store never see each other's documents.
    const newPrefix = (): string => `t${++prefixSeq}-${process.pid}/`;
    const state = (watermark: string): SliceState => ({
      watermark,
      continuation: null,
      counts: { copied: 3, skipped: ['inv-1', 'ünïcode-€'] },
      done: false,
    });

    beforeAll(async () => {
      harness = await start();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.dispose();
    });

    it('answers undefined for an absent document', async () => {
      expect(await store.read(`${newPrefix()}slices/2024-05`)).toBeUndefined();
    });

    it('creates with ifNoneMatch and reads back the same value and etag', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const written = state('2024-05-31T00:00:00.000Z');
      const etag = await store.write(docName, written, { ifNoneMatch: '*' });
      expect(etag).toMatch(/^".+"$/);
      expect(await store.read<SliceState>(docName)).toEqual({ value: written, etag });
      // Reading does not change the document.
      expect((await store.read<SliceState>(docName))?.etag).toBe(etag);
    });

    it('refuses ifNoneMatch on an existing document (ALREADY_EXISTS) and keeps it', async () => {
      const docName = `${newPrefix()}runs/r-1`;
      const etag = await store.write(docName, state('first'), { ifNoneMatch: '*' });
      await expectCode(store.write(docName, state('second'), { ifNoneMatch: '*' }), 'ALREADY_EXISTS');
      expect(await store.read(docName)).toEqual({ value: state('first'), etag });
    });

    it('writes over the current etag with a new one, refuses a stale one and keeps the document', async () => {
      const docName = `${newPrefix()}slices/2024-06`;
      const first = await store.write(docName, state('one'), { ifNoneMatch: '*' });
      const second = await store.write(docName, state('two'), { ifMatch: first });
      expect(second).not.toBe(first);
      expect(await store.read(docName)).toEqual({ value: state('two'), etag: second });
      await expectCode(store.write(docName, state('stale'), { ifMatch: first }), 'PRECONDITION_FAILED');
      expect(await store.read(docName)).toEqual({ value: state('two'), etag: second });
    });

    it('refuses ifMatch on an absent document (PRECONDITION_FAILED) and creates nothing', async () => {
      const docName = `${newPrefix()}slices/2024-07`;
      const elsewhere = await store.write(`${newPrefix()}other`, state('x'), {});
      await expectCode(store.write(docName, state('x'), { ifMatch: elsewhere }), 'PRECONDITION_FAILED');
      expect(await store.read(docName)).toBeUndefined();
    });

    it('writes unconditionally over whatever is there, with a new etag each time', async () => {
      const docName = `${newPrefix()}runs/r-2`;
      const first = await store.write(docName, { n: 1 }, {});
      const second = await store.write(docName, [1, 'two', null, true], {});
      expect(second).not.toBe(first);
      expect(await store.read(docName)).toEqual({ value: [1, 'two', null, true], etag: second });
    });

    it('lists the names under a prefix in order, leased new documents included, and nothing else', async () => {
      const prefix = newPrefix();
      for (const slice of ['2024-05', '2023-12', '2024-04', '2024-10']) {
        await store.write(`${prefix}slices/${slice}`, state(slice), {});
      }
      // Neighbours that share the text but not the prefix.
      await store.write(`${prefix}slices-old/2024-01`, state('x'), {});
      await store.write(`${prefix}runs/r-1`, state('x'), {});
      const lease = await store.acquireLease(`${prefix}slices/2024-09`, 15);
      expect(lease).toBeDefined();

      expect(await store.list(`${prefix}slices/`)).toEqual([
        `${prefix}slices/2023-12`,
        `${prefix}slices/2024-04`,
        `${prefix}slices/2024-05`,
        `${prefix}slices/2024-09`,
        `${prefix}slices/2024-10`,
      ]);
      expect(await store.list(`${prefix}runs/`)).toEqual([`${prefix}runs/r-1`]);
      expect(await store.list(`${prefix}none/`)).toEqual([]);
      await store.releaseLease(lease!);
    });

    it('acquires a lease, creating the document with null if absent; a second acquire gets nothing', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const lease = await store.acquireLease(docName, 60);
      expect(lease).toEqual({ name: docName, leaseId: expect.any(String) as string });
      const created = await store.read(docName);
      expect(created).toEqual({ value: null, etag: expect.stringMatching(/^".+"$/) as string });
      expect(await store.acquireLease(docName, 60)).toBeUndefined();
      // The refused acquire left the holder's document and lease as they were.
      expect(await store.read(docName)).toEqual(created);
      expect(await store.write(docName, state('mine'), { ifMatch: created!.etag, lease: lease! })).toMatch(
        /^".+"$/,
      );
      await store.releaseLease(lease!);
    });

    it('leases an existing document without changing its value or etag', async () => {
      // A worker reads its checkpoint, leases the slice, then writes on the etag it read.
      const docName = `${newPrefix()}slices/2024-05`;
      const etag = await store.write(docName, state('checkpoint'), {});
      const lease = await store.acquireLease(docName, 30);
      expect(lease).toBeDefined();
      expect(await store.read(docName)).toEqual({ value: state('checkpoint'), etag });
      const next = await store.write(docName, state('next'), { ifMatch: etag, lease: lease! });
      expect(await store.read(docName)).toEqual({ value: state('next'), etag: next });
      await store.releaseLease(lease!);
    });

    it('refuses a write to a leased document without its lease, and takes one with it', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const lease = (await store.acquireLease(docName, 60))!;
      const before = await store.read(docName);
      await expectCode(store.write(docName, state('intruder'), {}), 'PRECONDITION_FAILED');
      const forged: Lease = { name: docName, leaseId: randomUUID() };
      await expectCode(store.write(docName, state('forged'), { lease: forged }), 'PRECONDITION_FAILED');
      await expectCode(
        store.write(docName, state('stale'), { ifMatch: `"${randomUUID()}"`, lease }),
        'PRECONDITION_FAILED',
      );
      expect(await store.read(docName)).toEqual(before);

      const etag = await store.write(docName, state('holder'), { lease });
      expect(await store.read(docName)).toEqual({ value: state('holder'), etag });
      await store.releaseLease(lease);
    });

    it('hands over on release: another worker acquires, and the released lease no longer writes, renews or releases', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const first = (await store.acquireLease(docName, 15))!;
      await store.releaseLease(first);
      const second = await store.acquireLease(docName, 15);
      expect(second).toBeDefined();
      expect(second?.leaseId).not.toBe(first.leaseId);

      await expectCode(store.write(docName, state('late'), { lease: first }), 'PRECONDITION_FAILED');
      expect(await store.renewLease(first)).toBe(false);
      await expect(store.releaseLease(first)).resolves.toBeUndefined();
      // The stale release did not free the new holder's lease.
      expect(await store.acquireLease(docName, 15)).toBeUndefined();
      expect(await store.write(docName, state('new holder'), { lease: second! })).toMatch(/^".+"$/);
      await store.releaseLease(second!);
    });

    it('fences a released lease off even when nobody holds another, and writes without one again', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const lease = (await store.acquireLease(docName, 15))!;
      await store.releaseLease(lease);
      await expect(store.releaseLease(lease)).resolves.toBeUndefined();
      await expectCode(store.write(docName, state('late'), { lease }), 'PRECONDITION_FAILED');
      const etag = await store.write(docName, state('free'), {});
      expect(await store.read(docName)).toEqual({ value: state('free'), etag });
    });

    it('renews a held lease, which stays exclusive', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const lease = (await store.acquireLease(docName, 15))!;
      expect(await store.renewLease(lease)).toBe(true);
      expect(await store.renewLease(lease)).toBe(true);
      expect(await store.acquireLease(docName, 15)).toBeUndefined();
      expect(await store.write(docName, state('renewed'), { lease })).toMatch(/^".+"$/);
      await store.releaseLease(lease);
    });

    it('gives a new name’s lease to exactly one of two workers racing for it', async () => {
      const docName = `${newPrefix()}slices/2024-05`;
      const leases = await Promise.all([store.acquireLease(docName, 15), store.acquireLease(docName, 15)]);
      const won = leases.filter((lease) => lease !== undefined);
      expect(won).toHaveLength(1);
      expect((await store.read(docName))?.value).toBeNull();
      await store.releaseLease(won[0]!);
    });

    it('refuses a lease duration outside 15-60 whole seconds (INTERNAL) and creates nothing', async () => {
      const prefix = newPrefix();
      for (const seconds of [14, 61, 20.5, -1]) {
        await expectCode(store.acquireLease(`${prefix}bad`, seconds), 'INTERNAL');
      }
      expect(await store.read(`${prefix}bad`)).toBeUndefined();
      for (const seconds of [15, 60]) {
        const lease = await store.acquireLease(`${prefix}ok-${seconds}`, seconds);
        expect(lease).toBeDefined();
        await store.releaseLease(lease!);
      }
    });

    it('treats a lease on an absent document as lost, and creates nothing', async () => {
      const lease: Lease = { name: `${newPrefix()}slices/2024-05`, leaseId: randomUUID() };
      expect(await store.renewLease(lease)).toBe(false);
      await expect(store.releaseLease(lease)).resolves.toBeUndefined();
      expect(await store.read(lease.name)).toBeUndefined();
    });

    it('rejects with the caller’s reason when the signal is already aborted', async () => {
      const reason = new Error('caller gave up');
      const abortSignal = AbortSignal.abort(reason);
      const docName = `${newPrefix()}x`;
      await expect(store.read(docName, { abortSignal })).rejects.toBe(reason);
      await expect(store.write(docName, 1, {}, { abortSignal })).rejects.toBe(reason);
      await expect(store.list(docName, { abortSignal })).rejects.toBe(reason);
      await expect(store.acquireLease(docName, 15, { abortSignal })).rejects.toBe(reason);
      expect(await store.read(docName)).toBeUndefined();
    });

    const describeExpiry = options.ownsClock
      ? describe
      : (_name: string, _cases: () => void): void => undefined;
    describeExpiry('lease expiry (where the harness owns the clock)', () => {
      const clock = (): ((ms: number) => void) => {
        if (harness.advanceClock === undefined) throw new Error('this harness does not own its clock');
        return harness.advanceClock;
      };

      it('lets another worker take a lease that expired; the old holder can neither renew nor write', async () => {
        const advance = clock();
        const docName = `${newPrefix()}slices/2024-05`;
        const first = (await store.acquireLease(docName, 15))!;
        advance(14_999);
        expect(await store.acquireLease(docName, 15)).toBeUndefined();
        advance(1);
        const second = await store.acquireLease(docName, 15);
        expect(second).toBeDefined();
        expect(await store.renewLease(first)).toBe(false);
        await expectCode(store.write(docName, state('late'), { lease: first }), 'PRECONDITION_FAILED');
        expect(await store.write(docName, state('new holder'), { lease: second! })).toMatch(/^".+"$/);
      });

      it('renews an expired lease nobody took, for its whole duration again', async () => {
        const advance = clock();
        const docName = `${newPrefix()}slices/2024-05`;
        const lease = (await store.acquireLease(docName, 60))!;
        advance(61_000);
        // Expired: it no longer writes, yet nobody has taken it, so it can still be renewed.
        await expectCode(store.write(docName, state('late'), { lease }), 'PRECONDITION_FAILED');
        expect(await store.renewLease(lease)).toBe(true);
        advance(59_000);
        expect(await store.acquireLease(docName, 15)).toBeUndefined();
        expect(await store.write(docName, state('renewed'), { lease })).toMatch(/^".+"$/);
        advance(1_000);
        expect(await store.acquireLease(docName, 15)).toBeDefined();
      });

      it('forgets an expired lease once the document changes, as Blob does', async () => {
        const advance = clock();
        const docName = `${newPrefix()}slices/2024-05`;
        const lease = (await store.acquireLease(docName, 15))!;
        advance(15_000);
        await store.write(docName, state('written while expired'), {});
        expect(await store.renewLease(lease)).toBe(false);
      });
    });
  });
}
