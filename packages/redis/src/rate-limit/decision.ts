import type { LimitAlgorithm } from './limits.ts';

/** The state of one limit after a decision. */
export interface LimitStatus {
  readonly name: string;
  readonly algorithm: LimitAlgorithm;
  /** Quota per window (concurrency: in-flight cap). */
  readonly limit: number;
  /** Window (concurrency: lease length), ms. */
  readonly windowMs: number;
  /** Whether this limit admitted the request. */
  readonly allowed: boolean;
  /** Quota left after this decision. */
  readonly remaining: number;
  /** Time until the quota is fully available again, ms. */
  readonly resetMs: number;
  /**
   * On a rejected decision: time until this limit admits the same request, ms (0 when it would
   * now). With `spendOnReject`, from the state the spent rejection leaves, so also for a limit
   * that admitted the request but is full after the spend. 0 on an admitted decision.
   */
  readonly retryAfterMs: number;
}

/** Where a decision came from. */
export type DecisionSource = 'redis' | 'block-cache' | 'fallback' | 'fail-open';

/** A held concurrency lease. */
export interface Lease {
  readonly id: string;
  /** Ends the lease (idempotent). Never throws: a lease that cannot be released expires. */
  release(): Promise<void>;
}

/** The answer of {@link RateLimiter.consume}. */
export interface RateLimitDecision {
  /** Whether the caller should serve the request (always true in shadow mode and fail-open). */
  readonly allowed: boolean;
  /** Whether the limits reject this request (also set in shadow mode). */
  readonly limited: boolean;
  /** Whether the subject is blocked (by `block()` or `blockOnRejectMs`). */
  readonly blocked: boolean;
  readonly source: DecisionSource;
  /** Time until the same request could pass, ms: the largest of its limits' and the block's; 0 when not limited. */
  readonly retryAfterMs: number;
  /** Redis server time of the decision in µs since the epoch (source `redis` only). */
  readonly serverTimeUs: number | undefined;
  readonly limits: readonly LimitStatus[];
  /** Present when a concurrency limit admitted the request: release it when the work ends. */
  readonly lease: Lease | undefined;
}
