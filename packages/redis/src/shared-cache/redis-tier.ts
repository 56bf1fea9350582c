import { randomBytes, randomInt } from 'node:crypto';
import type { RedisCallGuard } from '../redis-down-policy.ts';
import { defineScript, type RedisClient, runScript } from '../scripts.ts';
import { unlinkByPrefix } from './clear.ts';
import { decodeEntry, encodeEntry, type StoredEntry } from './entry.ts';

// A tag key must outlive every entry that recorded its version: otherwise it could expire, come
// back with the old version, and resurrect invalidated entries. New tags start at a random version.
const TAG_READ = defineScript(
  'cache-tag-read',
  `local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
elseif redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v`,
);

const TAG_BUMP = defineScript(
  'cache-tag-bump',
  `if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('INCR', KEYS[1]) end
return 0`,
);

const LEASE_RELEASE = defineScript(
  'cache-lease-release',
  `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`,
);

// On a miss, take the lease in the same round trip as the read.
const READ_OR_LEASE = defineScript(
  'cache-read-or-lease',
  `local v = redis.call('GET', KEYS[1])
if v then return {v, 0} end
if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return {false, 1} end
return {false, 0}`,
);

// Write the computed value and give the lease back in one round trip.
const WRITE_AND_RELEASE = defineScript(
  'cache-write-and-release',
  `redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
if redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return 1`,
);

/** What a read-or-lease found: a (tag-checked) entry, the lease, and whether the lease was tried. */
export interface ReadOrLease {
  readonly entry?: StoredEntry;
  readonly token?: string;
  readonly leaseTried: boolean;
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
  readonly #label: string;
  readonly #extraLifeMs: number;

  constructor(redis: RedisClient, guard: RedisCallGuard, base: string, label: string, staleIfErrorMs: number) {
    this.#redis = redis;
    this.#guard = guard;
    this.#base = base;
    this.#label = label;
    this.#extraLifeMs = staleIfErrorMs;
  }

  call<R>(operation: string, fn: () => Promise<R>): Promise<R> {
    return this.#guard.call(`${this.#label}.${operation}`, fn);
  }

  /** Reads an entry; on a miss, tries for the lease in the same round trip. */
  async readOrLease(key: string, leaseTtlMs: number): Promise<ReadOrLease> {
    const redis = this.#redis;
    const token = randomBytes(12).toString('base64url');
    const [text, acquired] = (await this.call('get', () =>
      runScript(redis, READ_OR_LEASE, [this.#entryKey(key), this.#leaseKey(key)], [token, leaseTtlMs]),
    )) as [string | false | null, number];
    const entry = typeof text === 'string' ? await this.#checkTags(decodeEntry(text)) : undefined;
    return {
      ...(entry ? { entry } : {}),
      ...(acquired === 1 ? { token } : {}),
      leaseTried: typeof text !== 'string',
    };
  }

  async read(key: string): Promise<StoredEntry | undefined> {
    const redis = this.#redis;
    const full = this.#entryKey(key);
    return this.#checkTags(decodeEntry(await this.call('get', () => redis.get(full))));
  }

  /** Writes an entry (PX = ttl + stale-if-error window), giving back `leaseToken` in the same step. */
  async write(key: string, entry: StoredEntry, ttlMs: number, leaseToken?: string): Promise<void> {
    const redis = this.#redis;
    const full = this.#entryKey(key);
    const px = ttlMs + this.#extraLifeMs;
    if (leaseToken === undefined) {
      await this.call('set', () => redis.set(full, encodeEntry(entry), 'PX', px));
      return;
    }
    await this.call('set', () =>
      runScript(redis, WRITE_AND_RELEASE, [full, this.#leaseKey(key)], [encodeEntry(entry), px, leaseToken]),
    );
  }

  async delete(key: string): Promise<void> {
    const redis = this.#redis;
    const full = this.#entryKey(key);
    await this.call('delete', () => redis.unlink(full));
  }

  async acquireLease(key: string, leaseTtlMs: number): Promise<string | undefined> {
    const redis = this.#redis;
    const token = randomBytes(12).toString('base64url');
    const reply = await this.call('lease', () => redis.set(this.#leaseKey(key), token, 'PX', leaseTtlMs, 'NX'));
    return reply === 'OK' ? token : undefined;
  }

  /** Gives a lease back; a failure is ignored because the lease expires by itself. */
  async releaseLease(key: string, token: string): Promise<void> {
    const redis = this.#redis;
    await this.call('lease', () => runScript(redis, LEASE_RELEASE, [this.#leaseKey(key)], [token])).catch(() => {});
  }

  /** The current version of each tag, creating missing ones; read before computing a value. */
  async tagVersions(tags: readonly string[], ttlMs: number): Promise<Record<string, number> | undefined> {
    if (tags.length === 0) return undefined;
    const redis = this.#redis;
    const life = ttlMs + this.#extraLifeMs + 60_000;
    const replies = await this.call('tags', () =>
      Promise.all(tags.map((tag) => runScript(redis, TAG_READ, [this.#tagKey(tag)], [randomInt(1, 2 ** 40), life]))),
    );
    const versions: Record<string, number> = {};
    tags.forEach((tag, i) => {
      versions[tag] = Number(replies[i]);
    });
    return versions;
  }

  async bumpTags(tags: readonly string[]): Promise<void> {
    const redis = this.#redis;
    await this.call('invalidateTags', () =>
      Promise.all(tags.map((tag) => runScript(redis, TAG_BUMP, [this.#tagKey(tag)], []))),
    );
  }

  async publish(channel: string, message: string): Promise<void> {
    const redis = this.#redis;
    await this.call('publish', () => redis.publish(channel, message));
  }

  /** Every key of this cache, on every Cluster master. Not bounded by the call timeout. */
  clear(): Promise<number> {
    return unlinkByPrefix(this.#redis, this.#base);
  }

  /** An entry whose tags were invalidated since it was computed reads as a miss. */
  async #checkTags(entry: StoredEntry | undefined): Promise<StoredEntry | undefined> {
    if (!entry?.t) return entry;
    const redis = this.#redis;
    const tags = Object.keys(entry.t);
    const current = await this.call('get', () => Promise.all(tags.map((tag) => redis.get(this.#tagKey(tag)))));
    for (let i = 0; i < tags.length; i++) {
      if (current[i] === null || Number(current[i]) !== entry.t[tags[i] as string]) return undefined;
    }
    return entry;
  }

  // Entries, tags and leases have their own sub-namespaces, so no cache key collides with a tag
  // key. An entry and its lease share the hash tag `{=<key…>}`: the base has no braces and the
  // "=" keeps the tag non-empty whatever the key holds, so both land on one slot.
  #entryKey(key: string): string {
    return `${this.#base}{=${key}}`;
  }

  #leaseKey(key: string): string {
    return `${this.#base}l:{=${key}}`;
  }

  #tagKey(tag: string): string {
    return `${this.#base}t:${tag}`;
  }
}
