import { createServer, IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import express from 'express';
import Fastify, { type FastifyInstance } from 'fastify';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { securityHeaders as expressSecurityHeaders } from '../src/adapters/express.ts';
import {
  type FrameworkErrorsHandler,
  routeHeaders as fastifyRouteHeaders,
  frameworkErrors,
  securityHeaders,
} from '../src/adapters/fastify.ts';
import { crossSiteGuard as honoCrossSiteGuard, securityHeaders as honoSecurityHeaders } from '../src/adapters/hono.ts';
import { applySecurityHeaders, withSecurityHeaders } from '../src/adapters/node-http.ts';
import { apiPreset, HeadersError, webAppPreset } from '../src/index.ts';
import { ADAPTERS, policyHeaders, type RunningApp, send, sendToHono } from './support/apps.ts';
import {
  API_HEADERS,
  downloadHeaders,
  nonceOf,
  oauthHeaders,
  webAppHeaders,
  widgetHeaders,
} from './support/expected.ts';
import { rawRequest } from './support/raw-request.ts';

const ALLOWED = 'https://app.example';
const guard = { allowedOrigins: [ALLOWED], environment: 'production' };

/** Expected policy headers for a path, given the preset's base set. */
function expectedFor(path: string, base: Record<string, string>): Record<string, string> {
  if (path === '/download') return downloadHeaders(base);
  if (path === '/widget') return widgetHeaders(base);
  if (path === '/oauth') return oauthHeaders(base);
  return base;
}

// Every path, including a framework 404 and an unhandled error, must carry the same policy.
const PATHS = [
  ['/page', 200],
  ['/json', 200],
  ['/leaky', 200],
  ['/download', 200],
  ['/widget', 200],
  ['/oauth', 200],
  ['/missing', 404],
  ['/boom', 500],
] as const;

describe.each(ADAPTERS)('$name adapter', (adapter) => {
  describe('apiPreset', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await adapter.start({ policy: apiPreset(), guard });
    });
    afterAll(() => app.close());

    it.each(PATHS)('sends exactly the API header set on %s (status %i)', async (path, status) => {
      const res = await send(`${app.base}${path}`);
      expect(res.status).toBe(status);
      expect(policyHeaders(res.headers)).toEqual(expectedFor(path, API_HEADERS));
    });

    it('removes X-Powered-By and Server and keeps the policy Cache-Control even when the handler set them', async () => {
      const res = await send(`${app.base}/leaky`);
      expect(res.headers['x-powered-by']).toBeUndefined();
      expect(res.headers.server).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('exposes no nonce when the policy has none', async () => {
      const res = await send(`${app.base}/nonce`);
      expect(JSON.parse(res.body)).toEqual({ locals: null, helper: null });
    });
  });

  describe('webAppPreset', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await adapter.start({ policy: webAppPreset(), guard });
    });
    afterAll(() => app.close());

    it.each(PATHS)('sends exactly the web-app header set on %s (status %i)', async (path, status) => {
      const res = await send(`${app.base}${path}`);
      expect(res.status).toBe(status);
      const csp = res.headers['content-security-policy'];
      const base = path === '/download' ? webAppHeaders('unused') : webAppHeaders(nonceOf(csp));
      expect(policyHeaders(res.headers)).toEqual(expectedFor(path, base));
    });

    it('puts the same nonce in the CSP and in the page', async () => {
      const res = await send(`${app.base}/page`);
      const nonce = nonceOf(res.headers['content-security-policy']);
      expect(res.body).toContain(`nonce="${nonce}"`);
      expect(Buffer.from(nonce, 'base64')).toHaveLength(16);
    });

    it('exposes the nonce to templates and through getNonce(req)', async () => {
      const res = await send(`${app.base}/nonce`);
      const body = JSON.parse(res.body) as { locals: string; helper: string };
      expect(body.locals).toBe(nonceOf(res.headers['content-security-policy']));
      expect(body.helper).toBe(body.locals);
    });

    it('never lets a nonce page be cached', async () => {
      const res = await send(`${app.base}/page`);
      expect(res.headers['cache-control']).toBe('no-store');
    });

    it('sends a fresh nonce on each of 1,000 requests', async () => {
      const seen = new Set<string>();
      for (let batch = 0; batch < 20; batch++) {
        const responses = await Promise.all(Array.from({ length: 50 }, () => send(`${app.base}/json`)));
        for (const res of responses) seen.add(nonceOf(res.headers['content-security-policy']));
      }
      expect(seen.size).toBe(1000);
    });
  });

  describe('download variant of a Report-Only, cacheable base policy', () => {
    const BASE = apiPreset({
      reportOnly: true,
      reporting: { endpoint: '/csp-reports' },
      cacheControl: 'public, max-age=3600',
    });
    const { 'content-security-policy': csp, ...rest } = API_HEADERS;
    const expectedBase = {
      ...rest,
      'content-security-policy-report-only': `${csp};report-uri /csp-reports;report-to csp-endpoint`,
      'cache-control': 'public, max-age=3600',
      'reporting-endpoints': 'csp-endpoint="/csp-reports"',
    };
    let app: RunningApp;
    beforeAll(async () => {
      app = await adapter.start({ policy: BASE, guard });
    });
    afterAll(() => app.close());

    it('sends the base policy as configured on other routes', async () => {
      const res = await send(`${app.base}/json`);
      expect(policyHeaders(res.headers)).toEqual(expectedBase);
    });

    it('enforces the sandboxed CSP and sends no-store on the download route', async () => {
      const res = await send(`${app.base}/download`);
      expect(res.status).toBe(200);
      expect(policyHeaders(res.headers)).toEqual(downloadHeaders(expectedBase));
      expect(res.headers['content-security-policy-report-only']).toBeUndefined();
      expect(res.headers['cache-control']).toBe('no-store');
    });
  });

  describe('HSTS only over TLS', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await adapter.start({
        policy: apiPreset({ hsts: { onlyOverTls: true } }),
        guard,
        forwardedProtoIsSecure: true,
      });
    });
    afterAll(() => app.close());

    it('omits Strict-Transport-Security on a plain-HTTP request', async () => {
      const res = await send(`${app.base}/json`);
      expect(res.headers['strict-transport-security']).toBeUndefined();
      expect(res.headers['content-security-policy']).toBe(API_HEADERS['content-security-policy']);
    });

    it('sends Strict-Transport-Security on a request that arrived over TLS', async () => {
      const res = await send(`${app.base}/json`, { headers: { 'x-forwarded-proto': 'https' } });
      expect(res.headers['strict-transport-security']).toBe('max-age=63072000; includeSubDomains');
    });
  });

  describe('crossSiteGuard', () => {
    let app: RunningApp;
    beforeAll(async () => {
      app = await adapter.start({ policy: apiPreset(), guard });
    });
    afterAll(() => app.close());

    const post = (headers: Record<string, string>) =>
      send(`${app.base}/form`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{}',
      });

    it.each([
      ['a same-origin browser request', { 'sec-fetch-site': 'same-origin', origin: 'http://127.0.0.1' }, 200],
      ['a cross-site request from an allowed origin', { 'sec-fetch-site': 'cross-site', origin: ALLOWED }, 200],
      ['a user-initiated request (Sec-Fetch-Site: none)', { 'sec-fetch-site': 'none' }, 200],
      ['a non-browser client without Origin or Fetch Metadata', {}, 200],
      ['a cross-site request', { 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' }, 403],
      [
        'a same-site (sibling subdomain) request',
        { 'sec-fetch-site': 'same-site', origin: 'https://x.app.example' },
        403,
      ],
      ['an old browser sending only a foreign Origin', { origin: 'https://evil.example' }, 403],
      ['an opaque Origin: null from a sandboxed frame', { origin: 'null', 'sec-fetch-site': 'cross-site' }, 403],
    ])('answers %s with %i', async (_label, headers, status) => {
      const res = await post(headers);
      expect(res.status).toBe(status);
      if (status === 403) {
        expect(JSON.parse(res.body)).toMatchObject({ error: 'ERR_HEADERS_CROSS_SITE_REQUEST' });
        // The rejection never echoes request data back.
        expect(res.body).not.toContain('evil.example');
        expect(res.body).not.toContain('app.example');
        // A rejection is a response like any other: it carries the policy.
        expect(res.headers['content-security-policy']).toBe(API_HEADERS['content-security-policy']);
      }
    });

    it('lets a cross-site GET through (safe methods change nothing)', async () => {
      const res = await send(`${app.base}/json`, { headers: { 'sec-fetch-site': 'cross-site' } });
      expect(res.status).toBe(200);
    });

    it('lets an old browser sending only its own Origin through', async () => {
      const res = await post({ origin: app.base });
      expect(res.status).toBe(200);
    });

    // The server's own origin is the Host header's, whatever the request line names: an
    // absolute-form target (`POST http://evil.example/form`) must not make evil.example "same-origin".
    it.each([
      [
        'an absolute-form request line naming the foreign Origin',
        403,
        'http://evil.example/form',
        'http://evil.example',
      ],
      ['an absolute-form request line naming this server, with its own Origin', 200, 'SELF/form', 'SELF'],
      // Nor the scheme: this is plain HTTP, whatever scheme the request line names.
      [
        'an absolute-form https:// request line over plain HTTP, with the https Origin it names',
        403,
        'https://HOST/form',
        'https://HOST',
      ],
      [
        'an absolute-form https:// request line over plain HTTP, with the http Origin of the connection',
        200,
        'https://HOST/form',
        'http://HOST',
      ],
    ])('answers %s (no Fetch Metadata) with %i', async (_label, status, target, origin) => {
      const { port, host } = new URL(app.base);
      const self = (value: string) => value.replace('SELF', app.base).replace('HOST', host);
      const res = await rawRequest(
        port,
        `POST ${self(target)}`,
        {
          host,
          origin: self(origin),
          'content-type': 'application/json',
          'content-length': '2',
        },
        '{}',
      );
      expect(res.status).toBe(status);
      if (status === 403) expect(JSON.parse(res.body)).toMatchObject({ error: 'ERR_HEADERS_CROSS_SITE_REQUEST' });
    });
  });

  describe('crossSiteGuard without allowed origins', () => {
    it('fails closed when the environment is unset (counts as production)', async () => {
      // Unset everywhere: an undefined environment reads NODE_ENV, which the test runner sets.
      const previous = process.env.NODE_ENV;
      delete process.env.NODE_ENV;
      const app = await adapter.start({ policy: apiPreset(), guard: { environment: undefined } }).finally(() => {
        if (previous !== undefined) process.env.NODE_ENV = previous;
      });
      try {
        const res = await send(`${app.base}/form`, { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } });
        expect(res.status).toBe(403);
        expect(JSON.parse(res.body)).toMatchObject({ error: 'ERR_HEADERS_NO_ALLOWED_ORIGINS' });
      } finally {
        await app.close();
      }
    });

    it('allows same-origin requests in development', async () => {
      const app = await adapter.start({ policy: apiPreset(), guard: { environment: 'development' } });
      try {
        const same = await send(`${app.base}/form`, { method: 'POST', headers: { 'sec-fetch-site': 'same-origin' } });
        expect(same.status).toBe(200);
        const cross = await send(`${app.base}/form`, { method: 'POST', headers: { 'sec-fetch-site': 'cross-site' } });
        expect(cross.status).toBe(403);
      } finally {
        await app.close();
      }
    });
  });
});

describe('fastify adapter, hijacked replies', () => {
  const fastify = ADAPTERS.find((a) => a.name === 'fastify') as (typeof ADAPTERS)[number];
  let app: RunningApp;
  beforeAll(async () => {
    app = await fastify.start({ policy: webAppPreset(), guard });
  });
  afterAll(() => app.close());

  it('sends the policy on a reply the handler hijacked, with the nonce the page used', async () => {
    const res = await send(`${app.base}/hijacked`);
    expect(res.status).toBe(200);
    const nonce = nonceOf(res.headers['content-security-policy']);
    expect(policyHeaders(res.headers)).toEqual(webAppHeaders(nonce));
    expect(res.body).toContain(`nonce="${nonce}"`);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('keeps a hijack wrapper another plugin installed before this one', async () => {
    const app = Fastify();
    const calls: string[] = [];
    app.addHook('onRequest', (_request, reply, done) => {
      const original = reply.hijack;
      reply.hijack = function (this: typeof reply) {
        calls.push('other plugin');
        return original.call(this);
      };
      done();
    });
    await app.register(securityHeaders(apiPreset()));
    app.get('/', (_request, reply) => {
      reply.hijack();
      reply.raw.end('raw');
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    try {
      const { port } = app.server.address() as AddressInfo;
      const res = await send(`http://127.0.0.1:${port}/`);
      expect(res.body).toBe('raw');
      expect(calls).toEqual(['other plugin']);
      expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
    } finally {
      await app.close();
    }
  });

  it("sends the route's variant on a hijacked reply, over what the handler set with setHeader (as on node:http)", async () => {
    const res = await send(`${app.base}/hijacked-download`);
    expect(res.status).toBe(200);
    expect(policyHeaders(res.headers)).toEqual(downloadHeaders(webAppHeaders('unused')));
    expect(res.body).toBe('file');
  });
});

/** Listens on a random port and returns the base URL. */
async function listenFastify(app: FastifyInstance): Promise<string> {
  await app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
}

/** A hijacked route: the handler writes the raw response itself, with the page's nonce. */
function hijackedPage(request: { cspNonce?: string }, reply: import('fastify').FastifyReply): void {
  reply.hijack();
  reply.raw.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  reply.raw.end(`<script nonce="${request.cspNonce}"></script>`);
}

describe('fastify adapter, registered more than once', () => {
  it('serves hijacked and normal replies when the same plugin is registered twice, and the process survives', async () => {
    const headers = apiPreset();
    const app = Fastify();
    await app.register(securityHeaders(headers));
    await app.register(securityHeaders(headers));
    app.get('/json', () => ({ ok: true }));
    app.get('/hijacked', hijackedPage);
    const base = await listenFastify(app);
    try {
      for (let i = 0; i < 3; i++) {
        const hijacked = await send(`${base}/hijacked`);
        expect(hijacked.status).toBe(200);
        expect(policyHeaders(hijacked.headers)).toEqual(API_HEADERS);
        const json = await send(`${base}/json`);
        expect(json.status).toBe(200);
        expect(policyHeaders(json.headers)).toEqual(API_HEADERS);
      }
    } finally {
      await app.close();
    }
  });

  it("applies a prefixed child plugin's policy to the child's routes, hijacked or not, and the root's elsewhere", async () => {
    const app = Fastify();
    await app.register(securityHeaders(apiPreset()));
    app.get('/json', () => ({ ok: true }));
    app.get('/hijacked', hijackedPage);
    await app.register(
      async (child) => {
        await child.register(securityHeaders(webAppPreset()));
        child.get('/page', (request, reply) => {
          reply.type('text/html; charset=utf-8').send(`<script nonce="${request.cspNonce}"></script>`);
        });
        child.get('/hijacked', hijackedPage);
        child.get('/boom', async () => {
          throw new Error('boom');
        });
      },
      { prefix: '/app' },
    );
    const base = await listenFastify(app);
    try {
      for (const path of ['/app/page', '/app/hijacked']) {
        const res = await send(`${base}${path}`);
        expect(res.status).toBe(200);
        const nonce = nonceOf(res.headers['content-security-policy']);
        expect(policyHeaders(res.headers)).toEqual(webAppHeaders(nonce));
        expect(res.body).toContain(`nonce="${nonce}"`);
      }
      const boom = await send(`${base}/app/boom`);
      expect(boom.status).toBe(500);
      expect(policyHeaders(boom.headers)).toEqual(webAppHeaders(nonceOf(boom.headers['content-security-policy'])));
      for (const path of ['/json', '/hijacked']) {
        const res = await send(`${base}${path}`);
        expect(res.status).toBe(200);
        expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
      }
    } finally {
      await app.close();
    }
  });
});

describe('an isSecure that throws', () => {
  const isSecure = (): boolean => {
    throw new Error('bad proxy header');
  };

  it('express: the error response carries the policy', async () => {
    const app = express();
    // finalhandler logs the error's stack unless env is test.
    app.set('env', 'test');
    app.use(expressSecurityHeaders(apiPreset(), { isSecure }));
    app.get('/json', (_req, res) => {
      res.json({ ok: true });
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const res = await send(`http://127.0.0.1:${(server.address() as AddressInfo).port}/json`);
      expect(res.status).toBe(500);
      expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('fastify: the error response carries the policy, also when an earlier hook failed first', async () => {
    const app = Fastify();
    app.addHook('onRequest', (request, _reply, done) => {
      done(request.url === '/early' ? new Error('earlier hook') : undefined);
    });
    await app.register(securityHeaders(apiPreset(), { isSecure }));
    app.get('/json', () => ({ ok: true }));
    app.get('/early', () => ({ ok: true }));
    const base = await listenFastify(app);
    try {
      for (const path of ['/json', '/early']) {
        const res = await send(`${base}${path}`);
        expect(res.status).toBe(500);
        expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
      }
    } finally {
      await app.close();
    }
  });

  it("fastify: a route's routeHeaders whose isSecure throws answers 500 with the route's variant", async () => {
    const app = Fastify();
    await app.register(securityHeaders(apiPreset()));
    app.get('/download', { onRequest: fastifyRouteHeaders(apiPreset().forDownload(), { isSecure }) }, () => 'file');
    const base = await listenFastify(app);
    try {
      const res = await send(`${base}/download`);
      expect(res.status).toBe(500);
      expect(policyHeaders(res.headers)).toEqual(downloadHeaders(API_HEADERS));
    } finally {
      await app.close();
    }
  });

  it("hono: the error response carries the policy, with the default and with the app's error handler", async () => {
    for (const withOnError of [false, true]) {
      const app = new Hono();
      app.use(honoSecurityHeaders(apiPreset(), { isSecure }));
      if (withOnError) app.onError((_error, c) => c.json({ error: 'internal server error' }, 500));
      app.get('/json', (c) => c.json({ ok: true }));
      const res = await sendToHono(app, '/json');
      expect(res.status).toBe(500);
      expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
    }
  });
});

describe('adapter factories', () => {
  // The preset function itself instead of the policy it builds: a typo that used to crash every response.
  const notPolicies = [webAppPreset, undefined, null, {}, 'web-app', { applyTo: () => undefined }];

  it('refuse, at start-up, a policy that is not a built preset', () => {
    const factories: [string, (policy: never) => unknown][] = [
      ['express securityHeaders', (p) => expressSecurityHeaders(p)],
      ['fastify securityHeaders', (p) => securityHeaders(p)],
      ['fastify routeHeaders', (p) => fastifyRouteHeaders(p)],
      ['fastify frameworkErrors', (p) => frameworkErrors(p)],
      ['hono securityHeaders', (p) => honoSecurityHeaders(p)],
      ['node withSecurityHeaders', (p) => withSecurityHeaders(p, () => undefined)],
      [
        'node applySecurityHeaders',
        (p) => {
          const req = new IncomingMessage(new Socket());
          return applySecurityHeaders(req, new ServerResponse(req), p);
        },
      ],
    ];
    for (const [name, factory] of factories) {
      for (const policy of notPolicies) {
        let thrown: unknown;
        try {
          factory(policy as never);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, name).toBeInstanceOf(HeadersError);
        expect((thrown as HeadersError).code, name).toBe('ERR_HEADERS_INVALID_OPTION');
        expect((thrown as HeadersError).message, name).toMatch(
          /policy must be a SecurityHeaders built by apiPreset\(\) or webAppPreset\(\)/,
        );
      }
      expect(() => factory(apiPreset() as never), name).not.toThrow();
    }
  });
});

/** One raw HTTP/1.1 request over a socket, so the path reaches Fastify exactly as written. */
function rawGet(
  port: number,
  path: string,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  return rawRequest(Number(port), `GET ${path}`, { host: '127.0.0.1' });
}

describe('fastify frameworkErrors', () => {
  const marker = 'PATHMARKER';
  const badUrl = `/items/${marker}%E0%A4%A`;
  const longParam = `/items/${marker}${'a'.repeat(120)}`;

  async function start(options: {
    frameworkErrors?: FrameworkErrorsHandler;
  }): Promise<{ port: number; close: () => Promise<void> }> {
    const app = Fastify(options);
    await app.register(securityHeaders(apiPreset()));
    app.get('/items/:id', () => ({ ok: true }));
    await app.listen({ port: 0, host: '127.0.0.1' });
    return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
  }

  it('answers a malformed URL and an over-long parameter with the policy and a body that does not echo the path', async () => {
    const app = await start({ frameworkErrors: frameworkErrors(apiPreset()) });
    try {
      for (const [path, status, code] of [
        [badUrl, 400, 'FST_ERR_BAD_URL'],
        [longParam, 414, 'FST_ERR_MAX_PARAM_LENGTH'],
      ] as const) {
        const res = await rawGet(app.port, path);
        expect(res.status).toBe(status);
        expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
        expect(res.body).not.toContain(marker);
        expect(JSON.parse(res.body)).toMatchObject({ code, statusCode: status });
        expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
      }
      // The route itself still works.
      expect((await rawGet(app.port, '/items/1')).status).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('is needed: without it Fastify writes these errors itself, skipping every plugin hook (the control)', async () => {
    const app = await start({});
    try {
      const res = await rawGet(app.port, badUrl);
      expect(res.status).toBe(400);
      expect(res.headers['content-security-policy']).toBeUndefined();
      expect(res.body).toContain(marker);
    } finally {
      await app.close();
    }
  });
});

describe('hono crossSiteGuard outside @hono/node-server (no socket in c.env)', () => {
  const app = new Hono().post('/form', honoCrossSiteGuard(guard), (c) => c.text('ok'));
  const post = async (url: string, host: string, origin: string): Promise<number> =>
    (await app.request(url, { method: 'POST', headers: { host, origin } })).status;

  it("takes the URL's scheme when the runtime built the URL from the Host header", async () => {
    expect(await post('https://example.test/form', 'example.test', 'https://example.test')).toBe(200);
    expect(await post('https://example.test/form', 'example.test', 'http://example.test')).toBe(403);
  });

  it('takes a Host with the default port as the same host (a proxy that writes $host:$server_port)', async () => {
    expect(await post('https://app.example/form', 'app.example:443', 'https://app.example')).toBe(200);
    expect(await post('http://app.example/form', 'app.example:80', 'http://app.example')).toBe(200);
    expect(await post('https://app.example/form', 'app.example:443', 'https://evil.example')).toBe(403);
  });

  it("trusts no scheme when the URL's host is not the Host header (the URL came from the request line)", async () => {
    expect(await post('https://example.test/form', 'other.test', 'https://other.test')).toBe(403);
    expect(await post('https://example.test/form', 'other.test', 'http://other.test')).toBe(403);
  });
});
