// Readiness of the stores for /readyz: one cheap call per store, and the answer shared for a few
// seconds, so many instances probed often cost a handful of requests a minute, not one per probe.
import type { ReadinessReport } from '../api/route-definition.ts';
import type { Cache } from '../ports/cache.ts';
import type { Clock } from '../ports/clock.ts';
import type { ServicePorts } from './wire-services.ts';

/** How long a readiness answer is reused: probes every few seconds from each instance stay cheap. */
export const READINESS_CACHE_MS = 5_000;

export async function checkReadiness(ports: ServicePorts): Promise<ReadinessReport> {
  const up = (promise: Promise<unknown>): Promise<'up' | 'down'> =>
    promise.then(
      () => 'up' as const,
      () => 'down' as const,
    );
  const cacheCheck = (cache: Cache | undefined): Promise<'up' | 'down' | 'absent'> =>
    cache === undefined ? Promise.resolve('absent') : cache.healthy().then((ok) => (ok ? 'up' : 'down'));
  const [hotStore, archiveState, cacheState] = await Promise.all([
    up(ports.store.ping()),
    up(ports.archive.ping()),
    cacheCheck(ports.cache),
  ]);
  // The cache fails open: a cache outage slows archived reads but does not make the service unready.
  return {
    ready: hotStore === 'up' && archiveState === 'up',
    checks: { hotStore, archive: archiveState, cache: cacheState },
  };
}

/** `check` at most once per `ttlMs` of `clock`; concurrent probes share the call in flight. */
export function cachedReadiness(
  check: () => Promise<ReadinessReport>,
  clock: Pick<Clock, 'now'>,
  ttlMs: number = READINESS_CACHE_MS,
): () => Promise<ReadinessReport> {
  let last: { at: number; answer: Promise<ReadinessReport> } | undefined;
  return () => {
    const now = clock.now().getTime();
    if (last === undefined || now - last.at >= ttlMs || now < last.at) {
      const answer = check();
      last = { at: now, answer };
      // A check that throws is not kept: the next probe checks again.
      answer.catch(() => {
        if (last?.answer === answer) last = undefined;
      });
    }
    return last.answer;
  };
}
