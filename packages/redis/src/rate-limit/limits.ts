/** Fixed window aligned to multiples of `windowMs` on the Redis clock. */
export interface FixedWindowLimit {
  readonly name: string;
  readonly algorithm: 'fixed-window';
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * Sliding-window counter (two fixed counters weighted by the elapsed fraction, as Cloudflare
 * describes): smooth at window edges, two numbers per subject.
 */
export interface SlidingWindowLimit {
  readonly name: string;
  readonly algorithm: 'sliding-window';
  readonly limit: number;
  readonly windowMs: number;
}

/**
 * GCRA: `limit` per `windowMs` on average with bursts of up to `burst` (default `limit`). One
 * value per subject, no refill process; a token bucket with capacity `burst`.
 */
export interface GcraLimit {
  readonly name: string;
  readonly algorithm: 'gcra';
  readonly limit: number;
  readonly windowMs: number;
  readonly burst?: number;
}

/** Token bucket spelled the usual way; decided by the same GCRA code. */
export interface TokenBucketLimit {
  readonly name: string;
  readonly algorithm: 'token-bucket';
  readonly capacity: number;
  /** Tokens added every `refillIntervalMs`. */
  readonly refillAmount: number;
  readonly refillIntervalMs: number;
}

/**
 * At most `limit` requests in flight per subject. Each admitted request holds a lease that ends
 * on `release()` or, if the holder dies, after `leaseMs`.
 */
export interface ConcurrencyLimit {
  readonly name: string;
  readonly algorithm: 'concurrency';
  readonly limit: number;
  readonly leaseMs: number;
}

/** One limit of a {@link RateLimiterOptions.limits} list. */
export type LimitDefinition = FixedWindowLimit | SlidingWindowLimit | GcraLimit | TokenBucketLimit | ConcurrencyLimit;

/** The algorithms a limit can use. */
export type LimitAlgorithm = LimitDefinition['algorithm'];

/** A limit after validation: what the script and the HTTP headers need. */
export interface ResolvedLimit {
  readonly name: string;
  readonly algorithm: LimitAlgorithm;
  /** Script kind: f(ixed) s(liding) g(cra) c(oncurrency). */
  readonly kind: 'f' | 's' | 'g' | 'c';
  /** Quota per window (concurrency: in-flight cap). */
  readonly limit: number;
  /** Window, or lease length for concurrency. */
  readonly windowMs: number;
  /** Largest cost a single request may ask for. */
  readonly burst: number;
}

const NAME = /^[A-Za-z0-9_.-]{1,32}$/;
const MAX_WINDOW_MS = 366 * 24 * 3_600_000;

function positiveInt(value: unknown, max = 1e12): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max;
}

/** Validates `limits`, pushing every problem into `problems`. */
export function resolveLimits(limits: unknown, problems: string[]): ResolvedLimit[] {
  if (!Array.isArray(limits) || limits.length === 0) {
    problems.push('limits must be a non-empty array of limit definitions.');
    return [];
  }
  if (limits.length > 16) problems.push('limits may hold at most 16 limits.');
  const resolved: ResolvedLimit[] = [];
  const seen = new Set<string>();
  let concurrency = 0;
  limits.forEach((raw: unknown, i) => {
    const at = `limits[${i}]`;
    if (typeof raw !== 'object' || raw === null) {
      problems.push(`${at} must be an object.`);
      return;
    }
    const def = raw as Record<string, unknown>;
    const name = def.name;
    if (typeof name !== 'string' || !NAME.test(name)) {
      problems.push(`${at}.name must be 1-32 characters of A-Z a-z 0-9 _ . - (it names the policy in headers).`);
    } else if (seen.has(name)) {
      problems.push(`${at}.name repeats another limit's name; names must be unique.`);
    } else {
      seen.add(name);
    }
    const okName = typeof name === 'string' ? name : `#${i}`;
    const window = (key: string): number => {
      const value = def[key];
      if (!positiveInt(value, MAX_WINDOW_MS))
        problems.push(`${at}.${key} must be an integer from 1 to ${MAX_WINDOW_MS}.`);
      return typeof value === 'number' ? value : 1;
    };
    const count = (key: string): number => {
      const value = def[key];
      if (!positiveInt(value)) problems.push(`${at}.${key} must be a positive integer.`);
      return typeof value === 'number' ? value : 1;
    };
    switch (def.algorithm) {
      case 'fixed-window':
      case 'sliding-window': {
        const limit = count('limit');
        resolved.push({
          name: okName,
          algorithm: def.algorithm,
          kind: def.algorithm === 'fixed-window' ? 'f' : 's',
          limit,
          windowMs: window('windowMs'),
          burst: limit,
        });
        break;
      }
      case 'gcra': {
        const limit = count('limit');
        const burst = def.burst === undefined ? limit : count('burst');
        resolved.push({ name: okName, algorithm: 'gcra', kind: 'g', limit, windowMs: window('windowMs'), burst });
        break;
      }
      case 'token-bucket': {
        const capacity = count('capacity');
        resolved.push({
          name: okName,
          algorithm: 'token-bucket',
          kind: 'g',
          limit: count('refillAmount'),
          windowMs: window('refillIntervalMs'),
          burst: capacity,
        });
        break;
      }
      case 'concurrency': {
        concurrency += 1;
        resolved.push({
          name: okName,
          algorithm: 'concurrency',
          kind: 'c',
          limit: count('limit'),
          windowMs: window('leaseMs'),
          burst: Number.MAX_SAFE_INTEGER,
        });
        break;
      }
      default:
        problems.push(
          `${at}.algorithm must be 'fixed-window', 'sliding-window', 'gcra', 'token-bucket' or 'concurrency'.`,
        );
    }
  });
  if (concurrency > 1) problems.push('limits may hold at most one concurrency limit.');
  return resolved;
}
