// The Lua scripts of a SharedCache's Redis tier (see CacheRedisTier). An entry, its lease, its
// generation and the generation's holder set share a hash tag, so every multi-key script runs on one
// Cluster slot.
import { defineScript } from '../scripts.ts';

/**
 * A Lua fragment with `$NAME` placeholders (key and argument indexes, values to return), filled by
 * {@link fill}. `$` is no Lua token, so a placeholder left in a script fails its load at once,
 * instead of reading an undefined global on the rare path that reaches it.
 */
type Fragment = string & { readonly fragment: true };

const fragment = (lua: string): Fragment => lua as Fragment;

/**
 * `template` with every `$NAME` replaced by `values[NAME]`, all occurrences. Throws (at import, so
 * at the first test run) when a placeholder has no value or a value fills no placeholder.
 *
 * @internal exported for its tests
 */
export function fill(template: Fragment, values: Readonly<Record<string, string>>): string {
  const used = new Set<string>();
  const filled = template.replace(/\$([A-Z]+)/g, (_, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`cache-scripts: no value for the placeholder $${name}`);
    used.add(name);
    return value;
  });
  const unused = Object.keys(values).filter((name) => !used.has(name));
  if (unused.length > 0) throw new Error(`cache-scripts: no placeholder for ${unused.map((n) => `$${n}`).join(', ')}`);
  return filled;
}

// A tag key must outlive every entry that recorded its version: otherwise it could expire, come
// back with the old version, and resurrect invalidated entries. New tags start at a random version.
export const TAG_READ = defineScript(
  'cache-tag-read',
  `local v = redis.call('GET', KEYS[1])
if not v then
  v = ARGV[1]
  redis.call('SET', KEYS[1], v, 'PX', ARGV[2])
elseif redis.call('PTTL', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return v`,
);

// The announcement of a write or an invalidation, sent from the script that makes it (one round
// trip less than a PUBLISH of its own). PUBLISH in a script reaches every node of a Cluster, as a
// client's does. pcall: a refused PUBLISH (an ACL without the channel) must not hide that the data
// changed; its error is returned for the caller to report as it reported a failed PUBLISH. The
// channel is an ARGV, so ioredis does not prefix it, as it does not prefix a PUBLISH's.
const ANNOUNCE = fragment(`local announced = redis.pcall('PUBLISH', ARGV[$CA], ARGV[$CA + 1])
if type(announced) == 'table' and announced.err then refused = announced.err end`);

// With a channel (ARGV[1]) and a message (ARGV[2]), announces the bump, existing tag or not.
export const TAG_BUMP = defineScript(
  'cache-tag-bump',
  `local refused = false
local version = 0
if redis.call('EXISTS', KEYS[1]) == 1 then version = redis.call('INCR', KEYS[1]) end
if ARGV[1] then
  ${fill(ANNOUNCE, { CA: '1' })}
end
return {version, refused}`,
);

// A delete ends the key's generation (and its holder set) with its entry (a load still running
// cannot write back), and announces it whether or not the entry existed, as a delete's PUBLISH of
// its own did.
export const DELETE_AND_END_LOADS = defineScript(
  'cache-delete-and-end-loads',
  `local refused = false
local removed = redis.call('UNLINK', KEYS[1], KEYS[2], KEYS[3])
${fill(ANNOUNCE, { CA: '1' })}
return {removed, refused}`,
);

// A load that ends without writing gives its lease back (ARGV[1]) and leaves the generation it
// created or joined (ARGV[2], when still the key's: one ended since, by a write, a delete or a
// clear, took its holders with it, and a new one's are not this load's): it takes its own share
// (ARGV[3]) out of the generation's holders, and only the load whose share was the last one ends
// the generation, so a failing loader leaves no key behind for the generation's life, and never
// ends one another load still writes against. Idempotent: ioredis resends a command whose reply a
// reconnect lost, and a second run finds the share gone (SREM 0) and ends nothing. A holder set
// that is gone (evicted), or holds this share no more, is not this load's to end either: the
// generation lingers to its life or the next write. SREM, SCARD, GET and DEL are not `denyoom`: a
// load leaves under `maxmemory` with `noeviction` too.
export const LOAD_END = defineScript(
  'cache-load-end',
  `if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
if ARGV[2] ~= '' and redis.call('GET', KEYS[2]) == ARGV[2]
  and redis.call('SREM', KEYS[3], ARGV[3]) == 1 and redis.call('SCARD', KEYS[3]) == 0 then
  redis.call('DEL', KEYS[2], KEYS[3])
end
return 0`,
);

/**
 * The share that stands for loads a generation's holder set cannot name (see `GENERATION`): no load
 * holds it (a load's share is a 16-character base64url token), so no load's leave removes it.
 */
export const UNKNOWN_HOLDER = 'unseen';

/** The most shares a generation's holder set keeps before it starts again as {@link UNKNOWN_HOLDER}. */
export const MAX_SHARES = 128;

// A key's generation is an id (a load's random token and Redis's TIME) that exists while a load of
// the key may be running: a load reads it (creating it when absent) before it starts, and may write
// only while it is unchanged. A delete, a set() or a clear() removes it, so no load from before them
// can write; an absent or re-created generation never equals the one a load holds. KEYS[$GK]: the
// generation; ARGV[$GA]: this load's token, its share and the first part of a new generation's id;
// ARGV[$GA + 1]: the life it must have left (an existing one is extended, never shortened). Pods share a generation (loads in flight in several
// pods read the same one), so KEYS[$CK] holds the shares of the loads that hold it, a set of their
// random tokens: a load joins by adding its own and leaves (LOAD_END) by taking its own out, and
// only the last one out ends the generation. A share, not a count, so a join or a leave that
// ioredis resends after a reconnect (the reply was lost) changes nothing the second time.
// - A new generation starts a new set (one left by a generation an older version ended, which
//   removed only the generation, or whose generation was evicted, holds nobody's share now).
// - A generation found without a set (made by an older version of this script, which knew no
//   shares; or the set was evicted), or beside a key of another type, gets UNKNOWN_HOLDER, a share no
//   load holds, standing for the loads it cannot see: no load's leave empties that set, and the
//   generation lingers until a write, a delete or a clear ends it, or its life runs out.
// - A set that reached MAX_SHARES shares (loads that crashed, or whose leave Redis never answered,
//   never take theirs out) starts again as UNKNOWN_HOLDER and this share: bounded memory, and the same
//   lingering as above.
// Both keys get the same life, extended by each join: a share a crashed pod never took out keeps the
// generation no longer than that life (it keeps no value out of Redis: the loads that hold it write
// against it). Under `maxmemory` with `noeviction` Redis refuses a script (`OOM`) only at a
// `denyoom` command that comes before any write of it. A join's first write is SET when there is no
// generation, and SADD when it joins a set or finds none: both `denyoom`, so that join is refused
// before it writes anything. A join that finds a holder set of another type, or a full one, first
// DELs it (not `denyoom`), and the script then runs through: that join succeeds under OOM. (In the
// lease scripts the lease's SET, `denyoom`, comes first, so a miss is refused there.)
// A new generation is the call's token and Redis's clock (TIME): never one made before, also when
// ioredis resends a script whose reply a reconnect lost. Run twice while the generation the first
// run made or joined still exists, the second run finds it and adds the same share again: nothing
// more changes. Once that generation ended in between (a write, a delete, a clear, its life), the
// second run makes a new one, which no load that joined the ended one holds: a value read before a
// delete is never written against it.
const GENERATION = fragment(`local g = redis.call('GET', KEYS[$GK])
if not g then
  g = ARGV[$GA] .. ':' .. table.concat(redis.call('TIME'), '.')
  redis.call('SET', KEYS[$GK], g, 'PX', ARGV[$GA + 1])
  redis.call('DEL', KEYS[$CK])
  redis.call('SADD', KEYS[$CK], ARGV[$GA])
  redis.call('PEXPIRE', KEYS[$CK], ARGV[$GA + 1])
else
  local kind = redis.call('TYPE', KEYS[$CK]).ok
  if kind == 'set' and redis.call('SCARD', KEYS[$CK]) < ${MAX_SHARES} then
    redis.call('SADD', KEYS[$CK], ARGV[$GA])
  else
    if kind ~= 'none' then redis.call('DEL', KEYS[$CK]) end
    redis.call('SADD', KEYS[$CK], '${UNKNOWN_HOLDER}', ARGV[$GA])
  end
  for _, k in ipairs({KEYS[$GK], KEYS[$CK]}) do
    if redis.call('PTTL', k) < tonumber(ARGV[$GA + 1]) then redis.call('PEXPIRE', k, ARGV[$GA + 1]) end
  end
end`);

// A load that follows a read which found an entry it cannot use (expired, tag-invalidated,
// undecodable: only the client can tell, tags live on other slots) may only start while that entry
// is unchanged: KEYS[$EK] is the entry, ARGV[$EA] the SHA-1 of the entry's bytes as read. A set(), delete, clear or another
// pod's load since that read changed or removed it, and the load does not start, so a set() landing
// between the read and the load wins. '-': the read found no entry, and the load may only start
// while there is still none; '': no check. A hit writes nothing: the check is only made by the
// rare load that follows such a read. One hash of one value: bounded. $FAIL: what the script returns
// when the entry changed (both paths).
const ENTRY_UNCHANGED = fragment(`if ARGV[$EA] == '-' then
  if redis.call('EXISTS', KEYS[$EK]) == 1 then return $FAIL end
elseif ARGV[$EA] ~= '' then
  local seen = redis.call('GET', KEYS[$EK])
  if not seen or redis.sha1hex(seen) ~= ARGV[$EA] then return $FAIL end
end`);

// A lease script that finds this call's own lease (its token, ARGV[1], random per call) is its
// second run: ioredis resent it after a reconnect lost the first run's reply, so the first run took
// that lease and made or joined a generation with this call's share ($SA). The call has not
// started loading: the reply that would start it was lost. It may go on under that lease only while
// what the first run joined still holds: the generation exists and its holder set has this share
// (pcall: a key of another type under the holder set's name, such as another store's under a
// colliding prefix, is not a set). Once a delete, a clear
// or a write ended that generation, the lease was taken for a load that no longer matters: it goes
// back and the call is refused, and its next read or poll takes a fresh lease with a fresh token
// and generation (GENERATION would make a new one anyway, never the ended one). A generation that exists
// without this share (its set was full and started again, or a new one since the end) refuses too:
// a refusal only makes the call wait and ask again. $LK: the lease; $GK: the generation; $CK: its
// holder set.
const OWN_LEASE_JOINED = fragment(
  `redis.call('EXISTS', KEYS[$GK]) == 1 and redis.pcall('SISMEMBER', KEYS[$CK], ARGV[$SA]) == 1`,
);

// On a miss, take the lease in the same round trip as the read, with the key's generation. A hit
// (usable or not) returns the entry only, and writes nothing; with ARGV[5] = '1' (a pod waiting for
// another's load), also whether the lease is held, so a waiter that finds an entry it cannot use
// does not ask for the lease (and hash the entry) on every poll while the holder loads.
// A lease that holds this call's own token (ARGV[1], random per call) is this script's first run,
// when ioredis resends it after a reconnect lost the reply (see OWN_LEASE_JOINED). While the
// generation that run made or joined still holds its share, the lease counts as taken (with the life
// the first run gave it), else it would wait out `lease.waitMs` behind its own lease, and so would
// every other pod. Otherwise the lease goes back and the call is refused ({false, 0}):
// it polls, and its next poll takes a fresh lease.
export const READ_OR_LEASE = defineScript(
  'cache-read-or-lease',
  `local v = redis.call('GET', KEYS[1])
if v then
  if ARGV[5] == '1' then return {v, 0, redis.call('EXISTS', KEYS[2])} end
  return {v, 0}
end
local own = redis.call('GET', KEYS[2]) == ARGV[1]
if own and not (${fill(OWN_LEASE_JOINED, { GK: '3', CK: '4', SA: '3' })}) then
  redis.call('DEL', KEYS[2])
  return {false, 0}
end
if own or redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then
  ${fill(GENERATION, { GK: '3', CK: '4', GA: '3' })}
  return {false, 1, g}
end
return {false, 0}`,
);

// Without leases: on a miss, the key's generation in the same round trip as the read; a hit returns
// the entry only, and writes nothing.
export const READ_OR_GENERATION = defineScript(
  'cache-read-or-generation',
  `local v = redis.call('GET', KEYS[1])
if v then return {v} end
${fill(GENERATION, { GK: '2', CK: '3', GA: '1' })}
return {false, g}`,
);

// With ARGV[5] (the digest of an entry read before): the lease only while that entry is unchanged.
// A lease held by another load refuses first: the entry is not hashed for a lease that cannot be
// had anyway. One that holds this call's own token (ARGV[1]) is this script's first run, which
// ioredis resent after a reconnect lost its reply (see OWN_LEASE_JOINED): while the generation that
// run made or joined still holds its share, it counts as taken (with the life it has left), and the
// second run answers as a new call would, entry check and generation included. When that
// generation ended, or the entry changed, between the two runs, the lease goes back and the share
// the first run added goes out (ending the generation if it was the last, as LOAD_END does; pcall:
// a key of another type under the holder set's name is not a set): refused, as when another load
// holds the lease.
export const LEASE_ACQUIRE = defineScript(
  'cache-lease-acquire',
  `local own = redis.call('GET', KEYS[1])
if own and own ~= ARGV[1] then return {0} end
local function refuse()
  if own then
    redis.call('DEL', KEYS[1])
    if redis.pcall('SREM', KEYS[4], ARGV[3]) == 1 and redis.call('SCARD', KEYS[4]) == 0 then
      redis.call('DEL', KEYS[2], KEYS[4])
    end
  end
  return {0}
end
if own and not (${fill(OWN_LEASE_JOINED, { GK: '2', CK: '4', SA: '3' })}) then return refuse() end
${fill(ENTRY_UNCHANGED, { EK: '3', EA: '5', FAIL: 'refuse()' })}
if own or redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  ${fill(GENERATION, { GK: '2', CK: '4', GA: '3' })}
  return {1, g}
end
return {0}`,
);

// With ARGV[3] (the digest of an entry read before): false unless that entry is unchanged.
export const GENERATION_READ = defineScript(
  'cache-generation',
  `${fill(ENTRY_UNCHANGED, { EK: '2', EA: '3', FAIL: 'false' })}
${fill(GENERATION, { GK: '1', CK: '3', GA: '1' })}
return g`,
);

// Write a computed value unless the key was deleted, set or cleared since its generation was read
// (the load may have seen the data from before), announce it only then, and give the lease back,
// in one round trip. The write ends the generation, with its holder set, for every load holding it: their
// values are older than or as old as this one.
export const WRITE_IF_CURRENT = defineScript(
  'cache-write-if-current',
  `local written = 0
local refused = false
if redis.call('GET', KEYS[3]) == ARGV[4] then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  redis.call('DEL', KEYS[3], KEYS[4])
  written = 1
  ${fill(ANNOUNCE, { CA: '5' })}
end
if ARGV[3] ~= '' and redis.call('GET', KEYS[2]) == ARGV[3] then redis.call('DEL', KEYS[2]) end
return {written, refused}`,
);

// An explicit write is the last writer: it ends the generation (with its holder set) of every load still
// running.
export const WRITE_AND_END_LOADS = defineScript(
  'cache-write-and-end-loads',
  `local refused = false
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('DEL', KEYS[2], KEYS[3])
${fill(ANNOUNCE, { CA: '3' })}
return {1, refused}`,
);

/**
 * Every script of a SharedCache, loaded by its `ready()` (`loadScripts`): otherwise the first tagged
 * call of a new process would send up to 32 EVALSHAs, get as many NOSCRIPT replies and send the
 * whole script 32 times with EVAL, all in one call bounded by `timeoutMs`.
 */
export const CACHE_SCRIPTS = [
  TAG_READ,
  TAG_BUMP,
  DELETE_AND_END_LOADS,
  LOAD_END,
  READ_OR_LEASE,
  READ_OR_GENERATION,
  LEASE_ACQUIRE,
  GENERATION_READ,
  WRITE_IF_CURRENT,
  WRITE_AND_END_LOADS,
] as const;
