import { expect } from 'vitest';
import {
  type Case,
  describeBehaviourTable,
  expectTooManyRequests,
  withConsume,
} from './fixtures/http-behaviour-table.ts';

/**
 * The adapters' behaviour table, quotas: what the RateLimit fields advertise, when a request is
 * answered 429, and what one request is charged (skipped, a cost, shadow mode, mounted twice).
 */
const CASES: Case[] = [
  {
    name: 'advertises every named policy and what is left of each',
    options: (ctx) => ({
      limiter: ctx.limiter([
        { name: 'burst', algorithm: 'gcra', limit: 5, windowMs: 1_000 },
        { name: 'hour', algorithm: 'fixed-window', limit: 100, windowMs: 3_600_000 },
      ]),
    }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit-policy')).toBe('"burst";q=5;w=1, "hour";q=100;w=3600');
      expect(res.headers.get('ratelimit')).toMatch(/^"burst";r=4;t=1, "hour";r=99;t=\d+$/);
      expect(res.headers.get('retry-after')).toBeNull();
    },
  },
  {
    name: 'answers 429 with a JSON body, Retry-After and r=0 once a limit is spent',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'minute', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 }]),
    }),
    async run(get) {
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(200);
      const res = await get();
      expect(res.headers.get('ratelimit')).toMatch(/^"minute";r=0;t=\d+$/);
      await expectTooManyRequests(res);
    },
  },
  {
    name: 'answers 429 when the limiter throws ERR_RATE_LIMIT_EXCEEDED (a limiter that throws on rejection)',
    options: (ctx) => {
      const limiter = ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 1, windowMs: 60_000 }]);
      return { limiter: withConsume(limiter, (subject, options) => limiter.consumeOrThrow(subject, options)) };
    },
    async run(get) {
      expect((await get()).status).toBe(200);
      const res = await get();
      // The same headers as a returned rejection: the error carries its decision.
      expect(res.headers.get('ratelimit-policy')).toBe('"w";q=1;w=60');
      expect(res.headers.get('ratelimit')).toMatch(/^"w";r=0;t=\d+$/);
      await expectTooManyRequests(res);
    },
  },
  {
    name: 'lets limited requests through in shadow mode, still reporting r=0',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 1, windowMs: 60_000 }], { shadow: true }),
    }),
    async run(get) {
      await get();
      const res = await get();
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toMatch(/^"w";r=0;/);
    },
  },
  {
    name: 'reports in shadow mode what remained before a limited request: nothing was spent',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }], { shadow: true }),
      cost: (req) => Number(req.header('x-cost') ?? 1),
    }),
    async run(get) {
      expect((await get({ 'x-cost': '2' })).headers.get('ratelimit')).toMatch(/^"w";r=1;/);
      // A cost of 2 exceeds the 1 left: limited, let through, and the 1 is still there.
      const res = await get({ 'x-cost': '2' });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toMatch(/^"w";r=1;/);
      expect((await get({ 'x-cost': '1' })).headers.get('ratelimit')).toMatch(/^"w";r=0;/);
    },
  },
  {
    name: 'does not count skipped requests',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 1, windowMs: 60_000 }]),
      skip: (req) => req.header('x-health') === '1',
    }),
    async run(get) {
      for (let i = 0; i < 3; i++) {
        const res = await get({ 'x-health': '1' });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      expect((await get()).status).toBe(200);
      expect((await get()).status).toBe(429);
    },
  },
  {
    name: 'charges the cost the request asks for',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      cost: (req) => Number(req.header('x-cost') ?? 1),
    }),
    async run(get) {
      expect((await get({ 'x-cost': '4' })).headers.get('ratelimit')).toMatch(/^"w";r=1;/);
      expect((await get({ 'x-cost': '2' })).status).toBe(429);
      expect((await get({ 'x-cost': '1' })).status).toBe(200);
    },
  },
  {
    name: 'counts a request once when the same middleware is mounted twice',
    options: (ctx) => ({
      limiter: ctx.limiter([
        { name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 },
        { name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 },
      ]),
    }),
    hooks: () => ({ second: 'same' }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toMatch(/^"w";r=2;/);
      await res.arrayBuffer();
    },
  },
  {
    name: 'counts a request in each of two middleware instances, even on one limiter',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }]),
    }),
    hooks: () => ({ second: 'another' }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      // Both counted it: 2 of 3 spent, so the next request passes the first and not the second.
      expect((await get()).status).toBe(429);
    },
  },
];

describeBehaviourTable(CASES);
