import type { ResolvedLimit } from './limits.ts';
import { COUNT_CAP, num, q, stepBackUs } from './lua-text.ts';

/*
 * A sliding-window-counter limit in the general decision script (decide-script.ts).
 *
 * State: '<name>:a' the index of the current window (floor(µs / W)), '<name>:b' its count and
 * '<name>:c' the count of the window before it. The estimate at µs t is
 *   prev × ((W − (t − idx × W)) / W) + cur
 * evaluated as that IEEE double expression; a request of `cost` is admitted when estimate + cost ≤
 * limit. A spend rewrites '<name>:b' alone while the window stays, all three when it rolls. Counts
 * saturate at COUNT_CAP (lua-text.ts). A clock behind the stored window (stepped back) counts in
 * that window as at its start, and waits are measured from there.
 */

/**
 * The Lua of `swRetry(idx, cur, prev, W, L, cost)`: the wait until a sliding window left at (idx,
 * cur, prev) admits `cost`. `swAdmits` is the admission of the limit block evaluated at µs `t` (the
 * same double expression, so the same answer µs for µs); it only turns true as time passes (the
 * estimate never grows while nothing is spent, across the window edge too), and two windows on it
 * is true (cost ≤ limit). So the closed form is only a first guess, checked against `swAdmits` at
 * its µs and the µs before; if it misses (the double rounding of the estimate next to a µs
 * timestamp, about 1 in 20 000 rejections), a bisection finds the first µs that admits. Exact,
 * never understated, never early. The guess may be `hi` itself, the start of the window after next
 * (cost = limit with a count in the current window: nothing earlier admits), and is taken like any
 * other once the µs before rejects; otherwise every such rejection (1 per minute) would bisect.
 *
 * Defined only on a rejection (the script's admitted path creates no closure): as a local of that
 * branch, or, when `declared`, assigned to a `swRetry` the script declared before it (with
 * `spendOnReject`, the retries of the state a spent rejection leaves call it later).
 */
export function slidingRetryLua(declared: boolean): string {
  return `local function swAdmits(t, idx, cur, prev, W, L, cost)
  local j = floor(t / W)
  local p, c = 0, 0
  if j == idx then p = prev; c = cur elseif j == idx + 1 then p = cur end
  return p * ((W - (t - j * W)) / W) + c + cost <= L
end
${declared ? 'swRetry = function' : 'local function swRetry'}(idx, cur, prev, W, L, cost)
  local lo, hi = now, (idx + 2) * W
  if lo < idx * W then lo = idx * W end
  if swAdmits(lo, idx, cur, prev, W, L, cost) then return 0 end
  local g = nil
  if cur + cost <= L then
    if prev > 0 then g = ceil(idx * W + W - (L - cur - cost) * W / prev) end
  else
    local e2 = W - (L - cost) * W / cur
    if e2 < 0 then e2 = 0 end
    g = ceil((idx + 1) * W + e2)
  end
  if g and g > lo and g <= hi then
    if not swAdmits(g, idx, cur, prev, W, L, cost) then lo = g
    elseif swAdmits(g - 1, idx, cur, prev, W, L, cost) then hi = g - 1
    else return g - now end
  end
  -- At most 64 halvings: the range is at most two windows of µs, far fewer; the bound only keeps a
  -- state no supported configuration writes from looping without end (and Redis from BUSY).
  local n = 0
  while hi - lo > 1 and n < 64 do
    local mid = floor((lo + hi) / 2)
    if swAdmits(mid, idx, cur, prev, W, L, cost) then hi = mid else lo = mid end
    n = n + 1
  end
  return hi - now
end
`;
}

/**
 * On a rejection, for sliding-window limit `i` that rejected: the exact wait from the state it saw
 * (its count before this request is w_i − cost).
 */
export function slidingWindowRetry(limit: ResolvedLimit, i: number): string {
  return `  if not ok_${i} then rt_${i} = swRetry(idx_${i}, w_${i} - cost, p_${i}, ${limit.windowMs * 1000}, ${limit.limit}, cost) end`;
}

/**
 * The Lua of sliding-window limit `i` inside its `do` block (see limitBlock in decide-script.ts),
 * its fields from HMGET index `v`; with `table`, its spend is appended to the `spend` list. Its
 * retry on a rejection is left to {@link slidingWindowRetry}, after every block.
 */
export function slidingWindowBlock(limit: ResolvedLimit, i: number, v: number, table: boolean): string {
  const L = limit.limit;
  const W = limit.windowMs * 1000;
  const fa = q(`${limit.name}:a`);
  const fb = q(`${limit.name}:b`);
  const fc = q(`${limit.name}:c`);
  // A stored window ahead of the clock's (the clock stepped back) is the one counted, from its
  // start, as a GCRA limit keeps its base: moving back would drop its counts. Only up to
  // five minutes (or one window; stepBackUs, lua-text.ts) ahead: an index further ahead was written with another windowMs
  // under the same limit name (a deploy that changed it); it restarts the count.
  return `  local idx = floor(now / ${W})
  local sidx = vals[${v}] and vals[${v}] + 0
  local into = now - idx * ${W}
  if sidx and sidx > idx and (sidx - idx) * ${W} <= ${stepBackUs(W)} then idx = sidx; into = 0; ahead = true end
  local cur, prev = 0, 0
  if sidx == idx then cur = ${num(v + 1, '0')}; prev = ${num(v + 2, '0')}
  elseif sidx == idx - 1 then prev = ${num(v + 1, '0')} end
  local est = prev * ((${W} - into) / ${W}) + cur
  ok_${i} = est + cost <= ${L}
  r0_${i} = floor(${L} - est)
  r1_${i} = floor(${L} - est - cost)
  t1_${i} = (idx + 2) * ${W} - now
  if cur > 0 then t0_${i} = t1_${i} elseif prev > 0 then t0_${i} = t1_${i} - ${W} end
  w_${i} = cur + cost; if w_${i} > ${COUNT_CAP} then w_${i} = ${COUNT_CAP} end
  idx_${i} = idx; p_${i} = prev; same_${i} = sidx == idx
${
  table
    ? `  if sidx ~= idx then
    spend[ns + 1] = ${fa}; spend[ns + 2] = fmt('%d', idx); spend[ns + 3] = ${fc}; spend[ns + 4] = fmt('%d', prev); ns = ns + 4
  end
  spend[ns + 1] = ${fb}; spend[ns + 2] = fmt('%d', w_${i}); ns = ns + 2
`
    : ''
}  if now + t1_${i} > needed then needed = now + t1_${i} end
  if now + t1_${i} > horizon then horizon = now + t1_${i} end
${slidingRefund(fb, fc)}end
`;
}

/**
 * A refund gives `cost` back from the counts that weigh on the estimate now, the current window's
 * first, then the one before it: a request counted late in a window and refunded in the next sits
 * in the previous count. State of the window before (sidx = idx − 1): its count, '<name>:b', is
 * lowered in place and read as the previous count by the next spend, which rolls the window as
 * usual; the key's expiry already covers it, so nothing else is written. A saturated count
 * (COUNT_CAP) stays saturated. No loop: at most three fields.
 */
function slidingRefund(fb: string, fc: string): string {
  return `  if refund and cur < ${COUNT_CAP} then
    if sidx == idx then
      local back = cost
      if cur > 0 then
        local take = min(cur, back)
        refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', cur - take); back = back - take
      end
      if back > 0 and prev > 0 and prev < ${COUNT_CAP} then
        refund[#refund + 1] = ${fc}; refund[#refund + 1] = fmt('%d', max(0, prev - back))
      end
    elseif sidx == idx - 1 and prev > 0 and prev < ${COUNT_CAP} then
      refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', max(0, prev - cost))
    end
  end
`;
}

/** After a rejection spent on every limit: the exact wait from the state the spend leaves ({@link slidingRetryLua}). */
export function slidingWindowSpentRetry(limit: ResolvedLimit, i: number): string {
  return `  rt_${i} = swRetry(idx_${i}, w_${i}, p_${i}, ${limit.windowMs * 1000}, ${limit.limit}, cost)`;
}
