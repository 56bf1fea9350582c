import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { type AuditedStore, type CacheAuditRow, type CacheClass, cacheRegistry } from '../cache-registry.ts';
import { RedisStoreError } from '../errors.ts';
import { RedisCallGuard } from '../redis-down-policy.ts';
import { checkId } from '../store-options.ts';
import type { StoredEntry } from './entry.ts';
import {
  applyInvalidation,
  encodeInvalidation,
  InvalidationBus,
  type InvalidationMessage,
} from './invalidation-bus.ts';
import { BoundedLru, type L1Entry } from './l1.ts';
import { CacheRedisTier } from './redis-tier.ts';
import {
  type CacheSerializer,
  type CacheWriteOptions,
  checkTags,
  checkWriteTtl,
  resolveSharedCacheOptions,
  type SharedCacheOptions,
} from './shared-cache-options.ts';
import { shouldRefreshEarly } from './xfetch.ts';

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
    const { ttlMs, l1, staleIfErrorMs, lease, beta, prefix, timeoutMs, serializer } =
      resolveSharedCacheOptions(options);

    this.name = options.name;
    this.class = options.class;
    this.reason = options.reason;
    this.ttlMs = ttlMs;
    const base = `${prefix}${this.name}:`;
    this.#redis = options.redis
      ? new CacheRedisTier(
          options.redis,
          new RedisCallGuard(options.redis, { timeoutMs }),
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
    this.#failClosed = (options.onRedisDown ?? (this.class === 'cluster' ? 'fail-closed' : 'bypass')) === 'fail-closed';
    this.#serializer = serializer;
    this.#onError = options.onError ?? (() => {});
    this.#now = options.clock?.now ?? Date.now;
    this.#random = options.clock?.random ?? Math.random;
    if (options.subscriber && this.#l1) {
      this.#bus = new InvalidationBus(
        options.subscriber,
        this.#channel,
        (m) => this.#applyInvalidation(m),
        () => this.#l1?.clear(),
      );
      this.#busStarted = this.#bus.start();
      this.#busStarted.catch((error: unknown) => this.#onError(error));
    }
    this.#unregister = (options.registry ?? cacheRegistry).register(this);
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
    const ttl = checkWriteTtl(options.ttlMs, this.ttlMs, this.name, 'set');
    const tags = checkTags(options.tags, this.name, 'set');
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
    const list = checkTags(tags, this.name, 'invalidateTags');
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
    const ttl = checkWriteTtl(options.ttlMs, this.ttlMs, this.name, 'getOrSet');
    const tags = checkTags(options.tags, this.name, 'getOrSet');
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
    applyInvalidation(this.#l1, message);
  }
}
