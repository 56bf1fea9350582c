import { defineScript } from '../scripts.ts';
import type { DecideScriptOptions, DecideScripts } from './decide-script-options.ts';
import type { ResolvedLimit } from './limits.ts';
import { COUNT_CAP, num, q, stepBackUs } from './lua-text.ts';

/*
 * A fixed-window limit in the decision scripts: its block of the general script (fixedWindowBlock,
 * at the end of this file), and the scripts of a limiter with exactly one fixed-window limit (the
 * most common limiter: "100 requests per minute per IP"). Same KEYS, ARGV and reply shapes as the
 * general script in decide-script.ts, but a state layout that lets the common request cost Redis two commands
 * (TIME, HINCRBY) instead of three (TIME, HMGET, HINCRBY) and almost no Lua.
 *
 * State: one hash field '<name>:p<windowMs>' (e.g. 'minute:p60000') packs the window and its count:
 *   value = tag * 2^33 + count (+ 2^32 while a block may be active)
 *   tag   = 1 + windowIndex % (2^20 - 2): never 0, so a field that HINCRBY has just created
 *           (value = cost, tag 0) never looks like the current window.
 * Every value stays below 2^53, so Lua's doubles hold it exactly; counts stay below 2^32 even
 * with a request's cost added (limits up to 2^30, counts saturate at 2^31).
 * '!b' holds blocked-until µs, as in the general layout. A consume reads it whenever the window
 * rolled or the field is new or marked, so a block written without the mark (by the general
 * layout, e.g. on a pod not yet upgraded) applies from the next window on at the latest.
 *
 * A consume adds its cost first (HINCRBY) and looks at the result:
 * - current tag, count within the limit: admitted, nothing else to do (the common case);
 * - current tag, count over the limit: rejected; the cost is taken back in the same script
 *   (unless spendOnReject), so nobody ever sees it;
 * - another tag: the window rolled (or the field is new): the field is rewritten for this window
 *   and the key's TTL set to the window's end.
 * Blocks: whoever writes a block also adds the 2^32 mark to the field, and only a write made while
 * no block is active removes it, so a block never lets a request take the short path. Every write
 * of a block sets the key's TTL to cover it, and no write shortens the TTL while a block is active.
 *
 * A clock stepped back across a window start (behind the field's window by less than one window)
 * counts in the field's window, as the general layout does; a larger step back cannot be told
 * from an old field by its tag and starts the clock's window.
 *
 * Upgrading from the general layout: counts of the window in progress restart (the general
 * layout keeps them in '<name>:a'/'<name>:b'); blocks are kept. The same holds for a new windowMs
 * (a field under another window length is never read; it goes when the key expires).
 * Upgrading from versions that named the field '<name>:p' (same packing): when the field is new or
 * of another window, that legacy field is read too (in the same HMGET as the block, so the common
 * request pays nothing), and a count of exactly the current window is carried over, saturated like
 * any count. The legacy field is left in place while it holds the current window, so pods not yet
 * upgraded keep their view of it (each side counts on its own after the carry, as before); one of
 * any other window but the next (a clock stepped back, where an old pod may still count) is
 * deleted, so nothing is left behind once every pod runs this version. The cost: a deploy that
 * changes windowMs together with this upgrade may carry a count of another window length whose tag
 * happens to match, for that one window at most (it is dropped at the next window).
 * Counts saturate at 2^31 (see CAP): there, and only there, the answers differ from the general
 * script, which counts on to COUNT_CAP: a refund does not bring a saturated count back below the limit.
 */

/**
 * Limits above this use the general script: a count (at most the 2^31 cap) plus a cost (at most
 * the limit) must stay below 2^32, the block mark.
 */
export const PACKED_MAX_LIMIT = 2 ** 30;

const K = 2 ** 33;
const MARK = 2 ** 32;
const TAGS = 2 ** 20 - 2;
/**
 * Counts saturate here (penalties and spend-on-reject can push them past the limit): a saturated
 * count stays saturated until its window ends, refunds included, so saturation can only reject.
 */
const CAP = 2 ** 31;

/** True when `limits` is a single fixed-window limit the packed layout can hold. */
export function usesPackedFixedWindow(limits: readonly ResolvedLimit[]): boolean {
  return limits.length === 1 && limits[0]?.kind === 'f' && limits[0].limit <= PACKED_MAX_LIMIT;
}

/** Generates both scripts for one fixed-window limit (see {@link usesPackedFixedWindow}). */
export function buildFixedWindowScripts(limit: ResolvedLimit, opts: Required<DecideScriptOptions>): DecideScripts {
  const W = limit.windowMs * 1000;
  const L = limit.limit;
  const B = opts.blockOnRejectUs;
  // Names are validated to [A-Za-z0-9_.-]. The window length is part of the field's name: tags
  // tell windows of one length apart only, so a field written with another windowMs (a deploy that
  // changed it under the same name) could carry the current window's tag and be read as its count.
  const F = `'${limit.name}:p${limit.windowMs}'`;
  // The field of versions before the window length was in the name (see the upgrade note above).
  const LEGACY = `'${limit.name}:p'`;
  // Sets `out` to the count the legacy field value `lv` holds for the current window `tag` (left
  // as it is otherwise), and deletes a legacy field of any window but this one and the next unless
  // `keepIf` (a Lua condition) holds. Emitted at an indent of two spaces.
  const legacy = (lv: string, out: string, keepIf?: string) => `if ${lv} then
    local lv = ${lv} + 0
    local lt = floor(lv / ${K})
    if lt == tag then
      ${out} = lv - lt * ${K}
      if ${out} >= ${MARK} then ${out} = ${out} - ${MARK} end
      if ${out} > ${CAP} then ${out} = ${CAP} end
    elseif ${keepIf ? `not (${keepIf}) and ` : ''}lt ~= tag % ${TAGS} + 1 then
      redis.call('HDEL', key, ${LEGACY})
    end
  end`;
  const clock = `
local tm = redis.call('TIME')
local now = tm[1] * 1000000 + tm[2]
local floor = math.floor
local idx = floor(now / ${W})
local tag = 1 + idx % ${TAGS}
`;
  // What only the rare paths need, so the common request does not pay for it.
  // A field of the next window (the clock stepped back across a window start) is the window
  // counted, as a GCRA limit keeps its base: rewriting it for this window would restart its count.
  // `tag` is shadowed: a batch's decisions share the outer one.
  const rare = `local fmt, ceil, max = string.format, math.ceil, math.max
local reset = (idx + 1) * ${W} - now
local tag = tag
if tv == tag % ${TAGS} + 1 then tag = tv; reset = reset + ${W} end`;
  // An admitted decision off the fast path. The short reply leaves the reset to the client, which
  // computes it from the clock's window; counted in the window after it (a clock stepped back,
  // see rare), the reset is a window later, so the reply says so in the long form (ok 1, blocked 0).
  const admitted = (count: string) =>
    `(reset > ${W} and {0, now, 0, 1, ${L} - ${count}, reset, 0} or {1, now, ${L} - ${count}})`;
  // A consume: `v` is the field after HINCRBY of the cost. Everything but the first line is the
  // rare path (window rolled, over the limit, block mark).
  const consume = `
local v = redis.call('HINCRBY', key, ${F}, costArg)
local tv = floor(v / ${K})
local c = v - tv * ${K}
if tv == tag and c <= ${L} then return {1, now, ${L} - c} end
${rare}
local cost = costArg + 0
local marked = c >= ${MARK}
if marked then c = c - ${MARK} end
local before = 0
local b = false
if tv == tag then
  before = c - cost
  if marked then b = redis.call('HGET', key, '!b') end
else
  -- A new field or a new window: look for a block (one written by the general layout, e.g. by a
  -- pod not yet upgraded, carries no mark) and for this window's count in the legacy field.
  local r = redis.call('HMGET', key, '!b', ${LEGACY})
  b = r[1]
  ${legacy('r[2]', 'before')}
end
local ok = before + cost <= ${L}
if b and b + 0 > now then
  -- Blocked: spend nothing (not even with spendOnReject) and keep the mark on the field.
  if marked then
    redis.call('HINCRBY', key, ${F}, '-' .. costArg)
  else
    redis.call('HINCRBY', key, ${F}, fmt('%d', ${MARK} - cost))
  end
  return {0, now, b - now, ok and 1 or 0, max(0, ${L} - before), reset, ok and 0 or reset}
end
local newc = before
if ok or ${opts.spendOnReject} then
  newc = before + cost
  if newc > ${CAP} then newc = ${CAP} end
end
local blockUs = 0
${B > 0 ? `if not ok then blockUs = ${B} end` : ''}
if tv == tag and not marked and blockUs == 0 then
  -- Same window and over the limit: take the cost back (or trim to the cap).
  if newc ~= before + cost then redis.call('HINCRBY', key, ${F}, fmt('%d', newc - before - cost)) end
else
  if blockUs > 0 then
    redis.call('HSET', key, ${F}, fmt('%d', tag * ${K} + newc + ${MARK}), '!b', fmt('%d', now + blockUs))
  else
    redis.call('HSET', key, ${F}, fmt('%d', tag * ${K} + newc))
  end
  local ttl = reset
  if blockUs > ttl then ttl = blockUs end
  redis.call('PEXPIRE', key, fmt('%d', ceil(ttl / 1000) + 1))
end
if ok then return ${admitted('newc')} end
return {0, now, blockUs, 0, max(0, ${L} - newc), reset, reset}
`;
  // The other ops read the field and the block, then write a whole value. Rare: no shortcuts.
  const otherOps = `
if op == 'd' then
  redis.call('DEL', key)
  return {1, now}
end
if op == 'l' then return {1, now} end
local vals = redis.call('HMGET', key, ${F}, '!b', ${LEGACY})
local v = vals[1] and vals[1] + 0 or 0
local tv = floor(v / ${K})
${rare}
local c = v - tv * ${K}
if c >= ${MARK} then c = c - ${MARK} end
if tv ~= tag then
  c = 0
  ${legacy('vals[3]', 'c', "op == 'p'")}
end
local blockedUntil = vals[2] and vals[2] + 0 or 0
local blockedFor = 0
if blockedUntil > now then blockedFor = blockedUntil - now end
local function write(count, untilUs)
  local mark = 0
  local ttl = reset
  if untilUs > now then
    mark = ${MARK}
    if untilUs - now > ttl then ttl = untilUs - now end
  end
  redis.call('HSET', key, ${F}, fmt('%d', tag * ${K} + count + mark))
  redis.call('PEXPIRE', key, fmt('%d', ceil(ttl / 1000) + 1))
end
if op == 'b' then
  local blockUs = ARGV[4] + 0
  local untilUs = now + blockUs
  if untilUs > blockedUntil then
    redis.call('HSET', key, '!b', fmt('%d', untilUs))
    write(c, untilUs)
    blockedFor = blockUs
  end
  return {0, now, blockedFor}
end
local ok = c + cost <= ${L}
if op == 'p' then
  return {0, now, blockedFor, ok and 1 or 0, max(0, ${L} - c), reset, ok and 0 or reset}
end
if op == 'r' then
  if c > 0 and c < ${CAP} then write(max(0, c - cost), blockedUntil) end
  return {1, now}
end
-- op x: a penalty spends whatever the state.
local newc = c + cost
if newc > ${CAP} then newc = ${CAP} end
write(newc, blockedUntil)
if ok and blockedFor == 0 then return ${admitted('newc')} end
return {0, now, blockedFor, ok and 1 or 0, max(0, ${L} - newc), reset, ok and 0 or reset}
`;
  const name = `rate-limit-fixed-window(${limit.name})`;
  const single = `${clock}
local key = KEYS[1]
local op = ARGV[1]
local costArg = ARGV[2]
if op == 'c' then
${consume}
end
local cost = costArg + 0
${otherOps}`;
  const batch = `${clock}
local function decide(key, costArg)
${consume}
end
local out, n = {}, 0
for i = 1, #ARGV do
  local r = decide(KEYS[i], ARGV[i])
  for j = 1, #r do out[n + j] = r[j] end
  n = n + #r
end
return out
`;
  return { single: defineScript(name, single), batch: defineScript(`${name} batch`, batch) };
}

/*
 * In the general script (decide-script.ts), a fixed window keeps '<name>:a', the index of its
 * window (floor(µs / W)), and '<name>:b', the window's count (saturating at COUNT_CAP, lua-text.ts).
 */

/**
 * The Lua of fixed-window limit `i` inside its `do` block (see limitBlock in decide-script.ts), its
 * fields from HMGET index `v`; with `table`, its spend is appended to the `spend` list.
 */
export function fixedWindowBlock(limit: ResolvedLimit, i: number, v: number, table: boolean): string {
  const L = limit.limit;
  const W = limit.windowMs * 1000;
  const fa = q(`${limit.name}:a`);
  const fb = q(`${limit.name}:b`);
  // A stored window ahead of the clock's (the clock stepped back) is the one counted, as a GCRA
  // limit keeps its base: moving back would restart the count it already holds. Only up to
  // five minutes (or one window; stepBackUs, lua-text.ts) ahead: an index further ahead is no step back but a field written
  // with another windowMs under the same limit name (a deploy that changed it), which restarts the
  // count; read as current it would hold the subject for as long as that index is ahead.
  return `  local idx = floor(now / ${W})
  local c = 0
  local sa = vals[${v}] and vals[${v}] + 0
  if sa and sa >= idx and (sa - idx) * ${W} <= ${stepBackUs(W)} then
    if sa > idx then ahead = true end
    idx = sa; c = ${num(v + 1, '0')}
  end
  local same = sa == idx
  ok_${i} = c + cost <= ${L}
  t0_${i} = (idx + 1) * ${W} - now
  t1_${i} = t0_${i}
  r0_${i} = ${L} - c
  r1_${i} = r0_${i} - cost
  if not ok_${i} then rt_${i} = t0_${i} end
  w_${i} = c + cost; if w_${i} > ${COUNT_CAP} then w_${i} = ${COUNT_CAP} end
  idx_${i} = idx; same_${i} = same
${
  table
    ? `  if not same then spend[ns + 1] = ${fa}; spend[ns + 2] = fmt('%d', idx); ns = ns + 2 end
  spend[ns + 1] = ${fb}; spend[ns + 2] = fmt('%d', w_${i}); ns = ns + 2
`
    : ''
}  if now + t0_${i} > needed then needed = now + t0_${i} end
  if now + t0_${i} > horizon then horizon = now + t0_${i} end
  if refund and c > 0 and c < ${COUNT_CAP} then refund[#refund + 1] = ${fb}; refund[#refund + 1] = fmt('%d', max(0, c - cost)) end
end
`;
}

/**
 * After a rejection spent on every limit: the end of the window once the spend leaves no room for
 * the cost (what a rejecting fixed window already reports).
 */
export function fixedWindowSpentRetry(limit: ResolvedLimit, i: number): string {
  return `  if w_${i} + cost > ${limit.limit} then rt_${i} = (idx_${i} + 1) * ${limit.windowMs * 1000} - now end`;
}
