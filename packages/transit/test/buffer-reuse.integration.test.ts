import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { anyKey, parseRecord } from '../src/envelope.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { pipeThrough } from './pipe-through.ts';

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

describe('Transit streams: a caller changing its context object after creating a stream', () => {
  const bound = { tenantBinding: { contextKey: 'tenant' } };

  it('encryptStream binds the tenant and AAD the context had at creation', async () => {
    const key = await fx.newKey({ derived: true });
    const transit = fx.transit(key, bound);
    const context: Record<string, string> = { tenant: 'a', object: 'x' };
    const encrypting = transit.encryptStream(context);
    context.tenant = 'b';
    const sealed = await pipeThrough(Buffer.from('hello'), encrypting);
    const reader = fx.transit(key, bound);
    expect((await pipeThrough(sealed, reader.decryptStream({ tenant: 'a', object: 'x' }))).toString()).toBe('hello');
    await expect(pipeThrough(sealed, reader.decryptStream({ tenant: 'b', object: 'x' }))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INTEGRITY',
    });
  });

  it('decryptStream unwraps under the tenant the context had at creation', async () => {
    const key = await fx.newKey({ derived: true });
    const sealed = await pipeThrough(
      Buffer.from('hello'),
      fx.transit(key, bound).encryptStream({ tenant: 'a', object: 'x' }),
    );
    const context: Record<string, string> = { tenant: 'a', object: 'x' };
    const decrypting = fx.transit(key, bound).decryptStream(context);
    context.tenant = 'b';
    expect((await pipeThrough(sealed, decrypting)).toString()).toBe('hello');
  });
});

describe('Transit: an encryptStream destroyed while its data key is on its way', () => {
  it('counts no message on the data key', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const stream = transit.encryptStream(ctx);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.write(Buffer.from('SECRET-PLAINTEXT'));
    stream.destroy();
    await closed;
    // Waits for the same data key the stream asked for: the first message on it is this record's.
    const record = await transit.encrypt(Buffer.from('record'), ctx);
    expect(fx.calls(`transit/datakey/plaintext/${key}`)).toBe(1);
    expect(parseRecord(record, anyKey).counter).toBe(0);
  });
});

describe('Transit.rewrap memory', () => {
  /** Sizes of the buffers `Buffer` hands out while `run` runs (outermost calls only). */
  async function allocations<T>(run: () => Promise<T>): Promise<{ result: T; sizes: number[] }> {
    const sizes: number[] = [];
    let depth = 0;
    const spies = (['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'from', 'concat'] as const).map((name) => {
      const original = Buffer[name] as (...args: unknown[]) => Buffer;
      return vi.spyOn(Buffer, name).mockImplementation(((...args: unknown[]) => {
        depth += 1;
        try {
          const out = original.apply(Buffer, args);
          if (depth === 1) sizes.push(out.length);
          return out;
        } finally {
          depth -= 1;
        }
      }) as never);
    });
    try {
      return { result: await run(), sizes };
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  }

  it('allocates one envelope-sized buffer per stream it rewraps, as before it read its input at call time', async () => {
    const key = await fx.newKey();
    const transit = fx.transit(key);
    const sealed = await pipeThrough(Buffer.alloc(4 * 1024 * 1024, 0x61), transit.encryptStream(ctx));
    await fx.client.write(`transit/keys/${key}/rotate`, {});
    const pooled = Buffer.from(sealed);
    const { result, sizes } = await allocations(() => {
      const rewrapping = transit.rewrap([{ envelope: pooled }]);
      pooled.fill(0);
      return rewrapping;
    });
    const [rewrapped] = result;
    if (!rewrapped?.ok) throw new Error('rewrap failed');
    expect(rewrapped.toVersion).toBe(2);
    const large = sizes.filter((size) => size >= 1024 * 1024);
    expect(large.reduce((sum, size) => sum + size, 0)).toBeLessThanOrEqual(sealed.length + 8);
    expect(rewrapped.envelope.length).toBe(sealed.length);
    expect(
      (await pipeThrough(rewrapped.envelope, fx.transit(key).decryptStream(ctx))).equals(
        Buffer.alloc(4 * 1024 * 1024, 0x61),
      ),
    ).toBe(true);
  });
});
