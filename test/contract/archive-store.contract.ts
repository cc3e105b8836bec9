// The behaviour every ArchiveStore adapter must share: create-only uploads with a checked MD5, stored
// bytes returned as stored, conditional delete and touch, paged listing. Each adapter's test file calls this.
import { createHash } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ErrorCode, hasCode } from '../../src/domain/errors.ts';
import {
  type ArchiveStore,
  type BlobProperties,
  type PutBlobRequest,
  withoutTier,
} from '../../src/ports/archive-store.ts';

export interface ArchiveStoreHarness {
  readonly store: ArchiveStore;
  /** Stops whatever the harness started. */
  dispose(): Promise<void>;
}

async function expectCode(promise: Promise<unknown>, code: ErrorCode): Promise<void> {
  await expect(promise).rejects.toSatisfy((error: unknown) => hasCode(error, code));
}

function md5Base64(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

export function describeArchiveStoreContract(name: string, start: () => Promise<ArchiveStoreHarness>): void {
  describe(`ArchiveStore contract: ${name}`, () => {
    let harness: ArchiveStoreHarness;
    let store: ArchiveStore;
    let prefixSeq = 0;
    // Every test writes under its own prefix, so tests sharing one store never see each other's blobs.
    const newPrefix = (): string => `t${++prefixSeq}-${process.pid}/`;

    const request = (path: string, overrides: Partial<PutBlobRequest> = {}): PutBlobRequest => {
      const json = JSON.stringify({ path, note: 'a billing record, archived' });
      return {
        path,
        body: gzipSync(json),
        contentType: 'application/json',
        contentEncoding: 'gzip',
        metadata: {
          sha256: createHash('sha256').update(json).digest('hex'),
          recordVersion: '3',
          schemaVersion: '2',
        },
        accessTier: 'Cold',
        ...overrides,
      };
    };

    beforeAll(async () => {
      harness = await start();
      store = harness.store;
    });
    afterAll(async () => {
      await harness?.dispose();
    });

    it('stores create-only and reads back the exact bytes (not decoded) and properties', async () => {
      const put = request(`${newPrefix()}2024/05/cust-42/inv-1/v3.json.gz`);
      const created = await store.putIfAbsent(put);
      const expected: Omit<BlobProperties, 'etag' | 'createdOn' | 'lastModified'> = {
        path: put.path,
        size: put.body.byteLength,
        contentMd5: md5Base64(put.body),
        contentType: 'application/json',
        contentEncoding: 'gzip',
        // Metadata names are case-insensitive in Blob Storage; every adapter answers them in lower case.
        metadata: { sha256: put.metadata.sha256!, recordversion: '3', schemaversion: '2' },
        accessTier: 'Cold',
      };
      expect(created).toMatchObject(expected);
      expect(created.etag).toMatch(/^".+"$/);
      expect(created.createdOn).toBeInstanceOf(Date);
      expect(created.lastModified).toBeInstanceOf(Date);
      expect(created.lastModified.getTime()).toBeGreaterThanOrEqual(created.createdOn.getTime());

      const read = await store.get(put.path);
      expect(read?.body).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(read!.body).equals(Buffer.from(put.body))).toBe(true);
      expect(gunzipSync(read!.body).toString()).toContain('a billing record');
      expect(read?.properties).toEqual(withoutTier(created));
      expect(await store.getProperties(put.path)).toEqual(created);
    });

    it('keeps an absent content encoding absent', async () => {
      const put = request(`${newPrefix()}plain.json`, { body: Buffer.from('{"a":1}'), metadata: {} });
      const { contentEncoding: _, ...withoutEncoding } = put;
      const created = await store.putIfAbsent(withoutEncoding);
      expect(created.contentEncoding).toBeUndefined();
      expect((await store.getProperties(put.path))?.contentEncoding).toBeUndefined();
      expect((await store.get(put.path))?.properties.metadata).toEqual({});
    });

    it('refuses a second upload to the same path (ALREADY_EXISTS) and keeps the first', async () => {
      const path = `${newPrefix()}v1.json.gz`;
      const first = await store.putIfAbsent(request(path));
      const second = request(path, {
        body: gzipSync('something else'),
        accessTier: 'Hot',
      });
      await expectCode(store.putIfAbsent(second), 'ALREADY_EXISTS');
      const read = await store.get(path);
      expect(read?.properties).toEqual(withoutTier(first));
      expect(read?.properties.contentMd5).toBe(md5Base64(request(path).body));
    });

    it('answers undefined for an absent blob', async () => {
      const path = `${newPrefix()}absent.json.gz`;
      expect(await store.get(path)).toBeUndefined();
      expect(await store.getProperties(path)).toBeUndefined();
    });

    it('refuses metadata names Blob Storage would refuse, and stores nothing', async () => {
      const path = `${newPrefix()}bad-metadata.json.gz`;
      await expectCode(store.putIfAbsent(request(path, { metadata: { 'record-version': '3' } })), 'INTERNAL');
      expect(await store.getProperties(path)).toBeUndefined();
    });

    it('deletes on the current etag, refuses a stale one and keeps the blob', async () => {
      const path = `${newPrefix()}v2.json.gz`;
      const first = await store.putIfAbsent(request(path));
      expect(await store.delete(path, { ifMatch: first.etag })).toBe(true);
      // The same path written again is a new blob with a new etag; the old etag is now stale.
      const second = await store.putIfAbsent(request(path, { body: gzipSync('second') }));
      expect(second.etag).not.toBe(first.etag);
      await expectCode(store.delete(path, { ifMatch: first.etag }), 'PRECONDITION_FAILED');
      expect((await store.getProperties(path))?.etag).toBe(second.etag);
      expect(await store.delete(path, { ifMatch: second.etag })).toBe(true);
      expect(await store.get(path)).toBeUndefined();
    });

    it('answers false when deleting an absent blob, with or without a condition', async () => {
      const path = `${newPrefix()}gone.json.gz`;
      expect(await store.delete(path, {})).toBe(false);
      const created = await store.putIfAbsent(request(path));
      expect(await store.delete(path, {})).toBe(true);
      expect(await store.delete(path, {})).toBe(false);
      expect(await store.delete(path, { ifMatch: created.etag })).toBe(false);
    });

    it('touches on the current etag: a new etag, lastModified not earlier, nothing else changed', async () => {
      const path = `${newPrefix()}touched.json.gz`;
      const put = request(path);
      const created = await store.putIfAbsent(put);
      const touched = await store.touch(path, { ifMatch: created.etag });
      expect(touched?.etag).toMatch(/^".+"$/);
      expect(touched?.etag).not.toBe(created.etag);
      // Blob Storage keeps Last-Modified to the second, so a touch within the same second keeps it.
      expect(touched!.lastModified.getTime()).toBeGreaterThanOrEqual(created.lastModified.getTime());
      const { etag: _etag, lastModified: _lastModified, ...unchanged } = created;
      expect(touched).toMatchObject(unchanged);
      expect(await store.getProperties(path)).toEqual(touched);
      const read = await store.get(path);
      expect(Buffer.from(read!.body).equals(Buffer.from(put.body))).toBe(true);
      // Touched again on the new etag: every touch moves the etag on.
      const again = await store.touch(path, { ifMatch: touched!.etag });
      expect(again?.etag).not.toBe(touched?.etag);
      expect(again?.etag).not.toBe(created.etag);
    });

    it('refuses a touch on a stale etag (PRECONDITION_FAILED) and leaves the blob as it was', async () => {
      const path = `${newPrefix()}stale-touch.json.gz`;
      const created = await store.putIfAbsent(request(path));
      const touched = await store.touch(path, { ifMatch: created.etag });
      await expectCode(store.touch(path, { ifMatch: created.etag }), 'PRECONDITION_FAILED');
      expect(await store.getProperties(path)).toEqual(touched);
    });

    it('answers undefined when touching an absent blob, and creates nothing', async () => {
      const path = `${newPrefix()}never.json.gz`;
      const elsewhere = await store.putIfAbsent(request(`${newPrefix()}other.json.gz`));
      expect(await store.touch(path, { ifMatch: elsewhere.etag })).toBeUndefined();
      expect(await store.getProperties(path)).toBeUndefined();
      // A deleted blob is absent too, whatever etag the caller still holds.
      expect(await store.delete(elsewhere.path, {})).toBe(true);
      expect(await store.touch(elsewhere.path, { ifMatch: elsewhere.etag })).toBeUndefined();
    });

    it('makes a delete conditioned on the pre-touch etag fail, and one on the new etag succeed', async () => {
      // The collector deletes on the etag it saw; the archiver touches a blob it re-uses: one loses.
      const path = `${newPrefix()}raced.json.gz`;
      const seenByCollector = await store.putIfAbsent(request(path));
      const touched = await store.touch(path, { ifMatch: seenByCollector.etag });
      await expectCode(store.delete(path, { ifMatch: seenByCollector.etag }), 'PRECONDITION_FAILED');
      expect(await store.getProperties(path)).toEqual(touched);
      expect(await store.delete(path, { ifMatch: touched!.etag })).toBe(true);
      expect(await store.getProperties(path)).toBeUndefined();
    });

    it('refuses a touch after a delete-and-recreate at the same path (the old etag is stale)', async () => {
      const path = `${newPrefix()}recreated.json.gz`;
      const first = await store.putIfAbsent(request(path));
      expect(await store.delete(path, { ifMatch: first.etag })).toBe(true);
      const second = await store.putIfAbsent(request(path, { body: gzipSync('second') }));
      await expectCode(store.touch(path, { ifMatch: first.etag }), 'PRECONDITION_FAILED');
      expect((await store.getProperties(path))?.etag).toBe(second.etag);
    });

    it('lists one prefix in path order, paging with continuation without gaps or repeats', async () => {
      const prefix = newPrefix();
      const paths = [
        '2024/05/c-1/r-2/v1.json.gz',
        '2024/05/c-1/r-1/v1.json.gz',
        '2024/05/c-1/r-1/v2.json.gz',
      ];
      for (let i = 0; i < 5; i++) paths.push(`2024/05/c-2/r-${i}/v1.json.gz`);
      for (const path of paths) await store.putIfAbsent(request(`${prefix}${path}`));
      // Neighbours that share the text but not the prefix, or sit beside it.
      await store.putIfAbsent(request(`${prefix}2024/055/c-1/r-1/v1.json.gz`));
      await store.putIfAbsent(request(`${prefix}2024/04/c-1/r-1/v1.json.gz`));

      const listPrefix = `${prefix}2024/05/`;
      const seen: BlobProperties[] = [];
      let continuation: string | undefined;
      let pages = 0;
      do {
        const page = await store.list(listPrefix, {
          pageSize: 3,
          ...(continuation !== undefined ? { continuation } : {}),
        });
        expect(page.items.length).toBeLessThanOrEqual(3);
        seen.push(...page.items);
        continuation = page.continuation;
        pages++;
      } while (continuation !== undefined && pages < 10);

      expect(continuation).toBeUndefined();
      expect(pages).toBeGreaterThanOrEqual(3);
      expect(seen.map((item) => item.path)).toEqual(paths.map((path) => `${prefix}${path}`).sort());
      // A listed item carries the same properties a point read answers.
      const one = seen[0]!;
      expect(one).toEqual(await store.getProperties(one.path));
    });

    it('does not repeat a blob when one is added behind the continuation', async () => {
      const prefix = newPrefix();
      for (const name of ['b', 'd', 'f', 'h']) await store.putIfAbsent(request(`${prefix}${name}`));
      const first = await store.list(prefix, { pageSize: 2 });
      expect(first.items.map((item) => item.path)).toEqual([`${prefix}b`, `${prefix}d`]);
      await store.putIfAbsent(request(`${prefix}a`));
      const second = await store.list(prefix, { pageSize: 2, continuation: first.continuation! });
      expect(second.items.map((item) => item.path)).toEqual([`${prefix}f`, `${prefix}h`]);
      expect(second.continuation).toBeUndefined();
    });

    it('lists nothing under an empty prefix and refuses a page size below one', async () => {
      const prefix = newPrefix();
      expect(await store.list(prefix, { pageSize: 10 })).toEqual({ items: [], continuation: undefined });
      await expectCode(store.list(prefix, { pageSize: 0 }), 'INTERNAL');
    });

    it('rejects with the caller’s reason when the signal is already aborted', async () => {
      const reason = new Error('caller gave up');
      const abortSignal = AbortSignal.abort(reason);
      await expect(store.get(`${newPrefix()}x`, { abortSignal })).rejects.toBe(reason);
      await expect(store.putIfAbsent(request(`${newPrefix()}x`), { abortSignal })).rejects.toBe(reason);
      await expect(store.touch(`${newPrefix()}x`, { ifMatch: '"0x1"' }, { abortSignal })).rejects.toBe(
        reason,
      );
    });

    it('answers ping', async () => {
      await expect(store.ping()).resolves.toBeUndefined();
    });
  });
}
