// Retry strategy as a pure function from the retry state to a decision, as the Azure SDK does:
// honour the dependency's retry-after first, otherwise exponential backoff with cap and full jitter.
import { isAppError } from './errors.ts';

export interface RetryPolicy {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 5_000 };

export type RetryDecision = { readonly retry: false } | { readonly retry: true; readonly delayMs: number };

/** `attempt` counts the attempts made so far (1 after the first failure); `random` is in [0, 1). */
export function decideRetry(
  policy: RetryPolicy,
  attempt: number,
  error: unknown,
  random: number,
): RetryDecision {
  if (!isAppError(error) || !error.retryable || attempt >= policy.maxAttempts) return { retry: false };
  if (error.retryAfterMs !== undefined)
    return { retry: true, delayMs: Math.min(error.retryAfterMs, policy.maxDelayMs) };
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return { retry: true, delayMs: Math.floor(ceiling * random) };
}

export interface RetryOptions {
  readonly policy?: RetryPolicy;
  readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly abortSignal?: AbortSignal;
  readonly onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
  /** Errors another layer has already retried (the Cosmos SDK owns 429s): passed on at once, not stacked. */
  readonly retriedBelow?: (error: unknown) => boolean;
}

export async function withRetry<T>(
  operation: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  const random = options.random ?? Math.random;
  for (let attempt = 1; ; attempt++) {
    try {
      return await operation(attempt);
    } catch (error) {
      if (options.retriedBelow?.(error) === true) throw error;
      const decision = decideRetry(policy, attempt, error, random());
      if (!decision.retry || options.abortSignal?.aborted === true) throw error;
      options.onRetry?.(attempt, error, decision.delayMs);
      await options.sleep(decision.delayMs, options.abortSignal);
    }
  }
}
