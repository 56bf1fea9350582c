import type { Cluster, Redis } from 'ioredis';
import { type AuditedStore, type CacheAuditRow, type CacheRegistry, cacheRegistry } from './cache-registry.ts';
import { CallCoalescer } from './call-coalescer.ts';
import { RedisStoreError } from './errors.ts';
import { hasBrace, percentEncodeBraces } from './hash-tag.ts';
import { type SetNxItem, setNx, setNxMany } from './many-keys.ts';
import { RedisCallGuard } from './redis-down-policy.ts';
import {
  Attempt,
  type AttemptOps,
  dropLateForgets,
  FORGET_OWN_LUA,
  forgetWhenReady,
  LATE_FORGET_WINDOW_MS,
  type ReplayAttempt,
  replayDetected,
} from './replay-attempt.ts';
import type { RedisClient } from './scripts.ts';
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
 * The id as it goes into the Redis key. Ids are not hashed (unlike SingleUseStore's), so a client
 * choosing `{tag}` in its jti would pick the Cluster slot of every key it causes, and pile them on
 * one node. An id without braces is used as it is (keys recorded before stay valid); one with a
 * brace becomes `{}` followed by the id with `%`, `{` and `}` percent-encoded: the leading empty
 * `{}` makes Redis hash the whole key, and no other brace is left. Injective: ids used as they are
 * hold no brace, encoded ones always start with `{}`, and the encoding itself is reversible.
 *
 * @internal exported for its property test
 */
export function replayKeyId(id: string): string {
  return hasBrace(id) ? `{}${percentEncodeBraces(id)}` : id;
}

/**
 * Added to the call limit of the WAIT phase, in ms: Redis ends a blocked WAIT only on its
 * event-loop tick (~100 ms at the default `hz 10`), so `WAIT 1 100` takes up to ~200 ms.
 */
const WAIT_TICK_MARGIN_MS = 200;

/**
 * The connection a guard with `wait` opens for itself, and the calls on it. WAIT blocks the
 * connection it is sent on (on the Redis side) until it returns, so on a shared client every later
 * command (other checks, the application's own) would queue behind it.
 */
interface OwnConnection {
  readonly conn: RedisClient;
  /** The SET of a check sent while none of this guard's WAITs is pending: `timeoutMs`. */
  readonly set: RedisCallGuard;
  /**
   * The SET of a check sent while a WAIT is pending: it queues behind that WAIT, so its limit is
   * the WAIT phase's, and its timeouts never open a circuit (they say nothing about Redis's health).
   */
  readonly queuedSet: RedisCallGuard;
  /** The WAIT phase: `timeoutMs + wait.timeoutMs + 200`. */
  readonly wait: RedisCallGuard;
}

/** Options of {@link ReplayGuard}. */
export interface ReplayGuardOptions {
  /** The caller's ioredis `Redis` or `Cluster`. Give it `enableOfflineQueue: false`. */
  readonly redis: RedisClient;
  /** Names the guard in Redis keys and in the cache audit table, e.g. `dpop-jti`. */
  readonly name: string;
  /** Why this state exists, for the audit table. Default: a generic replay-protection reason. */
  readonly reason?: string;
  /** How long an id is remembered, in ms: at least the lifetime of what carries it (token `exp` + skew). */
  readonly ttlMs: number;
  /** Key prefix. Default `rampart:replay`. */
  readonly prefix?: string;
  /** Hard limit for one Redis call, in ms. Default 50. */
  readonly timeoutMs?: number;
  /**
   * What {@link ReplayGuard.check} answers when Redis cannot: `fail-closed` (default) throws
   * `ERR_REDIS_UNAVAILABLE`/`ERR_REDIS_TIMEOUT`; `fail-open` answers "first time", which lets a
   * replay through while Redis is down. Only for ids whose replay is harmless.
   */
  readonly onRedisDown?: 'fail-closed' | 'fail-open';
  /** Called on every fail-open answer, for metrics and alerts. */
  readonly onFailOpen?: (error: RedisStoreError) => void;
  /**
   * Wait for replicas after recording an id (`WAIT replicas timeoutMs`), so a failover right after
   * the check is less likely to forget it. WAIT is sent only after the `SET NX` recorded the id: a
   * replay answers `false` at once. A first-time id that fewer replicas acknowledged, or whose WAIT
   * got no answer within `timeoutMs + wait.timeoutMs + 200` ms (Redis ends a blocked WAIT on its
   * ~100 ms tick), throws `ERR_REDIS_NOT_REPLICATED` (the id stays recorded), with either
   * `onRedisDown`: fail-open only covers a `SET` that got no answer. WAIT narrows the window; it does
   * not make Redis strongly consistent.
   *
   * WAIT blocks the connection it is sent on, so a guard with `wait` opens its own connection
   * (`redis.duplicate()`, at construction) and closes it in {@link ReplayGuard.close}; the checks of
   * one such guard queue behind its pending WAITs.
   */
  readonly wait?: { readonly replicas: number; readonly timeoutMs: number };
  /** Where the guard registers for the audit table. Default: the package-wide {@link cacheRegistry}. */
  readonly registry?: CacheRegistry;
  /**
   * Checks made while earlier ones are in flight leave together, up to `maxBatch` ids per script
   * call (each id is still its own atomic `SET NX PX`). Default `{ maxBatch: 32 }` on a single
   * node; never on a `Cluster` (the ids sit in different slots) or with `wait`. `false`: one
   * command per check.
   */
  readonly coalesce?: CoalesceOption;
}

/**
 * "Is this the first time this id is seen within the TTL?" for nonces, DPoP/JWT `jti` and webhook
 * delivery ids, answered by one atomic `SET key value NX PX ttl`: two pods checking the same id at
 * once get one `true` and one `false`. A guard that cannot reach Redis throws by default: a replay
 * check must never say "first time" when it does not know. Ids are keys as they are, except that an
 * id with `{` or `}` is escaped, so a client cannot choose the Cluster slot of its ids.
 *
 * To release an id again (a webhook handler failed, a check timed out), use {@link ReplayGuard.attempt}:
 * its `forget()` deletes only the record it made, never another pod's.
 *
 * @example
 * ```ts
 * import { ReplayGuard } from '@rampart/redis';
 * import { Redis } from 'ioredis';
 *
 * const redis = new Redis({ enableOfflineQueue: false });
 * const jtis = new ReplayGuard({ redis, name: 'dpop-jti', ttlMs: 300_000 });
 * if (!(await jtis.check(proof.jti))) throw new Error('DPoP proof replayed');
 * ```
 */
export class ReplayGuard implements AuditedStore {
  readonly name: string;
  readonly reason: string;
  readonly ttlMs: number;
  readonly #redis: RedisClient;
  readonly #prefix: string;
  readonly #guard: RedisCallGuard;
  readonly #failOpen: boolean;
  readonly #onFailOpen: ((error: RedisStoreError) => void) | undefined;
  readonly #wait: { readonly replicas: number; readonly timeoutMs: number } | undefined;
  /** With `wait`: the guard's own connection and its call guards. */
  readonly #own: OwnConnection | undefined;
  /** WAITs sent on the own connection whose reply has not arrived (timed out or not). */
  #waitsPending = 0;
  #closed = false;
  /** Settles when the own connection first got ready, or after the WAIT phase's limit. */
  #firstReady: Promise<void> | undefined;
  /** Until then checks wait for it. */
  #firstReadySettled = false;
  readonly #unregister: () => void;
  readonly #coalescer: CallCoalescer<SetNxItem, boolean> | undefined;
  readonly #attemptOps: AttemptOps;

  constructor(options: ReplayGuardOptions) {
    const problems: string[] = [];
    const o = (options ?? {}) as Partial<ReplayGuardOptions>;
    const { reason, ttlMs, prefix, timeoutMs } = checkKeyedStoreBasics(
      o,
      { reason: 'replay protection: an id seen by one pod must be refused by every pod', prefix: 'rampart:replay' },
      problems,
    );
    if (o.onRedisDown !== undefined && o.onRedisDown !== 'fail-closed' && o.onRedisDown !== 'fail-open') {
      problems.push("onRedisDown must be 'fail-closed' (default) or 'fail-open'.");
    }
    if (o.onFailOpen !== undefined && typeof o.onFailOpen !== 'function')
      problems.push('onFailOpen must be a function.');
    if (o.wait !== undefined) {
      checkInt(o.wait?.replicas, 'wait.replicas', { min: 1, max: 16 }, problems);
      checkInt(o.wait?.timeoutMs, 'wait.timeoutMs', { min: 1, max: 60_000 }, problems);
    }
    const maxBatch = checkCoalesce(o.coalesce, o.redis, problems);
    throwIfProblems('ReplayGuard', problems);

    this.name = o.name as string;
    this.reason = reason;
    this.ttlMs = ttlMs;
    this.#redis = o.redis as RedisClient;
    this.#prefix = `${prefix}${this.name}:`;
    this.#guard = new RedisCallGuard(this.#redis, { timeoutMs });
    // Registered first: a refused name (ERR_REDIS_INVALID_OPTIONS) must throw before the guard opens
    // a connection of its own, which nothing could close afterwards.
    this.#unregister = (o.registry ?? cacheRegistry).register(this);
    if (o.wait !== undefined) {
      // WAIT blocks on the server for up to its own timeout, and Redis ends it only on its next
      // event-loop tick, so the WAIT phase's call limit covers both.
      const waitLimit = timeoutMs + o.wait.timeoutMs + WAIT_TICK_MARGIN_MS;
      let conn: ReturnType<typeof openOwnConnection>;
      try {
        conn = openOwnConnection(this.#redis);
      } catch (error) {
        // Nothing could close() a guard whose construction threw: free its name again.
        this.#unregister();
        throw error;
      }
      this.#own = {
        conn,
        set: new RedisCallGuard(conn, { timeoutMs }),
        queuedSet: new RedisCallGuard(conn, { timeoutMs: waitLimit, failureThreshold: Number.POSITIVE_INFINITY }),
        wait: new RedisCallGuard(conn, { timeoutMs: waitLimit }),
      };
    }
    this.#failOpen = o.onRedisDown === 'fail-open';
    this.#onFailOpen = o.onFailOpen;
    this.#wait = o.wait;
    this.#coalescer =
      maxBatch > 0 && o.wait === undefined
        ? new CallCoalescer<SetNxItem, boolean>(
            maxBatch,
            (c) => setNx(this.#guard, 'ReplayGuard.check', c),
            (cs) => setNxMany(this.#guard, 'ReplayGuard.check', cs),
            () => this.#guard.inFlight > 0,
          )
        : undefined;
    this.#attemptOps = {
      name: this.name,
      record: (key, value, ttl) => this.#record(key, value, ttl),
      forget: (key, token) => this.#forgetOwn(key, token),
    };
  }

  /**
   * Records `id` and answers whether this is the first time it is seen within the TTL. Exactly one
   * of any number of concurrent callers, on any pod, gets `true`.
   *
   * @param ttlMs overrides the guard's TTL for this id (e.g. the token's remaining lifetime).
   */
  check(id: string, ttlMs?: number): Promise<boolean> {
    const ttl = ttlMs ?? this.ttlMs;
    try {
      checkId(id, 'ReplayGuard.check');
      checkCallTtlMs(ttl, 'ReplayGuard.check');
    } catch (error) {
      return Promise.reject(error);
    }
    return this.#record(this.#prefix + replayKeyId(id), '1', ttl);
  }

  /**
   * A claim on `id` whose record carries a token of its own (no I/O here): `check()` it like
   * {@link ReplayGuard.check}, and `forget()` it to release the id, which deletes the record only
   * if it is still this attempt's. Use it whenever the id may be released again: after a timed-out
   * check the record may belong to another pod that is processing the same id, and after the TTL it
   * may have been made again by another caller; {@link ReplayGuard.forget} would delete either.
   * Throws `ERR_REDIS_INVALID_ARGUMENT` (synchronously) for a bad id or TTL.
   *
   * @param ttlMs overrides the guard's TTL for this id.
   * @example
   * ```ts
   * const attempt = deliveries.attempt(deliveryId);
   * if (!(await attempt.check())) return reply(409);
   * try {
   *   await handle(delivery);
   * } catch (error) {
   *   await attempt.forget(); // the sender's retry is delivered; another pod's record is left alone
   *   throw error;
   * }
   * ```
   */
  attempt(id: string, ttlMs?: number): ReplayAttempt {
    const ttl = ttlMs ?? this.ttlMs;
    checkId(id, 'ReplayGuard.attempt');
    checkCallTtlMs(ttl, 'ReplayGuard.attempt');
    return new Attempt(this.#attemptOps, this.#prefix + replayKeyId(id), ttl);
  }

  /** `SET key value NX PX ttl` under the guard's policies: coalescing, `wait`, `onRedisDown`. */
  #record(key: string, value: string, ttl: number): Promise<boolean> {
    let checked: Promise<boolean>;
    if (this.#wait === undefined) {
      const item = { key, value, ttl };
      checked =
        this.#coalescer === undefined ? setNx(this.#guard, 'ReplayGuard.check', item) : this.#coalescer.run(item);
    } else {
      if (this.#closed) {
        // Not "Redis is down": fail-open must not answer for a guard whose connection is gone.
        return Promise.reject(
          new RedisStoreError(
            'ERR_REDIS_UNAVAILABLE',
            `ReplayGuard "${this.name}".check: the guard was closed, and with it the connection it opened for wait; create a new guard.`,
          ),
        );
      }
      checked = this.#checkAndWait({ key, value, ttl }, this.#wait, this.#own as OwnConnection);
    }
    // Fail-closed (the default) hands out the guarded call itself: no promise layer of its own.
    return this.#failOpen ? checked.catch(this.#whenDown) : checked;
  }

  /** The fail-open policy: a Redis that cannot answer lets the id pass, reported to `onFailOpen`. */
  readonly #whenDown = (error: unknown): boolean => {
    if (
      error instanceof RedisStoreError &&
      (error.code === 'ERR_REDIS_UNAVAILABLE' || error.code === 'ERR_REDIS_TIMEOUT')
    ) {
      this.#onFailOpen?.(error);
      return true;
    }
    throw error;
  };

  /**
   * Like {@link ReplayGuard.check}, but throws `ERR_REDIS_REPLAY_DETECTED` for an id seen before.
   *
   * @example
   * ```ts
   * await deliveries.checkOrThrow(request.headers['webhook-id']);
   * ```
   */
  async checkOrThrow(id: string, ttlMs?: number): Promise<void> {
    if (!(await this.check(id, ttlMs))) throw replayDetected(this.name);
  }

  async #checkAndWait(
    item: SetNxItem,
    wait: { replicas: number; timeoutMs: number },
    own: OwnConnection,
  ): Promise<boolean> {
    const key = item.key;
    // The SET first, on its own: a replay answers false without waiting for replicas (but behind
    // the WAITs of this guard already sent on its connection). A SET without an answer on a free
    // connection is the only "Redis cannot answer" case fail-open turns into "first time".
    // A guard made just before its first check: wait for the connection it opened, once, as long
    // as a WAIT may take; after that a connection that is not ready is refused at once.
    if (!this.#firstReadySettled && own.conn.status !== 'ready') await this.#connected(own);
    if (this.#waitsPending === 0) {
      if (!(await setNx(own.set, 'ReplayGuard.check', item))) return false;
    } else {
      let recorded: boolean;
      try {
        recorded = await setNx(own.queuedSet, 'ReplayGuard.check', item);
      } catch (cause) {
        // Queued behind a WAIT, a timeout says nothing about Redis's health, and the SET may still
        // run: never "first time", with either policy.
        if (cause instanceof RedisStoreError && cause.code === 'ERR_REDIS_TIMEOUT') {
          throw this.#notReplicated(wait, 'the SET queued behind a WAIT of this guard got no answer in time', cause);
        }
        throw cause;
      }
      if (!recorded) return false;
    }
    // The id is recorded: from here on the answer is never "first time" without replication.
    let acknowledged: number;
    try {
      acknowledged = await this.#replicas(key, wait, own);
    } catch (cause) {
      throw this.#notReplicated(wait, 'WAIT got no answer', cause);
    }
    if (acknowledged < wait.replicas) {
      throw this.#notReplicated(wait, `${acknowledged} acknowledged within wait.timeoutMs`);
    }
    return true;
  }

  #connected(own: OwnConnection): Promise<void> {
    this.#firstReady ??= new Promise<void>((resolve) => {
      const settle = (): void => {
        clearTimeout(timer);
        this.#firstReadySettled = true;
        resolve();
      };
      const timer = setTimeout(settle, own.wait.timeoutMs);
      timer.unref();
      own.conn.once('ready', settle);
    });
    return this.#firstReady;
  }

  /**
   * `WAIT replicas timeoutMs` on the connection that took the SET (WAIT covers the writes of its
   * own connection). On a `Cluster`, a pipeline with a read of the key goes to the key's node (a
   * lone WAIT, having no key, would go to any node); the duplicated Cluster keeps one connection
   * per node, so the SET and the WAIT of one check share it there too. A WAIT counts as pending
   * until its reply arrives, even after its call timed out: the connection stays blocked till then.
   */
  #replicas(key: string, wait: { replicas: number; timeoutMs: number }, own: OwnConnection): Promise<number> {
    const conn = own.conn;
    const sent = (): Promise<[error: Error | null, result: unknown][] | null> => {
      const reply = conn.isCluster
        ? conn.pipeline().exists(key).wait(wait.replicas, wait.timeoutMs).exec()
        : conn.pipeline().wait(wait.replicas, wait.timeoutMs).exec();
      this.#waitsPending += 1;
      const done = (): void => {
        this.#waitsPending -= 1;
      };
      reply.then(done, done);
      return reply;
    };
    return own.wait.call('ReplayGuard.check', sent, (replies) => {
      const reply = replies?.[replies.length - 1];
      if (reply === undefined || reply[0]) throw reply?.[0] ?? new Error('no reply to WAIT');
      return Number(reply[1]);
    });
  }

  #notReplicated(wait: { replicas: number }, what: string, cause?: unknown): RedisStoreError {
    return new RedisStoreError(
      'ERR_REDIS_NOT_REPLICATED',
      `ReplayGuard "${this.name}": fewer than wait.replicas (${wait.replicas}) replicas acknowledged the id (${what}); reject the request (the id stays recorded).`,
      cause === undefined ? undefined : { cause },
    );
  }

  /**
   * Forgets an id: deletes its record, whoever made it (a plain `DEL`). When the record may be
   * another caller's (after a timed-out check, or once the TTL may have passed), use
   * {@link ReplayGuard.attempt} and its `forget()`, which deletes only its own record.
   */
  async forget(id: string): Promise<void> {
    checkId(id, 'ReplayGuard.forget');
    const key = this.#prefix + replayKeyId(id);
    await this.#guard.send('ReplayGuard.forget', 'del', [key], (reply) => reply);
  }

  /**
   * An attempt's compare-and-delete. With `wait`, on the guard's own connection (behind the WAITs
   * pending there, like a check's SET), so it runs after the attempt's SET, which went that way.
   * On a connection that is not ready it is refused at once and sent on its next `ready`, after
   * ioredis's resend of the SET (see {@link forgetWhenReady}).
   */
  #forgetOwn(key: string, token: string): Promise<boolean> {
    let guard = this.#guard;
    let client = this.#redis;
    if (this.#own !== undefined) {
      if (this.#closed) {
        return Promise.reject(
          new RedisStoreError(
            'ERR_REDIS_UNAVAILABLE',
            `ReplayGuard "${this.name}".attempt.forget: the guard was closed, and with it the connection it opened for wait; create a new guard.`,
          ),
        );
      }
      guard = this.#waitsPending === 0 ? this.#own.set : this.#own.queuedSet;
      client = this.#own.conn;
    }
    const status = client.status;
    if (status !== 'ready' && forgetWhenReady(client, key, token)) {
      // A lazyConnect client that never connected: start connecting, as a refused call does.
      if (status === 'wait') client.connect().catch(() => {});
      return Promise.reject(
        new RedisStoreError(
          'ERR_REDIS_UNAVAILABLE',
          `ReplayGuard "${this.name}".attempt.forget: the Redis client is not connected (status ${status}); the release is sent when it is ready again (within ${LATE_FORGET_WINDOW_MS} ms), after the commands ioredis resends. Answer the request as failed without waiting; a retry before the reconnect is still answered as a replay.`,
        ),
      );
    }
    return guard.send('ReplayGuard.forget', 'eval', [FORGET_OWN_LUA, 1, key, token], deletedReply);
  }

  /** A row of the cache audit table. */
  audit(): CacheAuditRow {
    return {
      name: this.name,
      kind: 'ReplayGuard',
      class: 'cluster',
      reason: this.reason,
      backing: 'redis',
      size: 0,
      maxSize: undefined,
    };
  }

  /**
   * Leaves the audit registry. The Redis client stays open: it belongs to the caller. A guard with
   * `wait` also closes the connection it opened (after the replies already due); its later checks
   * throw `ERR_REDIS_UNAVAILABLE`, with either `onRedisDown`.
   */
  close(): void {
    this.#unregister();
    if (this.#own === undefined || this.#closed) return;
    this.#closed = true;
    const conn = this.#own.conn;
    // Forgets waiting for it to reconnect could only run on a connection that is going away.
    dropLateForgets(conn);
    conn.quit().catch(() => conn.disconnect());
  }
}

/**
 * A connection of the guard's own with the caller's client's options (`duplicate()`), connecting
 * now even for a `lazyConnect` client: a check never waits for a connection. Its errors surface
 * through the calls; the listener only keeps ioredis from printing them.
 */
function openOwnConnection(redis: RedisClient): RedisClient {
  const conn: RedisClient = redis.isCluster
    ? (redis as Cluster).duplicate([], { lazyConnect: false })
    : (redis as Redis).duplicate({ lazyConnect: false });
  conn.on('error', () => {});
  return conn;
}

function deletedReply(reply: unknown): boolean {
  if (reply === 1) return true;
  if (reply === 0) return false;
  throw new RedisStoreError('ERR_REDIS_UNEXPECTED_REPLY', 'ReplayGuard.forget: unexpected reply from Redis.');
}
