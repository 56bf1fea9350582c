import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { VaultClient } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = (id: number) => ({ tenant: 't1', table: 'notes', column: 'body', id });

/** The fixture's real node-vault client, counting the Vault requests it has open at once. */
function countingClient(): VaultClient & { readonly maxOpen: () => number } {
  let open = 0;
  let maxOpen = 0;
  return {
    read: (path, options) => fx.client.read(path, options),
    async write(path, data, options) {
      open += 1;
      maxOpen = Math.max(maxOpen, open);
      try {
        return await fx.client.write(path, data, options);
      } finally {
        open -= 1;
      }
    },
    maxOpen: () => maxOpen,
  };
}

/** `count` records, each under a DEK of its own (so each needs its own unwrap). */
async function coldRecords(key: string, count: number): Promise<Buffer[]> {
  const writer = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
  const records = await Promise.all(
    Array.from({ length: count }, (_, i) => writer.encrypt(Buffer.from(`v${i}`), ctx(i))),
  );
  fx.server.clearRequests();
  return records;
}

describe('batch storms', () => {
  it('decryptMany sends batchSize items per call with at most batchConcurrency calls open, in order, each item on its own', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 300);
    const client = countingClient();
    const reader = fx.transit(key, { vault: client, batchSize: 10, batchConcurrency: 3 });
    const items = records.map((envelope, i) => ({ envelope, context: ctx(i) }));
    items[137] = { envelope: records[137] as Buffer, context: ctx(0) }; // wrong context: fails alone
    const results = await reader.decryptMany(items);
    expect(results.map((r, i) => (r.ok ? r.plaintext.toString() === `v${i}` : r.error.code))).toEqual(
      records.map((_, i) => (i === 137 ? 'ERR_TRANSIT_INTEGRITY' : true)),
    );
    const calls = fx.server.requests().filter((r) => r.path.startsWith('transit/decrypt/'));
    expect(calls.map((r) => r.batchSize)).toEqual(Array(30).fill(10));
    expect(client.maxOpen()).toBeLessThanOrEqual(3);
  });

  it('bounds the Vault calls open at once by default, also across concurrent decryptMany and rewrap calls', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 400);
    const client = countingClient();
    const transit = fx.transit(key, { vault: client, batchSize: 10 });
    const halves = [records.slice(0, 200), records.slice(200)];
    const [a, b, rewrapped] = await Promise.all([
      transit.decryptMany(halves[0]?.map((envelope, i) => ({ envelope, context: ctx(i) })) ?? []),
      new Promise<void>((resolve) => setImmediate(resolve)).then(() =>
        transit.decryptMany(halves[1]?.map((envelope, i) => ({ envelope, context: ctx(200 + i) })) ?? []),
      ),
      transit.rewrap(records.map((envelope) => ({ envelope }))),
    ]);
    expect([...a, ...b].every((r) => r.ok)).toBe(true);
    expect(rewrapped.every((r) => r.ok)).toBe(true);
    expect(fx.calls('transit/decrypt/') + fx.calls('transit/rewrap/')).toBe(80);
    expect(client.maxOpen()).toBeLessThanOrEqual(4);
  });

  it('rewrap sends batchSize items per call with at most batchConcurrency calls open, results in order', async () => {
    const key = await fx.newKey();
    const records = await coldRecords(key, 250);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const client = countingClient();
    const transit = fx.transit(key, { vault: client, batchSize: 25, batchConcurrency: 2 });
    const items = records.map((envelope) => ({ envelope: envelope as Uint8Array }));
    items[40] = { envelope: Buffer.from('junk') };
    const results = await transit.rewrap(items);
    expect(results.map((r) => (r.ok ? r.toVersion : r.error.code))).toEqual(
      records.map((_, i) => (i === 40 ? 'ERR_TRANSIT_MALFORMED_ENVELOPE' : 2)),
    );
    const reader = fx.transit(key);
    const opened = await reader.decryptMany(
      results.map((r, i) => ({ envelope: r.ok ? r.envelope : Buffer.alloc(0), context: ctx(i) })),
    );
    expect(opened.filter((r) => r.ok).map((r) => (r.ok ? r.plaintext.toString() : ''))).toEqual(
      records.flatMap((_, i) => (i === 40 ? [] : [`v${i}`])),
    );
    const calls = fx.server.requests().filter((r) => r.path.startsWith('transit/rewrap/'));
    expect(calls.map((r) => r.batchSize)).toEqual([...Array(9).fill(25), 24]);
    expect(client.maxOpen()).toBeLessThanOrEqual(2);
  });
});
