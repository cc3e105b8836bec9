// Alert changes POSTed to ALERT_WEBHOOK_URL: each change once, in order, with retries (backoff with
// jitter, through the injected clock) and a bounded queue: when the receiver is down for long, the
// oldest changes are dropped (and counted) rather than memory growing without end.
import { AppError } from '../../domain/errors.ts';
import { type RetryPolicy, withRetry } from '../../domain/retry-policy.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Logger } from '../../ports/logger.ts';

export interface AlertWebhookOptions {
  readonly url: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** Changes waiting at most; the oldest is dropped past it. */
  readonly maxQueue?: number;
  readonly retry?: RetryPolicy;
  readonly timeoutMs?: number;
  readonly onOutcome?: (outcome: 'delivered' | 'failed' | 'dropped') => void;
}

export const DEFAULT_WEBHOOK_RETRY: RetryPolicy = { maxAttempts: 6, baseDelayMs: 1000, maxDelayMs: 60_000 };

export class AlertWebhook {
  readonly #options: AlertWebhookOptions;
  readonly #queue: object[] = [];
  readonly #abort = new AbortController();
  #draining: Promise<void> | undefined;

  constructor(options: AlertWebhookOptions) {
    this.#options = options;
  }

  /** Queues one change; delivery happens in the background, in order. */
  send(payload: object): void {
    const max = this.#options.maxQueue ?? 100;
    this.#queue.push(payload);
    while (this.#queue.length > max) {
      this.#queue.shift();
      this.#options.onOutcome?.('dropped');
      this.#options.log.warn({ max }, 'alert webhook queue full: dropped the oldest change');
    }
    this.#draining ??= this.#drain().finally(() => (this.#draining = undefined));
  }

  /** Resolves once the queue is empty (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining;
  }

  /** Stops retrying; changes still queued are dropped. */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#draining?.catch(() => undefined);
  }

  async #drain(): Promise<void> {
    for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
      if (this.#abort.signal.aborted) return;
      try {
        await withRetry(() => this.#post(next), {
          policy: this.#options.retry ?? DEFAULT_WEBHOOK_RETRY,
          sleep: (ms, signal) => this.#options.clock.sleep(ms, signal),
          abortSignal: this.#abort.signal,
        });
        this.#options.onOutcome?.('delivered');
      } catch (error) {
        this.#options.onOutcome?.('failed');
        this.#options.log.warn({ err: error }, 'alert webhook: change not delivered');
      }
    }
  }

  async #post(payload: object): Promise<void> {
    let response: Response;
    try {
      response = await fetch(this.#options.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(payload),
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs ?? 10_000)]),
      });
      await response.arrayBuffer();
    } catch (error) {
      throw new AppError('UNAVAILABLE', 'the alert webhook did not answer', { cause: error });
    }
    if (response.ok) return;
    // 4xx but 408/429: the receiver refuses this payload, and will refuse it again.
    const retryable = response.status >= 500 || response.status === 408 || response.status === 429;
    throw new AppError(
      retryable ? 'UNAVAILABLE' : 'VALIDATION_FAILED',
      `the alert webhook answered ${response.status}`,
      {
        retryable,
      },
    );
  }
}
