import { performance } from 'node:perf_hooks';
import type { Command, Redis } from 'ioredis';
import { RedisStoreError, safeCause } from './errors.ts';
import { isNoScript, newCommand, type RedisClient, type RedisScript, runScript } from './scripts.ts';

/**
 * What a store does when Redis cannot answer in time.
 * - `fail-closed` (default): the call throws `ERR_REDIS_UNAVAILABLE` / `ERR_REDIS_TIMEOUT`;
 *   HTTP adapters answer 503. Right for login, token and payment endpoints.
 * - `fail-open`: the request passes, marked `source: 'fail-open'`.
 * - `fallback`: a bounded in-process limiter decides, marked `source: 'fallback'`. It only sees
 *   this pod's traffic, so scale its limits with `limitScale` (e.g. `1 / pods`).
 */
export type RedisDownPolicy =
  | 'fail-closed'
  | 'fail-open'
  | { readonly mode: 'fail-closed' }
  | { readonly mode: 'fail-open' }
  | {
      readonly mode: 'fallback';
      /** Most subjects the fallback keeps; the least recently used is dropped. Default 10 000. */
      readonly maxKeys?: number;
      /** Multiplies every limit while in fallback (0 < scale ≤ 1). Default 1. */
      readonly limitScale?: number;
    };

/** {@link RedisDownPolicy} after defaults. */
export type ResolvedRedisDownPolicy =
  | { readonly mode: 'fail-closed' }
  | { readonly mode: 'fail-open' }
  | { readonly mode: 'fallback'; readonly maxKeys: number; readonly limitScale: number };

/** Validates a {@link RedisDownPolicy}; pushes problems into `problems` and returns the resolved form. */
export function resolveRedisDownPolicy(
  policy: RedisDownPolicy | undefined,
  problems: string[],
  option = 'onRedisDown',
): ResolvedRedisDownPolicy {
  const value = policy ?? 'fail-closed';
  const mode = typeof value === 'string' ? value : (value as { mode?: unknown }).mode;
  if (mode === 'fail-closed' || mode === 'fail-open') return { mode };
  if (mode === 'fallback' && typeof value === 'object') {
    const maxKeys = 'maxKeys' in value && value.maxKeys !== undefined ? value.maxKeys : 10_000;
    const limitScale = 'limitScale' in value && value.limitScale !== undefined ? value.limitScale : 1;
    if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) problems.push(`${option}.maxKeys must be a positive integer.`);
    if (!(typeof limitScale === 'number' && limitScale > 0 && limitScale <= 1)) {
      problems.push(`${option}.limitScale must be a number in (0, 1].`);
    }
    return { mode: 'fallback', maxKeys, limitScale };
  }
  problems.push(`${option} must be 'fail-closed', 'fail-open' or { mode: 'fallback' }.`);
  return { mode: 'fail-closed' };
}

/** Options of {@link RedisCallGuard}. */
export interface RedisCallGuardOptions {
  /** Hard limit for one call, in ms, network included. Default 50. */
  readonly timeoutMs?: number;
  /** Consecutive failures that open the circuit. Default 5. */
  readonly failureThreshold?: number;
  /** How long an open circuit skips Redis before one probe call, in ms. Default 1000. */
  readonly cooldownMs?: number;
}

/** A call in flight: what the ticker needs to time it out. */
class GuardedCall {
  /** Set once the call is answered or timed out; the ticker then drops it. */
  done = false;
  readonly deadline: number;
  readonly operation: string;
  /** Ends the call with the timeout error: the guard's own promise, or the ioredis command's. */
  reject: (error: unknown) => void;
  constructor(deadline: number, operation: string, reject: (error: unknown) => void) {
    this.deadline = deadline;
    this.operation = operation;
    this.reject = reject;
  }
}

/**
 * Bounds every Redis call: refuses at once when the client is not connected (so nothing waits in
 * ioredis's offline queue), races the call against a hard timeout, and after repeated failures
 * skips Redis for a cool-down instead of making every request wait for the timeout.
 *
 * @example
 * ```ts
 * import { RedisCallGuard } from '@rampart/redis';
 * const guard = new RedisCallGuard(redis, { timeoutMs: 50 });
 * const pong = await guard.call('ping', () => redis.ping()); // throws ERR_REDIS_TIMEOUT after 50 ms
 * ```
 */
export class RedisCallGuard {
  readonly timeoutMs: number;
  readonly #client: RedisClient;
  readonly #failureThreshold: number;
  readonly #cooldownMs: number;
  #failures = 0;
  #openUntil = 0;
  #probing = false;
  #ticker: NodeJS.Timeout | undefined;
  /**
   * Calls in flight in deadline order (every call of a guard has the same timeout), from `#head`
   * on. An answered call is only marked `done`: the ticker drops it when it reaches it, so the hot
   * path never searches or deletes.
   */
  #calls: GuardedCall[] = [];
  #head = 0;
  #active = 0;

  constructor(client: RedisClient, options: RedisCallGuardOptions = {}) {
    this.#client = client;
    this.timeoutMs = options.timeoutMs ?? 50;
    this.#failureThreshold = options.failureThreshold ?? 5;
    this.#cooldownMs = options.cooldownMs ?? 1_000;
  }

  /** Calls of this guard in flight (sent and neither answered nor timed out). */
  get inFlight(): number {
    return this.#active;
  }

  /** True while the circuit is open (Redis is being skipped). */
  get open(): boolean {
    return this.#failures >= this.#failureThreshold && performance.now() < this.#openUntil;
  }

  /**
   * Runs `fn` within the guard; throws `ERR_REDIS_UNAVAILABLE` or `ERR_REDIS_TIMEOUT`. `map`, when
   * given, turns the reply into the result inside the guard (a throw from it rejects the call),
   * which saves the caller a promise layer per call.
   */
  call<T, U = T>(operation: string, fn: () => Promise<T>, map?: (value: T) => U): Promise<U> {
    const refused = this.#refused(operation);
    if (refused !== undefined) return Promise.reject(refused);
    return new Promise<U>((resolve, reject) => {
      const entry = this.#track(operation, reject);
      let pending: Promise<T>;
      try {
        pending = fn();
      } catch (error) {
        pending = Promise.reject(error);
      }
      pending.then(
        (value) => {
          if (entry.done) return;
          entry.done = true;
          this.#active -= 1;
          let result: U;
          try {
            result = map === undefined ? (value as unknown as U) : map(value);
          } catch (error) {
            this.#settled(false);
            reject(failed(operation, error));
            return;
          }
          this.#failures = 0;
          this.#probing = false;
          resolve(result);
        },
        (error: unknown) => {
          if (entry.done) return;
          entry.done = true;
          this.#active -= 1;
          // A connected Redis that answers with an error is not hung; a dropped connection is
          // refused at once by the status check and must not hold the circuit open afterwards.
          this.#settled(false);
          reject(failed(operation, error));
        },
      );
    });
  }

  /**
   * {@link call} for one latency-bound command, with less work per call: the command goes out at
   * once on its own, and the timeout rejects the ioredis command itself, so no promise of the
   * guard's sits between the reply and the caller. `args` follow the command name.
   *
   * It never joins ioredis's auto-pipeline: ioredis keeps one auto-pipeline in flight per
   * connection, so a command that joins it first waits for the end of the event-loop iteration
   * and then for the previous batch to come back, and Redis's time and the client's time add up
   * instead of overlapping (measured: a lone SET took 1.6× as long on an auto-pipelining client).
   * Callers batch concurrent calls themselves (CallCoalescer). A Cluster client takes
   * {@link call} (the client routes each command by slot).
   */
  send<U>(operation: string, name: string, args: readonly (string | number)[], map: (reply: unknown) => U): Promise<U> {
    return this.#send(operation, name, args, map, undefined);
  }

  /**
   * {@link send} for a script: EVALSHA, and after NOSCRIPT (SCRIPT FLUSH, a restart, a failover)
   * EVAL, which also loads it, within the same timeout. The keys decide the node on a Cluster.
   */
  sendScript<U>(
    operation: string,
    script: RedisScript,
    keys: readonly string[],
    args: readonly (string | number)[],
    map: (reply: unknown) => U,
  ): Promise<U> {
    const client = this.#client;
    if (client.isCluster) return this.call(operation, () => runScript(client, script, keys, args), map);
    // Built with a loop: spreading two arrays into a literal costs an iterator each, per call.
    const command: (string | number)[] = [script.sha1, keys.length];
    for (let i = 0; i < keys.length; i++) command.push(keys[i] as string);
    for (let i = 0; i < args.length; i++) command.push(args[i] as string | number);
    return this.#send(operation, 'evalsha', command, map, script);
  }

  #send<U>(
    operation: string,
    name: string,
    args: readonly (string | number)[],
    map: (reply: unknown) => U,
    script: RedisScript | undefined,
  ): Promise<U> {
    const client = this.#client;
    if (client.isCluster) return this.call(operation, () => client.call(name, ...args), map);
    const refused = this.#refused(operation);
    if (refused !== undefined) return Promise.reject(refused);
    let command: Command;
    try {
      command = newCommand(client, name, args);
    } catch (error) {
      return Promise.reject(failed(operation, error));
    }
    const entry = this.#track(operation, command.reject as (error: unknown) => void);
    let unloaded = script;
    const answered = (reply: unknown): U => {
      if (entry.done) throw new RedisStoreError('ERR_REDIS_TIMEOUT', `${operation}: Redis did not answer in time.`);
      entry.done = true;
      this.#active -= 1;
      let result: U;
      try {
        result = map(reply);
      } catch (error) {
        this.#settled(false);
        throw failed(operation, error);
      }
      this.#failures = 0;
      this.#probing = false;
      return result;
    };
    const rejected = (error: unknown): U | Promise<U> => {
      // Timed out: the ticker has settled the call and this is its timeout error.
      if (entry.done) throw error;
      // EVALSHA met NOSCRIPT (SCRIPT FLUSH, a restart, a failover): EVAL loads the script, once.
      const lua = unloaded?.lua;
      unloaded = undefined;
      if (lua !== undefined && isNoScript(error)) {
        try {
          const next = newCommand(client, 'eval', [lua, ...args.slice(1)]);
          entry.reject = next.reject as (error: unknown) => void;
          (client as Redis).sendCommand(next);
          return next.promise.then(answered, rejected);
        } catch (sendError) {
          return rejected(sendError);
        }
      }
      entry.done = true;
      this.#active -= 1;
      // A connected Redis that answers with an error is not hung (see call).
      this.#settled(false);
      throw failed(operation, error);
    };
    try {
      (client as Redis).sendCommand(command);
    } catch (error) {
      return Promise.reject(error).then(answered, rejected);
    }
    return command.promise.then(answered, rejected);
  }

  /** Why a call must not go to Redis now (not connected, circuit open), or undefined. */
  #refused(operation: string): RedisStoreError | undefined {
    const status = this.#client.status;
    if (status !== 'ready') {
      // lazyConnect clients start in 'wait': start connecting, but do not queue this call.
      if (status === 'wait') this.#client.connect().catch(() => {});
      return new RedisStoreError(
        'ERR_REDIS_UNAVAILABLE',
        `${operation}: the Redis client is not connected (status ${status}); the Redis-down policy applies.`,
      );
    }
    if (this.#failures >= this.#failureThreshold) {
      if (performance.now() < this.#openUntil || this.#probing) {
        return new RedisStoreError(
          'ERR_REDIS_UNAVAILABLE',
          `${operation}: Redis failed ${this.#failures} calls in a row; skipping it for up to ${this.#cooldownMs} ms.`,
        );
      }
      this.#probing = true;
    }
    return undefined;
  }

  /** Registers a call in flight for the ticker. */
  #track(operation: string, reject: (error: unknown) => void): GuardedCall {
    const entry = new GuardedCall(performance.now() + this.timeoutMs, operation, reject);
    this.#calls.push(entry);
    this.#active += 1;
    if (this.#ticker === undefined) this.#startTicker();
    return entry;
  }

  #settled(timedOut: boolean): void {
    this.#probing = false;
    this.#failures = timedOut && this.#client.status === 'ready' ? this.#failures + 1 : 0;
    if (this.#failures >= this.#failureThreshold) this.#openUntil = performance.now() + this.#cooldownMs;
  }

  /**
   * One coarse ticker for all calls in flight instead of a timer per call: each tick drops the
   * answered calls at the front and times out the ones past their deadline, stopping at the first
   * call still in time. A call times out between `timeoutMs` and `timeoutMs + tick`.
   */
  #startTicker(): void {
    const tick = Math.max(1, Math.min(10, Math.floor(this.timeoutMs / 5)));
    this.#ticker = setInterval(() => {
      const now = performance.now();
      const calls = this.#calls;
      let head = this.#head;
      while (head < calls.length) {
        const call = calls[head] as GuardedCall;
        if (!call.done) {
          if (call.deadline > now) break;
          call.done = true;
          this.#active -= 1;
          this.#settled(true);
          call.reject(
            new RedisStoreError(
              'ERR_REDIS_TIMEOUT',
              `${call.operation}: Redis did not answer within ${this.timeoutMs} ms.`,
            ),
          );
        }
        head += 1;
      }
      if (head === calls.length) {
        this.#calls = [];
        this.#head = 0;
      } else if (head > 1024 && head * 2 > calls.length) {
        this.#calls = calls.slice(head);
        this.#head = 0;
      } else {
        this.#head = head;
      }
      if (this.#active === 0) {
        clearInterval(this.#ticker);
        this.#ticker = undefined;
      }
    }, tick);
    this.#ticker.unref();
  }
}

function failed(operation: string, error: unknown): RedisStoreError {
  return error instanceof RedisStoreError
    ? error
    : new RedisStoreError('ERR_REDIS_UNAVAILABLE', `${operation}: the Redis call failed.`, { cause: safeCause(error) });
}
