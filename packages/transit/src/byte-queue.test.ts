import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ByteQueue } from './byte-queue.ts';

describe('ByteQueue', () => {
  it('holds a 64 KiB frame written one byte at a time in a few buffers, not one per byte', () => {
    const queue = new ByteQueue();
    const data = randomBytes(64 * 1024);
    for (let i = 0; i < data.length; i++) queue.push(data.subarray(i, i + 1));
    expect(queue.length).toBe(data.length);
    expect(queue.heldChunks).toBeLessThanOrEqual(8);
    expect(queue.take(data.length).equals(data)).toBe(true);
  });

  it('keeps few buffers when small writes are peeked at after every write (a stream header being read)', () => {
    const queue = new ByteQueue();
    const data = randomBytes(4096);
    for (let i = 0; i < data.length; i++) {
      queue.push(data.subarray(i, i + 1));
      expect(queue.peek(Math.min(queue.length, 1024)).equals(data.subarray(0, Math.min(i + 1, 1024)))).toBe(true);
    }
    expect(queue.heldChunks).toBeLessThanOrEqual(8);
    expect(queue.take(data.length).equals(data)).toBe(true);
  });

  it('hands out the bytes in order however writes and reads interleave', () => {
    for (let round = 0; round < 200; round++) {
      const queue = new ByteQueue();
      const data = randomBytes(1 + Math.floor(Math.random() * 50_000));
      const out: Buffer[] = [];
      let written = 0;
      while (written < data.length) {
        const size = Math.min(data.length - written, [1, 7, 1023, 1024, 5000, 20_000][round % 6] ?? 1);
        queue.push(data.subarray(written, written + size));
        written += size;
        if (Math.random() < 0.3) out.push(Buffer.from(queue.take(Math.floor(Math.random() * 3000))));
        if (Math.random() < 0.1) queue.peek(100);
      }
      out.push(queue.take(queue.length));
      expect(Buffer.concat(out).equals(data)).toBe(true);
      expect(queue.length).toBe(0);
    }
  });
});
