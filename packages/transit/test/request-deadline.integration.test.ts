import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import vault from 'node-vault';
import { afterEach, describe, expect, it } from 'vitest';
import { createTransit, TransitError } from '../src/index.ts';

// A "Vault" that answers 200 with headers at once, then one byte of body at a time, never ending:
// an idle timeout (axios' `timeout`) never fires on it.
let server: Server | undefined;
const trickling = new Set<ServerResponse>();
let requests = 0;
/** Server-side sockets of the requests received, and whether each has closed. */
const sockets: { closed: boolean }[] = [];

async function startTricklingVault(intervalMs: number): Promise<string> {
  server = createServer((req, res) => {
    requests += 1;
    const socket = { closed: false };
    sockets.push(socket);
    req.socket.once('close', () => {
      socket.closed = true;
    });
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.write('{');
    trickling.add(res);
    const timer = setInterval(() => res.write(' '), intervalMs);
    res.on('close', () => {
      clearInterval(timer);
      trickling.delete(res);
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

afterEach(async () => {
  for (const res of trickling) res.destroy();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server?.closeAllConnections();
  server = undefined;
  requests = 0;
  sockets.length = 0;
});

/** Polls `condition` every 10 ms until it holds or `withinMs` have passed; returns whether it held. */
async function eventually(condition: () => boolean, withinMs: number): Promise<boolean> {
  const end = performance.now() + withinMs;
  while (!condition()) {
    if (performance.now() > end) return false;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return true;
}

describe('retry.requestTimeoutMs', () => {
  it('caps a whole request, not only the idle time between bytes, and fails retryably', async () => {
    const endpoint = await startTricklingVault(40);
    const client = vault({ endpoint, token: 'hvs.test' });
    let writes = 0;
    const transit = createTransit({
      vault: {
        write: (path, data, options) => {
          writes += 1;
          return client.write(path, data, options);
        },
        read: (path, options) => client.read(path, options),
      },
      key: 'k1',
      cache: { maxAgeMs: 60_000 },
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, requestTimeoutMs: 250 },
    });
    const failure = await transit.encrypt(Buffer.from('secret-plaintext'), { tenant: 't1' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TransitError);
    expect(failure).toMatchObject({ code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true });
    expect(writes).toBe(2);
    // An attempt's request is aborted at its deadline: on a slow machine one may not reach the server.
    expect(requests).toBeLessThanOrEqual(2);
    const text = `${(failure as Error).message} ${String((failure as Error).cause)}`;
    expect(text).toContain('250 ms');
    expect(text).not.toContain('secret-plaintext');
    expect(text).not.toContain('hvs.test');
  });

  it('closes the socket of a request it gave up on, though the server is still sending', async () => {
    const endpoint = await startTricklingVault(20);
    const transit = createTransit({
      vault: vault({ endpoint, token: 'hvs.test' }),
      key: 'k1',
      cache: { maxAgeMs: 60_000 },
      retry: { attempts: 1, requestTimeoutMs: 500 },
    });
    await expect(transit.encrypt(Buffer.from('x'), { tenant: 't1' })).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_UNAVAILABLE',
    });
    expect(sockets).toHaveLength(1);
    // The server trickles a byte every 20 ms, so axios' idle timeout (500 ms) never closes it.
    expect(await eventually(() => sockets.every((s) => s.closed), 1_000)).toBe(true);
  });

  it('aborts the signal it passes in the request options at the deadline', async () => {
    const signals: AbortSignal[] = [];
    const client = {
      write: (_path: string, _data: unknown, options?: Record<string, unknown>) => {
        signals.push(options?.signal as AbortSignal);
        return new Promise<never>(() => {});
      },
      read: () => Promise.reject(new Error('unused')),
    };
    const transit = createTransit({
      vault: client,
      key: 'k1',
      cache: { maxAgeMs: 60_000 },
      retry: { attempts: 1, requestTimeoutMs: 50 },
    });
    await expect(transit.encrypt(Buffer.from('x'), { tenant: 't1' })).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_UNAVAILABLE',
    });
    expect(signals).toHaveLength(1);
    expect(signals[0]).toBeInstanceOf(AbortSignal);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('ignores the answer of a request that outlived its deadline', async () => {
    let answer: ((body: unknown) => void) | undefined;
    const late = new Promise<unknown>((resolve) => {
      answer = resolve;
    });
    const calls: string[] = [];
    const client = {
      write: (path: string) => {
        calls.push(path);
        // The first call answers only after its deadline (released below); later ones fail fast.
        return calls.length === 1 ? late : Promise.reject(Object.assign(new Error('x'), { code: 'ECONNRESET' }));
      },
      read: () => Promise.reject(new Error('unused')),
    };
    const transit = createTransit({
      vault: client,
      key: 'k1',
      cache: { maxAgeMs: 60_000 },
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, requestTimeoutMs: 50 },
    });
    await expect(transit.encrypt(Buffer.from('x'), { tenant: 't1' })).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_UNAVAILABLE',
    });
    answer?.({ data: { plaintext: Buffer.alloc(32, 1).toString('base64'), ciphertext: 'vault:v1:AAAA' } });
    await late;
    expect(calls).toHaveLength(2);
    expect(transit.stats().encryptCacheEntries).toBe(0);
  });
});
