// The register of pinned records in the control store (`pins/{customerId}/{recordId}`): the pin lives on
// the document, and this copy outlives the hot store, so a rebuild from the archive restores it.
import type { RecordKey } from '../domain/record-rules.ts';
import type { ArchivalControlStore } from '../ports/archival-control-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';

export class PinRegister {
  readonly #control: ArchivalControlStore;

  constructor(control: ArchivalControlStore) {
    this.#control = control;
  }

  async set(key: RecordKey, pinned: boolean, options?: OperationOptions): Promise<void> {
    await this.#control.write(nameOf(key), { pinned }, {}, options);
  }

  async pinned(key: RecordKey, options?: OperationOptions): Promise<boolean> {
    return (await this.#control.read<{ pinned: boolean }>(nameOf(key), options))?.value.pinned === true;
  }
}

const nameOf = (key: RecordKey): string => `pins/${key.customerId}/${key.id}`;
