/**
 * Hono builds an error response in the app's `onError`, which may return a `Response` it made
 * itself instead of going through the context (`c.json`, `c.text`, ...). These run a real server
 * (`@hono/node-server`) and check that such a response still carries the whole policy.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { securityHeaders } from '../src/adapters/hono.ts';
import { apiPreset, webAppPreset } from '../src/index.ts';
import { policyHeaders, send } from './support/apps.ts';
import { API_HEADERS, nonceOf, webAppHeaders } from './support/expected.ts';

async function listen(app: Hono): Promise<{ base: string; close: () => Promise<void> }> {
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

const rawErrorResponse = (): Response =>
  new Response('x', { status: 500, headers: { 'content-type': 'text/plain; charset=utf-8' } });

describe('securityHeaders (hono) with an onError that returns new Response(...)', () => {
  it('sends the policy, nonce CSP included, when a route throws', async () => {
    const app = new Hono();
    app.use(securityHeaders(webAppPreset()));
    app.onError(rawErrorResponse);
    app.get('/boom', () => {
      throw new Error('boom');
    });
    app.get('/async-boom', async () => {
      await Promise.resolve();
      throw new Error('boom');
    });
    const { base, close } = await listen(app);
    try {
      for (const path of ['/boom', '/async-boom']) {
        const res = await send(`${base}${path}`);
        expect(res.status).toBe(500);
        expect(res.body).toBe('x');
        const nonce = nonceOf(res.headers['content-security-policy']);
        expect(policyHeaders(res.headers)).toEqual(webAppHeaders(nonce));
      }
    } finally {
      await close();
    }
  });

  it('sends the policy when isSecure throws before a route runs', async () => {
    const app = new Hono();
    app.use(
      securityHeaders(apiPreset(), {
        isSecure: () => {
          throw new Error('bad proxy header');
        },
      }),
    );
    app.onError(rawErrorResponse);
    app.get('/json', (c) => c.json({ ok: true }));
    const { base, close } = await listen(app);
    try {
      const res = await send(`${base}/json`);
      expect(res.status).toBe(500);
      expect(res.body).toBe('x');
      expect(policyHeaders(res.headers)).toEqual(API_HEADERS);
    } finally {
      await close();
    }
  });
});
