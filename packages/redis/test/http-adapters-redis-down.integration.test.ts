import { expect } from 'vitest';
import { type Case, describeBehaviourTable, jsonBody, withConsume } from './fixtures/http-behaviour-table.ts';

/** The items of a `RateLimit` or `RateLimit-Policy` field: name → parameters. */
function fieldItems(value: string | null): Map<string, Record<string, string>> {
  const items = new Map<string, Record<string, string>>();
  for (const item of (value ?? '').split(', ')) {
    const [name = '', ...params] = item.split(';');
    items.set(JSON.parse(name) as string, Object.fromEntries(params.map((p) => p.split('=') as [string, string])));
  }
  return items;
}

/**
 * The adapters' behaviour table, Redis down or answering wrongly: 503 when fail-closed, requests
 * served when fail-open, and the in-process fallback's scaled quota when it decides.
 */
const CASES: Case[] = [
  {
    name: 'answers 503 with Retry-After when Redis is down and the policy is fail-closed',
    options: (ctx) => ({ limiter: ctx.downLimiter('fail-closed') }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await jsonBody(res)).toMatchObject({ error: 'ERR_REDIS_UNAVAILABLE' });
    },
  },
  {
    name: 'serves requests without a RateLimit field when Redis is down and the policy is fail-open',
    options: (ctx) => ({ limiter: ctx.downLimiter('fail-open') }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toBeNull();
      expect(res.headers.get('ratelimit-policy')).toBe('"w";q=1;w=60');
    },
  },
  {
    name: 'limits from the in-process fallback when Redis is down and the policy is fallback',
    options: (ctx) => ({ limiter: ctx.downLimiter({ mode: 'fallback', maxKeys: 10 }) }),
    async run(get) {
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(429);
    },
  },
  {
    name: 'advertises the scaled quota and burst on decisions of the fallback, with r never above q',
    options: (ctx) => ({
      limiter: ctx.downLimiter({ mode: 'fallback', maxKeys: 10, limitScale: 0.5 }, [
        // An hour: the fallback counts windows on this process's clock, which the minute-edge guard
        // of the table does not see.
        { name: 'hour', algorithm: 'fixed-window', limit: 10, windowMs: 3_600_000 },
        // 10 per second, bursts of 20: in fallback 5 per second, bursts of 10.
        { name: 'burst', algorithm: 'gcra', limit: 10, windowMs: 1_000, burst: 20 },
      ]),
    }),
    async run(get) {
      const first = await get();
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBe('"hour";q=5;w=3600, "burst";q=10;w=2');
      expect(first.headers.get('ratelimit')).toMatch(/^"hour";r=4;t=\d+, "burst";r=9;t=1$/);
      const statuses: number[] = [first.status];
      for (let i = 0; i < 5; i++) {
        const res = await get();
        statuses.push(res.status);
        expect(res.headers.get('ratelimit-policy')).toBe('"hour";q=5;w=3600, "burst";q=10;w=2');
        const policy = fieldItems(res.headers.get('ratelimit-policy'));
        for (const [name, { r }] of fieldItems(res.headers.get('ratelimit'))) {
          expect(Number(r)).toBeLessThanOrEqual(Number(policy.get(name)?.q));
        }
        if (res.status === 429) expect(res.headers.get('ratelimit')).toMatch(/^"hour";r=0;/);
      }
      // The scaled hourly quota (5) is what applied.
      expect(statuses).toEqual([200, 200, 200, 200, 200, 429]);
    },
  },
  {
    name: 'advertises the scaled quota on a rejection the fallback throws, as on one it returns',
    options: (ctx) => {
      const limiter = ctx.downLimiter({ mode: 'fallback', maxKeys: 10, limitScale: 0.5 }, [
        { name: 'hour', algorithm: 'fixed-window', limit: 2, windowMs: 3_600_000 },
      ]);
      return { limiter: withConsume(limiter, (subject, options) => limiter.consumeOrThrow(subject, options)) };
    },
    async run(get) {
      expect((await get()).status).toBe(200);
      const res = await get();
      expect(res.status).toBe(429);
      expect(res.headers.get('ratelimit-policy')).toBe('"hour";q=1;w=3600');
      expect(res.headers.get('ratelimit')).toMatch(/^"hour";r=0;t=\d+$/);
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    },
  },
  {
    name: 'answers 503 without Retry-After when Redis replies with something the script cannot have sent',
    options: (ctx) => ({ limiter: ctx.wrongReplyLimiter() }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(503);
      // Not retryable: waiting a second does not fix a reply of the wrong shape.
      expect(res.headers.get('retry-after')).toBeNull();
      expect(res.headers.get('ratelimit')).toBeNull();
      expect(await jsonBody(res)).toEqual({
        error: 'ERR_REDIS_UNEXPECTED_REPLY',
        message: 'The rate limiter is unavailable.',
      });
    },
  },
  {
    name: 'answers 503 when the fallback decides a cost above its scaled burst, not a 429 that never comes true',
    options: (ctx) => ({
      // In fallback 2 an hour: a cost of 3 fits the limit in Redis but can never fit the fallback.
      limiter: ctx.downLimiter({ mode: 'fallback', maxKeys: 10, limitScale: 0.5 }, [
        { name: 'hour', algorithm: 'fixed-window', limit: 4, windowMs: 3_600_000 },
      ]),
      cost: (req) => Number(req.header('x-cost') ?? 1),
    }),
    async run(get) {
      const res = await get({ 'x-cost': '3' });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('1');
      expect(await jsonBody(res)).toEqual({
        error: 'ERR_REDIS_UNAVAILABLE',
        message: 'The rate limiter is unavailable; retry shortly.',
        retryAfter: 1,
      });
      // A cost the fallback can charge is decided by it as usual: admitted, then the hour is spent.
      expect((await get({ 'x-cost': '2' })).status).toBe(200);
      const spent = await get({ 'x-cost': '1' });
      expect(spent.status).toBe(429);
      expect(await jsonBody(spent)).toMatchObject({ error: 'ERR_RATE_LIMIT_EXCEEDED' });
    },
  },
];

describeBehaviourTable(CASES);
