// The archiver's control documents and leases in memory, for simulation tests: same semantics as
// the Blob adapter (conditional writes, leases that expire on the injected clock).
import { randomUUID } from 'node:crypto';
import { AppError } from '../../domain/errors.ts';
import type { ArchivalControlStore, ControlDocument, Lease } from '../../ports/archival-control-store.ts';
import type { Clock } from '../../ports/clock.ts';

interface Slot {
  json: string | undefined;
  etag: string;
  lease: { id: string; expiresAtMs: number } | undefined;
}

export class MemoryControlStore implements ArchivalControlStore {
  readonly #slots = new Map<string, Slot>();
  readonly #clock: Pick<Clock, 'now'>;

  constructor(clock: Pick<Clock, 'now'>) {
    this.#clock = clock;
  }

  read<T>(name: string): Promise<ControlDocument<T> | undefined> {
    const slot = this.#slots.get(name);
    if (slot?.json === undefined) return Promise.resolve(undefined);
    return Promise.resolve({ value: JSON.parse(slot.json) as T, etag: slot.etag });
  }

  write<T>(
    name: string,
    value: T,
    condition: { ifMatch?: string; ifNoneMatch?: '*'; lease?: Lease },
  ): Promise<string> {
    const slot = this.#slots.get(name);
    const exists = slot?.json !== undefined;
    if (condition.ifNoneMatch === '*' && exists) {
      return Promise.reject(new AppError('ALREADY_EXISTS', `Control document ${name} exists`));
    }
    if (condition.ifMatch !== undefined && (!exists || slot.etag !== condition.ifMatch)) {
      return Promise.reject(new AppError('PRECONDITION_FAILED', `Control document ${name} has changed`));
    }
    const lease = this.#liveLease(slot);
    if (lease !== undefined && lease.id !== condition.lease?.leaseId) {
      return Promise.reject(
        new AppError('PRECONDITION_FAILED', `Control document ${name} is leased by another worker`),
      );
    }
    const etag = `"${randomUUID()}"`;
    this.#slots.set(name, { json: JSON.stringify(value), etag, lease: slot?.lease });
    return Promise.resolve(etag);
  }

  list(prefix: string): Promise<string[]> {
    const names = [...this.#slots.entries()]
      .filter(([name, slot]) => name.startsWith(prefix) && slot.json !== undefined)
      .map(([name]) => name);
    return Promise.resolve(names.sort());
  }

  acquireLease(name: string, durationSeconds: number): Promise<Lease | undefined> {
    const slot = this.#slots.get(name) ?? { json: 'null', etag: `"${randomUUID()}"`, lease: undefined };
    if (this.#liveLease(slot) !== undefined) return Promise.resolve(undefined);
    const id = randomUUID();
    slot.lease = { id, expiresAtMs: this.#clock.now().getTime() + durationSeconds * 1000 };
    this.#slots.set(name, slot);
    return Promise.resolve({ name, leaseId: id });
  }

  renewLease(lease: Lease): Promise<boolean> {
    const slot = this.#slots.get(lease.name);
    const held = slot?.lease;
    // A lease that expired is still renewable if nobody took it, as with Blob leases.
    if (slot === undefined || held === undefined || held.id !== lease.leaseId) return Promise.resolve(false);
    const durationMs = Math.max(15_000, held.expiresAtMs - this.#clock.now().getTime());
    slot.lease = { id: held.id, expiresAtMs: this.#clock.now().getTime() + durationMs };
    return Promise.resolve(true);
  }

  releaseLease(lease: Lease): Promise<void> {
    const slot = this.#slots.get(lease.name);
    if (slot?.lease?.id === lease.leaseId) slot.lease = undefined;
    return Promise.resolve();
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  #liveLease(slot: Slot | undefined): { id: string; expiresAtMs: number } | undefined {
    const lease = slot?.lease;
    return lease !== undefined && lease.expiresAtMs > this.#clock.now().getTime() ? lease : undefined;
  }
}
