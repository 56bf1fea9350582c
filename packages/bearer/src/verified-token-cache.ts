import { createHash } from 'node:crypto';

/** Options of the opt-in verified-token cache. */
export interface VerifiedTokenCacheOptions {
  /** Most tokens kept; the least recently used is dropped. Default 10000. */
  readonly maxEntries?: number;
  /** Longest a verified signature is reused, whatever the token's `exp`. Default 60, at most 300. */
  readonly maxTtlSeconds?: number;
}

/** Problems with the cache options (empty when fine). */
export function verifiedTokenCacheProblems(options: VerifiedTokenCacheOptions | undefined): string[] {
  if (options === undefined) return [];
  const problems: string[] = [];
  const { maxEntries, maxTtlSeconds } = options;
  if (maxEntries !== undefined && !(Number.isInteger(maxEntries) && maxEntries >= 1 && maxEntries <= 1_000_000)) {
    problems.push('verifiedTokenCache.maxEntries must be an integer between 1 and 1000000');
  }
  if (maxTtlSeconds !== undefined && !(Number.isFinite(maxTtlSeconds) && maxTtlSeconds > 0 && maxTtlSeconds <= 300)) {
    problems.push('verifiedTokenCache.maxTtlSeconds must be between 1 and 300');
  }
  return problems;
}

/**
 * Remembers which token strings passed parsing and signature verification, keyed by their SHA-256
 * (the token itself is never stored). Only the expensive, time-independent part is skipped on a
 * hit: claims, scopes, verification steps and the revocation hook still run on every request.
 */
export class VerifiedTokenCache<T> {
  readonly #entries = new Map<string, { value: T; until: number }>();
  readonly #maxEntries: number;
  readonly #maxTtlMs: number;

  constructor(options: VerifiedTokenCacheOptions) {
    this.#maxEntries = options.maxEntries ?? 10_000;
    this.#maxTtlMs = (options.maxTtlSeconds ?? 60) * 1000;
  }

  /** The cache key of a token. */
  static keyOf(token: string): string {
    return createHash('sha256').update(token).digest('base64url');
  }

  /** The unexpired value stored under `key`, marking it most recently used. */
  get(key: string, nowMs: number): T | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.until <= nowMs) {
      this.#entries.delete(key);
      return undefined;
    }
    // A Map iterates in insertion order: re-inserting on a hit makes eviction least recently used.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    return entry.value;
  }

  /** Stores `value` until `expiresAtMs` or the max TTL, whichever comes first. */
  set(key: string, value: T, nowMs: number, expiresAtMs: number): void {
    const until = Math.min(expiresAtMs, nowMs + this.#maxTtlMs);
    if (until <= nowMs) return;
    this.#entries.delete(key);
    this.#entries.set(key, { value, until });
    if (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value;
      if (oldest !== undefined) this.#entries.delete(oldest);
    }
  }

  get size(): number {
    return this.#entries.size;
  }
}
