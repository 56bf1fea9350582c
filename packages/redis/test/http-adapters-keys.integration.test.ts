import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { beforeEach, describe, expect, it } from 'vitest';
import { expressRateLimit } from '../src/adapters/express.ts';
import { fastifyRateLimit } from '../src/adapters/fastify.ts';
import { honoRateLimit } from '../src/adapters/hono.ts';
import { nodeRateLimit } from '../src/adapters/node-http.ts';
import { type HttpRateLimitOptions, ipSubject } from '../src/index.ts';
import {
  type App,
  type Case,
  describeBehaviourTable,
  jsonBody,
  listen,
  serveHono,
  useRedisLimiters,
  withConsume,
} from './fixtures/http-behaviour-table.ts';

/** The `for=` node of the first element of a `Forwarded` field, quotes kept (RFC 7239). */
const forwardedFor = (value: string | undefined): string | undefined =>
  /for=("[^"]*"|[^;,\s]*)/i.exec(value ?? '')?.[1];

/**
 * The adapters' behaviour table, keys and costs of a request: what the key function sees, and a
 * 400 (never a 500) for a request that cannot be keyed or charged as sent.
 */
const CASES: Case[] = [
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
      // A JSON-encoded id may decode to a lone UTF-16 surrogate, which Redis would store as U+FFFD.
      key: (req) => {
        const id = req.header('x-client-id');
        return id?.startsWith('"') ? (JSON.parse(id) as string) : id;
      },
    }),
    async run(get) {
      const res = await get({ 'x-client-id': 'x'.repeat(600) });
      expect(res.status).toBe(400);
      const body = await jsonBody(res);
      expect(body).toMatchObject({ error: 'ERR_RATE_LIMIT_INVALID_SUBJECT' });
      expect(JSON.stringify(body)).not.toContain('xxxx');
      for (const id of ['"a\\ud800"', '"a\\udbff"', '"a\\ufffd"']) {
        const lone = await get({ 'x-client-id': id });
        // U+FFFD itself is a well-formed subject; the lone surrogates that would share its bucket are not.
        expect(lone.status).toBe(id.includes('fffd') ? 200 : 400);
        if (lone.status === 400)
          expect(await jsonBody(lone)).toMatchObject({ error: 'ERR_RATE_LIMIT_INVALID_SUBJECT' });
      }
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
  (() => {
    let seen: (string | undefined)[] = [];
    return {
      name: 'shows the key function the first of a repeated Authorization or User-Agent header, as Node parses them',
      options: (ctx) => {
        seen = [];
        return {
          limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
          key: (req) => {
            seen.push(req.header('authorization'), req.header('user-agent'), req.header('x-tag'));
            return 'client:one';
          },
        };
      },
      async run(get) {
        const res = await get(
          {},
          {
            rawHeaders: [
              ...['authorization', 'Bearer one', 'Authorization', 'Bearer two'],
              ...['user-agent', 'agent/1', 'user-agent', 'agent/2'],
              ...['x-tag', 'a', 'x-tag', 'b'],
            ],
          },
        );
        expect(res.status).toBe(200);
        // One subject per credential whatever the framework: Node keeps the first of these
        // single-value headers and joins the others.
        expect(seen).toEqual(['Bearer one', 'agent/1', 'a, b']);
      },
    } satisfies Case;
  })(),
  {
    name: 'awaits an async skip or cost, and refuses with 400 when one rejects',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]),
      // As a JavaScript caller writes them: looking the request up before deciding.
      skip: async (req) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (req.header('x-skip') === 'fail') throw new Error('lookup failed');
        return req.header('x-health') === '1';
      },
      cost: async (req) => {
        await new Promise((resolve) => setImmediate(resolve));
        if (req.header('x-cost') === 'fail') throw new Error('lookup failed');
        return Number(req.header('x-cost') ?? 1);
      },
    }),
    async run(get) {
      for (let i = 0; i < 3; i++) {
        const res = await get({ 'x-health': '1' });
        expect(res.status).toBe(200);
        expect(res.headers.get('ratelimit')).toBeNull();
      }
      for (const [headers, error] of [
        [{ 'x-skip': 'fail' }, 'ERR_RATE_LIMIT_NO_KEY'],
        [{ 'x-cost': 'fail' }, 'ERR_RATE_LIMIT_INVALID_ARGUMENT'],
      ] as const) {
        const res = await get(headers);
        expect(res.status).toBe(400);
        const body = await jsonBody(res);
        expect(body).toMatchObject({ error });
        expect(JSON.stringify(body)).not.toContain('lookup');
      }
      // Skipped and refused requests spent nothing; the cost asked for is charged.
      expect((await get({ 'x-cost': '4' })).headers.get('ratelimit')).toMatch(/^"w";r=1;/);
      expect((await get({ 'x-cost': '2' })).status).toBe(429);
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
    name: 'charges an absolute-form target with dot segments by the route that serves it',
    options: (ctx) => ({
      limiter: ctx.limiter([{ name: 'w', algorithm: 'fixed-window', limit: 10, windowMs: 60_000 }]),
      // Searches are expensive: a client must not get one at the price of GET /.
      cost: (req) => (req.url.startsWith('/search/') ? 10 : 1),
    }),
    async run(get) {
      // `GET http://127.0.0.1:port/search/%2e%2e?q=x`: Express, Fastify and the node:http app route
      // the raw path to /search/:q; @hono/node-server hands Hono the URL-parsed target, routed to /.
      const res = await get({}, { path: '/search/%2e%2e?q=x', absoluteForm: true });
      expect(res.status).toBe(200);
      const served = (await jsonBody(res)).search === true ? 'search' : 'root';
      const ratelimit = res.headers.get('ratelimit');
      expect({ served, ratelimit }).toEqual({
        served,
        ratelimit: expect.stringMatching(served === 'search' ? /^"w";r=0;/ : /^"w";r=9;/),
      });
    },
  },
];

describeBehaviourTable(CASES);

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
  const limiterOn = useRedisLimiters();
  let app: App;
  beforeEach(async () => {
    const limiter = limiterOn(`xff-${adapter}`, [{ name: 'w', algorithm: 'fixed-window', limit: 2, windowMs: 60_000 }]);
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
  const limiterOn = useRedisLimiters();

  it('answers 400, not 500, when the ip option throws on a malformed request', async () => {
    const limiter = limiterOn('hono-ip', [{ name: 'm', algorithm: 'fixed-window', limit: 5, windowMs: 60_000 }]);
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
    const server = await serveHono(app);
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
});

/**
 * The client address a framework resolves may throw (a `trust proxy` function of the user's that
 * cannot parse a hop): no identity, answered 400 by every adapter as by Hono's `ip` option, never 500.
 * proxy-addr asks the trust function about every hop but the last, from the socket on: the
 * loopback socket is trusted, then BAD_HOP throws.
 */
const BAD_HOP = '198.51.100.66';
const THROWS = `203.0.113.9, ${BAD_HOP}`;
const THROWING_IP: Record<string, (options: HttpRateLimitOptions) => Promise<App>> = {
  express: (options) => {
    const app = express();
    app.set('trust proxy', (address: string) => {
      if (address === BAD_HOP) throw new Error('unparseable hop');
      return address === '127.0.0.1';
    });
    app.use(expressRateLimit(options));
    app.get('/', (_req, res) => {
      res.json({ ok: true });
    });
    return listen(createServer(app));
  },
  fastify: async (options) => {
    const app = Fastify({
      trustProxy: (address: string) => {
        if (address === BAD_HOP) throw new Error('unparseable hop');
        return address === '127.0.0.1';
      },
    });
    app.addHook('onRequest', fastifyRateLimit(options));
    app.get('/', async () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { url: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
  'node:http': (options) => {
    const limit = nodeRateLimit(options);
    return listen(
      createServer(async (req, res) => {
        // A socket whose address getter throws, for this request only.
        const garbage = req.headers['x-forwarded-for'] === THROWS;
        if (garbage) {
          Object.defineProperty(req.socket, 'remoteAddress', {
            configurable: true,
            get: () => {
              throw new Error('no address');
            },
          });
        }
        let admitted: boolean;
        try {
          admitted = await limit(req, res);
        } finally {
          if (garbage) Reflect.deleteProperty(req.socket, 'remoteAddress');
        }
        if (!admitted) return;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ ok: true }));
      }),
    );
  },
};

describe.each(Object.keys(THROWING_IP))('%s with a client address that throws', (adapter) => {
  const limiterOn = useRedisLimiters();

  it('answers 400 ERR_RATE_LIMIT_NO_KEY, not 500, and keys other requests as usual', async () => {
    const limiter = limiterOn(`ip-throws-${adapter}`, [
      { name: 'w', algorithm: 'fixed-window', limit: 1, windowMs: 60_000 },
    ]);
    const app = await THROWING_IP[adapter]!({ limiter });
    try {
      const bad = await fetch(`${app.url}/`, { headers: { 'x-forwarded-for': THROWS } });
      expect(bad.status).toBe(400);
      expect(await jsonBody(bad)).toEqual({
        error: 'ERR_RATE_LIMIT_NO_KEY',
        message: 'The request carries no client identity the rate limit can use.',
      });
      // Nothing was spent: the one request of the quota is still there.
      const good = await fetch(`${app.url}/`, { headers: { 'x-forwarded-for': '203.0.113.7' } });
      expect(good.status).toBe(200);
      await good.arrayBuffer();
    } finally {
      await app.close();
    }
  });
});
