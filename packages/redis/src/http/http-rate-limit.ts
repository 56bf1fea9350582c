import { RateLimitError, RedisStoreError } from '../errors.ts';
import type { RateLimiter } from '../rate-limit/rate-limiter.ts';
import { ipSubject } from './client-key.ts';
import { rateLimitHeader, rateLimitPolicyHeader } from './ratelimit-headers.ts';

/** What the adapters show the shared behaviour of a request. */
export interface HttpRequestView {
  /** The client address as the framework resolved it (trust-proxy settings apply). */
  readonly ip: string | undefined;
  readonly method: string;
  readonly url: string;
  header(name: string): string | undefined;
}

/** Options shared by every HTTP adapter. */
export interface HttpRateLimitOptions {
  readonly limiter: RateLimiter;
  /**
   * The subject of a request. Default: the client IP, IPv6 grouped by /56 ({@link ipSubject}).
   * Returning undefined, or throwing (`skip` too), refuses the request with 400
   * `ERR_RATE_LIMIT_NO_KEY`.
   */
  readonly key?: (request: HttpRequestView) => string | undefined | Promise<string | undefined>;
  /** Cost of a request. Default 1. A function that throws refuses it with 400 `ERR_RATE_LIMIT_INVALID_ARGUMENT`. */
  readonly cost?: number | ((request: HttpRequestView) => number);
  /** Requests for which this returns true are not counted (e.g. health checks). */
  readonly skip?: (request: HttpRequestView) => boolean;
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

/**
 * Holds a concurrency lease until `response` closes: `release` runs on its 'close', or at once
 * (returning false) when the client went away while the limiter decided, so 'close' has fired
 * already. The Node adapters (Express, Fastify, node:http) share it.
 */
export function releaseOnClose(
  response: {
    readonly closed: boolean;
    readonly destroyed: boolean;
    once(event: 'close', listener: () => void): unknown;
  },
  release: () => Promise<void>,
): boolean {
  if (response.closed || response.destroyed) {
    void release();
    return false;
  }
  response.once('close', () => void release());
  return true;
}

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

/**
 * The behaviour every adapter shares: 429 with a JSON body, `Retry-After` and the IETF headers
 * when limited; 503 with `Retry-After: 1` when Redis is down and the policy is fail-closed; 400
 * when the request has no usable key. Adapters only translate the outcome.
 *
 * @example
 * ```ts
 * import { createHttpRateLimit } from '@rampart/redis';
 * const decide = createHttpRateLimit({ limiter });
 * const outcome = await decide({ ip: '203.0.113.7', method: 'GET', url: '/', header: () => undefined });
 * ```
 */
export function createHttpRateLimit(options: HttpRateLimitOptions): (request: HttpRequestView) => Promise<HttpOutcome> {
  const { limiter } = options;
  if (limiter === undefined || typeof limiter.consume !== 'function') {
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_OPTIONS',
      'rate-limit middleware: limiter must come from createRateLimiter().',
    );
  }
  const keyOf = options.key ?? ((request: HttpRequestView) => ipSubject(request.ip));
  const sendHeaders = options.headers !== false;
  const policy = rateLimitPolicyHeader(limiter.limits);
  return async (request) => {
    // `skip`, `key` and `cost` read the request, which may be malformed (a bad percent-encoding,
    // a header that does not parse): a throw there refuses the request with 400, never a 500.
    let subject: string | undefined;
    try {
      if (options.skip?.(request) === true) return { kind: 'pass', headers: [], release: undefined };
      subject = await keyOf(request);
    } catch {
      subject = undefined;
    }
    if (subject === undefined) {
      return refuse(400, 'ERR_RATE_LIMIT_NO_KEY', 'The request carries no client identity the rate limit can use.');
    }
    let cost: number;
    try {
      cost = typeof options.cost === 'function' ? options.cost(request) : (options.cost ?? 1);
    } catch {
      return refuse(400, 'ERR_RATE_LIMIT_INVALID_ARGUMENT', 'The request cannot be rate limited as sent.');
    }
    let decision: Awaited<ReturnType<RateLimiter['consume']>>;
    try {
      decision = await limiter.consume(subject, { cost });
    } catch (error) {
      if (error instanceof RateLimitError)
        return refuse(400, error.code, 'The request cannot be rate limited as sent.');
      if (error instanceof RedisStoreError) {
        return refuse(503, error.code, 'The rate limiter is unavailable; retry shortly.', 1);
      }
      throw error;
    }
    const headers: [string, string][] = [];
    if (sendHeaders) {
      headers.push(['ratelimit-policy', policy]);
      if (decision.source !== 'fail-open') headers.push(['ratelimit', rateLimitHeader(decision)]);
    }
    if (decision.allowed) {
      const lease = decision.lease;
      return { kind: 'pass', headers, release: lease ? () => lease.release() : undefined };
    }
    const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
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
  };
}
