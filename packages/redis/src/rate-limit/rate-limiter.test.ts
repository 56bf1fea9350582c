import fc from 'fast-check';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RateLimitError, RedisStoreError } from '../errors.ts';
import { createRateLimiter } from './rate-limiter.ts';

/** Connected, and answers every command with an empty array: no script can have sent that. */
const fakeRedis = {
  status: 'ready',
  options: {},
  evalsha: () => Promise.resolve([]),
  eval: () => Promise.resolve([]),
  call: () => Promise.resolve([]),
  sendCommand: (command: { resolve(value: unknown): void; promise: Promise<unknown> }) => {
    command.resolve([]);
    return command.promise;
  },
} as unknown as Redis;

describe('createRateLimiter', () => {
  it('lists every problem of the options at once', () => {
    let error: unknown;
    try {
      createRateLimiter({
        redis: {} as Redis,
        prefix: 'bad{prefix}',
        timeoutMs: 0,
        limits: [
          { name: 'a', algorithm: 'fixed-window', limit: 0, windowMs: 1_000 },
          { name: 'a', algorithm: 'gcra', limit: 1, windowMs: -1 },
          { name: 'x', algorithm: 'nope' } as never,
        ],
        onRedisDown: 'maybe' as never,
        coalesce: { maxBatch: 1 },
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedisStoreError);
    const { code, message } = error as RedisStoreError;
    expect(code).toBe('ERR_REDIS_INVALID_OPTIONS');
    for (const part of [
      'redis',
      'prefix',
      'timeoutMs',
      'limits[0].limit',
      'limits[1].name',
      'limits[1].windowMs',
      'coalesce.maxBatch',
      'limits[2].algorithm',
      'onRedisDown',
    ]) {
      expect(message).toContain(part);
    }
  });

  it('never repeats an option value in its error message', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 8, maxLength: 40 }).filter((s) => /[{}]/.test(s) || s.length > 32),
        (secret) => {
          try {
            createRateLimiter({
              redis: fakeRedis,
              prefix: `x${secret}`,
              limits: [{ name: `n${secret}`, algorithm: 'fixed-window', limit: 1, windowMs: 1 }],
            });
          } catch (e) {
            expect((e as Error).message).not.toContain(secret);
            return;
          }
          throw new Error('expected a validation error');
        },
      ),
    );
  });

  it('refuses an unusable subject or cost with a typed error that does not echo it', async () => {
    const limiter = createRateLimiter({
      redis: fakeRedis,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 1_000 }],
    });
    const subject = `secret-${'s'.repeat(600)}`;
    const error = await limiter.consume(subject).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RateLimitError);
    expect((error as RateLimitError).code).toBe('ERR_RATE_LIMIT_INVALID_SUBJECT');
    expect((error as Error).message).not.toContain('secret-');
    await expect(limiter.consume('', {})).rejects.toMatchObject({ code: 'ERR_RATE_LIMIT_INVALID_SUBJECT' });
    for (const cost of [0, -1, 1.5, 6, Number.NaN]) {
      await expect(limiter.consume('k', { cost })).rejects.toMatchObject({ code: 'ERR_RATE_LIMIT_INVALID_ARGUMENT' });
    }
  });

  it('refuses a subject with a lone UTF-16 surrogate, which would share a bucket with U+FFFD', async () => {
    const limiter = createRateLimiter({
      redis: fakeRedis,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 1_000 }],
    });
    // UTF-8 encodes every lone surrogate as U+FFFD: these would all be one subject in Redis.
    for (const subject of ['secret-\uD800', 'secret-\uDBFF', 'secret-\uDC00x', '\uDFFF']) {
      for (const call of [
        () => limiter.consume(subject),
        () => limiter.get(subject),
        () => limiter.refund(subject),
        () => limiter.penalize(subject),
        () => limiter.block(subject, 1_000),
        () => limiter.reset(subject),
      ]) {
        const error = await call().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RateLimitError);
        expect((error as RateLimitError).code).toBe('ERR_RATE_LIMIT_INVALID_SUBJECT');
        expect((error as Error).message).not.toContain('secret-');
      }
    }
  });

  it('refuses a blockOnRejectMs whose µs are no safe integer, listed with the other problems', () => {
    let error: unknown;
    try {
      createRateLimiter({
        redis: fakeRedis,
        timeoutMs: 0,
        blockOnRejectMs: 9_007_199_254_741,
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 1_000 }],
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RedisStoreError);
    expect((error as RedisStoreError).code).toBe('ERR_REDIS_INVALID_OPTIONS');
    expect((error as Error).message).toMatch(/blockOnRejectMs.*\n.*timeoutMs|timeoutMs.*\n.*blockOnRejectMs/s);
    expect((error as Error).message).not.toContain('9007199254741');
    const largest = Math.floor(Number.MAX_SAFE_INTEGER / 1000);
    expect(() =>
      createRateLimiter({
        redis: fakeRedis,
        blockOnRejectMs: largest,
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 1_000 }],
      }),
    ).not.toThrow();
  });

  it('reports an unexpected script reply as a Redis failure under the policy', async () => {
    const limiter = createRateLimiter({
      redis: fakeRedis,
      onRedisDown: 'fail-open',
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 1_000 }],
    });
    expect((await limiter.consume('k')).source).toBe('fail-open');
  });

  it('exposes the scaled limits of its fallback and reports them in fallback decisions', async () => {
    const limits = [
      { name: 'w', algorithm: 'fixed-window', limit: 10, windowMs: 60_000 },
      { name: 'g', algorithm: 'gcra', limit: 10, windowMs: 1_000, burst: 30 },
    ] as const;
    expect(createRateLimiter({ redis: fakeRedis, limits: [...limits] }).fallbackLimits).toBeUndefined();
    expect(
      createRateLimiter({ redis: fakeRedis, onRedisDown: 'fail-open', limits: [...limits] }).fallbackLimits,
    ).toBeUndefined();
    const limiter = createRateLimiter({
      redis: fakeRedis,
      onRedisDown: { mode: 'fallback', limitScale: 0.25 },
      limits: [...limits],
    });
    expect(limiter.limits.map((l) => [l.limit, l.burst])).toEqual([
      [10, 10],
      [10, 30],
    ]);
    expect(limiter.fallbackLimits?.map((l) => [l.name, l.limit, l.windowMs, l.burst])).toEqual([
      ['w', 2, 60_000, 2],
      ['g', 2, 1_000, 7],
    ]);
    const decision = await limiter.consume('k');
    expect(decision.source).toBe('fallback');
    expect(decision.limits.map((l) => [l.limit, l.remaining])).toEqual([
      [2, 1],
      [2, 6],
    ]);
  });

  it('throws the Redis error for a cost its fallback could never admit, instead of a rejection that never clears', async () => {
    const limits = [{ name: 'w', algorithm: 'fixed-window', limit: 10, windowMs: 60_000 }] as const;
    const make = (shadow: boolean) =>
      createRateLimiter({
        redis: fakeRedis,
        onRedisDown: { mode: 'fallback', limitScale: 0.25 },
        limits: [...limits],
        shadow,
      });
    const limiter = make(false);
    // Scaled to 2 a minute: a cost of 3 fits Redis's limit but never the fallback's.
    const error = await limiter.consume('k', { cost: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).not.toBeInstanceOf(RateLimitError);
    await expect(limiter.consumeOrThrow('k', { cost: 3 })).rejects.toBeInstanceOf(RedisStoreError);
    // A cost it can admit is decided by it, and the subject's count was not touched above.
    expect(await limiter.consume('k', { cost: 2 })).toMatchObject({ allowed: true, source: 'fallback' });
    // Shadow mode never refuses: the fallback reports the request as limited.
    expect(await make(true).consume('k', { cost: 3 })).toMatchObject({ allowed: true, limited: true });
  });

  it('refuses a GCRA or token-bucket limit whose exact integer counting could pass 2^53, naming it and the fix', () => {
    const refusal = (options: Partial<Parameters<typeof createRateLimiter>[0]>): string => {
      try {
        createRateLimiter({ redis: fakeRedis, limits: [], ...options });
      } catch (e) {
        expect(e).toBeInstanceOf(RedisStoreError);
        expect((e as RedisStoreError).code).toBe('ERR_REDIS_INVALID_OPTIONS');
        return (e as RedisStoreError).message;
      }
      return '';
    };
    const year = 366 * 24 * 3_600_000;
    // 7 per 366 days: 3.16e13 µs per request; (2 × 100 + 100) × 3.16e13 ≈ 9.5e15 > 2^53 − 1.
    const message = refusal({ limits: [{ name: 'slow', algorithm: 'gcra', limit: 7, windowMs: year, burst: 100 }] });
    expect(message).toMatch(/limit 'slow'.*Redis script.*exceeds 2\^53 − 1.*shares more factors.*smaller burst/s);
    // 94 fits: (3 × 94) × 31622400000000 ≤ 2^53 − 1 < (3 × 95) × 31622400000000.
    expect(refusal({ limits: [{ name: 'slow', algorithm: 'gcra', limit: 7, windowMs: year, burst: 94 }] })).toBe('');
    // A rate that divides the window in µs counts in whole µs: a burst of 10^12 is fine.
    expect(refusal({ limits: [{ name: 'big', algorithm: 'gcra', limit: 1e12, windowMs: 1_000 }] })).toBe('');
    expect(
      refusal({
        limits: [
          { name: 'tb', algorithm: 'token-bucket', capacity: 1e12, refillAmount: 999_983, refillIntervalMs: 1_000 },
        ],
      }),
    ).toMatch(/limit 'tb' \(token-bucket/);
    // The largest cost is the smallest burst of the limiter: a small sibling limit lets it fit.
    const withSibling = [
      { name: 'slow', algorithm: 'gcra' as const, limit: 7, windowMs: year, burst: 140 },
      { name: 'w', algorithm: 'fixed-window' as const, limit: 1, windowMs: 1_000 },
    ];
    expect(refusal({ limits: withSibling })).toBe('');
    // limitScale can make the fallback's rate coprime with its window: 100 000 per minute counts
    // 600 units per request in µs ((3 × 10^12) × 600 fits), but scaled by 0.999999 it is 99 999 per
    // minute, 20 000 units per request in ms, and (999 999 000 000 + 10^12) × 20 000 does not.
    const limits = [{ name: 'f', algorithm: 'gcra' as const, limit: 100_000, windowMs: 60_000, burst: 1e12 }];
    const fallbackOnly = refusal({ limits, onRedisDown: { mode: 'fallback', limitScale: 0.999_999 } });
    expect(fallbackOnly).toMatch(/limit 'f'.*in the fallback \(scaled by limitScale 0.999999\)/s);
    expect(fallbackOnly).not.toMatch(/Redis script/);
    expect(refusal({ limits })).toBe('');
    expect(refusal({ limits, onRedisDown: { mode: 'fallback', limitScale: 0.5 } })).toBe('');
  });
});

describe('RateLimitError', () => {
  it('is a RedisStoreError with a stable code, a name and retryable only when retrying can help', () => {
    const exceeded = new RateLimitError('ERR_RATE_LIMIT_EXCEEDED', 'm', { retryAfterMs: 10 });
    expect(exceeded).toBeInstanceOf(RedisStoreError);
    expect(exceeded).toMatchObject({ name: 'RateLimitError', retryable: true, retryAfterMs: 10 });
    expect(new RateLimitError('ERR_RATE_LIMIT_INVALID_SUBJECT', 'm').retryable).toBe(false);
    expect(new RedisStoreError('ERR_REDIS_TIMEOUT', 'm')).toMatchObject({ name: 'RedisStoreError', retryable: true });
  });
});
