import type { RateLimitDecision } from './rate-limit/decision.ts';

/**
 * Codes shared by every Redis-backed store in this package (rate limits today; replay guards,
 * single-use stores and caches later). Stable once published; see the README's errors table.
 */
export type RedisStoreErrorCode =
  | 'ERR_REDIS_INVALID_OPTIONS'
  | 'ERR_REDIS_UNAVAILABLE'
  | 'ERR_REDIS_TIMEOUT'
  | 'ERR_REDIS_UNEXPECTED_REPLY'
  // Replay guards, single-use stores and shared caches.
  | 'ERR_REDIS_INVALID_ARGUMENT'
  | 'ERR_REDIS_REPLAY_DETECTED'
  | 'ERR_REDIS_DUPLICATE_ID'
  | 'ERR_REDIS_NOT_REPLICATED';

/** Codes specific to rate limiting. */
export type RateLimitErrorCode =
  | 'ERR_RATE_LIMIT_EXCEEDED'
  | 'ERR_RATE_LIMIT_INVALID_SUBJECT'
  | 'ERR_RATE_LIMIT_INVALID_ARGUMENT'
  | 'ERR_RATE_LIMIT_NO_KEY';

const RETRYABLE: ReadonlySet<string> = new Set([
  'ERR_REDIS_UNAVAILABLE',
  'ERR_REDIS_TIMEOUT',
  'ERR_RATE_LIMIT_EXCEEDED',
]);

/**
 * The error class of `@rampart/redis`. Every store throws it (or its {@link RateLimitError}
 * subclass); messages name the option or operation and never contain a key, subject or value.
 *
 * @example
 * ```ts
 * import { RedisStoreError } from '@rampart/redis';
 * try {
 *   await limiter.consume('user:42');
 * } catch (error) {
 *   if (error instanceof RedisStoreError && error.retryable) {
 *     // Redis is down and the policy is fail-closed: answer 503 with Retry-After.
 *   }
 * }
 * ```
 */
export class RedisStoreError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: RedisStoreErrorCode | RateLimitErrorCode;
  /** True when the same call may succeed later without any change by the caller. */
  readonly retryable: boolean;

  constructor(code: RedisStoreErrorCode | RateLimitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisStoreError';
    this.code = code;
    this.retryable = RETRYABLE.has(code);
  }
}

/**
 * Where Redis starts quoting the arguments of a command it does not know (renamed or disabled on
 * the server, e.g. `rename-command EVAL ""`): `ERR unknown command 'eval', with args beginning
 * with: '<script>' '1' '<key>' '<token>…'`, the first 128 characters of them.
 */
const QUOTED_ARGS = ', with args beginning with:';

/**
 * What a {@link RedisStoreError} may carry as `cause` for an error raised by the Redis client: a
 * fresh `Error` with the original's name, message, stack and string `code` only. ioredis attaches
 * the failed command (`command: { name, args }`) to its reply errors, and those arguments are keys,
 * stored values and tokens. Redis's reply texts do not quote them, except the reply to an unknown
 * command, whose quoted arguments are cut off here (from the message and the stack). Our own errors
 * pass unchanged.
 * Internal: for this package's code that turns a client error into a cause.
 */
export function safeCause(error: unknown): unknown {
  if (error instanceof RedisStoreError) return error;
  if (!(error instanceof Error)) return new Error(`a non-Error value (${typeof error}) was thrown`);
  const quoted = error.message.indexOf(QUOTED_ARGS);
  const message = quoted < 0 ? error.message : `${error.message.slice(0, quoted)} (its arguments left out)`;
  const safe = new Error(message);
  safe.name = error.name;
  if (typeof error.stack === 'string') {
    // A stack starts with the message: without the quoted arguments, only its frames are kept.
    safe.stack =
      quoted < 0
        ? error.stack
        : [`${error.name}: ${message}`, ...error.stack.split('\n').filter((line) => /^\s+at /.test(line))].join('\n');
  }
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') Object.defineProperty(safe, 'code', { value: code, enumerable: true });
  return safe;
}

/**
 * A rate-limit specific error: an invalid subject or cost, a request without a key, or (from
 * {@link RateLimiter.consumeOrThrow}) a rejected request, with `retryAfterMs` and the `decision`
 * (what the HTTP adapters build `RateLimit` and `RateLimit-Policy` from).
 *
 * @example
 * ```ts
 * import { RateLimitError } from '@rampart/redis';
 * try {
 *   await limiter.consumeOrThrow('login:alice@example.com');
 * } catch (error) {
 *   if (error instanceof RateLimitError && error.code === 'ERR_RATE_LIMIT_EXCEEDED') {
 *     console.log(`retry in ${error.retryAfterMs} ms`);
 *   }
 * }
 * ```
 */
export class RateLimitError extends RedisStoreError {
  declare readonly code: RateLimitErrorCode;
  /** For `ERR_RATE_LIMIT_EXCEEDED`: how long until the same request could pass. */
  readonly retryAfterMs: number | undefined;
  /**
   * For `ERR_RATE_LIMIT_EXCEEDED` from `consumeOrThrow`: the rejecting decision (limits, what is
   * left of each, when each resets). It holds no subject; the message names none either. Only an
   * error that has one carries the property, so other errors log no `decision: undefined`.
   */
  declare readonly decision?: RateLimitDecision;

  constructor(
    code: RateLimitErrorCode,
    message: string,
    options?: { cause?: unknown; retryAfterMs?: number; decision?: RateLimitDecision },
  ) {
    super(code, message, options);
    this.name = 'RateLimitError';
    this.retryAfterMs = options?.retryAfterMs;
    if (options?.decision !== undefined) this.decision = options.decision;
  }
}
