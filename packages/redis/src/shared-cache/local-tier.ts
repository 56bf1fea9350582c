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

// Invalidation marks kept per key and per tag. Past this many, they are forgotten at once and every
// load started before reads as invalidated: bounded memory, never a stale value.
const MAX_MARKS = 10_000;

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
  readonly #tagMarks = new Map<string, number>();

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

  /** The entry even while invalidations cannot arrive: only for stale-if-error while Redis is down. */
  getForOutage(key: string, now: number): L1Entry<T> | undefined {
    return this.#lru.get(key, now);
  }

  ticket(): LoadTicket {
    return this.#seq;
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
   * arrive. The L1 may expire it sooner (`l1.ttlMs`); XFetch still measures against the entry.
   */
  set(key: string, value: T, entry: StoredEntry, now: number, tags: readonly string[], ticket: LoadTicket): void {
    if (!this.#trusted() || this.invalidatedSince(ticket, key, tags, entry.w)) return;
    const expiresAt = this.#ttlMs === undefined ? entry.e : Math.min(entry.e, now + this.#ttlMs);
    this.#lru.set(key, {
      value,
      expiresAt,
      entryExpiresAt: entry.e,
      staleUntil: expiresAt + this.#staleIfErrorMs,
      deltaMs: entry.d,
      tags,
    });
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
    if (this.#keyMarks.size + keys.length > MAX_MARKS || this.#tagMarks.size + tags.length > MAX_MARKS) {
      this.#floor = seq;
      this.#keyMarks.clear();
      this.#tagMarks.clear();
    } else {
      for (const key of keys) this.#keyMarks.set(key, { seq, w: message.w });
      for (const tag of tags) this.#tagMarks.set(tag, seq);
    }
    for (const key of keys) this.#lru.delete(key);
    if (tags.length > 0) this.#lru.deleteTagged(tags);
  }
}
