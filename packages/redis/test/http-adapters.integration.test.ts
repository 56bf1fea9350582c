import { once } from 'node:events';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { waitFor } from '@rampart/testkit';
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
  ipSubject,
  type LimitDefinition,
  type RateLimiter,
  type RateLimiterOptions,
  type RedisClient,
} from '../src/index.ts';
import { type ClosingServer, startClosingServer } from './fixtures/closing-server.ts';
import { awayFromMinuteEdge, singleNode, type Target } from './fixtures/targets.ts';
import { startWrongReplyProxy, type WrongReplyProxy } from './fixtures/wrong-reply-proxy.ts';

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

/** What a case adds to every adapter's app. */
interface AppHooks {
  /**
   * Awaited by the route handler before it answers (a throw answers 500); `clientGone` settles
   * when the response closes before the handler has answered: the client went away.
   */
  readonly handler?: (header: (name: string) => string | undefined, clientGone: Promise<void>) => Promise<void>;
  /**
   * Called by a middleware ahead of the rate limit once it has answered 504 a request sent with
   * `x-answer-early: 1`, on the next turn of the event loop: a timeout that fires while the
   * limiter decides, after which the request is passed on as such a middleware does.
   */
  readonly answeredEarly?: () => void;
  /**
   * A second rate limit on the route (app and router, hook and route hook): the `same` middleware
   * instance again, or `another` built from the same options.
   */
  readonly second?: 'same' | 'another';
}

/** Settles when `res` closes (before the handler has ended it, for a client that left). */
const closed = (res: ServerResponse): Promise<void> => new Promise((resolve) => res.once('close', () => resolve()));

/** The 504 of the middleware ahead of the rate limit in {@link AppHooks.answeredEarly}. */
const EARLY = { error: 'timeout' };

/**
 * Every adapter serves GET / → 200 `{"ok":true}` behind the middleware built from the same
 * options, with the case's hooks around it.
 */
const ADAPTERS: Record<string, (options: HttpRateLimitOptions, hooks: AppHooks) => Promise<App>> = {
  express: (options, hooks) => {
    const app = express();
    app.use((req, res, next) => {
      if (req.get('x-answer-early') === '1') {
        setImmediate(() => {
          res.status(504).json(EARLY);
          hooks.answeredEarly?.();
        });
      }
      next();
    });
    const limit = expressRateLimit(options);
    app.use(limit);
    const router = express.Router();
    if (hooks.second) router.use(hooks.second === 'same' ? limit : expressRateLimit(options));
    router.get('/', async (req, res) => {
      await hooks.handler?.((name) => req.get(name), closed(res));
      res.json({ ok: true });
    });
    app.use(router);
    return listen(createServer(app));
  },
  fastify: async (options, hooks) => {
    const app = Fastify();
    app.addHook('onRequest', async (request, reply) => {
      if (request.headers['x-answer-early'] === '1') {
        setImmediate(() => {
          void reply.code(504).send(EARLY);
          hooks.answeredEarly?.();
        });
      }
    });
    const limit = fastifyRateLimit(options);
    app.addHook('onRequest', limit);
    const second = hooks.second && { onRequest: hooks.second === 'same' ? limit : fastifyRateLimit(options) };
    app.get('/', second || {}, async (request, reply) => {
      const header = (name: string): string | undefined => request.headers[name] as string | undefined;
      await hooks.handler?.(header, closed(reply.raw));
      return { ok: true };
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  hono: (options, hooks) => {
    const app = new Hono<{ Bindings: { outgoing: ServerResponse } }>();
    app.use(async (c, next) => {
      if (c.req.header('x-answer-early') !== '1') return next();
      // hono's timeout middleware: the first of the rest of the chain and the timer answers.
      const timer = new Promise<'timeout'>((resolve) => setImmediate(() => resolve('timeout')));
      if ((await Promise.race([next().then(() => 'next' as const), timer])) === 'next') return undefined;
      setImmediate(() => hooks.answeredEarly?.());
      return c.json(EARLY, 504);
    });
    const limit = honoRateLimit(options);
    app.use(limit);
    if (hooks.second) app.use(hooks.second === 'same' ? limit : honoRateLimit(options));
    app.get('/', async (c) => {
      const outgoing = c.env.outgoing;
      await hooks.handler?.((name) => c.req.header(name), outgoing.closed ? Promise.resolve() : closed(outgoing));
      return c.json({ ok: true });
    });
    return listen(createAdaptorServer({ fetch: app.fetch }) as Server);
  },
  'node:http': (options, hooks) => {
    const limit = nodeRateLimit(options);
    const second = hooks.second === 'another' ? nodeRateLimit(options) : limit;
    const header = (req: IncomingMessage) => (name: string) => req.headers[name] as string | undefined;
    return listen(
      createServer(async (req, res) => {
        if (req.headers['x-answer-early'] === '1') {
          setImmediate(() => {
            res.statusCode = 504;
            res.setHeader('content-type', 'application/json');
            res.end(JSON.stringify(EARLY));
            hooks.answeredEarly?.();
          });
        }
        if (!(await limit(req, res))) return;
        if (hooks.second && !(await second(req, res))) return;
        try {
          await hooks.handler?.(header(req), closed(res));
        } catch {
          res.statusCode = 500;
          res.end();
          return;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true }));
      }),
    );
  },
};

/** GET `target` sent as written, e.g. in absolute form (`http://host/path`), which fetch never sends. */
function sendTarget(url: string, target: string): Promise<Response> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: hostname, port: Number(port), path: target, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', reject);
      res.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          if (typeof value === 'string') headers.set(name, value);
        }
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 0, headers }));
      });
    });
    req.on('error', reject);
    req.end();
  });
}

interface Ctx {
  /** A limiter on the test Redis with a fresh prefix. */
  limiter(limits: LimitDefinition[], extra?: Partial<RateLimiterOptions>): ReturnType<typeof createRateLimiter>;
  /** A limiter whose Redis is unreachable (default limit: 1 per minute, named `w`). */
  downLimiter(policy: RateLimiterOptions['onRedisDown'], limits?: LimitDefinition[]): RateLimiter;
  /** A fail-closed limiter whose scripts get a reply of the wrong shape (through a proxy to the test Redis). */
  wrongReplyLimiter(): RateLimiter;
}

/** `limiter` with another `consume`: how a service wraps a limiter (or passes `consumeOrThrow`). */
function withConsume(limiter: RateLimiter, consume: RateLimiter['consume']): RateLimiter {
  return {
    limits: limiter.limits,
    fallbackLimits: limiter.fallbackLimits,
    consume,
    consumeOrThrow: (subject, options) => limiter.consumeOrThrow(subject, options),
    get: (subject) => limiter.get(subject),
    refund: (subject, options) => limiter.refund(subject, options),
    penalize: (subject, options) => limiter.penalize(subject, options),
    block: (subject, durationMs) => limiter.block(subject, durationMs),
    reset: (subject) => limiter.reset(subject),
  };
}

/** The items of a `RateLimit` or `RateLimit-Policy` field: name → parameters. */
function fieldItems(value: string | null): Map<string, Record<string, string>> {
  const items = new Map<string, Record<string, string>>();
  for (const item of (value ?? '').split(', ')) {
    const [name = '', ...params] = item.split(';');
    items.set(JSON.parse(name) as string, Object.fromEntries(params.map((p) => p.split('=') as [string, string])));
  }
  return items;
}

/** The `for=` node of the first element of a `Forwarded` field, quotes kept (RFC 7239). */
const forwardedFor = (value: string | undefined): string | undefined =>
  /for=("[^"]*"|[^;,\s]*)/i.exec(value ?? '')?.[1];

interface Case {
  readonly name: string;
  options(ctx: Ctx): HttpRateLimitOptions;
  /** Built after `options`, so both may share state. */
  hooks?(): AppHooks;
  run(
    get: (
      headers?: Record<string, string>,
      init?: { path?: string; signal?: AbortSignal; absoluteForm?: boolean },
    ) => Promise<Response>,
  ): Promise<void>;
}

const jsonBody = async (res: Response): Promise<Record<string, unknown>> => {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (await res.json()) as Record<string, unknown>;
};

/** A 429 with a whole-second Retry-After of at most a minute and the JSON body that repeats it. */
const expectTooManyRequests = async (res: Response): Promise<void> => {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
  expect(await jsonBody(res)).toEqual({
    error: 'ERR_RATE_LIMIT_EXCEEDED',
    message: `Too many requests; retry after ${retryAfter} s.`,
    retryAfter,
  });
};

/**
 * The client aborts while the handler runs, which then answers or throws: the lease is held until
 * the handler is done with the response, not given back when the client leaves.
 */
function abortDuringHandler(ending: 'answers' | 'throws'): Case {
  let entered: Promise<void> = Promise.resolve();
  let gone: Promise<void> = Promise.resolve();
  let finish = (): void => {};
  return {
    name: `client aborts during the handler, which then ${ending} → lease held until the handler ends`,
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }]),
      key: () => 'client:one',
    }),
    hooks: () => {
      let enter = (): void => {};
      entered = new Promise((resolve) => {
        enter = resolve;
      });
      const finished = new Promise<void>((resolve) => {
        finish = resolve;
      });
      return {
        handler: async (header, clientGone) => {
          if (header('x-slow') !== '1') return;
          gone = clientGone;
          enter();
          await finished;
          if (ending === 'throws') throw new Error('the handler failed');
        },
      };
    },
    async run(get) {
      const abort = new AbortController();
      const slow = get({ 'x-slow': '1' }, { signal: abort.signal }).catch((error: unknown) => error);
      await entered;
      abort.abort();
      expect(await slow).toBeInstanceOf(Error);
      // The server has seen the client leave; the handler still runs and holds the lease.
      await gone;
      const during = await get();
      expect(during.status).toBe(429);
      await during.arrayBuffer();
      finish();
      // The lease lasts 60 s: a 200 within 5 s proves the handler's end released it.
      await waitFor(
        async () => {
          const res = await get();
          await res.arrayBuffer();
          return res.status === 200;
        },
        { timeoutMs: 5_000, what: 'the lease to be released once the handler ended' },
      );
    },
  };
}

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
      expect(res.headers.get('ratelimit')).toMatch(/^"minute";r=0;t=\d+$/);
      await expectTooManyRequests(res);
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
    name: 'advertises the scaled quota and burst on decisions of the fallback, with r never above q',
    options: (ctx) => ({
      limiter: ctx.downLimiter({ mode: 'fallback', maxKeys: 10, limitScale: 0.5 }, [
        // An hour: the fallback counts windows on this process's clock, which the minute-edge guard
        // above does not see.
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
    name: 'answers 500, not 400, when the limiter refuses a subject or cost the request did not cause',
    options: (ctx) => {
      const limiter = ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]);
      return {
        // A wrapper that misuses the limiter: a subject past 512 characters, a cost past the limit.
        limiter: withConsume(limiter, (subject) =>
          subject === 'client:long' ? limiter.consume(subject.repeat(60)) : limiter.consume(subject, { cost: 6 }),
        ),
        key: (req) => `client:${req.header('x-client-id') ?? 'anonymous'}`,
      };
    },
    async run(get) {
      for (const id of ['long', 'costly']) {
        const res = await get({ 'x-client-id': id });
        expect(res.status).toBe(500);
        expect(await res.text()).not.toContain('client:');
      }
    },
  },
  {
    name: 'refuses with 400 when the cost a request asks for is not one the limiter can charge',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      cost: (req) => Number(req.header('x-cost') ?? 1),
    }),
    async run(get) {
      for (const cost of ['6', '0', '1.5', '-1', 'NaN', '1e300']) {
        const res = await get({ 'x-cost': cost });
        expect(res.status).toBe(400);
        expect(await jsonBody(res)).toEqual({
          error: 'ERR_RATE_LIMIT_INVALID_ARGUMENT',
          message: 'The request cannot be rate limited as sent.',
        });
      }
      // Nothing was spent: the whole quota is left.
      expect((await get({ 'x-cost': '5' })).status).toBe(200);
    },
  },
  {
    name: 'keys a client named with a source port or in brackets the same as its bare address',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 }]),
      key: (req) => ipSubject(forwardedFor(req.header('forwarded'))),
    }),
    async run(get) {
      const as = (node: string) => get({ forwarded: `for=${node};proto=https` });
      for (const [nodes, other] of [
        [['"[2001:db8::1]:443"', '"[2001:db8::1]:444"', '"[2001:db8::1]"', '"2001:db8::1"'], '"[2001:db9::1]:443"'],
        [['"203.0.113.7:51234"', '"203.0.113.7:40000"', '203.0.113.7', '"203.0.113.7:_obf"'], '203.0.113.8'],
      ] as const) {
        const statuses: number[] = [];
        for (const node of nodes) {
          const res = await as(node);
          statuses.push(res.status);
          await res.arrayBuffer();
        }
        // One bucket of 2 for every form of the address; another address has its own.
        expect(statuses).toEqual([200, 200, 429, 429]);
        expect((await as(other)).status).toBe(200);
      }
      // A node that is no address in an accepted form keys nothing: 400, and no bucket is spent.
      for (const node of [
        '"203.0.113.9:99999"',
        '"[2001:db8::2]:x"',
        '"[2001:db8::2"',
        'unknown',
        '_hidden',
        '"a:b:c"',
      ]) {
        const res = await as(node);
        expect(res.status).toBe(400);
        expect(await jsonBody(res)).toMatchObject({ error: 'ERR_RATE_LIMIT_NO_KEY' });
      }
      expect((await as('"203.0.113.9:1"')).status).toBe(200);
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
  (() => {
    // Settles when the first decision of the case (the aborted request's) is in: its lease taken.
    let decided: Promise<void> = Promise.resolve();
    // Settles when the server is inside the slow key function: the request has arrived.
    let arrived: Promise<void> = Promise.resolve();
    return {
      name: 'releases a concurrency lease at once when the client goes away while the limiter decides',
      options: (ctx: Ctx): HttpRateLimitOptions => {
        const limiter = ctx.limiter([{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }]);
        let settle = (): void => {};
        decided = new Promise((resolve) => {
          settle = resolve;
        });
        let enter = (): void => {};
        arrived = new Promise((resolve) => {
          enter = resolve;
        });
        return {
          limiter: withConsume(limiter, async (subject, options) => {
            try {
              return await limiter.consume(subject, options);
            } finally {
              settle();
            }
          }),
          key: async (req) => {
            if (req.header('x-slow') === '1') {
              enter();
              await new Promise((resolve) => setTimeout(resolve, 300));
            }
            return 'client:one';
          },
        };
      },
      async run(get) {
        const abort = new AbortController();
        const slow = get({ 'x-slow': '1' }, { signal: abort.signal }).catch((error: unknown) => error);
        // Aborted once the server holds the request, so the limiter is sure to decide it.
        await arrived;
        abort.abort();
        expect(await slow).toBeInstanceOf(Error);
        // Past the slow key and its decision: the aborted request holds its lease, or already gave it back.
        await decided;
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
    } satisfies Case;
  })(),
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
  abortDuringHandler('answers'),
  abortDuringHandler('throws'),
  (() => {
    // Settles once the middleware ahead of the rate limit has answered 504.
    let answered: Promise<void> = Promise.resolve();
    // Settles when the limiter has decided the early-answered request.
    let decided: Promise<void> = Promise.resolve();
    let handled = 0;
    return {
      name: 'writes nothing, runs no handler and gives the lease back when the response was sent while the limiter decided',
      options: (ctx: Ctx): HttpRateLimitOptions => {
        const limiter = ctx.limiter([{ name: 'inflight', algorithm: 'concurrency', limit: 1, leaseMs: 60_000 }]);
        let settle = (): void => {};
        decided = new Promise((resolve) => {
          settle = resolve;
        });
        return {
          limiter: withConsume(limiter, async (subject, options) => {
            try {
              return await limiter.consume(subject, options);
            } finally {
              settle();
            }
          }),
          key: async (req) => {
            if (req.header('x-answer-early') === '1') await answered;
            return 'client:one';
          },
        };
      },
      hooks: (): AppHooks => {
        let answer = (): void => {};
        answered = new Promise((resolve) => {
          answer = resolve;
        });
        handled = 0;
        return {
          answeredEarly: () => answer(),
          handler: async (header) => {
            if (header('x-answer-early') === '1') handled++;
          },
        };
      },
      async run(get) {
        const res = await get({ 'x-answer-early': '1' });
        expect(res.status).toBe(504);
        expect(await res.json()).toEqual(EARLY);
        await decided;
        // The lease lasts 60 s: a 200 within 5 s proves it was given back.
        await waitFor(
          async () => {
            const next = await get();
            await next.arrayBuffer();
            return next.status === 200;
          },
          { timeoutMs: 5_000, what: 'the lease of the early-answered request to be given back' },
        );
        expect(handled).toBe(0);
      },
    } satisfies Case;
  })(),
  {
    name: 'shows the key function the path and query of an absolute-form request target',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      key: (req) => (req.url === '/?tenant=a' ? 'tenant:a' : undefined),
    }),
    async run(get) {
      // `GET http://127.0.0.1:port/?tenant=a HTTP/1.1`: a rule on the path must see `/?tenant=a`.
      const res = await get({}, { path: '/?tenant=a', absoluteForm: true });
      expect(res.status).toBe(200);
      expect(res.headers.get('ratelimit')).toMatch(/^"w";r=4;/);
      expect((await get({}, { path: '/?tenant=b', absoluteForm: true })).status).toBe(400);
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
  // "Redis down": a server of ours that drops every connection, not a free port someone could take.
  let down: ClosingServer;
  let proxy: WrongReplyProxy;
  let proxied: RedisClient;
  let counter = 0;
  const dead: Redis[] = [];
  beforeAll(async () => {
    target = await singleNode();
    redis = await target.connect();
    down = await startClosingServer();
    if (target.spec.kind !== 'single') throw new Error('the adapters run on a single node');
    const { hostname, port } = new URL(target.spec.url);
    proxy = await startWrongReplyProxy({ host: hostname, port: Number(port) });
    proxied = await proxy.connect();
  });
  afterAll(async () => {
    for (const d of dead) d.disconnect();
    await proxy?.stop();
    await down?.stop();
    redis?.disconnect();
    await target?.stop();
  });
  const ctx: Ctx = {
    limiter: (limits, extra = {}) =>
      createRateLimiter({ redis, prefix: `http${++counter}x${Date.now()}`, limits, timeoutMs: 2_000, ...extra }),
    downLimiter: (policy, limits = [{ name: 'w', algorithm: 'fixed-window', limit: 1, windowMs: 60_000 }]) => {
      const client = new Redis({
        port: down.port,
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
        limits,
        ...(policy === undefined ? {} : { onRedisDown: policy }),
      });
    },
    wrongReplyLimiter: () =>
      createRateLimiter({
        redis: proxied,
        prefix: `wrong${++counter}x${Date.now()}`,
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }],
        timeoutMs: 2_000,
      }),
  };

  it.each(CASES.map((c) => [c.name, c] as const))('%s', async (_name, testCase) => {
    const options = testCase.options(ctx);
    const app = await ADAPTERS[adapter]!(options, testCase.hooks?.() ?? {});
    try {
      await testCase.run((headers = {}, init = {}) => {
        const url = `${app.url}${init.path ?? '/'}`;
        if (init.absoluteForm) return sendTarget(app.url, url);
        return fetch(url, { headers, ...(init.signal ? { signal: init.signal } : {}) });
      });
    } finally {
      await app.close();
    }
  });
});

/**
 * Express and Fastify resolve the client address themselves (`trust proxy` / `trustProxy`, both
 * on proxy-addr), which hands an `X-Forwarded-For` entry over as written, port included.
 */
const BEHIND_A_PROXY: Record<string, (options: HttpRateLimitOptions) => Promise<App>> = {
  express: (options) => {
    const app = express();
    app.set('trust proxy', 'loopback');
    app.use(expressRateLimit(options));
    app.get('/', (_req, res) => {
      res.json({ ok: true });
    });
    return listen(createServer(app));
  },
  fastify: async (options) => {
    const app = Fastify({ trustProxy: '127.0.0.1' });
    app.addHook('onRequest', fastifyRateLimit(options));
    app.get('/', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
};

describe.each(Object.keys(BEHIND_A_PROXY))('%s behind a proxy that appends the source port', (adapter) => {
  let target: Target;
  let redis: RedisClient;
  let app: App;
  beforeAll(async () => {
    target = await singleNode();
    redis = await target.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });
  beforeEach(async () => {
    const limiter = createRateLimiter({
      redis,
      prefix: `xff-${adapter}-${Date.now()}`,
      timeoutMs: 2_000,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 }],
    });
    app = await BEHIND_A_PROXY[adapter]!({ limiter });
    return () => app.close();
  });
  const from = async (xff: string): Promise<Response> => {
    const res = await fetch(`${app.url}/`, { headers: { 'x-forwarded-for': xff } });
    await res.clone().arrayBuffer();
    return res;
  };

  it('keys every source port of a client, and its bare address, as one bucket', async () => {
    for (const [entries, other] of [
      [['203.0.113.7:51234', '203.0.113.7:40000', '203.0.113.7', '198.51.100.1, 203.0.113.7:1'], '203.0.113.8:51234'],
      [['[2001:db8::1]:443', '[2001:db8::1]:444', '2001:db8::1', '[2001:db8::1]'], '[2001:db9::1]:443'],
    ] as const) {
      const statuses: number[] = [];
      for (const entry of entries) statuses.push((await from(entry)).status);
      expect(statuses).toEqual([200, 200, 429, 429]);
      expect((await from(other)).status).toBe(200);
    }
  });

  it('refuses an entry that is no address with 400, spending no bucket, and never answers 500', async () => {
    for (const entry of [
      '203.0.113.9:99999',
      '203.0.113.9:abc',
      '[2001:db8::9',
      '[203.0.113.9]:80',
      'unknown',
      '"',
      'x'.repeat(300),
    ]) {
      const res = await from(entry);
      expect(res.status).toBe(400);
      expect(await jsonBody(res)).toMatchObject({ error: 'ERR_RATE_LIMIT_NO_KEY' });
    }
    expect((await from('203.0.113.9:1')).status).toBe(200);
    expect((await from('203.0.113.9:2')).status).toBe(200);
    expect((await from('203.0.113.9:3')).status).toBe(429);
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

  it('answers 400, not 500, when the ip option throws on a malformed request', async () => {
    const limiter = createRateLimiter({
      redis,
      prefix: `hono-ip-${Date.now()}`,
      timeoutMs: 2_000,
      limits: [{ name: 'm', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }],
    });
    const app = new Hono();
    // An ip function reading a proxy header it cannot parse, as a user might write one.
    app.use(
      honoRateLimit({
        limiter,
        ip: (c) => {
          const forwarded = c.req.header('x-client');
          if (forwarded === 'garbage') throw new Error('unparseable x-client');
          return forwarded;
        },
      }),
    );
    app.get('/', (c) => c.text('ok'));
    const server = await listen(createAdaptorServer({ fetch: app.fetch }) as Server);
    try {
      const bad = await fetch(`${server.url}/`, { headers: { 'x-client': 'garbage' } });
      expect(bad.status).toBe(400);
      expect(((await bad.json()) as { error: string }).error).toBe('ERR_RATE_LIMIT_NO_KEY');
      const good = await fetch(`${server.url}/`, { headers: { 'x-client': '203.0.113.7' } });
      expect(good.status).toBe(200);
      await good.arrayBuffer();
    } finally {
      await server.close();
    }
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
