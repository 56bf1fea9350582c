import { RateLimitError, RedisStoreError } from '../errors.ts';
import type { RateLimitDecision } from '../rate-limit/decision.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { isSubject } from '../rate-limit/subject-keys.ts';
import { ipSubject } from './client-key.ts';
import { rateLimitHeader, rateLimitPolicyHeader } from './ratelimit-headers.ts';
import { requestPathAndQuery } from './request-target.ts';

/** What the adapters show the shared behaviour of a request. */
export interface HttpRequestView {
  /** The client address as the framework resolved it (trust-proxy settings apply). */
  readonly ip: string | undefined;
  readonly method: string;
  /**
   * The request target as received; `key`, `skip` and `cost` see its path and query
   * (`/orders?page=2`), also when the client sent the absolute form (`http://host/orders?page=2`).
   */
  readonly url: string;
  header(name: string): string | undefined;
}

/**
 * The client address as `read` resolves it, or undefined when reading it throws (a `trust proxy`
 * function of the user's that cannot parse a hop, Hono's `ip` option): no identity, which the
 * default key refuses with 400 `ERR_RATE_LIMIT_NO_KEY`, the same under every adapter, never 500.
 * A custom `key` sees `ip` undefined and decides itself.
 */
export function clientAddress(read: () => string | undefined): string | undefined {
  try {
    return read();
  } catch {
    return undefined;
  }
}

/** Options shared by every HTTP adapter. */
export interface HttpRateLimitOptions {
  readonly limiter: RateLimiter;
  /**
   * The subject of a request. Default: the client IP, IPv6 grouped by /56 ({@link ipSubject}).
   * Returning undefined, or throwing or rejecting (`skip` too), refuses the request with 400
   * `ERR_RATE_LIMIT_NO_KEY`; returning anything but a string of 1 to 512 characters, with 400
   * `ERR_RATE_LIMIT_INVALID_SUBJECT`.
   */
  readonly key?: (request: HttpRequestView) => string | undefined | Promise<string | undefined>;
  /**
   * Cost of a request. Default 1. A number must be an integer from 1 to the smallest limit or
   * burst of the limiter, scaled fallback bursts included (checked at construction). A function
   * may return a promise, which is awaited; one that throws or rejects, or returns anything else,
   * refuses the request with 400 `ERR_RATE_LIMIT_INVALID_ARGUMENT`; one that returns more than a
   * scaled fallback burst is answered 503 while the fallback decides: the limiter throws its Redis
   * error for it.
   */
  readonly cost?: number | ((request: HttpRequestView) => number | Promise<number>);
  /**
   * Requests for which this returns (or resolves to) true are not counted (e.g. health checks).
   * A rejection refuses the request with 400 `ERR_RATE_LIMIT_NO_KEY`, as a throw does.
   */
  readonly skip?: (request: HttpRequestView) => boolean | Promise<boolean>;
  /** Send `RateLimit` and `RateLimit-Policy`. Default true. */
  readonly headers?: boolean;
}

/** The JSON body of a refused request. */
export interface HttpRateLimitBody {
  readonly error: string;
  readonly message: string;
  /** Seconds, same as `Retry-After`. */
  readonly retryAfter?: number;
}

/** What an adapter does with a request: let it through, or answer for it. */
export type HttpOutcome =
  | {
      readonly kind: 'pass';
      readonly headers: readonly (readonly [string, string])[];
      /** Call when the response ends (concurrency leases). */
      readonly release: (() => Promise<void>) | undefined;
    }
  | {
      readonly kind: 'reject';
      readonly status: 400 | 429 | 503;
      readonly headers: readonly (readonly [string, string])[];
      readonly body: HttpRateLimitBody;
    };

function refuse(status: 400 | 429 | 503, error: string, message: string, retryAfter?: number): HttpOutcome {
  const headers: [string, string][] = [];
  if (retryAfter !== undefined) headers.push(['retry-after', String(retryAfter)]);
  return {
    kind: 'reject',
    status,
    headers,
    body: retryAfter === undefined ? { error, message } : { error, message, retryAfter },
  };
}

/** A refusal of a request whose limit is spent: the body every adapter sends with 429. */
function tooMany(headers: [string, string][], retryAfterMs: number): HttpOutcome {
  const retryAfter = Number.isFinite(retryAfterMs) ? Math.max(1, Math.ceil(retryAfterMs / 1000)) : 1;
  headers.push(['retry-after', String(retryAfter)]);
  return {
    kind: 'reject',
    status: 429,
    headers,
    body: {
      error: 'ERR_RATE_LIMIT_EXCEEDED',
      message: `Too many requests; retry after ${retryAfter} s.`,
      retryAfter,
    },
  };
}

/**
 * Codes of a Redis that did not answer (usably): they reach the adapter under `fail-closed` only.
 * Only the retryable ones (`error.retryable`) get `Retry-After`: a reply of the wrong shape is
 * no outage that ends in a second.
 */
const REDIS_DOWN: ReadonlySet<string> = new Set([
  'ERR_REDIS_UNAVAILABLE',
  'ERR_REDIS_TIMEOUT',
  'ERR_REDIS_UNEXPECTED_REPLY',
]);

/**
 * The behaviour every adapter shares: 429 with a JSON body, `Retry-After` and the IETF headers
 * when limited; 503 when Redis is down and the policy is fail-closed, with `Retry-After: 1` when
 * the error is retryable; 400 when the request has no usable key or cost, or a request target
 * with no path (`*`, `host:443`). `key`, `skip` and `cost` see `url` as path and query, also for
 * an absolute-form target. Under the `fallback` policy, a cost above the fallback's scaled burst
 * is answered 503 (the limiter throws its Redis error: the fallback could never admit it). Adapters only
 * translate the outcome.
 *
 * Errors are mapped by where they come from and their code, never their message. The request's
 * subject and cost are checked here before the limiter sees them, so a request that cannot be
 * limited as sent is refused with 400. What the limiter then throws is not the request's fault:
 * `ERR_RATE_LIMIT_EXCEEDED` (a limiter that throws on rejection) answers 429, with the same
 * headers as a returned rejection when the error carries its `decision`;
 * `ERR_REDIS_UNAVAILABLE`, `ERR_REDIS_TIMEOUT` (retryable) and `ERR_REDIS_UNEXPECTED_REPLY` (not)
 * answer 503, and anything else (a misconfigured or wrapped limiter, a bug) is thrown on to the
 * framework, which answers 500.
 *
 * @example
 * ```ts
 * import { createHttpRateLimit } from '@rampart/redis';
 * const decide = createHttpRateLimit({ limiter });
 * const outcome = await decide({ ip: '203.0.113.7', method: 'GET', url: '/', header: () => undefined });
 * ```
 */
export function createHttpRateLimit(options: HttpRateLimitOptions): (request: HttpRequestView) => Promise<HttpOutcome> {
  const problems: string[] = [];
  const limiter = options?.limiter;
  const limits = limiter?.limits;
  const usable = typeof limiter?.consume === 'function' && Array.isArray(limits) && limits.length > 0;
  if (!usable) problems.push('limiter must come from createRateLimiter().');
  // The limiter refuses a cost above its smallest limit or burst: a request may not ask for more.
  const maxCost = usable ? Math.min(...limits.map((l) => l.burst)) : Number.MAX_SAFE_INTEGER;
  // A fixed cost must also fit the scaled bursts of the fallback policy: a larger one would reject
  // every request while Redis is down.
  const maxFallbackCost = usable
    ? Math.min(maxCost, ...(limiter.fallbackLimits ?? []).map((l) => l.burst))
    : Number.MAX_SAFE_INTEGER;
  for (const name of ['key', 'skip'] as const) {
    if (options?.[name] !== undefined && typeof options[name] !== 'function')
      problems.push(`${name} must be a function.`);
  }
  const costOption = options?.cost;
  if (costOption !== undefined && typeof costOption !== 'function' && !validCost(costOption, maxFallbackCost)) {
    const bound = usable
      ? `${maxFallbackCost} (the smallest limit or burst of the limiter, fallback included)`
      : 'the smallest limit or burst';
    problems.push(`cost must be a function or an integer from 1 to ${bound}.`);
  }
  if (options?.headers !== undefined && typeof options.headers !== 'boolean')
    problems.push('headers must be a boolean.');
  if (problems.length > 0) {
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_OPTIONS',
      `rate-limit middleware: invalid options:\n- ${problems.join('\n- ')}`,
    );
  }
  const keyOf = options.key ?? ((request: HttpRequestView) => ipSubject(request.ip));
  const costOf = typeof costOption === 'function' ? costOption : undefined;
  const fixedCost = typeof costOption === 'number' ? costOption : 1;
  const sendHeaders = options.headers !== false;
  const policy = rateLimitPolicyHeader(limits);
  // A fallback decision applies the scaled limits: its headers advertise those.
  const fallbackPolicy = limiter.fallbackLimits === undefined ? policy : rateLimitPolicyHeader(limiter.fallbackLimits);
  /** The outcome of a decision; `rejected` when the limiter threw it as a rejection. */
  const answer = (decision: RateLimitDecision, rejected: boolean): HttpOutcome => {
    const headers: [string, string][] = [];
    if (sendHeaders) {
      headers.push(['ratelimit-policy', decision.source === 'fallback' ? fallbackPolicy : policy]);
      if (decision.source !== 'fail-open') headers.push(['ratelimit', rateLimitHeader(decision)]);
    }
    if (decision.allowed && !rejected) {
      const lease = decision.lease;
      return { kind: 'pass', headers, release: lease ? () => lease.release() : undefined };
    }
    return tooMany(headers, decision.retryAfterMs);
  };
  return async (received) => {
    const url = requestPathAndQuery(received.url);
    if (url === undefined) {
      return refuse(400, 'ERR_RATE_LIMIT_INVALID_ARGUMENT', 'The request cannot be rate limited as sent.');
    }
    // The adapter's view with only `url` replaced: fields an application added (issues-api's
    // `clientId`) and methods stay as they were.
    const request: HttpRequestView =
      url === received.url ? received : Object.create(received, { url: { value: url, enumerable: true } });
    // `skip`, `key` and `cost` read the request, which may be malformed (a bad percent-encoding,
    // a header that does not parse): a throw there refuses the request with 400, never a 500.
    let subject: unknown;
    try {
      const skipped = options.skip?.(request);
      if ((isThenable(skipped) ? await skipped : skipped) === true) {
        return { kind: 'pass', headers: [], release: undefined };
      }
      subject = await keyOf(request);
    } catch {
      subject = undefined;
    }
    if (subject === undefined) {
      return refuse(400, 'ERR_RATE_LIMIT_NO_KEY', 'The request carries no client identity the rate limit can use.');
    }
    if (!isSubject(subject)) {
      return refuse(400, 'ERR_RATE_LIMIT_INVALID_SUBJECT', 'The request cannot be rate limited as sent.');
    }
    let cost = fixedCost;
    if (costOf !== undefined) {
      let asked: unknown;
      try {
        asked = costOf(request);
        if (isThenable(asked)) asked = await asked;
      } catch {
        asked = undefined;
      }
      if (!validCost(asked, maxCost)) {
        return refuse(400, 'ERR_RATE_LIMIT_INVALID_ARGUMENT', 'The request cannot be rate limited as sent.');
      }
      cost = asked;
    }
    let decision: RateLimitDecision;
    try {
      decision = await limiter.consume(subject, { cost });
    } catch (error) {
      // Subject and cost passed the checks above: what the limiter throws is not the request's fault.
      if (error instanceof RateLimitError && error.code === 'ERR_RATE_LIMIT_EXCEEDED') {
        // consumeOrThrow's error carries its decision: answered as the returned rejection is.
        if (error.decision !== undefined) return answer(error.decision, true);
        return tooMany(sendHeaders ? [['ratelimit-policy', policy]] : [], error.retryAfterMs ?? 1_000);
      }
      if (error instanceof RedisStoreError && REDIS_DOWN.has(error.code)) {
        return error.retryable
          ? refuse(503, error.code, 'The rate limiter is unavailable; retry shortly.', 1)
          : refuse(503, error.code, 'The rate limiter is unavailable.');
      }
      throw error;
    }
    return answer(decision, false);
  };
}

/**
 * Whether `value` is to be awaited: a sync `skip` or `cost` (the common case) costs no extra turn,
 * and an async one (JavaScript callers pass them) is waited for, its rejection thrown where the
 * caller catches it instead of left unhandled.
 */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function validCost(cost: unknown, max: number): cost is number {
  return typeof cost === 'number' && Number.isSafeInteger(cost) && cost >= 1 && cost <= max;
}
