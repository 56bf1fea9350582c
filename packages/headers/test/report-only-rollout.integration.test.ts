/**
 * A Report-Only rollout with a list of frame ancestors: the presets add an enforced
 * `frame-ancestors <list>` policy, and it must be sent next to the application's own enforced CSP,
 * never instead of it (every Content-Security-Policy header is enforced on its own).
 */
import { createServer, get, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { securityHeaders as expressSecurityHeaders } from '../src/adapters/express.ts';
import { securityHeaders as fastifySecurityHeaders } from '../src/adapters/fastify.ts';
import { securityHeaders as honoSecurityHeaders } from '../src/adapters/hono.ts';
import { applySecurityHeaders, withSecurityHeaders } from '../src/adapters/node-http.ts';
import { type SecurityHeaders, webAppPreset } from '../src/index.ts';

const PARTNER = 'https://partner.example';
const FRAMING = `frame-ancestors ${PARTNER}`;
/** The application's enforced policy, kept while the new one is tried as Report-Only. */
const APP_CSP = "default-src 'self'; script-src 'self'; object-src 'none'";

const rollout = (): SecurityHeaders =>
  webAppPreset({ reportOnly: true, reporting: { endpoint: '/csp' }, frameAncestors: [PARTNER] });

interface Running {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * Every enforced CSP the response carries, one entry per policy: across header lines and across
 * the comma-separated policies of one line, as browsers read them.
 */
interface Seen {
  readonly status: number;
  readonly enforced: string[];
  readonly reportOnly: string | undefined;
}

function fetchPolicies(port: number, path: string): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path }, (res) => {
      const enforced: string[] = [];
      let reportOnly: string | undefined;
      const raw = res.rawHeaders;
      for (let i = 0; i + 1 < raw.length; i += 2) {
        const name = (raw[i] as string).toLowerCase();
        const value = raw[i + 1] as string;
        if (name === 'content-security-policy') enforced.push(...value.split(',').map((p) => p.trim()));
        if (name === 'content-security-policy-report-only') reportOnly = value;
      }
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, enforced, reportOnly }));
    });
    req.setTimeout(5_000, () => req.destroy(new Error('no response')));
    req.on('error', reject);
  });
}

function listen(server: Server): Promise<Running> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((done) => {
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}

/**
 * `/own`: the app sets its CSP; `/plain`: it sets none; `/boom`: the handler fails after setting it;
 * `/write-head`: the app passes its CSP in `writeHead`'s headers argument (node:http, Express, and
 * Fastify's `/hijacked-write-head`), which Node applies with `setHeader`, after ours.
 */
const APPS: readonly { name: string; start(policy: SecurityHeaders): Promise<Running> }[] = [
  {
    name: 'express',
    start(policy) {
      const app = express();
      app.set('env', 'test');
      app.use(expressSecurityHeaders(policy));
      app.get('/own', (_req, res) => {
        res.setHeader('Content-Security-Policy', APP_CSP);
        res.send('ok');
      });
      app.get('/plain', (_req, res) => {
        res.send('ok');
      });
      app.get('/boom', (_req, res) => {
        res.setHeader('Content-Security-Policy', APP_CSP);
        throw new Error('boom');
      });
      app.get('/write-head', (_req, res) => {
        res.writeHead(200, { 'Content-Security-Policy': APP_CSP });
        res.end('ok');
      });
      return listen(createServer(app));
    },
  },
  {
    name: 'fastify',
    async start(policy) {
      const app = Fastify();
      await app.register(fastifySecurityHeaders(policy));
      app.get('/own', (_request, reply) => {
        reply.header('Content-Security-Policy', APP_CSP).send('ok');
      });
      app.get('/plain', () => 'ok');
      app.get('/boom', async (_request, reply) => {
        reply.header('Content-Security-Policy', APP_CSP);
        throw new Error('boom');
      });
      // A hijacked reply: the headers go onto the raw response, as on node:http.
      app.get('/hijacked', (_request, reply) => {
        reply.hijack();
        reply.raw.setHeader('Content-Security-Policy', APP_CSP);
        reply.raw.end('ok');
      });
      app.get('/hijacked-write-head', (_request, reply) => {
        reply.hijack();
        reply.raw.writeHead(200, { 'content-security-policy': APP_CSP });
        reply.raw.end('ok');
      });
      await app.listen({ port: 0, host: '127.0.0.1' });
      return { port: (app.server.address() as AddressInfo).port, close: () => app.close() };
    },
  },
  {
    name: 'hono',
    start(policy) {
      const app = new Hono();
      app.use(honoSecurityHeaders(policy));
      app.onError((_error, c) => {
        c.header('Content-Security-Policy', APP_CSP);
        return c.text('error', 500);
      });
      app.get('/own', (c) => {
        c.header('Content-Security-Policy', APP_CSP);
        return c.text('ok');
      });
      app.get('/plain', (c) => c.text('ok'));
      app.get('/boom', () => {
        throw new Error('boom');
      });
      return new Promise((resolve) => {
        const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => {
          resolve({
            port: info.port,
            close: () =>
              new Promise<void>((done) => {
                (server as Server).closeAllConnections?.();
                server.close(() => done());
              }),
          });
        });
      });
    },
  },
  {
    name: 'node:http withSecurityHeaders',
    start(policy) {
      const handler = (req: IncomingMessage, res: ServerResponse): void => {
        if (req.url === '/own') {
          res.setHeader('Content-Security-Policy', APP_CSP);
          res.end('ok');
          return;
        }
        if (req.url === '/boom') {
          res.setHeader('Content-Security-Policy', APP_CSP);
          throw new Error('boom');
        }
        if (req.url === '/write-head') {
          res.writeHead(200, { 'Content-Security-Policy': APP_CSP });
          res.end('ok');
          return;
        }
        res.end('ok');
      };
      return listen(createServer(withSecurityHeaders(policy, handler, { onError: () => undefined })));
    },
  },
  {
    name: 'node:http applySecurityHeaders',
    start(policy) {
      return listen(
        createServer((req, res) => {
          applySecurityHeaders(req, res, policy);
          // Applied twice on one response (a route re-applying the policy): still one frame-ancestors.
          if (req.url === '/own') applySecurityHeaders(req, res, policy);
          if (req.url === '/own') res.setHeader('Content-Security-Policy', APP_CSP);
          res.end('ok');
        }),
      );
    },
  },
];

describe.each(APPS)('$name during a Report-Only rollout with a list of frame ancestors', (adapter) => {
  it("keeps the application's own enforced CSP and adds frame-ancestors as a second policy", async () => {
    const app = await adapter.start(rollout());
    try {
      const seen = await fetchPolicies(app.port, '/own');
      expect(seen.status).toBe(200);
      expect(seen.enforced.sort()).toEqual([APP_CSP, FRAMING].sort());
      expect(seen.reportOnly).toContain(FRAMING);
    } finally {
      await app.close();
    }
  });

  it('sends frame-ancestors once when the application sets no CSP', async () => {
    const app = await adapter.start(rollout());
    try {
      const seen = await fetchPolicies(app.port, '/plain');
      expect(seen.status).toBe(200);
      expect(seen.enforced).toEqual([FRAMING]);
    } finally {
      await app.close();
    }
  });

  if (adapter.name !== 'node:http applySecurityHeaders') {
    it('sends frame-ancestors once on the error response', async () => {
      const app = await adapter.start(rollout());
      try {
        const seen = await fetchPolicies(app.port, '/boom');
        expect(seen.status).toBe(500);
        expect(seen.enforced).toContain(FRAMING);
        expect(seen.enforced.filter((p) => p === FRAMING)).toHaveLength(1);
      } finally {
        await app.close();
      }
    });
  }

  const writeHeadPath = {
    express: '/write-head',
    'node:http withSecurityHeaders': '/write-head',
    fastify: '/hijacked-write-head',
  }[adapter.name];
  if (writeHeadPath !== undefined) {
    it("keeps frame-ancestors next to a CSP the application passes to writeHead's headers argument", async () => {
      const app = await adapter.start(rollout());
      try {
        const seen = await fetchPolicies(app.port, writeHeadPath);
        expect(seen.status).toBe(200);
        expect(seen.enforced.sort()).toEqual([APP_CSP, FRAMING].sort());
      } finally {
        await app.close();
      }
    });
  }

  if (adapter.name === 'fastify') {
    it("keeps the application's own enforced CSP on a hijacked reply", async () => {
      const app = await adapter.start(rollout());
      try {
        const seen = await fetchPolicies(app.port, '/hijacked');
        expect(seen.enforced.sort()).toEqual([APP_CSP, FRAMING].sort());
      } finally {
        await app.close();
      }
    });
  }
});

describe('an enforced policy', () => {
  it("still replaces the application's CSP with the preset's (only the rollout's frame-ancestors is added)", async () => {
    const app = await APPS[0]?.start(webAppPreset({ frameAncestors: [PARTNER] }));
    if (!app) throw new Error('no express app');
    try {
      const seen = await fetchPolicies(app.port, '/own');
      expect(seen.enforced).toHaveLength(1);
      expect(seen.enforced[0]).toContain(FRAMING);
      expect(seen.enforced[0]).not.toBe(APP_CSP);
    } finally {
      await app.close();
    }
  });
});
