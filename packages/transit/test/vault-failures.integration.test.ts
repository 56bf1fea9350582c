import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import vault from 'node-vault';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTransit, type Transit, type TransitOptions } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = { tenant: 't1', id: 1 };

describe('Vault failure policy', () => {
  it('retries 503/429/412 with backoff and succeeds when Vault comes back', async () => {
    const transit = fx.transit(await fx.newKey(), { retry: { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 } });
    fx.server.injectFault({ status: 503, errors: ['Vault is sealed'] }, { pathPrefix: 'transit/datakey' });
    fx.server.injectFault({ status: 429 }, { pathPrefix: 'transit/datakey' });
    fx.server.injectFault({ status: 412 }, { pathPrefix: 'transit/datakey' });
    const envelope = await transit.encrypt(Buffer.from('x'), ctx);
    expect(fx.calls('transit/datakey/')).toBe(4);
    expect((await transit.decrypt(envelope, ctx)).toString()).toBe('x');
  });

  it('gives up after the configured attempts with a retryable ERR_TRANSIT_VAULT_UNAVAILABLE', async () => {
    const transit = fx.transit(await fx.newKey(), { retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 } });
    fx.server.injectFault({ status: 502 }, { times: 3, pathPrefix: 'transit/datakey' });
    await expect(transit.encrypt(Buffer.from('x'), ctx)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_UNAVAILABLE',
      retryable: true,
    });
    expect(fx.calls('transit/datakey/')).toBe(3);
  });

  it('bounds a hanging Vault with the request timeout', async () => {
    const transit = fx.transit(await fx.newKey(), { retry: { attempts: 1, requestTimeoutMs: 100 } });
    fx.server.injectFault({ delayMs: 1_000 }, { pathPrefix: 'transit/datakey' });
    await expect(transit.encrypt(Buffer.from('x'), ctx)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_UNAVAILABLE',
    });
  });

  it('uses a data key that arrives older than maxAgeMs once, instead of fetching again forever', async () => {
    const transit = fx.transit(await fx.newKey(), {
      cache: { maxAgeMs: 100 },
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    });
    fx.server.injectFault({ delayMs: 120 }, { times: 15, pathPrefix: 'transit/datakey/' });
    const envelope = await Promise.race([
      transit.encrypt(Buffer.from('x'), ctx),
      new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 1_500)),
    ]);
    expect(envelope).not.toBe('pending');
    expect(fx.calls('transit/datakey/')).toBe(1);
    // The next encrypt sees the key's age from its request: it takes a new one.
    await transit.encrypt(Buffer.from('y'), ctx);
    expect(fx.calls('transit/datakey/')).toBe(2);
  });

  it('does not retry a refused token (403)', async () => {
    const key = await fx.newKey();
    const transit = createTransit({
      vault: vault({ endpoint: fx.server.addr, token: 'hvs.wrong' }),
      key,
      cache: { maxAgeMs: 1000 },
    });
    await expect(transit.encrypt(Buffer.from('x'), ctx)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_FORBIDDEN',
      retryable: false,
    });
    expect(fx.calls('transit/datakey/')).toBe(1);
  });

  it('does not retry an integrity failure', async () => {
    const key = await fx.newKey();
    const envelope = await fx.transit(key).encrypt(Buffer.from('x'), ctx);
    const flipped = Buffer.from(envelope);
    const at = 3 + 1 + 1 + key.length + 1 + 20;
    flipped[at] = (flipped[at] ?? 0) ^ 1;
    fx.server.clearRequests();
    await expect(fx.transit(key).decrypt(flipped, ctx)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INTEGRITY',
      retryable: false,
    });
    expect(fx.calls('transit/decrypt/')).toBe(1);
  });

  it('fails only the tampered item of a coalesced batch that an old Vault answers with 500', async () => {
    // Vault before 1.7 (vault#10842) answered a batch with a tampered item with 500 and every
    // item's result: this loopback proxy turns the dev server's 400 batch answers into that.
    const proxy = await startRewritingProxy(fx.server.addr, (path, status, body) =>
      status === 400 && path.includes('/decrypt/') ? { status: 500, body } : undefined,
    );
    try {
      const key = await fx.newKey();
      const envelopes = [];
      for (let i = 0; i < 3; i++) envelopes.push(await fx.transit(key).encrypt(Buffer.from(`record ${i}`), ctx));
      const tampered = tamper(envelopes[1] as Buffer, key);
      const transit = proxy.transit(key);
      fx.server.clearRequests();
      const outcomes = await Promise.allSettled(
        [envelopes[0], tampered, envelopes[2]].map((e) => transit.decrypt(e as Buffer, ctx)),
      );
      expect(fx.calls('transit/decrypt/')).toBe(1);
      expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 0') });
      expect(outcomes[1]).toMatchObject({
        status: 'rejected',
        reason: { code: 'ERR_TRANSIT_INTEGRITY', retryable: false },
      });
      expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 2') });
    } finally {
      await proxy.close();
    }
  });

  describe('a batch Vault fails as a whole (no batch_results) for one tampered item', () => {
    // Vault before 1.7 failed the whole request when one item did not authenticate (a plain Go
    // error: 500 and `{"errors":[...]}`, no batch_results). This proxy answers every batch in which
    // some item failed that way; a batch whose items all succeed passes through.
    const wholeBatchFailure = (path: string, _status: number, body: Buffer) => {
      if (!/\/(decrypt|rewrap)\//.test(path)) return undefined;
      const results = (JSON.parse(body.toString('utf8')) as { data?: { batch_results?: { error?: string }[] } }).data
        ?.batch_results;
      if (!results?.some((result) => result.error)) return undefined;
      return { status: 500, body: { errors: ['1 error occurred:\n\t* cipher: message authentication failed\n\n'] } };
    };

    async function threeRecords(key: string): Promise<[Buffer, Buffer, Buffer]> {
      // One instance each: three data keys, so the unwraps are not shared.
      const records: Buffer[] = [];
      for (let i = 0; i < 3; i++) records.push(await fx.transit(key).encrypt(Buffer.from(`record ${i}`), ctx));
      return [records[0] as Buffer, tamper(records[1] as Buffer, key), records[2] as Buffer];
    }

    it('decrypt: resends each item alone, so only the tampered record fails with ERR_TRANSIT_INTEGRITY', async () => {
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const [first, tampered, third] = await threeRecords(key);
        const transit = proxy.transit(key);
        fx.server.clearRequests();
        const outcomes = await Promise.allSettled([first, tampered, third].map((e) => transit.decrypt(e, ctx)));
        expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 0') });
        expect(outcomes[1]).toMatchObject({
          status: 'rejected',
          reason: { code: 'ERR_TRANSIT_INTEGRITY', retryable: false },
        });
        expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 2') });
        // Bounded: the batch, then one call per item, no retry.
        expect(batchSizes('transit/decrypt/')).toEqual([3, 1, 1, 1]);
      } finally {
        await proxy.close();
      }
    });

    it('rewrap: resends each item alone, so only the tampered envelope fails and its neighbours are rewrapped', async () => {
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const [first, tampered, third] = await threeRecords(key);
        await fx.client.write(`transit/keys/${key}/rotate`, {});
        const transit = proxy.transit(key);
        fx.server.clearRequests();
        const results = await transit.rewrap([{ envelope: first }, { envelope: tampered }, { envelope: third }]);
        expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual([2, 'ERR_TRANSIT_INTEGRITY', 2]);
        expect(batchSizes('transit/rewrap/')).toEqual([3, 1, 1, 1]);
        const decrypted = await Promise.all(
          results.filter((r) => r.ok).map((r) => fx.transit(key).decrypt(r.envelope, ctx)),
        );
        expect(decrypted.map(String)).toEqual(['record 0', 'record 2']);
      } finally {
        await proxy.close();
      }
    });

    it('stops resending when Vault fails otherwise: the items not yet answered share that error', async () => {
      // The whole batch fails for an item, then Vault is sealed: the first resend is retried
      // (attempts: 2) and the two items after it are not sent.
      const proxy = await startRewritingProxy(fx.server.addr, (path, status, body) =>
        path.includes('/decrypt/') && batchSizes('transit/decrypt/').length > 1
          ? { status: 503, body: { errors: ['Vault is sealed'] } }
          : wholeBatchFailure(path, status, body),
      );
      try {
        const key = await fx.newKey();
        const [first, tampered, third] = await threeRecords(key);
        const transit = proxy.transit(key, { retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 } });
        fx.server.clearRequests();
        const outcomes = await Promise.allSettled([first, tampered, third].map((e) => transit.decrypt(e, ctx)));
        for (const outcome of outcomes) {
          expect(outcome).toMatchObject({
            status: 'rejected',
            reason: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true },
          });
        }
        expect(batchSizes('transit/decrypt/')).toEqual([3, 1, 1]);
      } finally {
        await proxy.close();
      }
    });
  });

  it('names a raised min_decryption_version', async () => {
    const key = await fx.newKey();
    const old = await fx.transit(key).encrypt(Buffer.from('x'), ctx);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    await fx.client.write(`transit/keys/${key}/config`, { min_decryption_version: 2 });
    const error = await fx
      .transit(key)
      .decrypt(old, ctx)
      .catch((e) => e);
    expect(error).toMatchObject({ code: 'ERR_TRANSIT_KEY_VERSION_TOO_OLD', retryable: false });
    expect(error.message).toContain('min_decryption_version');
  });

  it('reports a missing transit key (datakey never creates one)', async () => {
    await expect(fx.transit('never-created').encrypt(Buffer.from('x'), ctx)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_KEY_NOT_FOUND',
    });
  });

  it('keeps encrypting from the cache while Vault is down', async () => {
    const transit = fx.transit(await fx.newKey());
    await transit.encrypt(Buffer.from('warm'), ctx);
    await fx.server.suspend();
    try {
      const envelope = await transit.encrypt(Buffer.from('while down'), ctx);
      expect((await transit.decrypt(envelope, ctx)).toString()).toBe('while down');
    } finally {
      await fx.server.resume();
    }
  });
});

/** `envelope` with one bit of its wrapped DEK flipped: Vault no longer authenticates it. */
function tamper(envelope: Buffer, key: string): Buffer {
  const tampered = Buffer.from(envelope);
  const at = 3 + 1 + 1 + key.length + 1 + 20;
  tampered[at] = (tampered[at] ?? 0) ^ 1;
  return tampered;
}

/** `batch_input` sizes of the requests to `prefix` the dev server answered, in order. */
function batchSizes(prefix: string): (number | undefined)[] {
  return fx.server
    .requests()
    .filter((r) => r.path.startsWith(prefix))
    .map((r) => r.batchSize);
}

/**
 * A loopback proxy in front of the dev server that makes it answer like another Vault version:
 * `rewrite` gets each answer (request path, status, body) and returns the status and body to send
 * instead, or `undefined` to pass it through.
 */
async function startRewritingProxy(
  upstreamAddr: string,
  rewrite: (path: string, status: number, body: Buffer) => { status: number; body: unknown } | undefined,
): Promise<{ transit(key: string, options?: Partial<TransitOptions>): Transit; close(): Promise<void> }> {
  const upstream = new URL(upstreamAddr);
  const proxy = createServer((req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', () => {
          const status = answer.statusCode ?? 502;
          const body = Buffer.concat(chunks);
          const changed = rewrite(req.url ?? '', status, body);
          const sent =
            changed === undefined || Buffer.isBuffer(changed.body)
              ? ((changed?.body as Buffer | undefined) ?? body)
              : Buffer.from(JSON.stringify(changed.body));
          const headers: IncomingHttpHeaders = { ...answer.headers, 'content-length': String(sent.length) };
          delete headers['transfer-encoding'];
          res.writeHead(changed?.status ?? status, headers);
          res.end(sent);
        });
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const client = vault({
    endpoint: `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    token: fx.server.token,
  });
  return {
    transit: (key, options = {}) =>
      createTransit({
        vault: client,
        key,
        cache: { maxAgeMs: 60_000 },
        retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 2 },
        ...options,
      }),
    async close() {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
