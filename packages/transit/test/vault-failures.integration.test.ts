import vault from 'node-vault';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTransit } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { olderVault, tamper } from './older-vault.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = { tenant: 't1', id: 1 };
const { manyRecords, startRewritingProxy } = olderVault(() => fx, ctx);

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
    const proxy = await startRewritingProxy((path, status, body) =>
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
