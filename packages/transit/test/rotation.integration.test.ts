import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type Fixture, startFixture } from './fixture.ts';

let fx: Fixture;
beforeAll(async () => {
  fx = await startFixture();
});
afterAll(() => fx.stop());
beforeEach(() => fx.server.clearRequests());

const ctx = (id: number) => ({ tenant: 't1', table: 'notes', column: 'body', id });

describe('Transit.rotationReport', () => {
  it('lists stale and already undecryptable envelopes', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const v1 = await transit.encrypt(Buffer.from('a'), ctx(1));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    transit.clearCaches();
    const v2 = await transit.encrypt(Buffer.from('b'), ctx(2));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    await fx.client.write(`transit/keys/${key}/config`, { min_decryption_version: 2 });
    const report = await transit.rotationReport([v1, v2, Buffer.from('junk')]);
    expect(report).toMatchObject({
      keys: [{ mount: 'transit', key, latestVersion: 3, minDecryptionVersion: 2 }],
      total: 3,
      stale: [0, 1],
      undecryptable: [0],
      malformed: [2],
      streams: [],
      versions: { 1: 1, 2: 1 },
    });
    expect((await transit.rotationReport([v1, v2], { minVersion: 2 })).stale).toEqual([0]);
  });
});

describe('Transit.rewrap', () => {
  it('rewraps only the wrapped DEK, in batches, and the payload bytes stay the same', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key, { batchSize: 4, cache: { maxAgeMs: 60_000, maxMessages: 3 } });
    const envelopes = await Promise.all(
      Array.from({ length: 10 }, (_, i) => transit.encrypt(Buffer.from(`r${i}`), ctx(i))),
    );
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    fx.server.clearRequests();
    const results = await transit.rewrap(envelopes.map((envelope) => ({ envelope })));
    expect(
      fx.server
        .requests()
        .filter((r) => r.path.startsWith('transit/rewrap/'))
        .map((r) => r.batchSize),
    ).toEqual([4, 4, 2]);
    expect(fx.calls('transit/decrypt/') + fx.calls('transit/datakey/')).toBe(0);
    results.forEach((result, i) => {
      if (!result.ok) throw result.error;
      expect([result.fromVersion, result.toVersion]).toEqual([1, 2]);
      const before = envelopes[i] ?? Buffer.alloc(0);
      const tail = 4 + 32 + `r${i}`.length + 16;
      expect(result.envelope.subarray(-tail)).toEqual(before.subarray(-tail));
    });
    await fx.client.write(`transit/keys/${key}/config`, { min_decryption_version: 2 });
    const reader = fx.transit(key);
    for (const [i, result] of results.entries()) {
      if (result.ok) expect((await reader.decrypt(result.envelope, ctx(i))).toString()).toBe(`r${i}`);
    }
  });

  it('needs the context of tenant-bound envelopes and reports each failure on its own', async () => {
    const key = await fx.newKey({ derived: true });
    const transit = fx.transit(key, { tenantBinding: { contextKey: 'tenant' } });
    const envelope = await transit.encrypt(Buffer.from('x'), ctx(1));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const results = await transit.rewrap([
      { envelope },
      { envelope, context: ctx(1) },
      { envelope: Buffer.from('junk') },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'ERR_TRANSIT_INVALID_CONTEXT',
      'ok',
      'ERR_TRANSIT_MALFORMED_ENVELOPE',
    ]);
  });
});

describe('Transit.rewrap of a stream envelope', () => {
  it('refuses it, keeps it decryptable, and the report lists it as a stream to re-encrypt', async () => {
    const { Readable, Writable } = await import('node:stream');
    const { pipeline } = await import('node:stream/promises');
    const key = await fx.newKey();
    const transit = fx.transit(key, { frameSize: 64 });
    const streamCtx = { tenant: 't1', object: 'backup.tar' };
    const collect = async (input: Buffer, transform: NodeJS.ReadWriteStream): Promise<Buffer> => {
      const out: Buffer[] = [];
      await pipeline(
        Readable.from([input]),
        transform,
        new Writable({
          write(chunk: Buffer, _enc, cb) {
            out.push(chunk);
            cb();
          },
        }),
      );
      return Buffer.concat(out);
    };
    const sealed = await collect(
      Buffer.from('hello stream, more than one frame of it '.repeat(4)),
      transit.encryptStream(streamCtx),
    );
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const report = await transit.rotationReport([sealed]);
    expect(report.streams).toEqual([0]);
    expect(report.stale).toEqual([0]);
    const [result] = await transit.rewrap([{ envelope: sealed }]);
    expect(result).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_STREAM' } });
    const plain = await collect(sealed, transit.decryptStream(streamCtx));
    expect(plain.toString()).toBe('hello stream, more than one frame of it '.repeat(4));
  });
});
