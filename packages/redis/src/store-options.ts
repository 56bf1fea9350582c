import { CacheRegistry, checkAuditFields } from './cache-registry.ts';
import type { CallCoalescer } from './call-coalescer.ts';
import { RedisStoreError } from './errors.ts';
import { hasLoneSurrogate } from './hash-tag.ts';
import type { RedisClient } from './scripts.ts';

/** Key prefixes never contain braces: braces are the caller-visible hash tag. */
const PREFIX = /^[A-Za-z0-9_.:-]{1,64}$/;

/** Checks that `value` looks like an ioredis `Redis` or `Cluster`. */
export function checkClient(value: unknown, option: string, problems: string[]): value is RedisClient {
  if (value === null || typeof value !== 'object' || typeof (value as { evalsha?: unknown }).evalsha !== 'function') {
    problems.push(`${option} must be an ioredis client (new Redis(...) or new Cluster(...)).`);
    return false;
  }
  return true;
}

/** Checks an integer option within [min, max]; returns the value or the default. */
export function checkInt(
  value: unknown,
  option: string,
  { min, max, fallback }: { min: number; max: number; fallback?: number },
  problems: string[],
): number {
  const v = value === undefined ? fallback : value;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min || v > max) {
    problems.push(`${option} must be an integer from ${min} to ${max}${fallback === undefined ? '' : ' (optional)'}.`);
    return fallback ?? min;
  }
  return v;
}

/** Checks a key prefix; returns it with a trailing colon. */
export function checkPrefix(value: unknown, fallback: string, problems: string[]): string {
  const v = value ?? fallback;
  if (typeof v !== 'string' || !PREFIX.test(v)) {
    problems.push('prefix must be 1-64 characters of A-Z a-z 0-9 _ . : - (no braces: they are the hash tag).');
    return `${fallback}:`;
  }
  return v.endsWith(':') ? v : `${v}:`;
}

/** Throws one `ERR_REDIS_INVALID_OPTIONS` listing every problem, when there is any. */
export function throwIfProblems(what: string, problems: readonly string[]): void {
  if (problems.length > 0) {
    throw new RedisStoreError('ERR_REDIS_INVALID_OPTIONS', `${what}: invalid options:\n- ${problems.join('\n- ')}`);
  }
}

/** Ids longer than this are refused: they would only bloat Redis keys. */
export const MAX_ID_LENGTH = 1024;

/**
 * Validates a caller-supplied id without ever echoing it: a non-empty, well-formed string (no lone
 * surrogate) of at most {@link MAX_ID_LENGTH} UTF-16 code units, so distinct ids keep distinct keys.
 */
export function checkId(id: unknown, operation: string, label = 'id'): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH || hasLoneSurrogate(id)) {
    throw new RedisStoreError(
      'ERR_REDIS_INVALID_ARGUMENT',
      `${operation}: ${label} must be a non-empty, well-formed string (no lone UTF-16 surrogate) of at most ${MAX_ID_LENGTH} characters.`,
    );
  }
}

/** The longest TTL of a keyed store's item, as option or per call: 366 days, in ms. */
export const MAX_TTL_MS = 366 * 86_400_000;

/**
 * The problem with a TTL in ms (the `ttlMs` option or a per-call `ttlMs`), or `undefined` when it
 * is an integer from 1 to {@link MAX_TTL_MS}. Only compares numbers: it runs on every `put` and
 * `check`. The text names no value.
 */
export function ttlMsProblem(ttlMs: unknown): string | undefined {
  if (Number.isSafeInteger(ttlMs) && (ttlMs as number) >= 1 && (ttlMs as number) <= MAX_TTL_MS) return undefined;
  const range = `an integer from 1 to ${MAX_TTL_MS} (366 days), in milliseconds`;
  if (ttlMs === undefined) return `ttlMs is required: ${range}.`;
  if (typeof ttlMs === 'number' && ttlMs > MAX_TTL_MS)
    return `ttlMs must be ${range}; a larger one is usually an expiry time (Date.now() + ms) or microseconds passed as a duration.`;
  return `ttlMs must be ${range}.`;
}

/** The `ttlMs` option: its value, or 1 with its problem listed (see {@link ttlMsProblem}). */
export function checkTtlMsOption(value: unknown, problems: string[]): number {
  const problem = ttlMsProblem(value);
  if (problem === undefined) return value as number;
  problems.push(problem);
  return 1;
}

/** A per-call `ttlMs`: throws `ERR_REDIS_INVALID_ARGUMENT` from `operation` when {@link ttlMsProblem} finds one. */
export function checkCallTtlMs(ttlMs: number, operation: string): void {
  const problem = ttlMsProblem(ttlMs);
  if (problem !== undefined) throw new RedisStoreError('ERR_REDIS_INVALID_ARGUMENT', `${operation}: ${problem}`);
}

/** The options every keyed Redis store (ReplayGuard, SingleUseStore) shares. */
export interface KeyedStoreBasics {
  readonly redis?: unknown;
  readonly name?: unknown;
  readonly reason?: unknown;
  readonly ttlMs?: unknown;
  readonly prefix?: unknown;
  readonly timeoutMs?: unknown;
  readonly registry?: unknown;
}

/**
 * Checks the options every keyed store shares (client, audit name and reason, TTL, prefix, call
 * timeout, registry), adding each problem to `problems`; returns the values with defaults applied.
 */
export function checkKeyedStoreBasics(
  o: KeyedStoreBasics,
  defaults: { readonly reason: string; readonly prefix: string },
  problems: string[],
): { reason: string; ttlMs: number; prefix: string; timeoutMs: number } {
  checkClient(o.redis, 'redis', problems);
  const reason = (o.reason ?? defaults.reason) as string;
  checkAuditFields({ name: o.name, reason, class: 'cluster' }, problems);
  const ttlMs = checkTtlMsOption(o.ttlMs, problems);
  const prefix = checkPrefix(o.prefix, defaults.prefix, problems);
  const timeoutMs = checkInt(o.timeoutMs, 'timeoutMs', { min: 1, max: 60_000, fallback: 50 }, problems);
  if (o.registry !== undefined && !(o.registry instanceof CacheRegistry)) {
    problems.push('registry must be a CacheRegistry.');
  }
  return { reason, ttlMs, prefix, timeoutMs };
}

/** The `coalesce` option of limiters and stores: see {@link CallCoalescer}. */
export type CoalesceOption = false | { readonly maxBatch?: number };

/**
 * Checks a `coalesce` option; returns the batch size to use, or 0 for no coalescing (turned off,
 * or a `Cluster` client, whose keys of one batch would sit in different slots).
 */
export function checkCoalesce(value: unknown, client: unknown, problems: string[]): number {
  if (value === false) return 0;
  if (value !== undefined && (value === null || typeof value !== 'object')) {
    problems.push('coalesce must be false or { maxBatch }.');
    return 0;
  }
  const maxBatch = checkInt(
    (value as { maxBatch?: unknown } | undefined)?.maxBatch,
    'coalesce.maxBatch',
    { min: 2, max: 1_000, fallback: 32 },
    problems,
  );
  return (client as { isCluster?: unknown } | undefined)?.isCluster === true ? 0 : maxBatch;
}
