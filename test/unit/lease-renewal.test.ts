// The lease timer of archival runs, on the manual clock: when it renews, what a failed renewal means,
// and that stopping it leaves nothing running.
import { describe, expect, it } from 'vitest';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import { LeaseRenewal } from '../../src/archival/lease-renewal.ts';
import { AppError } from '../../src/domain/errors.ts';
import type { ArchivalControlStore, Lease } from '../../src/ports/archival-control-store.ts';
import { ManualClock } from '../fakes/manual-clock.ts';

const SECOND = 1000;

/** A control store whose renewLease answers as `renew` says, recording when it was asked. */
function scriptedControl(
  clock: ManualClock,
  renew: (call: number, signal: AbortSignal | undefined) => Promise<boolean>,
): { control: ArchivalControlStore; calls: number[] } {
  const calls: number[] = [];
  const control = {
    renewLease: (_lease: Lease, options?: { abortSignal?: AbortSignal }) => {
      calls.push(clock.now().getTime());
      return renew(calls.length, options?.abortSignal);
    },
  } as unknown as ArchivalControlStore;
  return { control, calls };
}

const lease: Lease = { name: 'slices/2025-07.json', leaseId: 'lease-1' };

describe('LeaseRenewal', () => {
  it('keeps a lease past its duration by renewing every third of it, until stopped', async () => {
    const clock = new ManualClock();
    const control = new MemoryControlStore(clock);
    const held = (await control.acquireLease('slices/2025-07.json', 15))!;
    const renewal = new LeaseRenewal(control, held, clock, { everyMs: 5 * SECOND });
    await clock.tick(40 * SECOND);
    expect(renewal.held).toBe(true);
    expect(await control.acquireLease('slices/2025-07.json', 15)).toBeUndefined();
    await renewal.stop();
    expect(clock.sleeping).toBe(0);
    // Stopped: nothing renews it any more, so it expires and another worker may take it.
    await clock.tick(16 * SECOND);
    expect(await control.acquireLease('slices/2025-07.json', 15)).toBeDefined();
  });

  it('renews at each interval on the clock, and never before', async () => {
    const clock = new ManualClock();
    const start = clock.now().getTime();
    const { control, calls } = scriptedControl(clock, () => Promise.resolve(true));
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    await clock.tick(19 * SECOND);
    expect(calls).toEqual([]);
    await clock.tick(46 * SECOND);
    expect(calls.map((at) => (at - start) / SECOND)).toEqual([20, 40, 60]);
    await renewal.stop();
  });

  it('reports the lease lost when a renewal answers false, and stops renewing', async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(clock, (call) => Promise.resolve(call < 2));
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    await clock.tick(20 * SECOND);
    expect(renewal.held).toBe(true);
    await clock.tick(20 * SECOND);
    expect(renewal.held).toBe(false);
    expect(clock.sleeping).toBe(0);
    await clock.tick(60 * SECOND);
    expect(calls).toHaveLength(2);
    await renewal.stop();
  });

  it('renews now between batches too, and answers false once either renewal found the lease lost', async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(clock, (call) => Promise.resolve(call < 3));
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    expect(await renewal.renewNow()).toBe(true);
    await clock.tick(20 * SECOND);
    expect(calls).toHaveLength(2);
    expect(await renewal.renewNow()).toBe(false);
    // Lost stays lost: no call can bring it back.
    expect(await renewal.renewNow()).toBe(false);
    expect(calls).toHaveLength(3);
    await renewal.stop();
  });

  it('confirms between batches without a call while the lease was known held within an interval', async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(clock, (call) => Promise.resolve(call < 3));
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    await clock.tick(19 * SECOND);
    expect(await renewal.confirm()).toBe(true);
    expect(calls).toEqual([]);
    // The timer's renewal at 20 s confirms it too: a batch ending at 39 s makes no call either.
    await clock.tick(20 * SECOND);
    expect(calls).toHaveLength(1);
    expect(await renewal.confirm()).toBe(true);
    expect(calls).toHaveLength(1);
    await renewal.stop();
  });

  it('asks between batches once the last confirmation is older than an interval (a stalled process)', async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(clock, (call) => Promise.resolve(call < 2));
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    await renewal.stop(); // no timer: as if the process had stalled
    clock.advance(21 * SECOND);
    expect(await renewal.confirm()).toBe(true);
    expect(calls).toHaveLength(1);
    expect(await renewal.confirm()).toBe(true);
    expect(calls).toHaveLength(1);
    clock.advance(21 * SECOND);
    expect(await renewal.confirm()).toBe(false);
    expect(calls).toHaveLength(2);
  });

  it('takes a renewal that failed (no answer) for no loss, and renews at the next interval', async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(clock, (call) =>
      call === 1 ? Promise.reject(new AppError('UNAVAILABLE', 'Blob answered 503')) : Promise.resolve(true),
    );
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    await clock.tick(40 * SECOND);
    expect(calls).toHaveLength(2);
    expect(renewal.held).toBe(true);
    await renewal.stop();
  });

  it('stop() ends a renewal in flight instead of waiting for it, and never rejects', async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(
      clock,
      (_call, signal) =>
        new Promise((_resolve, reject) => {
          signal?.addEventListener('abort', () => reject(new AppError('TIMEOUT', 'aborted')));
        }),
    );
    const renewal = new LeaseRenewal(control, lease, clock, { everyMs: 20 * SECOND });
    await clock.tick(20 * SECOND);
    expect(calls).toHaveLength(1);
    await expect(renewal.stop()).resolves.toBeUndefined();
    expect(renewal.held).toBe(true);
    expect(clock.sleeping).toBe(0);
  });

  it("ends with the run's cancellation", async () => {
    const clock = new ManualClock();
    const { control, calls } = scriptedControl(clock, () => Promise.resolve(true));
    const cancel = new AbortController();
    const renewal = new LeaseRenewal(control, lease, clock, {
      everyMs: 20 * SECOND,
      callOptions: { abortSignal: cancel.signal },
    });
    expect(clock.sleeping).toBe(1);
    cancel.abort();
    await clock.tick(60 * SECOND);
    expect(calls).toEqual([]);
    expect(clock.sleeping).toBe(0);
    await renewal.stop();
  });
});
