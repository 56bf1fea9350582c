import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  type AuditedStore,
  type CacheAuditRow,
  type CacheClass,
  CacheRegistry,
  cacheRegistry,
  checkAuditFields,
} from '../cache-registry.ts';
import { RedisStoreError } from '../errors.ts';
import { RedisCallGuard } from '../redis-down-policy.ts';
import type { RedisClient } from '../scripts.ts';
import { checkClient, checkId, checkInt, checkPrefix, throwIfProblems } from '../store-options.ts';
import type { StoredEntry } from './entry.ts';
import { encodeInvalidation, InvalidationBus, type InvalidationMessage } from './invalidation-bus.ts';
import { BoundedLru, type L1Entry } from './l1.ts';
import { CacheRedisTier } from './redis-tier.ts';
import { shouldRefreshEarly } from './xfetch.ts';

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
   * A dedicated connection (e.g. `redis.duplicate()`) for invalidation messages. Without it, a
   * `cluster` cache keeps no L1. May be shared by several caches; it stays the caller's.
   */
  readonly subscriber?: RedisClient;
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
  /** Called for failures that do not fail the call: background refreshes, cache writes. */
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
  /** Tags for {@link SharedCache.invalidateTags}. */
  readonly tags?: readonly string[];
}

const JSON_SERIALIZER: CacheSerializer<never> = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text) as never,
};

const POLL_INTERVAL_MS = 10;

/**
 * A two-tier cache, classified for the audit: a bounded in-process L1 in front of Redis (L2), with
 * cross-pod L1 invalidation over pub/sub, single flight per key in the process plus a short Redis
 * lease across pods against stampedes, XFetch early refresh, stale-if-error, tag invalidation and
 * a clear that works on a Cluster. The constructor refuses a cache without a class and a reason.
 *
 * @example
 * ```ts
 * import { SharedCache } from '@rampart/redis';
 * import { Redis } from 'ioredis';
 *
 * const redis = new Redis({ enableOfflineQueue: false });
 * const jwks = new SharedCache<JsonWebKeySet>({
 *   name: 'jwks',
 *   class: 'cluster',
 *   reason: 'signing keys rotate: every pod must drop a retired key together',
 *   ttlMs: 300_000,
 *   redis,
 *   subscriber: redis.duplicate(),
 *   staleIfErrorMs: 3_600_000,
 * });
 * await jwks.ready();
 * const keys = await jwks.getOrSet('issuer-a', () => fetchJwks('https://issuer-a/jwks'), { tags: ['issuer-a'] });
 * ```
 */
export class SharedCache<T = unknown> implements AuditedStore {
  readonly name: string;
  readonly class: CacheClass;
  readonly reason: string;
  readonly ttlMs: number;
  readonly #redis: CacheRedisTier | undefined;
  readonly #channel: string;
  readonly #l1: BoundedLru<T> | undefined;
  readonly #l1TtlMs: number | undefined;
  readonly #bus: InvalidationBus | undefined;
  readonly #busStarted: Promise<void> | undefined;
  readonly #staleIfErrorMs: number;
  readonly #lease: { readonly ttlMs: number; readonly waitMs: number } | undefined;
  readonly #beta: number | undefined;
  readonly #failClosed: boolean;
  readonly #serializer: CacheSerializer<T>;
  readonly #onError: (error: unknown) => void;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #origin = randomBytes(8).toString('hex');
  readonly #inflight = new Map<string, Promise<T>>();
  readonly #refreshing = new Set<string>();
  readonly #unregister: () => void;

  constructor(options: SharedCacheOptions<T>) {
    const problems: string[] = [];
    const o = (options ?? {}) as Partial<SharedCacheOptions<T>>;
    checkAuditFields(o, problems);
    const ttlMs = checkInt(o.ttlMs, 'ttlMs', { min: 1, max: 366 * 86_400_000 }, problems);
    const hasRedis = o.redis !== undefined;
    if (hasRedis) checkClient(o.redis, 'redis', problems);
    else if (o.class === 'cluster') {
      problems.push("redis is required for class 'cluster': state every pod must agree on lives in Redis.");
    }
    if (o.subscriber !== undefined) {
      checkClient(o.subscriber, 'subscriber', problems);
      if (!hasRedis) problems.push('subscriber needs redis: invalidations are published through it.');
      if (o.subscriber === o.redis) problems.push('subscriber must be a dedicated connection (redis.duplicate()).');
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
      if (typeof beta !== 'number' || !(beta > 0 && beta <= 100))
        problems.push('earlyRefresh.beta must be in (0, 100].');
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

    this.name = o.name as string;
    this.class = o.class as CacheClass;
    this.reason = o.reason as string;
    this.ttlMs = ttlMs;
    const base = `${prefix}${this.name}:`;
    this.#redis = o.redis
      ? new CacheRedisTier(
          o.redis,
          new RedisCallGuard(o.redis, { timeoutMs }),
          base,
          `SharedCache "${this.name}"`,
          staleIfErrorMs,
        )
      : undefined;
    this.#channel = `${base}invalidate`;
    this.#l1 = l1 ? new BoundedLru<T>(l1.maxEntries) : undefined;
    this.#l1TtlMs = l1?.ttlMs;
    this.#staleIfErrorMs = staleIfErrorMs;
    this.#lease = lease;
    this.#beta = beta;
    this.#failClosed = (o.onRedisDown ?? (this.class === 'cluster' ? 'fail-closed' : 'bypass')) === 'fail-closed';
    this.#serializer = serializer;
    this.#onError = o.onError ?? (() => {});
    this.#now = o.clock?.now ?? Date.now;
    this.#random = o.clock?.random ?? Math.random;
    if (o.subscriber && this.#l1) {
      this.#bus = new InvalidationBus(
        o.subscriber,
        this.#channel,
        (m) => this.#applyInvalidation(m),
        () => this.#l1?.clear(),
      );
      this.#busStarted = this.#bus.start();
      this.#busStarted.catch((error: unknown) => this.#onError(error));
    }
    this.#unregister = (o.registry ?? cacheRegistry).register(this);
  }

  /** Resolves once cross-pod invalidation is subscribed (until then the L1 is bypassed). */
  async ready(): Promise<void> {
    await this.#busStarted;
  }

  /** Entries held in this process. */
  get size(): number {
    return this.#l1?.size ?? 0;
  }

  /** The fresh value for `key`, or `undefined`. */
  async get(key: string): Promise<T | undefined> {
    checkId(key, `SharedCache "${this.name}".get`, 'key');
    const now = this.#now();
    const local = this.#l1Get(key, now);
    if (local && local.expiresAt > now) return local.value;
    if (!this.#redis) return undefined;
    try {
      const entry = await this.#redis.read(key);
      if (entry && entry.e > now) {
        const value = this.#serializer.deserialize(entry.v);
        this.#l1Set(key, value, entry, now, Object.keys(entry.t ?? {}));
        return value;
      }
      return undefined;
    } catch (error) {
      return this.#onRedisError(error, key, now);
    }
  }

  /**
   * The value for `key`; on a miss, computes it with `loader` once per key in this process and,
   * through a short Redis lease, once across pods. Near expiry one caller refreshes early (XFetch)
   * while others keep the current value; when `loader` fails, a value within `staleIfErrorMs` is
   * served instead.
   */
  async getOrSet(key: string, loader: () => Promise<T> | T, options: CacheWriteOptions = {}): Promise<T> {
    checkId(key, `SharedCache "${this.name}".getOrSet`, 'key');
    const now = this.#now();
    const local = this.#l1Get(key, now);
    if (local && local.expiresAt > now) {
      if (this.#refreshDue(local.expiresAt, local.deltaMs, now)) this.#refreshInBackground(key, loader, options);
      return local.value;
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const load = this.#miss(key, loader, options, local, now).finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, load);
    return load;
  }

  /**
   * Stores `value` in Redis and this pod's L1, and tells other pods to drop their copies. While
   * Redis is down: throws when fail-closed; with `bypass`, keeps the value in this pod only.
   */
  async set(key: string, value: T, options: CacheWriteOptions = {}): Promise<void> {
    checkId(key, `SharedCache "${this.name}".set`, 'key');
    const ttl = this.#ttl(options.ttlMs, 'set');
    const tags = this.#tags(options.tags, 'set');
    const now = this.#now();
    let versions: Record<string, number> | undefined;
    try {
      versions = this.#redis ? await this.#redis.tagVersions(tags, ttl) : undefined;
    } catch (error) {
      if (this.#failClosed) throw error;
      this.#onError(error);
      return; // bypass: a tagged value that cannot be versioned is not cached
    }
    const entry: StoredEntry = {
      v: this.#serializer.serialize(value),
      e: now + ttl,
      d: 0,
      ...(versions ? { t: versions } : {}),
    };
    if (this.#redis) {
      try {
        await this.#writeL2(key, entry, ttl);
      } catch (error) {
        if (this.#failClosed) throw error;
        this.#onError(error);
      }
    }
    this.#l1Set(key, value, entry, now, tags);
  }

  /** Removes `key` from Redis and from every pod's L1. */
  async delete(key: string): Promise<void> {
    checkId(key, `SharedCache "${this.name}".delete`, 'key');
    this.#l1?.delete(key);
    if (!this.#redis) return;
    await this.#redis.delete(key);
    await this.#publish({ origin: this.#origin, keys: [key] });
  }

  /** Invalidates every entry carrying one of `tags`, in Redis and in every pod's L1. */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const list = this.#tags(tags, 'invalidateTags');
    this.#l1?.deleteTagged(list);
    if (!this.#redis || list.length === 0) return;
    await this.#redis.bumpTags(list);
    await this.#publish({ origin: this.#origin, tags: list });
  }

  /** Deletes every entry of this cache on every Cluster master and in every pod's L1. */
  async clear(): Promise<void> {
    this.#l1?.clear();
    if (!this.#redis) return;
    // SCAN may take longer than one call's timeout: it is an administrative operation.
    await this.#redis.clear().catch((error: unknown) => {
      throw new RedisStoreError('ERR_REDIS_UNAVAILABLE', `SharedCache "${this.name}".clear: the Redis call failed.`, {
        cause: error,
      });
    });
    await this.#publish({ origin: this.#origin, all: true });
  }

  /** A row of the cache audit table. */
  audit(): CacheAuditRow {
    return {
      name: this.name,
      kind: 'SharedCache',
      class: this.class,
      reason: this.reason,
      backing: this.#l1 ? (this.#redis ? 'l1+redis' : 'l1') : 'redis',
      size: this.size,
      maxSize: this.#l1?.maxEntries,
    };
  }

  /** Unsubscribes and leaves the audit registry. The Redis clients stay open: they are the caller's. */
  async close(): Promise<void> {
    this.#unregister();
    await this.#bus?.close();
  }

  async #miss(
    key: string,
    loader: () => Promise<T> | T,
    options: CacheWriteOptions,
    local: L1Entry<T> | undefined,
    now: number,
  ): Promise<T> {
    let stale: { value: T; staleUntil: number } | undefined =
      local && local.staleUntil > now ? { value: local.value, staleUntil: local.staleUntil } : undefined;
    if (!this.#redis) return this.#compute(key, loader, options, stale, undefined);
    let entry: StoredEntry | undefined;
    let leaseToken: string | undefined;
    let leaseTried = false;
    try {
      // One round trip: the entry, or (on a miss) the lease to compute it.
      const read: { entry?: StoredEntry | undefined; token?: string; leaseTried: boolean } = this.#lease
        ? await this.#redis.readOrLease(key, this.#lease.ttlMs)
        : { entry: await this.#redis.read(key), leaseTried: false };
      entry = read.entry;
      leaseToken = read.token;
      leaseTried = read.leaseTried;
    } catch (error) {
      if (this.#failClosed) return this.#onRedisError(error, key, now) as T;
      this.#onError(error);
      return this.#computeWithoutRedis(loader, stale);
    }
    if (entry) {
      const value = this.#serializer.deserialize(entry.v);
      if (entry.e > now) {
        this.#l1Set(key, value, entry, now, Object.keys(entry.t ?? {}));
        if (this.#refreshDue(entry.e, entry.d, now)) this.#refreshInBackground(key, loader, options);
        return value;
      }
      if (entry.e + this.#staleIfErrorMs > now) stale = { value, staleUntil: entry.e + this.#staleIfErrorMs };
    }
    if (this.#lease) {
      // A stale or invalidated entry was found, so the read did not try for the lease.
      if (!leaseTried) leaseToken = await this.#redis.acquireLease(key, this.#lease.ttlMs).catch(() => undefined);
      if (leaseToken === undefined) {
        // Another pod is computing: serve what we have, or wait for its result.
        if (stale) return stale.value;
        const filled = await this.#waitForFill(key, this.#lease.waitMs);
        if (filled !== undefined) return filled;
      }
    }
    return this.#compute(key, loader, options, stale, leaseToken);
  }

  async #compute(
    key: string,
    loader: () => Promise<T> | T,
    options: CacheWriteOptions,
    stale: { value: T; staleUntil: number } | undefined,
    leaseToken: string | undefined,
  ): Promise<T> {
    const ttl = this.#ttl(options.ttlMs, 'getOrSet');
    const tags = this.#tags(options.tags, 'getOrSet');
    try {
      // Tag versions are read before computing: an invalidation during the load marks the result stale.
      let versions: Record<string, number> | undefined;
      if (this.#redis && tags.length > 0) versions = await this.#redis.tagVersions(tags, ttl).catch(() => undefined);
      const started = this.#now();
      let value: T;
      try {
        value = await loader();
      } catch (error) {
        if (stale && stale.staleUntil > this.#now()) {
          this.#onError(error);
          return stale.value;
        }
        throw error;
      }
      const finished = this.#now();
      const entry: StoredEntry = {
        v: this.#serializer.serialize(value),
        e: finished + ttl,
        d: finished - started,
        ...(versions ? { t: versions } : {}),
      };
      if (this.#redis && (tags.length === 0 || versions)) {
        const token = leaseToken;
        leaseToken = undefined; // the write releases it
        await this.#writeL2(key, entry, ttl, token).catch((error: unknown) => this.#onError(error));
      }
      if (tags.length === 0 || versions || !this.#redis) this.#l1Set(key, value, entry, finished, tags);
      return value;
    } finally {
      // Awaited, so this process's next refresh of the key never races its own release.
      if (leaseToken !== undefined) await this.#redis?.releaseLease(key, leaseToken);
    }
  }

  async #computeWithoutRedis(
    loader: () => Promise<T> | T,
    stale: { value: T; staleUntil: number } | undefined,
  ): Promise<T> {
    try {
      return await loader();
    } catch (error) {
      if (stale && stale.staleUntil > this.#now()) return stale.value;
      throw error;
    }
  }

  #refreshDue(expiresAt: number, deltaMs: number, now: number): boolean {
    if (this.#beta === undefined) return false;
    return shouldRefreshEarly({ now, expiresAt, deltaMs, beta: this.#beta, random: this.#random });
  }

  #refreshInBackground(key: string, loader: () => Promise<T> | T, options: CacheWriteOptions): void {
    if (this.#refreshing.has(key) || this.#inflight.has(key)) return;
    this.#refreshing.add(key);
    const run = async (): Promise<void> => {
      let token: string | undefined;
      if (this.#redis && this.#lease) {
        token = await this.#redis.acquireLease(key, this.#lease.ttlMs);
        if (token === undefined) return; // another pod is already refreshing
      }
      await this.#compute(key, loader, options, undefined, token);
    };
    run()
      .catch((error: unknown) => this.#onError(error))
      .finally(() => this.#refreshing.delete(key));
  }

  async #waitForFill(key: string, waitMs: number): Promise<T | undefined> {
    // Real time, not the injectable clock: this bounds how long a caller actually waits.
    const deadline = performance.now() + waitMs;
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      const entry = await this.#redis?.read(key).catch(() => undefined);
      const now = this.#now();
      if (entry && entry.e > now) {
        const value = this.#serializer.deserialize(entry.v);
        this.#l1Set(key, value, entry, now, Object.keys(entry.t ?? {}));
        return value;
      }
    }
    return undefined;
  }

  /** Serves a stale value within `staleIfErrorMs`; otherwise throws (fail-closed) or misses (bypass). */
  #onRedisError(error: unknown, key: string, now: number): T | undefined {
    // While Redis is down nobody can publish an invalidation either, so the L1 copy is as good as it gets.
    const local = this.#staleIfErrorMs > 0 ? this.#l1?.get(key, now) : undefined;
    if (local && local.staleUntil > now) {
      this.#onError(error);
      return local.value;
    }
    if (this.#failClosed) throw error;
    this.#onError(error);
    return undefined;
  }

  #l1Get(key: string, now: number): L1Entry<T> | undefined {
    if (!this.#l1) return undefined;
    // A cluster-class L1 is only trusted while invalidations can reach it.
    if (this.#bus && !this.#bus.healthy) return undefined;
    if (this.class === 'cluster' && !this.#bus) return undefined;
    return this.#l1.get(key, now);
  }

  #l1Set(key: string, value: T, entry: StoredEntry, now: number, tags: readonly string[] = []): void {
    if (!this.#l1) return;
    if (this.class === 'cluster' && !this.#bus?.healthy) return;
    const expiresAt = this.#l1TtlMs === undefined ? entry.e : Math.min(entry.e, now + this.#l1TtlMs);
    this.#l1.set(key, { value, expiresAt, staleUntil: expiresAt + this.#staleIfErrorMs, deltaMs: entry.d, tags });
  }

  async #writeL2(key: string, entry: StoredEntry, ttl: number, leaseToken?: string): Promise<void> {
    await this.#redis?.write(key, entry, ttl, leaseToken);
    await this.#publish({ origin: this.#origin, keys: [key] });
  }

  async #publish(message: InvalidationMessage): Promise<void> {
    if (!this.#redis || !this.#bus) return;
    await this.#redis
      .publish(this.#channel, encodeInvalidation(message))
      .catch((error: unknown) => this.#onError(error));
  }

  #applyInvalidation(message: InvalidationMessage): void {
    if (message.origin === this.#origin || !this.#l1) return;
    if (message.all) this.#l1.clear();
    for (const key of message.keys ?? []) if (typeof key === 'string') this.#l1.delete(key);
    if (message.tags) this.#l1.deleteTagged(message.tags.filter((t) => typeof t === 'string'));
  }

  #ttl(ttlMs: number | undefined, operation: string): number {
    const ttl = ttlMs ?? this.ttlMs;
    if (!Number.isSafeInteger(ttl) || ttl < 1) {
      throw new RedisStoreError(
        'ERR_REDIS_INVALID_ARGUMENT',
        `SharedCache "${this.name}".${operation}: ttlMs must be a positive integer.`,
      );
    }
    return ttl;
  }

  #tags(tags: readonly string[] | undefined, operation: string): readonly string[] {
    if (tags === undefined) return [];
    if (!Array.isArray(tags)) {
      throw new RedisStoreError(
        'ERR_REDIS_INVALID_ARGUMENT',
        `SharedCache "${this.name}".${operation}: tags must be an array.`,
      );
    }
    for (const tag of tags) checkId(tag, `SharedCache "${this.name}".${operation}`, 'each tag');
    return tags;
  }
}
