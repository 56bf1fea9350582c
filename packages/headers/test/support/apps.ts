/**
 * The same application on every adapter: the behaviour table runs against each of these, so one
 * table proves every framework behaves alike.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import * as expressAdapter from '../../src/adapters/express.ts';
import * as fastifyAdapter from '../../src/adapters/fastify.ts';
import * as honoAdapter from '../../src/adapters/hono.ts';
import * as nodeAdapter from '../../src/adapters/node-http.ts';
import type { CrossSiteOptions } from '../../src/cross-site.ts';
import { getNonce } from '../../src/nonce.ts';
import type { SecurityHeaders } from '../../src/security-headers.ts';

export interface AppSpec {
  readonly policy: SecurityHeaders;
  readonly guard: CrossSiteOptions;
  /** Treat `x-forwarded-proto: https` as TLS (to test HSTS-only-over-TLS without certificates). */
  readonly forwardedProtoIsSecure?: boolean;
}

export interface RunningApp {
  readonly base: string;
  close(): Promise<void>;
}

export interface AdapterUnderTest {
  readonly name: string;
  start(spec: AppSpec): Promise<RunningApp>;
}

const page = (nonce: string | undefined): string =>
  `<!doctype html><html><body><p id="out">waiting</p><script nonce="${nonce}">document.getElementById('out').textContent='ran'</script></body></html>`;

const forwarded = (value: string | string[] | undefined): boolean => value === 'https';

function listenNode(server: Server): Promise<RunningApp> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        base: `http://127.0.0.1:${port}`,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/** Serves a Hono app with `@hono/node-server` on a free port of 127.0.0.1. */
export function serveHono(app: { fetch: (request: Request) => Response | Promise<Response> }): Promise<RunningApp> {
  return new Promise((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({
        base: `http://127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as Server).closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * Serves a Hono app with {@link serveHono}, sends one request to `path` with {@link send}, and closes
 * the server again (also when the request fails).
 */
export async function sendToHono(
  app: { fetch: (request: Request) => Response | Promise<Response> },
  path: string,
): Promise<HttpResult> {
  const { base, close } = await serveHono(app);
  try {
    return await send(`${base}${path}`);
  } finally {
    await close();
  }
}

export const expressApp: AdapterUnderTest = {
  name: 'express',
  async start({ policy, guard, forwardedProtoIsSecure }) {
    const app = express();
    const opts = forwardedProtoIsSecure
      ? { isSecure: (req: express.Request) => forwarded(req.headers['x-forwarded-proto']) }
      : {};
    app.use(expressAdapter.securityHeaders(policy, opts));
    app.get('/page', (_req, res) => {
      res.type('html').send(page(res.locals.cspNonce as string | undefined));
    });
    app.get('/nonce', (req, res) => {
      res.json({ locals: res.locals.cspNonce ?? null, helper: getNonce(req) ?? null });
    });
    app.get('/json', (_req, res) => {
      res.json({ ok: true });
    });
    app.get('/download', expressAdapter.routeHeaders(policy.forDownload(), opts), (_req, res) => {
      res.type('text/plain').send('file');
    });
    app.get(
      '/widget',
      expressAdapter.routeHeaders(policy.forEmbedding(['https://partner.example']), opts),
      (_req, res) => {
        res.type('html').send('<p>widget</p>');
      },
    );
    app.get('/oauth', expressAdapter.routeHeaders(policy.forOAuthPopup(), opts), (_req, res) => {
      res.type('html').send('<p>oauth</p>');
    });
    app.get('/leaky', (_req, res) => {
      res.setHeader('Server', 'leaky/1.0');
      res.setHeader('X-Powered-By', 'leaky');
      res.setHeader('Cache-Control', 'public, max-age=600');
      res.json({ ok: true });
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.post('/form', expressAdapter.crossSiteGuard(guard), (_req, res) => {
      res.json({ saved: true });
    });
    return listenNode(createServer(app));
  },
};

export const fastifyApp: AdapterUnderTest = {
  name: 'fastify',
  async start({ policy, guard, forwardedProtoIsSecure }) {
    const app = Fastify();
    const opts = forwardedProtoIsSecure
      ? {
          isSecure: (request: { headers: IncomingMessage['headers'] }) =>
            forwarded(request.headers['x-forwarded-proto']),
        }
      : {};
    await app.register(fastifyAdapter.securityHeaders(policy, opts));
    app.get('/page', (request, reply) => {
      reply.type('text/html; charset=utf-8').send(page(request.cspNonce));
    });
    app.get('/nonce', (request) => ({ locals: request.cspNonce ?? null, helper: getNonce(request) ?? null }));
    app.get('/json', () => ({ ok: true }));
    app.get('/download', { onRequest: fastifyAdapter.routeHeaders(policy.forDownload(), opts) }, (_request, reply) => {
      reply.type('text/plain').send('file');
    });
    app.get(
      '/widget',
      { onRequest: fastifyAdapter.routeHeaders(policy.forEmbedding(['https://partner.example']), opts) },
      (_request, reply) => {
        reply.type('text/html').send('<p>widget</p>');
      },
    );
    app.get('/oauth', { onRequest: fastifyAdapter.routeHeaders(policy.forOAuthPopup(), opts) }, (_request, reply) => {
      reply.type('text/html').send('<p>oauth</p>');
    });
    app.get('/leaky', (_request, reply) => {
      reply
        .header('Server', 'leaky/1.0')
        .header('X-Powered-By', 'leaky')
        .header('Cache-Control', 'public, max-age=600')
        .send({ ok: true });
    });
    app.get('/boom', async () => {
      throw new Error('boom');
    });
    app.post('/form', { onRequest: fastifyAdapter.crossSiteGuard(guard) }, () => ({ saved: true }));
    // Hijacked replies skip onSend; the policy must reach them too.
    app.get('/hijacked', (request, reply) => {
      reply.hijack();
      reply.raw.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      reply.raw.end(page(request.cspNonce));
    });
    app.get(
      '/hijacked-download',
      { onRequest: fastifyAdapter.routeHeaders(policy.forDownload(), opts) },
      (_request, reply) => {
        reply.hijack();
        reply.raw.setHeader('Cache-Control', 'public, max-age=600');
        reply.raw.end('file');
      },
    );
    await app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = app.server.address() as AddressInfo;
    return { base: `http://127.0.0.1:${port}`, close: () => app.close() };
  },
};

export const honoApp: AdapterUnderTest = {
  name: 'hono',
  async start({ policy, guard, forwardedProtoIsSecure }) {
    const app = new Hono<{ Variables: honoAdapter.SecurityHeadersVariables }>();
    const opts = forwardedProtoIsSecure
      ? {
          isSecure: (c: { req: { header(n: string): string | undefined } }) =>
            forwarded(c.req.header('x-forwarded-proto')),
        }
      : {};
    app.use(honoAdapter.securityHeaders(policy, opts));
    // An application's error handler; the policy must still reach its response.
    app.onError((_error, c) => c.json({ error: 'internal server error' }, 500));
    app.get('/page', (c) => c.html(page(c.get('cspNonce'))));
    app.get('/nonce', (c) => c.json({ locals: c.get('cspNonce') ?? null, helper: getNonce(c) ?? null }));
    app.get('/json', (c) => c.json({ ok: true }));
    app.get('/download', honoAdapter.routeHeaders(policy.forDownload(), opts), (c) => c.text('file'));
    app.get('/widget', honoAdapter.routeHeaders(policy.forEmbedding(['https://partner.example']), opts), (c) =>
      c.html('<p>widget</p>'),
    );
    app.get('/oauth', honoAdapter.routeHeaders(policy.forOAuthPopup(), opts), (c) => c.html('<p>oauth</p>'));
    app.get('/leaky', (c) => {
      c.header('Server', 'leaky/1.0');
      c.header('X-Powered-By', 'leaky');
      c.header('Cache-Control', 'public, max-age=600');
      return c.json({ ok: true });
    });
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.post('/form', honoAdapter.crossSiteGuard(guard), (c) => c.json({ saved: true }));
    return serveHono(app);
  },
};

export const nodeApp: AdapterUnderTest = {
  name: 'node:http',
  async start({ policy, guard, forwardedProtoIsSecure }) {
    const opts = forwardedProtoIsSecure
      ? { isSecure: (req: IncomingMessage) => forwarded(req.headers['x-forwarded-proto']) }
      : {};
    const guardFn = nodeAdapter.crossSiteGuard(guard);
    const json = (res: ServerResponse, status: number, body: unknown): void => {
      res.statusCode = status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(body));
    };
    const html = (res: ServerResponse, body: string): void => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(body);
    };
    const handler = (req: IncomingMessage, res: ServerResponse): unknown => {
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (req.method === 'GET' && path === '/page') return html(res, page(getNonce(req)));
      if (req.method === 'GET' && path === '/nonce') {
        return json(res, 200, { locals: getNonce(res) ?? null, helper: getNonce(req) ?? null });
      }
      if (req.method === 'GET' && path === '/json') return json(res, 200, { ok: true });
      if (req.method === 'GET' && path === '/download') {
        nodeAdapter.routeHeaders(req, res, policy.forDownload(), opts);
        res.setHeader('content-type', 'text/plain; charset=utf-8');
        return void res.end('file');
      }
      if (req.method === 'GET' && path === '/widget') {
        nodeAdapter.routeHeaders(req, res, policy.forEmbedding(['https://partner.example']), opts);
        return html(res, '<p>widget</p>');
      }
      if (req.method === 'GET' && path === '/oauth') {
        nodeAdapter.routeHeaders(req, res, policy.forOAuthPopup(), opts);
        return html(res, '<p>oauth</p>');
      }
      if (req.method === 'GET' && path === '/leaky') {
        res.setHeader('Server', 'leaky/1.0');
        res.setHeader('X-Powered-By', 'leaky');
        res.setHeader('Cache-Control', 'public, max-age=600');
        return json(res, 200, { ok: true });
      }
      if (req.method === 'GET' && path === '/boom') throw new Error('boom');
      if (req.method === 'POST' && path === '/form') {
        if (!guardFn(req, res)) return;
        return json(res, 200, { saved: true });
      }
      return json(res, 404, { error: 'not found' });
    };
    return listenNode(createServer(nodeAdapter.withSecurityHeaders(policy, handler, opts)));
  },
};

export const ADAPTERS: readonly AdapterUnderTest[] = [expressApp, fastifyApp, honoApp, nodeApp];

export interface HttpResult {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** A raw HTTP request, so tests can send Origin and Sec-Fetch-* as a browser would. */
export async function send(
  url: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<HttpResult> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: init.headers ?? {},
    ...(init.body === undefined ? {} : { body: init.body }),
  });
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    headers[name] = value;
  });
  return { status: response.status, headers, body: await response.text() };
}

/** Headers every server adds that are not part of a security policy. */
const TRANSPORT = new Set([
  'date',
  'connection',
  'keep-alive',
  'content-length',
  'content-type',
  'transfer-encoding',
  'etag',
]);

/** The response's headers minus transport headers: what the policy must match exactly. */
export function policyHeaders(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([name]) => !TRANSPORT.has(name)));
}
