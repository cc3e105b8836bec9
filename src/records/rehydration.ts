// Bringing an archived record back to the hot store: the full document replaces the stub, conditioned
// on the stub's etag, with the same version (nothing about the record changes, so neither does its
// ETag). The blob stays until the collector finds it unreferenced; the cool-down counts from now.
import { fullDocument } from '../domain/record-document.ts';
import type { RecordKey } from '../domain/record-rules.ts';
import type { Clock } from '../ports/clock.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import { type ConditionalUpdateDependencies, updateRecord } from './conditional-update.ts';

export type RehydrationResult = 'rehydrated' | 'already-hot';

export function rehydrateRecord(
  dependencies: ConditionalUpdateDependencies & { readonly clock: Clock },
  key: RecordKey,
  options?: OperationOptions,
): Promise<RehydrationResult> {
  return updateRecord<RehydrationResult>(
    dependencies,
    key,
    ({ stored: { document }, record }) => {
      if (document.tier === 'hot') return { unchanged: true, result: 'already-hot' };
      // Invariant 1: the stub is replaced only if it is still the one whose blob was just verified.
      const sys = { ...document.sys, rehydratedAt: dependencies.clock.now().toISOString() };
      return { replace: fullDocument(record!, sys), result: 'rehydrated' };
    },
    { ...options, needsRecord: true },
  );
}
