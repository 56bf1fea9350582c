import { defineScript, type RedisScript } from '../scripts.ts';

/**
 * The one script behind every rate-limit decision. It reads the clock with TIME (scripts are
 * effect-replicated since Redis 5, so replicas store the result, not a re-run), evaluates every
 * limit of the subject, and writes only when all of them admit the request (or when the caller
 * asked to spend on reject / to add a penalty). All keys share the subject's hash tag.
 *
 * KEYS: [1] state hash, [2] concurrency lease set (only when a concurrency limit exists).
 * ARGV: op, cost, spendOnReject, leaseId, blockUs, n, then per limit: kind, name, limit, windowUs, burst.
 *   op: c consume, p peek, r refund (and release), l release a lease, x penalty, b block, d delete.
 * Reply: allowed, nowUs, blockedForUs, then per limit: ok, remaining, resetUs, retryUs.
 */
const LUA = `
local tm = redis.call('TIME')
local now = tonumber(tm[1]) * 1000000 + tonumber(tm[2])
local key = KEYS[1]
local op = ARGV[1]
local cost = tonumber(ARGV[2])
local spendOnReject = ARGV[3] == '1'
local lease = ARGV[4]
local blockUs = tonumber(ARGV[5])
local n = tonumber(ARGV[6])
local function s(x) return string.format('%.0f', x) end

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
  local f = ARGV[6 + (i - 1) * 5 + 2]
  fields[#fields + 1] = f .. ':a'
  fields[#fields + 1] = f .. ':b'
  fields[#fields + 1] = f .. ':c'
end
local vals = redis.call('HMGET', key, unpack(fields))
local blockedUntil = tonumber(vals[1]) or 0
local blockedFor = 0
if blockedUntil > now then blockedFor = blockedUntil - now end

if op == 'b' then
  if now + blockUs > blockedUntil then
    redis.call('HSET', key, '!b', s(now + blockUs))
    local want = math.ceil(blockUs / 1000) + 1
    if redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, want) end
    blockedFor = blockUs
  end
  return {0, now, blockedFor}
end

local out = {0, now, blockedFor}
local allOk = blockedFor == 0
local spend = {}
local refund = {}
local ttl = blockedFor
local zkey, zlease = nil, 0
-- Per limit: ok, remaining and reset before spending, the same after spending, retry.
local res = {}

for i = 1, n do
  local base = 6 + (i - 1) * 5
  local kind = ARGV[base + 1]
  local f = ARGV[base + 2]
  local L = tonumber(ARGV[base + 3])
  local W = tonumber(ARGV[base + 4])
  local B = tonumber(ARGV[base + 5])
  local va, vb, vc = vals[(i - 1) * 3 + 2], vals[(i - 1) * 3 + 3], vals[(i - 1) * 3 + 4]
  local ok, rem0, rem1, reset0, reset1, retry = true, 0, 0, 0, 0, 0
  if kind == 'f' then
    local idx = math.floor(now / W)
    local c = 0
    if tonumber(va) == idx then c = tonumber(vb) or 0 end
    ok = c + cost <= L
    reset0 = (idx + 1) * W - now
    reset1 = reset0
    rem0 = L - c
    rem1 = L - c - cost
    if not ok then retry = reset0 end
    spend[#spend + 1] = f .. ':a'; spend[#spend + 1] = s(idx)
    spend[#spend + 1] = f .. ':b'; spend[#spend + 1] = s(c + cost)
    if reset0 > ttl then ttl = reset0 end
    if c > 0 then refund[#refund + 1] = f .. ':b'; refund[#refund + 1] = s(math.max(0, c - cost)) end
  elseif kind == 's' then
    local idx = math.floor(now / W)
    local sidx = tonumber(va)
    local cur, prev = 0, 0
    if sidx == idx then cur = tonumber(vb) or 0; prev = tonumber(vc) or 0
    elseif sidx == idx - 1 then prev = tonumber(vb) or 0 end
    local elapsed = now - idx * W
    local est = prev * ((W - elapsed) / W) + cur
    ok = est + cost <= L
    rem0 = math.floor(L - est)
    rem1 = math.floor(L - est - cost)
    reset1 = (idx + 2) * W - now
    if cur > 0 then reset0 = reset1 elseif prev > 0 then reset0 = (idx + 1) * W - now end
    if not ok then
      if cur + cost <= L then
        retry = idx * W + (W - (L - cur - cost) * W / prev) - now
      else
        local e2 = W - (L - cost) * W / cur
        if e2 < 0 then e2 = 0 end
        retry = (idx + 1) * W + e2 - now
      end
      retry = math.max(1, math.ceil(retry))
    end
    spend[#spend + 1] = f .. ':a'; spend[#spend + 1] = s(idx)
    spend[#spend + 1] = f .. ':b'; spend[#spend + 1] = s(cur + cost)
    spend[#spend + 1] = f .. ':c'; spend[#spend + 1] = s(prev)
    local t2 = (idx + 2) * W - now
    if t2 > ttl then ttl = t2 end
    if sidx == idx and cur > 0 then refund[#refund + 1] = f .. ':b'; refund[#refund + 1] = s(math.max(0, cur - cost)) end
  elseif kind == 'g' then
    local T = W / L
    local tau = T * B
    local tat = tonumber(va) or now
    if tat < now then tat = now end
    local newTat = tat + cost * T
    ok = newTat - now <= tau
    if not ok then retry = math.max(1, math.ceil(newTat - tau - now)) end
    rem0 = math.floor((tau - (tat - now)) / T)
    rem1 = math.floor((tau - (newTat - now)) / T)
    reset0 = math.ceil(tat - now)
    reset1 = math.ceil(newTat - now)
    local stored = math.ceil(math.min(newTat, now + 2 * tau))
    spend[#spend + 1] = f .. ':a'; spend[#spend + 1] = s(stored)
    if stored - now > ttl then ttl = stored - now end
    if tat > now then refund[#refund + 1] = f .. ':a'; refund[#refund + 1] = s(math.max(now, tat - cost * T)) end
  elseif kind == 'c' then
    zkey = KEYS[2]
    zlease = W
    redis.call('ZREMRANGEBYSCORE', zkey, '-inf', now)
    local c = redis.call('ZCARD', zkey)
    ok = c + 1 <= L
    rem0 = L - c
    rem1 = L - c - 1
    if not ok then
      local first = redis.call('ZRANGE', zkey, 0, 0, 'WITHSCORES')
      retry = 1000000
      if first[2] then retry = math.max(1, math.min(retry, tonumber(first[2]) - now)) end
    end
  end
  if not ok then allOk = false end
  res[i] = {ok and 1 or 0, rem0, rem1, reset0, reset1, retry, kind}
end

local spent = op == 'x' or (op == 'c' and (allOk or (spendOnReject and blockedFor == 0)))
for i = 1, n do
  local r = res[i]
  local after = spent and (r[7] ~= 'c' or allOk)
  out[#out + 1] = r[1]
  out[#out + 1] = math.max(0, after and r[3] or r[2])
  out[#out + 1] = after and r[5] or r[4]
  out[#out + 1] = r[6]
end

if op == 'p' then return out end

if op == 'r' then
  if #refund > 0 then redis.call('HSET', key, unpack(refund)) end
  if zkey and lease ~= '' then redis.call('ZREM', zkey, lease) end
  out[1] = 1
  return out
end

if allOk then out[1] = 1 end
if spent then
  if #spend > 0 then
    redis.call('HSET', key, unpack(spend))
    redis.call('PEXPIRE', key, math.ceil(ttl / 1000) + 1)
  end
end
if op == 'c' and allOk and zkey then
  redis.call('ZADD', zkey, s(now + zlease), lease)
  redis.call('PEXPIRE', zkey, math.ceil(zlease / 1000) + 1)
end
if op == 'c' and not allOk and blockedFor == 0 and blockUs > 0 then
  redis.call('HSET', key, '!b', s(now + blockUs))
  local want = math.ceil(math.max(ttl, blockUs) / 1000) + 1
  if redis.call('PTTL', key) < want then redis.call('PEXPIRE', key, want) end
  out[3] = blockUs
end
return out
`;

/** The rate-limit decision script. */
export const DECIDE_SCRIPT: RedisScript = defineScript('rate-limit-decide', LUA);
