import { createHash, randomBytes, randomInt } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { RedisStoreError, safeCause } from '../errors.ts';
import type { RedisCallGuard } from '../redis-down-policy.ts';
import { loadScripts, type RedisClient, runScript, runScriptForBytes } from '../scripts.ts';
import {
  CACHE_SCRIPTS,
  DELETE_AND_END_LOADS,
  GENERATION_READ,
  LEASE_ACQUIRE,
  LOAD_END,
  READ_OR_GENERATION,
  READ_OR_LEASE,
  TAG_BUMP,
  TAG_READ,
  WRITE_AND_END_LOADS,
  WRITE_IF_CURRENT,
} from './cache-scripts.ts';
import { unlinkByPrefix } from './clear.ts';
import { decodeEntry, encodeEntry, type StoredEntry } from './entry.ts';

const POLL_INTERVAL_MS = 10;

// A load running longer than this after it started is not cached (its generation is gone).
export const GENERATION_LIFE_MS = 3_600_000;

/**
 * The most tag commands (version reads, tag checks, bumps) one Redis call carries; more tags take
 * more calls, one after the other. Every call is bounded by `timeoutMs`, and a timeout is read as
 * Redis being slow (it pauses every key's early refresh: see classifyRefreshFailure), but a tag
 * list is the caller's: all of it in one call outlasted the default 50 ms on an idle Redis (1,000
 * tags). In calls of this size, a timeout says Redis is slow, not that a list is long; with
 * `MAX_TAGS` (entry.ts) tags at most, a tag step takes at most two calls.
 */
const TAG_COMMANDS_PER_CALL = 32;

/**
 * What waiting for another pod's load ended with: its entry (with what the caller's `accept` made
 * of it), the lease it gave back, or neither: then `basis`, what the last read found, for the load
 * the caller runs without a lease (so a set() landing after that read is not overwritten).
 */
export interface FillOrLease<V> {
  readonly entry?: StoredEntry;
  readonly accepted?: V;
  readonly lease?: Lease;
  readonly basis?: ReadBasis;
}

/** A lease taken before computing, and the key's generation read (and joined) with it (its share is the token). */
export interface Lease extends Generation {
  readonly token: string;
}

/**
 * A key's generation as a load holds it. Pods share it (loads in flight in several pods read the
 * same one): Redis keeps the shares of the loads holding it (a set beside it), and a load that
 * writes nothing takes its `share` out ({@link CacheRedisTier.endLoad}), ending the generation
 * only when its share was the last, so it never keeps another load's value out of Redis.
 */
export interface Generation {
  readonly generation: string;
  /** This load's share of it: the random token of the call that joined (or made) it. */
  readonly share: string;
}

/**
 * What a read-or-lease found: a (tag-checked) entry, the lease, and whether the lease was tried;
 * on a miss without leases, the key's generation. `bytes`: the entry as Redis holds it, whenever one
 * was there (usable or not): a load that follows may only start while it is unchanged (see
 * {@link readBasis}). Bytes, not text: an entry that is not UTF-8 (another app's msgpack or gzip
 * under the same prefix) would not survive a decode and re-encode, and its digest would never
 * match the one Redis computes. `leaseHeld`: asked by a waiter, whether another pod holds the lease.
 */
export interface ReadOrLease {
  readonly entry?: StoredEntry;
  readonly lease?: Lease;
  readonly leaseTried: boolean;
  readonly generation?: Generation;
  readonly bytes?: Buffer;
  readonly leaseHeld?: boolean;
}

/**
 * What a load without a lease of its own compares against: the generation its read brought (a
 * miss without leases), or the digest of the entry its read found, {@link ENTRY_ABSENT} when it
 * found none (it may only start while that entry is unchanged, or still absent:
 * {@link CacheRedisTier.beforeLoad}; with leases, {@link CacheRedisTier.acquireLease}).
 */
export type ReadBasis = Generation | { readonly entryDigest: string };

/** What a load writes against (see {@link CacheRedisTier.beforeLoad}): the key's generation and its tags' versions. */
export interface LoadBasis extends Generation {
  readonly versions: Record<string, number> | undefined;
}

/** The `entryDigest` of a read that found no entry (see `ENTRY_UNCHANGED` in cache-scripts.ts). */
export const ENTRY_ABSENT = '-';

/** The basis a load that follows `read` starts from (see {@link ReadBasis}). */
export function readBasis(read: ReadOrLease): ReadBasis {
  if (read.bytes !== undefined) return { entryDigest: entryDigest(read.bytes) };
  return read.generation ?? { entryDigest: ENTRY_ABSENT };
}

/**
 * The SHA-1 of an entry's bytes as read, compared in Redis (`redis.sha1hex`, over the same bytes)
 * with the entry there now. Made only for a load that follows a read, never on a hit.
 */
export function entryDigest(bytes: Buffer): string {
  return createHash('sha1').update(bytes).digest('hex');
}

/**
 * The Redis side of a SharedCache: entries, leases and tag versions under one base prefix. Every
 * call goes through the cache's {@link RedisCallGuard}. Multi-key scripts only touch an entry and
 * its lease, which share a hash tag.
 */
export class CacheRedisTier {
  readonly #redis: RedisClient;
  readonly #guard: RedisCallGuard;
  readonly #base: string;
  readonly #channel: string;
  readonly #label: string;
  readonly #extraLifeMs: number;
  readonly #onError: (error: unknown) => void;

  /**
   * `channel` carries the invalidations, as given (a client's `keyPrefix` is not applied to it);
   * `onError` hears a write whose announcement Redis refused.
   */
  constructor(
    redis: RedisClient,
    guard: RedisCallGuard,
    base: string,
    channel: string,
    label: string,
    staleIfErrorMs: number,
    onError: (error: unknown) => void,
  ) {
    this.#redis = redis;
    this.#guard = guard;
    this.#base = base;
    this.#channel = channel;
    this.#label = label;
    this.#extraLifeMs = staleIfErrorMs;
    this.#onError = onError;
  }

  call<R>(operation: string, fn: () => Promise<R>): Promise<R> {
    return this.#guard.call(`${this.#label}.${operation}`, fn);
  }

  /**
   * Reads an entry; on a miss, tries for the lease in the same round trip. The lease token is also
   * the load's share of the key's generation, and the first part of a new generation's id (the
   * token and Redis's `TIME`). `waiting`
   * (see {@link CacheRedisTier.waitForFill}): with an entry, also whether the lease is held; an
   * entry its `unusable` names is returned as bytes only, its tags not checked.
   */
  async readOrLease(
    key: string,
    leaseTtlMs: number,
    waiting?: { readonly unusable: (bytes: Buffer, entry: StoredEntry) => boolean },
  ): Promise<ReadOrLease> {
    const redis = this.#redis;
    const token = newToken();
    const keys = [this.#entryKey(key), this.#leaseKey(key), this.#generationKey(key), this.#holdersKey(key)];
    const args = [token, leaseTtlMs, token, GENERATION_LIFE_MS, ...(waiting ? ['1'] : [])];
    const [bytes, acquired, third] = (await this.call('get', () =>
      runScriptForBytes(redis, READ_OR_LEASE, keys, args),
    )) as [Buffer | null, number, (Buffer | number)?];
    if (Buffer.isBuffer(bytes)) {
      const decoded = decodeEntry(bytes.toString('utf8'));
      const entry = decoded && !waiting?.unusable(bytes, decoded) ? await this.#checkTags(decoded) : undefined;
      return { ...(entry ? { entry } : {}), leaseTried: false, bytes, ...(waiting ? { leaseHeld: third === 1 } : {}) };
    }
    return {
      ...(acquired === 1 ? { lease: { token, generation: String(third ?? ''), share: token } } : {}),
      leaseTried: true,
    };
  }

  /**
   * Reads an entry, or on a miss joins the key's generation (created when absent), in one round
   * trip.
   */
  async readOrGeneration(key: string): Promise<ReadOrLease> {
    const redis = this.#redis;
    const keys = [this.#entryKey(key), this.#generationKey(key), this.#holdersKey(key)];
    const token = newToken();
    const [bytes, generation] = (await this.call('get', () =>
      runScriptForBytes(redis, READ_OR_GENERATION, keys, [token, GENERATION_LIFE_MS]),
    )) as [Buffer | null, Buffer?];
    if (Buffer.isBuffer(bytes)) {
      const entry = await this.#checkTags(decodeEntry(bytes.toString('utf8')));
      return { ...(entry ? { entry } : {}), leaseTried: false, bytes };
    }
    return { leaseTried: false, generation: { generation: String(generation ?? ''), share: token } };
  }

  /**
   * The entry as Redis holds it, decoded (tags not checked) and as bytes, or undefined: for an
   * early refresh that starts from an L1 copy, to tell whether Redis still holds that copy's entry.
   */
  async readBytes(key: string): Promise<{ entry: StoredEntry | undefined; bytes: Buffer } | undefined> {
    const redis = this.#redis;
    const full = this.#entryKey(key);
    const bytes = await this.call('get', () => redis.getBuffer(full));
    return bytes === null ? undefined : { entry: decodeEntry(bytes.toString('utf8')), bytes };
  }

  /**
   * The entry, tag-checked, when it is fresh at `now`; an expired one reads as undefined with its
   * tags unchecked (up to two calls its reader has no use for).
   */
  async read(key: string, now: number): Promise<StoredEntry | undefined> {
    const redis = this.#redis;
    const full = this.#entryKey(key);
    const entry = decodeEntry(await this.call('get', () => redis.get(full)));
    return entry && entry.e > now ? this.#checkTags(entry) : undefined;
  }

  /**
   * Loads every script of the cache into Redis's script cache (every master of a Cluster), so the
   * first calls send EVALSHA only; see {@link loadScripts} (its errors, and the NOSCRIPT fallback
   * that reloads them after a SCRIPT FLUSH, a restart or a failover).
   */
  loadScripts(timeoutMs: number): Promise<void> {
    return loadScripts(this.#redis, CACHE_SCRIPTS, timeoutMs);
  }

  /** Whether the client is connected now (status `ready`). */
  get connected(): boolean {
    return this.#redis.status === 'ready';
  }

  /**
   * Writes an entry (PX = ttl + stale-if-error window) and ends the generation in the same step, so
   * a load of the key still running cannot overwrite it, and publishes `announcement` in that step
   * too. A refused publish goes to `onError`: the write stands.
   */
  async write(key: string, entry: StoredEntry, ttlMs: number, announcement: string): Promise<void> {
    const redis = this.#redis;
    const keys = [this.#entryKey(key), this.#generationKey(key), this.#holdersKey(key)];
    const px = ttlMs + this.#extraLifeMs;
    const reply = await this.call('set', () =>
      runScript(redis, WRITE_AND_END_LOADS, keys, [encodeEntry(entry), px, this.#channel, announcement]),
    );
    this.#writeAnnounced(reply);
  }

  /**
   * Writes a computed entry unless the key was deleted, set or cleared since `generation` was read,
   * publishing `announcement` only if it wrote, and gives back `leaseToken`, all in one step.
   * Resolves to whether it wrote; a refused publish goes to `onError`. Either way the load holds
   * `generation` no more: a write ends it for every load, and one refused found it ended already.
   */
  async writeIfCurrent(
    key: string,
    entry: StoredEntry,
    ttlMs: number,
    generation: string,
    leaseToken: string,
    announcement: string,
  ): Promise<boolean> {
    const redis = this.#redis;
    const keys = [this.#entryKey(key), this.#leaseKey(key), this.#generationKey(key), this.#holdersKey(key)];
    const px = ttlMs + this.#extraLifeMs;
    const reply = await this.call('set', () =>
      runScript(redis, WRITE_IF_CURRENT, keys, [
        encodeEntry(entry),
        px,
        leaseToken,
        generation,
        this.#channel,
        announcement,
      ]),
    );
    return this.#writeAnnounced(reply);
  }

  /**
   * Joins the key's generation (created when absent), for a load that took no lease; with
   * `entryDigest` (of an entry read before, see {@link entryDigest}), undefined unless that entry is
   * unchanged (and nothing joined).
   */
  async generation(key: string, entryDigest = ''): Promise<Generation | undefined> {
    const redis = this.#redis;
    // One slot: they share a hash tag.
    const keys = [this.#generationKey(key), this.#entryKey(key), this.#holdersKey(key)];
    const share = newToken();
    const reply = await this.call('get', () =>
      runScript(redis, GENERATION_READ, keys, [share, GENERATION_LIFE_MS, entryDigest]),
    );
    return typeof reply === 'string' ? { generation: reply, share } : undefined;
  }

  /**
   * Deletes an entry and ends its generation, so a load that started before cannot write it back,
   * and publishes `announcement` in the same step, whether or not the entry existed. Rejects like
   * {@link CacheRedisTier.announce} when Redis refuses the publish (the entry is gone all the same).
   */
  async delete(key: string, announcement: string): Promise<void> {
    const redis = this.#redis;
    const keys = [this.#entryKey(key), this.#generationKey(key), this.#holdersKey(key)]; // one slot: one hash tag
    const reply = await this.call('delete', () =>
      runScript(redis, DELETE_AND_END_LOADS, keys, [this.#channel, announcement]),
    );
    const refused = (reply as [number, string | null])[1];
    if (typeof refused === 'string') throw this.#unannounced('delete', new Error(refused));
  }

  /**
   * Tries for the lease, joining the key's generation with it (the token is the load's share, and
   * the first part of a new generation's id, as in readOrLease). With `entryDigest` (of the entry a read found, see {@link entryDigest}), only while
   * that entry is unchanged: a set(), delete, clear or another pod's write since that read refuses
   * the lease, as a lease held elsewhere does.
   */
  async acquireLease(key: string, leaseTtlMs: number, entryDigest = ''): Promise<Lease | undefined> {
    const redis = this.#redis;
    const token = newToken();
    const keys = [this.#leaseKey(key), this.#generationKey(key), this.#entryKey(key), this.#holdersKey(key)]; // one slot
    const [acquired, generation] = (await this.call('lease', () =>
      runScript(redis, LEASE_ACQUIRE, keys, [token, leaseTtlMs, token, GENERATION_LIFE_MS, entryDigest]),
    )) as [number, string?];
    return acquired === 1 ? { token, generation: String(generation ?? ''), share: token } : undefined;
  }

  /**
   * Ends a load that wrote nothing: gives its lease back (`token`, or '') and leaves `generation`
   * (the one it created or joined) if it is still the key's: its share goes out of the generation's
   * holders, and only the load whose share was the last one ends it (with the holder set), so a
   * load that writes nothing never keeps a value that another load (in any pod) holding the same
   * generation computes out of Redis, and failing loads leave no key behind. Idempotent: a resend
   * after a lost reply ends nothing more. Sends nothing when there is neither. A failure is
   * ignored: the lease expires by itself, and the generation and its holders after their life.
   */
  async endLoad(key: string, token: string, generation?: Generation): Promise<void> {
    const held = generation?.generation ?? '';
    if (token === '' && held === '') return;
    const redis = this.#redis;
    const keys = [this.#leaseKey(key), this.#generationKey(key), this.#holdersKey(key)]; // one slot: one hash tag
    const share = generation?.share ?? '';
    await this.call('lease', () => runScript(redis, LOAD_END, keys, [token, held, share])).catch(() => {});
  }

  /** The current version of each tag, creating missing ones; read before computing a value. */
  async tagVersions(tags: readonly string[], ttlMs: number): Promise<Record<string, number> | undefined> {
    if (tags.length === 0) return undefined;
    const redis = this.#redis;
    const life = ttlMs + this.#extraLifeMs + 60_000;
    const replies = await this.#tagCalls('tags', tags, (tag) =>
      runScript(redis, TAG_READ, [this.#tagKey(tag)], [randomInt(1, 2 ** 40), life]),
    );
    // No prototype: a tag is a caller's name, and `versions.__proto__ = n` on a plain object
    // would set its prototype instead of recording the tag.
    const versions: Record<string, number> = Object.create(null);
    tags.forEach((tag, i) => {
      versions[tag] = Number(replies[i]);
    });
    return versions;
  }

  /**
   * Bumps every tag, then publishes `announcement`: the last tag's script publishes it, once the
   * others are bumped (they may live on other nodes), so a pod that drops its L1 on the message
   * never reads a version from before the bump. One round trip for one tag, one more per
   * {@link TAG_COMMANDS_PER_CALL} others. Rejects like {@link CacheRedisTier.announce} when Redis
   * refuses the publish.
   */
  async bumpTags(tags: readonly string[], announcement: string): Promise<void> {
    const redis = this.#redis;
    const last = tags.length - 1;
    const bump = (tag: string, args: readonly string[]): Promise<unknown> =>
      runScript(redis, TAG_BUMP, [this.#tagKey(tag)], args);
    if (last > 0) await this.#tagCalls('invalidateTags', tags.slice(0, last), (tag) => bump(tag, []));
    const reply = await this.call('invalidateTags', () => bump(tags[last] as string, [this.#channel, announcement]));
    const refused = (reply as [number, string | null])[1];
    if (typeof refused === 'string') throw this.#unannounced('invalidateTags', new Error(refused));
  }

  async publish(message: string): Promise<void> {
    const redis = this.#redis;
    await this.call('publish', () => redis.publish(this.#channel, message));
  }

  /**
   * Publishes the invalidation that follows `operation`. Redis is already updated, so a failure
   * says so: a retryable `ERR_REDIS_UNAVAILABLE` asking to call again.
   */
  async announce(operation: string, message: string): Promise<void> {
    await this.publish(message).catch((error: unknown) => {
      throw this.#unannounced(operation, error);
    });
  }

  /**
   * What a load must compare its result against: the key's generation (unless a lease or a miss's
   * read brought it; after a read that found an entry, read only while that entry is unchanged) and
   * its tags' versions. Undefined when the entry changed since the read: the result would not be
   * cached. Rejects when Redis cannot say (down, or refusing the write that creates a generation
   * or a tag version: `maxmemory` with `noeviction`, a read-only replica); nothing it loads could be
   * stored then either. A generation this step joined is left then (when the tag versions failed:
   * see {@link CacheRedisTier.endLoad}), so the failed step leaves no key behind; one given in
   * `basis` is the caller's to leave.
   */
  async beforeLoad(
    key: string,
    basis: ReadBasis | undefined,
    tags: readonly string[],
    ttlMs: number,
  ): Promise<LoadBasis | undefined> {
    const [given, digest] =
      basis && 'generation' in basis ? ([basis, undefined] as const) : ([undefined, basis?.entryDigest] as const);
    const [g, versions] = await Promise.allSettled([
      given ?? this.generation(key, digest),
      this.tagVersions(tags, ttlMs),
    ]);
    if (versions.status === 'rejected') {
      if (given === undefined && g.status === 'fulfilled') await this.endLoad(key, '', g.value);
      throw versions.reason;
    }
    if (g.status === 'rejected') throw g.reason;
    // Built field by field: a lease given as `basis` must not carry its token into the result.
    return g.value === undefined
      ? undefined
      : { generation: g.value.generation, share: g.value.share, versions: versions.value };
  }

  /**
   * Polls, for up to `waitMs` of real time, for the entry another pod is computing, or for its
   * lease: when the holder gives the lease back without writing (its write was refused, its loader
   * failed), the first waiter to see it takes the lease and computes, the others keep waiting. A
   * fresh entry counts only once `accept` makes something of it (the caller decodes it): one it
   * cannot use is waited past like an expired one, so waiters on an undecodable entry do not all
   * run the loader while the lease holder replaces it. While the lease is held, a poll that finds
   * such an entry asks for nothing more (no lease attempt, no hash of the entry, here or in Redis):
   * one round trip per poll, and its tags are checked once: a poll that finds the same bytes as the
   * poll before, which could not use them, checks no tag (tag versions only move forward, so an
   * invalidated entry stays invalidated), nor does one that finds an expired entry (a waiter has no
   * use for it); a key's tags cost up to two calls of their own per check. At the deadline, `basis`
   * is what the last poll found (`basis` as given when no poll was answered): the caller's load
   * without a lease starts only while it is unchanged.
   */
  async waitForFill<V>(
    key: string,
    leaseTtlMs: number,
    waitMs: number,
    now: () => number,
    accept: (entry: StoredEntry) => V | undefined,
    basis: ReadBasis,
  ): Promise<FillOrLease<V>> {
    const deadline = performance.now() + waitMs;
    let last: ReadOrLease | undefined;
    // The bytes of the last answered poll's entry, when it could not be used (expired, tag-invalidated,
    // undecodable, refused by `accept`): the same bytes again would fail the same way.
    let refused: Buffer | undefined;
    const unusable = (bytes: Buffer, entry: StoredEntry): boolean =>
      entry.e <= now() || (refused !== undefined && bytes.equals(refused));
    while (performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
      const found = await this.readOrLease(key, leaseTtlMs, { unusable }).catch(() => undefined);
      if (!found) continue;
      last = found;
      if (found.entry && found.entry.e > now()) {
        const accepted = accept(found.entry);
        if (accepted !== undefined) return { entry: found.entry, accepted };
      }
      refused = found.bytes;
      // A miss: the script tried for the lease.
      if (found.bytes === undefined) {
        if (found.lease) return { lease: found.lease };
        continue;
      }
      // An entry that is there but unusable (expired, tag-invalidated, undecodable) kept the script
      // from trying; once the holder is gone the lease is taken only while that entry is unchanged.
      if (found.leaseHeld) continue;
      const lease = await this.acquireLease(key, leaseTtlMs, entryDigest(found.bytes)).catch(() => undefined);
      if (lease) return { lease };
    }
    return { basis: last ? readBasis(last) : basis };
  }

  /**
   * Every key of this cache, on every Cluster master; generations (and their holder sets) too, so
   * no load running now can write its value back, and two SCAN passes, so a value such a load wrote
   * during the first one goes too (see {@link unlinkByPrefix}). Each SCAN page and each UNLINK
   * pipeline is one guarded call, bounded by the call timeout: the whole clear takes as many of
   * them as the cache has pages.
   * The first that fails or times out rejects the clear, with nothing more sent; some keys may be
   * left, so the message asks to call clear again.
   */
  async clear(): Promise<number> {
    const operation = `${this.#label}.clear`;
    return unlinkByPrefix(this.#redis, this.#base, (fn) => this.#guard.call(operation, fn), isCacheKey).catch(
      (error: unknown) => {
        const timedOut = error instanceof RedisStoreError && error.code === 'ERR_REDIS_TIMEOUT';
        throw new RedisStoreError(
          timedOut ? 'ERR_REDIS_TIMEOUT' : 'ERR_REDIS_UNAVAILABLE',
          `${operation}: ${timedOut ? `Redis did not answer within ${this.#guard.timeoutMs} ms` : 'the Redis call failed'}; the clear may be partial (some keys may be left): call clear again.`,
          { cause: safeCause(error) },
        );
      },
    );
  }

  #unannounced(operation: string, cause: unknown): RedisStoreError {
    return new RedisStoreError(
      'ERR_REDIS_UNAVAILABLE',
      `${this.#label}.${operation}: Redis was updated but other pods were not told; they may serve their L1 copy until it expires. Call ${operation} again.`,
      { cause },
    );
  }

  /**
   * Whether a write script wrote; when it did but Redis refused its PUBLISH, `onError` hears the
   * error a separate PUBLISH would have raised.
   */
  #writeAnnounced(reply: unknown): boolean {
    const [written, refused] = reply as [number, string | null];
    if (typeof refused === 'string') {
      this.#onError(
        new RedisStoreError('ERR_REDIS_UNAVAILABLE', `${this.#label}.publish: the Redis call failed.`, {
          cause: new Error(refused),
        }),
      );
    }
    return Number(written) === 1;
  }

  /** An entry whose tags were invalidated since it was computed reads as a miss. */
  async #checkTags(entry: StoredEntry | undefined): Promise<StoredEntry | undefined> {
    const recorded = entry?.t;
    if (!recorded) return entry;
    const redis = this.#redis;
    let current = true;
    await this.#tagCalls(
      'get',
      Object.keys(recorded),
      (tag) => redis.get(this.#tagKey(tag)),
      (tags, versions) => {
        current = tags.every((tag, i) => versions[i] !== null && Number(versions[i]) === recorded[tag]);
        return current; // no more calls once one tag was invalidated
      },
    );
    return current ? entry : undefined;
  }

  /**
   * `send` for every tag, in guarded calls of at most {@link TAG_COMMANDS_PER_CALL} tags, each sent
   * once the one before was answered (sent together, the last call would wait behind all the
   * others' commands and time out as one call would). `more`, given a call's tags and replies,
   * ends it early by returning false.
   */
  async #tagCalls<R>(
    operation: string,
    tags: readonly string[],
    send: (tag: string) => Promise<R>,
    more: (tags: readonly string[], replies: readonly R[]) => boolean = () => true,
  ): Promise<R[]> {
    const all: R[] = [];
    for (let from = 0; from < tags.length; from += TAG_COMMANDS_PER_CALL) {
      const some = tags.slice(from, from + TAG_COMMANDS_PER_CALL);
      const replies = await this.call(operation, () => Promise.all(some.map(send)));
      all.push(...replies);
      if (!more(some, replies)) break;
    }
    return all;
  }

  // Entries, tags and leases have their own sub-namespaces, so no cache key collides with a tag
  // key. An entry, its lease, its generation and the generation's holder set share the hash tag
  // `{=<key…>}`: the base has no braces and the "=" keeps the tag non-empty whatever the key holds,
  // so all land on one slot.
  #entryKey(key: string): string {
    return `${this.#base}{=${key}}`;
  }

  #leaseKey(key: string): string {
    return `${this.#base}l:{=${key}}`;
  }

  #generationKey(key: string): string {
    return `${this.#base}g:{=${key}}`;
  }

  #holdersKey(key: string): string {
    return `${this.#base}n:{=${key}}`;
  }

  #tagKey(tag: string): string {
    return `${this.#base}t:${tag}`;
  }
}

/**
 * Whether the rest of a key after a cache's base is one of its entries, leases, generations or
 * holder sets (see `#entryKey`). Other stores whose prefix begins with this cache's prefix and name
 * (prefix `app:x` under a cache with prefix `app` and name `x`) have keys under the same base, never
 * starting with `{=`: a prefix and a name hold no braces. Tag keys (`t:<tag>`) are left: a tag's
 * name is free text, so `t:` may begin such a store's keys too, and an old tag version harms nothing
 * once the entries that recorded it are gone (they expire by themselves).
 */
function isCacheKey(rest: string): boolean {
  return rest.startsWith('{=') || rest.startsWith('l:{=') || rest.startsWith('g:{=') || rest.startsWith('n:{=');
}

/** A random lease token or generation. */
function newToken(): string {
  return randomBytes(12).toString('base64url');
}
