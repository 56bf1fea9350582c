import { RedisStoreError } from '../errors.ts';
import { type RedisDownPolicy, type ResolvedRedisDownPolicy, resolveRedisDownPolicy } from '../redis-down-policy.ts';
import type { RedisClient } from '../scripts.ts';
import { type CoalesceOption, checkCoalesce } from '../store-options.ts';
import { gcraBoundProblem } from './gcra-units.ts';
import { type LimitDefinition, type ResolvedLimit, resolveLimits } from './limits.ts';
import { scaleLimits } from './local-limiter.ts';

/** Options of `createRateLimiter` (rate-limiter.ts). */
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

/** {@link RateLimiterOptions} checked, with their defaults filled in. */
export interface ResolvedRateLimiterOptions {
  readonly client: RedisClient;
  readonly limits: ResolvedLimit[];
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly blockOnRejectMs: number;
  readonly policy: ResolvedRedisDownPolicy;
  /** 0: no block cache. */
  readonly cacheSize: number;
  /** 0: no coalescing. */
  readonly maxBatch: number;
  /** The largest cost `consume` accepts: the smallest burst (a window's limit) of `limits`. */
  readonly maxCost: number;
  /** Under the `fallback` policy, `limits` scaled by its `limitScale` ({@link scaleLimits}), else undefined. */
  readonly fallbackLimits: ResolvedLimit[] | undefined;
}

const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Refuses a GCRA or token-bucket limit whose exact integer counting (gcra-units.ts) could pass
 * Number.MAX_SAFE_INTEGER: in the Redis script, on a µs clock, where a penalty may leave the state
 * at twice the burst, (2 × burst + largest cost) × perRequest; in the fallback, on a ms clock with
 * the scaled limits, which only spend what they admit, (burst + largest cost) × perRequest. The
 * largest cost is the smallest burst of the (unscaled) limits, what `consume` accepts.
 */
function checkGcraBounds(
  limits: readonly ResolvedLimit[],
  maxCost: number,
  policy: ResolvedRedisDownPolicy,
  fallbackLimits: readonly ResolvedLimit[] | undefined,
  problems: string[],
): void {
  for (const limit of limits) {
    const problem = gcraBoundProblem(limit, 1000, maxCost, 2, 'in the Redis script');
    if (problem !== undefined) problems.push(problem);
  }
  if (policy.mode !== 'fallback' || fallbackLimits === undefined) return;
  for (const limit of fallbackLimits) {
    const problem = gcraBoundProblem(
      limit,
      1,
      maxCost,
      1,
      `in the fallback (scaled by limitScale ${policy.limitScale})`,
    );
    if (problem !== undefined) problems.push(problem);
  }
}

/**
 * Checks every option of `createRateLimiter` at once and throws `ERR_REDIS_INVALID_OPTIONS`
 * listing each problem.
 */
export function resolveRateLimiterOptions(options: RateLimiterOptions): ResolvedRateLimiterOptions {
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
  // The script counts the block in µs: blockOnRejectMs × 1000 must stay a safe integer.
  if (!Number.isSafeInteger(blockOnRejectMs) || blockOnRejectMs < 0 || !Number.isSafeInteger(blockOnRejectMs * 1000)) {
    problems.push(
      `blockOnRejectMs must be an integer from 0 to ${Math.floor(Number.MAX_SAFE_INTEGER / 1000)} (it is counted in µs).`,
    );
  }
  for (const flag of ['spendOnReject', 'shadow'] as const) {
    const value = options?.[flag];
    if (value !== undefined && typeof value !== 'boolean') problems.push(`${flag} must be a boolean.`);
  }
  const policy = resolveRedisDownPolicy(options?.onRedisDown, problems);
  const maxBatch = checkCoalesce(options?.coalesce, client, problems);
  // Both only mean something for valid limits and policy, so they are computed once those are.
  let maxCost = 0;
  let fallbackLimits: ResolvedLimit[] | undefined;
  if (problems.length === 0) {
    maxCost = Math.min(...limits.map((l) => l.burst));
    if (policy.mode === 'fallback') fallbackLimits = scaleLimits(limits, policy.limitScale);
    checkGcraBounds(limits, maxCost, policy, fallbackLimits, problems);
  }
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
  return {
    client: client as RedisClient,
    limits,
    prefix,
    timeoutMs,
    blockOnRejectMs,
    policy,
    cacheSize,
    maxBatch,
    maxCost,
    fallbackLimits,
  };
}
