import { performance } from 'node:perf_hooks';

interface Entry<V> {
  readonly until: number;
  readonly value: V;
}

/**
 * A size-capped map of subjects that Redis said are rejected until some time. Every operation is
 * O(1): expired entries are dropped when read, and when full the oldest insertion is evicted
 * (a Map iterates in insertion order), so there is never a sweep over all entries.
 *
 * @example
 * ```ts
 * import { BlockedSubjects } from '@rampart/redis';
 * const blocked = new BlockedSubjects<number>(10_000);
 * blocked.set('ip:203.0.113.7', 5_000, 1);
 * blocked.get('ip:203.0.113.7'); // { remainingMs: ~5000, value: 1 }
 * ```
 */
export class BlockedSubjects<V> {
  readonly maxKeys: number;
  readonly #entries = new Map<string, Entry<V>>();
  readonly #now: () => number;

  constructor(maxKeys: number, now: () => number = () => performance.now()) {
    this.maxKeys = maxKeys;
    this.#now = now;
  }

  /** Number of entries held (expired ones included until read or evicted). */
  get size(): number {
    return this.#entries.size;
  }

  /** The entry for `subject` if it is still blocked. */
  get(subject: string): { remainingMs: number; value: V } | undefined {
    const entry = this.#entries.get(subject);
    if (entry === undefined) return undefined;
    const remainingMs = entry.until - this.#now();
    if (remainingMs <= 0) {
      this.#entries.delete(subject);
      return undefined;
    }
    return { remainingMs, value: entry.value };
  }

  /** Records that `subject` stays rejected for `forMs`. */
  set(subject: string, forMs: number, value: V): void {
    if (this.#entries.has(subject)) this.#entries.delete(subject);
    else if (this.#entries.size >= this.maxKeys) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    this.#entries.set(subject, { until: this.#now() + forMs, value });
  }

  delete(subject: string): void {
    this.#entries.delete(subject);
  }

  clear(): void {
    this.#entries.clear();
  }
}
