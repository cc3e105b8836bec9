// Where admin-started archival runs wait under Azure Functions: a queue whose trigger runs each inside an
// invocation of its own, instead of in the background of an HTTP invocation that has already answered.
import type { OperationOptions } from './operation-options.ts';

/** One requested run: its id (its report is saved before it is queued) and the options it was asked with. */
export interface QueuedArchivalRun {
  readonly runId: string;
  /** ISO instant. */
  readonly asOf?: string;
  readonly dryRun?: boolean;
  readonly limit?: number;
  readonly customerId?: string;
}

export interface ArchivalRunQueue {
  enqueue(run: QueuedArchivalRun, options?: OperationOptions): Promise<void>;
  close(): Promise<void>;
}
