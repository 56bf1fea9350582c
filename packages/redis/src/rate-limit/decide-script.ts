import { defineScript } from '../scripts.ts';
import type { DecideScriptOptions, DecideScripts } from './decide-script-options.ts';
import {
  buildFixedWindowScripts,
  fixedWindowBlock,
  fixedWindowSpentRetry,
  usesPackedFixedWindow,
} from './fixed-window-script.ts';
import { gcraBefore, gcraBlock, gcraSpentRetry } from './gcra-script.ts';
import type { ResolvedLimit } from './limits.ts';
import { COUNT_CAP, q } from './lua-text.ts';
import {
  slidingRetryLua,
  slidingWindowBlock,
  slidingWindowRetry,
  slidingWindowSpentRetry,
} from './sliding-window-script.ts';

export type { DecideScriptOptions, DecideScripts } from './decide-script-options.ts';

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
 *   otherwise: 0, nowUs, blockedForUs, then per limit: ok, remaining, resetUs, retryUs; also an
 *     admitted decision counted in a window ahead of the clock's (stepped back), with blockedForUs
 *     0 and every ok 1, since the client would compute its resets from the clock's window.
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
local ahead = false
`;

/**
 * With spendOnReject: whether this decision is spent even if a limit rejects it (a consume that is
 * not blocked). Known before the limits run, and the one definition of a spent rejection: `spent`,
 * the retries rejectedBy skips for it and a GCRA limit's figures of the state it leaves
 * (gcra-script.ts) all read it.
 */
const SPENT_IF_REJECTED = `local spentIfRejected = op == 'c' and blockedFor == 0
`;

/**
 * Lua for one limit; sets ok{i}, r0{i}, r1{i}, t0{i}, t1{i}, rt{i}. `v` is the index of its first
 * field. The values to write go to w{i} (and idx{i}, p{i}, same{i}); with `table`, they are also
 * appended to the `spend` list (for limiters with many limits, where one static HSET call would
 * need more Lua registers than a function has). Each algorithm's Lua is in its own file.
 */
function limitBlock(limit: ResolvedLimit, i: number, v: number, table: boolean, spendOnReject: boolean): string {
  const head = `local ok_${i}, r0_${i}, r1_${i}, t0_${i}, t1_${i}, rt_${i} = true, 0, 0, 0, 0, 0
local w_${i}, idx_${i}, p_${i}, same_${i} = 0, 0, 0, true
do
`;
  switch (limit.kind) {
    case 'f':
      return `${head}${fixedWindowBlock(limit, i, v, table)}`;
    case 's':
      return `${head}${slidingWindowBlock(limit, i, v, table)}`;
    case 'g':
      return `${head}${gcraBlock(limit, i, v, table, spendOnReject)}`;
    case 'c':
      return `${head}  redis.call('ZREMRANGEBYSCORE', key2, '-inf', now)
  local c = redis.call('ZCARD', key2)
  ok_${i} = c + 1 <= ${limit.limit}
  r0_${i} = ${limit.limit} - c
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
 * With `spendOnReject`, after a rejection spent on every limit: each limit's retry becomes the wait
 * until it admits the same request from the state the decision leaves, also for a limit that
 * admitted this request but is full now because of the spend (the decision reports the largest).
 * A concurrency limit takes no lease for a rejection, so its retry stands.
 */
function spentRetries(limits: readonly ResolvedLimit[]): string {
  const lines = limits.map((limit, index) => {
    const i = index + 1;
    if (limit.kind === 'f') return fixedWindowSpentRetry(limit, i);
    if (limit.kind === 's') return slidingWindowSpentRetry(limit, i);
    if (limit.kind === 'g') return gcraSpentRetry(limit, i);
    return '';
  });
  return `if spent and op == 'c' then
${lines.filter((l) => l !== '').join('\n')}
end
`;
}

/**
 * After every block and the refund's return: whether a limit rejects, and then the retries that
 * cost more than their block should (a sliding window's search for its first admitting µs), so
 * neither the admitted path nor a refund does any of it. With `spendOnReject`, `swRetry` is
 * declared outside the branch for spentRetries, and a spent rejection (`spentIfRejected`) skips
 * these retries, which spentRetries replaces with the waits from the state the spend leaves.
 */
function rejectedBy(limits: readonly ResolvedLimit[], okAll: string, spendOnReject: boolean): string {
  const sliding = limits.flatMap((limit, index) => (limit.kind === 's' ? [slidingWindowRetry(limit, index + 1)] : []));
  if (sliding.length === 0) return `if not (${okAll}) then allOk = false end\n`;
  const retries = spendOnReject
    ? `if not spentIfRejected then
${sliding.join('\n')}
end`
    : sliding.join('\n');
  return `${spendOnReject ? 'local swRetry\n' : ''}if not (${okAll}) then
  allOk = false
${slidingRetryLua(spendOnReject)}${retries}
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

/**
 * With spendOnReject and blockOnReject: after a spend moved the key's expiry, `expiresAt` follows,
 * so the block written later in the same decision never cuts that expiry short.
 */
function expiryMoved(track: boolean): string {
  return track ? '\n    expiresAt = ceil(horizon)' : '';
}

/** Up to this many limits, the spend is one HSET call written out in the script, without a list. */
const STATIC_WRITE_MAX = 4;

/**
 * The spend of a limiter with few limits: HSET with its arguments written out (no list, no
 * unpack), and only the fields that change: a window's index is rewritten when the window rolls.
 * Without a GCRA limit, the expiry only moves when a window rolls, so it is only checked then.
 */
function staticWrite(limits: readonly ResolvedLimit[], trackExpiry: boolean): string {
  const full: string[] = [];
  const counts: string[] = [];
  const rolled: string[] = [];
  let window = 0;
  limits.forEach((limit, index) => {
    const i = index + 1;
    const n = limit.name;
    if (limit.kind === 'f' || limit.kind === 's') {
      window = i;
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
    redis.call('PEXPIRE', key, fmt('%d', ceil((horizon - now) / 1000) + 1))${expiryMoved(trackExpiry)}
  else
    ${hset(args)})
  end`;
  if (!hasGcra && counts.length === 2) {
    // One window limit and the window did not roll: the expiry cannot move, and the new count is
    // the stored one plus cost, which HINCRBY computes from the cost argument without any formatting
    // here, unless the count saturates (COUNT_CAP).
    return `if spent then
  if ${rolled.join(' or ')} then
  local extend = needed > expiresAt
  ${write(full)}
  elseif w_${window} < ${COUNT_CAP} then
    redis.call('HINCRBY', key, ${counts[0]}, costArg)
  else
    redis.call('HSET', key, ${counts.join(', ')})
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
  // The lease set's TTL only grows: after a clock step back, leases taken before score later than
  // this one, and a shorter TTL would drop them early. PTTL rather than PEXPIRE's GT option, which
  // needs Redis 7; a set without a TTL (-1) gets one.
  const leaseTtl = concurrency ? concurrency.windowMs + 1 : 0;
  const leaseLua = concurrency
    ? `if op == 'c' and allOk then
  redis.call('ZADD', key2, fmt('%d', now + ${concurrency.windowMs * 1000}), lease)
  if redis.call('PTTL', key2) < ${leaseTtl} then redis.call('PEXPIRE', key2, '${leaseTtl}') end
end
`
    : '';
  // A refund needs nothing the decision computes after the blocks: it returns before all of it.
  const refundLua = `if refund then
${concurrency ? "  if lease ~= '' then redis.call('ZREM', key2, lease) end\n" : ''}  if #refund > 0 then redis.call('HSET', key, unpack(refund)) end
  return {1, now}
end
`;
  const spent = options.spendOnReject ? `spentIfRejected or op == 'x'` : `op == 'x' or (op == 'c' and allOk)`;
  // Only a spent rejection is written and then blocked (blockOnReject) by the same decision; the
  // block compares with expiresAt, so it only ever raises the expiry the spend may have moved.
  const trackExpiry = options.spendOnReject && options.blockOnRejectUs > 0;
  const tableWrite = `if spent and ns > 0 then
  if needed > expiresAt then
    spend[ns + 1] = '!e'; spend[ns + 2] = fmt('%d', ceil(horizon)); ns = ns + 2
    redis.call('HSET', key, unpack(spend, 1, ns))
    redis.call('PEXPIRE', key, fmt('%d', ceil((horizon - now) / 1000) + 1))${expiryMoved(trackExpiry)}
  else
    redis.call('HSET', key, unpack(spend, 1, ns))
  end
end
`;
  const body = `${SIMPLE_OPS}
${table ? 'local spend = {}\nlocal ns = 0' : ''}
local vals = redis.call('HMGET', key, ${fields.map(q).join(', ')})
${BLOCK_OP}${options.spendOnReject ? SPENT_IF_REJECTED : ''}
${blocks.join('')}
${refundLua}${rejectedBy(limits, okAll, options.spendOnReject)}local spent = ${spent}
if op == 'p' then
  local out = {0, now, blockedFor}
${outputs}
  return out
end
${leaseLua}${table ? tableWrite : staticWrite(limits, trackExpiry)}if allOk and spent then
  if ahead then
    -- Counted in a window ahead of the clock's (stepped back): the short reply's resets, which the
    -- client computes from the clock's window, would be windows early. The long form carries them.
    local out = {0, now, 0}
${outputs}
    return out
  end
  return {1, now, ${short}}
end
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
  const name = `rate-limit-decide(${limits.map((l) => l.name).join(',')})`;
  // A batch: the same decision body as a function, one TIME for the whole batch, replies nested.
  const perDecision = concurrency ? 2 : 1;
  const batch = `${CLOCK}
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
    single: defineScript(name, `${CLOCK}${SINGLE_ARGS}${body}`),
    batch: defineScript(`${name} batch`, batch),
  };
}
