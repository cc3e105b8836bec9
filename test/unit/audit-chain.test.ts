// The audit hash chain against tampering with the stored events (SQLite, by hand): an edit, a removal,
// a reorder and a cut tail are each caught at the first broken link; and the trail's batching.
import { DatabaseSync } from 'node:sqlite';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SqliteAuditLog } from '../../src/adapters/sqlite/sqlite-audit-log.ts';
import { AuditTrail, MAX_EVENTS_PER_APPEND } from '../../src/audit/audit-trail.ts';
import type { AuditLog } from '../../src/ports/audit-log.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { silentLogger } from '../fakes/silent-logger.ts';
import { entry } from '../contract/audit-log.contract.ts';

let folder: string;
let path: string;
beforeEach(() => {
  folder = mkdtempSync(join(tmpdir(), 'audit-chain-'));
  path = join(folder, 'audit.sqlite');
});
afterEach(() => rmSync(folder, { recursive: true, force: true }));

/** Two writer instances, five events each, on one log; answers the trail of the first and a raw handle. */
async function twoChains(): Promise<{ trail: AuditTrail; db: DatabaseSync; close: () => Promise<void> }> {
  const log = new SqliteAuditLog({ path });
  const clock = new ManualClock();
  const trails = ['instance-a', 'instance-b'].map(
    (chain) => new AuditTrail({ log, clock, logger: silentLogger, chain }),
  );
  for (let i = 0; i < 5; i++) {
    for (const trail of trails)
      await trail.recordNow(entry({ recordId: `rec-${i}`, at: clock.now().toISOString() }));
    clock.advance(1_000);
  }
  const db = new DatabaseSync(path);
  return {
    trail: trails[0]!,
    db,
    close: async () => {
      db.close();
      await log.close();
    },
  };
}

const eventJson = (db: DatabaseSync, chain: string, seq: number): string =>
  (
    db.prepare('SELECT event FROM audit_events WHERE chain = ? AND seq = ?').get(chain, seq) as {
      event: string;
    }
  ).event;

describe('audit chain verification', () => {
  it('passes an untouched log of several instances', async () => {
    const { trail, close } = await twoChains();
    expect(await trail.verify()).toEqual({
      ok: true,
      checked: 10,
      chains: 2,
      firstBroken: null,
      brokenChain: null,
      problem: null,
    });
    await close();
  });

  it('catches an edited event, naming it', async () => {
    const { trail, db, close } = await twoChains();
    const edited = JSON.parse(eventJson(db, 'instance-b', 3)) as Record<string, unknown>;
    edited.status = 204;
    db.prepare('UPDATE audit_events SET event = ? WHERE chain = ? AND seq = ?').run(
      JSON.stringify(edited),
      'instance-b',
      3,
    );
    expect(await trail.verify()).toMatchObject({ ok: false, firstBroken: 3, brokenChain: 'instance-b' });
    await close();
  });

  it('catches a deleted event in the middle, naming the gap', async () => {
    const { trail, db, close } = await twoChains();
    db.prepare('DELETE FROM audit_events WHERE chain = ? AND seq = ?').run('instance-a', 2);
    expect(await trail.verify()).toMatchObject({ ok: false, firstBroken: 2, brokenChain: 'instance-a' });
    await close();
  });

  it('catches two stored events swapped', async () => {
    const { trail, db, close } = await twoChains();
    const [second, fourth] = [eventJson(db, 'instance-a', 2), eventJson(db, 'instance-a', 4)];
    const swap = db.prepare('UPDATE audit_events SET event = ? WHERE chain = ? AND seq = ?');
    swap.run(fourth, 'instance-a', 2);
    swap.run(second, 'instance-a', 4);
    expect(await trail.verify()).toMatchObject({ ok: false, firstBroken: 2, brokenChain: 'instance-a' });
    await close();
  });

  it('catches a cut tail through the anchored head', async () => {
    const { trail, db, close } = await twoChains();
    db.prepare('DELETE FROM audit_events WHERE chain = ? AND seq = ?').run('instance-b', 5);
    expect(await trail.verify()).toMatchObject({ ok: false, firstBroken: 5, brokenChain: 'instance-b' });
    await close();
  });

  it('catches several events cut from the end, naming the first missing', async () => {
    const { trail, db, close } = await twoChains();
    db.prepare('DELETE FROM audit_events WHERE chain = ? AND seq >= 3').run('instance-a');
    expect(await trail.verify()).toMatchObject({ ok: false, brokenChain: 'instance-a', firstBroken: 3 });
    await close();
  });
});

describe('the audit trail of one instance', () => {
  it('writes read events within the flush interval, and what is left on close', async () => {
    const log = new SqliteAuditLog({ path: ':memory:' });
    const clock = new ManualClock();
    const trail = new AuditTrail({ log, clock, logger: silentLogger, chain: 'c', flushIntervalMs: 1_000 });
    trail.recordLater(entry({ recordId: 'r1' }));
    trail.recordLater(entry({ recordId: 'r2' }));
    const stored = async () => (await log.query({ limit: 10 })).items.map((event) => event.recordId);
    expect(await stored()).toEqual([]);
    await clock.tick(999);
    expect(await stored()).toEqual([]);
    // The batch's timer fires at one second, with no flush asked for.
    await clock.tick(1);
    await vi.waitFor(async () => expect(await stored()).toEqual(['r1', 'r2']));
    trail.recordLater(entry({ recordId: 'r3' }));
    await trail.close();
    expect(await stored()).toEqual(['r1', 'r2', 'r3']);
    expect(trail.writable()).toBe(false);
    await log.close();
  });
});

describe('audit trail appends', () => {
  it('writes a large queue in appends of at most MAX_EVENTS_PER_APPEND, one chain, the event loop turning between them', async () => {
    const log = new SqliteAuditLog({ path: ':memory:' });
    const appends: number[] = [];
    const turns: number[] = [];
    const counting: AuditLog = {
      append(events, options) {
        appends.push(events.length);
        // A callback set now runs only once the loop turns: how many appends came before it.
        setImmediate(() => turns.push(appends.length));
        return log.append(events, options);
      },
      query: (query, options) => log.query(query, options),
      chains: (options) => log.chains(options),
      close: () => log.close(),
    };
    const clock = new ManualClock();
    const trail = new AuditTrail({ log: counting, clock, logger: silentLogger, chain: 'busy' });
    const total = 2 * MAX_EVENTS_PER_APPEND + 7;
    for (let i = 0; i < total; i++) trail.recordLater(entry({ recordId: `rec-${i}` }));
    await trail.flush();
    expect(appends).toEqual([MAX_EVENTS_PER_APPEND, MAX_EVENTS_PER_APPEND, 7]);
    // Each append's callback ran before the next append: the loop turned between them.
    expect(turns.slice(0, 2)).toEqual([1, 2]);
    const verified = await trail.verify();
    expect(verified).toMatchObject({ ok: true, checked: total, chains: 1 });
    await trail.close();
    await log.close();
  });
});
