/**
 * A ReplayGuard attempt: one caller's claim on an id, whose record carries a token of its own, so
 * its forget releases that record and never another caller's. Made by {@link ReplayGuard.attempt}.
 */
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { RedisStoreError } from './errors.ts';
import { NextReadyQueue } from './next-ready-queue.ts';
import type { ReplayGuard } from './replay-guard.ts';
import type { RedisClient } from './scripts.ts';

/**
 * Deletes the record of an attempt only while it still holds that attempt's token (ARGV[1]): the
 * record may have expired and been made again by another caller since. One key, no loop.
 * Reply: 1 deleted, 0 left as it was. Sent with EVAL, not EVALSHA: a forget often follows a check
 * that timed out, and is itself answered late; an EVALSHA answered NOSCRIPT after its call timed out
 * is not resent, so the record would stay (seen on a fresh server under `CLIENT PAUSE`). Forgets are
 * rare, and the script is short.
 */
export const FORGET_OWN_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * How long forgets refused while their client reconnects stay pending, in ms from the latest of
 * them: they are sent on the client's next `ready` within this window, else dropped. Not the
 * attempt's TTL: a resent SET starts its TTL when it lands, however late.
 */
export const LATE_FORGET_WINDOW_MS = 60_000;

/** Most forgets pending on one client; a forget beyond them is refused as before (the record stays). */
export const LATE_FORGET_MAX = 10_000;

interface LateForget {
  readonly key: string;
  readonly token: string;
}

/**
 * The late forgets' queue: one pending set per client, however many forgets (of however many
 * guards) are refused while it reconnects, never a listener pair per forget.
 *
 * @internal exported for its tests (its window and limit)
 */
export const lateForgets = new NextReadyQueue<LateForget>({
  maxItems: LATE_FORGET_MAX,
  windowMs: LATE_FORGET_WINDOW_MS,
  run: (client, forgets) => {
    for (const f of forgets) (client as Redis).eval(FORGET_OWN_LUA, 1, f.key, f.token).catch(ignore);
  },
});

/**
 * Sends the compare-and-delete of `key` on `client`'s next `ready`, if it comes within
 * {@link LATE_FORGET_WINDOW_MS} of the latest forget pending there. ioredis resends the commands
 * that lost their connection without an answer (`autoResendUnfulfilledCommands`, the attempt's SET
 * among them) as it turns ready, before it emits `ready`, so the forget runs after that SET on the
 * same connection. The token makes a late forget safe: it deletes nothing but this attempt's
 * record. False when nothing was scheduled: the client is closed for good (ioredis failed its
 * pending commands, the SET with them) or {@link LATE_FORGET_MAX} forgets already wait.
 *
 * @internal exported for the guard and its tests
 */
export function forgetWhenReady(client: RedisClient, key: string, token: string): boolean {
  return lateForgets.add(client, { key, token });
}

/**
 * Drops the forgets waiting for `client`'s next `ready`, and their listeners: for a connection being
 * closed on purpose. ioredis emits no `end` for a client disconnected while it reconnects.
 */
export function dropLateForgets(client: RedisClient): void {
  lateForgets.drop(client);
}

const ignore = (): void => {};

/** This process's random part of attempt tokens, made on first use (nothing runs on import). */
let tokenPrefix: string | undefined;
let tokenCount = 0;

/**
 * A token no other attempt, on any pod, holds: 96 random bits per process and a counter. Unguessable
 * is not needed (a caller who could write the key could delete it anyway), unique is. It always
 * contains a `.`, so it never equals the `1` that {@link ReplayGuard.check} records.
 */
function attemptToken(): string {
  if (tokenPrefix === undefined || tokenCount >= Number.MAX_SAFE_INTEGER) {
    tokenPrefix = randomBytes(12).toString('base64url');
    tokenCount = 0;
  }
  tokenCount += 1;
  return `${tokenPrefix}.${tokenCount.toString(36)}`;
}

/**
 * One caller's claim on an id, made by {@link ReplayGuard.attempt}: its record carries a token of
 * its own, so {@link ReplayAttempt.forget} releases this attempt's record and never another
 * caller's.
 */
export interface ReplayAttempt {
  /**
   * Records the id with this attempt's token (`SET key token NX PX ttl`) and answers whether this is
   * the first time it is seen within the TTL: {@link ReplayGuard.check}'s answer, timeouts,
   * `onRedisDown` policy, `wait` and coalescing. Call it once per attempt: a second call rejects
   * with `ERR_REDIS_INVALID_ARGUMENT` (make a new attempt).
   */
  check(): Promise<boolean>;
  /** Like {@link ReplayAttempt.check}, but throws `ERR_REDIS_REPLAY_DETECTED` for an id seen before. */
  checkOrThrow(): Promise<void>;
  /**
   * Deletes the id's record only if it still holds this attempt's token (compare-and-delete, one
   * atomic script): safe after a check that timed out (the record may be another caller's) and after
   * the record expired and another caller recorded the id again. Sent once this attempt's check has
   * settled, on the connection that sent its SET, so it runs after that SET. Resolves `true` if it
   * deleted the record, `false` if the record was someone else's, gone, or never checked.
   *
   * While the client (with `wait`, the guard's own connection) is reconnecting it rejects at once
   * with `ERR_REDIS_UNAVAILABLE`, and still sends the compare-and-delete on the client's next
   * `ready` (if that comes within 60 s; up to 10 000 such forgets wait per client):
   * ioredis resends a SET that lost its connection without an answer when it reconnects, and the
   * forget then runs after it. Answer the request as failed (e.g. 503) without waiting; a retry
   * that arrives before the reconnect is still answered as a replay. A forget that gets no answer
   * in time rejects `ERR_REDIS_TIMEOUT`; Redis still runs it after the SET.
   */
  forget(): Promise<boolean>;
}

/** What an attempt needs of its guard. */
export interface AttemptOps {
  readonly name: string;
  record(key: string, value: string, ttl: number): Promise<boolean>;
  forget(key: string, token: string): Promise<boolean>;
}

export function replayDetected(name: string): RedisStoreError {
  return new RedisStoreError(
    'ERR_REDIS_REPLAY_DETECTED',
    `ReplayGuard "${name}": this id was already seen within its TTL; reject the request.`,
  );
}

export class Attempt implements ReplayAttempt {
  readonly #ops: AttemptOps;
  readonly #key: string;
  readonly #token: string;
  readonly #ttl: number;
  #checked: Promise<boolean> | undefined;

  constructor(ops: AttemptOps, key: string, ttl: number) {
    this.#ops = ops;
    this.#key = key;
    this.#token = attemptToken();
    this.#ttl = ttl;
  }

  check(): Promise<boolean> {
    if (this.#checked !== undefined) {
      return Promise.reject(
        new RedisStoreError(
          'ERR_REDIS_INVALID_ARGUMENT',
          `ReplayGuard "${this.#ops.name}".attempt: check() was already called on this attempt; an attempt records its id once. Make a new one with guard.attempt(id).`,
        ),
      );
    }
    this.#checked = this.#ops.record(this.#key, this.#token, this.#ttl);
    return this.#checked;
  }

  async checkOrThrow(): Promise<void> {
    if (!(await this.check())) throw replayDetected(this.#ops.name);
  }

  async forget(): Promise<boolean> {
    const checked = this.#checked;
    // Never checked: no SET was sent, so there is no record of this attempt's.
    if (checked === undefined) return false;
    // After the check settled (a check settles only once its SET was sent or refused), so the
    // compare-and-delete cannot overtake the SET, e.g. one still waiting for its coalesced batch.
    await checked.then(ignore, ignore);
    return this.#ops.forget(this.#key, this.#token);
  }
}
