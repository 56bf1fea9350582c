/** One in-process entry. */
export interface L1Entry<T> {
  readonly value: T;
  /** When this pod stops trusting the value (epoch ms): the entry's expiry, or sooner with `l1.ttlMs`. */
  readonly expiresAt: number;
  /** When the shared entry stops being fresh (epoch ms): what XFetch measures against. */
  readonly entryExpiresAt: number;
  /** Until when it may still be served stale (epoch ms): `expiresAt` + stale-if-error grace. */
  readonly staleUntil: number;
  /** How long computing it took (ms), for early refresh. */
  readonly deltaMs: number;
  readonly tags: readonly string[];
  /** The write id of the shared entry it came from, if it had one (see `StoredEntry.w`). */
  readonly writeId?: string;
}

/**
 * A size-capped LRU over a `Map` (insertion order = recency): O(1) get/set/evict, so a flood of
 * distinct keys costs memory up to the cap and never a sweep.
 */
export class BoundedLru<T> {
  readonly maxEntries: number;
  readonly #map = new Map<string, L1Entry<T>>();

  constructor(maxEntries: number) {
    this.maxEntries = maxEntries;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: string, now: number): L1Entry<T> | undefined {
    const entry = this.#map.get(key);
    if (entry === undefined) return undefined;
    if (entry.staleUntil <= now) {
      this.#map.delete(key);
      return undefined;
    }
    // Re-insert to mark it most recently used.
    this.#map.delete(key);
    this.#map.set(key, entry);
    return entry;
  }

  set(key: string, entry: L1Entry<T>): void {
    this.#map.delete(key);
    this.#map.set(key, entry);
    if (this.#map.size > this.maxEntries) {
      const oldest = this.#map.keys().next().value;
      if (oldest !== undefined) this.#map.delete(oldest);
    }
  }

  delete(key: string): void {
    this.#map.delete(key);
  }

  /** Drops every entry carrying one of `tags`. O(size): runs on invalidation, never per request. */
  deleteTagged(tags: readonly string[]): void {
    const wanted = new Set(tags);
    for (const [key, entry] of this.#map) {
      if (entry.tags.some((t) => wanted.has(t))) this.#map.delete(key);
    }
  }

  clear(): void {
    this.#map.clear();
  }
}
