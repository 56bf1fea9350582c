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
  /** Live (and not yet evicted) ids and their expiry. */
  const seen = new Map<string, number>();
  // Verifiers sharing this store may use different TTLs (and a clock may step back), so insertion
  // order is not expiry order: a binary min-heap by expiry finds expired ids in O(log n). A node
  // whose id was since re-inserted or evicted no longer matches `seen` and is skipped when popped.
  const heap: { expires: number; id: string }[] = [];

  const push = (node: { expires: number; id: string }): void => {
    let i = heap.push(node) - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent] as { expires: number; id: string };
      if (above.expires <= node.expires) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = node;
  };

  const pop = (): void => {
    const last = heap.pop();
    if (last === undefined || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length &&
        (heap[right] as { expires: number }).expires < (heap[left] as { expires: number }).expires
          ? right
          : left;
      const below = heap[child] as { expires: number; id: string };
      if (below.expires >= last.expires) break;
      heap[i] = below;
      i = child;
    }
    heap[i] = last;
  };

  /**
   * Drops expired ids, earliest first: at most `budget` heap nodes, or when the store is full,
   * until it has room or nothing left has expired. Each node is popped once, so this is O(log n)
   * amortized per check, and the heap never holds more than the ids plus the expired leftovers.
   */
  const evictExpired = (at: number, budget: number): void => {
    for (let popped = 0; heap.length > 0; popped++) {
      const top = heap[0] as { expires: number; id: string };
      if (top.expires > at) return;
      if (popped >= budget && seen.size < maxEntries) return;
      if (seen.get(top.id) === top.expires) seen.delete(top.id);
      pop();
    }
  };

  return {
    async check(id, ttlMs) {
      if (typeof ttlMs !== 'number' || !Number.isFinite(ttlMs) || ttlMs < 0) {
        // NaN would make the id never count as seen: refuse rather than answer "first time".
        throw new BearerError(
          'ERR_BEARER_REPLAY_STORE_UNAVAILABLE',
          'The in-memory replay store was called with a TTL that is not a non-negative number of milliseconds.',
          { retryAfterSeconds: 5 },
        );
      }
      const at = now();
      const known = seen.get(id);
      if (known !== undefined && known > at) return false;
      if (known !== undefined) seen.delete(id);
      // A few expired ids per call keep memory near the live set; a full store evicts all it must.
      evictExpired(at, 4);
      if (seen.size >= maxEntries) {
        throw new BearerError(
          'ERR_BEARER_REPLAY_STORE_UNAVAILABLE',
          'The in-memory replay store is full of live ids; raise maxEntries or use a Redis replay store.',
          { retryAfterSeconds: 5 },
        );
      }
      const expires = at + ttlMs;
      seen.set(id, expires);
      push({ expires, id });
      return true;
    },
  };
}
