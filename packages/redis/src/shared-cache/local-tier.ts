import type { StoredEntry } from './entry.ts';
import { BoundedLru, type L1Entry } from './l1.ts';

/** What one invalidation drops: keys, tags, or everything (`all`). */
export interface LocalInvalidation {
  readonly keys?: readonly unknown[];
  readonly tags?: readonly unknown[];
  readonly all?: boolean;
  /** The id of the entry a write stored (its keys only): reads that returned it stay valid. */
  readonly w?: unknown;
}

/** Taken before a Redis read; a write to the L1 with it is refused if an invalidation came after. */
export type LoadTicket = number;

// A mark only matters to tickets taken before it. A key is marked only while a ticket for it is
// held, and its mark goes with the last one. A tag mark (any load may turn out to carry the tag)
// goes once it is older than every ticket held; past this many newer ones (a load running through
// a storm of tag invalidations) they are forgotten at once and loads holding older tickets may
// not fill the L1: bounded memory, never a stale value. This gates the L1 only: whether Redis takes
// a value is decided in Redis.
const MAX_TAG_MARKS = 10_000;

/**
 * The in-process tier of a SharedCache: the bounded LRU plus what keeps it honest. A value loaded
 * from Redis or a loader is only kept if no invalidation (another pod's message, this pod's own
 * delete, invalidateTags or clear, a subscriber reconnect) touched its key or tags since the load
 * started, and only while invalidations can reach this pod (`trusted`).
 */
export class LocalTier<T> {
  readonly #lru: BoundedLru<T>;
  readonly #ttlMs: number | undefined;
  readonly #staleIfErrorMs: number;
  readonly #trusted: () => boolean;
  #seq = 0;
  /** Loads started before this sequence number read as invalidated. */
  #floor = 0;
  /** Per key: the last invalidation's sequence number, and the write id it announced, if any. */
  readonly #keyMarks = new Map<string, { readonly seq: number; readonly w: unknown }>();
  /** Per tag: the last invalidation's sequence number; in ascending order of it. */
  readonly #tagMarks = new Map<string, number>();
  /** Tickets held by loads still running, with how many hold each (in ascending order). */
  readonly #held = new Map<LoadTicket, number>();
  /** Keys with a ticket held, with how many. */
  readonly #heldKeys = new Map<string, number>();

  constructor(maxEntries: number, ttlMs: number | undefined, staleIfErrorMs: number, trusted: () => boolean) {
    this.#lru = new BoundedLru<T>(maxEntries);
    this.#ttlMs = ttlMs;
    this.#staleIfErrorMs = staleIfErrorMs;
    this.#trusted = trusted;
  }

  get size(): number {
    return this.#lru.size;
  }

  get maxEntries(): number {
    return this.#lru.maxEntries;
  }

  /** The entry for `key`, while invalidations can reach this pod. */
  get(key: string, now: number): L1Entry<T> | undefined {
    return this.#trusted() ? this.#lru.get(key, now) : undefined;
  }

  /**
   * The entry, within its stale-if-error window, even while invalidations cannot arrive: only while
   * Redis is down (then nobody can publish an invalidation either).
   */
  getForOutage(key: string, now: number): L1Entry<T> | undefined {
    const entry = this.#lru.get(key, now);
    return entry && entry.staleUntil > now ? entry : undefined;
  }

  /** A ticket for a load or read of `key`; give it back with {@link LocalTier.release} once done. */
  ticket(key: string): LoadTicket {
    const ticket = this.#seq;
    count(this.#held, ticket, 1);
    count(this.#heldKeys, key, 1);
    return ticket;
  }

  release(ticket: LoadTicket, key: string): void {
    count(this.#held, ticket, -1);
    if (!count(this.#heldKeys, key, -1)) this.#keyMarks.delete(key);
  }

  /** Marks kept, per key and per tag: bounded by what held tickets can still need. */
  get marks(): number {
    return this.#keyMarks.size + this.#tagMarks.size;
  }

  /**
   * True when an invalidation touching `key` or one of `tags` happened after `ticket` was taken,
   * unless the last one for `key` was the write of entry `writeId` itself.
   */
  invalidatedSince(ticket: LoadTicket, key: string, tags: readonly string[], writeId?: string): boolean {
    if (ticket < this.#floor) return true;
    const mark = this.#keyMarks.get(key);
    if (mark && mark.seq > ticket && (writeId === undefined || mark.w !== writeId)) return true;
    return tags.some((tag) => (this.#tagMarks.get(tag) ?? -1) > ticket);
  }

  /**
   * Keeps `value` (from `entry`) unless it was invalidated since `ticket` or invalidations cannot
   * arrive; returns whether it kept it. The L1 may expire it sooner (`l1.ttlMs`); XFetch still
   * measures against the entry.
   */
  set(key: string, value: T, entry: StoredEntry, now: number, tags: readonly string[], ticket: LoadTicket): boolean {
    if (!this.#trusted() || this.invalidatedSince(ticket, key, tags, entry.w)) return false;
    const expiresAt = this.#ttlMs === undefined ? entry.e : Math.min(entry.e, now + this.#ttlMs);
    this.#lru.set(key, {
      value,
      expiresAt,
      entryExpiresAt: entry.e,
      staleUntil: expiresAt + this.#staleIfErrorMs,
      deltaMs: entry.d,
      tags,
      ...(entry.w === undefined ? {} : { writeId: entry.w }),
    });
    return true;
  }

  /** Drops what `message` names and marks it, so loads in flight do not put it back. */
  invalidate(message: LocalInvalidation): void {
    const seq = ++this.#seq;
    if (message.all) {
      this.#floor = seq;
      this.#keyMarks.clear();
      this.#tagMarks.clear();
      this.#lru.clear();
      return;
    }
    const keys = (message.keys ?? []).filter((k): k is string => typeof k === 'string');
    const tags = (message.tags ?? []).filter((t): t is string => typeof t === 'string');
    for (const key of keys) if (this.#heldKeys.has(key)) this.#keyMarks.set(key, { seq, w: message.w });
    if (tags.length > 0) this.#markTags(tags, seq);
    for (const key of keys) this.#lru.delete(key);
    if (tags.length > 0) this.#lru.deleteTagged(tags);
  }

  #markTags(tags: readonly string[], seq: number): void {
    // The oldest ticket held (none: every mark is older than any ticket still to come).
    const oldest = this.#held.keys().next().value ?? seq;
    for (const [tag, marked] of this.#tagMarks) {
      if (marked > oldest) break;
      this.#tagMarks.delete(tag);
    }
    if (this.#tagMarks.size + tags.length > MAX_TAG_MARKS) {
      this.#floor = seq;
      this.#tagMarks.clear();
      this.#keyMarks.clear();
      return;
    }
    // Deleted first, so the map stays in the order of its marks.
    for (const tag of tags) this.#tagMarks.delete(tag);
    for (const tag of tags) this.#tagMarks.set(tag, seq);
  }
}

/** Adds `by` to the count of `name`, dropping it at zero; returns the new count. */
function count<K>(counts: Map<K, number>, name: K, by: number): number {
  const n = (counts.get(name) ?? 0) + by;
  if (n > 0) counts.set(name, n);
  else counts.delete(name);
  return n;
}

/**
 * Runs `load` with a ticket of `tier` for `key`, given back when it settles. Without an L1 it adds
 * no promise of its own: a Redis-only read pays nothing for it.
 */
export function withTicket<T, R>(
  tier: LocalTier<T> | undefined,
  key: string,
  load: (ticket: LoadTicket) => Promise<R>,
): Promise<R> {
  if (!tier) return load(0);
  const ticket = tier.ticket(key);
  return load(ticket).finally(() => tier.release(ticket, key));
}
