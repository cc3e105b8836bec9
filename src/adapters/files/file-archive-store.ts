// The archive on the local file system, the embedded default: each blob is a plain file at its own
// path (`{yyyy}/{mm}/{customerId}/{recordId}/v{version}.json.gz`, readable with any gzip tool) under
// `blobs/`, and its properties (etag, MD5, metadata, times) are rows of a small SQLite index
// beside it. The index, not a sidecar per blob: conditional delete and touch need an atomic
// compare-and-set that also holds across processes (the server and the CLI share the folder), and a
// paged listing by prefix over 2 million blobs needs a range scan, not a walk of 2 million folders.
//
// Durability: the body goes to a temporary file (fsync), is renamed to its path, the folder is fsynced,
// and only then does the index row commit (one commit for every write in flight: group commit). A row is
// the blob; a file without a row (a crash between rename and commit) is never served or listed and is
// replaced by the next upload to its path. Every rename, and every unlink of a deleted blob's file,
// happens under the index's write lock, so no other process can slip a file in between.
import { createHash, randomBytes } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  renameSync,
  rmSync,
  unlinkSync,
} from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import type { DatabaseSync, StatementSync } from 'node:sqlite';
import { dirname, join, sep } from 'node:path';
import { AppError } from '../../domain/errors.ts';
import type {
  AccessTier,
  ArchiveStore,
  BlobContent,
  BlobListPage,
  BlobProperties,
  PutBlobRequest,
} from '../../ports/archive-store.ts';
import { withoutTier } from '../../ports/archive-store.ts';
import type { Clock } from '../../ports/clock.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { openSqliteDatabase } from '../sqlite/sqlite-database.ts';

export interface FileArchiveStoreOptions {
  /** The archive's folder: `blobs/` (the bodies), `index.sqlite`, `tmp/` (uploads in flight). */
  readonly folder: string;
  /** Stamps `createdOn` and `lastModified`; the wall clock by default. */
  readonly clock?: Pick<Clock, 'now'>;
}

/** As Azure: at most 5000 blobs per page. */
const MAX_PAGE_SIZE = 5_000;
const MAX_PATH_LENGTH = 1_024;
const MAX_SEGMENT_BYTES = 255;
/** A read that finds its file changed under it (a concurrent delete or re-create) looks again this often. */
const READ_ATTEMPTS = 3;
// Blob Storage's input rules, so the embedded default refuses what production would.
const METADATA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS blobs (
  path             TEXT PRIMARY KEY,
  size             INTEGER NOT NULL,
  content_md5      TEXT NOT NULL,
  content_type     TEXT NOT NULL,
  content_encoding TEXT,
  metadata         TEXT NOT NULL,
  access_tier      TEXT NOT NULL,
  etag             TEXT NOT NULL,
  created_ms       INTEGER NOT NULL,
  modified_ms      INTEGER NOT NULL
) WITHOUT ROWID;
`;
const COLUMNS =
  'path, size, content_md5, content_type, content_encoding, metadata, access_tier, etag, created_ms, modified_ms';

interface Row {
  path: string;
  size: number;
  content_md5: string;
  content_type: string;
  content_encoding: string | null;
  metadata: string;
  access_tier: string;
  etag: string;
  created_ms: number;
  modified_ms: number;
}

interface Pending<T> {
  resolve(value: T): void;
  reject(error: unknown): void;
}

type Mutation =
  | (Pending<BlobProperties> & { kind: 'put'; request: PutBlobRequest; md5: string; temp: string })
  | (Pending<boolean> & { kind: 'delete'; path: string; ifMatch: string | undefined })
  | (Pending<BlobProperties | undefined> & { kind: 'touch'; path: string; ifMatch: string });

export class FileArchiveStore implements ArchiveStore {
  readonly #blobs: string;
  readonly #tmp: string;
  readonly #clock: Pick<Clock, 'now'>;
  /** Mutations commit through this connection only, one batch at a time. */
  readonly #writer: DatabaseSync;
  /** Reads see committed rows only, never a batch in flight. */
  readonly #reader: DatabaseSync;
  readonly #write: Record<'exists' | 'etag' | 'insert' | 'delete' | 'touch', StatementSync>;
  readonly #read: Record<'row' | 'page', StatementSync>;
  #queue: Mutation[] = [];
  #flushing: Promise<void> | undefined;
  #closed = false;

  constructor(options: FileArchiveStoreOptions) {
    this.#blobs = join(options.folder, 'blobs');
    this.#tmp = join(options.folder, 'tmp');
    this.#clock = options.clock ?? { now: () => new Date() };
    mkdirSync(this.#blobs, { recursive: true });
    mkdirSync(this.#tmp, { recursive: true });
    removeDeadUploads(this.#tmp);
    const indexPath = join(options.folder, 'index.sqlite');
    this.#writer = openSqliteDatabase(indexPath);
    this.#writer.exec(SCHEMA);
    this.#reader = openSqliteDatabase(indexPath);
    this.#write = {
      exists: this.#writer.prepare('SELECT 1 AS found FROM blobs WHERE path = ?'),
      etag: this.#writer.prepare('SELECT etag FROM blobs WHERE path = ?'),
      insert: this.#writer.prepare(`INSERT INTO blobs (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      delete: this.#writer.prepare('DELETE FROM blobs WHERE path = ?'),
      touch: this.#writer.prepare(
        `UPDATE blobs SET etag = ?, modified_ms = ? WHERE path = ? RETURNING ${COLUMNS}`,
      ),
    };
    this.#read = {
      row: this.#reader.prepare(`SELECT ${COLUMNS} FROM blobs WHERE path = ?`),
      // Keyset paging in the names' UTF-8 byte order (SQLite's BINARY collation), as Blob lists.
      page: this.#reader.prepare(
        `SELECT ${COLUMNS} FROM blobs WHERE path >= ? AND path < ? AND path > ? ORDER BY path LIMIT ?`,
      ),
    };
  }

  /** The file that holds a blob's bytes (for operators and data tools; reads go through `get`). */
  fileOf(path: string): string {
    return join(this.#blobs, ...path.split('/'));
  }

  putIfAbsent(request: PutBlobRequest, options?: OperationOptions): Promise<BlobProperties> {
    return this.#guard(options, `upload ${request.path}`, async () => {
      checkPath(request.path);
      checkMetadata(request.metadata);
      if (this.#read.row.get(request.path) !== undefined) {
        throw new AppError('ALREADY_EXISTS', `Blob ${request.path} already exists`);
      }
      const md5 = createHash('md5').update(request.body).digest('base64');
      const file = this.fileOf(request.path);
      const temp = join(this.#tmp, `${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
      try {
        // The body is complete on disk before it gets its name: no half-written blob is ever visible.
        await writeDurably(temp, request.body);
        await makeFolders(dirname(file));
        return await this.#enqueue<BlobProperties>((pending) => ({
          kind: 'put',
          request,
          md5,
          temp,
          ...pending,
        }));
      } finally {
        await rm(temp, { force: true });
      }
    });
  }

  get(path: string, options?: OperationOptions): Promise<BlobContent | undefined> {
    return this.#guard(options, `read ${path}`, async () => {
      let mismatch = '';
      for (let attempt = 1; attempt <= READ_ATTEMPTS; attempt++) {
        const row = this.#row(path);
        if (row === undefined) return undefined;
        let body: Buffer;
        try {
          // On the pool, the file is read whole: a longer or shorter one fails the MD5 check all the same.
          const file = this.fileOf(path);
          body = readsInline(row.size, options) ? readExpectingSync(file, row.size) : await readFile(file);
        } catch (error) {
          // Deleted between the row and the file: look at the row again.
          if (errnoOf(error) === 'ENOENT') continue;
          throw error;
        }
        const md5 = createHash('md5').update(body).digest('base64');
        if (md5 === row.content_md5) {
          return {
            body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
            properties: toRead(row),
          };
        }
        // Re-created under the same name since the row was read, or damaged: only the latter stays so.
        if (this.#row(path)?.etag === row.etag) {
          mismatch = `Blob ${path} has MD5 ${md5}; the index recorded ${row.content_md5}`;
          break;
        }
      }
      if (mismatch !== '') throw new AppError('ARCHIVE_INTEGRITY', mismatch);
      return this.#row(path) === undefined
        ? undefined
        : Promise.reject(new AppError('UNAVAILABLE', `Blob ${path} kept changing while it was read`));
    });
  }

  getProperties(path: string, options?: OperationOptions): Promise<BlobProperties | undefined> {
    return this.#guard(options, `read properties of ${path}`, () => {
      const row = this.#row(path);
      return Promise.resolve(row === undefined ? undefined : toProperties(row));
    });
  }

  delete(
    path: string,
    condition: { readonly ifMatch?: string },
    options?: OperationOptions,
  ): Promise<boolean> {
    return this.#guard(options, `delete ${path}`, () =>
      this.#enqueue<boolean>((pending) => ({ kind: 'delete', path, ifMatch: condition.ifMatch, ...pending })),
    );
  }

  touch(
    path: string,
    condition: { readonly ifMatch: string },
    options?: OperationOptions,
  ): Promise<BlobProperties | undefined> {
    return this.#guard(options, `touch ${path}`, () =>
      this.#enqueue<BlobProperties | undefined>((pending) => ({
        kind: 'touch',
        path,
        ifMatch: condition.ifMatch,
        ...pending,
      })),
    );
  }

  list(
    prefix: string,
    page: { readonly continuation?: string; readonly pageSize: number },
    options?: OperationOptions,
  ): Promise<BlobListPage> {
    return this.#guard(options, `list ${prefix}`, () => {
      if (!Number.isInteger(page.pageSize) || page.pageSize < 1) {
        throw new AppError('INTERNAL', `A list page size must be a positive integer, not ${page.pageSize}`);
      }
      const size = Math.min(page.pageSize, MAX_PAGE_SIZE);
      // The token is the last path returned, so blobs added or removed between pages cause no repeats.
      const after =
        page.continuation === undefined ? '' : Buffer.from(page.continuation, 'base64url').toString('utf8');
      const rows = this.#read.page.all(prefix, upperBound(prefix), after, size + 1) as unknown as Row[];
      const items = rows.slice(0, size).map(toProperties);
      const last = items.at(-1);
      return Promise.resolve({
        items,
        continuation:
          rows.length > size && last !== undefined ? Buffer.from(last.path).toString('base64url') : undefined,
      });
    });
  }

  ping(options?: OperationOptions): Promise<void> {
    return this.#guard(options, 'check the archive folder', () => {
      this.#reader.prepare('SELECT 1').get();
      readdirSync(this.#blobs);
      return Promise.resolve();
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#flushing;
    this.#reader.close();
    this.#writer.close();
  }

  #row(path: string): Row | undefined {
    return this.#read.row.get(path) as Row | undefined;
  }

  #enqueue<T>(build: (pending: Pending<T>) => Mutation): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push(build({ resolve, reject }));
      this.#flushing ??= this.#flushAll();
    });
  }

  /** Commits whatever is queued, batch after batch: writes that arrive together share one commit. */
  async #flushAll(): Promise<void> {
    try {
      // Let the writes issued in this same turn join the first batch.
      await new Promise((resolve) => setImmediate(resolve));
      while (this.#queue.length > 0) {
        const batch = this.#queue;
        this.#queue = [];
        await this.#commit(batch);
      }
    } finally {
      // Whatever happened, the next write starts a new flush instead of waiting on this one.
      this.#flushing = undefined;
    }
  }

  async #commit(batch: readonly Mutation[]): Promise<void> {
    const settled: Array<() => void> = [];
    const folders = new Set<string>();
    const deleted: string[] = [];
    try {
      this.#writer.exec('BEGIN IMMEDIATE');
      try {
        for (const mutation of batch) {
          try {
            settled.push(this.#apply(mutation, folders, deleted));
          } catch (error) {
            if (!(error instanceof AppError) || error.code === 'UNAVAILABLE') throw error;
            settled.push(() => mutation.reject(error));
          }
        }
        // The renamed names are durable before the rows that make them blobs.
        await Promise.all([...folders].map(syncFolder));
        this.#writer.exec('COMMIT');
      } catch (error) {
        if (this.#writer.isTransaction) this.#writer.exec('ROLLBACK');
        throw error;
      }
    } catch (error) {
      const failure = toAppError(error, 'commit to the archive index');
      for (const mutation of batch) mutation.reject(failure);
      return;
    }
    for (const settle of settled) settle();
    if (deleted.length > 0) this.#unlinkDeleted(deleted);
  }

  /** Applies one mutation inside the open transaction; answers how to settle it once committed. */
  #apply(mutation: Mutation, folders: Set<string>, deleted: string[]): () => void {
    const now = this.#clock.now().getTime();
    if (mutation.kind === 'put') {
      const { request } = mutation;
      if (this.#write.exists.get(request.path) !== undefined) {
        throw new AppError('ALREADY_EXISTS', `Blob ${request.path} already exists`);
      }
      const file = this.fileOf(request.path);
      // Under the write lock: a file already there has no row (a crash before its commit), so it goes.
      try {
        renameSync(mutation.temp, file);
      } catch (error) {
        const code = errnoOf(error);
        if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'ENOTDIR' || code === 'EEXIST') {
          throw new AppError('INTERNAL', `Blob ${request.path} would share its name with a folder of blobs`, {
            cause: error,
          });
        }
        throw error;
      }
      folders.add(dirname(file));
      const row: Row = {
        path: request.path,
        size: request.body.byteLength,
        content_md5: mutation.md5,
        content_type: request.contentType,
        content_encoding: request.contentEncoding ?? null,
        // Names as sent, as a Blob listing keeps them; the port answers them in lower case.
        metadata: JSON.stringify(request.metadata),
        access_tier: request.accessTier,
        etag: newEtag(),
        created_ms: now,
        modified_ms: now,
      };
      this.#write.insert.run(
        row.path,
        row.size,
        row.content_md5,
        row.content_type,
        row.content_encoding,
        row.metadata,
        row.access_tier,
        row.etag,
        row.created_ms,
        row.modified_ms,
      );
      return () => mutation.resolve(toProperties(row));
    }
    const current = this.#write.etag.get(mutation.path) as { etag: string } | undefined;
    if (mutation.kind === 'delete') {
      if (current === undefined) return () => mutation.resolve(false);
      if (mutation.ifMatch !== undefined && mutation.ifMatch !== current.etag) {
        throw new AppError('PRECONDITION_FAILED', `Blob ${mutation.path} has changed`);
      }
      this.#write.delete.run(mutation.path);
      deleted.push(mutation.path);
      return () => mutation.resolve(true);
    }
    if (current === undefined) return () => mutation.resolve(undefined);
    if (mutation.ifMatch !== current.etag) {
      throw new AppError('PRECONDITION_FAILED', `Blob ${mutation.path} has changed`);
    }
    const row = this.#write.touch.get(newEtag(), now, mutation.path) as unknown as Row;
    return () => mutation.resolve(toProperties(row));
  }

  /**
   * Removes the files of committed deletes, under the write lock and only where no row came back (an
   * upload to the same path in the same batch, or from another process). A crash before this leaves a
   * file without a row: never served, replaced by the next upload to its path.
   */
  #unlinkDeleted(paths: readonly string[]): void {
    try {
      this.#writer.exec('BEGIN IMMEDIATE');
      try {
        for (const path of paths) {
          if (this.#write.exists.get(path) === undefined) rmSync(this.fileOf(path), { force: true });
        }
      } finally {
        this.#writer.exec('COMMIT');
      }
    } catch {
      // The deletes are committed; a file left behind is an orphan the next upload replaces.
    }
  }

  async #guard<T>(options: OperationOptions | undefined, what: string, work: () => Promise<T>): Promise<T> {
    options?.abortSignal?.throwIfAborted();
    if (this.#closed) {
      throw new AppError('UNAVAILABLE', 'The file archive store is closed', { retryable: false });
    }
    try {
      return await work();
    } catch (error) {
      throw toAppError(error, what);
    }
  }
}

/** A fresh etag per write, in the shape Blob Storage gives them. */
function newEtag(): string {
  return `"0x${randomBytes(8).toString('hex').toUpperCase()}"`;
}

/**
 * Blobs up to this size (99 % of the reference workload's, whose gzip bodies are 1.8 KB at the median
 * and 15 KB at the 99th percentile) are read on the event loop, as the SQLite stores beside them read
 * their rows: three system calls on a local file cost less than the three thread-pool round trips an
 * asynchronous read takes (measured in docs/performance.md, embedded reads). Larger ones go to the pool
 * (readFile: one stat more, nothing next to the size of such a read).
 */
const SYNC_READ_BYTES = 64 * 1024;

/**
 * Inline, for a small blob read at normal priority (an API read). A low-priority read (an export, the
 * archiver) goes to the pool whatever its size: it gives the event loop back between its blobs, and a bulk
 * reader that never yields would run ahead of its consumer (an export read three times as fast held
 * about 20 MiB more after it, against 8).
 */
function readsInline(size: number, options: OperationOptions | undefined): boolean {
  return size <= SYNC_READ_BYTES && options?.priority !== 'low';
}

/**
 * The file, expected to hold `size` bytes (the index's size): open, one read, close, where readFile
 * would also stat it first. One byte more is asked for, so a longer file is seen whole and, like a
 * shorter one, fails the MD5 check that follows.
 */
function readExpectingSync(file: string, size: number): Buffer {
  const descriptor = openSync(file, 'r');
  try {
    const body = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    // A regular file answers in one read; the loop is for a read cut short, and stops at `size`.
    do {
      const bytesRead = readSync(descriptor, body, filled, body.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
    } while (filled < size);
    return body.subarray(0, filled);
  } finally {
    closeSync(descriptor);
  }
}

async function writeDurably(file: string, body: Uint8Array): Promise<void> {
  const handle = await open(file, 'wx');
  try {
    await handle.writeFile(body);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function syncFolder(folder: string): Promise<void> {
  const handle = await open(folder, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Creates the folders of a path, each made durable in its parent (a new record gets a new folder). */
async function makeFolders(folder: string): Promise<void> {
  const first = await mkdir(folder, { recursive: true });
  if (first === undefined) return;
  const parents = [dirname(first)];
  for (let at = first; at !== folder;) {
    parents.push(at);
    at = join(at, folder.slice(at.length + 1).split(sep)[0]!);
  }
  await Promise.all(parents.map(syncFolder));
}

/**
 * Uploads cut short by a dead process (their files carry its pid); those of live processes, this one
 * included (another store on the same folder), stay.
 */
function removeDeadUploads(tmp: string): void {
  for (const name of readdirSync(tmp)) {
    const pid = Number(name.split('-')[0]);
    if (Number.isInteger(pid) && pid > 0 && isAlive(pid)) continue;
    try {
      unlinkSync(join(tmp, name));
    } catch {
      // Another process cleaning at the same time.
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return errnoOf(error) === 'EPERM';
  }
}

/** The least string above every string that starts with `prefix` (code point order is UTF-8 order). */
function upperBound(prefix: string): string {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) return points.join('') + String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1);
  }
  return '\u{10ffff}\u{10ffff}';
}

function checkPath(path: string): void {
  const segments = path.split('/');
  const bad =
    path.length === 0 ||
    path.length > MAX_PATH_LENGTH ||
    path.includes('\0') ||
    path.includes('\\') ||
    segments.some(
      (segment) =>
        segment === '' ||
        segment === '.' ||
        segment === '..' ||
        Buffer.byteLength(segment) > MAX_SEGMENT_BYTES,
    );
  if (bad) throw new AppError('INTERNAL', `${JSON.stringify(path)} is not a blob name this archive can hold`);
}

function checkMetadata(metadata: Readonly<Record<string, string>>): void {
  for (const name of Object.keys(metadata)) {
    if (!METADATA_NAME.test(name)) {
      throw new AppError('INTERNAL', `Blob metadata name ${JSON.stringify(name)} is not a C# identifier`);
    }
  }
}

function toProperties(row: Row): BlobProperties {
  const metadata = JSON.parse(row.metadata) as Record<string, string>;
  return {
    path: row.path,
    size: row.size,
    contentMd5: row.content_md5,
    contentType: row.content_type,
    contentEncoding: row.content_encoding ?? undefined,
    metadata: Object.fromEntries(
      Object.entries(metadata).map(([name, value]) => [name.toLowerCase(), value]),
    ),
    accessTier: row.access_tier as AccessTier,
    etag: row.etag,
    createdOn: new Date(row.created_ms),
    lastModified: new Date(row.modified_ms),
  };
}

function toRead(row: Row): ReturnType<typeof withoutTier> {
  return withoutTier(toProperties(row));
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** File system and SQLite failures as the core sees them: the disk cannot serve (UNAVAILABLE). */
function toAppError(error: unknown, what: string): unknown {
  if (error instanceof AppError) return error;
  // The caller's own abort reason passes through untouched.
  if (!(error instanceof Error)) return error;
  if ((error as { name?: string }).name === 'AbortError') return error;
  return new AppError('UNAVAILABLE', `The file archive could not ${what}: ${error.message}`, {
    cause: error,
  });
}
