// Rate limits per principal, per customer, and (lower) for admin routes that scan a store: fixed
// one-minute windows counted in the cache, so instances sharing Redis share the counts (the in-process
// LRU counts per instance). The cache fails open, and so do the limits: a Redis outage never refuses
// a request. Checked after authentication, so a caller cannot spend another principal's budget.
import { AppError } from '../domain/errors.ts';
import type { Cache } from '../ports/cache.ts';
import type { Clock } from '../ports/clock.ts';

export interface RateLimitSettings {
  /** Requests per minute per token subject; 0: no limit. */
  readonly perPrincipal: number;
  /** Requests per minute per customer, whoever asks; 0: no limit. */
  readonly perCustomer: number;
  /** Requests per minute per subject to admin routes that scan; 0: no limit. */
  readonly scanning: number;
}

export const WINDOW_MS = 60_000;

export interface RateLimiter {
  /** Throws THROTTLED (429, Retry-After: the rest of the window) when a limit is spent. */
  check(request: { subject: string; customerId: string | undefined; scans: boolean }): Promise<void>;
}

export function createRateLimiter(
  cache: Cache,
  clock: Pick<Clock, 'now'>,
  limits: RateLimitSettings,
): RateLimiter {
  return {
    async check({ subject, customerId, scans }) {
      const now = clock.now().getTime();
      const window = Math.floor(now / WINDOW_MS);
      const retryAfterMs = (window + 1) * WINDOW_MS - now;
      const counted: Array<{ key: string; limit: number; what: string }> = [];
      if (limits.perPrincipal > 0)
        counted.push({ key: `principal:${subject}`, limit: limits.perPrincipal, what: 'this caller' });
      if (customerId !== undefined && limits.perCustomer > 0)
        counted.push({
          key: `customer:${customerId}`,
          limit: limits.perCustomer,
          what: `customer ${customerId}`,
        });
      if (scans && limits.scanning > 0)
        counted.push({ key: `scan:${subject}`, limit: limits.scanning, what: 'scanning admin requests' });
      const counts = await Promise.all(
        counted.map(({ key }) => cache.increment(`rate:${key}:${window}`, WINDOW_MS + 1_000)),
      );
      counted.forEach(({ limit, what }, index) => {
        const count = counts[index];
        if (count !== undefined && count > limit) {
          throw new AppError('THROTTLED', `Over ${limit} requests a minute for ${what}; retry later`, {
            retryAfterMs,
          });
        }
      });
    },
  };
}
