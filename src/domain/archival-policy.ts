// Which records the archiver may copy, as of an instant. Pure rules: the engine asks, the stores only
// narrow the search.
import { addDuration, type IsoDuration, subtractDuration } from './iso-duration.ts';
import type { PersistedSys } from './record-document.ts';

export interface ArchivalPolicy {
  /** Records whose issuedAt is older than this are archived (ARCHIVE_AFTER, default P3M). */
  readonly archiveAfter: IsoDuration;
  /** Time between copy and purge (ARCHIVE_GRACE_PERIOD, default P7D; P0D allowed). */
  readonly gracePeriod: IsoDuration;
  /** A record written (or rehydrated) more recently than this is left alone for now. */
  readonly coolDown: IsoDuration;
  /** How long a purged record's ledger entry stays as its migration history (ARCHIVE_HISTORY_TTL, default P90D). */
  readonly historyTtl?: IsoDuration;
}

export const DEFAULT_HISTORY_TTL: IsoDuration = {
  years: 0,
  months: 0,
  weeks: 0,
  days: 90,
  hours: 0,
  minutes: 0,
  seconds: 0,
  text: 'P90D',
};

export type Ineligibility = 'pinned' | 'cooling-down' | 'too-recent' | 'not-hot';

export interface EligibilityInput {
  readonly issuedAt: string;
  readonly updatedAt: string;
  readonly sys: Pick<PersistedSys, 'tier' | 'pinned' | 'rehydratedAt'>;
}

/** Records issued before this instant are old enough to archive. */
export function archiveCutoff(policy: ArchivalPolicy, asOf: Date): Date {
  return subtractDuration(asOf, policy.archiveAfter);
}

/** Records last written before this instant have cooled down. */
export function coolDownCutoff(policy: ArchivalPolicy, asOf: Date): Date {
  return subtractDuration(asOf, policy.coolDown);
}

export function purgeAfter(policy: ArchivalPolicy, copiedAt: Date): Date {
  return addDuration(copiedAt, policy.gracePeriod);
}

/** When an entry due for purge at `due` stops being kept as migration history (its purge may come later). */
export function historyExpiresAt(policy: ArchivalPolicy, due: Date): Date {
  return addDuration(due, policy.historyTtl ?? DEFAULT_HISTORY_TTL);
}

/** Undefined when eligible; otherwise why not. The cool-down counts from a rehydration too, so a record does not flap. */
export function ineligibility(
  record: EligibilityInput,
  policy: ArchivalPolicy,
  asOf: Date,
): Ineligibility | undefined {
  if (record.sys.tier !== 'hot') return 'not-hot';
  if (record.sys.pinned === true) return 'pinned';
  if (Date.parse(record.issuedAt) >= archiveCutoff(policy, asOf).getTime()) return 'too-recent';
  const coolDownStart = coolDownCutoff(policy, asOf).getTime();
  const lastTouched = Math.max(
    Date.parse(record.updatedAt),
    Date.parse(record.sys.rehydratedAt ?? '1970-01-01T00:00:00Z'),
  );
  if (lastTouched > coolDownStart) return 'cooling-down';
  return undefined;
}
