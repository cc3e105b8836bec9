// The archiver's request-unit budget when no figure is set: a share of what the container has, so an
// archiver on a small container cannot take its whole throughput and turn callers' reads into 429s.
import type { ContainerThroughput } from '../ports/record-store.ts';

/** Share of the provisioned (or autoscale maximum) throughput the archiver takes by default. */
export const DEFAULT_THROUGHPUT_SHARE = 0.25;
/** When the throughput cannot be read (the identity may not): a quarter of the 400 RU/s minimum. */
export const FALLBACK_REQUEST_UNITS_PER_SECOND = 100;
/** Serverless has no provisioned figure: a tenth of the 5,000 RU/s a serverless partition bursts to. */
export const SERVERLESS_REQUEST_UNITS_PER_SECOND = 500;

export type BudgetSource =
  'setting' | 'provisioned-share' | 'autoscale-max-share' | 'serverless' | 'fallback' | 'embedded';

export interface ArchivalBudget {
  /** 0: no limit. */
  readonly requestUnitsPerSecond: number;
  readonly source: BudgetSource;
  /** How it was found, for the run report and the log. */
  readonly detail: string;
}

export function archivalBudget(
  setting: number | undefined,
  share: number,
  throughput: ContainerThroughput,
): ArchivalBudget {
  if (setting !== undefined)
    return {
      requestUnitsPerSecond: setting,
      source: 'setting',
      detail:
        setting === 0 ? 'ARCHIVE_MAX_RU_PER_SECOND=0: no limit' : `ARCHIVE_MAX_RU_PER_SECOND=${setting}`,
    };
  const percent = `${Math.round(share * 100)}%`;
  switch (throughput.kind) {
    case 'provisioned':
      return {
        requestUnitsPerSecond: Math.max(1, Math.floor(throughput.requestUnitsPerSecond * share)),
        source: 'provisioned-share',
        detail: `${percent} of ${throughput.requestUnitsPerSecond} RU/s provisioned on the ${throughput.scope}`,
      };
    case 'autoscale':
      return {
        requestUnitsPerSecond: Math.max(1, Math.floor(throughput.maxRequestUnitsPerSecond * share)),
        source: 'autoscale-max-share',
        detail: `${percent} of the ${throughput.scope}'s autoscale maximum of ${throughput.maxRequestUnitsPerSecond} RU/s`,
      };
    case 'serverless':
      return {
        requestUnitsPerSecond: SERVERLESS_REQUEST_UNITS_PER_SECOND,
        source: 'serverless',
        detail: `serverless account: ${SERVERLESS_REQUEST_UNITS_PER_SECOND} RU/s`,
      };
    case 'embedded':
      // Nothing provisioned to share: live traffic is protected by the adaptive concurrency instead.
      return {
        requestUnitsPerSecond: 0,
        source: 'embedded',
        detail: 'embedded store: no throughput to share',
      };
    case 'unknown':
      return {
        requestUnitsPerSecond: FALLBACK_REQUEST_UNITS_PER_SECOND,
        source: 'fallback',
        detail: `throughput not readable (${throughput.reason}): ${FALLBACK_REQUEST_UNITS_PER_SECOND} RU/s`,
      };
  }
}
