import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { RateLimitError, RedisStoreError, type RedisStoreErrorCode } from '../errors.ts';
import { createRateLimiter, type RateLimiter } from '../rate-limit/rate-limiter.ts';
import { createHttpRateLimit, type HttpRateLimitOptions } from './http-rate-limit.ts';

/** Never called: these tests only build middleware. */
const redis = { status: 'wait', options: {}, evalsha: () => Promise.reject(new Error('unused')) } as unknown as Redis;
const limiter = createRateLimiter({
  redis,
  limits: [
    { name: 'w', algorithm: 'fixed-window', limit: 100, windowMs: 60_000 },
    { name: 'g', algorithm: 'gcra', limit: 10, windowMs: 1_000, burst: 5 },
  ],
});

/** `limiter` whose `consume` throws `error` (a wrapped limiter); the middleware calls nothing else. */
function throwing(error: Error): RateLimiter {
  const consume = (): Promise<never> => Promise.reject(error);
  return { limits: limiter.limits, fallbackLimits: limiter.fallbackLimits, consume } as unknown as RateLimiter;
}

const request = { ip: '203.0.113.7', method: 'GET', url: '/', header: () => undefined };

function problems(options: HttpRateLimitOptions): string {
  try {
    createHttpRateLimit(options);
  } catch (error) {
    expect(error).toBeInstanceOf(RedisStoreError);
    expect((error as RedisStoreError).code).toBe('ERR_REDIS_INVALID_OPTIONS');
    return (error as Error).message;
  }
  throw new Error('expected ERR_REDIS_INVALID_OPTIONS');
}

describe('createHttpRateLimit', () => {
  it('refuses at construction a fixed cost the limiter can never charge, instead of a 400 per request', () => {
    for (const cost of [0, -1, 2.5, 6, 987_654, Number.NaN]) {
      const message = problems({ limiter, cost });
      expect(message).toContain('cost must be a function or an integer from 1 to 5');
      expect(message).not.toContain('987654');
    }
    for (const cost of [1, 5, () => 6]) expect(() => createHttpRateLimit({ limiter, cost })).not.toThrow();
  });

  it('counts the scaled bursts of the fallback policy: a cost it could never charge there is refused too', () => {
    const scaled = createRateLimiter({
      redis,
      limits: [{ name: 'g', algorithm: 'gcra', limit: 10, windowMs: 1_000 }],
      onRedisDown: { mode: 'fallback', limitScale: 0.1 },
    });
    expect(problems({ limiter: scaled, cost: 5 })).toContain('cost must be a function or an integer from 1 to 1');
    expect(() => createHttpRateLimit({ limiter: scaled, cost: 1 })).not.toThrow();
  });

  it('lists every problem of the options at once', () => {
    const message = problems({
      limiter: {} as never,
      key: 'ip' as never,
      skip: true as never,
      cost: '1' as never,
      headers: 'no' as never,
    });
    for (const part of ['limiter', 'key', 'skip', 'cost', 'headers']) expect(message).toContain(`- ${part}`);
  });

  it('sends Retry-After with a 503 only for a Redis error that is retryable', async () => {
    const codes: RedisStoreErrorCode[] = ['ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_TIMEOUT', 'ERR_REDIS_UNEXPECTED_REPLY'];
    for (const code of codes) {
      const error = new RedisStoreError(code, 'm');
      const outcome = await createHttpRateLimit({ limiter: throwing(error) })(request);
      expect(outcome).toMatchObject({ kind: 'reject', status: 503, body: { error: code } });
      const retryAfter = outcome.headers.find(([name]) => name === 'retry-after')?.[1];
      expect(retryAfter).toBe(error.retryable ? '1' : undefined);
      expect('retryAfter' in (outcome.kind === 'reject' ? outcome.body : {})).toBe(error.retryable);
    }
  });

  it('refuses with 400 a request target with no path, before skip, key or cost see it', async () => {
    const seen: string[] = [];
    const decide = createHttpRateLimit({
      limiter: throwing(new Error('never consumed')),
      skip: (req) => {
        seen.push(req.url);
        return false;
      },
    });
    for (const url of ['*', 'example.com:443', 'http://[::1/']) {
      const outcome = await decide({ ...request, url });
      expect(outcome).toMatchObject({
        kind: 'reject',
        status: 400,
        body: { error: 'ERR_RATE_LIMIT_INVALID_ARGUMENT' },
      });
    }
    expect(seen).toEqual([]);
  });

  it('shows skip, key and cost the path and query of an absolute-form target, the rest of the view kept', async () => {
    const seen: unknown[] = [];
    const decide = createHttpRateLimit({
      limiter: throwing(new RedisStoreError('ERR_REDIS_UNAVAILABLE', 'm')),
      key: (req) => {
        seen.push([req.url, req.method, req.header('x'), (req as typeof req & { clientId?: string }).clientId]);
        return 'client:one';
      },
    });
    await decide({ ...request, url: 'http://example.com/expensive?a=1', header: () => 'h', clientId: 'c' } as never);
    expect(seen).toEqual([['/expensive?a=1', 'GET', 'h', 'c']]);
  });

  it('refuses with 400 a key with a lone UTF-16 surrogate, before the limiter sees it', async () => {
    const decide = createHttpRateLimit({
      limiter: throwing(new Error('never consumed')),
      // A key decoded from the request (JSON `"\\ud800"`) can hold half a surrogate pair.
      key: (req) => `client:${JSON.parse(req.header('x-client') ?? '""')}`,
    });
    for (const client of ['"a\\ud800"', '"a\\udbff"', '"\\udc00b"']) {
      const outcome = await decide({ ...request, header: () => client });
      expect(outcome).toMatchObject({ kind: 'reject', status: 400, body: { error: 'ERR_RATE_LIMIT_INVALID_SUBJECT' } });
      expect(JSON.stringify(outcome)).not.toContain('client:');
    }
  });

  it('answers a thrown rejection that carries no decision with RateLimit-Policy and its retryAfterMs', async () => {
    const error = new RateLimitError('ERR_RATE_LIMIT_EXCEEDED', 'm', { retryAfterMs: 2_500 });
    const outcome = await createHttpRateLimit({ limiter: throwing(error) })(request);
    expect(outcome).toMatchObject({ kind: 'reject', status: 429, body: { retryAfter: 3 } });
    expect(outcome.headers).toEqual([
      ['ratelimit-policy', '"w";q=100;w=60, "g";q=5;w=1'],
      ['retry-after', '3'],
    ]);
  });
});
