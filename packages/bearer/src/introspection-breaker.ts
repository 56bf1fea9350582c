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
  /**
   * Asks whether the server is up before the breaker opens: called when a failure would open it
   * (the one that reaches `failureThreshold`, or a failed half-open probe). Resolves `true` when
   * the server answered a call it can answer (the failures were about their tokens), `false` when
   * that failed too; returns `undefined` when it has nothing to ask with, and the breaker opens.
   */
  readonly confirm?: () => Promise<boolean> | undefined;
  /** Called when the breaker goes from open or half-open back to closed. */
  readonly onClose?: () => void;
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
   * Records the outcome. Resolves with the seconds until calls resume when the breaker is open
   * after this call's failure (the `Retry-After` for its 503), else `undefined`. A failure that
   * would open the breaker resolves only after the confirmation call it started.
   */
  settle(outcome: CallOutcome): Promise<number | undefined>;
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
  /** Whether the breaker is open or half-open (not closed). */
  readonly isOpen: boolean;
}

/** Whole seconds from `now` to `until`, at least 1 (a `Retry-After` value). */
const secondsUntil = (until: number, now: number): number => Math.max(1, Math.ceil((until - now) / 1000));

const refused = (message: string, retryAfterSeconds: number): BearerError =>
  new BearerError('ERR_BEARER_INTROSPECTION_UNAVAILABLE', message, { retryAfterSeconds });

/**
 * Closed: every call goes through, and `failureThreshold` consecutive transport failures open it,
 * unless a confirmation call (`settings.confirm`) shows the server up: then the failures were about
 * their tokens, and the count starts again. Open: calls are refused until `failureBackoffMs` has
 * passed. Half-open: one probe call goes through while the others are refused; its success closes
 * the breaker; its failure is confirmed the same way, and opens it for another window unless the
 * server is up.
 *
 * One confirmation at a time, in the slot of the call whose failure started it (so it counts in
 * `maxConcurrentCalls`). Failures meanwhile neither open the breaker nor start another: they are
 * forgotten when it succeeds. So there is at most one confirmation per `failureThreshold` failures,
 * plus one per failed probe (one a window).
 */
export function createIntrospectionBreaker(settings: IntrospectionBreakerSettings): IntrospectionBreaker {
  const { failureThreshold, failureBackoffMs, maxConcurrentCalls, clock, confirm, onClose } = settings;
  const backoffSeconds = Math.max(1, Math.ceil(failureBackoffMs / 1000));
  let consecutiveFailures = 0;
  let openUntil: number | undefined;
  let probing = false;
  let confirming = false;
  /**
   * Counts changes between closed and open: a probe admitted in one open spell that settles after
   * the breaker closed (or closed and opened again) is no probe any more, only a call that failed.
   */
  let spell = 0;
  let inFlight = 0;
  /** Answered calls so far: one that lands while a confirmation is in flight shows the server up too. */
  let answers = 0;

  /** Closes the breaker: the server answered. */
  const close = (): void => {
    consecutiveFailures = 0;
    if (openUntil === undefined) return;
    openUntil = undefined;
    spell++;
    onClose?.();
  };

  /** Opens the breaker (or extends it) from now; the `Retry-After` of the failure that did. */
  const open = (): number => {
    const now = clock();
    if (openUntil === undefined) spell++;
    openUntil = Math.max(openUntil ?? 0, now + failureBackoffMs);
    return secondsUntil(openUntil, now);
  };

  /** Settles a failure that would open the breaker: confirms first, when there is something to confirm with. */
  const confirmThenOpen = async (release: () => void): Promise<number | undefined> => {
    const answersBefore = answers;
    let pending: Promise<boolean> | undefined;
    try {
      pending = confirm?.();
    } catch {
      pending = undefined;
    }
    if (pending === undefined) {
      release();
      return open();
    }
    confirming = true;
    let up: boolean;
    try {
      up = await pending;
    } catch {
      up = false;
    } finally {
      confirming = false;
      release();
    }
    if (up || answers !== answersBefore) {
      close();
      return undefined;
    }
    return open();
  };

  return {
    get isOpen() {
      return openUntil !== undefined;
    },
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
      const admittedIn = spell;
      let settled = false;
      /** Gives back the call's slot, and the probe if it was one. */
      const release = (): void => {
        inFlight--;
        if (probe) probing = false;
      };
      return {
        settle(outcome) {
          if (settled) return Promise.resolve(undefined);
          settled = true;
          if (outcome === 'transport-failure') {
            consecutiveFailures++;
            // A probe whose breaker closed (or closed and reopened) while it was in flight is stale: it
            // counts as any other failure, so it cannot start a second confirmation beside one running.
            const currentProbe = probe && spell === admittedIn;
            // The failure that would open the breaker keeps its slot (and the probe) for the confirmation.
            if (!confirming && (currentProbe || (openUntil === undefined && consecutiveFailures >= failureThreshold))) {
              return confirmThenOpen(release);
            }
          }
          release();
          if (outcome === 'not-sent') return Promise.resolve(undefined);
          if (outcome === 'answered') {
            answers++;
            close();
            return Promise.resolve(undefined);
          }
          // A call admitted before the breaker opened may fail after it: that extends the window,
          // by at most one backoff past its own failure.
          return Promise.resolve(openUntil === undefined ? undefined : open());
        },
      };
    },
  };
}
