// The stores as a run sees them: every call is timed for the concurrency controller, and a throttled
// call (429) tells it the store's retry-after, waits that out and is sent again. A throttled request
// was refused before it ran, so sending it again is safe for conditional and create-only writes alike.
import { isAppError } from '../domain/errors.ts';
import type { Clock } from '../ports/clock.ts';
import type { AdaptiveConcurrency } from './adaptive-concurrency.ts';

/** Sends of one throttled call before its 429 is the step's failure (recorded with backoff). */
export const MAX_THROTTLED_SENDS = 6;
/** Waited when a 429 carries no retry-after. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

export function observeCongestion<T extends object>(
  port: T,
  name: string,
  controller: AdaptiveConcurrency,
  clock: Clock,
  signal?: AbortSignal,
): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      const kind = `${name}.${String(property)}`;
      return (...args: unknown[]): unknown => {
        const send = (): unknown => Reflect.apply(value, target, args);
        const started = clock.now().getTime();
        const first = send();
        // Synchronous members (names, getters as methods) pass through untouched.
        if (!(first instanceof Promise)) return first;
        return observe(first, started, 1);
        async function observe(pending: Promise<unknown>, sentMs: number, sends: number): Promise<unknown> {
          try {
            const result = await pending;
            controller.answered(clock.now().getTime() - sentMs, kind);
            return result;
          } catch (error) {
            if (!isAppError(error) || error.code !== 'THROTTLED' || sends >= MAX_THROTTLED_SENDS) throw error;
            const waitMs = error.retryAfterMs ?? DEFAULT_RETRY_AFTER_MS;
            controller.throttled(waitMs);
            await clock.sleep(waitMs, signal);
            return observe(send() as Promise<unknown>, clock.now().getTime(), sends + 1);
          }
        }
      };
    },
  });
}
