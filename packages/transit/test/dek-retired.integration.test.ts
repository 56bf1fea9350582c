import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TransitMetric } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());

const ctx = { tenant: 't1', table: 'users', column: 'ssn', id: 42 };

function tally(metrics: TransitMetric[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of metrics) {
    const name =
      m.type === 'dek-retired'
        ? `retired ${m.cache}`
        : m.type === 'vault-call' && m.ok
          ? `${m.op} ok items`
          : undefined;
    if (name) out[name] = (out[name] ?? 0) + (m.type === 'vault-call' ? m.items : 1);
  }
  return out;
}

describe('dek-retired metric', () => {
  it('reports each data key clearCaches() drops from the encrypt and the decrypt cache, once', async () => {
    const key = await fx.newKey();
    const writer = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
    const records = await Promise.all(Array.from({ length: 5 }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), ctx)));
    const metrics: TransitMetric[] = [];
    const reader = fx.transit(key, { onMetric: (m) => metrics.push(m) });
    await reader.decryptMany(records.map((envelope) => ({ envelope, context: ctx })));
    await reader.encrypt(Buffer.from('own'), ctx); // one DEK in the encrypt cache, and in the decrypt cache
    expect(reader.stats()).toEqual({ encryptCacheEntries: 1, decryptCacheEntries: 6 });
    reader.clearCaches();
    reader.clearCaches();
    const retired = metrics.flatMap((m) => (m.type === 'dek-retired' ? [`${m.cache}:${m.reason}`] : []));
    expect(retired.sort()).toEqual([...Array(6).fill('decrypt:cleared'), 'encrypt:cleared'].sort());
  });

  it('retires every data key it cached exactly once: as many encrypt retirements as datakey calls, decrypt ones as DEKs cached', async () => {
    let now = 1_000_000;
    const key = await fx.newKey({ derived: true });
    const writer = fx.transit(key, {
      tenantBinding: { contextKey: 'tenant' },
      cache: { maxAgeMs: 60_000, maxMessages: 1 },
    });
    const tenants = Array.from({ length: 6 }, (_, i) => `t${i}`);
    const records = await Promise.all(tenants.map((tenant) => writer.encrypt(Buffer.from(tenant), { ...ctx, tenant })));
    const metrics: TransitMetric[] = [];
    const transit = fx.transit(key, {
      tenantBinding: { contextKey: 'tenant' },
      cache: { maxAgeMs: 1000, maxMessages: 3, maxBytes: 40, maxEntries: 2 },
      decryptCache: { maxAgeMs: 1000, maxEntries: 3 },
      now: () => now,
      onMetric: (m) => metrics.push(m),
    });
    for (let round = 0; round < 4; round++) {
      // Concurrent cold encrypts over more tenants than maxEntries: evictions while fetches are in flight.
      await Promise.all(
        tenants.flatMap((tenant, i) => [
          transit.encrypt(Buffer.alloc(i * 7), { ...ctx, tenant }),
          transit.encrypt(Buffer.alloc(15), { ...ctx, tenant }),
        ]),
      );
      await transit.decryptMany(records.map((envelope, i) => ({ envelope, context: { ...ctx, tenant: `t${i}` } })));
      now += round === 1 ? 1000 : 10; // one round ages everything out
    }
    transit.clearCaches();
    const counts = tally(metrics);
    // Every datakey answer became one encrypt-cache DEK, and also one decrypt-cache entry; every
    // unwrapped DEK one decrypt-cache entry: each must be reported retired exactly once.
    expect(counts['retired encrypt']).toBe(counts['datakey ok items']);
    expect(counts['retired decrypt']).toBe((counts['datakey ok items'] ?? 0) + (counts['decrypt ok items'] ?? 0));
    expect(transit.stats()).toEqual({ encryptCacheEntries: 0, decryptCacheEntries: 0 });
  });
});
