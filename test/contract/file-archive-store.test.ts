// The file archive (the embedded default) against the shared contract, then what only files can show:
// the layout on disk, the index beside it, restarts, and uploads cut short.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { FileArchiveStore } from '../../src/adapters/files/file-archive-store.ts';
import { type PutBlobRequest, withoutTier } from '../../src/ports/archive-store.ts';
import { describeArchiveStoreContract } from './archive-store.contract.ts';

describeArchiveStoreContract('files', () => {
  const folder = mkdtempSync(join(tmpdir(), 'file-archive-contract-'));
  const store = new FileArchiveStore({ folder });
  return Promise.resolve({
    store,
    dispose: async () => {
      await store.close();
      rmSync(folder, { recursive: true, force: true });
    },
  });
});

const blob = (path: string, text = JSON.stringify({ path })): PutBlobRequest => ({
  path,
  body: gzipSync(text),
  contentType: 'application/json',
  contentEncoding: 'gzip',
  metadata: { sha256: 'ab12', recordVersion: '1' },
  accessTier: 'Cold',
});

describe('FileArchiveStore on disk', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });
  const newFolder = (): string => {
    const folder = mkdtempSync(join(tmpdir(), 'file-archive-'));
    cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
    return folder;
  };
  const open = (folder: string): FileArchiveStore => {
    const store = new FileArchiveStore({ folder });
    cleanups.push(() => store.close());
    return store;
  };

  it('keeps each blob as a plain gzip file at its own path under blobs/', async () => {
    const folder = newFolder();
    const store = open(folder);
    const request = blob('2024/01/cust-1/inv-1/v3.json.gz', '{"id":"inv-1"}');
    await store.putIfAbsent(request);
    const file = join(folder, 'blobs', '2024', '01', 'cust-1', 'inv-1', 'v3.json.gz');
    expect(store.fileOf(request.path)).toBe(file);
    expect(gunzipSync(readFileSync(file)).toString()).toBe('{"id":"inv-1"}');
    // Nothing else beside it: the properties live in the index, and the upload's temporary file is gone.
    expect(readdirSync(join(folder, 'blobs', '2024', '01', 'cust-1', 'inv-1'))).toEqual(['v3.json.gz']);
    expect(readdirSync(join(folder, 'tmp'))).toEqual([]);
  });

  it('keeps blobs and properties across a close and a reopen of the folder', async () => {
    const folder = newFolder();
    const before = new FileArchiveStore({ folder });
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz');
    const created = await before.putIfAbsent(request);
    const touched = await before.touch(request.path, { ifMatch: created.etag });
    await before.close();

    const after = open(folder);
    const read = await after.get(request.path);
    expect(Buffer.from(read!.body).equals(Buffer.from(request.body))).toBe(true);
    expect(read?.properties).toEqual(withoutTier(touched!));
    await expect(after.putIfAbsent(request)).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
  });

  it('never serves bytes that differ from the recorded MD5 (ARCHIVE_INTEGRITY)', async () => {
    const folder = newFolder();
    const store = open(folder);
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz');
    await store.putIfAbsent(request);
    writeFileSync(store.fileOf(request.path), gzipSync('bit rot'));
    await expect(store.get(request.path)).rejects.toMatchObject({ code: 'ARCHIVE_INTEGRITY' });
  });

  it.each([
    ['a small blob on the event loop, before its next turn', 1_000, false, undefined],
    ['a large blob on the thread pool', 200_000, true, undefined],
    ['a small blob at low priority (an export) on the thread pool', 1_000, true, 'low' as const],
  ])('reads %s, byte for byte, and checks it', async (_what, bytes, afterATurn, priority) => {
    const store = open(newFolder());
    // Random text barely compresses: the gzip body is about as large as the text.
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz', randomBytes(bytes).toString('base64'));
    await store.putIfAbsent(request);
    let turned = false;
    setImmediate(() => (turned = true));
    const read = await store.get(request.path, priority !== undefined ? { priority } : {});
    expect(turned).toBe(afterATurn);
    expect(Buffer.from(read!.body).equals(Buffer.from(request.body))).toBe(true);
    writeFileSync(store.fileOf(request.path), Buffer.from(request.body).subarray(1));
    await expect(store.get(request.path)).rejects.toMatchObject({ code: 'ARCHIVE_INTEGRITY' });
  });

  it.each([
    ['cut short', (body: Buffer) => body.subarray(0, body.length - 1)],
    ['grown', (body: Buffer) => Buffer.concat([body, Buffer.from('tail')])],
  ])('never serves a file %s since its upload (ARCHIVE_INTEGRITY)', async (_what, change) => {
    const folder = newFolder();
    const store = open(folder);
    const request = blob('2024/01/cust-1/inv-1/v1.json.gz');
    await store.putIfAbsent(request);
    writeFileSync(store.fileOf(request.path), change(Buffer.from(request.body)));
    await expect(store.get(request.path)).rejects.toMatchObject({ code: 'ARCHIVE_INTEGRITY' });
  });

  it('ignores a file without an index row (a crash before its commit) and replaces it on upload', async () => {
    const folder = newFolder();
    const store = open(folder);
    const request = blob('2024/01/cust-1/inv-2/v1.json.gz');
    // What a crash between the rename and the commit leaves: the file, but no row.
    await store.putIfAbsent(blob('2024/01/cust-1/inv-2/v0.json.gz'));
    writeFileSync(join(folder, 'blobs', '2024', '01', 'cust-1', 'inv-2', 'v1.json.gz'), 'half an upload');
    expect(await store.get(request.path)).toBeUndefined();
    expect((await store.list('2024/01/cust-1/inv-2/', { pageSize: 10 })).items.map((i) => i.path)).toEqual([
      '2024/01/cust-1/inv-2/v0.json.gz',
    ]);
    await store.putIfAbsent(request);
    expect(Buffer.from((await store.get(request.path))!.body).equals(Buffer.from(request.body))).toBe(true);
  });

  it('removes the file of a deleted blob, and the temporary files of dead processes when it opens', async () => {
    const folder = newFolder();
    const store = open(folder);
    const created = await store.putIfAbsent(blob('a/b.json.gz'));
    expect(await store.delete(created.path, { ifMatch: created.etag })).toBe(true);
    expect(existsSync(store.fileOf(created.path))).toBe(false);
    // An upload cut short by a process that no longer runs (pid 2^22 + 1 is above Linux's pid limit).
    const dead = join(folder, 'tmp', `${2 ** 22 + 1}-0123456789abcdef.tmp`);
    const live = join(folder, 'tmp', `${process.ppid}-0123456789abcdef.tmp`);
    writeFileSync(dead, 'half');
    writeFileSync(live, 'in flight');
    open(folder);
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('commits writes issued together, and answers each its own outcome', async () => {
    const store = open(newFolder());
    const paths = Array.from({ length: 20 }, (_, i) => `2024/02/c/r-${i}/v1.json.gz`);
    const outcomes = await Promise.allSettled([
      ...paths.map((path) => store.putIfAbsent(blob(path))),
      store.putIfAbsent(blob(paths[0]!)),
    ]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(20);
    expect(
      outcomes.filter((o) => o.status === 'rejected').map((o) => (o.reason as { code: string }).code),
    ).toEqual(['ALREADY_EXISTS']);
    expect((await store.list('2024/02/', { pageSize: 100 })).items).toHaveLength(20);
  });

  it('refuses names a folder of files cannot hold, and stores nothing', async () => {
    const store = open(newFolder());
    for (const path of ['', '/abs', 'a//b', 'a/../b', './a', 'a\\b']) {
      await expect(store.putIfAbsent(blob(path))).rejects.toMatchObject({ code: 'INTERNAL' });
    }
    await store.putIfAbsent(blob('x/y'));
    // A blob named like a folder of other blobs: Blob allows it, files cannot.
    await expect(store.putIfAbsent(blob('x'))).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(await store.getProperties('x')).toBeUndefined();
    expect((await store.list('', { pageSize: 10 })).items.map((item) => item.path)).toEqual(['x/y']);
  });
});
