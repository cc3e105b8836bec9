// The slice plan: which ranges of a month a run scans, from the slice's stored state alone.
import { describe, expect, it } from 'vitest';
import {
  monthsBetween,
  planSlice,
  type SlicePlanInput,
  type SliceState,
  STORE_CLOCK_SKEW_MS,
} from '../../src/archival/slice-plan.ts';
import type { ArchivalPolicy } from '../../src/domain/archival-policy.ts';
import { parseIsoDuration } from '../../src/domain/iso-duration.ts';

function policyOf(archiveAfter: string, gracePeriod: string, coolDown: string): ArchivalPolicy {
  return {
    archiveAfter: parseIsoDuration(archiveAfter)!,
    gracePeriod: parseIsoDuration(gracePeriod)!,
    coolDown: parseIsoDuration(coolDown)!,
  };
}

const MINUTE = 60_000;
const DAY = 24 * 3600_000;
const THIRTY_DAYS = 30 * DAY;
const NOW = Date.parse('2026-01-15T12:00:00.000Z');
/** The cutoff of a P3M policy at NOW: inside October 2025. */
const CUTOFF = '2025-10-15T12:00:00.000Z';
const position = { issuedAt: '2025-07-10T00:00:00.000Z', customerId: 'cust-a', id: 'r-1' };

function input(overrides: Partial<SlicePlanInput> = {}): SlicePlanInput {
  return {
    state: {},
    month: '2025-07',
    cutoff: CUTOFF,
    nowMs: NOW,
    policy: policyOf('P3M', 'P7D', 'P1D'),
    fullSweepEveryMs: THIRTY_DAYS,
    pilot: false,
    scope: {},
    ...overrides,
  };
}

/** A slice scanned by an incremental run a day ago, last swept whole ten days ago. */
const scanned: SliceState = {
  scannedBefore: '2025-08-01T00:00:00.000Z',
  scanStartedMs: NOW - DAY,
  lastFullSweepMs: NOW - 10 * DAY,
};

const bounds = (plan: ReturnType<typeof planSlice>) =>
  plan.ranges.map(({ issuedFrom, issuedBefore, modifiedSinceMs }) => ({
    issuedFrom,
    issuedBefore,
    ...(modifiedSinceMs !== undefined ? { modifiedSinceMs } : {}),
  }));

describe('planSlice', () => {
  it('sweeps a slice without state whole, and then records the watermark and the sweep', () => {
    const plan = planSlice(input());
    expect(plan.full).toBe(true);
    expect(bounds(plan)).toEqual([
      { issuedFrom: '2025-07-01T00:00:00.000Z', issuedBefore: '2025-08-01T00:00:00.000Z' },
    ]);
    expect(plan.ranges[0]?.resumeAfter).toBeUndefined();
    expect(plan.completed).toEqual({
      scannedBefore: '2025-08-01T00:00:00.000Z',
      scanStartedMs: NOW,
      lastFullSweepMs: NOW,
    });
  });

  it('ends the slice of the cutoff month at the cutoff, and December at the next January', () => {
    expect(bounds(planSlice(input({ month: '2025-10' })))).toEqual([
      { issuedFrom: '2025-10-01T00:00:00.000Z', issuedBefore: CUTOFF },
    ]);
    expect(planSlice(input({ month: '2024-12' })).ranges[0]?.issuedBefore).toBe('2025-01-01T00:00:00.000Z');
  });

  it('with the watermark at the upper bound, reads only what was written behind it since the last scan', () => {
    const plan = planSlice(input({ state: scanned }));
    expect(plan.full).toBe(false);
    expect(bounds(plan)).toEqual([
      {
        issuedFrom: '2025-07-01T00:00:00.000Z',
        issuedBefore: '2025-08-01T00:00:00.000Z',
        // The last scan's start, less the cool-down (a record cooling down then is eligible now) and skew.
        modifiedSinceMs: NOW - DAY - DAY - STORE_CLOCK_SKEW_MS,
      },
    ]);
    expect(plan.completed).toEqual({
      scannedBefore: '2025-08-01T00:00:00.000Z',
      scanStartedMs: NOW,
      lastFullSweepMs: NOW - 10 * DAY,
    });
  });

  it('with the watermark below the upper bound, reads the new range above it, then behind it what changed', () => {
    const state = { ...scanned, scannedBefore: '2025-10-14T12:00:00.000Z' };
    const plan = planSlice(input({ month: '2025-10', state }));
    expect(bounds(plan)).toEqual([
      { issuedFrom: '2025-10-14T12:00:00.000Z', issuedBefore: CUTOFF },
      {
        issuedFrom: '2025-10-01T00:00:00.000Z',
        issuedBefore: '2025-10-14T12:00:00.000Z',
        modifiedSinceMs: NOW - 2 * DAY - STORE_CLOCK_SKEW_MS,
      },
    ]);
    expect(plan.completed?.scannedBefore).toBe(CUTOFF);
  });

  it('with the watermark above the upper bound (a cutoff moved back), reads behind the upper bound only', () => {
    const state = { ...scanned, scannedBefore: '2025-10-20T00:00:00.000Z' };
    expect(bounds(planSlice(input({ month: '2025-10', state })))).toEqual([
      {
        issuedFrom: '2025-10-01T00:00:00.000Z',
        issuedBefore: CUTOFF,
        modifiedSinceMs: NOW - 2 * DAY - STORE_CLOCK_SKEW_MS,
      },
    ]);
  });

  it('sweeps whole again once the last full sweep is older than fullSweepEveryMs', () => {
    const due = { ...scanned, lastFullSweepMs: NOW - THIRTY_DAYS - 1 };
    const plan = planSlice(input({ state: due }));
    expect(plan.full).toBe(true);
    expect(bounds(plan)).toEqual([
      { issuedFrom: '2025-07-01T00:00:00.000Z', issuedBefore: '2025-08-01T00:00:00.000Z' },
    ]);
    expect(plan.completed?.lastFullSweepMs).toBe(NOW);
    expect(planSlice(input({ state: { ...scanned, lastFullSweepMs: NOW - THIRTY_DAYS } })).full).toBe(false);
    // A state from before full sweeps were recorded counts as never swept.
    const { lastFullSweepMs: _never, ...unswept } = scanned;
    expect(planSlice(input({ state: unswept })).full).toBe(true);
  });

  it('a pilot sweeps whole whatever the watermark, and leaves the watermark alone', () => {
    const plan = planSlice(input({ state: scanned, pilot: true, scope: { customerId: 'cust-b' } }));
    expect(plan.full).toBe(true);
    expect(bounds(plan)).toEqual([
      { issuedFrom: '2025-07-01T00:00:00.000Z', issuedBefore: '2025-08-01T00:00:00.000Z' },
    ]);
    expect(plan.completed).toBeUndefined();
  });

  it('names each range with the run scope, in the form checkpoints were always saved under', () => {
    expect(planSlice(input()).ranges[0]?.id).toBe(
      '{"issuedFrom":"2025-07-01T00:00:00.000Z","issuedBefore":"2025-08-01T00:00:00.000Z","customerId":null,"asOf":null}',
    );
    const pilot = planSlice(
      input({ pilot: true, scope: { customerId: 'cust-b', asOf: '2026-02-01T00:00:00Z' } }),
    );
    expect(JSON.parse(pilot.ranges[0]!.id)).toMatchObject({
      customerId: 'cust-b',
      asOf: '2026-02-01T00:00:00Z',
    });
    const behind = planSlice(input({ state: scanned })).ranges[0]!;
    expect(JSON.parse(behind.id)).toMatchObject({ modifiedSinceMs: behind.modifiedSinceMs });
  });

  it('resumes a checkpoint only in the range it was saved in', () => {
    const fresh = planSlice(input());
    const resumed = planSlice(input({ state: { checkpoint: { range: fresh.ranges[0]!.id, position } } }));
    expect(resumed.ranges[0]?.resumeAfter).toEqual(position);
    expect(resumed.completed).toEqual(fresh.completed);
    // A pilot's checkpoint is not an incremental run's, nor the other way round.
    const pilot = planSlice(
      input({
        pilot: true,
        scope: { customerId: 'cust-b' },
        state: { checkpoint: { range: fresh.ranges[0]!.id, position } },
      }),
    );
    expect(pilot.ranges[0]?.resumeAfter).toBeUndefined();
    // Saved before the cutoff moved: the range has other bounds now, so it starts over.
    const earlier = planSlice(input({ month: '2025-10', cutoff: '2025-10-15T11:00:00.000Z' }));
    const moved = planSlice(
      input({ month: '2025-10', state: { checkpoint: { range: earlier.ranges[0]!.id, position } } }),
    );
    expect(moved.ranges[0]?.resumeAfter).toBeUndefined();
  });

  it('resumes the range behind the watermark when it is the only one, never a second range', () => {
    const behind = planSlice(input({ state: scanned })).ranges[0]!;
    const resumed = planSlice(input({ state: { ...scanned, checkpoint: { range: behind.id, position } } }));
    expect(resumed.ranges[0]?.resumeAfter).toEqual(position);
    // Two ranges: the first one's scan replaces the checkpoint before the second starts.
    const state = { ...scanned, scannedBefore: '2025-10-14T12:00:00.000Z' };
    const second = planSlice(input({ month: '2025-10', state })).ranges[1]!;
    const both = planSlice(
      input({ month: '2025-10', state: { ...state, checkpoint: { range: second.id, position } } }),
    );
    expect(both.ranges.map((range) => range.resumeAfter)).toEqual([undefined, undefined]);
  });

  it('dates a resumed scan from the run that began it, so the next catch-up reads what it passed by', () => {
    const began = NOW - 2 * 3600_000;
    const first = planSlice(input({ nowMs: began }));
    expect(first.scanStartedMs).toBe(began);
    const checkpoint = { range: first.ranges[0]!.id, position, scanStartedMs: began };
    const resumed = planSlice(input({ state: { checkpoint } }));
    expect(resumed.ranges[0]?.resumeAfter).toEqual(position);
    expect(resumed.scanStartedMs).toBe(began);
    expect(resumed.completed).toMatchObject({ scanStartedMs: began, lastFullSweepMs: began });
    // Not resumed: the scan starts now.
    const other = { ...checkpoint, range: 'another range' };
    expect(planSlice(input({ state: { checkpoint: other } })).scanStartedMs).toBe(NOW);
  });

  it('dates a checkpoint saved without its scan start from the last completed scan (earlier), else now', () => {
    const behind = planSlice(input({ state: scanned })).ranges[0]!;
    const legacy = { range: behind.id, position };
    expect(planSlice(input({ state: { ...scanned, checkpoint: legacy } })).completed).toMatchObject({
      scanStartedMs: NOW - DAY,
    });
    const fresh = planSlice(input()).ranges[0]!;
    expect(
      planSlice(input({ state: { checkpoint: { range: fresh.id, position } } })).completed?.scanStartedMs,
    ).toBe(NOW);
  });

  it('settles a range without leaving a checkpoint of its scan, and a pilot without touching the rest', () => {
    const behind = planSlice(input({ state: scanned })).ranges[0]!;
    const incremental = { ...scanned, checkpoint: { range: behind.id, position } };
    expect(planSlice(input({ state: incremental })).settled).toEqual({ ...scanned, checkpoint: undefined });
    // A pilot finds an incremental run's checkpoint and leaves it; its own it clears.
    const pilot = { pilot: true, scope: { customerId: 'cust-b' } } as const;
    expect(planSlice(input({ ...pilot, state: incremental })).settled).toBe(incremental);
    const own = { ...scanned, checkpoint: { range: planSlice(input(pilot)).ranges[0]!.id, position } };
    expect(planSlice(input({ ...pilot, state: own })).settled).toEqual({ ...scanned, checkpoint: undefined });
  });

  it('measures the catch-up range from the last scan start, with the policy cool-down', () => {
    const plan = planSlice(
      input({
        state: { ...scanned, scanStartedMs: NOW - 30 * MINUTE },
        policy: policyOf('P3M', 'P7D', 'PT1H'),
      }),
    );
    expect(plan.ranges[0]?.modifiedSinceMs).toBe(NOW - 30 * MINUTE - 60 * MINUTE - STORE_CLOCK_SKEW_MS);
  });
});

describe('monthsBetween', () => {
  it('lists months inclusive, across a year end', () => {
    expect(monthsBetween('2024-11', '2025-02')).toEqual(['2024-11', '2024-12', '2025-01', '2025-02']);
    expect(monthsBetween('2025-03', '2025-03')).toEqual(['2025-03']);
    expect(monthsBetween('2025-04', '2025-03')).toEqual([]);
  });
});
