import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ALG, anyKey, encodeFixedHeader, parseHead } from '../src/envelope.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { pipeThrough } from './pipe-through.ts';
import { encryptStreamV1 } from './stream-v1.ts';

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

  it('refuses a minVersion that is not a whole number ≥ 1 instead of reporting nothing stale', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const v1 = await transit.encrypt(Buffer.from('a'), ctx(1));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    fx.server.clearRequests();
    for (const minVersion of [Number.NaN, 0, -1, 1.5, Number.POSITIVE_INFINITY, 2 ** 53, '2', null]) {
      const failure = await transit
        .rotationReport([v1], { minVersion } as unknown as { minVersion: number })
        .catch((e: unknown) => e);
      expect(failure, String(minVersion)).toMatchObject({ code: 'ERR_TRANSIT_INVALID_INPUT', retryable: false });
      expect((failure as Error).message).toMatch(/minVersion/);
    }
    expect(fx.server.requests()).toEqual([]);
    expect((await transit.rotationReport([v1], { minVersion: 2 })).stale).toEqual([0]);
    expect((await transit.rotationReport([v1], { minVersion: 1 })).stale).toEqual([]);
    expect((await transit.rotationReport([v1], {})).stale).toEqual([0]);
  });

  /** `envelope` claiming to be under `key` on `mount`: only its fixed header changes. */
  const forge = (envelope: Buffer, mount: string, key: string): Buffer =>
    Buffer.concat([
      encodeFixedHeader(ALG.record, mount, key),
      envelope.subarray(parseHead(envelope, anyKey).fixedHeader.length),
    ]);

  it('never asks Vault about a key an envelope names but this instance does not accept', async () => {
    const key = await fx.newKey();
    const other = await fx.newKey();
    const transit = fx.transit(key);
    const mine = await transit.encrypt(Buffer.from('a'), ctx(1));
    const envelopes = [
      mine,
      forge(mine, 'transit', '../../sys/mounts'),
      forge(mine, '../sys', 'mounts'),
      forge(mine, 'transit', other),
      forge(mine, 'transit', 'k/../../sys/mounts'),
    ];
    fx.server.clearRequests();
    const report = await transit.rotationReport(envelopes);
    expect(fx.server.requests().map((r) => r.path)).toEqual([`transit/keys/${key}`]);
    expect(report).toMatchObject({
      keys: [{ mount: 'transit', key, latestVersion: 1 }],
      total: 5,
      stale: [],
      malformed: [1, 2, 4],
      notAccepted: [3],
      keyNotFound: [],
      versions: { 1: 1 },
    });
  });

  it('lists envelopes of an accepted key that Vault does not have, and reports the others', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key, { acceptKeys: [{ key: 'gone' }, { key: 'also-gone', mount: 'team/transit' }] });
    const mine = await transit.encrypt(Buffer.from('a'), ctx(1));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const report = await transit.rotationReport([
      forge(mine, 'transit', 'gone'),
      mine,
      forge(mine, 'team/transit', 'also-gone'),
    ]);
    expect(report).toMatchObject({
      keys: [{ mount: 'transit', key, latestVersion: 2 }],
      stale: [1],
      keyNotFound: [0, 2],
      notAccepted: [],
      malformed: [],
    });
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

  it('fails only the envelope whose wrapped DEK Vault cannot authenticate (ERR_TRANSIT_INTEGRITY) and rewraps the rest of its batch', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const [first, second, third] = await Promise.all(
      [0, 1, 2].map((i) => transit.encrypt(Buffer.from(`r${i}`), ctx(i))),
    );
    if (!first || !second || !third) throw new Error('expected three envelopes');
    const tampered = Buffer.from(second);
    const head = parseHead(tampered, anyKey);
    tampered[head.end - 1] = (tampered[head.end - 1] ?? 0) ^ 1; // the wrapped DEK's tag
    const sent = head.wrappedDek.toString('base64');
    const asGiven = Buffer.from(tampered);
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    fx.server.clearRequests();
    const results = await transit.rewrap([{ envelope: first }, { envelope: tampered }, { envelope: third }]);
    // Vault answers the batch 200 with the error in that item's slot (path_rewrap.go): one call, no retry.
    expect(
      fx.server
        .requests()
        .filter((r) => r.path.startsWith('transit/rewrap/'))
        .map((r) => [r.batchSize, r.status]),
    ).toEqual([[3, 200]]);
    expect(results.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual(['ok', 'ERR_TRANSIT_INTEGRITY', 'ok']);
    const failed = results[1];
    if (failed === undefined || failed.ok) throw new Error('expected the tampered envelope to fail');
    expect(failed.error.retryable).toBe(false);
    expect(`${failed.error.message} ${String((failed.error.cause as Error | undefined)?.message)}`).not.toContain(sent);
    expect(tampered).toEqual(asGiven);
    const reader = fx.transit(key, { decryptCache: false });
    for (const i of [0, 2]) {
      const result = results[i];
      if (!result?.ok) throw result?.error;
      expect([result.fromVersion, result.toVersion]).toEqual([1, 2]);
      expect((await reader.decrypt(result.envelope, ctx(i))).toString()).toBe(`r${i}`);
    }
  });
});

const streamCtx = { tenant: 't1', object: 'backup.tar' };
const STREAM_TEXT = 'hello stream, more than one frame of it '.repeat(4);

describe('Transit.rewrap of a stream (format 2)', () => {
  it('rewraps the header only, and the stream decrypts after rotation and a raised min_decryption_version', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key, { frameSize: 64 });
    const sealed = await pipeThrough(Buffer.from(STREAM_TEXT), transit.encryptStream(streamCtx));
    expect(transit.inspect(sealed)).toMatchObject({ stream: true, formatVersion: 2, keyVersion: 1 });
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const report = await transit.rotationReport([sealed]);
    expect(report).toMatchObject({ stale: [0], streams: [] });
    fx.server.clearRequests();
    const [result] = await transit.rewrap([{ envelope: sealed }]);
    if (!result?.ok) throw result?.error ?? new Error('no result');
    expect([result.fromVersion, result.toVersion]).toEqual([1, 3]);
    expect(fx.calls('transit/decrypt/') + fx.calls('transit/datakey/')).toBe(0);
    const headerEnd = sealed.length - (STREAM_TEXT.length + 3 * 16); // 3 frames of ≤ 64 bytes
    expect(result.envelope.subarray(-(sealed.length - headerEnd))).toEqual(sealed.subarray(headerEnd));
    const fixedHeader = 3 + 1 + 1 + key.length; // magic, version, alg, mountLen 0, keyLen, key
    expect(result.envelope.subarray(0, fixedHeader)).toEqual(sealed.subarray(0, fixedHeader));
    expect(transit.inspect(result.envelope).keyVersion).toBe(3);
    expect((await transit.rotationReport([result.envelope])).stale).toEqual([]);

    const cold = (): ReturnType<typeof fx.transit> => fx.transit(key, { decryptCache: false });
    expect((await pipeThrough(result.envelope, cold().decryptStream(streamCtx))).toString()).toBe(STREAM_TEXT);
    await fx.client.write(`transit/keys/${key}/config`, { min_decryption_version: 3 });
    fx.server.clearRequests();
    expect((await pipeThrough(result.envelope, cold().decryptStream(streamCtx))).toString()).toBe(STREAM_TEXT);
    expect(fx.calls('transit/decrypt/')).toBe(1); // really unwrapped by Vault at version 3
    await expect(pipeThrough(sealed, cold().decryptStream(streamCtx))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_KEY_VERSION_TOO_OLD',
    });
  });

  it('rewraps a large stream from its first kilobyte: new header ‖ rest of the original bytes', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key, { frameSize: 256 });
    const text = Buffer.from('0123456789abcdef'.repeat(512));
    const sealed = await pipeThrough(text, transit.encryptStream(streamCtx));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const [result] = await transit.rewrap([{ envelope: sealed.subarray(0, 1024) }]);
    if (!result?.ok) throw result?.error ?? new Error('no result');
    const moved = Buffer.concat([result.envelope, sealed.subarray(1024)]);
    await fx.client.write(`transit/keys/${key}/config`, { min_decryption_version: 2 });
    expect(await pipeThrough(moved, fx.transit(key, { decryptCache: false }).decryptStream(streamCtx))).toEqual(text);
  });

  it('rewraps tenant-bound streams with their context', async () => {
    const key = await fx.newKey({ derived: true });
    const binding = { tenantBinding: { contextKey: 'tenant' }, frameSize: 64 };
    const transit = fx.transit(key, binding);
    const sealed = await pipeThrough(Buffer.from(STREAM_TEXT), transit.encryptStream(streamCtx));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const [withoutContext, withContext] = await transit.rewrap([
      { envelope: sealed },
      { envelope: sealed, context: streamCtx },
    ]);
    expect(withoutContext).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_INVALID_CONTEXT' } });
    if (!withContext?.ok) throw withContext?.error ?? new Error('no result');
    await fx.client.write(`transit/keys/${key}/config`, { min_decryption_version: 2 });
    const reader = fx.transit(key, { ...binding, decryptCache: false });
    expect((await pipeThrough(withContext.envelope, reader.decryptStream(streamCtx))).toString()).toBe(STREAM_TEXT);
    await expect(
      pipeThrough(withContext.envelope, reader.decryptStream({ ...streamCtx, tenant: 't2' })),
    ).rejects.toMatchObject({ code: 'ERR_TRANSIT_INTEGRITY' });
  });
});

describe('Transit.rewrap of a stream of format 1', () => {
  it('refuses it, keeps it decryptable, and the report lists it as a stream to re-encrypt', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key, { frameSize: 64 });
    const sealed = await encryptStreamV1(fx.client, key, streamCtx, Buffer.from(STREAM_TEXT), 64);
    const current = await pipeThrough(Buffer.from(STREAM_TEXT), transit.encryptStream(streamCtx));
    expect(transit.inspect(sealed)).toMatchObject({ stream: true, formatVersion: 1 });
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const report = await transit.rotationReport([sealed, current]);
    expect(report.streams).toEqual([0]);
    expect(report.stale).toEqual([0, 1]);
    const [result] = await transit.rewrap([{ envelope: sealed }]);
    expect(result).toMatchObject({ ok: false, error: { code: 'ERR_TRANSIT_STREAM' } });
    const plain = await pipeThrough(sealed, fx.transit(key, { decryptCache: false }).decryptStream(streamCtx));
    expect(plain.toString()).toBe(STREAM_TEXT);
    // Re-encrypting writes format 2, which rewrap accepts.
    const reencrypted = await pipeThrough(plain, transit.encryptStream(streamCtx));
    expect(transit.inspect(reencrypted).formatVersion).toBe(2);
  });
});

/**
 * The fixture's node-vault client, except that the answers of the first `held` writes to
 * `<mount>/<op>/` are kept until `release()`: Vault has answered (so the key version in the answer
 * is fixed), the caller has not seen it yet.
 */
function holdingClient(op: 'datakey' | 'decrypt', held = 1) {
  let holding = held;
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let answered!: () => void;
  const vaultAnswered = new Promise<void>((resolve) => {
    answered = resolve;
  });
  const client = {
    read: (path: string, options?: Record<string, unknown>) => fx.client.read(path, options),
    async write(path: string, data: unknown, options?: Record<string, unknown>) {
      const answer = await fx.client.write(path, data, options);
      if (path.includes(`/${op}/`) && holding > 0) {
        holding -= 1;
        answered();
        await gate;
      }
      return answer;
    },
  };
  return { client, vaultAnswered, release };
}

describe('Transit.clearCaches', () => {
  it('drops a data key still being fetched: nothing encrypted after clearCaches() uses the old key version', async () => {
    const key = await fx.newKey();
    const { client, vaultAnswered, release } = holdingClient('datakey');
    const transit = fx.transit(key, { vault: client });
    const first = transit.encrypt(Buffer.from('a'), ctx(1));
    await vaultAnswered; // Vault issued a DEK under version 1; the answer is still on its way
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    transit.clearCaches();
    const second = transit.encrypt(Buffer.from('b'), ctx(2));
    release();
    const records = [await first, await second, await transit.encrypt(Buffer.from('c'), ctx(3))];
    expect(records.map((r) => transit.inspect(r).keyVersion)).toEqual([2, 2, 2]);
    expect((await transit.rotationReport(records)).stale).toEqual([]);
    expect((await transit.decrypt(records[0] as Buffer, ctx(1))).toString()).toBe('a');
  });

  it("counts a data key's age from when it was requested, not from when Vault answered", async () => {
    const key = await fx.newKey();
    let now = 0;
    const slow = {
      read: (path: string, options?: Record<string, unknown>) => fx.client.read(path, options),
      async write(path: string, data: unknown, options?: Record<string, unknown>) {
        const answer = await fx.client.write(path, data, options);
        if (path.includes('/datakey/')) now += 1000; // the answer took a second
        return answer;
      },
    };
    const transit = fx.transit(key, { vault: slow, cache: { maxAgeMs: 1500 }, now: () => now });
    await transit.encrypt(Buffer.from('a'), ctx(1));
    now = 1500; // maxAgeMs after the request was sent
    fx.server.clearRequests();
    await transit.encrypt(Buffer.from('b'), ctx(2));
    expect(fx.calls(`transit/datakey/plaintext/${key}`)).toBe(1);
  });

  it('keeps no unwrapped data key that arrives after clearCaches(), and the decrypt still succeeds', async () => {
    const key = await fx.newKey();
    const envelope = await fx.transit(key).encrypt(Buffer.from('a'), ctx(1));
    const { client, vaultAnswered, release } = holdingClient('decrypt');
    const reader = fx.transit(key, { vault: client });
    const decrypting = reader.decrypt(envelope, ctx(1));
    await vaultAnswered;
    reader.clearCaches();
    release();
    expect((await decrypting).toString()).toBe('a');
    expect(reader.stats()).toEqual({ encryptCacheEntries: 0, decryptCacheEntries: 0 });
  });
});
