// Small control documents of the archiver: run reports, per-slice watermarks and checkpoints, and
// leases that keep two workers off the same slice. Correctness never depends on a lease: it only
// avoids duplicate work. In production a Blob container of its own (Hot tier: these are rewritten).
import type { OperationOptions } from './operation-options.ts';

export interface ControlDocument<T> {
  readonly value: T;
  readonly etag: string;
}

export interface Lease {
  readonly name: string;
  readonly leaseId: string;
}

export interface ArchivalControlStore {
  read<T>(name: string, options?: OperationOptions): Promise<ControlDocument<T> | undefined>;
  /**
   * Writes a document; `ifMatch` only over that version, `ifNoneMatch: '*'` only if absent.
   * PRECONDITION_FAILED / ALREADY_EXISTS otherwise. A leased document needs its lease, and a write
   * with a lease needs it still held (PRECONDITION_FAILED otherwise): a worker that lost it cannot overwrite.
   */
  write<T>(
    name: string,
    value: T,
    condition: { readonly ifMatch?: string; readonly ifNoneMatch?: '*'; readonly lease?: Lease },
    options?: OperationOptions,
  ): Promise<string>;
  /** Names under a prefix, in order. */
  list(prefix: string, options?: OperationOptions): Promise<string[]>;
  /**
   * Undefined when another holder has a live lease. The document is created if absent, with the value
   * null, and keeps its etag otherwise. `durationSeconds` is a whole number from 15 to 60 (INTERNAL otherwise).
   */
  acquireLease(name: string, durationSeconds: number, options?: OperationOptions): Promise<Lease | undefined>;
  /** False when the lease was lost (released, or expired and taken by another); an expired one nobody took renews. */
  renewLease(lease: Lease, options?: OperationOptions): Promise<boolean>;
  /** Does nothing when the lease is no longer held (released, or expired and taken by another). */
  releaseLease(lease: Lease, options?: OperationOptions): Promise<void>;
  close(): Promise<void>;
}
