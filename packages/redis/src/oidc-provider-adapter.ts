import { CacheRegistry, cacheRegistry, checkAuditFields } from './cache-registry.ts';
import { RedisStoreError } from './errors.ts';
import { hasBrace, percentEncodeBraces } from './hash-tag.ts';
import { RedisCallGuard } from './redis-down-policy.ts';
import { defineScript, type RedisClient, runScript } from './scripts.ts';
import { checkClient, checkInt, checkPrefix, throwIfProblems } from './store-options.ts';

/** The payload oidc-provider hands to an adapter (a plain JSON object). */
export type OidcAdapterPayload = Record<string, unknown> & {
  readonly grantId?: string;
  readonly uid?: string;
  readonly userCode?: string;
  readonly consumed?: number;
};

/** The adapter contract of oidc-provider (`new Provider(issuer, { adapter })`). */
export interface OidcProviderAdapter {
  upsert(id: string, payload: OidcAdapterPayload, expiresIn?: number): Promise<void>;
  find(id: string): Promise<OidcAdapterPayload | undefined>;
  findByUserCode(userCode: string): Promise<OidcAdapterPayload | undefined>;
  findByUid(uid: string): Promise<OidcAdapterPayload | undefined>;
  consume(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  revokeByGrantId(grantId: string): Promise<void>;
}

/**
 * What `createOidcProviderAdapter` returns: the class oidc-provider instantiates once per model,
 * with a static `close()` that leaves the audit registry (the Redis client stays open: it belongs to
 * the caller).
 */
export type OidcProviderAdapterClass = (new (
  model: string,
) => OidcProviderAdapter) & {
  /** Leaves the audit registry. Idempotent; the Redis client stays open. */
  close(): void;
};

/** Options of {@link createOidcProviderAdapter}. */
export interface OidcProviderAdapterOptions {
  /** The caller's ioredis `Redis` or `Cluster`. Give it `enableOfflineQueue: false`. */
  readonly redis: RedisClient;
  /** Key prefix. Default `rampart:oidc`. */
  readonly prefix?: string;
  /**
   * Hard limit for one Redis call, in ms. Default 500: the token endpoint is not a hot path, and a
   * fail-closed error there is a failed login.
   */
  readonly timeoutMs?: number;
  /**
   * Audit name. Default `oidc-provider` with the default prefix, `oidc-provider@<prefix>` with any
   * other, so adapters with different prefixes never clash in one registry. Adapters with the same
   * name and prefix are one store (like two pods): they share one audit row; the same name with
   * another prefix is refused with `ERR_REDIS_INVALID_OPTIONS`.
   */
  readonly name?: string;
  /** Where the adapter registers for the audit table. Default: the package-wide {@link cacheRegistry}. */
  readonly registry?: CacheRegistry;
}

// Models whose entries join their grant's index, so revokeByGrantId can find them.
const GRANTABLE = new Set([
  'AccessToken',
  'AuthorizationCode',
  'RefreshToken',
  'DeviceCode',
  'BackchannelAuthenticationRequest',
  'PreAuthorizedCode',
]);

// Replaces the payload and the TTL, but never the consumed mark `c`: a re-save must not make a
// consumed code usable again. A payload that carries `consumed` (ARGV[3]) is consumed too.
const UPSERT = defineScript(
  'oidc-upsert',
  `redis.call('HSET', KEYS[1], 'p', ARGV[1])
if ARGV[3] ~= '' then redis.call('HSETNX', KEYS[1], 'c', ARGV[3]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) else redis.call('PERSIST', KEYS[1]) end
return 1`,
);

// The grant index lives as long as its longest-lived member; an unbounded member keeps it forever.
// A revoked grant (KEYS[2], same slot: the revocation time in ms) refuses an entry issued at or
// before the revocation's second (payload `iat`, in seconds: ARGV[3], '' when missing), and any
// entry while the grant itself (KEYS[3], when in the same slot) is gone: the caller deletes it.
// A grant oidc-provider keeps (an access token revoked at /token/revocation) takes entries issued
// in a later second, so signing in again through the same session works. A mark without a time
// (written by an older version) refuses every entry, as it did.
const INDEX_ADD = defineScript(
  'oidc-grant-index-add',
  `local revoked = redis.call('GET', KEYS[2])
if revoked then
  local at = tonumber(revoked)
  local iat = tonumber(ARGV[3])
  if not at or at < 100000000000 or not iat or iat * 1000 < at - at % 1000 + 1000 then return 0 end
  if KEYS[3] and redis.call('EXISTS', KEYS[3]) == 0 then return 0 end
end
redis.call('SADD', KEYS[1], ARGV[1])
local ttl = tonumber(ARGV[2])
local current = redis.call('PTTL', KEYS[1])
if ttl == 0 then
  redis.call('PERSIST', KEYS[1])
elseif current >= 0 and current < ttl then
  redis.call('PEXPIRE', KEYS[1], ttl)
elseif current == -1 and redis.call('SCARD', KEYS[1]) == 1 then
  redis.call('PEXPIRE', KEYS[1], ttl)
end
return 1`,
);

// Marks a grant revoked at ARGV[1] (ms) for ARGV[2] ms; a later revocation time already there is
// kept, so a revoking instance whose clock is behind never shortens an earlier revocation.
const MARK_REVOKED = defineScript(
  'oidc-grant-mark-revoked',
  `local prev = redis.call('GET', KEYS[1])
local at = ARGV[1]
if prev and tonumber(prev) and tonumber(prev) > tonumber(at) then at = prev end
redis.call('SET', KEYS[1], at, 'PX', ARGV[2])
return 1`,
);

// Check-and-consume in one step: of two token requests racing with one code, one sees 1, one 0.
const CONSUME = defineScript(
  'oidc-consume',
  `if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HSETNX', KEYS[1], 'c', ARGV[1])`,
);

// oidc-provider's ReplayDetection.unique() (DPoP proofs, client assertion jti) is find-then-save:
// two requests carrying one jti could both find nothing. Here find() reserves the id in the same
// step, so exactly one caller sees "not found"; the save that follows overwrites the placeholder.
const FIND_OR_RESERVE = defineScript(
  'oidc-replay-find-or-reserve',
  `local p = redis.call('HGET', KEYS[1], 'p')
if p then return p end
redis.call('HSET', KEYS[1], 'p', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return false`,
);

/**
 * The longest TTL an entry gets (≈ 4 400 years; Redis refuses much larger ones). An infinite or
 * larger `expiresIn` is capped here rather than stored without a TTL: oidc-provider takes a client
 * assertion's `exp` of 1e400 as Infinity, and only `undefined` means "no expiry" to it.
 */
const MAX_TTL_MS = 2 ** 47;

/**
 * The TTL of an entry saved with `expiresIn` seconds: 0 for none (`undefined`), at most
 * {@link MAX_TTL_MS} (infinite included), undefined when the entry is already expired (0 or less,
 * or not a number).
 */
function entryTtlMs(expiresIn: number | undefined): number | undefined {
  if (expiresIn === undefined) return 0;
  if (typeof expiresIn !== 'number' || Number.isNaN(expiresIn) || expiresIn <= 0) return undefined;
  const ms = Math.ceil(expiresIn * 1000);
  return Math.min(ms, MAX_TTL_MS);
}

/**
 * How long a revoked grant's mark lasts. While it does, the grant refuses entries issued (payload
 * `iat`) in the second of the revocation or before, and every entry once the grant is destroyed:
 * token requests that loaded the grant before its revocation and save afterwards. An hour covers
 * requests in flight with a wide margin.
 */
const REVOKED_GRANT_MS = 3_600_000;

/** How long a reserved ReplayDetection id blocks its jti if the save never follows. */
const RESERVATION_MS = 3_600_000;

/**
 * The shortest TTL a ReplayDetection save gets. oidc-provider saves a client assertion's jti with
 * `exp + clockTolerance - now`, which is 0 or less when a second boundary passes between the
 * assertion check and the save; for ReplayDetection a missing entry means "first use", so deleting
 * it would accept the replay. The floor covers that second and small clock differences between
 * instances. Every other model is deleted when saved already expired: for them a missing entry
 * means "refused".
 */
const REPLAY_MIN_TTL_MS = 5_000;

/**
 * The TTL of a ReplayDetection entry saved with `expiresIn` seconds: never below
 * {@link REPLAY_MIN_TTL_MS}, never without one (no `expiresIn`: {@link MAX_TTL_MS}).
 */
function replayTtlMs(expiresIn: number | undefined): number {
  const ttl = entryTtlMs(expiresIn);
  if (ttl === 0) return MAX_TTL_MS;
  return ttl === undefined || ttl < REPLAY_MIN_TTL_MS ? REPLAY_MIN_TTL_MS : ttl;
}

/** The default key prefix, as checkPrefix returns it; its adapters keep the audit name `oidc-provider`. */
const DEFAULT_PREFIX = 'rampart:oidc:';

/**
 * A grant id as it goes inside a hash tag: as it is, or `%` followed by the id percent-encoded
 * (`%`, `{`, `}`) when it holds a brace or starts with `%`. A brace would end or empty the tag
 * (`grant:{}x}` hashes the whole key, so the index and the revoked mark would land in different
 * slots: CROSSSLOT on a Cluster). Injective: ids kept as they are never start with `%`, encoded ones
 * always do. Ids without braces and not starting with `%` (every id oidc-provider generates) keep
 * the keys they had.
 */
function grantTag(grantId: string): string {
  return hasBrace(grantId) || grantId.startsWith('%') ? `%${percentEncodeBraces(grantId)}` : grantId;
}

/** Adapters registered per registry and audit name, so equal ones share one row (see `name`). */
const registrations = new WeakMap<
  CacheRegistry,
  Map<string, { prefix: string; count: number; unregister: () => void }>
>();

/** Joins `registry` under `name`, or the adapter already there with the same prefix; returns the leave function. */
function joinRegistry(registry: CacheRegistry, name: string, prefix: string, reason: string): () => void {
  let byName = registrations.get(registry);
  if (byName === undefined) {
    byName = new Map();
    registrations.set(registry, byName);
  }
  let entry = byName.get(name);
  if (entry !== undefined && entry.prefix !== prefix) {
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_OPTIONS',
      `createOidcProviderAdapter: invalid options:\n- name: an oidc-provider adapter with this name but another prefix is already registered; give each prefix its own name (or leave name out), or close() the old adapter first.`,
    );
  }
  if (entry === undefined) {
    const unregister = registry.register({
      name,
      audit: () => ({
        name,
        kind: 'OidcProviderAdapter',
        class: 'cluster',
        reason,
        backing: 'redis',
        size: 0,
        maxSize: undefined,
      }),
    });
    entry = { prefix, count: 0, unregister };
    byName.set(name, entry);
  }
  entry.count++;
  const joined = entry;
  let left = false;
  return () => {
    if (left) return;
    left = true;
    if (--joined.count === 0) {
      joined.unregister();
      if (byName.get(name) === joined) byName.delete(name);
    }
  };
}

interface OidcErrors {
  InvalidGrant: new (detail: string) => Error;
  InvalidRequestUri: new (detail: string) => Error;
}

let oidcErrors: Promise<OidcErrors | undefined> | undefined;
function loadOidcErrors(): Promise<OidcErrors | undefined> {
  // Loaded only when a consume loses a race, so importing this module never loads oidc-provider.
  const specifier = 'oidc-provider';
  oidcErrors ??= import(specifier).then(
    (mod: { errors?: OidcErrors }) => mod.errors,
    () => undefined,
  );
  return oidcErrors;
}

async function alreadyConsumed(model: string): Promise<Error> {
  const errors = await loadOidcErrors();
  if (model === 'PushedAuthorizationRequest') {
    if (errors) return new errors.InvalidRequestUri('request_uri is invalid, expired, or was already used');
  } else if (errors) {
    return new errors.InvalidGrant(`${model === 'AuthorizationCode' ? 'authorization code' : model} already consumed`);
  }
  return new RedisStoreError(
    'ERR_REDIS_DUPLICATE_ID',
    `oidc-provider adapter: the ${model} was already consumed or is gone; reject the request.`,
  );
}

/**
 * An entry's payload (`p`, JSON of an object) with its consumed mark (`c`, a number), or
 * `ERR_REDIS_UNEXPECTED_REPLY` for anything this adapter does not write (another version or
 * program under its keys). No `cause`, no value: a parser's message quotes the text it failed on,
 * i.e. a token or grant.
 */
function decodeEntry(model: string, p: string, c: string | undefined): OidcAdapterPayload {
  let payload: unknown;
  try {
    payload = JSON.parse(p);
  } catch {
    payload = undefined;
  }
  const consumed = c === undefined ? undefined : c.trim() === '' ? Number.NaN : Number(c);
  if (
    payload === null ||
    typeof payload !== 'object' ||
    Array.isArray(payload) ||
    (consumed !== undefined && !Number.isFinite(consumed))
  ) {
    throw new RedisStoreError(
      'ERR_REDIS_UNEXPECTED_REPLY',
      `oidc-provider adapter: the stored ${model} cannot be decoded (not written by this adapter, or by another version under the same prefix); give each adapter its own prefix, and destroy the entry or let it expire.`,
    );
  }
  return consumed === undefined ? (payload as OidcAdapterPayload) : { ...(payload as OidcAdapterPayload), consumed };
}

/**
 * A production Redis adapter for `oidc-provider`, on a single node or a Redis Cluster:
 * - every entry is a hash `{p: payload, c: consumed}` with a TTL of exactly `expiresIn` (a
 *   `ReplayDetection` entry: at least 5 s, see {@link REPLAY_MIN_TTL_MS}); a re-save never drops
 *   the consumed mark;
 * - `consume` is an atomic check-and-set (`HSETNX`): two token requests racing with one
 *   authorization code, refresh token or `request_uri`, on any provider instance, get one success
 *   and one `invalid_grant` / `invalid_request_uri` (the example adapter's blind `HSET` lets both
 *   through);
 * - `ReplayDetection` lookups reserve the id atomically, so two requests replaying one DPoP proof or
 *   client assertion at once get one acceptance (upstream's find-then-save lets both through);
 * - grant-related keys share the grant id as hash tag (`grant:{id}` index and `Grant:{id}`); every
 *   command, scripts included, touches one slot, so nothing is CROSSSLOT on a Cluster or behind a
 *   sharding proxy; the grant index lives as long as its longest-lived token;
 * - `findByUid` / `findByUserCode` return only an entry that exists and still carries that uid or
 *   user code; the `uid:` / `userCode:` lookup keys end with their TTL, not with the entry (they
 *   sit in other slots, and deleting them would race a save of the same id).
 *
 * A Redis error fails the request (oidc-provider answers `server_error`): the store is fail-closed.
 * The adapter joins the audit registry under `name` (derived from the prefix by default); adapters
 * with the same name and prefix share one row, and the returned class's `close()` leaves it.
 *
 * @example
 * ```ts
 * import Provider from 'oidc-provider';
 * import { createOidcProviderAdapter } from '@rampart/redis/oidc-provider';
 * import { Cluster } from 'ioredis';
 *
 * const redis = new Cluster([{ host: '10.0.0.1', port: 6379 }], { enableOfflineQueue: false });
 * const provider = new Provider('https://id.example.com', { adapter: createOidcProviderAdapter({ redis }) });
 * ```
 */
export function createOidcProviderAdapter(options: OidcProviderAdapterOptions): OidcProviderAdapterClass {
  const problems: string[] = [];
  const o = (options ?? {}) as Partial<OidcProviderAdapterOptions>;
  checkClient(o.redis, 'redis', problems);
  const prefix = checkPrefix(o.prefix, 'rampart:oidc', problems);
  const timeoutMs = checkInt(o.timeoutMs, 'timeoutMs', { min: 1, max: 60_000, fallback: 500 }, problems);
  const reason = 'authorization server state: codes, tokens, sessions and PAR requests are shared by every instance';
  checkAuditFields({ name: o.name ?? 'oidc-provider', reason, class: 'cluster' }, problems);
  if (o.registry !== undefined && !(o.registry instanceof CacheRegistry)) {
    problems.push('registry must be a CacheRegistry.');
  }
  throwIfProblems('createOidcProviderAdapter', problems);
  // Derived from the prefix, so adapters over different keys never clash in the registry.
  const name = o.name ?? (prefix === DEFAULT_PREFIX ? 'oidc-provider' : `oidc-provider@${prefix.slice(0, -1)}`);
  const leave = joinRegistry(o.registry ?? cacheRegistry, name, prefix, reason);
  const redis = o.redis as RedisClient;
  const guard = new RedisCallGuard(redis, { timeoutMs });

  const grantKey = (grantId: string): string => `${prefix}grant:{${grantTag(grantId)}}`;
  const revokedGrantKey = (grantId: string): string => `${prefix}grant-revoked:{${grantTag(grantId)}}`;
  const uidKey = (uid: string): string => `${prefix}uid:{${uid}}`;
  const userCodeKey = (userCode: string): string => `${prefix}userCode:{${userCode}}`;

  return class RedisOidcAdapter implements OidcProviderAdapter {
    /** Leaves the audit registry; see {@link OidcProviderAdapterClass}. */
    static close(): void {
      leave();
    }

    readonly #model: string;

    constructor(model: string) {
      this.#model = model;
    }

    #key(id: string): string {
      return `${prefix}${this.#model}:{${id}}`;
    }

    async upsert(id: string, payload: OidcAdapterPayload, expiresIn?: number): Promise<void> {
      const operation = `oidc-provider ${this.#model}.upsert`;
      const key = this.#key(id);
      const ttlMs = this.#model === 'ReplayDetection' ? replayTtlMs(expiresIn) : entryTtlMs(expiresIn);
      if (ttlMs === undefined) {
        // Saved already expired (oidc-provider re-saves with `exp - now`, which can reach 0 or
        // less): the entry ends now instead of living on without a TTL. Its lookup keys end with
        // their own TTL (see destroy).
        await guard.call(operation, () => redis.del(key));
        return;
      }
      const json = JSON.stringify(payload);
      const grantId = GRANTABLE.has(this.#model) && typeof payload.grantId === 'string' ? payload.grantId : undefined;
      // The writes start inside the guard: refused while Redis is down, none of them is sent (and
      // none rejects unobserved).
      const joined = await guard.call(operation, async () => {
        const consumed = Number.isFinite(payload.consumed) ? String(payload.consumed) : '';
        const writes: Promise<unknown>[] = [runScript(redis, UPSERT, [key], [json, ttlMs, consumed])];
        // Lookup indexes pointing at this id, with the entry's TTL.
        const indexes: string[] = [];
        if (typeof payload.userCode === 'string') indexes.push(userCodeKey(payload.userCode));
        if (this.#model === 'Session' && typeof payload.uid === 'string') indexes.push(uidKey(payload.uid));
        for (const k of indexes) writes.push(ttlMs > 0 ? redis.set(k, id, 'PX', ttlMs) : redis.set(k, id));
        await Promise.all(writes);
        if (grantId === undefined) return 1;
        // The entry is written before it joins the grant's index (never at once: on a Cluster they
        // go to different nodes, and a NOSCRIPT retry reorders even one connection), so a
        // revocation that lists the index after the join finds an entry it can delete.
        const iat = typeof payload.iat === 'number' && Number.isFinite(payload.iat) ? String(payload.iat) : '';
        const keys = [grantKey(grantId), revokedGrantKey(grantId)];
        // The grant itself, when it shares the slot (every id oidc-provider generates).
        if (grantTag(grantId) === grantId) keys.push(`${prefix}Grant:{${grantId}}`);
        return runScript(redis, INDEX_ADD, keys, [key, ttlMs, iat]);
      });
      if (joined === 0) {
        // The grant was revoked while this token was being issued: the revocation wins.
        await guard.call(operation, () => redis.unlink(key));
      }
    }

    async find(id: string): Promise<OidcAdapterPayload | undefined> {
      if (typeof id !== 'string' || id.length === 0) return undefined;
      const key = this.#key(id);
      if (this.#model === 'ReplayDetection') {
        const placeholder = JSON.stringify({ jti: id, kind: 'ReplayDetection' });
        const seen = await guard.call('oidc-provider ReplayDetection.find', () =>
          runScript(redis, FIND_OR_RESERVE, [key], [placeholder, RESERVATION_MS]),
        );
        if (typeof seen !== 'string') return undefined;
        // Any entry means "seen", so the answer must pass oidc-provider's check of a found payload:
        // one it refuses counts as not found and lets the replay through. The stored `exp` can fail
        // it (1e400 is saved as null; a save within the TTL floor is already expired), so only the
        // id and a string `iss` are handed back, without `exp`, like the reservation placeholder.
        let iss: unknown;
        try {
          iss = (JSON.parse(seen) as { iss?: unknown } | null)?.iss;
        } catch {
          iss = undefined;
        }
        return typeof iss === 'string'
          ? { jti: id, iss, kind: 'ReplayDetection' }
          : { jti: id, kind: 'ReplayDetection' };
      }
      const stored = await guard.call(`oidc-provider ${this.#model}.find`, () => redis.hgetall(key));
      if (stored?.p === undefined) return undefined;
      return decodeEntry(this.#model, stored.p, stored.c);
    }

    async findByUid(uid: string): Promise<OidcAdapterPayload | undefined> {
      if (typeof uid !== 'string' || uid.length === 0) return undefined;
      const id = await guard.call(`oidc-provider ${this.#model}.findByUid`, () => redis.get(uidKey(uid)));
      const payload = id ? await this.find(id) : undefined;
      // Lookup keys outlive what they point at (see destroy): one left by an entry re-saved under
      // another uid, or by a destroyed entry whose id was saved again, names an entry that is not
      // this uid's.
      return payload?.uid === uid ? payload : undefined;
    }

    async findByUserCode(userCode: string): Promise<OidcAdapterPayload | undefined> {
      if (typeof userCode !== 'string' || userCode.length === 0) return undefined;
      const id = await guard.call(`oidc-provider ${this.#model}.findByUserCode`, () =>
        redis.get(userCodeKey(userCode)),
      );
      const payload = id ? await this.find(id) : undefined;
      return payload?.userCode === userCode ? payload : undefined;
    }

    async consume(id: string): Promise<void> {
      const key = this.#key(id);
      const now = Math.floor(Date.now() / 1000);
      const won = await guard.call(`oidc-provider ${this.#model}.consume`, () =>
        runScript(redis, CONSUME, [key], [now]),
      );
      if (won !== 1) throw await alreadyConsumed(this.#model);
    }

    async destroy(id: string): Promise<void> {
      // Only the entry: its `uid:` / `userCode:` lookup keys sit in other slots and end with their
      // TTL (the entry's at its last save). Deleting them here, even only while they still name
      // this id, races a save of the same id on another instance: the save re-creates entry and
      // lookup key between our two steps, and we would delete the live lookup key. findByUid /
      // findByUserCode return only an entry that exists and still carries that uid / user code.
      const key = this.#key(id);
      await guard.call(`oidc-provider ${this.#model}.destroy`, () => redis.del(key));
    }

    async revokeByGrantId(grantId: string): Promise<void> {
      const operation = `oidc-provider ${this.#model}.revokeByGrantId`;
      const index = grantKey(grantId);
      // First mark the grant revoked (with the time, in ms), so a token issued for it until the end
      // of this second, or for it at all once the grant is destroyed, cannot join the index after
      // it was listed below (it is deleted instead). The whole second, not the exact time: `iat` has
      // seconds only, and a token of a request that loaded the grant before the revocation can carry
      // the revocation's second; refusing a sign-in in that same second is the safe side.
      const now = Date.now();
      await guard.call(operation, () =>
        runScript(redis, MARK_REVOKED, [revokedGrantKey(grantId)], [now, REVOKED_GRANT_MS]),
      );
      const members = await guard.call(operation, () => redis.smembers(index));
      if (members.length === 0) return;
      // Tokens first, the index last: a revocation that fails halfway leaves the index, so a retry
      // finds every token again. Members live in their own slots, so each is deleted on its own
      // (UNLINK of many keys would be CROSSSLOT); a device code's user code lookup ends with its TTL
      // (see destroy). Only the members deleted here leave the index; a token joining the grant
      // meanwhile stays listed for the next revocation.
      await guard.call(operation, () => Promise.all(members.map((member) => redis.unlink(member))));
      await guard.call(operation, () => redis.srem(index, ...members));
    }
  };
}
