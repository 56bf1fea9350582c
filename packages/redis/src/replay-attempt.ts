/**
 * A ReplayGuard attempt: one caller's claim on an id, whose record carries a token of its own, so
 * its forget releases that record and never another caller's. Made by {@link ReplayGuard.attempt}.
 */
import { randomBytes } from 'node:crypto';
import { RedisStoreError } from './errors.ts';
import type { ReplayGuard } from './replay-guard.ts';

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

const ignore = (): void => {};

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
