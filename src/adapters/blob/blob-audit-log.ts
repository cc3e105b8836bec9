// The audit trail in Azure append blobs: a blob per day and writer instance (`{yyyy-mm-dd}/{chain}.jsonl`),
// one JSON event per line, in a container the IaC puts under a time-based immutability policy (WORM).
// A new day's blob opens with an anchor line naming the head it continues, so each day verifies against
// the one before. Appends are conditioned on the blob's length (append position): a second writer on the
// same chain, or a lost answer, can never interleave or duplicate events.
import { text } from 'node:stream/consumers';
import type { AppendBlobClient } from '@azure/storage-blob';
import type { AuditEvent, ChainHead } from '../../domain/audit-event.ts';
import { auditPageOf } from '../../domain/audit-cursor.ts';
import { AppError } from '../../domain/errors.ts';
import {
  type AuditLog,
  type AuditPage,
  type AuditQuery,
  compareAuditPositions,
  matchesAuditQuery,
  type StoredChain,
} from '../../ports/audit-log.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';
import { type BlobConnectOptions, BlobConnection } from './blob-connection.ts';
import { hasStatus } from './blob-errors.ts';

/** Azure takes at most 4 MiB in one Append Block (older service versions). */
const MAX_BLOCK_BYTES = 4 * 1024 * 1024;

interface WriterState {
  readonly seq: number;
  readonly hash: string;
  /** The blob the chain's last event is in, and that blob's length. */
  readonly blob: string | undefined;
  readonly size: number;
}

type Line = { readonly anchor: ChainHead } | AuditEvent;

function blobName(day: string, chain: string): string {
  return `${day}/${encodeURIComponent(chain)}.jsonl`;
}

function parseName(name: string): { day: string; chain: string } | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})\/(.+)\.jsonl$/.exec(name);
  return match === null ? undefined : { day: match[1]!, chain: decodeURIComponent(match[2]!) };
}

export class BlobAuditLog implements AuditLog {
  readonly #connection: BlobConnection;
  readonly #writers = new Map<string, WriterState>();

  private constructor(connection: BlobConnection) {
    this.#connection = connection;
  }

  static async connect(options: BlobConnectOptions): Promise<BlobAuditLog> {
    return new BlobAuditLog(await BlobConnection.open(options, 'The Blob audit log'));
  }

  async append(events: readonly AuditEvent[], options?: OperationOptions): Promise<void> {
    const first = events[0];
    if (first === undefined) return;
    if (events.some((event) => event.chain !== first.chain))
      throw new AppError('INTERNAL', 'An audit append holds events of one chain only');
    const chain = first.chain;
    let state = this.#writers.get(chain) ?? (await this.#loadState(chain, options));
    // A retried batch whose first blocks landed before a failure: skip what is stored, by hash.
    let pending = events;
    if (first.seq <= state.seq) {
      const stored = events.findIndex((event) => event.seq === state.seq);
      if (stored < 0 || events[stored]!.hash !== state.hash) throw notLinked(chain, state.seq, first.seq);
      pending = events.slice(stored + 1);
    } else if (first.seq !== state.seq + 1 || (state.seq > 0 && first.prevHash !== state.hash)) {
      throw notLinked(chain, state.seq, first.seq);
    }
    while (pending.length > 0) {
      const day = pending[0]!.at.slice(0, 10);
      const sameDay = pending.findIndex((event) => event.at.slice(0, 10) !== day);
      const group = sameDay < 0 ? pending : pending.slice(0, sameDay);
      pending = sameDay < 0 ? [] : pending.slice(sameDay);
      state = await this.#appendDay(chain, day, group, state, options);
      this.#writers.set(chain, state);
    }
  }

  async #appendDay(
    chain: string,
    day: string,
    group: readonly AuditEvent[],
    state: WriterState,
    options?: OperationOptions,
  ): Promise<WriterState> {
    const name = blobName(day, chain);
    const blob = this.#connection.container.getAppendBlobClient(name);
    const lines: Line[] = [];
    let size = state.size;
    if (state.blob !== name) {
      size = await this.#create(blob, name, options);
      // A fresh blob of a chain that has events opens with the head it continues.
      if (size === 0 && state.seq > 0) lines.push({ anchor: { chain, seq: state.seq, hash: state.hash } });
    }
    lines.push(...group);
    for (const block of blocksOf(lines)) {
      await this.#connection.call(`append to ${name}`, options, async (abortSignal) => {
        try {
          await blob.appendBlock(block, block.byteLength, {
            abortSignal,
            conditions: { appendPosition: size },
          });
        } catch (error) {
          if (hasStatus(error, 412))
            throw new AppError('PRECONDITION_FAILED', `Audit blob ${name} was appended by another writer`, {
              cause: error,
            });
          throw error;
        }
      });
      size += block.byteLength;
    }
    const last = group.at(-1)!;
    return { seq: last.seq, hash: last.hash, blob: name, size };
  }

  /** Creates the day's blob if absent; answers its length. */
  async #create(blob: AppendBlobClient, name: string, options?: OperationOptions): Promise<number> {
    return this.#connection.call(`create ${name}`, options, async (abortSignal) => {
      try {
        await blob.create({
          abortSignal,
          conditions: { ifNoneMatch: '*' },
          blobHTTPHeaders: { blobContentType: 'application/x-ndjson' },
        });
        return 0;
      } catch (error) {
        if (!hasStatus(error, 409) && !hasStatus(error, 412)) throw error;
        return (await blob.getProperties({ abortSignal })).contentLength ?? 0;
      }
    });
  }

  /** The stored head of a chain this process has not written yet (a restart that kept its chain id). */
  async #loadState(chain: string, options?: OperationOptions): Promise<WriterState> {
    const names = (await this.#names(options)).filter((name) => parseName(name)?.chain === chain);
    const lastName = names.at(-1);
    if (lastName === undefined) return { seq: 0, hash: '', blob: undefined, size: 0 };
    const { lines, size } = await this.#read(lastName, options);
    const last = lines.filter((line): line is AuditEvent => !('anchor' in line)).at(-1);
    const anchor = lines.find((line): line is { anchor: ChainHead } => 'anchor' in line)?.anchor;
    const head = last ?? anchor;
    return head === undefined
      ? { seq: 0, hash: '', blob: lastName, size }
      : { seq: head.seq, hash: head.hash, blob: lastName, size };
  }

  async query(query: AuditQuery, options?: OperationOptions): Promise<AuditPage> {
    const fromDay = [query.from, query.after?.at]
      .filter((value) => value !== undefined)
      .sort()
      .at(-1)
      ?.slice(0, 10);
    const toDay = query.to?.slice(0, 10);
    const names = (await this.#names(options)).filter((name) => {
      const day = parseName(name)?.day;
      return (
        day !== undefined &&
        (fromDay === undefined || day >= fromDay) &&
        (toDay === undefined || day <= toDay)
      );
    });
    const matching: AuditEvent[] = [];
    for (const name of names) {
      for (const line of (await this.#read(name, options)).lines) {
        if (!('anchor' in line) && matchesAuditQuery(line, query)) matching.push(line);
      }
    }
    matching.sort(compareAuditPositions);
    return auditPageOf(matching, query.limit);
  }

  async *chains(options?: OperationOptions): AsyncIterable<StoredChain> {
    const byChain = new Map<string, string[]>();
    for (const name of await this.#names(options)) {
      const parsed = parseName(name);
      if (parsed === undefined) continue;
      byChain.set(parsed.chain, [...(byChain.get(parsed.chain) ?? []), name]);
    }
    for (const [chain, names] of [...byChain].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const events: AuditEvent[] = [];
      const anchors: ChainHead[] = [];
      // Names sort by day first: the chain's blobs in the order they were written.
      for (const name of names.sort()) {
        for (const line of (await this.#read(name, options)).lines) {
          if ('anchor' in line) anchors.push(line.anchor);
          else events.push(line);
        }
      }
      yield { chain, events, anchors };
    }
  }

  async #names(options?: OperationOptions): Promise<string[]> {
    return this.#connection.call('list audit blobs', options, async (abortSignal) => {
      const names: string[] = [];
      for await (const item of this.#connection.container.listBlobsFlat({ abortSignal }))
        names.push(item.name);
      return names.sort();
    });
  }

  async #read(name: string, options?: OperationOptions): Promise<{ lines: Line[]; size: number }> {
    return this.#connection.call(`read ${name}`, options, async (abortSignal) => {
      const response = await this.#connection.container
        .getBlobClient(name)
        .download(0, undefined, { abortSignal });
      const body = response.readableStreamBody === undefined ? '' : await text(response.readableStreamBody);
      const lines = body
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Line);
      return { lines, size: Buffer.byteLength(body) };
    });
  }

  close(): Promise<void> {
    this.#connection.close();
    return Promise.resolve();
  }
}

function notLinked(chain: string, storedSeq: number, firstSeq: number): AppError {
  return new AppError(
    'PRECONDITION_FAILED',
    `Audit chain ${chain} is at seq ${storedSeq}; an append starting at seq ${firstSeq} does not link to it`,
  );
}

/** Lines as append blocks of at most MAX_BLOCK_BYTES, cut between lines. */
function blocksOf(lines: readonly Line[]): Buffer[] {
  const blocks: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const line of lines) {
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
    if (size + bytes.byteLength > MAX_BLOCK_BYTES && current.length > 0) {
      blocks.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(bytes);
    size += bytes.byteLength;
  }
  if (current.length > 0) blocks.push(Buffer.concat(current));
  return blocks;
}
