import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { getFreePort, waitFor } from '@rampart/testkit';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { expressRateLimit } from '../src/adapters/express.ts';
import { fastifyRateLimit } from '../src/adapters/fastify.ts';
import { honoRateLimit } from '../src/adapters/hono.ts';
import { nodeRateLimit } from '../src/adapters/node-http.ts';
import {
  createRateLimiter,
  type HttpRateLimitOptions,
  type LimitDefinition,
  type RateLimiterOptions,
  type RedisClient,
} from '../src/index.ts';
import { awayFromMinuteEdge, singleNode, type Target } from './fixtures/targets.ts';

// Counts in 60 s fixed windows must not straddle a minute boundary.
beforeEach(() => awayFromMinuteEdge());

interface App {
  readonly url: string;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<App> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Every adapter serves GET / → 200 "ok" behind the middleware built from the same options. */
const ADAPTERS: Record<string, (options: HttpRateLimitOptions) => Promise<App>> = {
  express: (options) => {
    const app = express();
    app.use(expressRateLimit(options));
    app.get('/', (_req, res) => {
      res.json({ ok: true });
    });
    return listen(createServer(app));
  },
  fastify: async (options) => {
    const app = Fastify();
    app.addHook('onRequest', fastifyRateLimit(options));
    app.get('/', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  hono: (options) => {
    const app = new Hono();
    app.use(honoRateLimit(options));
    app.get('/', (c) => c.json({ ok: true }));
    return listen(createAdaptorServer({ fetch: app.fetch }) as Server);
  },
  'node:http': (options) => {
    const limit = nodeRateLimit(options);
    return listen(
      createServer(async (req, res) => {
        if (!(await limit(req, res))) return;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true }));
      }),
    );
  },
};

interface Ctx {
  /** A limiter on the test Redis with a fresh prefix. */
  limiter(limits: LimitDefinition[], extra?: Partial<RateLimiterOptions>): ReturnType<typeof createRateLimiter>;
  /** A limiter whose Redis is unreachable. */
  downLimiter(policy: RateLimiterOptions['onRedisDown']): ReturnType<typeof createRateLimiter>;
}

interface Case {
  readonly name: string;
  options(ctx: Ctx): HttpRateLimitOptions;
  run(
    get: (headers?: Record<string, string>, init?: { path?: string; signal?: AbortSignal }) => Promise<Response>,
  ): Promise<void>;
}

const jsonBody = async (res: Response): Promise<Record<string, unknown>> => {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
};

/** The one behaviour table every adapter must pass. */
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
      expect(res.status).toBe(429);
      const retryAfter = Number(res.headers.get('retry-after'));
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
      expect(res.headers.get('ratelimit')).toMatch(/^"minute";r=0;t=\d+$/);
      expect(await jsonBody(res)).toEqual({
        error: 'ERR_RATE_LIMIT_EXCEEDED',
        message: `Too many requests; retry after ${retryAfter} s.`,
        retryAfter,
      });
    },
  },
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
    name: 'refuses with 400 when the key function finds no identity',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      key: (req) => {
        const id = req.header('x-client-id');
        return id ? `client:${id}` : undefined;
      },
    }),
    async run(get) {
      const res = await get();
      expect(res.status).toBe(400);
      expect(await jsonBody(res)).toMatchObject({ error: 'ERR_RATE_LIMIT_NO_KEY' });
      expect((await get({ 'x-client-id': 'a' })).status).toBe(200);
    },
  },
  {
    name: 'refuses with 400, not 500, when the key is unusable',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      key: (req) => req.header('x-client-id'),
    }),
    async run(get) {
      const res = await get({ 'x-client-id': 'x'.repeat(600) });
      expect(res.status).toBe(400);
      const body = await jsonBody(res);
      expect(body).toMatchObject({ error: 'ERR_RATE_LIMIT_INVALID_SUBJECT' });
      expect(JSON.stringify(body)).not.toContain('xxxx');
    },
  },
  {
    name: 'refuses with 400, not 500, when the key, skip or cost function throws on a malformed request',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      key: (req) => `client:${decodeURIComponent(req.header('x-client-id') ?? 'anonymous')}`,
      skip: (req) => JSON.parse(req.header('x-skip') ?? 'false') === true,
      cost: (req) => {
        const cost = req.header('x-cost');
        if (cost !== undefined && !/^\d+$/.test(cost)) throw new TypeError(`bad cost ${cost}`);
        return Number(cost ?? 1);
      },
    }),
    async run(get) {
      for (const [headers, error] of [
        [{ 'x-client-id': '%E0%A4%A' }, 'ERR_RATE_LIMIT_NO_KEY'],
        [{ 'x-skip': '{' }, 'ERR_RATE_LIMIT_NO_KEY'],
        [{ 'x-cost': 'many' }, 'ERR_RATE_LIMIT_INVALID_ARGUMENT'],
      ] as const) {
        const res = await get(headers);
        expect(res.status).toBe(400);
        const body = await jsonBody(res);
        expect(body).toMatchObject({ error });
        // What the function threw (it may quote the request) is not echoed.
        expect(JSON.stringify(body)).not.toMatch(/%E0|many|JSON|URI/);
      }
      expect((await get({ 'x-client-id': 'a%20b' })).status).toBe(200);
    },
  },
  {
    name: 'shows the key function the path and query of the request',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      key: (req) => (req.url === '/?tenant=a' ? 'tenant:a' : undefined),
    }),
    async run(get) {
      expect((await get({}, { path: '/?tenant=a' })).status).toBe(200);
      expect((await get({}, { path: '/?tenant=b' })).status).toBe(400);
    },
  },
  {
    name: 'releases a concurrency lease at once when the client goes away while the limiter decides',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }]),
      key: async (req) => {
        if (req.header('x-slow') === '1') await new Promise((resolve) => setTimeout(resolve, 300));
        return 'client:one';
      },
    }),
    async run(get) {
      const abort = new AbortController();
      const slow = get({ 'x-slow': '1' }, { signal: abort.signal }).catch((error: unknown) => error);
      setTimeout(() => abort.abort(), 50);
      expect(await slow).toBeInstanceOf(Error);
      // Past the slow key: the aborted request has taken its lease by now.
      await new Promise((resolve) => setTimeout(resolve, 500));
      // The lease lasts 60 s: a 200 within 5 s proves it was released, not left to expire.
      await waitFor(
        async () => {
          const res = await get();
          await res.arrayBuffer();
          return res.status === 200;
        },
        { timeoutMs: 5_000, what: 'the lease of the aborted request to be released' },
      );
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
    name: 'releases a concurrency lease when the response ends',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }]),
    }),
    async run(get) {
      const first = await get();
      expect(first.status).toBe(200);
      expect(first.headers.get('ratelimit-policy')).toBe('"inflight";q=1;qu="concurrent-requests"');
      await first.arrayBuffer();
      // The lease ends on the response's 'close', which may come just after the client has the
      // body; the lease itself lasts 60 s, so a 200 within 5 s proves the release.
      for (let i = 0; i < 3; i++) {
        await waitFor(
          async () => {
            const res = await get();
            await res.arrayBuffer();
            return res.status === 200;
          },
          { timeoutMs: 5_000, what: 'the lease to be released' },
        );
      }
    },
  },
];

describe.each(Object.keys(ADAPTERS))('%s adapter', (adapter) => {
  let target: Target;
  let redis: RedisClient;
  let deadPort: number;
  let counter = 0;
  const dead: Redis[] = [];
  beforeAll(async () => {
    target = await singleNode();
    redis = await target.connect();
    deadPort = await getFreePort();
  });
  afterAll(async () => {
    for (const d of dead) d.disconnect();
    redis?.disconnect();
    await target?.stop();
  });
  const ctx: Ctx = {
    limiter: (limits, extra = {}) =>
      createRateLimiter({ redis, prefix: `http${++counter}x${Date.now()}`, limits, timeoutMs: 2_000, ...extra }),
    downLimiter: (policy) => {
      const client = new Redis({
        port: deadPort,
        host: '127.0.0.1',
        lazyConnect: true,
        enableOfflineQueue: false,
        retryStrategy: () => null,
      });
      client.on('error', () => {});
      dead.push(client);
      return createRateLimiter({
        redis: client,
        prefix: 'down',
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 1, windowMs: 60_000 }],
        ...(policy === undefined ? {} : { onRedisDown: policy }),
      });
    },
  };

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const app = await ADAPTERS[adapter]!(testCase.options(ctx));
    try {
      await testCase.run((headers = {}, init = {}) =>
        fetch(`${app.url}${init.path ?? '/'}`, { headers, ...(init.signal ? { signal: init.signal } : {}) }),
      );
    } finally {
      await app.close();
    }
  });
});

describe('hono adapter with a streamed response', () => {
  let target: Target;
  let redis: RedisClient;
  beforeAll(async () => {
    target = await singleNode();
    redis = await target.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  it('holds a concurrency lease until the streamed body has been sent, as the other adapters do', async () => {
    const limiter = createRateLimiter({
      redis,
      prefix: `hono-stream-${Date.now()}`,
      timeoutMs: 2_000,
      limits: [{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }],
    });
    const app = new Hono();
    app.use(honoRateLimit({ limiter, key: () => 'client:one' }));
    let finish: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      finish = resolve;
    });
    app.get('/stream', () => {
      const encoder = new TextEncoder();
      const body = new ReadableStream<Uint8Array>({
        async start(controller) {
          controller.enqueue(encoder.encode('first '));
          await finished;
          controller.enqueue(encoder.encode('last'));
          controller.close();
        },
      });
      return new Response(body, { headers: { 'content-type': 'text/plain' } });
    });
    app.get('/', (c) => c.text('ok'));
    const server = await listen(createAdaptorServer({ fetch: app.fetch }) as Server);
    try {
      const streaming = await fetch(`${server.url}/stream`);
      expect(streaming.status).toBe(200);
      const reader = streaming.body!.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toBe('first ');
      // The first response is still being sent: its lease is held.
      const during = await fetch(`${server.url}/`);
      expect(during.status).toBe(429);
      await during.arrayBuffer();
      finish();
      while (!(await reader.read()).done);
      await waitFor(
        async () => {
          const res = await fetch(`${server.url}/`);
          await res.arrayBuffer();
          return res.status === 200;
        },
        { timeoutMs: 5_000, what: 'the lease to be released once the stream ended' },
      );
    } finally {
      finish();
      await server.close();
    }
  });
});
