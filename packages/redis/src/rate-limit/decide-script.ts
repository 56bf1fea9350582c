import { defineScript, type RedisScript } from '../scripts.ts';
import { buildFixedWindowScripts, usesPackedFixedWindow } from './fixed-window-script.ts';
import { gcraUnits } from './gcra-units.ts';
import type { ResolvedLimit } from './limits.ts';

/*
 * The script behind every rate-limit decision, generated once per limiter for its exact limits:
 * limits, windows and field names are literals, so Redis runs no configuration parsing per call
 * (Lua interpretation is most of a script's cost beyond its Redis commands).
 *
 * It reads the clock with TIME (scripts are effect-replicated since Redis 5, so replicas store
 * the result, not a re-run), evaluates every limit of the subject, and writes only when all of
 * them admit the request, or when the caller asked to spend on reject or to add a penalty.
 *
 * KEYS: [1] state hash, [2] lease set (only with a concurrency limit); both share the subject's
 *   hash tag.
 * ARGV: op, cost, then leaseId (when there is one; op b sends ''), then blockUs (op b only).
 *   spendOnReject and blockOnReject are the limiter's constants and written into the script, so a
 *   decision ships two arguments (each one costs Redis a Lua string per call).
 *   op: c consume, p peek, r refund (and release), l release a lease, x penalty, b block, d delete.
 * Reply, two shapes (Redis converts every reply element, so the common case is kept short):
 *   admitted by every limit and spent: 1, nowUs, then per limit: remaining (GCRA: remaining,
 *     resetUs; the reset of a window or lease follows from nowUs);
 *   otherwise: 0, nowUs, blockedForUs, then per limit: ok, remaining, resetUs, retryUs.
 *   ops d, l, r: 1, nowUs. op b: 0, nowUs, blockedForUs.
 * A batch script (see DecideScripts.batch) runs the same decision body as a Lua function once per
 *   consume decision, after one TIME for the whole batch, and concatenates their replies.
 * Hash fields: '!b' blocked-until µs, '!e' recorded expiry µs (PEXPIRE is sent only to extend it),
 *   '<name>:a|b|c' per limit; a field is written only when its value changes. A GCRA limit keeps
 *   '<name>:a', a base µs (moved to now only for a new state or once the time since it is too
 *   large to count in 2^53 units), and '<name>:b', how far its TAT is ahead of the base in integer
 *   units of 1 / rate µs (gcra-units.ts): every value is an integer below 2^53, so decisions at
 *   one µs (a batch shares one TIME) add up exactly, and a spend rewrites '<name>:b' alone.
 *
 * Cost notes (Redis 7.0, measured with INFO commandstats): a Lua number handed to redis.call is
 * formatted with snprintf("%.17g"), about 1 µs each, so the script hands over strings made with
 * string.format('%d'), which formats a C long (exact for every µs timestamp); values are
 * integers wherever they are written.
 */

/** Once per script call: the server clock and the Lua helpers every decision uses. */
const CLOCK = `
local tm = redis.call('TIME')
local now = tm[1] * 1000000 + tm[2]
local fmt = string.format
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min
`;

/** The arguments of a single decision: KEYS and ARGV as documented above. */
const SINGLE_ARGS = `
local key, key2 = KEYS[1], KEYS[2]
local op = ARGV[1]
local costArg = ARGV[2]
local cost = costArg + 0
local lease = ARGV[3] or ''
local blockArg = ARGV[4]
`;

/**
 * With `spendOnReject` and a sliding-window limit, once per script call: the wait until a sliding
 * window left at (idx, cur, prev) admits `cost`. `swAdmits` is the admission of the limit block
 * evaluated at µs `t` (the same double expression, so the same answer µs for µs); it only turns
 * true as time passes (the estimate never grows while nothing is spent, across the window edge
 * too), and two windows on it is true (cost ≤ limit). So the closed form is only a first guess,
 * checked against `swAdmits` at its µs and the µs before; if it misses (the double rounding of
 * the estimate), a bisection finds the first µs that admits. Exact, never understated.
 */
const SLIDING_RETRY = `
local function swAdmits(t, idx, cur, prev, W, L, cost)
  local j = floor(t / W)
  local p, c = 0, 0
  if j == idx then p = prev; c = cur elseif j == idx + 1 then p = cur end
  return p * ((W - (t - j * W)) / W) + c + cost <= L
end
local function swRetry(idx, cur, prev, W, L, cost)
  if swAdmits(now, idx, cur, prev, W, L, cost) then return 0 end
  local lo, hi = now, (idx + 2) * W
  local g = nil
  if cur + cost <= L then
    if prev > 0 then g = ceil(idx * W + W - (L - cur - cost) * W / prev) end
  else
    local e2 = W - (L - cost) * W / cur
    if e2 < 0 then e2 = 0 end
    g = ceil((idx + 1) * W + e2)
  end
  if g and g > lo and g < hi then
    if not swAdmits(g, idx, cur, prev, W, L, cost) then lo = g
    elseif swAdmits(g - 1, idx, cur, prev, W, L, cost) then hi = g - 1
    else return g - now end
  end
  while hi - lo > 1 do
    local mid = floor((lo + hi) / 2)
    if swAdmits(mid, idx, cur, prev, W, L, cost) then hi = mid else lo = mid end
  end
  return hi - now
end
`;

/** Ops without limit state. Every decision (single or in a batch) starts here. */
const SIMPLE_OPS = `
if op == 'd' then
  if key2 then redis.call('DEL', key, key2) else redis.call('DEL', key) end
  return {1, now}
end
if op == 'l' then
  if key2 then redis.call('ZREM', key2, lease) end
  return {1, now}
end
`;

const BLOCK_OP = `
local blockedUntil = vals[1] and vals[1] + 0 or 0
local expiresAt = vals[2] and vals[2] + 0 or 0
local blockedFor = 0
if blockedUntil > now then blockedFor = blockedUntil - now end

if op == 'b' then
  local blockUs = blockArg + 0
  local untilUs = now + blockUs
  if untilUs > blockedUntil then
    if untilUs > expiresAt then
      local u = fmt('%d', untilUs)
      redis.call('HSET', key, '!b', u, '!e', u)
      redis.call('PEXPIRE', key, fmt('%d', ceil(blockUs / 1000) + 1))
    else
      redis.call('HSET', key, '!b', fmt('%d', untilUs))
    end
    blockedFor = blockUs
  end
  return {0, now, blockedFor}
end

local allOk = blockedFor == 0
local refund = nil
if op == 'r' then refund = {} end
local needed = blockedUntil
local horizon = blockedUntil
`;

/**
 * Field `k` of the HMGET reply as a number (`dflt` when missing). Arithmetic coercion instead of
 * tonumber(): no C function call; every field holds digits the script wrote itself.
 */
function num(k: number, dflt: string): string {
  return `(vals[${k}] and vals[${k}] + 0 or ${dflt})`;
}

function q(field: string): string {
  // Names are validated to [A-Za-z0-9_.-], so a single-quoted literal is safe.
  return `'${field}'`;
}

/**
 * Lua for one limit; sets ok{i}, r0{i}, r1{i}, t0{i}, t1{i}, rt{i}. `v` is the index of its first
 * field. The values to write go to w{i} (and idx{i}, p{i}, same{i}); with `table`, they are also
 * appended to the `spend` list (for limiters with many limits, where one static HSET call would
 * need more Lua registers than a function has). With `spendOnReject`, a GCRA rejection that is
 * spent reports the reset and retry of the state it leaves.
 */
function limitBlock(limit: ResolvedLimit, i: number, v: number, table: boolean, spendOnReject: boolean): string {
  const L = limit.limit;
  const W = limit.windowMs * 1000;
  const fa = q(`${limit.name}:a`);
  const fb = q(`${limit.name}:b`);
  const fc = q(`${limit.name}:c`);
  const head = `local ok_${i}, r0_${i}, r1_${i}, t0_${i}, t1_${i}, rt_${i} = true, 0, 0, 0, 0, 0
local w_${i}, idx_${i}, p_${i}, same_${i} = 0, 0, 0, true
do
`;
  switch (limit.kind) {
    case 'f':
      return `${head}  local idx = floor(now / ${W})
  local c = 0
  local same = vals[${v}] and vals[${v}] + 0 == idx
  if same then c = ${num(v + 1, '0')} end
  ok_${i} = c + cost <= ${L}
  t0_${i} = (idx + 1) * ${W} - now
  t1_${i} = t0_${i}
  r0_${i} = ${L} - c
  r1_${i} = r0_${i} - cost
  if not ok_${i} then rt_${i} = t0_${i} end
  w_${i} = c + cost; idx_${i} = idx; same_${i} = same
${
  table
    ? `  if not same then spend[ns + 1] = ${fa}; spend[ns + 2] = fmt('%d', idx); ns = ns + 2 end
  spend[ns + 1] = ${fb}; spend[ns + 2] = fmt('%d', c + cost); ns = ns + 2
`
    : ''
}  if now + t0_${i} > needed then needed = now + t0_${i} end
  if now + t0_${i} > horizon then horizon = now + t0_${i} end
  if refund and c > 0 then refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', max(0, c - cost)) end
end
`;
    case 's':
      return `${head}  local idx = floor(now / ${W})
  local sidx = vals[${v}] and vals[${v}] + 0
  local cur, prev = 0, 0
  if sidx == idx then cur = ${num(v + 1, '0')}; prev = ${num(v + 2, '0')}
  elseif sidx == idx - 1 then prev = ${num(v + 1, '0')} end
  local est = prev * ((${W} - (now - idx * ${W})) / ${W}) + cur
  ok_${i} = est + cost <= ${L}
  r0_${i} = floor(${L} - est)
  r1_${i} = floor(${L} - est - cost)
  t1_${i} = (idx + 2) * ${W} - now
  if cur > 0 then t0_${i} = t1_${i} elseif prev > 0 then t0_${i} = t1_${i} - ${W} end
  if not ok_${i} then
    local retry
    if cur + cost <= ${L} then
      retry = idx * ${W} + (${W} - (${L} - cur - cost) * ${W} / prev) - now
    else
      local e2 = ${W} - (${L} - cost) * ${W} / cur
      if e2 < 0 then e2 = 0 end
      retry = (idx + 1) * ${W} + e2 - now
    end
    rt_${i} = max(1, ceil(retry))
  end
  w_${i} = cur + cost; idx_${i} = idx; p_${i} = prev; same_${i} = sidx == idx
${
  table
    ? `  if sidx ~= idx then
    spend[ns + 1] = ${fa}; spend[ns + 2] = fmt('%d', idx); spend[ns + 3] = ${fc}; spend[ns + 4] = fmt('%d', prev); ns = ns + 4
  end
  spend[ns + 1] = ${fb}; spend[ns + 2] = fmt('%d', cur + cost); ns = ns + 2
`
    : ''
}  if now + t1_${i} > needed then needed = now + t1_${i} end
  if now + t1_${i} > horizon then horizon = now + t1_${i} end
  if refund and sidx == idx and cur > 0 then refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', max(0, cur - cost)) end
end
`;
    case 'g': {
      // Exact integers (gcra-units.ts): time in units of 1 / rate µs. The state is relative: a
      // base µs (`a`) and how many units the TAT is ahead of it (`b`). The base stays put while
      // (now − base) × perUs ≤ R, so a spend rewrites `b` alone (one field, as the single absolute
      // TAT did); it moves to now for a new key or past R. R leaves room for a state of twice the
      // burst, so `b` ≤ 2^53 − 1. Time is counted once: ahead = b − (now − base) × perUs; a clock
      // reading behind the base counts no time (the TAT never moves back).
      // r0 and t0 (the state before this request) are only needed by a rejection or a peek, so
      // they are computed there, from p_i (gcraBefore).
      const { perTick: PU, perRequest: PR } = gcraUnits(limit, 1000);
      const cap = limit.burst * PR;
      const cap2 = 2 * cap;
      const R = Number.MAX_SAFE_INTEGER - cap2;
      // ⌈2 × cap / PU⌉ µs: the longest the state can take to decay (the key's expiry horizon).
      const H = Number((BigInt(cap2) + BigInt(PU) - 1n) / BigInt(PU));
      const times = (x: string, d: number): string => (d === 1 ? x : `${x} * ${d}`);
      // ⌈x / d⌉ for a Lua variable x (luaFloorDiv explains why it is exact).
      const ceilDiv = (out: string, x: string, d: number): string =>
        d === 1
          ? `${out} = ${x}`
          : `local m = ${x} % ${d}; ${out} = (${x} - m) / ${d}; if m > 0 then ${out} = ${out} + 1 end`;
      return `${head}  local ta = vals[${v}] and vals[${v}] + 0
  local ah, ep, tb = 0, 0, now
  if ta and not vals[${v + 1}] then
    -- An absolute TAT in µs, as builds before the units kept it: what is ahead of now, rebased on now.
    if ta > now then ah = ${times('(ta - now)', PU)}; if ah > ${cap2} then ah = ${cap2} end end
    ta = nil
  end
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
    ? `  if not ok_${i} and op == 'c' and blockedFor == 0 then
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
    case 'c':
      return `${head}  redis.call('ZREMRANGEBYSCORE', key2, '-inf', now)
  local c = redis.call('ZCARD', key2)
  ok_${i} = c + 1 <= ${L}
  r0_${i} = ${L} - c
  r1_${i} = r0_${i} - 1
  if not ok_${i} then
    local first = redis.call('ZRANGE', key2, 0, 0, 'WITHSCORES')
    rt_${i} = 1000000
    if first[2] then rt_${i} = max(1, min(rt_${i}, tonumber(first[2]) - now)) end
  end
end
`;
  }
}

/**
 * Lua expressions of a GCRA limit's remaining and reset before this request, ⌊(cap − ahead) /
 * perRequest⌋ and ⌈ahead / perUs⌉, from its ahead `p_i`: evaluated only for a rejection or a peek.
 */
/**
 * ⌊x / d⌋ of a Lua integer expression x, exact for |x| ≤ 2^53: Lua's % is x − ⌊x / d⌋·d, so
 * x − x % d is the multiple of d below x, and the division by d is exact.
 */
function luaFloorDiv(x: string, d: number): string {
  return d === 1 ? x : `(${x} - ${x} % ${d}) / ${d}`;
}

function gcraBefore(limit: ResolvedLimit, i: number): { r0: string; t0: string } {
  const { perTick: PU, perRequest: PR } = gcraUnits(limit, 1000);
  const y = `(${limit.burst * PR} - p_${i})`;
  const a = `p_${i}`;
  return {
    r0: luaFloorDiv(y, PR),
    t0: PU === 1 ? a : `((${a} - ${a} % ${PU}) / ${PU} + (${a} % ${PU} > 0 and 1 or 0))`,
  };
}

/**
 * With `spendOnReject`, after a rejection spent on every limit: each limit's retry becomes the wait
 * until it admits the same request from the state the decision leaves, also for a limit that
 * admitted this request but is full now because of the spend (the decision reports the largest).
 * A fixed window's is the end of its window once the spend leaves no room for the cost (what a
 * rejecting one already reports); a sliding window's is exact (SLIDING_RETRY); a rejecting GCRA
 * limit's was computed in its block, an admitting one's is the same formula on the TAT it leaves.
 * A concurrency limit takes no lease for a rejection, so its retry stands.
 */
function spentRetries(limits: readonly ResolvedLimit[]): string {
  const lines = limits.map((limit, index) => {
    const i = index + 1;
    const L = limit.limit;
    const W = limit.windowMs * 1000;
    if (limit.kind === 'f') return `  if w_${i} + cost > ${L} then rt_${i} = (idx_${i} + 1) * ${W} - now end`;
    if (limit.kind === 's') return `  rt_${i} = swRetry(idx_${i}, w_${i}, p_${i}, ${W}, ${L}, cost)`;
    if (limit.kind === 'g') {
      const { perTick: PU, perRequest: PR } = gcraUnits(limit, 1000);
      const d = 2 * PR === 1 ? 'cost' : `cost * ${2 * PR}`;
      const ceil =
        PU === 1
          ? `rt_${i} = x`
          : `local m = x % ${PU}; rt_${i} = (x - m) / ${PU}; if m > 0 then rt_${i} = rt_${i} + 1 end`;
      return `  if ok_${i} then local x = p_${i} + ${d} - ${limit.burst * PR}; if x > 0 then ${ceil} end end`;
    }
    return '';
  });
  return `if spent and op == 'c' then
${lines.filter((l) => l !== '').join('\n')}
end
`;
}

/** Fields each kind keeps in the state hash. */
function fieldsOf(limit: ResolvedLimit): string[] {
  const n = limit.name;
  if (limit.kind === 'f') return [`${n}:a`, `${n}:b`];
  if (limit.kind === 's') return [`${n}:a`, `${n}:b`, `${n}:c`];
  if (limit.kind === 'g') return [`${n}:a`, `${n}:b`];
  return [];
}

/** Up to this many limits, the spend is one HSET call written out in the script, without a list. */
const STATIC_WRITE_MAX = 4;

/**
 * The spend of a limiter with few limits: HSET with its arguments written out (no list, no
 * unpack), and only the fields that change: a window's index is rewritten when the window rolls.
 * Without a GCRA limit, the expiry only moves when a window rolls, so it is only checked then.
 */
function staticWrite(limits: readonly ResolvedLimit[]): string {
  const full: string[] = [];
  const counts: string[] = [];
  const rolled: string[] = [];
  limits.forEach((limit, index) => {
    const i = index + 1;
    const n = limit.name;
    if (limit.kind === 'f' || limit.kind === 's') {
      rolled.push(`not same_${i}`);
      full.push(q(`${n}:a`), `fmt('%d', idx_${i})`);
      if (limit.kind === 's') full.push(q(`${n}:c`), `fmt('%d', p_${i})`);
      full.push(q(`${n}:b`), `fmt('%d', w_${i})`);
      counts.push(q(`${n}:b`), `fmt('%d', w_${i})`);
    } else if (limit.kind === 'g') {
      // The base µs is rewritten only when it moves (see limitBlock); `b` on every spend.
      rolled.push(`not same_${i}`);
      full.push(q(`${n}:a`), `fmt('%d', idx_${i})`, q(`${n}:b`), `fmt('%d', w_${i})`);
      counts.push(q(`${n}:b`), `fmt('%d', w_${i})`);
    }
  });
  if (full.length === 0) return '';
  const hasGcra = limits.some((l) => l.kind === 'g');
  const hset = (args: string[]) => `redis.call('HSET', key, ${args.join(', ')}`;
  const write = (args: string[]) => `if extend then
    ${hset(args)}, '!e', fmt('%d', ceil(horizon)))
    redis.call('PEXPIRE', key, fmt('%d', ceil((horizon - now) / 1000) + 1))
  else
    ${hset(args)})
  end`;
  if (!hasGcra && counts.length === 2) {
    // One window limit and the window did not roll: the expiry cannot move, and the new count is
    // the stored one plus cost, which HINCRBY computes from the cost argument without any formatting here.
    return `if spent then
  if ${rolled.join(' or ')} then
  local extend = needed > expiresAt
  ${write(full)}
  else
    redis.call('HINCRBY', key, ${counts[0]}, costArg)
  end
end
`;
  }
  const anyRolled = rolled.length > 0 ? rolled.join(' or ') : 'false';
  const extend = hasGcra ? 'needed > expiresAt' : `(${anyRolled}) and needed > expiresAt`;
  return `if spent then
  local extend = ${extend}
  ${
    rolled.length === 0
      ? write(full)
      : `if ${anyRolled} then
  ${write(full)}
  else
  ${write(counts)}
  end`
  }
end
`;
}

/** The limiter options written into its decision script. */
export interface DecideScriptOptions {
  /** Count rejected requests too. Default false. */
  readonly spendOnReject?: boolean;
  /** Block the subject this long (µs) after a rejection. Default 0 (off). */
  readonly blockOnRejectUs?: number;
  /**
   * Always the general script, also for a single fixed-window limit (which otherwise gets the
   * packed layout of fixed-window-script.ts). Tests run both and compare.
   */
  readonly general?: boolean;
}

/** The two scripts of a limiter: one decision, and a batch of consume decisions. */
export interface DecideScripts {
  /** KEYS and ARGV as in the comment at the top of this file. */
  readonly single: RedisScript;
  /**
   * Consume decisions only. KEYS: each decision's state hash (and lease set); ARGV: each
   * decision's cost (and lease id). Reply: the replies of `single`'s shape of every decision, in
   * order, concatenated into one flat array (each reply's first element tells its length; Redis
   * converts a nested table at a cost per table). Every decision of a batch sees the same TIME and
   * the writes of the ones before it.
   */
  readonly batch: RedisScript;
}

/** Generates the decision scripts for exactly these limits and options (one pair per limiter, cached by Redis). */
export function buildDecideScript(limits: readonly ResolvedLimit[], opts: DecideScriptOptions = {}): DecideScripts {
  const options = {
    spendOnReject: opts.spendOnReject === true,
    blockOnRejectUs: opts.blockOnRejectUs ?? 0,
    general: opts.general === true,
  };
  if (!Number.isSafeInteger(options.blockOnRejectUs) || options.blockOnRejectUs < 0) {
    throw new RangeError('blockOnRejectUs must be a non-negative integer.');
  }
  if (!options.general && usesPackedFixedWindow(limits)) return buildFixedWindowScripts(limits[0]!, options);
  const fields = ['!b', '!e'];
  const blocks: string[] = [];
  const concurrency = limits.find((l) => l.kind === 'c');
  const table = limits.length > STATIC_WRITE_MAX;
  limits.forEach((limit, index) => {
    const i = index + 1;
    blocks.push(limitBlock(limit, i, fields.length + 1, table, options.spendOnReject));
    fields.push(...fieldsOf(limit));
  });
  const okAll = limits.map((_, index) => `ok_${index + 1}`).join(' and ');
  // Admitted and spent: every ok is 1 and every retry 0, and the reset of a window or lease
  // follows from nowUs (the client computes it), so only remaining goes back, plus the reset of a
  // GCRA limit, which depends on its stored state.
  const short = limits
    .map((limit, index) => {
      const i = index + 1;
      // Every limit admitted, so no remaining is below 0 (no max() call needed).
      return limit.kind === 'g' ? `r1_${i}, t1_${i}` : `r1_${i}`;
    })
    .join(', ');
  const outputs = limits
    .map((limit, index) => {
      const i = index + 1;
      // A concurrency limit only holds a lease when the whole request was admitted.
      const after = limit.kind === 'c' ? 'spent and allOk' : 'spent';
      const before = limit.kind === 'g' ? gcraBefore(limit, i) : { r0: `r0_${i}`, t0: `t0_${i}` };
      return `out[${3 + index * 4 + 1}] = ok_${i} and 1 or 0
out[${3 + index * 4 + 2}] = max(0, (${after}) and r1_${i} or ${before.r0})
out[${3 + index * 4 + 3}] = (${after}) and t1_${i} or ${before.t0}
out[${3 + index * 4 + 4}] = rt_${i}`;
    })
    .join('\n');
  const leaseLua = concurrency
    ? `if op == 'c' and allOk then
  redis.call('ZADD', key2, fmt('%d', now + ${concurrency.windowMs * 1000}), lease)
  redis.call('PEXPIRE', key2, '${concurrency.windowMs + 1}')
end
if refund and lease ~= '' then redis.call('ZREM', key2, lease) end
`
    : '';
  const tableWrite = `if spent and ns > 0 then
  if needed > expiresAt then
    spend[ns + 1] = '!e'; spend[ns + 2] = fmt('%d', ceil(horizon)); ns = ns + 2
    redis.call('HSET', key, unpack(spend, 1, ns))
    redis.call('PEXPIRE', key, fmt('%d', ceil((horizon - now) / 1000) + 1))
  else
    redis.call('HSET', key, unpack(spend, 1, ns))
  end
end
`;
  const body = `${SIMPLE_OPS}
${table ? 'local spend = {}\nlocal ns = 0' : ''}
local vals = redis.call('HMGET', key, ${fields.map(q).join(', ')})
${BLOCK_OP}
${blocks.join('')}
if not (${okAll}) then allOk = false end
local spent = op == 'x' or (op == 'c' and ${options.spendOnReject ? '(allOk or blockedFor == 0)' : 'allOk'})
if op == 'p' then
  local out = {0, now, blockedFor}
${outputs}
  return out
end
${leaseLua}
if refund then
  if #refund > 0 then redis.call('HSET', key, unpack(refund)) end
  return {1, now}
end
${table ? tableWrite : staticWrite(limits)}if allOk and spent then return {1, now, ${short}} end
${options.spendOnReject ? spentRetries(limits) : ''}local out = {0, now, blockedFor}
${outputs}
${
  options.blockOnRejectUs > 0
    ? `if op == 'c' and blockedFor == 0 then
  local blockUs = ${options.blockOnRejectUs}
  local untilUs = now + blockUs
  if untilUs > expiresAt then
    local u = fmt('%d', untilUs)
    redis.call('HSET', key, '!b', u, '!e', u)
    redis.call('PEXPIRE', key, fmt('%d', ceil(blockUs / 1000) + 1))
  else
    redis.call('HSET', key, '!b', fmt('%d', untilUs))
  end
  out[3] = blockUs
end
`
    : ''
}return out
`;
  // Only scripts that spend on reject need it: the others stay byte-identical.
  const prelude = options.spendOnReject && limits.some((l) => l.kind === 's') ? SLIDING_RETRY : '';
  const name = `rate-limit-decide(${limits.map((l) => l.name).join(',')})`;
  // A batch: the same decision body as a function, one TIME for the whole batch, replies nested.
  const perDecision = concurrency ? 2 : 1;
  const batch = `${CLOCK}${prelude}
local function decide(key, key2, costArg, lease)
local op = 'c'
local cost = costArg + 0
local blockArg = nil
${body}
end
local out, n = {}, 0
for i = 1, #ARGV / ${perDecision} do
  local r = decide(${
    concurrency ? 'KEYS[2 * i - 1], KEYS[2 * i], ARGV[2 * i - 1], ARGV[2 * i]' : "KEYS[i], nil, ARGV[i], ''"
  })
  for j = 1, #r do out[n + j] = r[j] end
  n = n + #r
end
return out
`;
  return {
    single: defineScript(name, `${CLOCK}${SINGLE_ARGS}${prelude}${body}`),
    batch: defineScript(`${name} batch`, batch),
  };
}
