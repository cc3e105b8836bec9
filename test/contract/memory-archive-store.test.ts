import { describe, expect, it } from 'vitest';
import { MemoryArchiveStore } from '../fakes/memory-archive-store.ts';
import { ManualClock } from '../fakes/manual-clock.ts';
import { describeArchiveStoreContract } from './archive-store.contract.ts';

describeArchiveStoreContract('memory', () => {
  const store = new MemoryArchiveStore();
  return Promise.resolve({ store, dispose: () => store.close() });
});

describe('MemoryArchiveStore', () => {
  const put = (path: string) => ({
    path,
    body: new Uint8Array([1, 2, 3]),
    contentType: 'application/octet-stream',
    metadata: {},
    accessTier: 'Cold' as const,
  });

  it('stamps createdOn from the injected clock and hands out distinct etags', async () => {
    const clock = new ManualClock('2025-03-01T00:00:00.000Z');
    const store = new MemoryArchiveStore({ clock });
    const first = await store.putIfAbsent(put('a'));
    clock.advance(1_000);
    const second = await store.putIfAbsent(put('b'));
    expect(first.createdOn.toISOString()).toBe('2025-03-01T00:00:00.000Z');
    expect(second.createdOn.toISOString()).toBe('2025-03-01T00:00:01.000Z');
    expect(second.etag).not.toBe(first.etag);
    expect(store.paths()).toEqual(['a', 'b']);
  });

  it('stamps lastModified of a touch from the injected clock and keeps createdOn', async () => {
    const clock = new ManualClock('2025-03-01T00:00:00.000Z');
    const store = new MemoryArchiveStore({ clock });
    const created = await store.putIfAbsent(put('a'));
    expect(created.lastModified.toISOString()).toBe('2025-03-01T00:00:00.000Z');
    clock.advance(5_000);
    const touched = await store.touch('a', { ifMatch: created.etag });
    expect(touched?.createdOn.toISOString()).toBe('2025-03-01T00:00:00.000Z');
    expect(touched?.lastModified.toISOString()).toBe('2025-03-01T00:00:05.000Z');
  });

  it('keeps its own copy of the bytes, apart from what callers hold', async () => {
    const store = new MemoryArchiveStore();
    const request = put('copied');
    await store.putIfAbsent(request);
    request.body[0] = 99;
    const read = await store.get('copied');
    read!.body[1] = 99;
    expect([...(await store.get('copied'))!.body]).toEqual([1, 2, 3]);
  });

  it('answers UNAVAILABLE once closed', async () => {
    const store = new MemoryArchiveStore();
    await store.close();
    await expect(store.ping()).rejects.toMatchObject({ code: 'UNAVAILABLE', retryable: false });
    await expect(store.get('a')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});
