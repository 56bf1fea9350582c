import type { Lease, LimitStatus, RateLimitDecision } from './decision.ts';
import type { ResolvedLimit } from './limits.ts';
import type { LocalLimitOutcome } from './local-limiter.ts';

/** Statuses of a decision made without Redis, against `limits` (the fallback's are scaled). */
function localStatuses(limits: readonly ResolvedLimit[], outcomes: readonly LocalLimitOutcome[]): LimitStatus[] {
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

/** The `fail-open` decision: admitted, every limit reported with its full quota. */
export function failOpenDecision(limits: readonly ResolvedLimit[]): RateLimitDecision {
  return {
    allowed: true,
    limited: false,
    blocked: false,
    source: 'fail-open',
    retryAfterMs: 0,
    serverTimeUs: undefined,
    limits: localStatuses(
      limits,
      limits.map((l) => ({ ok: true, remaining: l.limit, resetMs: 0, retryAfterMs: 0 })),
    ),
    lease: undefined,
  };
}

/** The `fallback` decision of the in-process limiter, whose `limits` are the scaled ones. */
export function fallbackDecision(
  limits: readonly ResolvedLimit[],
  local: { readonly allowed: boolean; readonly limits: readonly LocalLimitOutcome[] },
  shadow: boolean,
  lease: Lease | undefined,
): RateLimitDecision {
  const statuses = localStatuses(limits, local.limits);
  const retryAfterMs = local.allowed ? 0 : Math.max(...statuses.map((l) => l.retryAfterMs));
  return {
    allowed: local.allowed || shadow,
    limited: !local.allowed,
    blocked: false,
    source: 'fallback',
    retryAfterMs,
    serverTimeUs: undefined,
    limits: statuses,
    lease,
  };
}
