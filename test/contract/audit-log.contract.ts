// The behaviour every AuditLog adapter must share: appends that continue their chain or are refused,
// all or nothing; queries by customer, record, actor, action and time, oldest first and paged; every
// chain read back in stored order, verifying. Each adapter's test file calls this.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditEntry, chainEvents, verifyChain } from '../../src/domain/audit-event.ts';
import { hasCode } from '../../src/domain/errors.ts';
import type { AuditLog, AuditQuery, StoredChain } from '../../src/ports/audit-log.ts';

export interface AuditLogHarness {
  readonly log: AuditLog;
  /** A second adapter over the same storage (a restarted process), where the harness can open one. */
  reopen?(): Promise<AuditLog>;
  dispose(): Promise<void>;
}

export function entry(overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: '2026-12-01T10:00:00.000Z',
    actor: { sub: 'alice', roles: ['Billing.Read'] },
    action: 'record.read',
    customerId: 'cust-1',
    recordId: 'rec-1',
    status: 200,
    requestId: 'req-1',
    reason: null,
    ...overrides,
  };
}

async function collect(iterable: AsyncIterable<StoredChain>): Promise<StoredChain[]> {
  const chains: StoredChain[] = [];
  for await (const chain of iterable) chains.push(chain);
  return chains;
}

export function describeAuditLogContract(name: string, start: () => Promise<AuditLogHarness>): void {
  describe(`AuditLog contract: ${name}`, () => {
    let harness: AuditLogHarness;
    let log: AuditLog;
    beforeAll(async () => {
      harness = await start();
      log = harness.log;
    });
    afterAll(async () => {
      await harness?.dispose();
    });
    // Every test filters on a customer of its own, so tests sharing one log never see each other's events.
    const newCustomer = (): string => `cust-${randomUUID().slice(0, 8)}`;
    const newChain = (): string => `chain-${randomUUID().slice(0, 8)}`;

    it('appends a chain and answers its events oldest first, each filter narrowing them', async () => {
      const customerId = newCustomer();
      const chain = newChain();
      const events = chainEvents(chain, undefined, [
        entry({ customerId, at: '2026-12-01T10:00:00.000Z', action: 'record.create', status: 201 }),
        entry({ customerId, at: '2026-12-01T10:00:01.000Z', actor: { sub: 'bob', roles: [] } }),
        entry({ customerId, at: '2026-12-01T10:00:02.000Z', recordId: 'rec-2', action: 'record.delete' }),
        entry({ customerId: 'someone-else', at: '2026-12-01T10:00:03.000Z' }),
      ]);
      await log.append(events);
      const query = (q: Omit<AuditQuery, 'limit'>) =>
        log.query({ limit: 100, ...q }).then((page) => page.items.map((event) => event.seq));
      expect(await query({ customerId })).toEqual([1, 2, 3]);
      expect((await log.query({ customerId, limit: 100 })).items[0]).toEqual(events[0]);
      expect(await query({ customerId, recordId: 'rec-2' })).toEqual([3]);
      expect(await query({ customerId, actor: 'bob' })).toEqual([2]);
      expect(await query({ customerId, action: 'record.create' })).toEqual([1]);
      expect(await query({ customerId, from: '2026-12-01T10:00:01.000Z' })).toEqual([2, 3]);
      expect(await query({ customerId, to: '2026-12-01T10:00:01.000Z' })).toEqual([1]);
    });

    it('pages in (at, chain, seq) order across chains', async () => {
      const customerId = newCustomer();
      const [a, b] = [newChain(), newChain()].sort();
      await log.append(
        chainEvents(a!, undefined, [
          entry({ customerId, at: '2026-12-02T00:00:00.000Z' }),
          entry({ customerId, at: '2026-12-02T00:00:02.000Z' }),
        ]),
      );
      await log.append(
        chainEvents(b!, undefined, [
          entry({ customerId, at: '2026-12-02T00:00:00.000Z' }),
          entry({ customerId, at: '2026-12-02T00:00:01.000Z' }),
        ]),
      );
      const seen: string[] = [];
      let page = await log.query({ customerId, limit: 3 });
      seen.push(...page.items.map((event) => `${event.chain}#${event.seq}`));
      expect(page.next).toBeDefined();
      page = await log.query({ customerId, limit: 3, after: page.next! });
      seen.push(...page.items.map((event) => `${event.chain}#${event.seq}`));
      expect(page.next).toBeUndefined();
      expect(seen).toEqual([`${a}#1`, `${b}#1`, `${b}#2`, `${a}#2`]);
    });

    it('continues a chain across appends and refuses an append that does not link to its head', async () => {
      const customerId = newCustomer();
      const chain = newChain();
      const first = chainEvents(chain, undefined, [entry({ customerId })]);
      await log.append(first);
      const head = { seq: 1, hash: first[0]!.hash };
      await log.append(chainEvents(chain, head, [entry({ customerId, at: '2026-12-01T10:00:05.000Z' })]));
      // A second writer on the same chain, or a replayed batch: neither may land.
      const stale = chainEvents(chain, head, [entry({ customerId, at: '2026-12-01T10:00:06.000Z' })]);
      await expect(log.append(stale)).rejects.toSatisfy((e: unknown) => hasCode(e, 'PRECONDITION_FAILED'));
      const restart = chainEvents(chain, undefined, [entry({ customerId })]);
      await expect(log.append(restart)).rejects.toSatisfy((e: unknown) => hasCode(e, 'PRECONDITION_FAILED'));
      expect((await log.query({ customerId, limit: 10 })).items.map((e) => e.seq)).toEqual([1, 2]);
    });

    it('reads every chain back in stored order, and each verifies with its anchors', async () => {
      const chain = newChain();
      const events = chainEvents(
        chain,
        undefined,
        Array.from({ length: 5 }, (_, i) => entry({ at: `2026-12-03T00:00:0${i}.000Z` })),
      );
      await log.append(events.slice(0, 2));
      await log.append(events.slice(2));
      const chains = await collect(log.chains());
      const stored = chains.find((c) => c.chain === chain);
      expect(stored?.events).toEqual(events);
      for (const c of chains) expect(verifyChain(c.chain, c.events, c)).toBeUndefined();
    });

    it('accepts an empty append as nothing', async () => {
      await expect(log.append([])).resolves.toBeUndefined();
    });

    it('keeps what it acknowledged for the next process', async () => {
      if (harness.reopen === undefined) return;
      const customerId = newCustomer();
      const chain = newChain();
      const events = chainEvents(chain, undefined, [entry({ customerId }), entry({ customerId })]);
      await log.append(events);
      const other = await harness.reopen();
      expect((await other.query({ customerId, limit: 10 })).items).toEqual(events);
      const reread = (await collect(other.chains())).find((c) => c.chain === chain);
      expect(verifyChain(chain, reread!.events, reread!)).toBeUndefined();
      await other.close();
    });
  });
}
