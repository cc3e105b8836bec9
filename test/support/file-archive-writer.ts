// A process that writes to a file archive until it is killed: `node file-archive-writer.ts <folder>
// <first>`. Eight writers upload blobs first, first+1, ... (bodies from `blobBody`, up to 300 KB), and
// delete every fifth one they uploaded; each line on stdout is an acknowledged write: `put <n>` or
// `deleted <n>`. The crash test SIGKILLs it mid-stream and checks what the folder holds.
import { gzipSync } from 'node:zlib';
import { FileArchiveStore } from '../../src/adapters/files/file-archive-store.ts';
import type { PutBlobRequest } from '../../src/ports/archive-store.ts';

export function blobPath(n: number): string {
  return `2025/0${1 + (n % 9)}/cust-${n % 7}/rec-${n}/v1.json.gz`;
}

/** Deterministic bytes of blob n: from 1 KB to about 300 KB, so a kill often lands inside a write. */
export function blobBody(n: number): Buffer {
  const size = 1_000 + ((n * 7_919) % 300_000);
  return gzipSync(JSON.stringify({ n, filler: 'x'.repeat(size) }), { level: 1 });
}

/** The writer deletes every fifth blob it uploads, right after the upload is acknowledged. */
export function deletedByWriter(n: number): boolean {
  return n % 5 === 0;
}

export function blobRequest(n: number): PutBlobRequest {
  return {
    path: blobPath(n),
    body: blobBody(n),
    contentType: 'application/json',
    contentEncoding: 'gzip',
    metadata: { recordVersion: '1' },
    accessTier: 'Cold',
  };
}

if (import.meta.main) {
  const [folder, first] = process.argv.slice(2);
  if (folder === undefined || first === undefined)
    throw new Error('usage: file-archive-writer <folder> <first>');
  const store = new FileArchiveStore({ folder });
  let next = Number(first);
  const writer = async (): Promise<void> => {
    for (;;) {
      const n = next++;
      const created = await store.putIfAbsent(blobRequest(n));
      process.stdout.write(`put ${n}\n`);
      if (deletedByWriter(n) && (await store.delete(created.path, { ifMatch: created.etag }))) {
        process.stdout.write(`deleted ${n}\n`);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, writer));
}
