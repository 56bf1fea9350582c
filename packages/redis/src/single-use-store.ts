import { hash } from 'node:crypto';
import { type AuditedStore, type CacheAuditRow, type CacheRegistry, cacheRegistry } from './cache-registry.ts';
import { CallCoalescer } from './call-coalescer.ts';
import { RedisStoreError } from './errors.ts';
import { GETDEL_MANY, replyPerKey, type SetNxItem, setNx, setNxMany } from './many-keys.ts';
import { RedisCallGuard } from './redis-down-policy.ts';
import { defineScript, type RedisClient } from './scripts.ts';
import {
  type CoalesceOption,
  checkCallTtlMs,
  checkCoalesce,
  checkId,
  checkInt,
  checkKeyedStoreBasics,
  throwIfProblems,
} from './store-options.ts';

/**
 * Turns stored values into strings and back. Default: JSON, which refuses at `put` what it cannot
 * store (`undefined`, a function, a symbol, a BigInt, a cycle); like any JSON, it drops `undefined`
 * and functions nested in objects and stores `NaN` as `null`. `serialize` must return a string.
 */
export interface SingleUseSerializer<T> {
  serialize(value: T): string;
  deserialize(text: string): T;
}

/** Options of {@link SingleUseStore}. */
export interface SingleUseStoreOptions<T> {
  /** The caller's ioredis `Redis` or `Cluster`. Give it `enableOfflineQueue: false`. */
  readonly redis: RedisClient;
  /** Names the store in Redis keys and in the cache audit table, e.g. `par`. */
  readonly name: string;
  /** Why this state exists, for the audit table. Default: a generic single-use reason. */
  readonly reason?: string;
  /** Default lifetime of an item, in ms (RFC 9126 PAR: 5-600 s). */
  readonly ttlMs: number;
  /**
   * Opt-in re-read after consumption, for browser reloads and prefetches (RFC 9126 §4 allows
   * duplicates of a `request_uri`): for `windowMs` after the first consume, the SAME client
   * (the `clientId` given to `put`) can read the item again; nobody else can. Items put with this
   * enabled must carry a `clientId`.
   */
  readonly grace?: { readonly windowMs: number };
  /** Key prefix. Default `rampart:once`. */
  readonly prefix?: string;
  /** Hard limit for one Redis call, in ms. Default 50. */
  readonly timeoutMs?: number;
  /**
   * Only `fail-closed` exists: an item that cannot be consumed atomically is not handed out. Stated
   * here so the policy is explicit in configuration.
   */
  readonly onRedisDown?: 'fail-closed';
  /** Default: JSON. */
  readonly serializer?: SingleUseSerializer<T>;
  /** Where the store registers for the audit table. Default: the package-wide {@link cacheRegistry}. */
  readonly registry?: CacheRegistry;
  /**
   * Puts (and consumes, without `grace`) made while earlier ones are in flight leave together,
   * up to `maxBatch` per script call; each item is still its own atomic `SET NX PX` / `GETDEL`.
   * Default `{ maxBatch: 32 }` on a single node; never on a `Cluster` (the items sit in different
   * slots). `false`: one command per call.
   */
  readonly coalesce?: CoalesceOption;
}

/** What {@link SingleUseStore.consume} returns for an item. */
export interface ConsumedItem<T> {
  readonly value: T;
  /** True when this is a grace re-read by the same client, not the first consumption. */
  readonly reread: boolean;
}

const JSON_SERIALIZER: SingleUseSerializer<never> = {
  serialize: (value) => JSON.stringify(value),
  deserialize: (text) => JSON.parse(text) as never,
};

// GETDEL hands the item to exactly one caller; the grace copy is written in the same script, so
// no window exists in which the item is gone but the grace copy is not yet there. The copy is
// written only for the client the item is bound to (ARGV[2]: the consumer's client line, compared
// with the item's first line): a consume by another client uses the item up for good. The copy
// never outlives the item's own TTL (PTTL -1: no expiry, the whole window).
const CONSUME_WITH_GRACE = defineScript(
  'single-use-consume-with-grace',
  `local left = redis.call('PTTL', KEYS[1])
local v = redis.call('GETDEL', KEYS[1])
if v then
  local nl = string.find(v, '\\n', 1, true)
  local window = tonumber(ARGV[1])
  if left >= 0 and left < window then window = left end
  if window > 0 and nl and string.sub(v, 1, nl - 1) == ARGV[2] then
    redis.call('SET', KEYS[2], v, 'PX', window)
  end
  return {1, v}
end
local g = redis.call('GET', KEYS[2])
if g then return {2, g} end
return false`,
);

const asText = (reply: unknown): string | null => (typeof reply === 'string' ? reply : null);

/** The first line of an item bound to no client (the JSON of ''), compared instead of parsed. */
const UNBOUND = '""';

/**
 * A put-once, consume-once store with a TTL, for RFC 9126 PAR `request_uri`s, authorization codes
 * and magic links. `consume` is one `GETDEL`: of any number of concurrent consumers on any pod,
 * exactly one gets the item. Ids are hashed (SHA-256) before they become Redis keys, because these
 * ids are often bearer secrets themselves.
 *
 * @example
 * ```ts
 * import { SingleUseStore } from '@rampart/redis';
 * import { Redis } from 'ioredis';
 *
 * const redis = new Redis({ enableOfflineQueue: false });
 * const links = new SingleUseStore<{ userId: string }>({ redis, name: 'magic-link', ttlMs: 600_000 });
 * await links.put(token, { userId: 'u1' });
 * const item = await links.consume(token); // undefined the second time
 * ```
 */
export class SingleUseStore<T = unknown> implements AuditedStore {
  readonly name: string;
  readonly reason: string;
  readonly ttlMs: number;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #guard: RedisCallGuard;
  readonly #graceMs: number | undefined;
  readonly #serializer: SingleUseSerializer<T>;
  readonly #unregister: () => void;
  readonly #puts: CallCoalescer<SetNxItem, boolean> | undefined;
  readonly #consumes: CallCoalescer<string, string | null> | undefined;

  constructor(options: SingleUseStoreOptions<T>) {
    const problems: string[] = [];
    const o = (options ?? {}) as Partial<SingleUseStoreOptions<T>>;
    const { reason, ttlMs, prefix, timeoutMs } = checkKeyedStoreBasics(
      o,
      { reason: 'single-use items: consumed on one pod means consumed on every pod', prefix: 'rampart:once' },
      problems,
    );
    if (o.onRedisDown !== undefined && o.onRedisDown !== 'fail-closed') {
      problems.push("onRedisDown can only be 'fail-closed': a single-use item is never handed out without Redis.");
    }
    let graceMs: number | undefined;
    if (o.grace !== undefined) {
      graceMs = checkInt(o.grace?.windowMs, 'grace.windowMs', { min: 1, max: 600_000 }, problems);
    }
    const serializer = o.serializer ?? (JSON_SERIALIZER as SingleUseSerializer<T>);
    if (typeof serializer?.serialize !== 'function' || typeof serializer?.deserialize !== 'function') {
      problems.push('serializer must have serialize(value) and deserialize(text) functions.');
    }
    const maxBatch = checkCoalesce(o.coalesce, o.redis, problems);
    throwIfProblems('SingleUseStore', problems);

    this.name = o.name as string;
    this.reason = reason;
    this.ttlMs = ttlMs;
    this.#redis = o.redis as RedisClient;
    this.#prefix = `${prefix}${this.name}:`;
    this.#guard = new RedisCallGuard(this.#redis, { timeoutMs });
    this.#graceMs = graceMs;
    this.#serializer = serializer;
    this.#unregister = (o.registry ?? cacheRegistry).register(this);
    this.#puts =
      maxBatch > 0
        ? new CallCoalescer<SetNxItem, boolean>(
            maxBatch,
            (p) => setNx(this.#guard, 'SingleUseStore.put', p),
            (ps) => setNxMany(this.#guard, 'SingleUseStore.put', ps),
            () => this.#guard.inFlight > 0,
          )
        : undefined;
    this.#consumes =
      maxBatch > 0 && graceMs === undefined
        ? new CallCoalescer<string, string | null>(
            maxBatch,
            (key) => this.#consumeOne(key),
            (keys) => this.#consumeMany(keys),
            () => this.#guard.inFlight > 0,
          )
        : undefined;
  }

  /**
   * Every command of the store is sent at once on its own (RedisCallGuard.send, see setNx), so
   * none can overtake another waiting in ioredis's auto-pipeline.
   */
  #consumeOne(key: string): Promise<string | null> {
    return this.#guard.send('SingleUseStore.consume', 'getdel', [key], asText);
  }

  #consumeMany(keys: readonly string[]): Promise<(string | null)[]> {
    return this.#guard.sendScript('SingleUseStore.consume', GETDEL_MANY, keys, [], (reply) =>
      replyPerKey(reply, keys.length, 'SingleUseStore.consume').map((r) => (typeof r === 'string' ? r : null)),
    );
  }

  #key(id: string): string {
    // The hash is the hash tag, so an item and its grace copy share a Cluster slot.
    return `${this.#prefix}{${hash('sha256', id, 'base64url')}}`;
  }

  /**
   * Stores `value` under `id` for `ttlMs`. An id that is already stored is refused with
   * `ERR_REDIS_DUPLICATE_ID` (ids come from a CSPRNG; a duplicate means a bug or an attack).
   *
   * @param options.clientId binds the item to a client; required when `grace` is enabled.
   */
  async put(id: string, value: T, options: { ttlMs?: number; clientId?: string } = {}): Promise<void> {
    checkId(id, 'SingleUseStore.put');
    const ttl = options.ttlMs ?? this.ttlMs;
    checkCallTtlMs(ttl, 'SingleUseStore.put');
    if (options.clientId !== undefined) checkId(options.clientId, 'SingleUseStore.put', 'clientId');
    else if (this.#graceMs !== undefined) {
      throw new RedisStoreError(
        'ERR_REDIS_INVALID_ARGUMENT',
        `SingleUseStore "${this.name}".put: clientId is required because grace re-reads are enabled; pass the client the item belongs to.`,
      );
    }
    const bound = options.clientId === undefined ? UNBOUND : JSON.stringify(options.clientId);
    const item = { key: this.#key(id), value: `${bound}\n${this.#encode(value)}`, ttl };
    const stored = await (this.#puts === undefined
      ? setNx(this.#guard, 'SingleUseStore.put', item)
      : this.#puts.run(item));
    if (!stored) {
      throw new RedisStoreError(
        'ERR_REDIS_DUPLICATE_ID',
        `SingleUseStore "${this.name}".put: this id is already stored; generate ids with a CSPRNG (e.g. crypto.randomBytes(32)).`,
      );
    }
  }

  /**
   * The stored text of `value`. JSON.stringify answers `undefined` for `undefined`, functions and
   * symbols, which would be stored as the text "undefined" that no consume can parse; it throws for
   * a BigInt or a cycle. Both are refused here, before anything is sent. No `cause`: a serializer's
   * error text can quote the value.
   */
  #encode(value: T): string {
    let text: unknown;
    try {
      text = this.#serializer.serialize(value);
    } catch {
      text = undefined;
    }
    if (typeof text !== 'string') {
      throw new RedisStoreError(
        'ERR_REDIS_INVALID_ARGUMENT',
        `SingleUseStore "${this.name}".put: value cannot be serialized to a string (the default JSON codec refuses undefined, functions, symbols, BigInts and cycles); store a JSON value or pass a serializer.`,
      );
    }
    return text;
  }

  /**
   * Takes the item: the first caller gets it, every later caller gets `undefined`, except the
   * same client within the grace window when `grace` is enabled (`reread: true`). An item bound to a
   * client is only handed to that client; a mismatching `clientId` still uses the item up.
   *
   * A stored item that cannot be decoded (written by another serializer or version, or by something
   * else under the store's keys) throws `ERR_REDIS_UNEXPECTED_REPLY`, never a raw parser error; the
   * item is consumed (gone) either way.
   *
   * A consume that throws `ERR_REDIS_TIMEOUT` may still have taken effect (the `GETDEL` can reach
   * Redis after the deadline): the item may be gone, and a retry gets `undefined`. Fail closed.
   */
  async consume(id: string, options: { clientId?: string } = {}): Promise<ConsumedItem<T> | undefined> {
    checkId(id, 'SingleUseStore.consume');
    const key = this.#key(id);
    let stored: string | null;
    let reread = false;
    if (this.#graceMs === undefined) {
      stored = await (this.#consumes === undefined ? this.#consumeOne(key) : this.#consumes.run(key));
    } else {
      const graceMs = this.#graceMs;
      const reply = (await this.#guard.sendScript(
        'SingleUseStore.consume',
        CONSUME_WITH_GRACE,
        [key, `${key}:grace`],
        [graceMs, options.clientId === undefined ? UNBOUND : JSON.stringify(options.clientId)],
        (r) => r,
      )) as [number, string] | null;
      stored = reply ? reply[1] : null;
      reread = reply?.[0] === 2;
    }
    if (stored === null || stored === undefined) return undefined;
    try {
      const newline = stored.indexOf('\n');
      if (newline === -1) throw new TypeError('no client line');
      const head = stored.slice(0, newline);
      const boundTo = head === UNBOUND ? '' : (JSON.parse(head) as unknown);
      if (typeof boundTo !== 'string') throw new TypeError('client line is not a string');
      if (boundTo !== '' && boundTo !== options.clientId) return undefined;
      if (reread && boundTo === '') return undefined;
      return { value: this.#serializer.deserialize(stored.slice(newline + 1)), reread };
    } catch {
      // No `cause`: a parser's message quotes the text it failed on, i.e. the stored value.
      throw new RedisStoreError(
        'ERR_REDIS_UNEXPECTED_REPLY',
        `SingleUseStore "${this.name}".consume: the stored item cannot be decoded (written with another serializer, or not by this store); it is consumed and gone.`,
      );
    }
  }

  /** Removes an item (and its grace copy) without reading it, e.g. when a flow is abandoned. */
  async delete(id: string): Promise<void> {
    checkId(id, 'SingleUseStore.delete');
    const key = this.#key(id);
    await this.#guard.send('SingleUseStore.delete', 'del', [key, `${key}:grace`], (reply) => reply);
  }

  /** A row of the cache audit table. */
  audit(): CacheAuditRow {
    return {
      name: this.name,
      kind: 'SingleUseStore',
      class: 'cluster',
      reason: this.reason,
      backing: 'redis',
      size: 0,
      maxSize: undefined,
    };
  }

  /** Leaves the audit registry. The Redis client stays open: it belongs to the caller. */
  close(): void {
    this.#unregister();
  }
}
