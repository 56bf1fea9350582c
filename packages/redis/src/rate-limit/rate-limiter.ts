import { randomUUID } from 'node:crypto';
import { CallCoalescer } from '../call-coalescer.ts';
import { RateLimitError, RedisStoreError } from '../errors.ts';
import { RedisCallGuard, type RedisDownPolicy, resolveRedisDownPolicy } from '../redis-down-policy.ts';
import type { RedisClient } from '../scripts.ts';
import { type CoalesceOption, checkCoalesce } from '../store-options.ts';
import { BlockedSubjects } from './blocked-subjects.ts';
import { buildDecideScript, type DecideScripts } from './decide-script.ts';
import type { Lease, LimitStatus, RateLimitDecision } from './decision.ts';
import { type LimitDefinition, type ResolvedLimit, resolveLimits } from './limits.ts';
import { LocalLimiter } from './local-limiter.ts';
import { assertSubject, subjectKeys } from './subject-keys.ts';

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /** The caller's ioredis client (`Redis` or `Cluster`). Create it with `enableOfflineQueue: false`. */
  readonly redis: RedisClient;
  /** The limits every decision checks together, all-or-nothing, in one Redis round trip. */
  readonly limits: readonly LimitDefinition[];
  /** Key namespace; give each limiter its own. Default `'rl'`. */
  readonly prefix?: string;
  /** Count rejected requests too (brute-force penalties). Default `false`: a rejection spends nothing. */
  readonly spendOnReject?: boolean;
  /** After a rejection, block the subject for this long (ms). Default 0 (off). */
  readonly blockOnRejectMs?: number;
  /** Dry run: evaluate and report (`limited`), but let every request through. Default `false`. */
  readonly shadow?: boolean;
  /** Hard limit per Redis call in ms. Default 50. */
  readonly timeoutMs?: number;
  /** What happens when Redis cannot answer in time. Default `'fail-closed'`. */
  readonly onRedisDown?: RedisDownPolicy;
  /**
   * Local cache of rejected subjects, so repeated requests from a blocked subject do not each
   * cost a Redis call. `false` turns it off. Default `{ maxKeys: 10_000 }`.
   */
  readonly blockCache?: false | { readonly maxKeys?: number };
  /** Called with every Redis failure that a policy absorbed (for logs and metrics). */
  readonly onRedisError?: (error: RedisStoreError) => void;
  /**
   * Coalesce `consume` calls: a call made while none of this limiter's decisions is in flight
   * goes out at once, alone; calls made while earlier ones are in flight leave together at the end
   * of the event-loop iteration, up to `maxBatch` decisions per script call (one `TIME`, one
   * command, one reply). Each decision stays atomic and all-or-nothing; the decisions of one batch
   * share the server time and see each other's writes in call order. Default `{ maxBatch: 32 }` on
   * a single node; a `Cluster` client never coalesces (the subjects of a batch would sit in
   * different slots). `false`: one command per decision.
   */
  readonly coalesce?: CoalesceOption;
}

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
}

interface ScriptReply {
  readonly allowed: boolean;
  readonly nowUs: number;
  readonly blockedForUs: number;
  readonly limits: LimitStatus[];
}

/** Thrown for any reply the script cannot have produced (a foreign script under our SHA, a proxy). */
function unexpectedReply(): RedisStoreError {
  return new RedisStoreError('ERR_REDIS_UNEXPECTED_REPLY', 'the rate-limit script returned an unexpected reply.');
}

function status(l: ResolvedLimit, allowed: boolean, remaining: number, resetUs: number, retryUs: number): LimitStatus {
  return {
    name: l.name,
    algorithm: l.algorithm,
    limit: l.limit,
    windowMs: l.windowMs,
    allowed,
    remaining,
    resetMs: resetUs > 0 ? Math.ceil(resetUs / 1000) : 0,
    retryAfterMs: retryUs > 0 ? Math.ceil(retryUs / 1000) : 0,
  };
}

/**
 * Reads one decision's reply (see decide-script.ts) from `nums` at `at`; `end` is where the next
 * one starts (a batch concatenates them). Admitted and spent: `1, now`, then per limit its
 * remaining (GCRA: remaining, reset); the reset of a window is recomputed here from `now` with the
 * script's own arithmetic (both are IEEE doubles on integers below 2^53, so the figures match).
 * Otherwise: `0, now, blockedFor, (ok, remaining, reset, retry)×n`. Ops without limit state
 * (`count` 0) answer `1, now` or `0, now, blockedFor`.
 */
function parseAt(
  nums: readonly number[],
  at: number,
  limits: readonly ResolvedLimit[],
  count: number,
): { reply: ScriptReply; end: number } {
  const nowUs = nums[at + 1];
  if (nowUs === undefined) throw unexpectedReply();
  const out: LimitStatus[] = [];
  if (nums[at] === 1) {
    let i = at + 2;
    for (let k = 0; k < count; k++) {
      const l = limits[k]!;
      const remaining = nums[i++];
      let resetUs = 0;
      if (l.kind === 'g') resetUs = nums[i++]!;
      else if (l.kind !== 'c') {
        const w = l.windowMs * 1000;
        resetUs = (Math.floor(nowUs / w) + (l.kind === 'f' ? 1 : 2)) * w - nowUs;
      }
      if (remaining === undefined || i > nums.length) throw unexpectedReply();
      out.push(status(l, true, remaining, resetUs, 0));
    }
    return { reply: { allowed: true, nowUs, blockedForUs: 0, limits: out }, end: i };
  }
  const end = at + 3 + 4 * count;
  if (nums[at] !== 0 || end > nums.length) throw unexpectedReply();
  const blockedForUs = nums[at + 2]!;
  let allowed = blockedForUs === 0;
  for (let k = 0, i = at + 3; k < count; k++, i += 4) {
    const ok = nums[i] === 1;
    if (!ok) allowed = false;
    out.push(status(limits[k]!, ok, nums[i + 1]!, nums[i + 2]!, nums[i + 3]!));
  }
  return { reply: { allowed, nowUs, blockedForUs, limits: out }, end };
}

/** The reply as an array of numbers, or ERR_REDIS_UNEXPECTED_REPLY. */
function numbers(reply: unknown): number[] {
  if (!Array.isArray(reply)) throw unexpectedReply();
  for (let i = 0; i < reply.length; i++) if (typeof reply[i] !== 'number') throw unexpectedReply();
  return reply as number[];
}

/** Reads the reply of one decision, which must be the whole reply. */
function parseReply(reply: unknown, limits: readonly ResolvedLimit[], count: number): ScriptReply {
  const nums = numbers(reply);
  const { reply: parsed, end } = parseAt(nums, 0, limits, count);
  if (end !== nums.length) throw unexpectedReply();
  return parsed;
}

/** Reads the concatenated replies of a batch of `decisions` consume decisions. */
function parseBatchReply(reply: unknown, limits: readonly ResolvedLimit[], decisions: number): ScriptReply[] {
  const nums = numbers(reply);
  const out: ScriptReply[] = [];
  let at = 0;
  for (let d = 0; d < decisions; d++) {
    const next = parseAt(nums, at, limits, limits.length);
    out.push(next.reply);
    at = next.end;
  }
  if (at !== nums.length) throw unexpectedReply();
  return out;
}

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

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
  const problems: string[] = [];
  const client = options?.redis as RedisClient | undefined;
  if (client === undefined || client === null || typeof (client as { evalsha?: unknown }).evalsha !== 'function') {
    problems.push('redis must be an ioredis client (new Redis(...) or new Cluster(...)).');
  }
  const limits = resolveLimits(options?.limits, problems);
  const prefix = options?.prefix ?? 'rl';
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    problems.push('prefix must be 1-64 characters of A-Z a-z 0-9 _ . : - (no braces: they are the hash tag).');
  }
  const timeoutMs = options?.timeoutMs ?? 50;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > 60_000) {
    problems.push('timeoutMs must be an integer from 1 to 60000.');
  }
  const blockOnRejectMs = options?.blockOnRejectMs ?? 0;
  if (!Number.isSafeInteger(blockOnRejectMs) || blockOnRejectMs < 0) {
    problems.push('blockOnRejectMs must be a non-negative integer.');
  }
  for (const flag of ['spendOnReject', 'shadow'] as const) {
    const value = options?.[flag];
    if (value !== undefined && typeof value !== 'boolean') problems.push(`${flag} must be a boolean.`);
  }
  const policy = resolveRedisDownPolicy(options?.onRedisDown, problems);
  const maxBatch = checkCoalesce(options?.coalesce, client, problems);
  const cacheOption = options?.blockCache ?? {};
  let cacheSize = 0;
  if (cacheOption !== false) {
    cacheSize = cacheOption.maxKeys ?? 10_000;
    if (!Number.isSafeInteger(cacheSize) || cacheSize < 1)
      problems.push('blockCache.maxKeys must be a positive integer.');
  }
  if (problems.length > 0) {
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_OPTIONS',
      `createRateLimiter: invalid options:\n- ${problems.join('\n- ')}`,
    );
  }
  return new RedisRateLimiter(
    client as RedisClient,
    options,
    limits,
    prefix,
    timeoutMs,
    blockOnRejectMs,
    policy,
    cacheSize,
    maxBatch,
  );
}

/** One consume decision waiting for its batch. */
interface PendingConsume {
  readonly subject: string;
  readonly cost: number;
  readonly leaseId: string;
}

/**
 * What the block cache keeps per subject, as numbers: the rejected cost, whether the subject was
 * blocked, then per limit whether it allowed, what remained, and when (on the cache's clock) the
 * limit resets and the request could pass, so a cached rejection reports the time left, not the
 * time at caching.
 */
const CACHED_COST = 0;
const CACHED_BLOCKED = 1;
const CACHED_PER_LIMIT = 4;
const cachedWidth = (limits: number): number => 2 + CACHED_PER_LIMIT * limits;

class RedisRateLimiter implements RateLimiter {
  readonly limits: readonly ResolvedLimit[];
  readonly fallbackLimits: readonly ResolvedLimit[] | undefined;
  readonly #prefix: string;
  readonly #guard: RedisCallGuard;
  readonly #shadow: boolean;
  readonly #policy: ReturnType<typeof resolveRedisDownPolicy>;
  readonly #cache: BlockedSubjects | undefined;
  readonly #fallback: LocalLimiter | undefined;
  readonly #withLeases: boolean;
  readonly #maxCost: number;
  readonly #scripts: DecideScripts;
  readonly #coalescer: CallCoalescer<PendingConsume, ScriptReply> | undefined;
  readonly #operation: string;
  readonly #onRedisError: ((error: RedisStoreError) => void) | undefined;

  constructor(
    client: RedisClient,
    options: RateLimiterOptions,
    limits: ResolvedLimit[],
    prefix: string,
    timeoutMs: number,
    blockOnRejectMs: number,
    policy: ReturnType<typeof resolveRedisDownPolicy>,
    cacheSize: number,
    maxBatch: number,
  ) {
    this.limits = limits;
    this.#prefix = prefix;
    this.#guard = new RedisCallGuard(client, { timeoutMs });
    this.#shadow = options.shadow === true;
    this.#policy = policy;
    this.#cache = cacheSize > 0 ? new BlockedSubjects(cacheSize, cachedWidth(limits.length)) : undefined;
    this.#fallback =
      policy.mode === 'fallback' ? new LocalLimiter(limits, policy.maxKeys, policy.limitScale) : undefined;
    this.fallbackLimits = this.#fallback?.limits;
    this.#withLeases = limits.some((l) => l.kind === 'c');
    this.#maxCost = Math.min(...limits.map((l) => l.burst));
    this.#scripts = buildDecideScript(limits, {
      spendOnReject: options.spendOnReject === true,
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

  /** Statuses of a decision made without Redis, against `limits` (the fallback's are scaled). */
  #statuses(
    limits: readonly ResolvedLimit[],
    outcomes: readonly { ok: boolean; remaining: number; resetMs: number; retryAfterMs: number }[],
  ): LimitStatus[] {
    return limits.map((l, i) => {
      const o = outcomes[i]!;
      return {
        name: l.name,
        algorithm: l.algorithm,
        limit: l.limit,
        windowMs: l.windowMs,
        allowed: o.ok,
        remaining: o.remaining,
        resetMs: Math.max(0, Math.ceil(o.resetMs)),
        retryAfterMs: Math.max(0, Math.ceil(o.retryAfterMs)),
      };
    });
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
          if (error instanceof RedisStoreError) this.#onRedisError?.(error);
        }
      },
    };
  }

  async consume(subject: string, options?: { readonly cost?: number }): Promise<RateLimitDecision> {
    assertSubject(subject);
    const cost = this.#cost(options?.cost, this.#maxCost);
    const cache = this.#cache;
    if (cache !== undefined) {
      const slot = cache.find(subject);
      if (slot >= 0 && cost >= cache.value(slot, CACHED_COST)) return this.#cachedRejection(cache, slot);
    }
    const leaseId = this.#withLeases ? randomUUID() : '';
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
      for (const l of limits) if (!l.allowed) retryAfterMs = Math.max(retryAfterMs, l.retryAfterMs);
      const concurrencyOnly = !blocked && limits.every((l) => l.allowed || l.algorithm === 'concurrency');
      if (this.#cache !== undefined && !this.#shadow && !concurrencyOnly && retryAfterMs > 0) {
        this.#cacheRejection(this.#cache, subject, retryAfterMs, cost, blocked, limits);
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

  #cacheRejection(
    cache: BlockedSubjects,
    subject: string,
    retryAfterMs: number,
    cost: number,
    blocked: boolean,
    limits: readonly LimitStatus[],
  ): void {
    const now = cache.now();
    const values = new Array<number>(cache.width);
    values[CACHED_COST] = cost;
    values[CACHED_BLOCKED] = blocked ? 1 : 0;
    for (let i = 0; i < limits.length; i++) {
      const l = limits[i] as LimitStatus;
      const at = 2 + CACHED_PER_LIMIT * i;
      values[at] = l.allowed ? 1 : 0;
      values[at + 1] = l.remaining;
      values[at + 2] = now + l.resetMs;
      values[at + 3] = now + l.retryAfterMs;
    }
    cache.set(subject, retryAfterMs, values);
  }

  /**
   * The decision for a subject the block cache holds, its times counted down to now (one clock
   * reading for all of them). A limit whose reset has passed since Redis answered admits with its
   * full quota; other figures are what Redis said (other pods may have spent since).
   */
  #cachedRejection(cache: BlockedSubjects, slot: number): RateLimitDecision {
    const now = cache.now();
    const limits: LimitStatus[] = [];
    for (let i = 0; i < this.limits.length; i++) {
      const l = this.limits[i] as ResolvedLimit;
      const at = 2 + CACHED_PER_LIMIT * i;
      const resetUs = (cache.value(slot, at + 2) - now) * 1000;
      const refilled = l.kind !== 'c' && resetUs <= 0;
      limits.push(
        status(
          l,
          refilled || cache.value(slot, at) === 1,
          refilled ? l.burst : cache.value(slot, at + 1),
          resetUs,
          (cache.value(slot, at + 3) - now) * 1000,
        ),
      );
    }
    return {
      allowed: false,
      limited: true,
      blocked: cache.value(slot, CACHED_BLOCKED) === 1,
      source: 'block-cache',
      // At least 1: `find` saw the block still running, a moment before this clock reading.
      retryAfterMs: Math.max(1, Math.ceil(cache.until(slot) - now)),
      serverTimeUs: undefined,
      limits,
      lease: undefined,
    };
  }

  #whenDown(error: unknown, subject: string, cost: number, leaseId: string): RateLimitDecision {
    if (!(error instanceof RedisStoreError)) throw error;
    this.#onRedisError?.(error);
    if (this.#policy.mode === 'fail-closed') throw error;
    if (this.#policy.mode === 'fail-open' || this.#fallback === undefined) {
      return {
        allowed: true,
        limited: false,
        blocked: false,
        source: 'fail-open',
        retryAfterMs: 0,
        serverTimeUs: undefined,
        limits: this.#statuses(
          this.limits,
          this.limits.map((l) => ({ ok: true, remaining: l.limit, resetMs: 0, retryAfterMs: 0 })),
        ),
        lease: undefined,
      };
    }
    const local = this.#fallback.consume(subject, cost, leaseId);
    const limits = this.#statuses(this.#fallback.limits, local.limits);
    const retryAfterMs = local.allowed ? 0 : Math.max(...limits.map((l) => l.retryAfterMs));
    return {
      allowed: local.allowed || this.#shadow,
      limited: !local.allowed,
      blocked: false,
      source: 'fallback',
      retryAfterMs,
      serverTimeUs: undefined,
      limits,
      lease: local.allowed && this.#withLeases ? this.#lease(subject, leaseId, true) : undefined,
    };
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
    this.#cache?.delete(subject);
    await this.#run('d', subject, 1, '', 0);
  }
}
