import { connect, createServer, type Http2Server } from 'node:http2';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossSiteGuard } from '../src/adapters/node-http.ts';

/**
 * The node:http guard on an HTTP/2 server (node:http2's compatibility API, h2c on 127.0.0.1): there
 * is no Host header, only `:authority`, and the scheme is `:scheme`.
 */
describe('node:http crossSiteGuard over HTTP/2 (h2c)', () => {
  let server: Http2Server;
  let base: string;
  beforeAll(async () => {
    const guard = crossSiteGuard({ allowedOrigins: ['https://app.example'], environment: 'production' });
    server = createServer((req, res) => {
      if (!guard(req as never, res as never)) return;
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const post = (origin: string, scheme = 'http'): Promise<number> =>
    new Promise((resolve, reject) => {
      const session = connect(base);
      session.on('error', reject);
      const stream = session.request({ ':method': 'POST', ':path': '/form', ':scheme': scheme, origin });
      stream.on('response', (headers) => {
        const status = Number(headers[':status']);
        stream.resume();
        stream.on('end', () => session.close(() => resolve(status)));
      });
      stream.on('error', reject);
      stream.end('{}');
    });

  it('lets an old browser sending only its own Origin through', async () => {
    expect(await post(base)).toBe(200);
  });

  it('rejects a foreign Origin, and the https Origin of this plain-HTTP server', async () => {
    expect(await post('https://evil.example')).toBe(403);
    expect(await post(base.replace('http:', 'https:'))).toBe(403);
  });

  it('takes the scheme from the connection, not from the :scheme the client sent', async () => {
    expect(await post(base.replace('http:', 'https:'), 'https')).toBe(403);
    expect(await post(base, 'https')).toBe(200);
  });
});
