// One clock for the core, injected; tests use a manual one instead of sleeping.

export interface Clock {
  now(): Date;
  /** Resolves after `ms`, or rejects when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
