import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fastifyHelmet from '@fastify/helmet';
import express from 'express';
import Fastify from 'fastify';
import helmet from 'helmet';
import { Hono } from 'hono';
import { NONCE, secureHeaders } from 'hono/secure-headers';
import inject from 'light-my-request';
import { defineBench } from '../../../scripts/bench/harness.ts';
import * as expressAdapter from '../src/adapters/express.ts';
import * as fastifyAdapter from '../src/adapters/fastify.ts';
import * as honoAdapter from '../src/adapters/hono.ts';
import * as nodeAdapter from '../src/adapters/node-http.ts';
import { apiPreset, type SecurityHeaders, scoreHeaders, webAppPreset } from '../src/index.ts';

type NodeHandler = (req: IncomingMessage, res: ServerResponse) => void;
const BODY = '{"ok":true}';

/** helmet's README pattern for a per-request nonce: a middleware before helmet, a directive function. */
function helmetWithNonce(): NodeHandler[] {
  const nonce: NodeHandler = (_req, res) => {
    (res as ServerResponse & { locals: Record<string, string> }).locals = {
      cspNonce: randomBytes(16).toString('base64'),
    };
  };
  const h = helmet({
    contentSecurityPolicy: {
      directives: {
        scriptSrc: [(_req, res) => `'nonce-${(res as unknown as { locals: { cspNonce: string } }).locals.cspNonce}'`],
      },
    },
  }) as unknown as (req: IncomingMessage, res: ServerResponse, next: () => void) => void;
  return [nonce, (req, res) => h(req, res, () => undefined)];
}

/** The same pattern as Express middleware (helmet's README). */
function expressHelmetWithNonce(): express.RequestHandler[] {
  return [
    (_req, res, next) => {
      res.locals.cspNonce = randomBytes(16).toString('base64');
      next();
    },
    helmet({
      contentSecurityPolicy: {
        directives: {
          scriptSrc: [(_req, res) => `'nonce-${(res as unknown as { locals: { cspNonce: string } }).locals.cspNonce}'`],
        },
      },
    }) as unknown as express.RequestHandler,
  ];
}

function expressApp(middleware: express.RequestHandler[]): express.Express {
  const app = express();
  for (const m of middleware) app.use(m);
  app.get('/', (_req, res) => {
    res.type('application/json').send(BODY);
  });
  return app;
}

async function fastifyApp(plugin: 'ours-api' | 'ours-web' | 'helmet'): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify();
  if (plugin === 'helmet') await app.register(fastifyHelmet);
  else await app.register(fastifyAdapter.securityHeaders(plugin === 'ours-api' ? apiPreset() : webAppPreset()));
  app.get('/', (_request, reply) => {
    reply.type('application/json').send(BODY);
  });
  await app.ready();
  return app;
}

function honoApp(middleware: ReturnType<typeof secureHeaders> | ReturnType<typeof honoAdapter.securityHeaders>): Hono {
  const app = new Hono();
  app.use(middleware as ReturnType<typeof secureHeaders>);
  app.get('/', (c) => c.body(BODY, 200, { 'content-type': 'application/json' }));
  return app;
}

function nodeHandler(policy: SecurityHeaders): NodeHandler {
  return nodeAdapter.withSecurityHeaders(policy, (_req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  });
}

function nodeHelmet(chain: NodeHandler[]): NodeHandler {
  return (req, res) => {
    for (const step of chain) step(req, res);
    res.setHeader('content-type', 'application/json');
    res.end(BODY);
  };
}

/** Median CPU microseconds per call over interleaved rounds: steadier than wall time on a shared machine. */
async function cpuMicros(
  ours: () => Promise<unknown>,
  peer: () => Promise<unknown>,
  quick: boolean,
): Promise<{ ours: number; peer: number }> {
  // Each injected request leaves a setImmediate behind (~10 KB reachable until it runs) and this
  // loop never lets the event loop turn, so the counts stay small.
  const calls = quick ? 300 : 1000;
  const rounds = quick ? 3 : 5;
  const measure = async (fn: () => Promise<unknown>): Promise<number> => {
    const start = process.cpuUsage();
    for (let i = 0; i < calls; i++) await fn();
    const used = process.cpuUsage(start);
    return (used.user + used.system) / calls;
  };
  await measure(ours);
  await measure(peer);
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < rounds; r++) {
    if (r % 2 === 0) {
      a.push(await measure(ours));
      b.push(await measure(peer));
    } else {
      b.push(await measure(peer));
      a.push(await measure(ours));
    }
  }
  const med = (v: number[]): number => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)] as number;
  return { ours: med(a), peer: med(b) };
}

const plainHelmet = helmet() as unknown as (req: IncomingMessage, res: ServerResponse, next: () => void) => void;

export default defineBench('@rampart/headers', async (b) => {
  const note = 'per request, in-process injection (no sockets); target ≤ 1.2× helmet cost';

  // Express 5: ours vs helmet() on the same app.
  const exApi = expressApp([expressAdapter.securityHeaders(apiPreset())]);
  const exHelmet = expressApp([helmet() as unknown as express.RequestHandler]);
  await b.compare('express: apiPreset vs helmet()', {
    ours: async () => void (await inject(exApi, { url: '/' })),
    peer: { name: 'helmet() 8.3', fn: async () => void (await inject(exHelmet, { url: '/' })) },
    note,
  });
  const exWeb = expressApp([expressAdapter.securityHeaders(webAppPreset())]);
  const exHelmetNonce = expressApp(expressHelmetWithNonce());
  await b.compare('express: webAppPreset (nonce) vs helmet + README nonce', {
    ours: async () => void (await inject(exWeb, { url: '/' })),
    peer: {
      name: 'helmet() + res.locals nonce',
      fn: async () => void (await inject(exHelmetNonce, { url: '/' })),
    },
    note,
  });

  // Fastify 5: ours vs @fastify/helmet (helmet wrapped for Fastify).
  const fyApi = await fastifyApp('ours-api');
  const fyWeb = await fastifyApp('ours-web');
  const fyHelmet = await fastifyApp('helmet');
  await b.compare('fastify: apiPreset vs @fastify/helmet', {
    ours: async () => void (await fyApi.inject({ url: '/' })),
    peer: { name: '@fastify/helmet 13', fn: async () => void (await fyHelmet.inject({ url: '/' })) },
    note,
  });
  await b.compare('fastify: webAppPreset (nonce) vs @fastify/helmet', {
    ours: async () => void (await fyWeb.inject({ url: '/' })),
    peer: { name: '@fastify/helmet 13', fn: async () => void (await fyHelmet.inject({ url: '/' })) },
    note,
  });

  // Hono 4: helmet needs node req/res, so the peer is Hono's own secureHeaders().
  const hoApi = honoApp(honoAdapter.securityHeaders(apiPreset()));
  const hoWeb = honoApp(honoAdapter.securityHeaders(webAppPreset()));
  const hoPeer = honoApp(secureHeaders());
  // Hono's own nonce support, with the same CSP shape as the web-app preset.
  const hoPeerNonce = honoApp(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: [NONCE, "'strict-dynamic'"],
        styleSrc: ["'self'", NONCE],
        objectSrc: ["'none'"],
        baseUri: ["'none'"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  await b.compare('hono: apiPreset vs hono/secure-headers', {
    ours: () => hoApi.request('/'),
    peer: { name: 'hono secureHeaders()', fn: () => hoPeer.request('/') },
    note: 'helmet cannot run on Hono; the peer is the framework\u2019s own middleware',
  });
  await b.compare('hono: webAppPreset (nonce) vs hono/secure-headers (NONCE)', {
    ours: () => hoWeb.request('/'),
    peer: { name: 'hono secureHeaders() + NONCE', fn: () => hoPeerNonce.request('/') },
    note: 'both generate a nonce per request',
  });

  // node:http: ours vs helmet called directly.
  const noApi = nodeHandler(apiPreset());
  const noWeb = nodeHandler(webAppPreset());
  const noHelmet = nodeHelmet([(req, res) => plainHelmet(req, res, () => undefined)]);
  const noHelmetNonce = nodeHelmet(helmetWithNonce());
  await b.compare('node:http: apiPreset vs helmet()', {
    ours: async () => void (await inject(noApi, { url: '/' })),
    peer: { name: 'helmet() 8.3', fn: async () => void (await inject(noHelmet, { url: '/' })) },
    note,
  });
  await b.compare('node:http: webAppPreset (nonce) vs helmet + README nonce', {
    ours: async () => void (await inject(noWeb, { url: '/' })),
    peer: { name: 'helmet() + res.locals nonce', fn: async () => void (await inject(noHelmetNonce, { url: '/' })) },
    note,
  });

  // The header computation alone, without a framework.
  const web = webAppPreset();
  const sink = { setHeader: (_n: string, _v: string) => undefined, removeHeader: (_n: string) => undefined };
  const chain = helmetWithNonce();
  await b.compare('header values per response (no framework)', {
    ours: () => web.applyTo(sink.setHeader, { secure: true, nonce: web.newNonce() }),
    peer: {
      name: 'helmet + README nonce',
      fn: () => {
        for (const step of chain) step({} as IncomingMessage, sink as unknown as ServerResponse);
      },
    },
    note: 'pure header work: nonce + CSP + fixed headers',
  });

  // CPU time per request: the figure to read against the 1.2× target on a loaded machine.
  const cpuPairs: [string, () => Promise<unknown>, () => Promise<unknown>, string][] = [
    [
      'express apiPreset',
      async () => inject(exApi, { url: '/' }),
      async () => inject(exHelmet, { url: '/' }),
      'helmet() 8.3',
    ],
    [
      'express webAppPreset',
      async () => inject(exWeb, { url: '/' }),
      async () => inject(exHelmetNonce, { url: '/' }),
      'helmet() + res.locals nonce',
    ],
    [
      'fastify apiPreset',
      async () => fyApi.inject({ url: '/' }),
      async () => fyHelmet.inject({ url: '/' }),
      '@fastify/helmet 13',
    ],
    [
      'fastify webAppPreset',
      async () => fyWeb.inject({ url: '/' }),
      async () => fyHelmet.inject({ url: '/' }),
      '@fastify/helmet 13',
    ],
    ['hono apiPreset', async () => hoApi.request('/'), async () => hoPeer.request('/'), 'hono secureHeaders()'],
    [
      'hono webAppPreset',
      async () => hoWeb.request('/'),
      async () => hoPeerNonce.request('/'),
      'hono secureHeaders() + NONCE',
    ],
    [
      'node:http apiPreset',
      async () => inject(noApi, { url: '/' }),
      async () => inject(noHelmet, { url: '/' }),
      'helmet() 8.3',
    ],
    [
      'node:http webAppPreset',
      async () => inject(noWeb, { url: '/' }),
      async () => inject(noHelmetNonce, { url: '/' }),
      'helmet() + res.locals nonce',
    ],
  ];
  for (const [operation, ours, peer, peerName] of cpuPairs) {
    const figures = await cpuMicros(ours, peer, b.quick);
    b.record({
      operation: `${operation}: CPU per request`,
      ours: figures.ours,
      peer: figures.peer,
      peerName,
      unit: 'µs CPU',
      higherIsBetter: false,
      note: 'process.cpuUsage over whole injected requests; target ≤ 1.2× the peer',
    });
  }

  // Not throughput: the Observatory score each side earns over HTTPS.
  const helmetHeaders: Record<string, string> = {};
  plainHelmet(
    {} as IncomingMessage,
    {
      setHeader: (n: string, v: string) => (helmetHeaders[n] = v),
      removeHeader: () => undefined,
    } as unknown as ServerResponse,
    () => undefined,
  );
  const nonce = web.newNonce();
  b.record({
    operation: 'Observatory score over HTTPS: webAppPreset vs helmet()',
    ours: scoreHeaders(web.headersFor({ secure: true, nonce })).score,
    peer: scoreHeaders(helmetHeaders).score,
    peerName: 'helmet() 8.3',
    unit: 'points',
    higherIsBetter: true,
    note:
      'scoreHeaders(); A+ ≥ 100; apiPreset scores ' +
      String(scoreHeaders(apiPreset().headersFor({ secure: true })).score),
  });
  await Promise.all([fyApi.close(), fyWeb.close(), fyHelmet.close()]);
});
