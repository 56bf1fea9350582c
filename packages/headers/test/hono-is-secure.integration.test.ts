/**
 * The Hono adapter's default `isSecure`, which decides whether `hsts: { onlyOverTls: true }` sends
 * Strict-Transport-Security. On @hono/node-server the request URL's scheme is whatever the client
 * wrote in an absolute-form request line (`GET https://host/ HTTP/1.1`) or in HTTP/2's `:scheme`, so
 * the connection decides: real plain-HTTP, TLS and h2c servers, with clients that write those lines.
 */

import { connect as connectHttp2, createServer as createHttp2Server, type Http2Session } from 'node:http2';
import { createServer as createHttpsServer } from 'node:https';
import type { Server } from 'node:net';
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SecurityHeadersVariables, securityHeaders } from '../src/adapters/hono.ts';
import { apiPreset } from '../src/index.ts';
import { rawRequest } from './support/raw-request.ts';

const HSTS = 'max-age=63072000; includeSubDomains';

function app(): Hono<{ Variables: SecurityHeadersVariables }> {
  const app = new Hono<{ Variables: SecurityHeadersVariables }>();
  app.use(securityHeaders(apiPreset({ hsts: { onlyOverTls: true } })));
  app.get('/json', (c) => c.json({ ok: true }));
  return app;
}

/**
 * TLS without a certificate: a pre-shared key (TLS 1.2 PSK), so no key pair has to be generated.
 * The socket is a real TLSSocket (`encrypted: true`), which is all the adapter looks at.
 */
const PSK = Buffer.alloc(32, 7);
const PSK_TLS = { ciphers: 'PSK-AES128-GCM-SHA256', minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' } as const;
const PSK_CLIENT = {
  ...PSK_TLS,
  pskCallback: () => ({ psk: PSK, identity: 'rampart-test' }),
  checkServerIdentity: () => undefined,
};

interface Served {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

function listen(options: Parameters<typeof serve>[0]): Promise<Served> {
  return new Promise((resolve) => {
    const server = serve({ ...options, port: 0, hostname: '127.0.0.1' }, (info) => {
      resolve({
        port: info.port,
        host: `127.0.0.1:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            (server as Server).close(() => done());
          }),
      });
    });
  });
}

describe('hono securityHeaders: default isSecure on @hono/node-server', () => {
  describe('over plain HTTP/1.1', () => {
    let served: Served;
    beforeAll(async () => {
      served = await listen({ fetch: app().fetch });
    });
    afterAll(() => served.close());

    it('omits Strict-Transport-Security on an origin-form request (the control)', async () => {
      const res = await rawRequest(served.port, 'GET /json', { host: served.host });
      expect(res.status).toBe(200);
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });

    it('omits Strict-Transport-Security on an absolute-form https:// request line', async () => {
      const res = await rawRequest(served.port, `GET https://${served.host}/json`, { host: served.host });
      expect(res.status).toBe(200);
      // The adapter ran: the rest of the policy is there.
      expect(res.headers['x-content-type-options']).toBe('nosniff');
      expect(res.headers['strict-transport-security']).toBeUndefined();
    });
  });

  describe('over TLS', () => {
    let served: Served;
    beforeAll(async () => {
      served = await listen({
        fetch: app().fetch,
        createServer: createHttpsServer,
        serverOptions: { ...PSK_TLS, pskCallback: () => PSK },
      });
    });
    afterAll(() => served.close());

    it('sends Strict-Transport-Security on an origin-form request', async () => {
      const res = await rawRequest(served.port, 'GET /json', { host: served.host }, '', PSK_CLIENT);
      expect(res.status).toBe(200);
      expect(res.headers['strict-transport-security']).toBe(HSTS);
    });

    it('sends Strict-Transport-Security on an absolute-form http:// request line', async () => {
      const res = await rawRequest(
        served.port,
        `GET http://${served.host}/json`,
        { host: served.host },
        '',
        PSK_CLIENT,
      );
      expect(res.status).toBe(200);
      expect(res.headers['strict-transport-security']).toBe(HSTS);
    });
  });

  describe('over HTTP/2 without TLS (h2c)', () => {
    let served: Served;
    const sessions = new Set<Http2Session>();
    beforeAll(async () => {
      served = await listen({ fetch: app().fetch, createServer: createHttp2Server });
    });
    afterAll(async () => {
      for (const session of sessions) session.destroy();
      await served.close();
    });

    const get = (scheme: string): Promise<{ status: number; hsts: unknown }> =>
      new Promise((resolve, reject) => {
        const session = connectHttp2(`http://${served.host}`);
        sessions.add(session);
        session.on('error', reject);
        const stream = session.request({ ':method': 'GET', ':path': '/json', ':scheme': scheme });
        stream.on('response', (headers) => {
          stream.resume();
          stream.on('end', () =>
            session.close(() => {
              sessions.delete(session);
              resolve({ status: Number(headers[':status']), hsts: headers['strict-transport-security'] });
            }),
          );
        });
        stream.on('error', reject);
        stream.end();
      });

    it('omits Strict-Transport-Security whatever :scheme the client sends', async () => {
      expect(await get('http')).toEqual({ status: 200, hsts: undefined });
      expect(await get('https')).toEqual({ status: 200, hsts: undefined });
    });
  });
});

describe('hono securityHeaders: default isSecure outside @hono/node-server (no socket in c.env)', () => {
  const hsts = async (url: string, host: string): Promise<string | null> =>
    (await app().request(url, { headers: { host } })).headers.get('strict-transport-security');

  it("takes the URL's scheme when the runtime built the URL from the Host header", async () => {
    expect(await hsts('https://example.test/json', 'example.test')).toBe(HSTS);
    expect(await hsts('https://example.test/json', 'example.test:443')).toBe(HSTS);
    expect(await hsts('http://example.test/json', 'example.test')).toBeNull();
  });

  it("sends none when the URL's host is not the Host header (the URL came from the request line)", async () => {
    expect(await hsts('https://example.test/json', 'other.test')).toBeNull();
  });

  it('takes the URL scheme of a fetch-style Request without a Host header', async () => {
    const response = await app().fetch(new Request('https://example.test/json'));
    expect(response.headers.get('strict-transport-security')).toBe(HSTS);
  });

  it('reads no socket from a binding that merely is named incoming, nor from one that throws', async () => {
    // A Workers RPC stub answers every property with another stub: no boolean `encrypted`, no address.
    const stub: object = new Proxy(() => {}, { get: () => stub });
    const throwing = {
      get incoming(): never {
        throw new Error('binding unavailable');
      },
    };
    for (const env of [{ incoming: stub }, throwing]) {
      const response = await app().fetch(new Request('https://example.test/json'), env);
      expect(response.status).toBe(200);
      expect(response.headers.get('strict-transport-security')).toBe(HSTS);
    }
  });
});
