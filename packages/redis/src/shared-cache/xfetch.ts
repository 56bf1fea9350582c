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
