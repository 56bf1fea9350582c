import { BearerError } from './errors.ts';

/** Settings of {@link createIntrospectionBreaker}, resolved from `introspection` options. */
export interface IntrospectionBreakerSettings {
  readonly failureThreshold: number;
  readonly failureBackoffMs: number;
  readonly maxConcurrentCalls: number;
  /**
   * Monotonic milliseconds (`performance.now()`), not the verifier's wall clock: a clock stepped
   * back must not stretch the window, nor a frozen test clock keep it open.
   */
  readonly clock: () => number;
}

/**
 * How an admitted call ended: `answered` (any other HTTP answer: the server is up),
 * `transport-failure` (network error, timeout, unreadable body, HTTP 5xx or 429) or `not-sent`
 * (it failed before reaching the server, e.g. the client assertion could not be signed).
 */
export type CallOutcome = 'answered' | 'transport-failure' | 'not-sent';

/** One admitted call; settle it once, when it has an answer or failed. */
export interface AdmittedCall {
  /**
   * Records the outcome. Returns the seconds until calls resume when the breaker is open after
   * this call's failure (the `Retry-After` for its 503), else `undefined`.
   */
  settle(outcome: CallOutcome): number | undefined;
}

/**
 * Admission to the introspection endpoint: a circuit breaker over consecutive transport failures
 * plus a bound on calls in flight. Single-flight per token does not help when every request
 * carries a different token (a flood of garbage, or every client at once after an outage): without
 * this, each would open its own call to a down or slow server and wait the full timeout.
 */
export interface IntrospectionBreaker {
  /** Admits one call, or throws `ERR_BEARER_INTROSPECTION_UNAVAILABLE` (503) at once. */
  admit(): AdmittedCall;
}

/** Whole seconds from `now` to `until`, at least 1 (a `Retry-After` value). */
const secondsUntil = (until: number, now: number): number => Math.max(1, Math.ceil((until - now) / 1000));

const refused = (message: string, retryAfterSeconds: number): BearerError =>
  new BearerError('ERR_BEARER_INTROSPECTION_UNAVAILABLE', message, { retryAfterSeconds });

/**
 * Closed: every call goes through, and `failureThreshold` consecutive transport failures open it.
 * Open: calls are refused until `failureBackoffMs` has passed. Half-open: one probe call goes
 * through while the others are refused; its success closes the breaker, its failure opens it for
 * another window.
 */
export function createIntrospectionBreaker(settings: IntrospectionBreakerSettings): IntrospectionBreaker {
  const { failureThreshold, failureBackoffMs, maxConcurrentCalls, clock } = settings;
  const backoffSeconds = Math.max(1, Math.ceil(failureBackoffMs / 1000));
  let consecutiveFailures = 0;
  let openUntil: number | undefined;
  let probing = false;
  let inFlight = 0;

  return {
    admit() {
      if (inFlight >= maxConcurrentCalls) {
        throw refused(
          'Too many introspection calls are in flight (introspection.maxConcurrentCalls); the request ' +
            'was refused rather than queued. Retry shortly, or raise maxConcurrentCalls if the ' +
            'authorization server can take more.',
          1,
        );
      }
      let probe = false;
      if (openUntil !== undefined) {
        const now = clock();
        if (now < openUntil || probing) {
          throw refused(
            'The introspection endpoint failed repeatedly (network error, timeout or HTTP 5xx), so calls ' +
              'are paused for introspection.failureBackoffMs before one is tried again; check that the ' +
              'authorization server is up.',
            now < openUntil ? secondsUntil(openUntil, now) : backoffSeconds,
          );
        }
        probe = true;
        probing = true;
      }
      inFlight++;
      let settled = false;
      return {
        settle(outcome) {
          if (settled) return undefined;
          settled = true;
          inFlight--;
          if (probe) probing = false;
          if (outcome === 'not-sent') return undefined;
          if (outcome === 'answered') {
            consecutiveFailures = 0;
            openUntil = undefined;
            return undefined;
          }
          consecutiveFailures++;
          // A call admitted before the breaker opened may fail after it: that extends the window,
          // by at most one backoff past its own failure.
          if (probe || openUntil !== undefined || consecutiveFailures >= failureThreshold) {
            const now = clock();
            openUntil = Math.max(openUntil ?? 0, now + failureBackoffMs);
            return secondsUntil(openUntil, now);
          }
          return undefined;
        },
      };
    },
  };
}
