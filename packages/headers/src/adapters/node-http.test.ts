import { createServer, IncomingMessage, request, type Server, ServerResponse } from 'node:http';
import { type AddressInfo, Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { getNonce } from '../nonce.ts';
import { apiPreset, webAppPreset } from '../presets.ts';
import { applySecurityHeaders, withSecurityHeaders } from './node-http.ts';

function exchange(encrypted: boolean): { req: IncomingMessage; res: ServerResponse } {
  const socket = new Socket();
  Object.defineProperty(socket, 'encrypted', { value: encrypted });
  const req = new IncomingMessage(socket);
  req.method = 'GET';
  return { req, res: new ServerResponse(req) };
}

describe('applySecurityHeaders', () => {
  it('detects TLS from the socket for HSTS-only-over-TLS', () => {
    const policy = apiPreset({ hsts: { onlyOverTls: true } });
    const tls = exchange(true);
    applySecurityHeaders(tls.req, tls.res, policy);
    tls.res.writeHead(200);
    expect(tls.res.getHeader('strict-transport-security')).toBe('max-age=63072000; includeSubDomains');
    const plain = exchange(false);
    applySecurityHeaders(plain.req, plain.res, policy);
    plain.res.writeHead(200);
    expect(plain.res.getHeader('strict-transport-security')).toBeUndefined();
  });

  it('lets a later call switch the policy and keeps one nonce per request', () => {
    const { req, res } = exchange(false);
    const nonce = applySecurityHeaders(req, res, webAppPreset());
    expect(applySecurityHeaders(req, res, webAppPreset().forOAuthPopup())).toBe(nonce);
    expect(getNonce(req)).toBe(nonce);
    res.writeHead(200);
    expect(res.getHeader('cross-origin-opener-policy')).toBe('same-origin-allow-popups');
    expect(String(res.getHeader('content-security-policy'))).toContain(`'nonce-${nonce}'`);
  });
});

/** Serves `listener` once and returns status, headers and body, or fails if the body does not arrive in time. */
async function exchangeOnce(
  listener: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }> {
  const server: Server = createServer(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    return await new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/', timeout: 2_000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        res.on('error', reject);
      });
      req.on('timeout', () => req.destroy(new Error('the response body never completed')));
      req.on('error', reject);
      req.end();
    });
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('withSecurityHeaders', () => {
  it("answers a failed handler with a complete 500 that drops the handler's own headers", async () => {
    const res = await exchangeOnce(
      withSecurityHeaders(apiPreset(), async (_req, res) => {
        res.setHeader('content-length', '100');
        res.setHeader('set-cookie', 'session=half-done; HttpOnly');
        res.setHeader('location', '/account');
        res.setHeader('x-custom', 'handler');
        throw new Error('login failed half-way');
      }),
    );
    expect(res.status).toBe(500);
    expect(res.body).toBe('{"error":"internal server error"}');
    expect(res.headers['content-length']).toBe(String(Buffer.byteLength(res.body)));
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers.location).toBeUndefined();
    expect(res.headers['x-custom']).toBeUndefined();
    // The policy is still sent.
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none'",
    );
    expect(res.headers['cache-control']).toBe('no-store');
  });

  it('leaves a response the handler already finished intact when the handler then throws or rejects', async () => {
    const body = 'x'.repeat(8 * 1024 * 1024);
    for (const fail of ['throws', 'rejects'] as const) {
      const res = await exchangeOnce(
        withSecurityHeaders(apiPreset(), (_req, res) => {
          res.setHeader('content-type', 'text/plain');
          res.end(body);
          if (fail === 'throws') throw new Error('after the response');
          return Promise.reject(new Error('after the response'));
        }),
      );
      expect(res.status).toBe(200);
      expect(res.body.length).toBe(body.length);
      expect(res.headers['x-frame-options']).toBe('DENY');
    }
  });

  it('answers 500 with the policy when isSecure throws, instead of an uncaught exception', async () => {
    const res = await exchangeOnce(
      withSecurityHeaders(apiPreset(), (_req, res) => res.end('ok'), {
        isSecure: () => {
          throw new Error('bad proxy header');
        },
      }),
    );
    expect(res.status).toBe(500);
    expect(res.body).toBe('{"error":"internal server error"}');
    expect(res.headers['x-frame-options']).toBe('DENY');
  });
});
