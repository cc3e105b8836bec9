// `archive verify`: reads every stub's blob and checks it against the stub (present, sha256 of the
// canonical JSON, same record). Memory stays flat: stubs are scanned page by page.
import { ARCHIVE_METADATA, decodeArchivedBody } from '../domain/archive-artifact.ts';
import { describeError } from './archival-context.ts';
import type { ArchiveStore } from '../ports/archive-store.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import type { RecordStore, ScanPosition } from '../ports/record-store.ts';

export interface VerifyMismatch {
  readonly customerId: string;
  readonly id: string;
  readonly blobPath: string;
  readonly problem: string;
}

export interface VerifyResult {
  readonly checked: number;
  readonly mismatches: readonly VerifyMismatch[];
}

export async function verifyArchive(
  dependencies: { readonly store: RecordStore; readonly archive: ArchiveStore },
  options: {
    readonly customerId?: string;
    readonly pageSize?: number;
    readonly abortSignal?: AbortSignal;
    readonly onProgress?: (checked: number, mismatches: number) => void;
  } = {},
): Promise<VerifyResult> {
  const call: OperationOptions = {
    priority: 'low',
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  };
  const mismatches: VerifyMismatch[] = [];
  let checked = 0;
  let after: ScanPosition | undefined;
  do {
    const page = await dependencies.store.scan(
      {
        tier: 'archived',
        limit: options.pageSize ?? 200,
        ...(options.customerId !== undefined ? { customerId: options.customerId } : {}),
        ...(after ? { after } : {}),
      },
      call,
    );
    for (const item of page.items) {
      const pointer = item.sys.archive;
      checked += 1;
      const mismatch = (problem: string): void => {
        mismatches.push({
          customerId: item.customerId,
          id: item.id,
          blobPath: pointer?.blobPath ?? '',
          problem,
        });
      };
      if (pointer === undefined) {
        mismatch('the stub has no archive pointer');
        continue;
      }
      try {
        const blob = await dependencies.archive.get(pointer.blobPath, call);
        if (blob === undefined) {
          mismatch('the blob does not exist');
          continue;
        }
        const raw = decodeArchivedBody(blob.body, pointer);
        // A billing record says who it is; a foreign profile's document (the owner's bytes) may not name
        // a customerId or version: the blob's metadata does, and its hash was just checked.
        const metadata = blob.properties.metadata;
        const holds =
          'customerId' in raw
            ? { customerId: raw.customerId, id: raw.id, version: raw.version }
            : {
                customerId: metadata[ARCHIVE_METADATA.customerId],
                id: metadata[ARCHIVE_METADATA.recordId],
                version: Number(metadata[ARCHIVE_METADATA.recordVersion]),
              };
        if (holds.id !== item.id || holds.customerId !== item.customerId || holds.version !== item.version) {
          mismatch(
            `the blob holds ${String(holds.customerId)}/${String(holds.id)} v${String(holds.version)}`,
          );
        }
      } catch (error) {
        mismatch(describeError(error));
      }
    }
    options.onProgress?.(checked, mismatches.length);
    after = page.next;
  } while (after !== undefined && options.abortSignal?.aborted !== true);
  return { checked, mismatches };
}
