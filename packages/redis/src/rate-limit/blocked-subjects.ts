import { performance } from 'node:perf_hooks';

/** Slots allocated at first; the slab doubles from here up to `maxKeys`. */
const INITIAL_SLOTS = 64;

/**
 * A size-capped table of subjects that Redis said are rejected until some time, each with `width`
 * numbers describing the rejection. Every operation is O(1): expired entries are dropped when read,
 * and when full the oldest insertion is evicted (a Map iterates in insertion order), so there is
 * never a sweep over all entries.
 *
 * The numbers live in one `Float64Array` slab (grown by doubling up to `maxKeys`), indexed by the
 * subject's slot: an entry costs its Map slot and key string on the heap plus 8 bytes per number,
 * not an object graph per subject, which is what an attack from many addresses fills.
 *
 * @example
 * ```ts
 * import { BlockedSubjects } from '@rampart/redis';
 * const blocked = new BlockedSubjects(10_000, 1);
 * blocked.set('ip:203.0.113.7', 5_000, [42]);
 * const slot = blocked.find('ip:203.0.113.7'); // -1 once the 5 s have passed
 * if (slot >= 0) console.log(blocked.until(slot) - blocked.now(), blocked.value(slot, 0)); // ~5000 42
 * ```
 */
export class BlockedSubjects {
  readonly maxKeys: number;
  /** Numbers kept per subject. */
  readonly width: number;
  /** The clock `set` and `find` read, in ms (default `performance.now`). */
  readonly now: () => number;
  readonly #slots = new Map<string, number>();
  /** Per slot: the time (on `now`'s clock) the block ends. */
  #until: Float64Array;
  /** Per slot: `width` numbers from `slot * width`. */
  #values: Float64Array;
  /** Slots given back by `delete`, reused before new ones. */
  #free: number[] = [];
  /** Slots handed out so far. */
  #used = 0;

  constructor(maxKeys: number, width: number, now: () => number = () => performance.now()) {
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) throw new RangeError('maxKeys must be a positive integer.');
    if (!Number.isSafeInteger(width) || width < 0) throw new RangeError('width must be a non-negative integer.');
    this.maxKeys = maxKeys;
    this.width = width;
    this.now = now;
    const slots = Math.min(maxKeys, INITIAL_SLOTS);
    this.#until = new Float64Array(slots);
    this.#values = new Float64Array(slots * width);
  }

  /** Number of entries held (expired ones included until read or evicted). */
  get size(): number {
    return this.#slots.size;
  }

  /** The slot of `subject` while it is still blocked, else -1 (an expired entry is dropped). */
  find(subject: string): number {
    const slot = this.#slots.get(subject);
    if (slot === undefined) return -1;
    if (this.#until[slot]! <= this.now()) {
      this.#release(subject, slot);
      return -1;
    }
    return slot;
  }

  /**
   * When the block held in `slot` ends, on `now`'s clock. A slot from {@link find} is only valid
   * until the next `set`, `delete` or `clear` (which may hand it to another subject): read it at once.
   */
  until(slot: number): number {
    return this.#until[slot]!;
  }

  /** Number `index` (< width) of the entry in `slot` (from {@link find}; see {@link until}). */
  value(slot: number, index: number): number {
    return this.#values[slot * this.width + index]!;
  }

  /** Records that `subject` stays rejected for `forMs`, with `values` (`width` numbers). */
  set(subject: string, forMs: number, values: ArrayLike<number>): void {
    let slot = this.#slots.get(subject);
    if (slot !== undefined) {
      // Re-inserted so that it becomes the newest.
      this.#slots.delete(subject);
    } else if (this.#slots.size >= this.maxKeys) {
      const oldest = this.#slots.entries().next();
      if (oldest.done === true) return;
      slot = oldest.value[1];
      this.#slots.delete(oldest.value[0]);
    } else {
      slot = this.#free.pop() ?? this.#grab();
    }
    this.#slots.set(subject, slot);
    this.#until[slot] = this.now() + forMs;
    const start = slot * this.width;
    for (let i = 0; i < this.width; i++) this.#values[start + i] = values[i] ?? 0;
  }

  delete(subject: string): void {
    const slot = this.#slots.get(subject);
    if (slot !== undefined) this.#release(subject, slot);
  }

  clear(): void {
    this.#slots.clear();
    this.#free = [];
    this.#used = 0;
  }

  #release(subject: string, slot: number): void {
    this.#slots.delete(subject);
    this.#free.push(slot);
  }

  /** A slot never handed out, growing the slab when it is full (at most to `maxKeys` slots). */
  #grab(): number {
    const slot = this.#used;
    this.#used += 1;
    if (slot >= this.#until.length) {
      const slots = Math.min(this.maxKeys, this.#until.length * 2);
      const until = new Float64Array(slots);
      until.set(this.#until);
      const values = new Float64Array(slots * this.width);
      values.set(this.#values);
      this.#until = until;
      this.#values = values;
    }
    return slot;
  }
}
