import { gcraUnits } from './gcra-units.ts';
import type { ResolvedLimit } from './limits.ts';
import { ceilDiv, luaCeilDiv, luaFloorDiv, q, times } from './lua-text.ts';

/*
 * A GCRA (or token-bucket) limit in the general decision script (decide-script.ts).
 *
 * Exact integers (gcra-units.ts): time in units of 1 / rate µs. The state is relative: a base µs
 * ('<name>:a') and how many units the TAT is ahead of it ('<name>:b'). The base stays put while
 * (now − base) × perUs ≤ R, so a spend rewrites `b` alone (one field); it moves to now for a new
 * key or past R. R leaves room for a state of twice the burst, so `b` ≤ 2^53 − 1. Time is counted
 * once: ahead = b − (now − base) × perUs; a clock reading behind the base counts no time (the TAT
 * never moves back). Every value is an integer below 2^53, so decisions at one µs (a batch shares
 * one TIME) add up exactly. Both fields are written together whenever the base moves, so `a`
 * never stands without `b`.
 */

/**
 * The Lua of GCRA limit `i` inside its `do` block (see limitBlock in decide-script.ts), its fields
 * from HMGET index `v`; with `table`, its spend is appended to the `spend` list. With
 * `spendOnReject`, a rejection that is spent (`spentIfRejected`, see decide-script.ts) reports the
 * reset and retry of the state it leaves.
 * r0 and t0 (the state before this request) are only needed by a rejection or a peek, so they are
 * computed there, from p_i ({@link gcraBefore}).
 */
export function gcraBlock(limit: ResolvedLimit, i: number, v: number, table: boolean, spendOnReject: boolean): string {
  const fa = q(`${limit.name}:a`);
  const fb = q(`${limit.name}:b`);
  const { perTick: PU, perRequest: PR } = gcraUnits(limit, 1000);
  const cap = limit.burst * PR;
  const cap2 = 2 * cap;
  const R = Number.MAX_SAFE_INTEGER - cap2;
  // ⌈2 × cap / PU⌉ µs: the longest the state can take to decay (the key's expiry horizon).
  const H = Number((BigInt(cap2) + BigInt(PU) - 1n) / BigInt(PU));
  return `  local ta = vals[${v}] and vals[${v}] + 0
  local ah, ep, tb = 0, 0, now
  if ta then
    ah = vals[${v + 1}] + 0
    if now > ta then
      ep = ${times('(now - ta)', PU)}
      ah = ah - ep
      if ah < 0 then ah = 0 elseif ah > ${cap2} then ah = ${cap2} end
    else
      tb = ta
      if ah > ${cap2} then ah = ${cap2} end
    end
  end
  local nx = ah + ${times('cost', PR)}
  ok_${i} = nx <= ${cap}
  local y1 = ${cap} - nx
  r1_${i} = ${luaFloorDiv('y1', PR)}
  do ${ceilDiv(`t1_${i}`, 'nx', PU)} end
  p_${i} = ah
  if not ok_${i} then local x = nx - ${cap}; ${ceilDiv(`rt_${i}`, 'x', PU)} end
  local st = nx
  if st > ${cap2} then st = ${cap2} end
${
  spendOnReject
    ? `  if not ok_${i} and spentIfRejected then
    -- Spent on reject: the reset and retry of the state it leaves, so waiting retryAfter admits.
    do ${ceilDiv(`t1_${i}`, 'st', PU)} end
    local x = st + ${times('cost', PR)} - ${cap}; ${ceilDiv(`rt_${i}`, 'x', PU)}
  end
`
    : ''
}  local keep = ta and ep <= ${R}
  if keep then w_${i} = st + ep; idx_${i} = ta else w_${i} = st; idx_${i} = now; same_${i} = false end
${
  table
    ? `  if not keep then spend[ns + 1] = ${fa}; spend[ns + 2] = fmt('%d', now); ns = ns + 2 end
  spend[ns + 1] = ${fb}; spend[ns + 2] = fmt('%d', w_${i}); ns = ns + 2
`
    : ''
}  local nd = tb + ${H}
  if t1_${i} < ${H} then nd = tb + t1_${i} end
  if nd > needed then needed = nd end
  if tb + ${H} > horizon then horizon = tb + ${H} end
  if refund and ah > 0 then
    local rb = ah - ${times('cost', PR)}
    if rb < 0 then rb = 0 end
    if keep then
      refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', rb + ep)
    else
      refund[#refund + 1] = ${fa}; refund[#refund + 1] = fmt('%d', now)
      refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', rb)
    end
  end
end
`;
}

/**
 * Lua expressions of a GCRA limit's remaining and reset before this request, ⌊(cap − ahead) /
 * perRequest⌋ and ⌈ahead / perUs⌉, from its ahead `p_i`: evaluated only for a rejection or a peek.
 */
export function gcraBefore(limit: ResolvedLimit, i: number): { r0: string; t0: string } {
  const { perTick: PU, perRequest: PR } = gcraUnits(limit, 1000);
  const y = `(${limit.burst * PR} - p_${i})`;
  return { r0: luaFloorDiv(y, PR), t0: luaCeilDiv(`p_${i}`, PU) };
}

/**
 * After a rejection spent on every limit, for a GCRA limit that admitted the request: the retry
 * formula of its block on the TAT the spend leaves (a rejecting one's was computed in its block).
 */
export function gcraSpentRetry(limit: ResolvedLimit, i: number): string {
  const { perTick: PU, perRequest: PR } = gcraUnits(limit, 1000);
  return `  if ok_${i} then local x = p_${i} + ${times('cost', 2 * PR)} - ${limit.burst * PR}; if x > 0 then ${ceilDiv(`rt_${i}`, 'x', PU)} end end`;
}
