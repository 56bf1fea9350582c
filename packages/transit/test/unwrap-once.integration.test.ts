import { waitFor } from '@rampart/testkit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { TransitMetric, VaultClient } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = (id: number) => ({ tenant: 't1', table: 'notes', column: 'body', id });

/** `count` records, each under a DEK of its own (so each needs its own unwrap). */
async function coldRecords(key: string, count: number): Promise<Buffer[]> {
  const writer = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
  return Promise.all(Array.from({ length: count }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), ctx(i))));
}

const misses = (metrics: TransitMetric[]): number =>
  metrics.filter((m) => m.type === 'cache' && m.cache === 'decrypt' && m.result === 'miss').length;
const retired = (metrics: TransitMetric[]): TransitMetric[] => metrics.filter((m) => m.type === 'dek-retired');
/** Items of each transit/decrypt call, in the order the calls were answered. */
const decryptCallItems = (metrics: TransitMetric[]): number[] =>
  metrics.flatMap((m) => (m.type === 'vault-call' && m.op === 'decrypt' ? [m.items] : []));

describe('unwrapping a wrapped DEK once', () => {
  it('makes one Vault call when decryptMany and decrypt ask for the same record in the same turn', async () => {
    const key = await fx.newKey();
    const [record] = await coldRecords(key, 1);
    const metrics: TransitMetric[] = [];
    const reader = fx.transit(key, { onMetric: (m) => metrics.push(m) });
    fx.server.clearRequests();
    const [many, single] = await Promise.all([
      reader.decryptMany([{ envelope: record as Buffer, context: ctx(0) }]),
      reader.decrypt(record as Buffer, ctx(0)),
    ]);
    expect(many.map((r) => (r.ok ? r.plaintext.toString() : r.error.code))).toEqual(['v0']);
    expect(single.toString()).toBe('v0');
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(1);
    expect(misses(metrics)).toBe(1);
    expect(reader.stats().decryptCacheEntries).toBe(1);
    // Nothing pushed the DEK out of the cache.
    expect(retired(metrics)).toEqual([]);
  });

  it('moves a DEK out of a bulk batch still waiting for a slot into the single decrypt’s urgent batch', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 30);
    fx.server.clearRequests();
    fx.server.injectFault({ delayMs: 200 }, { pathPrefix: `transit/decrypt/${key}` });
    const metrics: TransitMetric[] = [];
    const client = fx.watchedClient();
    const reader = fx.transit(key, {
      vault: client,
      batchSize: 10,
      batchConcurrency: 1,
      onMetric: (m) => metrics.push(m),
    });
    const bulk = reader.decryptMany(records.map((envelope, i) => ({ envelope, context: ctx(i) })));
    await waitFor(() => client.open === 1, { timeoutMs: 10_000, intervalMs: 5, what: 'the unwrap call to start' });
    // Record 25 is in the third bulk batch, still queued behind the slow first one.
    const single = await reader.decrypt(records[25] as Buffer, ctx(25));
    expect(single.toString()).toBe('v25');
    const results = await bulk;
    expect(results.map((r) => (r.ok ? r.plaintext.toString() : r.error.code))).toEqual(records.map((_, i) => `v${i}`));
    // The single decrypt went right after the first batch, with only its DEK; the third batch shrank.
    expect(decryptCallItems(metrics)).toEqual([10, 1, 10, 9]);
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(4);
    expect(misses(metrics)).toBe(30);
    expect(retired(metrics)).toEqual([]);
  });

  it('lets a single decrypt wait for the answer of a bulk batch already sent with its DEK', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 3);
    fx.server.clearRequests();
    fx.server.injectFault({ delayMs: 150 }, { pathPrefix: `transit/decrypt/${key}` });
    const metrics: TransitMetric[] = [];
    const client = fx.watchedClient();
    const reader = fx.transit(key, { vault: client, onMetric: (m) => metrics.push(m) });
    const bulk = reader.decryptMany(records.map((envelope, i) => ({ envelope, context: ctx(i) })));
    await waitFor(() => client.open === 1, { timeoutMs: 10_000, intervalMs: 5, what: 'the unwrap call to start' });
    expect((await reader.decrypt(records[1] as Buffer, ctx(1))).toString()).toBe('v1');
    expect((await bulk).every((r) => r.ok)).toBe(true);
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(1);
    expect(misses(metrics)).toBe(3);
    expect(retired(metrics)).toEqual([]);
  });

  it('shares a promoted unwrap’s failure with the bulk items that asked for the same DEK', async () => {
    const key = await fx.newKey();
    const [record] = await coldRecords(key, 1);
    fx.server.clearRequests();
    fx.server.injectFault({ status: 403, errors: ['permission denied'] }, { pathPrefix: `transit/decrypt/${key}` });
    const reader = fx.transit(key);
    const [many, single] = await Promise.allSettled([
      reader.decryptMany([{ envelope: record as Buffer, context: ctx(0) }]),
      reader.decrypt(record as Buffer, ctx(0)),
    ]);
    expect(single).toMatchObject({ status: 'rejected', reason: { code: 'ERR_TRANSIT_VAULT_FORBIDDEN' } });
    expect(many.status === 'fulfilled' && many.value.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ERR_TRANSIT_VAULT_FORBIDDEN',
    ]);
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(1);
  });
});

describe('a batch Vault cannot parse', () => {
  /** The fixture's real client, sending `batch_input` in a shape Vault refuses to decode. */
  function malformingClient(malform: (batch: unknown[]) => unknown): VaultClient {
    return {
      read: (path, options) => fx.client.read(path, options),
      write(path, data, options) {
        const body = data as { batch_input?: unknown[] };
        return fx.client.write(
          path,
          body.batch_input ? { ...body, batch_input: malform(body.batch_input) } : data,
          options,
        );
      },
    };
  }

  it('fails decrypt with ERR_TRANSIT_VAULT_REJECTED at once, not retried as unavailable', async () => {
    const key = await fx.newKey();
    const [record] = await coldRecords(key, 1);
    fx.server.clearRequests();
    // A number where Vault wants a string: `failed to parse batch input`, answered with 500.
    const reader = fx.transit(key, {
      vault: malformingClient((batch) => batch.map((item) => ({ ...(item as object), ciphertext: 12 }))),
    });
    const error = await reader.decrypt(record as Buffer, ctx(0)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_TRANSIT_VAULT_REJECTED', retryable: false });
    expect(String((error as Error).cause)).toContain('status 500');
    expect(String((error as Error).cause)).toContain('failed to parse batch input');
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(1);
    expect(fx.server.requests().at(-1)?.status).toBe(500);
  });

  it('fails every rewrap item with ERR_TRANSIT_VAULT_REJECTED at once', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 2);
    fx.server.clearRequests();
    const transit = fx.transit(key, { vault: malformingClient(() => 'not a list') });
    const results = await transit.rewrap(records.map((envelope) => ({ envelope })));
    expect(results.map((r) => (r.ok ? 'ok' : `${r.error.code} ${r.error.retryable}`))).toEqual([
      'ERR_TRANSIT_VAULT_REJECTED false',
      'ERR_TRANSIT_VAULT_REJECTED false',
    ]);
    expect(fx.calls(`transit/rewrap/${key}`)).toBe(1);
  });

  it('does not retry an injected parse failure either', async () => {
    const key = await fx.newKey();
    const [record] = await coldRecords(key, 1);
    fx.server.clearRequests();
    fx.server.injectFault(
      {
        status: 500,
        errors: ["1 error occurred:\n\t* failed to parse batch input: '[0].ciphertext' expected type 'string'\n\n"],
      },
      { times: 3, pathPrefix: `transit/decrypt/${key}` },
    );
    await expect(fx.transit(key).decrypt(record as Buffer, ctx(0))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_REJECTED',
      retryable: false,
    });
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(1);
  });
});
