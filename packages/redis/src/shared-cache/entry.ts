/**
 * The most tags one key may carry, and one `invalidateTags` call may name. Every tag costs a Redis
 * command on each read of the key (its version is checked) and each load (read) or invalidation
 * (bumped), sent at most 32 to a call, each call bounded by `timeoutMs`: with this bound no tag
 * step takes more than two calls, so every operation has a fixed worst case (see the README's
 * **Tags**). A stored entry recording more was not written under this rule: it reads as a miss.
 */
export const MAX_TAGS = 64;

/** What a cache entry looks like in Redis (JSON). */
export interface StoredEntry {
  /** The serialized value. */
  readonly v: string;
  /** Fresh until (epoch ms). */
  readonly e: number;
  /** Compute time in ms (XFetch δ). */
  readonly d: number;
  /** Tag versions seen when the value was computed: a mismatch later means it was invalidated. */
  readonly t?: Readonly<Record<string, number>>;
  /** Which write stored it, named in that write's invalidation message (see `InvalidationMessage.w`). */
  readonly w?: string;
}

export function encodeEntry(entry: StoredEntry): string {
  return JSON.stringify(entry);
}

/** Parses a stored entry; anything malformed (another writer, an old format) reads as a miss. */
export function decodeEntry(text: string | null | undefined): StoredEntry | undefined {
  if (typeof text !== 'string') return undefined;
  try {
    const parsed = JSON.parse(text) as Partial<StoredEntry> | null;
    if (
      parsed === null ||
      typeof parsed !== 'object' ||
      typeof parsed.v !== 'string' ||
      typeof parsed.e !== 'number' ||
      typeof parsed.d !== 'number'
    ) {
      return undefined;
    }
    if (parsed.w !== undefined && typeof parsed.w !== 'string') return undefined;
    if (parsed.t === undefined) return parsed as StoredEntry;
    if (typeof parsed.t !== 'object' || parsed.t === null || Array.isArray(parsed.t)) return undefined;
    // Own keys only, copied into an object without a prototype: tags are callers' names, and one
    // may be "__proto__" (JSON.parse makes that an own key; a plain object would not keep it).
    const t: Record<string, number> = Object.create(null);
    const recorded = Object.entries(parsed.t);
    if (recorded.length > MAX_TAGS) return undefined; // each read would check them all
    for (const [tag, version] of recorded) {
      if (typeof version !== 'number') return undefined;
      t[tag] = version;
    }
    return { ...(parsed as StoredEntry), t };
  } catch {
    return undefined;
  }
}
