// The archiver's control documents and leases in memory, for simulation tests: the Blob adapter's
// semantics (conditional writes, leases that fence writes and expire on the injected clock).
import { assertLeaseDuration, assertWriteHoldsLease } from '../../src/domain/lease-rules.ts';
import { randomUUID } from 'node:crypto';
import { AppError } from '../../src/domain/errors.ts';
import type { ArchivalControlStore, ControlDocument, Lease } from '../../src/ports/archival-control-store.ts';
import type { Clock } from '../../src/ports/clock.ts';
import type { OperationOptions } from '../../src/ports/operation-options.ts';

interface HeldLease {
  readonly id: string;
  /** A renewal restarts the lease for the duration it was acquired with, as Blob does. */
  readonly durationMs: number;
  expiresAtMs: number;
}

interface Slot {
  readonly json: string;
  readonly etag: string;
  lease: HeldLease | undefined;
}

export class MemoryControlStore implements ArchivalControlStore {
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Pick<Clock, 'now'>;
  #closed = false;

  constructor(clock: Pick<Clock, 'now'>) {
    this.#clock = clock;
  }

  read<T>(name: string, options?: OperationOptions): Promise<ControlDocument<T> | undefined> {
    return this.#run(options, () => {
      const slot = this.#slots.get(name);
      return slot === undefined ? undefined : { value: JSON.parse(slot.json) as T, etag: slot.etag };
    });
  }

  write<T>(
    name: string,
    value: T,
    condition: { readonly ifMatch?: string; readonly ifNoneMatch?: '*'; readonly lease?: Lease },
    options?: OperationOptions,
  ): Promise<string> {
    return this.#run(options, () => {
      const json = JSON.stringify(value) as string | undefined;
      if (json === undefined) throw new AppError('INTERNAL', `Control document ${name} is not JSON`);
      const slot = this.#slots.get(name);
      if (condition.ifNoneMatch === '*' && slot !== undefined) {
        throw new AppError('ALREADY_EXISTS', `Control document ${name} exists`);
      }
      if (condition.ifMatch !== undefined && slot?.etag !== condition.ifMatch) {
        throw new AppError('PRECONDITION_FAILED', `Control document ${name} has changed`);
      }
      // As Blob: a leased document refuses a write without its lease, and a lease no longer held fences its writer off.
      const live = this.#liveLease(slot);
      assertWriteHoldsLease(name, live?.id, condition.lease?.leaseId);
      const etag = newEtag();
      // An expired lease ends with the document's next change: Blob forgets its id then, so it cannot be renewed.
      this.#slots.set(name, { json, etag, lease: live });
      return etag;
    });
  }

  list(prefix: string, options?: OperationOptions): Promise<string[]> {
    return this.#run(options, () =>
      [...this.#slots.keys()].filter((name) => name.startsWith(prefix)).sort(byUtf8),
    );
  }

  acquireLease(
    name: string,
    durationSeconds: number,
    options?: OperationOptions,
  ): Promise<Lease | undefined> {
    return this.#run(options, () => {
      assertLeaseDuration(durationSeconds);
      let slot = this.#slots.get(name);
      if (slot === undefined) {
        // A lease needs a document to hold, as a Blob lease needs a blob.
        slot = { json: 'null', etag: newEtag(), lease: undefined };
        this.#slots.set(name, slot);
      }
      if (this.#liveLease(slot) !== undefined) return undefined;
      const durationMs = durationSeconds * 1_000;
      const id = randomUUID();
      slot.lease = { id, durationMs, expiresAtMs: this.#nowMs() + durationMs };
      return { name, leaseId: id };
    });
  }

  renewLease(lease: Lease, options?: OperationOptions): Promise<boolean> {
    return this.#run(options, () => {
      const held = this.#slots.get(lease.name)?.lease;
      // An expired lease stays renewable until another holder takes it, as with Blob leases.
      if (held?.id !== lease.leaseId) return false;
      held.expiresAtMs = this.#nowMs() + held.durationMs;
      return true;
    });
  }

  releaseLease(lease: Lease, options?: OperationOptions): Promise<void> {
    return this.#run(options, () => {
      const slot = this.#slots.get(lease.name);
      if (slot?.lease?.id === lease.leaseId) slot.lease = undefined;
    });
  }

  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #liveLease(slot: Slot | undefined): HeldLease | undefined {
    const lease = slot?.lease;
    return lease !== undefined && lease.expiresAtMs > this.#nowMs() ? lease : undefined;
  }

  #nowMs(): number {
    return this.#clock.now().getTime();
  }

  #run<T>(options: OperationOptions | undefined, work: () => T): Promise<T> {
    if (options?.abortSignal?.aborted === true) return Promise.reject(options.abortSignal.reason as Error);
    if (this.#closed) {
      return Promise.reject(
        new AppError('UNAVAILABLE', 'The memory control store is closed', { retryable: false }),
      );
    }
    try {
      return Promise.resolve(work());
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
  }
}

function newEtag(): string {
  return `"${randomUUID()}"`;
}

/** Blob Storage lists in the order of the names' UTF-8 bytes. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
