import { BearerError } from './errors.ts';

/**
 * "Is this the first time this id is seen within `ttlMs`?" Exactly one of any number of concurrent
 * callers with the same id gets `true`. A store that cannot answer must throw (the verifier then
 * answers 503): it must never say "first time" when it does not know.
 *
 * `ReplayGuard` from `@rampart/redis` has this shape; wrap it with `redisReplayStore()` from
 * `@rampart/bearer/redis` so proofs are refused across every pod.
 */
export interface ReplayStore {
  check(id: string, ttlMs: number): Promise<boolean>;
}

/** Options of {@link memoryReplayStore}. */
export interface MemoryReplayStoreOptions {
  /** Ids remembered at once; when full of live ids, checks fail closed (503). Default 100000. */
  readonly maxEntries?: number;
  /** Clock in ms, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * A per-process replay store. **It only protects one pod**: a proof replayed against another pod
 * passes. Use it for a single instance or in tests; behind a load balancer use
 * `redisReplayStore()` from `@rampart/bearer/redis`.
 *
 * @example
 * ```ts
 * import { memoryReplayStore } from '@rampart/bearer';
 * const replayStore = memoryReplayStore({ maxEntries: 50_000 });
 * ```
 */
export function memoryReplayStore(options: MemoryReplayStoreOptions = {}): ReplayStore {
  const maxEntries = options.maxEntries ?? 100_000;
  if (!Number.isInteger(maxEntries) || maxEntries < 1) {
    throw new BearerError(
      'ERR_BEARER_INVALID_OPTIONS',
      'Invalid memoryReplayStore options: maxEntries must be a positive integer.',
    );
  }
  const now = options.now ?? Date.now;
  const seen = new Map<string, number>();
  return {
    async check(id, ttlMs) {
      const at = now();
      const known = seen.get(id);
      if (known !== undefined && known > at) return false;
      if (known !== undefined) seen.delete(id);
      if (seen.size >= maxEntries) {
        // Entries share one TTL, so insertion order is expiry order: drop the expired head.
        for (const [key, expires] of seen) {
          if (expires > at) break;
          seen.delete(key);
        }
      }
      if (seen.size >= maxEntries) {
        throw new BearerError(
          'ERR_BEARER_REPLAY_STORE_UNAVAILABLE',
          'The in-memory replay store is full of live ids; raise maxEntries or use a Redis replay store.',
          { retryAfterSeconds: 5 },
        );
      }
      seen.set(id, at + ttlMs);
      return true;
    },
  };
}
