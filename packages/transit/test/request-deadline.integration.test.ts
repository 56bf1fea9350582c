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

async function startTricklingVault(intervalMs: number): Promise<string> {
  server = createServer((req, res) => {
    requests += 1;
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
});

describe('retry.requestTimeoutMs', () => {
  it('caps a whole request, not only the idle time between bytes, and fails retryably', async () => {
    const endpoint = await startTricklingVault(40);
    const transit = createTransit({
      vault: vault({ endpoint, token: 'hvs.test' }),
      key: 'k1',
      cache: { maxAgeMs: 60_000 },
      retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2, requestTimeoutMs: 250 },
    });
    const failure = await transit.encrypt(Buffer.from('secret-plaintext'), { tenant: 't1' }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(TransitError);
    expect(failure).toMatchObject({ code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true });
    expect(requests).toBe(2);
    const text = `${(failure as Error).message} ${String((failure as Error).cause)}`;
    expect(text).toContain('250 ms');
    expect(text).not.toContain('secret-plaintext');
    expect(text).not.toContain('hvs.test');
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
