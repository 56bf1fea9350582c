import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
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
});
