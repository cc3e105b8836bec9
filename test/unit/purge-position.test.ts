// How far the purge moves its saved position page by page, entries moved back included (purge-position.ts).
import { describe, expect, it } from 'vitest';
import {
  advancePosition,
  type PurgedItem,
  type PurgePass,
  positionHorizon,
  settledHistoryDue,
} from '../../src/archival/purge-position.ts';
import type { LedgerEntry, LedgerPosition } from '../../src/ports/archive-ledger.ts';
import { makeLedgerEntry } from '../contract/archive-ledger.contract.ts';

const FIRST_READ = new Date('2026-01-15T12:00:00.000Z');
const LATER_READ = new Date('2026-01-15T12:00:05.000Z');
const MOVED = settledHistoryDue(FIRST_READ);
const AHEAD = '2026-02-15T12:00:00.000Z'; // a run as of a month ahead, grace 0

const entry = (id: string, purgeAfter: string): LedgerEntry =>
  makeLedgerEntry({ customerId: 'cust-a', id }, { purgeAfter });
const at = (id: string, purgeAfter: string): LedgerPosition => ({ purgeAfter, customerId: 'cust-a', id });

/** An entry as the page read it: settled or not, and moved back (to MOVED) or not. */
function item(id: string, purgeAfter: string, settled: boolean, moved = false): PurgedItem {
  return { read: entry(id, purgeAfter), at: at(id, moved ? MOVED : purgeAfter), settled };
}

const fresh: PurgePass = { through: undefined, stop: undefined };

describe('settledHistoryDue', () => {
  it('lies before the horizon of the first page and of every later one', () => {
    expect(MOVED).toBe('2026-01-15T11:59:59.999Z');
    expect(MOVED < positionHorizon(FIRST_READ)).toBe(true);
    expect(MOVED < positionHorizon(LATER_READ)).toBe(true);
  });
});

describe('advancePosition', () => {
  it('passes settled entries due before the horizon, in order, up to the last', () => {
    const pass = advancePosition(
      fresh,
      [item('b', '2026-01-10T00:00:00.000Z', true), item('a', '2026-01-09T00:00:00.000Z', true)],
      positionHorizon(FIRST_READ),
    );
    expect(pass).toEqual({ through: at('b', '2026-01-10T00:00:00.000Z'), stop: undefined });
  });

  it('stops before an unsettled entry and before one due at or after the horizon, for the rest of the pass', () => {
    const horizon = positionHorizon(FIRST_READ);
    const pass = advancePosition(
      fresh,
      [
        item('a', '2026-01-09T00:00:00.000Z', true),
        item('b', '2026-01-10T00:00:00.000Z', false),
        item('c', '2026-01-11T00:00:00.000Z', true),
      ],
      horizon,
    );
    expect(pass.through).toEqual(at('a', '2026-01-09T00:00:00.000Z'));
    // Equal instants do not count: due the instant the page was read, it could still have a neighbour.
    const equal = advancePosition(fresh, [item('a', horizon, true)], horizon);
    expect(equal.through).toBeUndefined();
    // A later page with nothing unsettled moves it no further than the stop.
    const later = advancePosition(
      pass,
      [item('d', '2026-01-12T00:00:00.000Z', true)],
      positionHorizon(LATER_READ),
    );
    expect(later.through).toEqual(pass.through);
  });

  it('passes entries the purge moved back from a later instant, even on pages after one that reached its horizon', () => {
    const first = advancePosition(
      fresh,
      [item('a', '2026-01-09T00:00:00.000Z', true), item('m', AHEAD, true, true)],
      positionHorizon(FIRST_READ),
    );
    expect(first.through).toEqual(at('m', MOVED));
    // The first page's range reached its horizon: a copy written after its read may appear there, so
    // no entry read after it passes where it was read, but the entries moved back do.
    expect(first.stop).toEqual({ purgeAfter: positionHorizon(FIRST_READ), customerId: '', id: '' });
    const second = advancePosition(
      first,
      [item('n', AHEAD, true, true), item('z', AHEAD, true, false)],
      positionHorizon(LATER_READ),
    );
    expect(second.through).toEqual(at('n', MOVED));
  });

  it('does not pass a moved entry behind an unsettled one', () => {
    const pass = advancePosition(
      fresh,
      [item('a', '2026-01-09T00:00:00.000Z', false), item('m', AHEAD, true, true)],
      positionHorizon(FIRST_READ),
    );
    expect(pass.through).toBeUndefined();
  });

  it('never moves back: an entry moved at or behind the saved position reads as history already', () => {
    const saved: PurgePass = { through: at('x', MOVED), stop: undefined };
    const pass = advancePosition(saved, [item('b', AHEAD, true, true)], positionHorizon(LATER_READ));
    expect(pass.through).toBe(saved.through);
  });
});
