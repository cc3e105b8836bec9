// Tombstones in the archive (see domain/tombstone.ts): marked before a record's document is deleted,
// refreshed when the same id is deleted again (a later record with that id), and taken back when the
// deletion does not happen after all, so that a live record never has a tombstone newer than its blob.
import { hasCode } from '../domain/errors.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import { TOMBSTONE_METADATA, tombstonePath } from '../domain/tombstone.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';

export interface TombstoneMark {
  readonly path: string;
  /** The tombstone's etag after this mark: taking it back is conditional on it. */
  readonly etag: string;
}

export class RecordTombstones {
  readonly #archive: ArchiveStore;

  constructor(archive: ArchiveStore) {
    this.#archive = archive;
  }

  /**
   * Writes (or refreshes) the record's tombstone; its lastModified is now, by the archive's clock.
   * `folder` (the record's archive folder) lets the collector remove it once no blob it hides is left.
   */
  async mark(
    key: RecordKey,
    reason: string,
    folder: string | undefined,
    options?: OperationOptions,
  ): Promise<TombstoneMark> {
    const path = tombstonePath(key);
    for (let attempt = 1; ; attempt++) {
      try {
        const created = await this.#archive.putIfAbsent(
          {
            path,
            body: Buffer.from(JSON.stringify({ customerId: key.customerId, id: key.id, reason }), 'utf8'),
            contentType: 'application/json',
            metadata: {
              [TOMBSTONE_METADATA.customerId]: key.customerId,
              [TOMBSTONE_METADATA.recordId]: key.id,
              ...(folder !== undefined ? { [TOMBSTONE_METADATA.folder]: folder } : {}),
            },
            accessTier: 'Cool',
          },
          options,
        );
        return { path, etag: created.etag };
      } catch (error) {
        if (!hasCode(error, 'ALREADY_EXISTS') || attempt >= 3) throw error;
      }
      const existing = await this.#archive.getProperties(path, options);
      if (existing === undefined) continue;
      try {
        const touched = await this.#archive.touch(path, { ifMatch: existing.etag }, options);
        if (touched !== undefined) return { path, etag: touched.etag };
      } catch (error) {
        if (!hasCode(error, 'PRECONDITION_FAILED') || attempt >= 3) throw error;
      }
    }
  }

  /** When the record's tombstone was last written, if it has one. */
  async markedAt(key: RecordKey, options?: OperationOptions): Promise<Date | undefined> {
    return (await this.#archive.getProperties(tombstonePath(key), options))?.lastModified;
  }

  /** Takes a mark back (the deletion did not happen); a mark refreshed since is left alone. */
  async unmark(mark: TombstoneMark, options?: OperationOptions): Promise<void> {
    try {
      await this.#archive.delete(mark.path, { ifMatch: mark.etag }, options);
    } catch (error) {
      if (!hasCode(error, 'PRECONDITION_FAILED')) throw error;
    }
  }

  /** Removes the record's tombstone whatever its etag (a crashed deletion whose record is still there). */
  async remove(key: RecordKey, options?: OperationOptions): Promise<void> {
    await this.#archive.delete(tombstonePath(key), {}, options);
  }
}
