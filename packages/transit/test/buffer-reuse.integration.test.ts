import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = { tenant: 't1', table: 'notes', column: 'body', id: 0 };

/** Records A and B on one key, each under a DEK of its own, as a caller's pooled row buffers would hold them. */
async function twoRecords(key: string): Promise<{ a: Buffer; b: Buffer }> {
  const writer = fx.transit(key, { cache: { maxAgeMs: 60_000, maxMessages: 1 } });
  const a = await writer.encrypt(Buffer.from('record-A'), ctx);
  const b = await writer.encrypt(Buffer.from('record-B'), ctx);
  expect(a.length).toBe(b.length);
  return { a, b };
}

const outcome = (p: Promise<Buffer>): Promise<string> =>
  p.then(
    (plaintext) => plaintext.toString(),
    (error: { code?: string }) => String(error.code),
  );

describe('Transit: a caller reusing the buffer it passed', () => {
  it('decrypts what the buffer held at call time, and neither fails nor poisons the cache for other callers', async () => {
    const key = await fx.newKey();
    const { a, b } = await twoRecords(key);
    const reader = fx.transit(key);
    fx.server.clearRequests();
    const pooled = Buffer.from(a);
    const first = outcome(reader.decrypt(pooled, ctx));
    const second = outcome(reader.decrypt(Buffer.from(a), ctx));
    // The caller's pool hands the buffer to the next row before the unwrap was sent.
    b.copy(pooled);
    expect(await second).toBe('record-A');
    expect(await first).toBe('record-A');
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(1);
    // The cached DEK is the one record A names: later reads of A need no Vault call.
    expect(await outcome(reader.decrypt(Buffer.from(a), ctx))).toBe('record-A');
    expect(await outcome(reader.decrypt(Buffer.from(b), ctx))).toBe('record-B');
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(2);
  });

  it('decrypts a decryptMany item whose buffer is reused while its bulk batch waits for a Vault slot', async () => {
    const key = await fx.newKey();
    const { a, b } = await twoRecords(key);
    const reader = fx.transit(key, { batchConcurrency: 1 });
    fx.server.clearRequests();
    fx.server.injectFault({ delayMs: 100 }, { pathPrefix: `transit/decrypt/${key}`, times: 1 });
    // A first call holds the only slot; the bulk batch with `pooled` waits behind it.
    const blocker = outcome(reader.decrypt(Buffer.from(b), ctx));
    await new Promise((resolve) => setImmediate(resolve));
    const pooled = Buffer.from(a);
    const many = reader.decryptMany([{ envelope: pooled, context: ctx }]);
    await new Promise((resolve) => setImmediate(resolve));
    b.copy(pooled);
    expect((await many).map((r) => (r.ok ? r.plaintext.toString() : r.error.code))).toEqual(['record-A']);
    expect(await blocker).toBe('record-B');
    expect(await outcome(reader.decrypt(Buffer.from(a), ctx))).toBe('record-A');
    expect(fx.calls(`transit/decrypt/${key}`)).toBe(2);
  });

  it('rewraps the envelope the buffer held at call time', async () => {
    const key = await fx.newKey();
    const { a, b } = await twoRecords(key);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const transit = fx.transit(key);
    const pooled = Buffer.from(a);
    const rewrapping = transit.rewrap([{ envelope: pooled }]);
    b.copy(pooled);
    const [result] = await rewrapping;
    expect(result?.ok && result.toVersion).toBe(2);
    if (!result?.ok) throw new Error('rewrap failed');
    expect(await outcome(fx.transit(key).decrypt(result.envelope, ctx))).toBe('record-A');
  });

  it('encrypts the plaintext the buffer held at call time when it has to wait for a data key', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const pooled = Buffer.from('record-A');
    const encrypting = transit.encrypt(pooled, ctx);
    Buffer.from('record-B').copy(pooled);
    expect(await outcome(fx.transit(key).decrypt(await encrypting, ctx))).toBe('record-A');
  });
});
