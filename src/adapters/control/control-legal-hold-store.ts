// Legal holds kept as small documents of the control store (the Blob container of run reports and
// leases in production, Azurite embedded): `legal-holds/{customerId}` for a customer's hold and
// `legal-holds/{customerId}/records/{recordId}` for the register of a record's own hold.
import { hasCode } from '../../domain/errors.ts';
import type { ArchivalControlStore } from '../../ports/archival-control-store.ts';
import type { LegalHoldEntry, LegalHoldStore } from '../../ports/legal-hold-store.ts';
import type { OperationOptions } from '../../ports/operation-options.ts';

const PREFIX = 'legal-holds/';

function nameOf(customerId: string, recordId: string | null): string {
  const customer = `${PREFIX}${encodeURIComponent(customerId)}`;
  return recordId === null ? `${customer}/customer` : `${customer}/records/${encodeURIComponent(recordId)}`;
}

export class ControlLegalHoldStore implements LegalHoldStore {
  readonly #control: ArchivalControlStore;

  constructor(control: ArchivalControlStore) {
    this.#control = control;
  }

  async get(
    customerId: string,
    recordId: string | null,
    options?: OperationOptions,
  ): Promise<LegalHoldEntry | undefined> {
    const document = await this.#control.read<LegalHoldEntry | null>(nameOf(customerId, recordId), options);
    return document?.value ?? undefined;
  }

  async put(hold: LegalHoldEntry, options?: OperationOptions): Promise<void> {
    await this.#control.write(nameOf(hold.customerId, hold.recordId), hold, {}, options);
  }

  async remove(customerId: string, recordId: string | null, options?: OperationOptions): Promise<boolean> {
    const name = nameOf(customerId, recordId);
    const current = await this.#control.read<LegalHoldEntry | null>(name, options);
    if (current?.value == null) return false;
    // The control store has no delete: a released hold is the JSON null, conditioned on what was read.
    try {
      await this.#control.write(name, null, { ifMatch: current.etag }, options);
    } catch (error) {
      if (hasCode(error, 'PRECONDITION_FAILED')) return this.remove(customerId, recordId, options);
      throw error;
    }
    return true;
  }

  async list(options?: OperationOptions): Promise<LegalHoldEntry[]> {
    const names = await this.#control.list(PREFIX, options);
    const holds: LegalHoldEntry[] = [];
    for (const name of names) {
      const document = await this.#control.read<LegalHoldEntry | null>(name, options);
      if (document?.value != null) holds.push(document.value);
    }
    return holds.sort(
      (a, b) =>
        a.customerId.localeCompare(b.customerId) || (a.recordId ?? '').localeCompare(b.recordId ?? ''),
    );
  }
}
