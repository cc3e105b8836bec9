// The cost report: the stores measured as they are now (measure-stores.ts), then priced before and after
// tiering, at the floor and over other archive ages (domain/cost-report-pricing.ts).
import { type CostReport, type CostSettings, priceCostReport } from '../domain/cost-report-pricing.ts';
import type { OperationOptions } from '../ports/operation-options.ts';
import { type MeasuredStores, measureStores } from './measure-stores.ts';

export type { CostReport, CostSettings };

export async function buildCostReport(
  stores: MeasuredStores,
  settings: CostSettings,
  now: Date,
  options: OperationOptions = {},
): Promise<CostReport> {
  return priceCostReport(await measureStores(stores, now, options), settings, now);
}
