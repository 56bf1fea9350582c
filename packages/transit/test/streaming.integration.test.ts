import { randomBytes } from 'node:crypto';
import { Readable, type Transform, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { waitFor } from '@rampart/testkit';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transit } from '../src/index.ts';
import { type Fixture, startFixture } from './fixture.ts';
import { pipeThrough } from './pipe-through.ts';
import { encryptStreamV1 } from './stream-v1.ts';

let fx: Fixture;
let transit: Transit;
const FRAME = 64;
const ctx = { tenant: 't1', object: 'backup.tar' };

let key: string;
beforeAll(async () => {
  fx = await startFixture();
  key = await fx.newKey();
  transit = fx.transit(key, { frameSize: FRAME });
});
afterAll(() => fx.stop());

function chunked(data: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let offset = 0;
  let i = 0;
  while (offset < data.length) {
    const size = Math.max(1, sizes[i++ % Math.max(1, sizes.length)] ?? 1);
    chunks.push(data.subarray(offset, offset + size));
    offset += size;
  }
  return chunks;
}

describe('Transit.encryptStream / decryptStream', () => {
  it('round-trips any payload in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 5 * FRAME }),
        fc.array(fc.integer({ min: 1, max: 3 * FRAME })),
        fc.array(fc.integer({ min: 1, max: 200 })),
        async (bytes, inSizes, outSizes) => {
          const data = Buffer.from(bytes);
          const sealed = await pipeThrough(chunked(data, inSizes), transit.encryptStream(ctx));
          const opened = await pipeThrough(chunked(sealed, outSizes), transit.decryptStream(ctx));
          expect(opened).toEqual(data);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('fails when the stream is truncated at a frame boundary, or a frame is dropped or reordered', async () => {
    const data = randomBytes(4 * FRAME);
    const sealed = await pipeThrough([data], transit.encryptStream(ctx));
    const headerLength = sealed.length - 4 * (FRAME + 16); // 4 full frames, the 4th flagged final
    const frame = (i: number): Buffer =>
      sealed.subarray(headerLength + i * (FRAME + 16), headerLength + (i + 1) * (FRAME + 16));
    const header = sealed.subarray(0, headerLength);
    const whole = Buffer.concat([header, frame(0), frame(1), frame(2), frame(3)]);
    expect(await pipeThrough([whole], transit.decryptStream(ctx))).toEqual(data);
    const variants = [
      Buffer.concat([header, frame(0), frame(1)]), // truncated: no final frame
      Buffer.concat([header, frame(0), frame(2), frame(1), frame(3)]), // reordered
      Buffer.concat([header, frame(0), frame(1), frame(3)]), // dropped
      Buffer.concat([header, frame(0), frame(1), frame(2)]), // final frame cut off
      Buffer.concat([header, frame(0)]).subarray(0, headerLength + 10), // cut inside a frame
    ];
    for (const variant of variants) {
      await expect(pipeThrough([variant], transit.decryptStream(ctx))).rejects.toMatchObject({ name: 'TransitError' });
    }
  });

  it('writes format 2, and still decrypts streams of format 1 in any chunking', async () => {
    const current = await pipeThrough([Buffer.from('x')], transit.encryptStream(ctx));
    expect(transit.inspect(current).formatVersion).toBe(2);
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ maxLength: 4 * FRAME }),
        fc.array(fc.integer({ min: 1, max: 200 })),
        async (bytes, sizes) => {
          const data = Buffer.from(bytes);
          const old = await encryptStreamV1(fx.client, key, ctx, data, FRAME);
          expect(transit.inspect(old).formatVersion).toBe(1);
          expect(await pipeThrough(chunked(old, sizes), transit.decryptStream(ctx))).toEqual(data);
          await expect(pipeThrough([old], transit.decryptStream({ ...ctx, object: 'other' }))).rejects.toMatchObject({
            code: 'ERR_TRANSIT_INTEGRITY',
          });
        },
      ),
      { numRuns: 20 },
    );
  });

  it('fails with another context', async () => {
    const sealed = await pipeThrough([Buffer.from('hello')], transit.encryptStream(ctx));
    await expect(pipeThrough([sealed], transit.decryptStream({ ...ctx, object: 'other' }))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_INTEGRITY',
    });
  });

  it('refuses plaintext beyond maxBodySize', async () => {
    const sealed = await pipeThrough([randomBytes(10 * FRAME)], transit.encryptStream(ctx));
    await expect(pipeThrough([sealed], transit.decryptStream(ctx, { maxBodySize: 3 * FRAME }))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_STREAM',
    });
  });

  it('refuses a record envelope and a record refuses a stream', async () => {
    const record = await transit.encrypt(Buffer.from('x'), ctx);
    await expect(pipeThrough([record], transit.decryptStream(ctx))).rejects.toMatchObject({
      code: 'ERR_TRANSIT_MALFORMED_ENVELOPE',
    });
    const sealed = await pipeThrough([Buffer.from('x')], transit.encryptStream(ctx));
    await expect(transit.decrypt(sealed, ctx)).rejects.toMatchObject({ code: 'ERR_TRANSIT_MALFORMED_ENVELOPE' });
    expect(transit.inspect(sealed).stream).toBe(true);
  });

  it('keeps memory bounded: output is released frame by frame', async () => {
    const frames = 200;
    let produced = 0;
    let maxBuffered = 0;
    const encrypt = transit.encryptStream(ctx);
    const source = new Readable({
      read() {
        if (produced === frames) this.push(null);
        else {
          produced += 1;
          this.push(randomBytes(FRAME));
        }
      },
    });
    await pipeline(
      source,
      encrypt,
      new Writable({
        highWaterMark: FRAME,
        write(_chunk, _enc, cb) {
          maxBuffered = Math.max(maxBuffered, encrypt.readableLength + encrypt.writableLength);
          cb();
        },
      }),
    );
    // Stream buffers stay within a few frames regardless of the total size.
    expect(maxBuffered).toBeLessThan(64 * 1024);
  });

  /** The header and the frames of a stream of `frames` full frames (the last one flagged final). */
  async function framed(frames: number): Promise<{ data: Buffer; header: Buffer; frame: (i: number) => Buffer }> {
    const data = randomBytes(frames * FRAME);
    const sealed = await pipeThrough([data], transit.encryptStream(ctx));
    const headerLength = sealed.length - frames * (FRAME + 16);
    return {
      data,
      header: sealed.subarray(0, headerLength),
      frame: (i) => sealed.subarray(headerLength + i * (FRAME + 16), headerLength + (i + 1) * (FRAME + 16)),
    };
  }

  it('reports a stream cut at a frame boundary as truncated (ERR_TRANSIT_STREAM), releasing nothing of the frame it held', async () => {
    const { data, header, frame } = await framed(4);
    for (const kept of [1, 2, 3]) {
      const out: Buffer[] = [];
      const cut = Buffer.concat([header, ...Array.from({ length: kept }, (_, i) => frame(i))]);
      const failure = await pipeThrough([cut], transit.decryptStream(ctx), out).catch((e: unknown) => e);
      expect(failure, `${kept} frames`).toMatchObject({
        code: 'ERR_TRANSIT_STREAM',
        message: expect.stringMatching(/truncated/),
      });
      expect(Buffer.concat(out)).toEqual(data.subarray(0, (kept - 1) * FRAME));
    }
  });

  it('reads a cut inside a frame, or a modified last frame, as ERR_TRANSIT_INTEGRITY', async () => {
    const { header, frame } = await framed(4);
    const modified = Buffer.from(frame(1));
    modified[3] = (modified[3] as number) ^ 1;
    for (const variant of [
      Buffer.concat([header, frame(0), frame(1).subarray(0, 20)]),
      Buffer.concat([header, frame(0), frame(1).subarray(0, FRAME + 15)]),
      Buffer.concat([header, frame(0), modified]),
    ]) {
      await expect(pipeThrough([variant], transit.decryptStream(ctx))).rejects.toMatchObject({
        code: 'ERR_TRANSIT_INTEGRITY',
      });
    }
  });

  it('refuses a maxBodySize that is not a whole number ≥ 0 or Infinity', async () => {
    for (const maxBodySize of [Number.NaN, -1, 1.5, Number.NEGATIVE_INFINITY, 2 ** 53, '1000', null]) {
      expect(() => transit.decryptStream(ctx, { maxBodySize } as never), String(maxBodySize)).toThrowError(
        expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_INPUT', message: expect.stringContaining('maxBodySize') }),
      );
    }
    expect(() => transit.decryptStream(ctx, null as never)).toThrowError(
      expect.objectContaining({ code: 'ERR_TRANSIT_INVALID_INPUT' }),
    );
    const sealed = await pipeThrough([Buffer.from('hello')], transit.encryptStream(ctx));
    for (const options of [{ maxBodySize: 5 }, { maxBodySize: Number.POSITIVE_INFINITY }, {}]) {
      expect((await pipeThrough([sealed], transit.decryptStream(ctx, options))).toString()).toBe('hello');
    }
    const empty = await pipeThrough([Buffer.alloc(0)], transit.encryptStream(ctx));
    expect(await pipeThrough([empty], transit.decryptStream(ctx, { maxBodySize: 0 }))).toEqual(Buffer.alloc(0));
  });

  it('stops reading a frame as soon as it cannot fit in maxBodySize, whatever frame size the header claims', async () => {
    const big = fx.transit(key, { frameSize: 4 * 1024 * 1024 });
    const sealed = await pipeThrough([randomBytes(4 * 1024 * 1024 + 1)], big.encryptStream(ctx));
    let read = 0;
    async function* source(): AsyncGenerator<Buffer> {
      for (let at = 0; at < sealed.length; at += 4096) {
        read += 4096;
        yield sealed.subarray(at, at + 4096);
      }
    }
    await expect(
      pipeline(source(), big.decryptStream(ctx, { maxBodySize: 1000 }), new Writable({ write: (_c, _e, cb) => cb() })),
    ).rejects.toMatchObject({ code: 'ERR_TRANSIT_STREAM' });
    expect(read).toBeLessThan(256 * 1024);
    // A stream that fits is read whole, even if its one frame could have been larger.
    const small = await pipeThrough([Buffer.alloc(1000, 7)], big.encryptStream(ctx));
    expect(await pipeThrough([small], big.decryptStream(ctx, { maxBodySize: 1000 }))).toEqual(Buffer.alloc(1000, 7));
  });

  /** Starts `stream` with `first`, calls `close()` once output came out, then ends it with `rest`. */
  async function closeMidway(stream: Transform, first: Buffer, rest: Buffer, close: () => void) {
    const out: Buffer[] = [];
    stream.on('data', (chunk: Buffer) => out.push(chunk));
    stream.write(first);
    await waitFor(() => out.length > 0, { timeoutMs: 5_000, intervalMs: 5, what: 'output to come out' });
    await new Promise((resolve) => setImmediate(resolve));
    const before = out.length;
    close();
    stream.end(rest);
    const failure = await finished(stream).then(
      () => undefined,
      (e: unknown) => e,
    );
    return { failure, after: out.length - before };
  }

  it('fails a stream created before close() at its next frame with ERR_TRANSIT_CLOSED', async () => {
    const writer = fx.transit(key, { frameSize: FRAME });
    const encrypting = await closeMidway(
      writer.encryptStream(ctx),
      randomBytes(3 * FRAME),
      randomBytes(3 * FRAME),
      () => writer.close(),
    );
    expect(encrypting).toEqual({ failure: expect.objectContaining({ code: 'ERR_TRANSIT_CLOSED' }), after: 0 });

    const { header, frame } = await framed(4);
    const reader = fx.transit(key, { frameSize: FRAME });
    const decrypting = await closeMidway(
      reader.decryptStream(ctx),
      Buffer.concat([header, frame(0), frame(1)]),
      Buffer.concat([frame(2), frame(3)]),
      () => reader.close(),
    );
    expect(decrypting).toEqual({ failure: expect.objectContaining({ code: 'ERR_TRANSIT_CLOSED' }), after: 0 });
  });
});
