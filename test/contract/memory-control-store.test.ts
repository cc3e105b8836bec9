import { describe, expect, it } from 'vitest';
import { MemoryControlStore } from '../fakes/memory-control-store.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { describeControlStoreContract } from './archival-control-store.contract.ts';

describeControlStoreContract(
  'memory',
  () => {
    const clock = new ManualClock();
    const store = new MemoryControlStore(clock);
    return Promise.resolve({
      store,
      advanceClock: (ms: number) => clock.advance(ms),
      dispose: () => store.close(),
    });
  },
  { ownsClock: true },
);

describe('MemoryControlStore', () => {
  it('keeps its own copy of a value, apart from what callers hold', async () => {
    const store = new MemoryControlStore(new ManualClock());
    const value = { counts: [1, 2] };
    await store.write('doc', value, {});
    value.counts.push(3);
    const read = await store.read<{ counts: number[] }>('doc');
    read!.value.counts.push(4);
    expect((await store.read('doc'))?.value).toEqual({ counts: [1, 2] });
  });

  it('refuses a value that is not JSON (INTERNAL) and stores nothing', async () => {
    const store = new MemoryControlStore(new ManualClock());
    await expect(store.write('doc', undefined, {})).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await store.list('')).toEqual([]);
  });

  it('answers UNAVAILABLE once closed', async () => {
    const store = new MemoryControlStore(new ManualClock());
    await store.close();
    await expect(store.read('doc')).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    await expect(store.acquireLease('doc', 15)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
