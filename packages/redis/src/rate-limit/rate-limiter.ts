import { randomUUID } from 'node:crypto';
import { CallCoalescer } from '../call-coalescer.ts';
import { RateLimitError, RedisStoreError } from '../errors.ts';
import { RedisCallGuard, type ResolvedRedisDownPolicy } from '../redis-down-policy.ts';
import { loadScripts, type RedisClient } from '../scripts.ts';
import { BlockedSubjects } from './blocked-subjects.ts';
import { CACHED_COST, cachedRejection, cachedWidth, cacheRejection } from './cached-rejection.ts';
import { parseBatchReply, parseReply, type ScriptReply } from './decide-reply.ts';
import { buildDecideScript, type DecideScripts } from './decide-script.ts';
import type { Lease, RateLimitDecision } from './decision.ts';
import type { ResolvedLimit } from './limits.ts';
import { LocalLimiter } from './local-limiter.ts';
import {
  type RateLimiterOptions,
  type ResolvedRateLimiterOptions,
  resolveRateLimiterOptions,
} from './rate-limiter-options.ts';
import { failOpenDecision, fallbackDecision } from './redis-down-decision.ts';
import { assertSubject, subjectKeys } from './subject-keys.ts';

/** A Redis-backed limiter for one set of limits; see {@link createRateLimiter}. */
export interface RateLimiter {
  /** The validated limits, in order (the HTTP adapters advertise them). */
  readonly limits: readonly ResolvedLimit[];
  /**
   * Under the `fallback` Redis-down policy, the limits its in-process limiter applies: `limits`
   * with every quota and burst multiplied by `limitScale` (rounded down, at least 1). The HTTP
   * adapters advertise them on decisions with `source: 'fallback'`. Undefined under other policies.
   */
  readonly fallbackLimits: readonly ResolvedLimit[] | undefined;
  /** Decides a request of `cost` (default 1) for `subject` and spends it when admitted. */
  consume(subject: string, options?: { readonly cost?: number }): Promise<RateLimitDecision>;
  /**
   * Like `consume`, but throws `RateLimitError('ERR_RATE_LIMIT_EXCEEDED')` when limited, with
   * `retryAfterMs` and the rejecting `decision`.
   */
  consumeOrThrow(subject: string, options?: { readonly cost?: number }): Promise<RateLimitDecision>;
  /** Reads the current state without spending. */
  get(subject: string): Promise<RateLimitDecision>;
  /** Gives back `cost` (default 1) from every counter; with `lease`, ends that lease too. */
  refund(subject: string, options?: { readonly cost?: number; readonly lease?: string }): Promise<void>;
  /** Spends `cost` on every limit whatever the state (e.g. after a failed login). */
  penalize(subject: string, options?: { readonly cost?: number }): Promise<void>;
  /** Rejects every request of `subject` for `durationMs`. */
  block(subject: string, durationMs: number): Promise<void>;
  /** Deletes every counter, block and lease of `subject`. */
  reset(subject: string): Promise<void>;
  /**
   * Loads this limiter's scripts on the Redis (every master of a Cluster) before traffic comes,
   * waiting up to `timeoutMs` (default 5,000) for the client to connect. Without it the first
   * decision of a new process sends the whole script after a NOSCRIPT reply, which on a busy
   * machine can exceed the per-call timeout and answer that request by the Redis-down policy.
   * Throws `ERR_REDIS_UNAVAILABLE` / `ERR_REDIS_TIMEOUT` (retryable), or `ERR_REDIS_UNEXPECTED_REPLY`
   * (not retryable) when Redis refuses SCRIPT LOAD itself (NOPERM, unknown command); decisions work
   * without it.
   */
  warm(options?: { readonly timeoutMs?: number }): Promise<void>;
}

/**
 * Creates a rate limiter whose limits hold across every pod that shares the Redis: each decision
 * is one Lua script (one round trip) that reads Redis's clock and admits the request only if every
 * limit does. Validates all options at once and throws `ERR_REDIS_INVALID_OPTIONS` listing each
 * problem.
 *
 * @example
 * ```ts
 * import { Redis } from 'ioredis';
 * import { createRateLimiter } from '@rampart/redis';
 *
 * const redis = new Redis({ enableOfflineQueue: false });
 * const limiter = createRateLimiter({
 *   redis,
 *   prefix: 'api',
 *   limits: [
 *     { name: 'burst', algorithm: 'gcra', limit: 10, windowMs: 1_000 },
 *     { name: 'minute', algorithm: 'sliding-window', limit: 100, windowMs: 60_000 },
 *     { name: 'hour', algorithm: 'fixed-window', limit: 1_000, windowMs: 3_600_000 },
 *   ],
 * });
 * const decision = await limiter.consume('user:42');
 * if (!decision.allowed) console.log(`retry in ${decision.retryAfterMs} ms`);
 * ```
 */
export function createRateLimiter(options: RateLimiterOptions): RateLimiter {
  return new RedisRateLimiter(options, resolveRateLimiterOptions(options));
}

/** One consume decision waiting for its batch. */
interface PendingConsume {
  readonly subject: string;
  readonly cost: number;
  readonly leaseId: string;
}

class RedisRateLimiter implements RateLimiter {
  readonly limits: readonly ResolvedLimit[];
  readonly fallbackLimits: readonly ResolvedLimit[] | undefined;
  readonly #prefix: string;
  readonly #guard: RedisCallGuard;
  readonly #client: RedisClient;
  readonly #shadow: boolean;
  readonly #spendOnReject: boolean;
  readonly #policy: ResolvedRedisDownPolicy;
  readonly #cache: BlockedSubjects | undefined;
  readonly #fallback: LocalLimiter | undefined;
  /** The largest cost the fallback can ever admit: its smallest scaled burst. */
  readonly #maxFallbackCost: number;
  readonly #withLeases: boolean;
  readonly #maxCost: number;
  readonly #scripts: DecideScripts;
  readonly #coalescer: CallCoalescer<PendingConsume, ScriptReply> | undefined;
  readonly #operation: string;
  readonly #onRedisError: ((error: RedisStoreError) => void) | undefined;
  /**
   * Bumped by reset() and refund() as they clear a subject's cached rejection: a consume sent
   * before them may reply after, with a rejection they undid in Redis, which must not be cached.
   * One counter for the whole limiter: a reset only costs the caching of the replies in flight.
   */
  #generation = 0;

  constructor(options: RateLimiterOptions, resolved: ResolvedRateLimiterOptions) {
    const { client, limits, prefix, timeoutMs, blockOnRejectMs, policy, cacheSize, maxBatch, maxCost, fallbackLimits } =
      resolved;
    this.limits = limits;
    this.#prefix = prefix;
    this.#guard = new RedisCallGuard(client, { timeoutMs });
    this.#client = client;
    this.#shadow = options.shadow === true;
    this.#spendOnReject = options.spendOnReject === true;
    this.#policy = policy;
    this.#cache = cacheSize > 0 ? new BlockedSubjects(cacheSize, cachedWidth(limits.length)) : undefined;
    this.#fallback =
      policy.mode === 'fallback' && fallbackLimits !== undefined
        ? new LocalLimiter(fallbackLimits, policy.maxKeys)
        : undefined;
    this.fallbackLimits = this.#fallback?.limits;
    this.#maxFallbackCost = Math.min(...(this.#fallback?.limits ?? []).map((l) => l.burst));
    this.#withLeases = limits.some((l) => l.kind === 'c');
    this.#maxCost = maxCost;
    this.#scripts = buildDecideScript(limits, {
      spendOnReject: this.#spendOnReject,
      blockOnRejectUs: blockOnRejectMs * 1000,
    });
    this.#coalescer =
      maxBatch > 0
        ? new CallCoalescer<PendingConsume, ScriptReply>(
            maxBatch,
            (d) => this.#run('c', d.subject, d.cost, d.leaseId, 0),
            (ds) => this.#runBatch(ds),
            () => this.#guard.inFlight > 0,
          )
        : undefined;
    this.#operation = `rate limit (${prefix})`;
    this.#onRedisError = options.onRedisError;
  }

  #cost(cost: unknown, max: number): number {
    const value = cost ?? 1;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > max) {
      throw new RateLimitError(
        'ERR_RATE_LIMIT_INVALID_ARGUMENT',
        `cost must be an integer from 1 to ${max} (the smallest limit or burst of this limiter).`,
      );
    }
    return value;
  }

  #run(op: string, subject: string, cost: number, lease: string, blockUs: number): Promise<ScriptReply> {
    const keys = subjectKeys(this.#prefix, subject, this.#withLeases);
    // spendOnReject and blockOnRejectMs are written into the script; see decide-script.ts.
    const args = op === 'b' ? [op, cost, '', blockUs] : lease === '' ? [op, cost] : [op, cost, lease];
    const count = op === 'b' || op === 'd' || op === 'l' || op === 'r' ? 0 : this.limits.length;
    return this.#guard.sendScript(this.#operation, this.#scripts.single, keys, args, (reply) =>
      parseReply(reply, this.limits, count),
    );
  }

  /** Consume decisions gathered by the coalescer, in one script call. */
  #runBatch(decisions: readonly PendingConsume[]): Promise<ScriptReply[]> {
    const keys: string[] = [];
    const args: string[] = [];
    for (const d of decisions) {
      keys.push(...subjectKeys(this.#prefix, d.subject, this.#withLeases));
      args.push(String(d.cost));
      if (this.#withLeases) args.push(d.leaseId);
    }
    return this.#guard.sendScript(this.#operation, this.#scripts.batch, keys, args, (reply) =>
      parseBatchReply(reply, this.limits, decisions.length),
    );
  }

  #lease(subject: string, id: string, local: boolean): Lease {
    let released = false;
    return {
      id,
      release: async () => {
        if (released) return;
        released = true;
        if (local) {
          this.#fallback?.release(subject, id);
          return;
        }
        try {
          await this.#run('l', subject, 1, id, 0);
        } catch (error) {
          if (error instanceof RedisStoreError) this.#report(error);
        }
      },
    };
  }

  /** Hands `error` to `onRedisError`; a callback that throws is ignored, so the policy still decides. */
  #report(error: RedisStoreError): void {
    try {
      this.#onRedisError?.(error);
    } catch {
      // A failing logger must not turn an absorbed Redis failure into a failed request.
    }
  }

  /**
   * Releases the lease of a consume that timed out: its script may still run later and take the
   * lease, which nobody would release before `leaseMs`. Sent on the same connection (and slot),
   * the release runs after it. Fire-and-forget: the consume's failure was reported already.
   */
  #releaseLate(subject: string, leaseId: string): void {
    try {
      this.#run('l', subject, 1, leaseId, 0).catch(() => {});
    } catch {
      // Nothing was sent: nothing to undo beyond the lease's own expiry.
    }
  }

  warm(options?: { readonly timeoutMs?: number }): Promise<void> {
    const { single, batch } = this.#scripts;
    return loadScripts(this.#client, this.#coalescer === undefined ? [single] : [single, batch], options?.timeoutMs);
  }

  async consume(subject: string, options?: { readonly cost?: number }): Promise<RateLimitDecision> {
    assertSubject(subject);
    const cost = this.#cost(options?.cost, this.#maxCost);
    const cache = this.#cache;
    if (cache !== undefined) {
      const slot = cache.find(subject);
      if (slot >= 0 && cost >= cache.value(slot, CACHED_COST)) return cachedRejection(cache, slot, this.limits);
    }
    const leaseId = this.#withLeases ? randomUUID() : '';
    const generation = this.#generation;
    let reply: ScriptReply;
    try {
      reply = await (this.#coalescer === undefined
        ? this.#run('c', subject, cost, leaseId, 0)
        : this.#coalescer.run({ subject, cost, leaseId }));
    } catch (error) {
      return this.#whenDown(error, subject, cost, leaseId);
    }
    const limits = reply.limits;
    const limited = !reply.allowed;
    const blocked = reply.blockedForUs > 0;
    let retryAfterMs = 0;
    if (limited) {
      retryAfterMs = Math.ceil(reply.blockedForUs / 1000);
      // Every limit: with spendOnReject, one that admitted this request can be full after the spend.
      for (const l of limits) retryAfterMs = Math.max(retryAfterMs, l.retryAfterMs);
      // Cached only for as long as the rejection is sure: a block, and the limits' waits, but not
      // a concurrency limit's (a guess: a lease may be released at any time), nor, with
      // spendOnReject, a limit's (every rejection must reach Redis to be spent; a blocked one spends nothing).
      let cacheMs = Math.ceil(reply.blockedForUs / 1000);
      if (!this.#spendOnReject) {
        for (const l of limits) if (l.algorithm !== 'concurrency') cacheMs = Math.max(cacheMs, l.retryAfterMs);
      }
      if (this.#cache !== undefined && !this.#shadow && cacheMs > 0 && generation === this.#generation) {
        cacheRejection(this.#cache, subject, cacheMs, cost, blocked, limits);
      }
    }
    return {
      allowed: !limited || this.#shadow,
      limited,
      blocked,
      source: 'redis',
      retryAfterMs,
      serverTimeUs: reply.nowUs,
      limits,
      lease: reply.allowed && this.#withLeases ? this.#lease(subject, leaseId, false) : undefined,
    };
  }

  #whenDown(error: unknown, subject: string, cost: number, leaseId: string): RateLimitDecision {
    if (!(error instanceof RedisStoreError)) throw error;
    if (this.#withLeases && error.code === 'ERR_REDIS_TIMEOUT') this.#releaseLate(subject, leaseId);
    this.#report(error);
    if (this.#policy.mode === 'fail-closed') throw error;
    if (this.#policy.mode === 'fail-open' || this.#fallback === undefined) return failOpenDecision(this.limits);
    // A cost above a scaled burst could never be admitted by the fallback: a rejection would name a
    // wait that never comes true. Redis being down is why it cannot be served, as under fail-closed.
    if (cost > this.#maxFallbackCost && !this.#shadow) throw error;
    const local = this.#fallback.consume(subject, cost, leaseId);
    const lease = local.allowed && this.#withLeases ? this.#lease(subject, leaseId, true) : undefined;
    return fallbackDecision(this.#fallback.limits, local, this.#shadow, lease);
  }

  async consumeOrThrow(subject: string, options?: { readonly cost?: number }): Promise<RateLimitDecision> {
    const decision = await this.consume(subject, options);
    if (!decision.allowed) {
      throw new RateLimitError(
        'ERR_RATE_LIMIT_EXCEEDED',
        `rate limit exceeded; retry after ${decision.retryAfterMs} ms.`,
        { retryAfterMs: decision.retryAfterMs, decision },
      );
    }
    return decision;
  }

  async get(subject: string): Promise<RateLimitDecision> {
    assertSubject(subject);
    const reply = await this.#run('p', subject, 1, '', 0);
    const limits = reply.limits;
    const blocked = reply.blockedForUs > 0;
    const limited = blocked || limits.some((l) => !l.allowed);
    let retryAfterMs = Math.ceil(reply.blockedForUs / 1000);
    for (const l of limits) if (!l.allowed) retryAfterMs = Math.max(retryAfterMs, l.retryAfterMs);
    return {
      allowed: !limited || this.#shadow,
      limited,
      blocked,
      source: 'redis',
      retryAfterMs,
      serverTimeUs: reply.nowUs,
      limits,
      lease: undefined,
    };
  }

  async refund(subject: string, options?: { readonly cost?: number; readonly lease?: string }): Promise<void> {
    assertSubject(subject);
    const cost = this.#cost(options?.cost, Number.MAX_SAFE_INTEGER);
    this.#generation++;
    this.#cache?.delete(subject);
    await this.#run('r', subject, cost, options?.lease ?? '', 0);
  }

  async penalize(subject: string, options?: { readonly cost?: number }): Promise<void> {
    assertSubject(subject);
    const cost = this.#cost(options?.cost, Number.MAX_SAFE_INTEGER);
    await this.#run('x', subject, cost, '', 0);
  }

  async block(subject: string, durationMs: number): Promise<void> {
    assertSubject(subject);
    if (!Number.isSafeInteger(durationMs) || durationMs < 1) {
      throw new RateLimitError('ERR_RATE_LIMIT_INVALID_ARGUMENT', 'block(): durationMs must be a positive integer.');
    }
    await this.#run('b', subject, 1, '', durationMs * 1000);
  }

  async reset(subject: string): Promise<void> {
    assertSubject(subject);
    this.#generation++;
    this.#cache?.delete(subject);
    await this.#run('d', subject, 1, '', 0);
  }
}
