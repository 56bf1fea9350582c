import { createDecipheriv, createHmac } from 'node:crypto';
import type { Transform } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { pipeThrough } from '../test/pipe-through.ts';
import { ByteQueue } from './byte-queue.ts';
import { DataKey } from './data-key.ts';
import { ALG, anyKey, encodeFixedHeader, encodeWrapped, parseHead, replaceWrapped } from './envelope.ts';
import { TransitError } from './errors.ts';
import { createDecryptStream, createEncryptStream, MAX_STREAM_FRAMES } from './streaming.ts';
import type { TransitCore } from './transit-core.ts';

/**
 * Fixed-key vectors of the stream formats, so another implementation (or a later version of this
 * one) can check itself: DEK = 00 01 .. 1f, transit key "orders" on the default mount, key version
 * 3, wrapped DEK = 60 × aa, frame size 16, context { tenant: t1, object: backup.tar }, a 40-byte
 * plaintext in three frames (16, 16, 8 bytes). Layout: fixed header (11) ‖ key version (1) ‖
 * wrapped DEK (60) ‖ commitment (32) ‖ salt (16) ‖ frame size (4) ‖ frames (ct ‖ tag).
 */
const V2 =
  'ae021100066f726465727303' +
  'aa'.repeat(60) +
  '46039551af2023aa53e8a9ea83c8e97bf3a0ffad7fe784bebcb7ee11f8c0bbac' +
  'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb' +
  '00000010' +
  '9fd27bdcde2676cb7694edf4f0edc8f416296ea2fef2bb0a5cfa08c6ec59549c29e8414b1de7d58717bd0d61c1019b61' +
  '1e350d9702b7702f189f813b3a7e4e33d1bed5b40961642e7c650ba5e259c013470f305210379302';
/** Format 1, written by the code before format 2 existed (read-only now); salt was random. */
const V1 =
  'ae011100066f726465727303' +
  'aa'.repeat(60) +
  '46039551af2023aa53e8a9ea83c8e97bf3a0ffad7fe784bebcb7ee11f8c0bbac' +
  'c93510bf1e2d06b8e58c2fca95dd1d96' +
  '00000010' +
  '426c0392aa26374d142308ccf65d83f96c253f4acefb3762c96224722dab90928fb74870121ef1061e52d4f8260260d6' +
  '628d781efe73e572e0bc7cc2c917f5125d945b82ccab5198d0c62ee9569822184be1c225a03dc35c';
const PLAINTEXT = 'a stream of forty bytes, in three frames';
const CONTEXT = { tenant: 't1', object: 'backup.tar' };
const CONTEXT_BYTES = Buffer.from(
  `02066f626a656374000a${Buffer.from('backup.tar').toString('hex')}0674656e616e7400027431`,
  'hex',
);

function dek(): Buffer {
  return Buffer.from(Array.from({ length: 32 }, (_, i) => i));
}

/** Just enough of Transit for the stream code: one DEK, whatever the wrapped bytes say. */
function fakeCore(): TransitCore {
  return {
    frameSize: 16,
    reserve: async () => ({
      entry: { dataKey: new DataKey(dek()), wrapped: encodeWrapped(3, Buffer.alloc(60, 0xaa)) },
      counter: 0,
      alg: ALG.stream,
    }),
    fixedHeader: (alg: (typeof ALG)[keyof typeof ALG]) => encodeFixedHeader(alg, 'transit', 'orders'),
    unwrap: () => new DataKey(dek()),
    assertOpen: () => undefined,
    accepts: (mount: string, key: string) => mount === 'transit' && key === 'orders',
  } as unknown as TransitCore;
}

/** Opens a vector by the README's spec alone; `aadPrefix` is what the format authenticates. */
function openBySpec(bytes: Buffer, aadPrefix: Buffer): string {
  const salt = bytes.subarray(104, 120);
  const streamKey = createHmac('sha256', dek()).update('rampart/transit/v1 stream key').update(salt).digest();
  const frames = [bytes.subarray(124, 156), bytes.subarray(156, 188), bytes.subarray(188)];
  return frames
    .map((frame, index) => {
      const nonce = Buffer.alloc(12);
      nonce.writeUInt32BE(index, 8);
      const position = Buffer.alloc(5);
      position.writeUInt32BE(index, 0);
      position[4] = index === frames.length - 1 ? 1 : 0;
      const decipher = createDecipheriv('aes-256-gcm', streamKey, nonce);
      decipher.setAAD(Buffer.concat([aadPrefix, position, CONTEXT_BYTES]));
      decipher.setAuthTag(frame.subarray(frame.length - 16));
      return Buffer.concat([decipher.update(frame.subarray(0, frame.length - 16)), decipher.final()]).toString();
    })
    .join('');
}

/** What rewrap does: same DEK, another key version and wrapped DEK. */
function rewrapped(bytes: Buffer): Buffer {
  return replaceWrapped(bytes, parseHead(bytes, anyKey), 4, Buffer.alloc(60, 0xcc));
}

describe('stream format 2 (known-answer vector)', () => {
  it('seals the vector exactly', async () => {
    const sealed = await pipeThrough(
      Buffer.from(PLAINTEXT),
      createEncryptStream(fakeCore(), CONTEXT, { salt: Buffer.alloc(16, 0xbb) }),
    );
    expect(sealed.toString('hex')).toBe(V2);
  });

  it('opens the vector with an independent implementation of the spec: the AAD skips key version and wrapped DEK', () => {
    const bytes = Buffer.from(V2, 'hex');
    const commitment = createHmac('sha256', dek()).update('rampart/transit/v1 key commitment').digest();
    expect(bytes.subarray(72, 104)).toEqual(commitment);
    const fixedHeader = bytes.subarray(0, 11); // magic, version 2, alg 0x11, mountLen 0, keyLen 6, "orders"
    expect(openBySpec(bytes, Buffer.concat([fixedHeader, bytes.subarray(72, 124)]))).toBe(PLAINTEXT);
  });

  it('opens the vector, and the same stream after its wrapped DEK and key version were replaced', async () => {
    const bytes = Buffer.from(V2, 'hex');
    expect((await pipeThrough(bytes, createDecryptStream(fakeCore(), CONTEXT, {}))).toString()).toBe(PLAINTEXT);
    const moved = rewrapped(bytes);
    expect(parseHead(moved, anyKey).keyVersion).toBe(4);
    expect(moved.subarray(72)).toEqual(bytes.subarray(72));
    expect((await pipeThrough(moved, createDecryptStream(fakeCore(), CONTEXT, {}))).toString()).toBe(PLAINTEXT);
  });

  it('refuses a wrapped DEK that unwraps to another data key, before opening any frame', async () => {
    const other: TransitCore = { ...fakeCore(), unwrap: () => new DataKey(Buffer.alloc(32, 1)) };
    await expect(pipeThrough(Buffer.from(V2, 'hex'), createDecryptStream(other, CONTEXT, {}))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INTEGRITY',
      message: expect.stringContaining('key commitment'),
    });
  });
});

describe('stream format 1 (known-answer vector, read-only)', () => {
  it('still opens, by the spec (the AAD is the whole header) and with decryptStream', async () => {
    const bytes = Buffer.from(V1, 'hex');
    expect(openBySpec(bytes, bytes.subarray(0, 124))).toBe(PLAINTEXT);
    expect((await pipeThrough(bytes, createDecryptStream(fakeCore(), CONTEXT, {}))).toString()).toBe(PLAINTEXT);
  });

  it('no longer authenticates once its wrapped DEK is replaced (why rewrap refuses it)', async () => {
    const error = await pipeThrough(
      rewrapped(Buffer.from(V1, 'hex')),
      createDecryptStream(fakeCore(), CONTEXT, {}),
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TransitError);
    expect((error as TransitError).code).toBe('ERR_TRANSIT_INTEGRITY');
  });
});

/** `bytes` cut into `size`-byte chunks (views, no copies). */
function chunksOf(bytes: Buffer, size: number): Buffer[] {
  return Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) => bytes.subarray(i * size, (i + 1) * size));
}

describe('stream chunking', () => {
  // The old queue dropped consumed chunks with Array#shift: quadratic in the chunks of a frame,
  // synchronous, and the frame size comes from the not yet authenticated header. These sizes took
  // it well over the 30 s test timeout; each is a few seconds at most when every frame is linear.
  it('refuses a forged 8 MiB frame written in 16-byte chunks with ERR_TRANSIT_INTEGRITY, without stalling', async () => {
    const header = Buffer.from(V2, 'hex').subarray(0, 124);
    const forged = Buffer.from(header);
    forged.writeUInt32BE(8 * 1024 * 1024, 120);
    const garbage = Buffer.alloc(8 * 1024 * 1024 + 16, 0x5a);
    await expect(
      pipeThrough([forged, ...chunksOf(garbage, 16)], createDecryptStream(fakeCore(), CONTEXT, {})),
    ).rejects.toMatchObject({ code: 'ERR_TRANSIT_INTEGRITY' });
  });

  it('encrypts 512 KiB written in 1-byte chunks and decrypts it written in 1-byte chunks', async () => {
    const core: TransitCore = { ...fakeCore(), frameSize: 1024 * 1024 };
    const plaintext = Buffer.alloc(512 * 1024);
    for (let i = 0; i < plaintext.length; i++) plaintext[i] = (i * 31) & 0xff;
    const sealed = await pipeThrough(chunksOf(plaintext, 1), createEncryptStream(core, CONTEXT));
    expect((await pipeThrough(sealed, createDecryptStream(core, CONTEXT, {}))).equals(plaintext)).toBe(true);
    const opened = await pipeThrough(chunksOf(sealed, 1), createDecryptStream(core, CONTEXT, {}));
    expect(opened.equals(plaintext)).toBe(true);
  });

  it('hands out the same bytes however the input is chunked', async () => {
    const plaintext = Buffer.from(Array.from({ length: 200 }, (_, i) => i));
    const sealed = await pipeThrough(plaintext, createEncryptStream(fakeCore(), CONTEXT));
    for (const size of [1, 3, 15, 16, 17, 32, 33, 1000]) {
      const again = await pipeThrough(
        chunksOf(plaintext, size),
        createEncryptStream(fakeCore(), CONTEXT, { salt: sealed.subarray(104, 120) }),
      );
      expect(again.equals(sealed)).toBe(true);
      expect(
        (await pipeThrough(chunksOf(sealed, size), createDecryptStream(fakeCore(), CONTEXT, {}))).equals(plaintext),
      ).toBe(true);
    }
  });
});

describe('stream frame limit', () => {
  it('is 2^32 frames, what the u32 frame index can number', () => {
    expect(MAX_STREAM_FRAMES).toBe(2 ** 32);
  });

  it('encryptStream refuses a frame past the limit with ERR_TRANSIT_STREAM instead of a RangeError', async () => {
    const atLimit = await pipeThrough(Buffer.alloc(32), createEncryptStream(fakeCore(), CONTEXT, { maxFrames: 2 }));
    expect((await pipeThrough(atLimit, createDecryptStream(fakeCore(), CONTEXT, {}))).length).toBe(32);
    const error = await pipeThrough(Buffer.alloc(33), createEncryptStream(fakeCore(), CONTEXT, { maxFrames: 2 })).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransitError);
    expect((error as TransitError).code).toBe('ERR_TRANSIT_STREAM');
    expect((error as TransitError).message).toContain('frameSize');
  });

  it('decryptStream refuses a stream with more frames than the limit with ERR_TRANSIT_STREAM', async () => {
    const bytes = Buffer.from(V2, 'hex'); // three frames
    const core = fakeCore();
    expect((await pipeThrough(bytes, createDecryptStream(core, CONTEXT, {}, { maxFrames: 3 }))).toString()).toBe(
      PLAINTEXT,
    );
    const out: Buffer[] = [];
    const error = await pipeThrough(bytes, createDecryptStream(core, CONTEXT, {}, { maxFrames: 2 }), out).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransitError);
    expect((error as TransitError).code).toBe('ERR_TRANSIT_STREAM');
    expect(Buffer.concat(out).toString()).toBe(PLAINTEXT.slice(0, 32)); // the two frames within the limit
  });
});

describe('createEncryptStream', () => {
  const written = (stream: Transform, chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));

  it('zeroes the plaintext still queued when destroyed mid-frame', async () => {
    const queue = new ByteQueue({ wipe: true });
    const stream = createEncryptStream({ ...fakeCore(), frameSize: 64 * 1024 }, CONTEXT, { queue });
    stream.resume();
    for (let i = 0; i < 50; i++) await written(stream, Buffer.from('SECRET'));
    const queued = queue.peek(queue.length);
    expect(queued.toString()).toBe('SECRET'.repeat(50));
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.destroy();
    await closed;
    expect(queued.every((b) => b === 0)).toBe(true);
    expect(queue.length).toBe(0);
  });

  it('zeroes the queued plaintext when the final frame fails to seal', async () => {
    const queue = new ByteQueue({ wipe: true });
    let open = true;
    const core = {
      ...fakeCore(),
      frameSize: 64 * 1024,
      assertOpen: () => {
        if (!open) throw new TransitError('ERR_TRANSIT_CLOSED', 'closed');
      },
    };
    const stream = createEncryptStream(core, CONTEXT, { queue });
    stream.resume();
    for (let i = 0; i < 50; i++) await written(stream, Buffer.from('SECRET'));
    const queued = queue.peek(queue.length);
    open = false;
    const failed = new Promise((resolve) => stream.once('error', resolve));
    stream.end();
    expect(await failed).toMatchObject({ code: 'ERR_TRANSIT_CLOSED' });
    expect(queued.every((b) => b === 0)).toBe(true);
  });
});

describe('createEncryptStream destroyed while its first write waits for a data key', () => {
  it('neither queues that plaintext nor writes anything, and tells the core the reservation is no longer wanted', async () => {
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      open = resolve;
    });
    const wanted: boolean[] = [];
    const base = fakeCore();
    const core: TransitCore = {
      ...base,
      frameSize: 64 * 1024,
      reserve: async (context, bytes, stream, cancelled?: () => boolean) => {
        await gate;
        wanted.push(cancelled === undefined || !cancelled());
        return base.reserve(context, bytes, stream);
      },
    };
    const queue = new ByteQueue({ wipe: true });
    const stream = createEncryptStream(core, CONTEXT, { queue });
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    const errors: unknown[] = [];
    stream.on('error', (error) => errors.push(error));
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.write(Buffer.from('SECRET-PLAINTEXT'));
    stream.destroy();
    await closed;
    open();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(queue.length).toBe(0);
    expect(queue.peek(64).toString()).toBe('');
    expect(out).toEqual([]);
    expect(errors).toEqual([]);
    expect(wanted).toEqual([false]);
  });
});

describe('streams and a writer that reuses its buffer once the write callback ran', () => {
  const written = (stream: Transform, chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));
  const collect = (stream: Transform): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const out: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => out.push(chunk));
      stream.once('end', () => resolve(Buffer.concat(out)));
      stream.once('error', reject);
    });
  const core: TransitCore = { ...fakeCore(), frameSize: 64 * 1024 };

  for (const size of [4096, 64 * 1024, 64 * 1024 + 100, 200 * 1024]) {
    it(`encryptStream seals the bytes written (${size} bytes), not what the buffer holds later`, async () => {
      const stream = createEncryptStream(core, CONTEXT);
      const sealed = collect(stream);
      const pooled = Buffer.alloc(size, 0x41);
      await written(stream, pooled);
      pooled.fill(0x42);
      await written(stream, pooled);
      pooled.fill(0x43);
      stream.end();
      const opened = await pipeThrough(await sealed, createDecryptStream(core, CONTEXT, {}));
      expect(opened.equals(Buffer.concat([Buffer.alloc(size, 0x41), Buffer.alloc(size, 0x42)]))).toBe(true);
    });
  }

  for (const size of [4096, 64 * 1024, 200 * 1024]) {
    it(`decryptStream opens the bytes written (${size}-byte chunks), not what the buffer holds later`, async () => {
      const plaintext = Buffer.alloc(150 * 1024);
      for (let i = 0; i < plaintext.length; i++) plaintext[i] = (i * 7) & 0xff;
      const sealed = await pipeThrough(plaintext, createEncryptStream(core, CONTEXT));
      const stream = createDecryptStream(core, CONTEXT, {});
      const opened = collect(stream);
      const pooled = Buffer.alloc(size);
      for (let offset = 0; offset < sealed.length; offset += size) {
        const part = sealed.subarray(offset, offset + size);
        part.copy(pooled);
        await written(stream, pooled.subarray(0, part.length));
        pooled.fill(0);
      }
      stream.end();
      expect((await opened).equals(plaintext)).toBe(true);
    });
  }

  it("encryptStream zeroes its copy of a large write when destroyed, never the writer's buffer", async () => {
    const queue = new ByteQueue({ wipe: true });
    const stream = createEncryptStream(core, CONTEXT, { queue });
    stream.resume();
    const pooled = Buffer.alloc(4096, 0x41);
    await written(stream, pooled);
    const held = queue.peek(queue.length);
    expect(held.equals(pooled)).toBe(true);
    const closed = new Promise((resolve) => stream.once('close', resolve));
    stream.destroy();
    await closed;
    expect(held.every((b) => b === 0)).toBe(true);
    expect(pooled.every((b) => b === 0x41)).toBe(true);
  });
});

describe('streams written in many small writes per frame', () => {
  const written = (stream: Transform, chunk: Buffer): Promise<void> =>
    new Promise((resolve, reject) => stream.write(chunk, (error) => (error ? reject(error) : resolve())));

  /** Encrypts `total` bytes in 1 KiB writes with this frame size; the queue's work and the round trip. */
  const encryptInWrites = async (total: number, frameSize: number) => {
    const core: TransitCore = { ...fakeCore(), frameSize };
    const queue = new ByteQueue({ wipe: true });
    const stream = createEncryptStream(core, CONTEXT, { queue });
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    const ended = new Promise((resolve) => stream.once('end', resolve));
    const pooled = Buffer.alloc(1024);
    for (let i = 0; i < total / 1024; i++) {
      pooled.fill(i & 0xff);
      await written(stream, pooled);
    }
    stream.end();
    await ended;
    const opened = await pipeThrough(Buffer.concat(out), createDecryptStream(core, CONTEXT, {}));
    expect(opened.length).toBe(total);
    for (let i = 0; i < total / 1024; i++) expect(opened[i * 1024 + 1023]).toBe(i & 0xff);
    return queue.work;
  };

  it('encryptStream does the same work per byte with four times as many writes per frame (linear, not quadratic)', async () => {
    const total = 4 * 1024 * 1024;
    const few = await encryptInWrites(total, 256 * 1024);
    const many = await encryptInWrites(total, 1024 * 1024);
    expect(many.visited).toBeLessThanOrEqual(few.visited * 1.1 + 16);
    expect(many.copied).toBeLessThanOrEqual(few.copied * 1.1 + 1024 * 1024);
    expect(many.copied).toBeLessThanOrEqual(total + 2 * 1024 * 1024);
    expect(many.allocations).toBeLessThanOrEqual(8);
  });
});

describe('stream context', () => {
  it('is read when the stream is created: a context object changed later changes nothing', async () => {
    const seen: unknown[] = [];
    const base = fakeCore();
    const core: TransitCore = {
      ...base,
      reserve: (context, bytes, stream) => {
        seen.push({ ...context });
        return base.reserve(context, bytes, stream);
      },
      unwrap: (head, context) => {
        seen.push({ ...context });
        return base.unwrap(head, context);
      },
    };
    const context: Record<string, string> = { tenant: 't1', object: 'backup.tar' };
    const encrypting = createEncryptStream(core, context);
    context.tenant = 't2';
    context.extra = 'x';
    const sealed = await pipeThrough(Buffer.from(PLAINTEXT), encrypting);
    context.tenant = 't1';
    delete context.extra;
    const decrypting = createDecryptStream(core, context, {});
    context.tenant = 't2';
    expect((await pipeThrough(sealed, decrypting)).toString()).toBe(PLAINTEXT);
    expect(seen).toEqual([CONTEXT, CONTEXT]);
  });
});
