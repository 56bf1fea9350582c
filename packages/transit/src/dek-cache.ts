import type { DataKey } from './data-key.ts';
import { TransitError } from './errors.ts';
import type { MetricsHook } from './metrics.ts';

/**
 * Limits of the encrypt-side DEK cache.
 *
 * @example
 * ```ts
 * import type { EncryptCacheLimits } from '@rampart/transit';
 * const cache: EncryptCacheLimits = { maxAgeMs: 5 * 60_000, maxMessages: 2 ** 20, maxBytes: 2 ** 32 };
 * ```
 */
export interface EncryptCacheLimits {
  /** How long one DEK encrypts, in ms. Required: treat it like a key rotation period. */
  readonly maxAgeMs: number;
  /**
   * Records per DEK. Default 2^20, at most 2^30 (record nonces are a 32-bit counter per DEK). A
   * stream counts as one record: it encrypts under a key of its own, derived from the DEK.
   */
  readonly maxMessages?: number;
  /** Plaintext bytes of records per DEK. Default 2^36 (64 GiB). Stream bytes are not counted (see maxMessages). */
  readonly maxBytes?: number;
  /** Distinct (key, tenant) bindings cached at once; the least recently used goes first. Default 1,000. */
  readonly maxEntries?: number;
}

/**
 * Default records per DEK (2^20), far below the 2^32 a random-nonce GCM key allows.
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_MESSAGES } from '@rampart/transit';
 * const cache = { maxAgeMs: 60_000, maxMessages: DEFAULT_MAX_MESSAGES / 4 };
 * ```
 */
export const DEFAULT_MAX_MESSAGES = 2 ** 20;
/**
 * Largest `cache.maxMessages` accepted (2^30): record nonces are a 32-bit counter per DEK.
 *
 * @example
 * ```ts
 * import { MAX_MESSAGES_CAP } from '@rampart/transit';
 * const cache = { maxAgeMs: 60_000, maxMessages: MAX_MESSAGES_CAP };
 * ```
 */
export const MAX_MESSAGES_CAP = 2 ** 30;
/**
 * Default plaintext bytes per DEK (64 GiB).
 *
 * @example
 * ```ts
 * import { DEFAULT_MAX_BYTES } from '@rampart/transit';
 * const cache = { maxAgeMs: 60_000, maxBytes: DEFAULT_MAX_BYTES / 16 };
 * ```
 */
export const DEFAULT_MAX_BYTES = 2 ** 36;

/**
 * Data keys `clearCaches()` may drop during one encrypt before it fails with a retryable
 * `ERR_TRANSIT_VAULT_UNAVAILABLE` (each drop means a new Vault call).
 */
const MAX_CLEARED_FETCHES = 3;

type RetireReason = 'max-age' | 'max-messages' | 'max-bytes' | 'evicted' | 'cleared';

/**
 * Why a DEK dropped by eviction or `clear()` stopped serving: a DEK already past `maxAgeMs` had
 * stopped at its age, whichever path notices it first.
 */
function dropReason(ageMs: number, maxAgeMs: number, reason: 'evicted' | 'cleared'): RetireReason {
  return ageMs >= maxAgeMs ? 'max-age' : reason;
}

export interface EncryptEntry {
  readonly dataKey: DataKey;
  /** `keyVersion | wrappedDek` as the envelope carries it. */
  readonly wrapped: Buffer;
  readonly keyVersion: number;
  readonly createdAt: number;
  messages: number;
  bytes: number;
}

/**
 * Encrypt-side cache: one DEK per binding (transit key + tenant), retired on age, message count or
 * bytes, least-recently-used eviction, and single-flight: concurrent misses for one binding share
 * one Vault call.
 */
export class EncryptDekCache {
  readonly #entries = new Map<string, EncryptEntry>();
  readonly #inflight = new Map<string, Promise<EncryptEntry | undefined>>();
  /** Bumped by {@link clear}: a fetch started under an older generation is never used. */
  #generation = 0;
  readonly #maxAgeMs: number;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #metrics: MetricsHook | undefined;

  constructor(limits: EncryptCacheLimits, now: () => number, metrics: MetricsHook | undefined) {
    this.#maxAgeMs = limits.maxAgeMs;
    this.#maxMessages = limits.maxMessages ?? DEFAULT_MAX_MESSAGES;
    this.#maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
    this.#maxEntries = limits.maxEntries ?? 1_000;
    this.#now = now;
    this.#metrics = metrics;
  }

  /** Reserves one message of `bytes` on a cached DEK, or returns `undefined` on a miss. */
  tryReserve(binding: string, bytes: number): { entry: EncryptEntry; counter: number } | undefined {
    const entry = this.#entries.get(binding);
    if (!entry) return undefined;
    const reason =
      this.#now() - entry.createdAt >= this.#maxAgeMs
        ? 'max-age'
        : entry.messages >= this.#maxMessages
          ? 'max-messages'
          : entry.messages > 0 && entry.bytes + bytes > this.#maxBytes
            ? 'max-bytes'
            : undefined;
    if (reason) {
      this.#retire(binding, entry, reason);
      return undefined;
    }
    const counter = entry.messages;
    entry.messages += 1;
    entry.bytes += bytes;
    // Keep recency order for LRU eviction.
    this.#entries.delete(binding);
    this.#entries.set(binding, entry);
    if (entry.messages >= this.#maxMessages || entry.bytes >= this.#maxBytes) {
      this.#retire(binding, entry, entry.messages >= this.#maxMessages ? 'max-messages' : 'max-bytes');
    }
    return { entry, counter };
  }

  /**
   * Like {@link tryReserve}, fetching a new DEK on a miss; concurrent misses share one fetch. The
   * callers waiting on a fetch use the DEK it returns even if it is already older than `maxAgeMs`
   * (a slow Vault answer) or already evicted by the LRU (more bindings missed at once than
   * `maxEntries`), up to its message and byte limits; later reservations see its age from the
   * request and take a new one. A
   * DEK whose fetch started before the last {@link clear} is dropped when it arrives, unused by
   * anyone (the caller that started the fetch included): its waiters fetch again, so nothing that
   * returns after `clear()` uses a key version Vault chose before it. After
   * {@link MAX_CLEARED_FETCHES} such drops the call fails with a retryable
   * `ERR_TRANSIT_VAULT_UNAVAILABLE` rather than waiting forever. Once a fetch it waited for
   * settles, a `cancelled()` caller (a stream destroyed meanwhile) reserves nothing and fails with
   * `ERR_TRANSIT_STREAM`: the DEK stays cached for others, its message count untouched.
   */
  async reserve(
    binding: string,
    bytes: number,
    fetch: () => Promise<EncryptEntry>,
    cancelled?: () => boolean,
  ): Promise<{ entry: EncryptEntry; counter: number }> {
    let cleared = 0;
    for (;;) {
      const hit = this.tryReserve(binding, bytes);
      if (hit) {
        this.#metrics?.({ type: 'cache', cache: 'encrypt', result: 'hit' });
        return hit;
      }
      const generation = this.#generation;
      let pending = this.#inflight.get(binding);
      if (!pending) {
        this.#metrics?.({ type: 'cache', cache: 'encrypt', result: 'miss' });
        const fetching: Promise<EncryptEntry | undefined> = fetch()
          .then((entry) => {
            if (generation !== this.#generation) {
              this.#retire(binding, entry, 'cleared');
              return undefined;
            }
            this.#store(binding, entry);
            return entry;
          })
          .finally(() => {
            if (this.#inflight.get(binding) === fetching) this.#inflight.delete(binding);
          });
        pending = fetching;
        this.#inflight.set(binding, pending);
      }
      const fetched = await pending;
      if (cancelled?.()) {
        throw new TransitError('ERR_TRANSIT_STREAM', 'encryptStream: destroyed before its data key arrived.');
      }
      if (generation !== this.#generation) {
        cleared += 1;
        if (cleared >= MAX_CLEARED_FETCHES) {
          throw new TransitError(
            'ERR_TRANSIT_VAULT_UNAVAILABLE',
            `clearCaches() dropped ${cleared} data keys before this encrypt could use one: retry the call once clearCaches() is no longer called in a loop.`,
          );
        }
        continue;
      }
      // The DEK this call waited for: use it whatever its age (it was requested for this call),
      // and even if the LRU already evicted it (more bindings missed at once than maxEntries):
      // dropping it would fetch again for every waiter whose entry another binding pushed out.
      // Its message counter still makes each nonce unique; only its message/byte limits (or a
      // clear(), above) send this call round again.
      if (fetched) {
        const reserved = this.#reserveOn(binding, fetched, bytes);
        if (reserved) {
          this.#metrics?.({ type: 'cache', cache: 'encrypt', result: 'hit' });
          return reserved;
        }
      }
    }
  }

  /**
   * Reserves one message on `entry` (fetched for `binding`, cached or already evicted) without
   * looking at its age. Only a still-cached entry is retired here: an evicted one was reported then.
   * One that a slow Vault answer left past `maxAgeMs` is reported as `max-age`, as on every path.
   */
  #reserveOn(
    binding: string,
    entry: EncryptEntry,
    bytes: number,
  ): { entry: EncryptEntry; counter: number } | undefined {
    const cached = this.#entries.get(binding) === entry;
    if (entry.messages >= this.#maxMessages || (entry.messages > 0 && entry.bytes + bytes > this.#maxBytes)) {
      if (cached) this.#retire(binding, entry, this.#limitReason(entry));
      return undefined;
    }
    const counter = entry.messages;
    entry.messages += 1;
    entry.bytes += bytes;
    if (cached && (entry.messages >= this.#maxMessages || entry.bytes >= this.#maxBytes)) {
      this.#retire(binding, entry, this.#limitReason(entry));
    }
    return { entry, counter };
  }

  /** Why `entry`, at its message or byte limit, stops: its age first, if that had already stopped it. */
  #limitReason(entry: EncryptEntry): RetireReason {
    if (this.#now() - entry.createdAt >= this.#maxAgeMs) return 'max-age';
    return entry.messages >= this.#maxMessages ? 'max-messages' : 'max-bytes';
  }

  #store(binding: string, entry: EncryptEntry): void {
    const previous = this.#entries.get(binding);
    if (previous) this.#retire(binding, previous, 'evicted');
    this.#entries.set(binding, entry);
    while (this.#entries.size > this.#maxEntries) {
      const [oldest, value] = this.#entries.entries().next().value as [string, EncryptEntry];
      this.#retire(oldest, value, 'evicted');
    }
  }

  /** Removes `entry` and reports it; every DEK a fetch returned passes here exactly once. */
  #retire(binding: string, entry: EncryptEntry, reason: RetireReason): void {
    if (this.#entries.get(binding) === entry) this.#entries.delete(binding);
    const ageMs = this.#now() - entry.createdAt;
    this.#metrics?.({
      type: 'dek-retired',
      cache: 'encrypt',
      reason: reason === 'evicted' || reason === 'cleared' ? dropReason(ageMs, this.#maxAgeMs, reason) : reason,
      ageMs,
      messages: entry.messages,
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Retires every DEK, and every DEK still being fetched once it arrives. */
  clear(): void {
    this.#generation += 1;
    this.#inflight.clear();
    for (const [binding, entry] of [...this.#entries]) {
      // A metrics hook that called clear() (or clearCaches()) from here already retired the rest.
      if (this.#entries.get(binding) === entry) this.#retire(binding, entry, 'cleared');
    }
  }
}

/** Decrypt-side cache: DEKs by wrapped DEK (and transit context), with max age and LRU size. */
export class DecryptDekCache {
  readonly #entries = new Map<string, { dataKey: DataKey; createdAt: number }>();
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;
  readonly #now: () => number;
  readonly #metrics: MetricsHook | undefined;
  #generation = 0;

  constructor(limits: { maxAgeMs: number; maxEntries: number }, now: () => number, metrics: MetricsHook | undefined) {
    this.#maxAgeMs = limits.maxAgeMs;
    this.#maxEntries = limits.maxEntries;
    this.#now = now;
    this.#metrics = metrics;
  }

  get(id: string): DataKey | undefined {
    const entry = this.#entries.get(id);
    if (!entry) return undefined;
    if (this.#now() - entry.createdAt >= this.#maxAgeMs) {
      this.#retire(id, entry, 'max-age');
      return undefined;
    }
    this.#entries.delete(id);
    this.#entries.set(id, entry);
    return entry.dataKey;
  }

  /** Bumped by {@link clear}; pass it to {@link set} as it was when the DEK was requested. */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Caches `dataKey`, aged from `requestedAt`, unless the cache was cleared since `generation`
   * (a DEK requested before `clear()` is not kept). When the same wrapped DEK is already cached
   * (it holds the same DEK), that entry is kept, with its age, and nothing is reported: no DEK left
   * the cache (one past `maxAgeMs` is retired as `max-age` and replaced). The new entry goes in before any eviction is reported, so a metrics hook that calls
   * `clear()` from that report retires it too.
   */
  set(id: string, dataKey: DataKey, generation: number, requestedAt: number): void {
    if (this.#maxEntries === 0 || generation !== this.#generation) return;
    const previous = this.#entries.get(id);
    if (previous) {
      if (this.#now() - previous.createdAt < this.#maxAgeMs) {
        this.#entries.delete(id);
        this.#entries.set(id, previous);
        return;
      }
      this.#retire(id, previous, 'max-age');
      if (generation !== this.#generation) return;
    }
    this.#entries.set(id, { dataKey, createdAt: requestedAt });
    // Re-read after every report: a hook's clear() empties the map (and bumps the generation).
    while (this.#entries.size > this.#maxEntries && generation === this.#generation) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, { createdAt: number }];
      this.#retire(oldest, entry, 'evicted');
    }
  }

  /** Removes the entry cached under `id` and reports it; every cached DEK passes here exactly once. */
  #retire(id: string, entry: { createdAt: number }, reason: RetireReason): void {
    this.#entries.delete(id);
    const ageMs = this.#now() - entry.createdAt;
    this.#metrics?.({
      type: 'dek-retired',
      cache: 'decrypt',
      reason: reason === 'evicted' || reason === 'cleared' ? dropReason(ageMs, this.#maxAgeMs, reason) : reason,
      ageMs,
      messages: 0,
    });
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Retires every DEK; DEKs requested before this are not cached when they arrive. */
  clear(): void {
    this.#generation += 1;
    for (const [id, entry] of [...this.#entries]) {
      // A metrics hook that called clear() (or clearCaches()) from here already retired the rest.
      if (this.#entries.get(id) === entry) this.#retire(id, entry, 'cleared');
    }
  }
}
