import { createServer, type IncomingHttpHeaders, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import vault from 'node-vault';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createTransit,
  type DecryptResult,
  type Transit,
  type TransitMetric,
  type TransitOptions,
} from '../src/index.ts';
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
    const key = await fx.newKey();
    // This key's requests only: a late request of an earlier test's key can land after clearRequests().
    const calls = () => fx.calls(`transit/datakey/plaintext/${key}`);
    const transit = fx.transit(key, {
      cache: { maxAgeMs: 100 },
      retry: { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 },
    });
    fx.server.injectFault({ delayMs: 120 }, { times: 15, pathPrefix: 'transit/datakey/' });
    const envelope = await Promise.race([
      transit.encrypt(Buffer.from('x'), ctx),
      new Promise<'pending'>((resolve) => setTimeout(() => resolve('pending'), 1_500)),
    ]);
    expect(envelope).not.toBe('pending');
    expect(calls()).toBe(1);
    // The next encrypt sees the key's age from its request: it takes a new one.
    await transit.encrypt(Buffer.from('y'), ctx);
    expect(calls()).toBe(2);
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
    // This key's requests only: a late request of an earlier test's key can land after clearRequests().
    expect(fx.calls(`transit/datakey/plaintext/${key}`)).toBe(1);
  });

  it('does not retry an integrity failure', async () => {
    const key = await fx.newKey();
    const envelope = await fx.transit(key).encrypt(Buffer.from('x'), ctx);
    fx.server.clearRequests();
    await expect(fx.transit(key).decrypt(tamper(envelope, key), ctx)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INTEGRITY',
      retryable: false,
    });
    expect(fx.calls('transit/decrypt/')).toBe(1);
  });

  it('fails only the tampered item of a coalesced batch that an old Vault answers with 500', async () => {
    // Older Vault (vault#10842) answered a batch with a tampered item with 500 and every
    // item's result: this loopback proxy turns the dev server's 400 batch answers into that.
    const proxy = await startRewritingProxy(fx.server.addr, (path, status, body) =>
      status === 400 && path.includes('/decrypt/') ? { status: 500, body } : undefined,
    );
    try {
      const key = await fx.newKey();
      const envelopes = await manyRecords(key, 3, [1]);
      const transit = proxy.transit(key);
      fx.server.clearRequests();
      const outcomes = await Promise.allSettled(envelopes.map((e) => transit.decrypt(e, ctx)));
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
    // Older Vault (before vault#13111, about 1.10) failed the whole request when one item did not
    // authenticate (a plain Go error: 500 and `{"errors":[...]}`, no batch_results). This proxy
    // answers every batch in which some item failed that way; a batch whose items all succeed
    // passes through.
    const wholeBatchFailure = (path: string, _status: number, body: Buffer) => {
      if (!/\/(decrypt|rewrap)\//.test(path)) return undefined;
      const results = (JSON.parse(body.toString('utf8')) as { data?: { batch_results?: { error?: string }[] } }).data
        ?.batch_results;
      if (!results?.some((result) => result.error)) return undefined;
      return { status: 500, body: { errors: ['1 error occurred:\n\t* cipher: message authentication failed\n\n'] } };
    };

    const outcome = (result: DecryptResult): string => (result.ok ? String(result.plaintext) : result.error.code);

    it('decrypt: resends the batch in halves down to single items, so only the tampered record fails with ERR_TRANSIT_INTEGRITY', async () => {
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const records = await manyRecords(key, 3, [1]);
        const transit = proxy.transit(key);
        fx.server.clearRequests();
        const outcomes = await Promise.allSettled(records.map((e) => transit.decrypt(e, ctx)));
        expect(outcomes[0]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 0') });
        expect(outcomes[1]).toMatchObject({
          status: 'rejected',
          reason: { code: 'ERR_TRANSIT_INTEGRITY', retryable: false },
        });
        expect(outcomes[2]).toMatchObject({ status: 'fulfilled', value: Buffer.from('record 2') });
        // The batch, its halves (2 and 1 items), the halves of the failed one; no retry.
        expect(sorted(batchSizes('transit/decrypt/'))).toEqual([3, 2, 1, 1, 1]);
      } finally {
        await proxy.close();
      }
    });

    it('rewrap: resends the batch in halves, so only the tampered envelope fails and its neighbours are rewrapped', async () => {
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const records = await manyRecords(key, 3, [1]);
        await fx.client.write(`transit/keys/${key}/rotate`, {});
        const transit = proxy.transit(key);
        fx.server.clearRequests();
        const results = await transit.rewrap(records.map((envelope) => ({ envelope })));
        expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual([2, 'ERR_TRANSIT_INTEGRITY', 2]);
        expect(sorted(batchSizes('transit/rewrap/'))).toEqual([3, 2, 1, 1, 1]);
        const decrypted = await Promise.all(
          results.filter((r) => r.ok).map((r) => fx.transit(key).decrypt(r.envelope, ctx)),
        );
        expect(decrypted.map(String)).toEqual(['record 0', 'record 2']);
      } finally {
        await proxy.close();
      }
    });

    it('stops resending when Vault fails otherwise: the items not yet answered share that error', async () => {
      // The whole batch fails for an item, then Vault is sealed: the first half is retried
      // (attempts: 2), and the other half, queued behind it (batchConcurrency 1), is not sent.
      const proxy = await startRewritingProxy(fx.server.addr, (path, status, body) =>
        path.includes('/decrypt/') && batchSizes('transit/decrypt/').length > 1
          ? { status: 503, body: { errors: ['Vault is sealed'] } }
          : wholeBatchFailure(path, status, body),
      );
      try {
        const key = await fx.newKey();
        const records = await manyRecords(key, 3, [1]);
        const transit = proxy.transit(key, {
          batchConcurrency: 1,
          retry: { attempts: 2, baseDelayMs: 1, maxDelayMs: 2 },
        });
        fx.server.clearRequests();
        const outcomes = await Promise.allSettled(records.map((e) => transit.decrypt(e, ctx)));
        for (const outcome of outcomes) {
          expect(outcome).toMatchObject({
            status: 'rejected',
            reason: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true },
          });
        }
        expect(batchSizes('transit/decrypt/')).toEqual([3, 2, 2]);
      } finally {
        await proxy.close();
      }
    });

    it('finds one tampered record among 64 in 2·log2(64) more calls, not one per record', async () => {
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const envelopes = await manyRecords(key, 64, [37]);
        const transit = proxy.transit(key);
        fx.server.clearRequests();
        const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
        expect(results.map(outcome)).toEqual(
          envelopes.map((_, i) => (i === 37 ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)),
        );
        // The batch, then two halves a level (64 → 32 → ... → 1) along the tampered record's path.
        expect(sorted(batchSizes('transit/decrypt/'))).toEqual([64, 32, 32, 16, 16, 8, 8, 4, 4, 2, 2, 1, 1]);
      } finally {
        await proxy.close();
      }
    });

    it('caps the calls of one batch at 1 + 4·⌈log2 N⌉: past it, a half Vault fails as a whole keeps that error', async () => {
      // 4 tampered records among 32, one slot (halves are served in order): isolating all four
      // would take 31 calls; 21 are allowed. The last halves still failing whole are not split
      // again, so the records they hold get their integrity error, 6 good ones among them.
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const envelopes = await manyRecords(key, 32, [0, 8, 16, 24]);
        const transit = proxy.transit(key, { batchConcurrency: 1 });
        fx.server.clearRequests();
        const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
        const failed = results.flatMap((result, i) => (result.ok ? [] : [i]));
        expect(failed).toEqual([0, 1, 8, 9, 16, 17, 24, 25, 26, 27]);
        for (const i of failed)
          expect(results[i]).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_INTEGRITY' } });
        for (const [i, result] of results.entries())
          if (result.ok) expect(String(result.plaintext)).toBe(`record ${i}`);
        expect(batchSizes('transit/decrypt/')).toHaveLength(21);
      } finally {
        await proxy.close();
      }
    });

    it('gives the slot back between the halves: a single decrypt made meanwhile is sent before the next half', async () => {
      // One slot. While Vault answers the first half of a bulk batch being split, a single decrypt
      // (of a record under another key, to tell its call apart) queues: it is sent next, before the
      // other half, not after the whole split.
      const key = await fx.newKey();
      const otherKey = await fx.newKey();
      const envelopes = await manyRecords(key, 40, [5]);
      const single = await fx.transit(otherKey).encrypt(Buffer.from('urgent'), ctx);
      let transit: Transit | undefined;
      let urgent: Promise<Buffer> | undefined;
      const proxy = await startRewritingProxy(fx.server.addr, async (path, status, body) => {
        if (transit && urgent === undefined && batchSizes('transit/decrypt/').length === 2) {
          urgent = transit.decrypt(single, ctx);
          // Its batch queues for the slot in the next check phase.
          await new Promise((resolve) => setImmediate(resolve));
        }
        return wholeBatchFailure(path, status, body);
      });
      try {
        transit = proxy.transit(key, {
          batchConcurrency: 1,
          acceptKeys: [{ key: otherKey }],
          retry: { attempts: 1, requestTimeoutMs: 2_000 },
        });
        fx.server.clearRequests();
        const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
        expect(results.map(outcome)).toEqual(
          envelopes.map((_, i) => (i === 5 ? 'ERR_TRANSIT_INTEGRITY' : `record ${i}`)),
        );
        expect(String(await urgent)).toBe('urgent');
        const paths = fx.server
          .requests()
          .filter((r) => r.path.startsWith('transit/decrypt/'))
          .map((r) => r.path);
        expect(paths.indexOf(`transit/decrypt/${otherKey}`)).toBe(2);
      } finally {
        transit?.close();
        await proxy.close();
      }
    });

    it('sends no half of an urgent batch that could not settle within two retry budgets: retryable ERR_TRANSIT_VAULT_UNAVAILABLE', async () => {
      // Budget 3 s (one attempt). A bulk call holds the only slot for 1.8 s, so the single
      // decrypts' batch starts 1.8 s in; Vault fails it whole after another 1.8 s. A half sent
      // now could take one more budget and end past two: none is sent. (1.2 s of margin either way
      // for a loaded machine.)
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const records = await manyRecords(key, 3, [1]);
        const [bulk] = await manyRecords(key, 1, []);
        const transit = proxy.transit(key, { batchConcurrency: 1, retry: { attempts: 1, requestTimeoutMs: 3_000 } });
        fx.server.clearRequests();
        fx.server.injectFault({ delayMs: 1_800 }, { times: 2, pathPrefix: 'transit/decrypt/' });
        const many = transit.decryptMany([{ envelope: bulk as Buffer, context: ctx }]);
        const outcomes = await Promise.allSettled(records.map((e) => transit.decrypt(e, ctx)));
        for (const settled of outcomes) {
          expect(settled).toMatchObject({
            status: 'rejected',
            reason: { code: 'ERR_TRANSIT_VAULT_UNAVAILABLE', retryable: true },
          });
        }
        expect((await many).map(outcome)).toEqual(['record 0']);
        expect(batchSizes('transit/decrypt/')).toEqual([1, 3]);
      } finally {
        await proxy.close();
      }
    });

    it("marks the calls of a split batch in its metrics: `split` on each failure that is not the items' own, `resend` on each half", async () => {
      const proxy = await startRewritingProxy(fx.server.addr, wholeBatchFailure);
      try {
        const key = await fx.newKey();
        const envelopes = await manyRecords(key, 4, [1]);
        const metrics: TransitMetric[] = [];
        const transit = proxy.transit(key, { batchConcurrency: 1, onMetric: (metric) => metrics.push(metric) });
        const results = await transit.decryptMany(envelopes.map((envelope) => ({ envelope, context: ctx })));
        expect(results.map(outcome)).toEqual(['record 0', 'ERR_TRANSIT_INTEGRITY', 'record 2', 'record 3']);
        const calls = metrics.flatMap((metric) =>
          metric.type === 'vault-call' ? [{ ...metric, durationMs: undefined, key: undefined, type: undefined }] : [],
        );
        const integrity = { ok: false, code: 'ERR_TRANSIT_INTEGRITY' };
        expect(calls).toEqual([
          { op: 'decrypt', items: 4, ...integrity, split: true },
          { op: 'decrypt', items: 2, ...integrity, split: true, resend: true },
          { op: 'decrypt', items: 2, ok: true, resend: true },
          { op: 'decrypt', items: 1, ok: true, resend: true },
          { op: 'decrypt', items: 1, ...integrity, resend: true },
        ]);
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

/**
 * `n` records under `key` ("record <i>"), each with its own data key (so the unwraps are not
 * shared); those at `bad` tampered.
 */
async function manyRecords(key: string, n: number, bad: readonly number[]): Promise<Buffer[]> {
  const transit = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
  const records: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const record = await transit.encrypt(Buffer.from(`record ${i}`), ctx);
    records.push(bad.includes(i) ? tamper(record, key) : record);
  }
  return records;
}

/** `envelope` with one bit of its wrapped DEK flipped: Vault no longer authenticates it. */
function tamper(envelope: Buffer, key: string): Buffer {
  const tampered = Buffer.from(envelope);
  const at = 3 + 1 + 1 + key.length + 1 + 20;
  tampered[at] = (tampered[at] ?? 0) ^ 1;
  return tampered;
}

/** `sizes` largest first (halves sent at once reach Vault in any order). */
function sorted(sizes: (number | undefined)[]): (number | undefined)[] {
  return [...sizes].sort((a, b) => (b ?? 0) - (a ?? 0));
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
 * instead, or `undefined` to pass it through (or a promise of either: the answer waits for it).
 */
async function startRewritingProxy(
  upstreamAddr: string,
  rewrite: (
    path: string,
    status: number,
    body: Buffer,
  ) => { status: number; body: unknown } | undefined | Promise<{ status: number; body: unknown } | undefined>,
): Promise<{ transit(key: string, options?: Partial<TransitOptions>): Transit; close(): Promise<void> }> {
  const upstream = new URL(upstreamAddr);
  const proxy = createServer((req, res) => {
    const forward = request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        const chunks: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => chunks.push(chunk));
        answer.on('end', async () => {
          const status = answer.statusCode ?? 502;
          const body = Buffer.concat(chunks);
          const changed = await rewrite(req.url ?? '', status, body);
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
    transit: (key, options = {}) => fx.transit(key, { vault: client, ...options }),
    async close() {
      proxy.closeAllConnections();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
