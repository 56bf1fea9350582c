/**
 * XFetch, probabilistic early expiration (Vattani, Chierichetti, Lowenstein, PVLDB 8, 2015): refresh
 * when `now − δ·β·ln(rand) ≥ expiry`, where δ is how long the value took to compute. The chance of
 * an early refresh grows as expiry nears and with the cost of recomputing, so one caller refreshes
 * ahead of time instead of every caller missing at once. `β > 1` favours earlier refreshes.
 *
 * @example
 * ```ts
 * shouldRefreshEarly({ now: Date.now(), expiresAt, deltaMs: 120, beta: 1, random: Math.random });
 * ```
 */
export function shouldRefreshEarly({
  now,
  expiresAt,
  deltaMs,
  beta,
  random,
}: {
  now: number;
  expiresAt: number;
  deltaMs: number;
  beta: number;
  random: () => number;
}): boolean {
  if (beta <= 0 || deltaMs <= 0) return now >= expiresAt;
  // 1 - random() is in (0, 1], so the log is finite.
  return now - deltaMs * beta * Math.log(1 - random()) >= expiresAt;
}

/**
 * Early refreshes of one cache: whether one is due, and at most one running per key in the
 * process (apart from the cache's single flight of misses, so a refresh can start from inside one).
 */
export class EarlyRefresh {
  readonly #beta: number;
  readonly #random: () => number;
  readonly #onError: (error: unknown) => void;
  readonly #running = new Set<string>();

  constructor(beta: number, random: () => number, onError: (error: unknown) => void) {
    this.#beta = beta;
    this.#random = random;
    this.#onError = onError;
  }

  due(expiresAt: number, deltaMs: number, now: number): boolean {
    return shouldRefreshEarly({ now, expiresAt, deltaMs, beta: this.#beta, random: this.#random });
  }

  /** Runs `refresh` in the background unless one is running for `key`; failures go to `onError`. */
  start(key: string, refresh: () => Promise<void>): void {
    if (this.#running.has(key)) return;
    this.#running.add(key);
    refresh()
      .catch((error: unknown) => this.#onError(error))
      .finally(() => this.#running.delete(key));
  }
}
