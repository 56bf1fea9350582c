import { defineScript, type RedisScript } from '../scripts.ts';
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
 * ARGV: op, cost, spendOnReject ('1'/'0'), leaseId, blockUs.
 *   op: c consume, p peek, r refund (and release), l release a lease, x penalty, b block, d delete.
 * Reply: allowed, nowUs, blockedForUs, then per limit: ok, remaining, resetUs, retryUs.
 * Hash fields: '!b' blocked-until µs, '!e' recorded expiry µs (PEXPIRE is sent only to extend it),
 *   '<name>:a|b|c' per limit.
 */

const PRELUDE = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
local key = KEYS[1]
local op = ARGV[1]
local cost = tonumber(ARGV[2])
local lease = ARGV[4]
local blockUs = tonumber(ARGV[5])
local fmt = string.format
local floor, ceil, max, min = math.floor, math.ceil, math.max, math.min

if op == 'd' then
  redis.call('DEL', unpack(KEYS))
  return {1, now, 0}
end
if op == 'l' then
  if KEYS[2] then redis.call('ZREM', KEYS[2], lease) end
  return {1, now, 0}
end
`;

const BLOCK_OP = `
local blockedUntil = tonumber(vals[1]) or 0
local expiresAt = tonumber(vals[2]) or 0
local blockedFor = 0
if blockedUntil > now then blockedFor = blockedUntil - now end

if op == 'b' then
  local untilUs = now + blockUs
  if untilUs > blockedUntil then
    if untilUs > expiresAt then
      redis.call('HSET', key, '!b', fmt('%.0f', untilUs), '!e', fmt('%.0f', untilUs))
      redis.call('PEXPIRE', key, ceil(blockUs / 1000) + 1)
    else
      redis.call('HSET', key, '!b', fmt('%.0f', untilUs))
    end
    blockedFor = blockUs
  end
  return {0, now, blockedFor}
end

local allOk = blockedFor == 0
local spend = {}
local ns = 0
local refund = nil
if op == 'r' then refund = {} end
local needed = blockedUntil
local horizon = blockedUntil
`;

function q(field: string): string {
  // Names are validated to [A-Za-z0-9_.-], so a single-quoted literal is safe.
  return `'${field}'`;
}

/** Lua for one limit; sets ok{i}, r0{i}, r1{i}, t0{i}, t1{i}, rt{i}. `v` is the index of its first field. */
function limitBlock(limit: ResolvedLimit, i: number, v: number): string {
  const L = limit.limit;
  const W = limit.windowMs * 1000;
  const fa = q(`${limit.name}:a`);
  const fb = q(`${limit.name}:b`);
  const fc = q(`${limit.name}:c`);
  const head = `local ok_${i}, r0_${i}, r1_${i}, t0_${i}, t1_${i}, rt_${i} = true, 0, 0, 0, 0, 0\ndo\n`;
  switch (limit.kind) {
    case 'f':
      return `${head}  local idx = floor(now / ${W})
  local c = 0
  if tonumber(vals[${v}]) == idx then c = tonumber(vals[${v + 1}]) or 0 end
  ok_${i} = c + cost <= ${L}
  t0_${i} = (idx + 1) * ${W} - now
  t1_${i} = t0_${i}
  r0_${i} = ${L} - c
  r1_${i} = r0_${i} - cost
  if not ok_${i} then rt_${i} = t0_${i} end
  spend[ns + 1] = ${fa}; spend[ns + 2] = idx; spend[ns + 3] = ${fb}; spend[ns + 4] = c + cost; ns = ns + 4
  if now + t0_${i} > needed then needed = now + t0_${i} end
  if now + t0_${i} > horizon then horizon = now + t0_${i} end
  if refund and c > 0 then refund[#refund + 1] = ${fb}; refund[#refund + 1] = max(0, c - cost) end
end
`;
    case 's':
      return `${head}  local idx = floor(now / ${W})
  local sidx = tonumber(vals[${v}])
  local cur, prev = 0, 0
  if sidx == idx then cur = tonumber(vals[${v + 1}]) or 0; prev = tonumber(vals[${v + 2}]) or 0
  elseif sidx == idx - 1 then prev = tonumber(vals[${v + 1}]) or 0 end
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
  spend[ns + 1] = ${fa}; spend[ns + 2] = idx; spend[ns + 3] = ${fb}; spend[ns + 4] = cur + cost
  spend[ns + 5] = ${fc}; spend[ns + 6] = prev; ns = ns + 6
  if now + t1_${i} > needed then needed = now + t1_${i} end
  if now + t1_${i} > horizon then horizon = now + t1_${i} end
  if refund and sidx == idx and cur > 0 then refund[#refund + 1] = ${fb}; refund[#refund + 1] = max(0, cur - cost) end
end
`;
    case 'g': {
      // T = W / L µs per token, tau = T * burst: the GCRA tolerance.
      const T = W / L;
      const tau = T * limit.burst;
      return `${head}  local tat = tonumber(vals[${v}]) or now
  if tat < now then tat = now end
  local newTat = tat + cost * ${T}
  ok_${i} = newTat - now <= ${tau}
  if not ok_${i} then rt_${i} = max(1, ceil(newTat - ${tau} - now)) end
  r0_${i} = floor((${tau} - (tat - now)) / ${T})
  r1_${i} = floor((${tau} - (newTat - now)) / ${T})
  t0_${i} = ceil(tat - now)
  t1_${i} = ceil(newTat - now)
  local stored = ceil(min(newTat, now + ${2 * tau}))
  spend[ns + 1] = ${fa}; spend[ns + 2] = fmt('%.0f', stored); ns = ns + 2
  if stored > needed then needed = stored end
  if now + ${2 * tau} > horizon then horizon = now + ${2 * tau} end
  if refund and tat > now then refund[#refund + 1] = ${fa}; refund[#refund + 1] = fmt('%.0f', max(now, tat - cost * ${T})) end
end
`;
    }
    case 'c':
      return `${head}  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
  local c = redis.call('ZCARD', KEYS[2])
  ok_${i} = c + 1 <= ${L}
  r0_${i} = ${L} - c
  r1_${i} = r0_${i} - 1
  if not ok_${i} then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    rt_${i} = 1000000
    if first[2] then rt_${i} = max(1, min(rt_${i}, tonumber(first[2]) - now)) end
  end
end
`;
  }
}

/** Fields each kind keeps in the state hash. */
function fieldsOf(limit: ResolvedLimit): string[] {
  const n = limit.name;
  if (limit.kind === 'f') return [`${n}:a`, `${n}:b`];
  if (limit.kind === 's') return [`${n}:a`, `${n}:b`, `${n}:c`];
  if (limit.kind === 'g') return [`${n}:a`];
  return [];
}

/** Generates the decision script for exactly these limits (one per limiter, cached by Redis). */
export function buildDecideScript(limits: readonly ResolvedLimit[]): RedisScript {
  const fields = ['!b', '!e'];
  const blocks: string[] = [];
  const concurrency = limits.find((l) => l.kind === 'c');
  limits.forEach((limit, index) => {
    const i = index + 1;
    blocks.push(limitBlock(limit, i, fields.length + 1));
    fields.push(...fieldsOf(limit));
  });
  const okAll = limits.map((_, index) => `ok_${index + 1}`).join(' and ');
  const outputs = limits
    .map((limit, index) => {
      const i = index + 1;
      // A concurrency limit only holds a lease when the whole request was admitted.
      const after = limit.kind === 'c' ? 'spent and allOk' : 'spent';
      return `out[${3 + index * 4 + 1}] = ok_${i} and 1 or 0
out[${3 + index * 4 + 2}] = max(0, (${after}) and r1_${i} or r0_${i})
out[${3 + index * 4 + 3}] = (${after}) and t1_${i} or t0_${i}
out[${3 + index * 4 + 4}] = rt_${i}`;
    })
    .join('\n');
  const leaseLua = concurrency
    ? `if op == 'c' and allOk then
  redis.call('ZADD', KEYS[2], fmt('%.0f', now + ${concurrency.windowMs * 1000}), lease)
  redis.call('PEXPIRE', KEYS[2], ${concurrency.windowMs + 1})
end
if refund and lease ~= '' then redis.call('ZREM', KEYS[2], lease) end
`
    : '';
  const lua = `${PRELUDE}
local vals = redis.call('HMGET', key, ${fields.map(q).join(', ')})
${BLOCK_OP}
${blocks.join('')}
if not (${okAll}) then allOk = false end
local spent = op == 'x' or (op == 'c' and (allOk or (ARGV[3] == '1' and blockedFor == 0)))
local out = {allOk and 1 or 0, now, blockedFor}
${outputs}
if op == 'p' then return out end
${leaseLua}
if refund then
  if #refund > 0 then redis.call('HSET', key, unpack(refund)) end
  out[1] = 1
  return out
end
if spent and ns > 0 then
  if needed > expiresAt then
    spend[ns + 1] = '!e'; spend[ns + 2] = fmt('%.0f', horizon); ns = ns + 2
    redis.call('HSET', key, unpack(spend, 1, ns))
    redis.call('PEXPIRE', key, ceil((horizon - now) / 1000) + 1)
  else
    redis.call('HSET', key, unpack(spend, 1, ns))
  end
end
if op == 'c' and not allOk and blockedFor == 0 and blockUs > 0 then
  local untilUs = now + blockUs
  if untilUs > expiresAt then
    redis.call('HSET', key, '!b', fmt('%.0f', untilUs), '!e', fmt('%.0f', untilUs))
    redis.call('PEXPIRE', key, ceil(blockUs / 1000) + 1)
  else
    redis.call('HSET', key, '!b', fmt('%.0f', untilUs))
  end
  out[3] = blockUs
end
return out
`;
  return defineScript(`rate-limit-decide(${limits.map((l) => l.name).join(',')})`, lua);
}
