import type { ReplayGuard } from '@rampart/redis';
import { BearerError } from './errors.ts';
import type { ReplayStore } from './replay-store.ts';

/**
 * A {@link ReplayStore} on `@rampart/redis`'s `ReplayGuard` (one atomic `SET NX PX` per proof), so
 * a DPoP proof accepted by one pod is refused by every other pod. Create the guard with the
 * default `fail-closed` policy: when Redis is down the verifier answers 503, never "first time".
 * `@rampart/redis` is an optional peer dependency, needed only for this subpath.
 *
 * @example
 * ```ts
 * import { ReplayGuard } from '@rampart/redis';
 * import { redisReplayStore } from '@rampart/bearer/redis';
 * const guard = new ReplayGuard({ redis, name: 'dpop-jti', ttlMs: 120_000 });
 * const verifier = createBearerVerifier({ ...options, dpop: { ...dpop, replayStore: redisReplayStore(guard) } });
 * ```
 */
export function redisReplayStore(guard: Pick<ReplayGuard, 'check'>): ReplayStore {
  if (typeof guard?.check !== 'function') {
    throw new BearerError(
      'ERR_BEARER_INVALID_OPTIONS',
      'Invalid redisReplayStore options: guard must be a ReplayGuard from @rampart/redis.',
    );
  }
  return { check: (id, ttlMs) => guard.check(id, Math.max(1, Math.ceil(ttlMs))) };
}
