/*
 * Pieces of Lua text the decision scripts are generated from: literals and integer arithmetic
 * written out for one divisor, so Redis runs no general-purpose code per call.
 */

/**
 * Window counts of the general script saturate here (penalties and spend-on-reject can push them
 * past the limit; a penalty's cost may be up to 2^53 − 1): every limit is at most 10^12, so a
 * saturated count still rejects, and a stored count plus any cost stays far below 2^63, so neither
 * HINCRBY nor string.format('%d') can overflow. A saturated count stays saturated until its window
 * ends, refunds included, as in the packed layout (fixed-window-script.ts).
 */
export const COUNT_CAP = 2 ** 52;

/**
 * How far ahead of the clock's window a stored window may be and still be read as the current one
 * (the Redis clock stepped back, e.g. on a failover): five minutes, or one window when windows are
 * longer. Further ahead it is a field written with another windowMs under the same limit name (a
 * deploy that changed it) and the count restarts; read as current, it would hold the subject for as
 * long as that index is ahead, and at a huge index the sliding-window retry search leaves exact
 * integers behind.
 */
export function stepBackUs(windowUs: number): number {
  return Math.max(300_000_000, windowUs);
}

/** A hash field name as a Lua literal. */
export function q(field: string): string {
  // Names are validated to [A-Za-z0-9_.-], so a single-quoted literal is safe.
  return `'${field}'`;
}

/**
 * Field `k` of the HMGET reply as a number (`dflt` when missing). Arithmetic coercion instead of
 * tonumber(): no C function call; every field holds digits the script wrote itself.
 */
export function num(k: number, dflt: string): string {
  return `(vals[${k}] and vals[${k}] + 0 or ${dflt})`;
}

/** `x × d` for a Lua expression x, without the multiplication when d is 1. */
export function times(x: string, d: number): string {
  return d === 1 ? x : `${x} * ${d}`;
}

/**
 * ⌊x / d⌋ of a Lua integer expression x, exact for |x| ≤ 2^53: Lua's % is x − ⌊x / d⌋·d, so
 * x − x % d is the multiple of d below x, and the division by d is exact.
 */
export function luaFloorDiv(x: string, d: number): string {
  return d === 1 ? x : `(${x} - ${x} % ${d}) / ${d}`;
}

/**
 * ⌈x / d⌉ of a Lua integer expression x ≥ 0 as an expression (exact as {@link luaFloorDiv}), for
 * where a statement cannot go; {@link ceilDiv} computes x % d once.
 */
export function luaCeilDiv(x: string, d: number): string {
  return d === 1 ? x : `((${x} - ${x} % ${d}) / ${d} + (${x} % ${d} > 0 and 1 or 0))`;
}

/** Assigns ⌈x / d⌉ of a Lua variable x to `out` (exact as {@link luaCeilDiv}); declares a local `m`. */
export function ceilDiv(out: string, x: string, d: number): string {
  return d === 1
    ? `${out} = ${x}`
    : `local m = ${x} % ${d}; ${out} = (${x} - m) / ${d}; if m > 0 then ${out} = ${out} + 1 end`;
}
