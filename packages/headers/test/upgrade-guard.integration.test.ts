/**
 * `crossSiteUpgradeGuard` checks WebSocket handshakes on node:http's `'upgrade'` event, which no
 * request handler sees. Real handshakes: headless Chromium opens sockets from pages on several
 * origins, and a raw TCP client reads the rejection byte for byte.
 */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import type { Duplex } from 'node:stream';
import { launchChromium, type TestChromium, waitFor } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { crossSiteUpgradeGuard } from '../src/adapters/node-http.ts';
import { HeadersError } from '../src/index.ts';

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** Completes an RFC 6455 handshake by hand, so no WebSocket library is needed. */
function accept(key: string, socket: Duplex): void {
  const digest = createHash('sha1').update(`${key}${WS_GUID}`).digest('base64');
  socket.write(
    `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${digest}\r\n\r\n`,
  );
}

const PAGE = (target: string): string => `<!doctype html><html><body><script>
window.outcome = 'pending';
const ws = new WebSocket(${JSON.stringify(target)});
ws.onopen = () => { window.outcome = 'open'; ws.close(); };
ws.onerror = () => { if (window.outcome === 'pending') window.outcome = 'refused'; };
</script></body></html>`;

function listen(server: Server): Promise<string> {
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(`127.0.0.1:${(server.address() as AddressInfo).port}`));
  });
}

function close(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

/** Sends a WebSocket handshake over raw TCP and reads the whole answer, byte for byte. */
async function handshake(host: string, extraHeaders: string): Promise<string> {
  const socket = connect(Number(host.split(':')[1]), '127.0.0.1');
  socket.write(
    `GET /ws HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${extraHeaders}Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  const chunks: Buffer[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('end', resolve);
      socket.on('error', reject);
    });
  } finally {
    socket.destroy();
  }
  return Buffer.concat(chunks).toString('latin1');
}

describe('crossSiteUpgradeGuard (node)', () => {
  let chromium: TestChromium;
  const servers: Server[] = [];
  // Upgraded sockets leave node:http's bookkeeping: closeAllConnections() does not end them.
  const upgraded: Duplex[] = [];
  beforeAll(async () => {
    chromium = await launchChromium();
  });
  afterAll(async () => {
    await chromium.stop();
    for (const socket of upgraded) socket.destroy();
    await Promise.all(servers.map(close));
  });

  /** A server that serves PAGE aimed at `target()` and, when `upgrade` is given, accepts upgrades through it. */
  async function start(
    target: () => string,
    guardUpgrade?: (req: import('node:http').IncomingMessage, socket: Duplex) => boolean,
  ) {
    const server = createServer((_req, res) => {
      res.setHeader('content-type', 'text/html; charset=utf-8');
      res.end(PAGE(target()));
    });
    const seen: string[] = [];
    if (guardUpgrade) {
      server.on('upgrade', (req, socket) => {
        if (!guardUpgrade(req, socket)) {
          seen.push('rejected');
          return;
        }
        seen.push('accepted');
        upgraded.push(socket);
        accept(String(req.headers['sec-websocket-key']), socket);
        // The page closes the socket once open; its close frame ends the connection here.
        socket.on('data', () => socket.destroy());
      });
    }
    servers.push(server);
    return { host: await listen(server), seen };
  }

  async function outcome(url: string): Promise<string> {
    const page = await chromium.newPage();
    try {
      await page.goto(url);
      let last = 'pending';
      await waitFor(
        async () => {
          last = await page.evaluate(() => (window as unknown as { outcome: string }).outcome);
          return last !== 'pending';
        },
        { timeoutMs: 10_000, what: 'the WebSocket to open or fail' },
      );
      return last;
    } finally {
      await page.close();
    }
  }

  it('lets a same-origin page and an allowed origin open a WebSocket, and refuses any other page', async () => {
    let wsHost = '';
    const allowedSite = await start(() => `ws://${wsHost}/`);
    const otherSite = await start(() => `ws://${wsHost}/`);
    const guard = crossSiteUpgradeGuard({ allowedOrigins: [`http://${allowedSite.host}`], environment: 'production' });
    const app = await start(() => `ws://${wsHost}/`, guard);
    wsHost = app.host;

    expect(await outcome(`http://${app.host}/`)).toBe('open');
    expect(await outcome(`http://${allowedSite.host}/`)).toBe('open');
    // Another port on the same host: another origin, only same-site; a cross-site WebSocket hijack
    // looks the same to the server.
    expect(await outcome(`http://${otherSite.host}/`)).toBe('refused');
    expect(app.seen).toEqual(['accepted', 'accepted', 'rejected']);
  });

  it('answers a rejected handshake with a 403 naming the error code and closes the socket', async () => {
    const guard = crossSiteUpgradeGuard({ allowedOrigins: ['https://app.example'], environment: 'production' });
    const app = await start(() => '', guard);
    const response = await handshake(app.host, 'Origin: https://evil.example\r\n');
    const [head, body] = response.split('\r\n\r\n');
    expect(head?.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
    expect(head).toMatch(/\r\nconnection: close\r\n/i);
    expect(head).toMatch(/\r\ncontent-type: application\/json; charset=utf-8\r\n/i);
    expect(head).toContain(`\r\nContent-Length: ${Buffer.byteLength(body ?? '')}`);
    expect(JSON.parse(body ?? '')).toMatchObject({ error: 'ERR_HEADERS_CROSS_SITE_REQUEST' });
    expect(response).not.toContain('evil.example');
    expect(app.seen).toEqual(['rejected']);
  });

  it('fails closed in production without allowedOrigins: every handshake gets a 403 without security headers', async () => {
    const guard = crossSiteUpgradeGuard({ environment: 'production' });
    const app = await start(() => '', guard);
    const response = await handshake(app.host, `Origin: http://${app.host}\r\nSec-Fetch-Site: same-origin\r\n`);
    const [head, body] = response.split('\r\n\r\n');
    expect(head?.split('\r\n')[0]).toBe('HTTP/1.1 403 Forbidden');
    expect(JSON.parse(body ?? '')).toMatchObject({ error: 'ERR_HEADERS_NO_ALLOWED_ORIGINS' });
    // The raw-socket answer carries only what a 403 needs; the README says so.
    expect(head).not.toMatch(/content-security-policy|strict-transport-security|x-frame-options/i);
    expect(app.seen).toEqual(['rejected']);
  });

  it('checks every handshake, so it refuses safeMethods and a prebuilt protection at start-up', () => {
    for (const options of [{ safeMethods: ['HEAD'] }, { check: () => ({ allowed: true }) }, { allowedOrigins: 'x' }]) {
      let thrown: unknown;
      try {
        crossSiteUpgradeGuard(options as never);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(HeadersError);
      expect((thrown as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
    }
  });
});
