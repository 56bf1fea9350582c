import type { RateLimitDecision } from '../rate-limit/decision.ts';
import type { ResolvedLimit } from '../rate-limit/limits.ts';

/**
 * `RateLimit-Policy` per draft-ietf-httpapi-ratelimit-headers (-10/-11): one item per named
 * policy, `q` quota, `w` window in seconds, `qu` for in-flight limits. A GCRA or token-bucket limit
 * advertises its burst as the quota, over the time it takes to earn the burst back (the same
 * rate), so the `r` of `RateLimit` never exceeds `q`.
 *
 * @example
 * ```ts
 * import { rateLimitPolicyHeader } from '@rampart/redis';
 * rateLimitPolicyHeader(limiter.limits); // '"burst";q=10;w=1, "hour";q=1000;w=3600'
 * ```
 */
export function rateLimitPolicyHeader(limits: readonly ResolvedLimit[]): string {
  return limits
    .map((l) =>
      l.kind === 'c'
        ? `"${l.name}";q=${l.limit};qu="concurrent-requests"`
        : l.kind === 'g'
          ? `"${l.name}";q=${l.burst};w=${Math.max(1, Math.ceil((l.burst * l.windowMs) / l.limit / 1000))}`
          : `"${l.name}";q=${l.limit};w=${Math.max(1, Math.ceil(l.windowMs / 1000))}`,
    )
    .join(', ');
}

/**
 * `RateLimit`: per policy, `r` remaining quota and `t` seconds until it resets.
 *
 * @example
 * ```ts
 * import { rateLimitHeader } from '@rampart/redis';
 * rateLimitHeader(await limiter.consume('user:42')); // '"burst";r=9;t=1, "hour";r=999;t=3600'
 * ```
 */
export function rateLimitHeader(decision: RateLimitDecision): string {
  return decision.limits
    .map((l) =>
      l.algorithm === 'concurrency'
        ? `"${l.name}";r=${l.remaining}`
        : `"${l.name}";r=${l.remaining};t=${Math.ceil(l.resetMs / 1000)}`,
    )
    .join(', ');
}
