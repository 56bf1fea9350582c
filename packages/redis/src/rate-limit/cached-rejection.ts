import type { BlockedSubjects } from './blocked-subjects.ts';
import { limitStatus } from './decide-reply.ts';
import type { LimitStatus, RateLimitDecision } from './decision.ts';
import type { ResolvedLimit } from './limits.ts';

/**
 * What the block cache keeps per subject, as numbers: the rejected cost, whether the subject was
 * blocked, then per limit whether it allowed, what remained, and when (on the cache's clock) the
 * limit resets and the request could pass, so a cached rejection reports the time left, not the
 * time at caching.
 */
export const CACHED_COST = 0;
const CACHED_BLOCKED = 1;
const CACHED_PER_LIMIT = 4;
export const cachedWidth = (limits: number): number => 2 + CACHED_PER_LIMIT * limits;

/** Keeps a Redis rejection of `subject` in the block cache for `retryAfterMs`. */
export function cacheRejection(
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
export function cachedRejection(
  cache: BlockedSubjects,
  slot: number,
  resolvedLimits: readonly ResolvedLimit[],
): RateLimitDecision {
  const now = cache.now();
  const limits: LimitStatus[] = [];
  for (let i = 0; i < resolvedLimits.length; i++) {
    const l = resolvedLimits[i] as ResolvedLimit;
    const at = 2 + CACHED_PER_LIMIT * i;
    const resetUs = (cache.value(slot, at + 2) - now) * 1000;
    const refilled = l.kind !== 'c' && resetUs <= 0;
    limits.push(
      limitStatus(
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
