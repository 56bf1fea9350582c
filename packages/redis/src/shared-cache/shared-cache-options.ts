import type { Redis } from 'ioredis';
import { type CacheClass, CacheRegistry, type cacheRegistry, checkAuditFields } from '../cache-registry.ts';
import { RedisStoreError } from '../errors.ts';
import type { RedisClient } from '../scripts.ts';
import {
  checkCallTtlMs,
  checkClient,
  checkId,
  checkInt,
  checkPrefix,
  checkTtlMsOption,
  throwIfProblems,
} from '../store-options.ts';
import { MAX_TAGS } from './entry.ts';
import type { SharedCache } from './shared-cache.ts';

/** Turns cached values into strings and back. Default: JSON. */
export interface CacheSerializer<T> {
  serialize(value: T): string;
  deserialize(text: string): T;
}

/** Options of {@link SharedCache}. */
export interface SharedCacheOptions<T> {
  /** Names the cache in Redis keys, pub/sub channels and the audit table. */
  readonly name: string;
  /**
   * Required. `cluster`: every pod must see the same data (Redis is required; an in-process L1 is
   * only allowed with a `subscriber` for cross-pod invalidation). `pod`: a per-pod copy is fine
   * (Redis optional).
   */
  readonly class: CacheClass;
  /** Required. Why this cache exists and why its class is right, for the audit table. */
  readonly reason: string;
  /** Default time a value stays fresh, in ms. */
  readonly ttlMs: number;
  /** L2: the caller's ioredis `Redis` or `Cluster`. Required for `class: 'cluster'`. */
  readonly redis?: RedisClient;
  /**
   * A dedicated plain ioredis `Redis` connection for invalidation messages: `redis.duplicate()`
   * on a single node; on a Redis Cluster, a `Redis` connection to any one node of it (PUBLISH
   * reaches every node), never a `Cluster`, whose re-subscription after a lost connection cannot be
   * observed. It must reconnect: `retryStrategy: null` is refused. Without it, a `cluster` cache
   * keeps no L1. May be shared by several caches; it stays the caller's.
   */
  readonly subscriber?: Redis;
  /**
   * Bounded in-process tier. `ttlMs` caps how long the L1 trusts a value (default: the entry's TTL).
   * Default `{ maxEntries: 1000 }` when allowed, `false` for a `cluster` cache without subscriber.
   */
  readonly l1?: { readonly maxEntries: number; readonly ttlMs?: number } | false;
  /** After expiry, serve the old value for this long when the loader or Redis fails. Default 0. */
  readonly staleIfErrorMs?: number;
  /**
   * Cross-pod stampede protection on a miss: one pod takes a short Redis lease (`SET NX PX`) and
   * computes; the others serve the stale value or poll Redis for up to `waitMs`, then compute
   * themselves. Default `{ ttlMs: 5000, waitMs: 2000 }`.
   */
  readonly lease?: { readonly ttlMs?: number; readonly waitMs?: number } | false;
  /** XFetch probabilistic early refresh; `beta` > 1 refreshes earlier. Default `{ beta: 1 }`. */
  readonly earlyRefresh?: { readonly beta?: number } | false;
  /**
   * When Redis cannot answer: `fail-closed` throws `ERR_REDIS_UNAVAILABLE`/`ERR_REDIS_TIMEOUT`
   * (unless a stale value within `staleIfErrorMs` exists); `bypass` calls the loader directly and
   * caches nothing shared. Default: `fail-closed` for `cluster`, `bypass` for `pod`.
   */
  readonly onRedisDown?: 'fail-closed' | 'bypass';
  /** Key prefix. Default `rampart:cache`. */
  readonly prefix?: string;
  /** Hard limit for one Redis call, in ms. Default 50. */
  readonly timeoutMs?: number;
  /** Default: JSON. */
  readonly serializer?: CacheSerializer<T>;
  /**
   * Called for failures that do not fail the call: background refreshes, cache writes, an
   * undecodable entry, the Lua scripts `ready()` could not load into Redis, and a Redis failure a
   * call rides out under the Redis-down policy (`bypass`, or a stale or L1 value served instead; a
   * `getOrSet()` miss whose read succeeded but whose generation or tag step failed included). What
   * it throws is dropped: many reports are made in the background, where a throw would be an
   * unhandled rejection. Its first throw emits one process warning per cache (code
   * `RAMPART_ONERROR_THREW`, naming the cache only).
   */
  readonly onError?: (error: unknown) => void;
  /** Where the cache registers for the audit table. Default: the package-wide {@link cacheRegistry}. */
  readonly registry?: CacheRegistry;
  /** For tests: the clock and the random source of XFetch. */
  readonly clock?: { readonly now: () => number; readonly random: () => number };
}

/** Per-call options of {@link SharedCache.set} and {@link SharedCache.getOrSet}. */
export interface CacheWriteOptions {
  /** Overrides the cache's `ttlMs`. */
  readonly ttlMs?: number;
  /**
   * Tags for {@link SharedCache.invalidateTags}: at most 64 (each is checked in Redis on every read
   * of the key); more are refused with `ERR_REDIS_INVALID_ARGUMENT`.
   */
  readonly tags?: readonly string[];
}

const JSON_SERIALIZER: CacheSerializer<never> = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text) as never,
};

/** {@link SharedCacheOptions} checked, with their defaults filled in. */
interface ResolvedSharedCacheOptions<T> {
  readonly ttlMs: number;
  /** Undefined: no L1. */
  readonly l1: { readonly maxEntries: number; readonly ttlMs?: number } | undefined;
  readonly staleIfErrorMs: number;
  /** Undefined: no cross-pod lease. */
  readonly lease: { readonly ttlMs: number; readonly waitMs: number } | undefined;
  /** Undefined: no early refresh. */
  readonly beta: number | undefined;
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly serializer: CacheSerializer<T>;
}

/**
 * Checks every option of a `SharedCache` at once and throws `ERR_REDIS_INVALID_OPTIONS` listing
 * each problem.
 */
export function resolveSharedCacheOptions<T>(options: SharedCacheOptions<T>): ResolvedSharedCacheOptions<T> {
  const problems: string[] = [];
  const o = (options ?? {}) as Partial<SharedCacheOptions<T>>;
  checkAuditFields(o, problems);
  const ttlMs = checkTtlMsOption(o.ttlMs, problems);
  const hasRedis = o.redis !== undefined;
  if (hasRedis) checkClient(o.redis, 'redis', problems);
  else if (o.class === 'cluster') {
    problems.push("redis is required for class 'cluster': state every pod must agree on lives in Redis.");
  }
  if (o.subscriber !== undefined) {
    checkClient(o.subscriber, 'subscriber', problems);
    if (!hasRedis) problems.push('subscriber needs redis: invalidations are published through it.');
    if (o.subscriber === o.redis) problems.push('subscriber must be a dedicated connection (redis.duplicate()).');
    if ((o.subscriber as { isCluster?: unknown } | null)?.isCluster === true) {
      problems.push(
        'subscriber must be a plain ioredis Redis connection to one node of the cluster (new Redis({ host, port }) of any node), not a Cluster: ' +
          'PUBLISH in Redis Cluster reaches every node, so subscribing on one node hears every invalidation, while a Cluster re-subscribes ' +
          'on another node after a lost connection without any event, so invalidations lost meanwhile would go unnoticed and the L1 would serve deleted values.',
      );
    } else if ((o.subscriber as { options?: { retryStrategy?: unknown } } | null)?.options?.retryStrategy === null) {
      // ioredis documents retryStrategy: null as "never reconnect": after one lost connection the
      // caches on it would run without L1 for good, and nothing would say so.
      problems.push(
        'subscriber must reconnect after a lost connection: remove retryStrategy: null from its options ' +
          "(a Cluster's node options carry it: do not copy them as they are), or its caches lose their L1 for good at the first drop.",
      );
    }
  }
  let l1: { maxEntries: number; ttlMs?: number } | undefined;
  if (o.l1 === false) {
    if (!hasRedis) problems.push('l1 cannot be false without redis: the cache would hold nothing.');
  } else if (o.l1 !== undefined) {
    const maxEntries = checkInt(o.l1.maxEntries, 'l1.maxEntries', { min: 1, max: 10_000_000 }, problems);
    const l1Ttl =
      o.l1.ttlMs === undefined ? undefined : checkInt(o.l1.ttlMs, 'l1.ttlMs', { min: 1, max: ttlMs }, problems);
    l1 = l1Ttl === undefined ? { maxEntries } : { maxEntries, ttlMs: l1Ttl };
    if (o.class === 'cluster' && o.subscriber === undefined) {
      problems.push(
        "l1 needs a subscriber for class 'cluster': without cross-pod invalidation a pod would serve values other pods deleted.",
      );
    }
  } else if (o.class !== 'cluster' || o.subscriber !== undefined) {
    l1 = { maxEntries: 1_000 };
  }
  const staleIfErrorMs = checkInt(
    o.staleIfErrorMs,
    'staleIfErrorMs',
    { min: 0, max: 366 * 86_400_000, fallback: 0 },
    problems,
  );
  let lease: { ttlMs: number; waitMs: number } | undefined;
  if (o.lease !== false && hasRedis) {
    lease = {
      ttlMs: checkInt(o.lease?.ttlMs, 'lease.ttlMs', { min: 1, max: 600_000, fallback: 5_000 }, problems),
      waitMs: checkInt(o.lease?.waitMs, 'lease.waitMs', { min: 0, max: 600_000, fallback: 2_000 }, problems),
    };
  }
  let beta: number | undefined;
  if (o.earlyRefresh !== false) {
    beta = o.earlyRefresh?.beta ?? 1;
    if (typeof beta !== 'number' || !(beta > 0 && beta <= 100)) problems.push('earlyRefresh.beta must be in (0, 100].');
  }
  if (o.onRedisDown !== undefined && o.onRedisDown !== 'fail-closed' && o.onRedisDown !== 'bypass') {
    problems.push("onRedisDown must be 'fail-closed' or 'bypass'.");
  }
  const prefix = checkPrefix(o.prefix, 'rampart:cache', problems);
  const timeoutMs = checkInt(o.timeoutMs, 'timeoutMs', { min: 1, max: 60_000, fallback: 50 }, problems);
  const serializer = o.serializer ?? (JSON_SERIALIZER as CacheSerializer<T>);
  if (typeof serializer?.serialize !== 'function' || typeof serializer?.deserialize !== 'function') {
    problems.push('serializer must have serialize(value) and deserialize(text) functions.');
  }
  if (o.onError !== undefined && typeof o.onError !== 'function') problems.push('onError must be a function.');
  if (o.registry !== undefined && !(o.registry instanceof CacheRegistry)) {
    problems.push('registry must be a CacheRegistry.');
  }
  throwIfProblems(`SharedCache${typeof o.name === 'string' ? ` "${o.name}"` : ''}`, problems);
  return { ttlMs, l1, staleIfErrorMs, lease, beta, prefix, timeoutMs, serializer };
}

/** The `ttlMs` of one write: `ttlMs`, else the cache's `fallback`; held to the bound of the `ttlMs` option. */
function checkWriteTtl(ttlMs: number | undefined, fallback: number, cacheName: string, operation: string): number {
  const ttl = ttlMs ?? fallback;
  checkCallTtlMs(ttl, `SharedCache "${cacheName}".${operation}`);
  return ttl;
}

/** A write's checked `ttlMs` and tags. */
export interface Write {
  readonly ttl: number;
  readonly tags: readonly string[];
}

/** Checks the per-call options of a write; throws `ERR_REDIS_INVALID_ARGUMENT` before anything runs. */
export function checkWrite(
  options: CacheWriteOptions,
  fallbackTtl: number,
  cacheName: string,
  operation: string,
): Write {
  return {
    ttl: checkWriteTtl(options.ttlMs, fallbackTtl, cacheName, operation),
    tags: checkTags(options.tags, cacheName, operation),
  };
}

/**
 * The tags of one write or invalidation: an array of at most {@link MAX_TAGS} distinct valid ids,
 * each once (none when undefined).
 */
export function checkTags(
  tags: readonly string[] | undefined,
  cacheName: string,
  operation: string,
): readonly string[] {
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) {
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_ARGUMENT',
      `SharedCache "${cacheName}".${operation}: tags must be an array.`,
    );
  }
  // A tag named twice is one tag: counted, read and bumped once.
  const distinct = tags.length > 1 ? [...new Set(tags)] : tags;
  if (distinct.length > MAX_TAGS) {
    // The count is not named: a list may come from a request.
    const fix =
      operation === 'invalidateTags'
        ? `name at most ${MAX_TAGS} tags per call: split the list over several invalidateTags calls, or use fewer, broader tags`
        : `give a key at most ${MAX_TAGS} tags: use fewer, broader tags (a tenant's tag rather than one per user or item), since every read of the key checks each of them in Redis`;
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_ARGUMENT',
      `SharedCache "${cacheName}".${operation}: too many tags; ${fix}.`,
    );
  }
  for (const tag of distinct) checkId(tag, `SharedCache "${cacheName}".${operation}`, 'each tag');
  return distinct;
}
