import { randomBytes } from 'node:crypto';
import { type AuditedStore, type CacheAuditRow, type CacheClass, cacheRegistry } from '../cache-registry.ts';
import { RedisStoreError, safeCause } from '../errors.ts';
import { RedisCallGuard } from '../redis-down-policy.ts';
import { checkId } from '../store-options.ts';
import type { StoredEntry } from './entry.ts';
import { encodeInvalidation, InvalidationBus, type InvalidationMessage } from './invalidation-bus.ts';
import type { L1Entry } from './l1.ts';
import { type LoadTicket, type LocalInvalidation, LocalTier, withTicket } from './local-tier.ts';
import {
  CacheRedisTier,
  ENTRY_ABSENT,
  entryDigest,
  type Generation,
  type Lease,
  type LoadBasis,
  type ReadBasis,
  type ReadOrLease,
  readBasis,
} from './redis-tier.ts';
import { classifyRefreshFailure } from './refresh-failure.ts';
import {
  type CacheSerializer,
  type CacheWriteOptions,
  checkTags,
  checkWrite,
  resolveSharedCacheOptions,
  type SharedCacheOptions,
  type Write,
} from './shared-cache-options.ts';
import { loadOrStale, type StaleValue } from './stale-if-error.ts';
import { EarlyRefresh } from './xfetch.ts';

// ready() waits at least this long for the subscriber to connect, whatever the per-call timeout.
const MIN_READY_WAIT_MS = 10_000;

/**
 * How long a cache starts no early refresh after Redis failed one before its loader ran in a way
 * that hits every key (down, not answering, or refusing the writes a refresh needs: see
 * classifyRefreshFailure): due hits serve the L1 copy meanwhile, with no round trip and no report,
 * and the next one after the pause tries again.
 */
const REFRESH_PAUSE_MS = 10_000;

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
  readonly #l1: LocalTier<T> | undefined;
  readonly #bus: InvalidationBus | undefined;
  readonly #readyWaitMs: number;
  readonly #staleIfErrorMs: number;
  readonly #lease: { readonly ttlMs: number; readonly waitMs: number } | undefined;
  readonly #refresh: EarlyRefresh | undefined;
  readonly #failClosed: boolean;
  readonly #serializer: CacheSerializer<T>;
  readonly #onError: (error: unknown) => void;
  readonly #now: () => number;
  readonly #origin = randomBytes(8).toString('hex');
  readonly #inflight = new Map<string, Promise<T>>();
  #writes = 0;
  /** Until when (this cache's clock) no early refresh starts: see {@link REFRESH_PAUSE_MS}. */
  #refreshPausedUntil = 0;
  /** Set by close(): a script load still running in the background reports nothing then. */
  #closed = false;
  readonly #unregister: () => void;

  constructor(options: SharedCacheOptions<T>) {
    const { ttlMs, l1, staleIfErrorMs, lease, beta, prefix, timeoutMs, serializer } =
      resolveSharedCacheOptions(options);

    this.name = options.name;
    this.class = options.class;
    this.reason = options.reason;
    this.ttlMs = ttlMs;
    const base = `${prefix}${this.name}:`;
    this.#channel = `${base}invalidate`;
    this.#redis = options.redis
      ? new CacheRedisTier(
          options.redis,
          new RedisCallGuard(options.redis, { timeoutMs }),
          base,
          this.#channel,
          `SharedCache "${this.name}"`,
          staleIfErrorMs,
          (error) => this.#onError(error),
        )
      : undefined;
    // A cluster-class L1 is only trusted while invalidations can reach it.
    const trusted = (): boolean => (this.#bus ? this.#bus.healthy : this.class !== 'cluster');
    this.#l1 = l1 ? new LocalTier<T>(l1.maxEntries, l1.ttlMs, staleIfErrorMs, trusted) : undefined;
    this.#readyWaitMs = Math.max(timeoutMs, MIN_READY_WAIT_MS);
    this.#staleIfErrorMs = staleIfErrorMs;
    this.#lease = lease;
    this.#failClosed = (options.onRedisDown ?? (this.class === 'cluster' ? 'fail-closed' : 'bypass')) === 'fail-closed';
    this.#serializer = serializer;
    this.#onError = droppingThrows(options.onError, this.name);
    this.#now = options.clock?.now ?? Date.now;
    this.#refresh =
      beta === undefined ? undefined : new EarlyRefresh(beta, options.clock?.random ?? Math.random, this.#onError);
    // Registered before the bus starts: a refused name (ERR_REDIS_INVALID_OPTIONS) must leave no
    // subscription and no listener behind on the caller's subscriber.
    this.#unregister = (options.registry ?? cacheRegistry).register(this);
    if (options.subscriber && this.#l1) {
      this.#bus = new InvalidationBus(
        options.subscriber,
        this.#channel,
        this.#origin,
        (m) => this.#forget(m),
        () => this.#forget({ all: true }),
        this.#onError,
        `SharedCache "${this.name}"`,
      );
      this.#bus.start();
    }
  }

  /**
   * Resolves once cross-pod invalidation is subscribed; until then the L1 is bypassed, and it turns
   * on by itself when the subscription is made later. Rejects with a retryable `ERR_REDIS_TIMEOUT`
   * when the subscriber is not subscribed within `timeoutMs` (at least 10 s). Also loads the cache's
   * Lua scripts into Redis (so its first calls, tags included, send EVALSHA only), an optimisation
   * that never rejects: a failure goes to `onError`, and ready() waits for the load only when the
   * `redis` client is connected once the subscription is made (else it loads in the background as
   * soon as the client connects, within the same bound).
   */
  async ready(): Promise<void> {
    const loaded = this.#loadScripts();
    await this.#bus?.whenSubscribed(this.#readyWaitMs, `SharedCache "${this.name}"`);
    if (this.#redis?.connected) await loaded;
  }

  /** Loads the scripts (see {@link SharedCache.ready}); resolves whatever happens, a failure reported to `onError`. */
  async #loadScripts(): Promise<void> {
    try {
      await this.#redis?.loadScripts(this.#readyWaitMs);
    } catch (error) {
      if (this.#closed) return; // the caller is done with this cache
      // Defensive: loadScripts fails with a RedisStoreError only; anything else reads as Redis unavailable.
      const code = error instanceof RedisStoreError ? error.code : 'ERR_REDIS_UNAVAILABLE';
      this.#onError(
        new RedisStoreError(
          code,
          `SharedCache "${this.name}".ready: its Lua scripts were not loaded into Redis (see cause); every call works without them (a script Redis lacks is sent whole with EVAL), only the first calls that meet one are slower.`,
          { cause: safeCause(error) },
        ),
      );
    }
  }

  /** Entries held in this process. */
  get size(): number {
    return this.#l1?.size ?? 0;
  }

  /** The fresh value for `key`, or `undefined`. */
  async get(key: string): Promise<T | undefined> {
    checkId(key, `SharedCache "${this.name}".get`, 'key');
    const now = this.#now();
    const local = this.#l1?.get(key, now);
    if (local && local.expiresAt > now) return local.value;
    if (!this.#redis) return undefined;
    const ticket = this.#l1?.ticket(key) ?? 0; // not withTicket: no promise layer on a Redis hit
    try {
      const entry = await this.#redis.read(key, now);
      return entry ? this.#keep(key, entry, now, ticket)?.value : undefined;
    } catch (error) {
      return this.#onRedisError(error, this.#outageCopy(key, now));
    } finally {
      this.#l1?.release(ticket, key);
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
    // Checked before any lease is taken: a bad option must not leave a lease behind.
    const write = checkWrite(options, this.ttlMs, this.name, 'getOrSet');
    const now = this.#now();
    const local = this.#l1?.get(key, now);
    if (local && local.expiresAt > now) {
      if (this.#refresh?.due(local.entryExpiresAt, local.deltaMs, now))
        this.#refreshInBackground(key, loader, write, undefined, local);
      return local.value;
    }
    const pending = this.#inflight.get(key);
    if (pending) return pending;
    const miss = withTicket(this.#l1, key, (ticket) => this.#miss(key, loader, write, local, now, ticket));
    const load: Promise<T> = miss.finally(() => {
      if (this.#inflight.get(key) === load) this.#inflight.delete(key);
    });
    this.#inflight.set(key, load);
    return load;
  }

  /**
   * Stores `value` in Redis and this pod's L1 (a load of `key` running in any pod cannot overwrite
   * it), and tells other pods to drop their copies. While Redis is down: throws when fail-closed;
   * with `bypass`, keeps the value in this pod only, or, with `tags` (their versions live in
   * Redis), drops this pod's copy of `key` and caches the value nowhere.
   */
  async set(key: string, value: T, options: CacheWriteOptions = {}): Promise<void> {
    checkId(key, `SharedCache "${this.name}".set`, 'key');
    const { ttl, tags } = checkWrite(options, this.ttlMs, this.name, 'set');
    const now = this.#now();
    await withTicket(this.#l1, key, async (ticket) => {
      let versions: Record<string, number> | undefined;
      try {
        versions = this.#redis ? await this.#redis.tagVersions(tags, ttl) : undefined;
      } catch (error) {
        // Whatever the policy, this pod's old copy must not outlive the caller's set, nor a load
        // running here fill the L1 with what it read before.
        this.#forget({ keys: [key] });
        if (this.#failClosed) throw error;
        this.#onError(error);
        return; // bypass: a tagged value that cannot be versioned is not cached, here either
      }
      const entry = this.#entry(value, now + ttl, 0, versions);
      // A load of `key` running here must not fill the L1 after this (Redis refuses its write).
      this.#forget({ keys: [key], w: entry.w });
      if (this.#redis) {
        try {
          await this.#redis.write(key, entry, ttl, this.#writeAnnouncement(key, entry));
        } catch (error) {
          if (this.#failClosed) throw error;
          this.#onError(error);
        }
      }
      this.#l1?.set(key, this.#l1Value(value, entry), entry, now, tags, ticket);
    });
  }

  /**
   * Removes `key` from Redis and from every pod's L1; a load of `key` already running (in any
   * pod) does not write its value back. Rejects with a retryable `ERR_REDIS_UNAVAILABLE` when the
   * invalidation could not be published: Redis no longer has the value, but other pods may serve
   * their copy until their L1 expires. Calling again is safe.
   */
  async delete(key: string): Promise<void> {
    checkId(key, `SharedCache "${this.name}".delete`, 'key');
    await this.#invalidate('delete', { origin: this.#origin, keys: [key] }, async (redis, announcement) => {
      await redis.delete(key, announcement); // announced by the delete's script
      return true;
    });
  }

  /**
   * Invalidates every entry carrying one of `tags`, in Redis and in every pod's L1, including
   * values being computed now. Rejects like {@link SharedCache.delete} when the publish fails.
   * At most 64 tags per call (`ERR_REDIS_INVALID_ARGUMENT` before anything is sent): split a
   * longer list over several calls.
   */
  async invalidateTags(tags: readonly string[]): Promise<void> {
    const list = checkTags(tags, this.name, 'invalidateTags');
    if (list.length === 0) return;
    await this.#invalidate('invalidateTags', { origin: this.#origin, tags: list }, async (redis, announcement) => {
      await redis.bumpTags(list, announcement); // announced by the last bump's script
      return true;
    });
  }

  /** Deletes every entry of this cache on every Cluster master and in every pod's L1. */
  async clear(): Promise<void> {
    await this.#invalidate('clear', { origin: this.#origin, all: true }, async (redis) => {
      await redis.clear();
      return false;
    });
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

  /**
   * Unsubscribes and leaves the audit registry; a script load still running in the background (see
   * {@link SharedCache.ready}) reports nothing from then on. The Redis clients stay open: they are
   * the caller's.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#unregister();
    await this.#bus?.close();
  }

  async #miss(
    key: string,
    loader: () => Promise<T> | T,
    write: Write,
    local: L1Entry<T> | undefined,
    now: number,
    ticket: LoadTicket,
  ): Promise<T> {
    let stale: StaleValue<T> | undefined =
      local && local.staleUntil > now ? { value: local.value, staleUntil: local.staleUntil } : undefined;
    const redis = this.#redis;
    if (!redis) return this.#compute(key, loader, write, stale, undefined, ticket);
    let read: ReadOrLease;
    try {
      // One round trip: the entry, or (on a miss) the lease, or without leases the generation, to compute it.
      read = this.#lease ? await redis.readOrLease(key, this.#lease.ttlMs) : await redis.readOrGeneration(key);
    } catch (error) {
      return this.#missWhileRedisDown(error, key, loader, stale, now, true);
    }
    // Redis answered: only what it holds may be served stale. This pod's copy may be of a value
    // deleted or tag-invalidated since (its announcement late or lost); one Redis still holds is
    // the expired entry the read found, which replaces it below. A `pod` cache, whose outage copy
    // is already a per-pod one, keeps it when the read found no entry: absence cannot tell a
    // delete from an eviction (`maxmemory`) or a restart that lost it.
    if (!(this.class === 'pod' && read.bytes === undefined)) stale = undefined;
    const { entry, leaseTried } = read;
    let { lease } = read;
    if (entry) {
      if (entry.e > now) {
        const kept = this.#keep(key, entry, now, ticket);
        if (kept) {
          // Not in #inflight's way: the refresh has its own single flight.
          if (this.#refresh?.due(entry.e, entry.d, now)) this.#refreshInBackground(key, loader, write, readBasis(read));
          return kept.value;
        }
        // Undecodable (reported): a miss, which the load below replaces.
      } else if (entry.e + this.#staleIfErrorMs > now) {
        const old = this.#decode(entry);
        if (old) stale = { value: old.value, staleUntil: entry.e + this.#staleIfErrorMs };
      }
    }
    // Past here the entry read, if any, cannot be used. A load may only start while it is
    // unchanged (its digest, checked in Redis), so a set() landing after this read wins.
    const basis = readBasis(read);
    if (this.#lease) {
      const { ttlMs, waitMs } = this.#lease;
      // An entry was found (stale, invalidated or undecodable), so the read did not try for the lease.
      if (!leaseTried && 'entryDigest' in basis)
        lease = await redis.acquireLease(key, ttlMs, basis.entryDigest).catch(() => undefined);
      // Another pod is computing: serve what we have, or wait for its result (or its lease, given back unwritten).
      if (lease === undefined && stale) return stale.value;
      if (lease === undefined)
        return withTicket(this.#l1, key, async (fillTicket) => {
          // Decoded without a report: the read above reported this entry once already.
          const filled = await redis.waitForFill(
            key,
            ttlMs,
            waitMs,
            this.#now,
            (found) => this.#tryDecode(found),
            basis,
          );
          if (filled.entry && filled.accepted) {
            const { value } = filled.accepted;
            this.#l1?.set(key, value, filled.entry, this.#now(), Object.keys(filled.entry.t ?? {}), fillTicket);
            return value;
          }
          // The holder's lease given back, or the wait over: without a lease, the load starts only
          // while the key holds what the last poll found, so a set() since then is not overwritten.
          return this.#compute(key, loader, write, undefined, filled.lease, fillTicket, filled.basis);
        });
    }
    return this.#compute(key, loader, write, stale, lease, ticket, basis);
  }

  /**
   * Runs the loader and caches its value unless the key was deleted, set or cleared since the read
   * that led here (Redis generation: the lease's, or the one a leaseless miss brought, else read
   * now, after a read that found an entry only while that entry is unchanged: `basis`); the L1
   * also refuses it after an invalidation since `ticket`, and then drops this pod's copy of the key
   * once Redis took the value, so no pod keeps serving an older one. When Redis cannot give the
   * generation or the tag versions, the Redis-down policy decides (see {@link SharedCache.#missWhileRedisDown}).
   */
  async #compute(
    key: string,
    loader: () => Promise<T> | T,
    write: Write,
    stale: StaleValue<T> | undefined,
    lease: Lease | undefined,
    ticket: LoadTicket,
    basis?: ReadBasis,
  ): Promise<T> {
    // Read before computing: a delete or tag invalidation during the load marks the result stale.
    let seen: LoadBasis | undefined;
    try {
      seen = await this.#redis?.beforeLoad(key, lease ?? basis, write.tags, write.ttl);
    } catch (error) {
      // Redis cannot say what the load would write against (down, or refusing the generation or a
      // tag version): nothing loaded could be stored, and the Redis-down policy decides, as for a
      // failed read, though the read before succeeded. The lease goes back first, and the
      // generation it or the read joined is left (ended only if no other load holds it): this pod
      // writes nothing.
      const held = lease ?? (basis && 'generation' in basis ? basis : undefined);
      await this.#redis?.endLoad(key, lease?.token ?? '', held);
      return this.#missWhileRedisDown(error, key, loader, stale, this.#now(), false);
    }
    return this.#loadAndStore(key, loader, write, stale, lease, ticket, seen);
  }

  /**
   * A miss whose Redis step failed (see "While Redis is down"): a fresh L1 copy when the policy
   * allows it; else a stale value within staleIfErrorMs, `stale` (an expired entry the read just
   * found in Redis, newer than this pod's copy) before the L1 copy: fail-closed reports `error` to
   * `onError` and serves it without running the loader (as the pods that lost the lease do), or
   * throws without one; bypass reports `error` and runs the loader, caching nothing, with that
   * value if the loader fails. The L1 copy counts only when `readFailed` (the read of the entry
   * itself failed): when it succeeded and a later step failed, Redis has just said what it holds
   * (nothing usable, or `stale`), and the copy may be of a value deleted or tag-invalidated since.
   */
  async #missWhileRedisDown(
    error: unknown,
    key: string,
    loader: () => Promise<T> | T,
    stale: StaleValue<T> | undefined,
    now: number,
    readFailed: boolean,
  ): Promise<T> {
    const copy = readFailed ? this.#outageCopy(key, now) : undefined;
    if (copy && copy.expiresAt > now) return this.#onRedisError(error, copy) as T;
    const fallback = stale ?? (copy ? { value: copy.value, staleUntil: copy.staleUntil } : undefined);
    if (this.#failClosed) {
      if (!fallback || fallback.staleUntil <= now) throw error;
      this.#onError(error);
      return fallback.value;
    }
    this.#onError(error);
    return (await loadOrStale(loader, fallback, this.#now, () => {})).value;
  }

  /**
   * Runs the loader and writes its value against `seen` (see {@link SharedCache.#compute}); with
   * Redis and no `seen`, the value is returned and cached nowhere. Gives `lease` back, and leaves
   * the generation, when nothing was written, also when the write failed (a per-call timeout or an
   * error reply).
   */
  async #loadAndStore(
    key: string,
    loader: () => Promise<T> | T,
    { ttl, tags }: Write,
    stale: StaleValue<T> | undefined,
    lease: Lease | undefined,
    ticket: LoadTicket,
    seen: LoadBasis | undefined,
  ): Promise<T> {
    let leaseToken = lease?.token;
    // Left if this load writes nothing (ended only by the last load holding it: see CacheRedisTier.endLoad).
    let generation: Generation | undefined = seen;
    try {
      const started = this.#now();
      const { value, loaded } = await loadOrStale(loader, stale, this.#now, this.#onError);
      if (!loaded) return value; // the stale value is not cached again
      const finished = this.#now();
      const entry = this.#entry(value, finished + ttl, finished - started, seen?.versions);
      if (this.#redis) {
        if (!seen) return value;
        // Announced by the write's own script, and only if it wrote.
        const written = await this.#redis
          .writeIfCurrent(key, entry, ttl, seen.generation, lease?.token ?? '', this.#writeAnnouncement(key, entry))
          .catch((error: unknown) => this.#onError(error));
        // An answered write gave the lease back and ended the generation (or found it ended). A failed
        // one may not have run: the leave below gives both back, safe if it did run, as LOAD_END takes
        // only this load's lease token and a generation that is still the key's.
        if (written !== undefined) {
          leaseToken = undefined;
          generation = undefined;
        }
        if (!written) return value;
      }
      if (this.#l1) {
        const kept = this.#l1.set(key, this.#l1Value(value, entry), entry, finished, tags, ticket);
        // Redis now holds this value: an older copy kept here would differ from every other pod.
        if (!kept && this.#redis) this.#forget({ keys: [key], ...(entry.w ? { w: entry.w } : {}) });
      }
      return value;
    } finally {
      // Awaited, so this process's next refresh of the key never races its own release.
      await this.#redis?.endLoad(key, leaseToken ?? '', generation);
    }
  }

  /**
   * `basis`: the entry that is due, when it was read from Redis (see {@link SharedCache.#miss}): the
   * refresh only starts while it is unchanged, so a set() since that read is not overwritten. From
   * an L1 copy (`copy`), the refresh first reads the entry in Redis (one round trip, in the
   * background): if it is no longer the one the copy came from (a set() or another pod's refresh
   * replaced it; its announcement drops the copy), there is nothing to refresh; otherwise that read
   * is the basis. When Redis no longer holds any entry for the key (evicted, lost in a restart),
   * the refresh reloads it like a miss, only while the key is still empty. The loader runs only
   * once the write it needs is possible: see {@link SharedCache.#refreshFailed}.
   */
  #refreshInBackground(
    key: string,
    loader: () => Promise<T> | T,
    write: Write,
    basis?: ReadBasis,
    copy?: L1Entry<T>,
  ): void {
    if (this.#now() < this.#refreshPausedUntil) return;
    this.#refresh?.start(key, () =>
      withTicket(this.#l1, key, async (ticket) => {
        const redis = this.#redis;
        if (!redis) {
          await this.#loadAndStore(key, loader, write, undefined, undefined, ticket, undefined);
          return;
        }
        // Every Redis step comes before the loader: when one fails, nothing loaded could be stored,
        // so the loader does not run (see #refreshFailed).
        let start = basis;
        let lease: Lease | undefined;
        let seen: LoadBasis | undefined;
        try {
          if (start === undefined && copy) {
            const held = await redis.readBytes(key);
            if (held === undefined) {
              // Redis lost the entry (evicted, restarted): reloaded as a miss would be, and only while
              // it is still absent, so one pod loads (the lease) and a set() landing first wins.
              start = { entryDigest: ENTRY_ABSENT };
            } else {
              if (!held.entry || !sameEntry(held.entry, copy)) return;
              start = { entryDigest: entryDigest(held.bytes) };
            }
          }
          if (this.#lease) {
            const digest = start && 'entryDigest' in start ? start.entryDigest : '';
            lease = await redis.acquireLease(key, this.#lease.ttlMs, digest);
            if (lease === undefined) return; // another pod (or this one's miss) is already computing, or a write came
          }
          seen = await redis.beforeLoad(key, lease ?? start, write.tags, write.ttl);
        } catch (error) {
          await redis.endLoad(key, lease?.token ?? '', lease);
          this.#refreshFailed(error);
          return;
        }
        if (seen === undefined) {
          // The entry changed since it was read (a set() or another pod's write): nothing to refresh.
          await redis.endLoad(key, lease?.token ?? '', lease);
          return;
        }
        await this.#loadAndStore(key, loader, write, undefined, lease, ticket, seen);
      }),
    );
  }

  /**
   * An early refresh that Redis failed before its loader ran: the loader is skipped (its value could
   * not be stored) and the L1 copy is served on. When the failure hits every key alike (Redis out of
   * memory, read-only, unreachable, or not answering in time: see {@link classifyRefreshFailure}),
   * no refresh of this cache starts for {@link REFRESH_PAUSE_MS}, and it is reported once per pause;
   * any other error (WRONGTYPE, NOPERM, a script error: one key's, one call's) is reported once per
   * refresh and pauses nothing.
   */
  #refreshFailed(error: unknown): void {
    const failure = classifyRefreshFailure(error);
    const now = this.#now();
    if (failure.pause) {
      if (now < this.#refreshPausedUntil) return; // another key's refresh already reported it
      this.#refreshPausedUntil = now + REFRESH_PAUSE_MS;
    }
    const then = failure.pause
      ? `no early refresh of this cache starts for ${REFRESH_PAUSE_MS} ms`
      : "other keys' refreshes go on, and this key's next due hit tries again";
    this.#onError(
      new RedisStoreError(
        failure.code,
        `SharedCache "${this.name}".refresh: Redis failed a step an early refresh takes before it loads (reading the entry, the lease, or the generation or tag version it writes), so the loader was not run and the current value is served until it expires; ${then}. ${failure.advice}`,
        { cause: safeCause(error) },
      ),
    );
  }

  /**
   * The L1 copy of `key` that may be served while Redis cannot be reached, fresh or within
   * `staleIfErrorMs`, even while the subscriber is down: a `pod` cache's always (a per-pod copy is
   * what its class allows), a `cluster` cache's only with `staleIfErrorMs` (the opt-in to values
   * that may have missed an invalidation).
   */
  #outageCopy(key: string, now: number): L1Entry<T> | undefined {
    if (this.class === 'cluster' && this.#staleIfErrorMs === 0) return undefined;
    return this.#l1?.getForOutage(key, now);
  }

  /** Serves the L1 copy (see {@link SharedCache.#outageCopy}); without one, throws (fail-closed) or misses (bypass). */
  #onRedisError(error: unknown, copy: L1Entry<T> | undefined): T | undefined {
    if (this.#failClosed && !copy) throw error;
    this.#onError(error);
    return copy?.value;
  }

  /** A new entry, named by a write id unique to this pod and write. */
  #entry(value: T, expiresAt: number, deltaMs: number, versions: Record<string, number> | undefined): StoredEntry {
    const w = `${this.#origin}.${(++this.#writes).toString(36)}`;
    return { v: this.#serializer.serialize(value), e: expiresAt, d: deltaMs, ...(versions ? { t: versions } : {}), w };
  }

  /**
   * A fresh entry read from Redis: its value, kept in the L1 unless invalidated since `ticket`;
   * undefined when it cannot be decoded (see {@link SharedCache.#decode}).
   */
  #keep(key: string, entry: StoredEntry, now: number, ticket: LoadTicket): { value: T } | undefined {
    const decoded = this.#decode(entry);
    if (decoded) this.#l1?.set(key, decoded.value, entry, now, Object.keys(entry.t ?? {}), ticket);
    return decoded;
  }

  /**
   * What the L1 keeps for a value this pod wrote: with Redis, a copy decoded from `entry` (what
   * other pods read), so the caller's object, mutated later, never makes this pod serve something
   * the others do not; without Redis, the value itself (there is no other copy to differ from).
   * Made on writes only: an L1 hit does not pay for it. A value the serializer does not round-trip
   * (with JSON, `undefined`: the entry then has no value, and other pods read it as a miss) is kept
   * as it is, and nothing is reported: this pod made the entry, no other writer did.
   */
  #l1Value(value: T, entry: StoredEntry): T {
    if (!this.#redis || typeof entry.v !== 'string') return value;
    return (this.#tryDecode(entry) ?? { value }).value;
  }

  /** The entry's value, or undefined when the serializer cannot decode it; reports nothing. */
  #tryDecode(entry: StoredEntry): { value: T } | undefined {
    try {
      return { value: this.#serializer.deserialize(entry.v) };
    } catch {
      return undefined;
    }
  }

  /**
   * The value of an entry read from Redis, or undefined when the serializer cannot decode it
   * (written with another serializer, or not by this cache): reported to `onError` with no `cause`
   * (a parser's message quotes the text, i.e. the cached value), and read as a miss, which the next
   * load replaces.
   */
  #decode(entry: StoredEntry): { value: T } | undefined {
    const decoded = this.#tryDecode(entry);
    if (!decoded) {
      this.#onError(
        new RedisStoreError(
          'ERR_REDIS_UNEXPECTED_REPLY',
          `SharedCache "${this.name}": a cached entry cannot be decoded (written with another serializer, or not by this cache); it is read as a miss and replaced by the next load. Check that every pod uses the same serializer.`,
        ),
      );
    }
    return decoded;
  }

  /**
   * Drops what `message` names here (before and after the Redis step, so a load finishing in
   * between cannot keep it), runs `step` on Redis, then tells every pod, unless `step` did (it
   * resolves to true when its script published `announcement`). Published whether or not this pod
   * listens: other pods may keep an L1.
   */
  async #invalidate(
    operation: string,
    message: InvalidationMessage,
    step: (redis: CacheRedisTier, announcement: string) => Promise<boolean>,
  ): Promise<void> {
    this.#forget(message);
    if (!this.#redis) return;
    const announcement = encodeInvalidation(message);
    let announced: boolean;
    try {
      announced = await step(this.#redis, announcement);
    } finally {
      this.#forget(message);
    }
    if (!announced) await this.#redis.announce(operation, announcement);
  }

  /** Drops what an invalidation names from the L1, and stops new callers joining loads begun before it. */
  #forget(message: LocalInvalidation): void {
    this.#l1?.invalidate(message);
    if (message.all || message.tags) this.#inflight.clear();
    for (const key of message.keys ?? []) if (typeof key === 'string') this.#inflight.delete(key);
  }

  /**
   * What tells other pods' L1s that `key` now holds `entry`: published by the write's script,
   * whether or not this pod listens (as `#invalidate` does); a refused publish only goes to `onError`.
   */
  #writeAnnouncement(key: string, entry: StoredEntry): string {
    return encodeInvalidation({ origin: this.#origin, keys: [key], ...(entry.w ? { w: entry.w } : {}) });
  }
}

/**
 * The cache's `onError` (none: reports are dropped), made safe to call anywhere. Reports are made in
 * the background too (script loads, early refreshes, the subscriber), where nothing awaits them: an
 * onError that throws must not become an unhandled rejection, which ends a Node process. What it
 * throws is dropped, there and in the calls it would otherwise fail; its first throw is made visible
 * once as a process warning naming cache `name`, neither the error nor a key (a broken reporter would
 * otherwise hide every report without a trace).
 */
function droppingThrows(onError: ((error: unknown) => void) | undefined, name: string): (error: unknown) => void {
  if (!onError) return () => {};
  let warned = false;
  return (error) => {
    try {
      onError(error);
    } catch {
      if (warned) return;
      warned = true;
      process.emitWarning(
        `SharedCache "${name}": its onError threw; what onError throws is dropped, so the reports it failed on are lost. Make onError never throw.`,
        { code: 'RAMPART_ONERROR_THREW' },
      );
    }
  };
}

/**
 * Whether `entry` (read from Redis) is the one an L1 copy was made from: the same write (its id,
 * unique to a pod and a write), expiry and compute time. An entry without a write id (another
 * writer's) is matched on the last two only.
 */
function sameEntry<T>(entry: StoredEntry, copy: L1Entry<T>): boolean {
  return entry.w === copy.writeId && entry.e === copy.entryExpiresAt && entry.d === copy.deltaMs;
}
