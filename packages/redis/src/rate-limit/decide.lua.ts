import { defineScript, type RedisScript } from '../scripts.ts';

/**
 * The one script behind every rate-limit decision. It reads the clock with TIME (scripts are
 * effect-replicated since Redis 5, so replicas store the result, not a re-run), evaluates every
 * limit of the subject, and writes only when all of them admit the request (or when the caller
 * asked to spend on reject / to add a penalty). All keys share the subject's hash tag.
 *
 * KEYS: [1] state hash, [2] concurrency lease set (only when a concurrency limit exists).
 * ARGV: op, cost, spendOnReject, leaseId, blockUs, n, then per limit: kind, limit, windowUs, burst and
 *   its three hash fields (precomputed by the client: string building in Lua costs Redis CPU).
 *   op: c consume, p peek, r refund (and release), l release a lease, x penalty, b block, d delete.
 * Reply: allowed, nowUs, blockedForUs, then per limit: ok, remaining, resetUs, retryUs.
 */
const LUA = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
local key = KEYS[1]
local op = ARGV[1]
local cost = tonumber(ARGV[2])
local lease = ARGV[4]
local blockUs = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
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

local fields = {'!b'}
for i = 1, n do
  local b = 6 + (i - 1) * 7
  fields[i * 3 - 1] = ARGV[b + 5]
  fields[i * 3] = ARGV[b + 6]
  fields[i * 3 + 1] = ARGV[b + 7]
end
-- '!e' records the key's expiry (µs) so a spend only sends PEXPIRE when it must extend it.
fields[n * 3 + 2] = '!e'
local vals = redis.call('HMGET', key, unpack(fields))
local expiresAt = tonumber(vals[n * 3 + 2]) or 0
local blockedUntil = tonumber(vals[1]) or 0
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
-- Absolute time (µs) until which the state must survive, and a generous horizon to set instead.
local needed = blockedUntil
local horizon = blockedUntil
local zkey, zlease = nil, 0
-- Per limit (flat): ok, remaining and reset before spending, the same after spending, retry.
local res = {}

for i = 1, n do
  local b = 6 + (i - 1) * 7
  local kind = ARGV[b + 1]
  local L = tonumber(ARGV[b + 2])
  local W = tonumber(ARGV[b + 3])
  local fa, fb = ARGV[b + 5], ARGV[b + 6]
  local va, vb, vc = vals[i * 3 - 1], vals[i * 3], vals[i * 3 + 1]
  local ok, r0, r1, t0, t1, retry = true, 0, 0, 0, 0, 0
  if kind == 'f' then
    local idx = floor(now / W)
    local c = 0
    if tonumber(va) == idx then c = tonumber(vb) or 0 end
    ok = c + cost <= L
    t0 = (idx + 1) * W - now
    t1 = t0
    r0 = L - c
    r1 = r0 - cost
    if not ok then retry = t0 end
    spend[ns + 1] = fa; spend[ns + 2] = idx; spend[ns + 3] = fb; spend[ns + 4] = c + cost; ns = ns + 4
    if now + t0 > needed then needed = now + t0 end
    if now + t0 > horizon then horizon = now + t0 end
    if refund and c > 0 then refund[#refund + 1] = fb; refund[#refund + 1] = max(0, c - cost) end
  elseif kind == 's' then
    local idx = floor(now / W)
    local sidx = tonumber(va)
    local cur, prev = 0, 0
    if sidx == idx then cur = tonumber(vb) or 0; prev = tonumber(vc) or 0
    elseif sidx == idx - 1 then prev = tonumber(vb) or 0 end
    local est = prev * ((W - (now - idx * W)) / W) + cur
    ok = est + cost <= L
    r0 = floor(L - est)
    r1 = floor(L - est - cost)
    t1 = (idx + 2) * W - now
    if cur > 0 then t0 = t1 elseif prev > 0 then t0 = t1 - W end
    if not ok then
      if cur + cost <= L then
        retry = idx * W + (W - (L - cur - cost) * W / prev) - now
      else
        local e2 = W - (L - cost) * W / cur
        if e2 < 0 then e2 = 0 end
        retry = (idx + 1) * W + e2 - now
      end
      retry = max(1, ceil(retry))
    end
    spend[ns + 1] = fa; spend[ns + 2] = idx; spend[ns + 3] = fb; spend[ns + 4] = cur + cost
    spend[ns + 5] = ARGV[b + 7]; spend[ns + 6] = prev; ns = ns + 6
    if now + t1 > needed then needed = now + t1 end
    if now + t1 > horizon then horizon = now + t1 end
    if refund and sidx == idx and cur > 0 then refund[#refund + 1] = fb; refund[#refund + 1] = max(0, cur - cost) end
  elseif kind == 'g' then
    local T = W / L
    local tau = T * tonumber(ARGV[b + 4])
    local tat = tonumber(va) or now
    if tat < now then tat = now end
    local newTat = tat + cost * T
    ok = newTat - now <= tau
    if not ok then retry = max(1, ceil(newTat - tau - now)) end
    r0 = floor((tau - (tat - now)) / T)
    r1 = floor((tau - (newTat - now)) / T)
    t0 = ceil(tat - now)
    t1 = ceil(newTat - now)
    local stored = ceil(min(newTat, now + 2 * tau))
    spend[ns + 1] = fa; spend[ns + 2] = fmt('%.0f', stored); ns = ns + 2
    if stored > needed then needed = stored end
    if now + 2 * tau > horizon then horizon = now + 2 * tau end
    if refund and tat > now then refund[#refund + 1] = fa; refund[#refund + 1] = fmt('%.0f', max(now, tat - cost * T)) end
  elseif kind == 'c' then
    zkey = KEYS[2]
    zlease = W
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
    local c = redis.call('ZCARD', zkey)
    ok = c + 1 <= L
    r0 = L - c
    r1 = r0 - 1
    if not ok then
      local first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
      retry = 1000000
      if first[2] then retry = max(1, min(retry, tonumber(first[2]) - now)) end
    end
  end
  if not ok then allOk = false end
  local j = (i - 1) * 6
  res[j + 1] = ok and 1 or 0; res[j + 2] = r0; res[j + 3] = r1; res[j + 4] = t0; res[j + 5] = t1; res[j + 6] = retry
end

local spent = op == 'x' or (op == 'c' and (allOk or (ARGV[3] == '1' and blockedFor == 0)))
local out = {allOk and 1 or 0, now, blockedFor}
for i = 1, n do
  local after = spent and (ARGV[6 + (i - 1) * 7 + 1] ~= 'c' or allOk)
  local j = 3 + (i - 1) * 4
  local k = (i - 1) * 6
  out[j + 1] = res[k + 1]
  out[j + 2] = max(0, after and res[k + 3] or res[k + 2])
  out[j + 3] = after and res[k + 5] or res[k + 4]
  out[j + 4] = res[k + 6]
end

if op == 'p' then
  out[1] = 0
  if allOk then out[1] = 1 end
  return out
end

if refund then
  if #refund > 0 then redis.call('HSET', key, unpack(refund)) end
  if zkey and lease ~= '' then redis.call('ZREM', zkey, lease) end
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
if op == 'c' and allOk and zkey then
  redis.call('ZADD', zkey, fmt('%.0f', now + zlease), lease)
  redis.call('PEXPIRE', zkey, ceil(zlease / 1000) + 1)
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

/** The rate-limit decision script. */
export const DECIDE_SCRIPT: RedisScript = defineScript('rate-limit-decide', LUA);
