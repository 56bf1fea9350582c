import type { ResolvedLimit } from './limits.ts';

/*
 * GCRA and token-bucket limits are counted in integers, in the Redis script (clock in µs) and in
 * the in-process fallback (clock in whole ms) alike: time is measured in units of `1 / rate` of a
 * clock tick, rate = limit / window reduced by their common divisor, so an elapsed tick is
 * `perTick` units and an emission interval `perRequest` units, both integers. The state is kept
 * relative: a tick (the fallback: its last write; the script: a base it moves only for a new state
 * or when the units since it would pass 2^53) and how many units the theoretical arrival time
 * (TAT) is ahead of it. An absolute TAT in units (µs × perTick) would pass 2^53 at once.
 */

export interface GcraUnits {
  /** Units per clock tick (per µs in the script, per ms in the fallback). */
  readonly perTick: number;
  /** Units per request: the emission interval. */
  readonly perRequest: number;
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** The units of `limit` on a clock of `ticksPerMs` ticks per ms (1000 for µs, 1 for ms). */
export function gcraUnits(limit: ResolvedLimit, ticksPerMs: number): GcraUnits {
  const window = limit.windowMs * ticksPerMs;
  const d = gcd(window, limit.limit);
  return { perTick: limit.limit / d, perRequest: window / d };
}

/** ⌈x / d⌉ of an integer x ≥ 0 and d ≥ 1, exact: `%` is, and x − x % d is a multiple of d. */
export function ceilDiv(x: number, d: number): number {
  const r = x % d;
  return (x - r) / d + (r > 0 ? 1 : 0);
}

/** ⌊x / d⌋ of an integer x and d ≥ 1, exact (`%` keeps the sign of x). */
export function floorDiv(x: number, d: number): number {
  const r = x % d;
  return (x - r) / d - (r < 0 ? 1 : 0);
}

/**
 * The largest magnitude of any integer a decision of `limit` computes, as a BigInt: `ahead` is at
 * most `stored` × cap (the script lets a penalty push the state to twice the burst, the fallback
 * only spends what it admits) and a request adds at most `maxCost` emission intervals, so every
 * numerator (ahead, next, cap − next, next − cap) is within (stored × burst + maxCost) ×
 * perRequest. Elapsed time × perTick needs no bound: it is only subtracted from `ahead` and clamped
 * at 0, and rounding is monotone, so a product past 2^53 still ends at 0.
 */
function gcraLargest(limit: ResolvedLimit, ticksPerMs: number, maxCost: number, stored: 1 | 2): bigint {
  const { perRequest } = gcraUnits(limit, ticksPerMs);
  return (BigInt(stored) * BigInt(limit.burst) + BigInt(maxCost)) * BigInt(perRequest);
}

/**
 * A problem when a GCRA limit's integers could pass Number.MAX_SAFE_INTEGER (beyond it a double
 * no longer holds every integer, and Lua's `%` and JS division stop being exact), else undefined.
 */
export function gcraBoundProblem(
  limit: ResolvedLimit,
  ticksPerMs: number,
  maxCost: number,
  stored: 1 | 2,
  where: string,
): string | undefined {
  if (limit.kind !== 'g') return undefined;
  const largest = gcraLargest(limit, ticksPerMs, maxCost, stored);
  if (largest <= BigInt(Number.MAX_SAFE_INTEGER)) return undefined;
  const { perRequest } = gcraUnits(limit, ticksPerMs);
  const tick = ticksPerMs === 1000 ? 'µs' : 'ms';
  const factor = stored === 2 ? '2 × burst' : 'burst';
  return (
    `limit '${limit.name}' (${limit.algorithm}, ${limit.limit} per ${limit.windowMs} ms, burst ${limit.burst}) is too ` +
    `fine-grained for exact integer counting ${where}: (${factor} + largest cost ${maxCost}) × ${perRequest} ` +
    `(the window in ${tick} ÷ gcd(window, limit)) = ${largest} exceeds 2^53 − 1. Use a limit (refillAmount) that ` +
    'shares more factors with the window (e.g. 1000 per hour instead of 1001), a shorter window, or a smaller burst (capacity).'
  );
}
