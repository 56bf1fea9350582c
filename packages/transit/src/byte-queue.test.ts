import { randomBytes } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
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

describe('ByteQueue({ wipe: true }) compacting its buffer in place', () => {
  /** Bytes 1..255 (never 0), so a queued byte zero-filled by mistake shows. */
  const bytes = (n: number, seed: number): Buffer =>
    Buffer.from(Array.from({ length: n }, (_, i) => 1 + ((seed + i) % 255)));
  /** Every buffer the queue allocates, zero-filled (so what is left in them is the queue's), to check they hold nothing once drained. */
  const allocated = (): { buffers: Buffer[]; restore: () => void } => {
    const buffers: Buffer[] = [];
    const spy = vi.spyOn(Buffer, 'allocUnsafe').mockImplementation((size: number) => {
      const b = Buffer.alloc(size);
      buffers.push(b);
      return b;
    });
    return { buffers, restore: () => spy.mockRestore() };
  };

  it('keeps the queued bytes when a peek compacts over a consumed slice not yet zeroed', () => {
    const chunks = [bytes(1039, 1), bytes(100, 2), bytes(2048, 3)];
    const all = Buffer.concat(chunks);
    const { buffers, restore } = allocated(); // from here on, only the queue allocates
    try {
      const q = new ByteQueue({ wipe: true });
      q.own(2048);
      for (const c of chunks) q.push(c);
      expect(q.take(570)).toEqual(all.subarray(0, 570));
      expect(q.peek(3120)).toEqual(all.subarray(570, 3690)); // compacts: the taken 570 bytes are dead
      expect(q.take(q.length)).toEqual(all.subarray(570));
      q.wipe();
      for (const b of buffers) expect(b.every((x) => x === 0)).toBe(true);
    } finally {
      restore();
    }
  });

  it('zeroes the stale copies a compaction leaves behind the moved bytes', () => {
    const first = bytes(1000, 7);
    const second = bytes(26, 9);
    const rest = Buffer.concat([first.subarray(500), second]);
    const { buffers, restore } = allocated(); // from here on, only the queue allocates
    try {
      const q = new ByteQueue({ wipe: true });
      q.own(1);
      q.push(first);
      q.take(500);
      q.push(second); // compacts: 500 queued bytes move to the front
      expect(q.take(q.length)).toEqual(rest);
      q.wipe();
      for (const b of buffers) expect(b.every((x) => x === 0)).toBe(true);
    } finally {
      restore();
    }
  });
});

describe('ByteQueue({ wipe: true })', () => {
  it('zeroes the bytes it copied once they are consumed, at the next operation or wipe()', () => {
    const queue = new ByteQueue({ wipe: true });
    const data = Buffer.alloc(40 * 1024, 0x41);
    for (let i = 0; i < data.length; i += 100) queue.push(data.subarray(i, i + 100));
    // Frames of 10,000 bytes out of 16 KiB tail buffers: views into a tail and copies spanning two.
    const frames: Buffer[] = [];
    for (let i = 0; i < 3; i++) {
      const frame = queue.take(10_000);
      expect(frame.equals(Buffer.alloc(10_000, 0x41))).toBe(true);
      frames.push(frame);
    }
    const last = queue.take(queue.length);
    expect(last.length).toBe(40 * 1024 - 30_000);
    expect(frames.every((f) => f.every((b) => b === 0))).toBe(true);
    queue.wipe();
    expect(last.every((b) => b === 0)).toBe(true);
    expect(data.every((b) => b === 0x41)).toBe(true);
  });

  it('never writes to a chunk the caller pushed', () => {
    const queue = new ByteQueue({ wipe: true });
    const big = Buffer.alloc(4096, 0x42);
    queue.push(Buffer.alloc(10, 0x43));
    queue.push(big);
    queue.push(Buffer.alloc(10, 0x44));
    const first = queue.take(2000);
    const second = queue.take(queue.length);
    queue.wipe();
    expect(big.every((b) => b === 0x42)).toBe(true);
    expect(first.length + second.length).toBe(4116);
  });

  it('leaves consumed bytes as they were without wipe (a decrypt stream header may still point into them)', () => {
    const queue = new ByteQueue();
    for (let i = 0; i < 100; i++) queue.push(Buffer.from([i]));
    const taken = queue.take(50);
    queue.push(Buffer.from([1]));
    queue.take(10);
    expect([...taken]).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('ByteQueue.discard', () => {
  it('zeroes the queued bytes of tail buffers it sealed, not yet consumed, and empties the queue', () => {
    const queue = new ByteQueue({ wipe: true });
    for (let i = 0; i < 50; i++) queue.push(Buffer.from('SECRET'));
    // peek hands out views of the queue's own buffers when one buffer holds the bytes.
    const inTail = queue.peek(queue.length);
    expect(inTail.toString()).toBe('SECRET'.repeat(50));
    queue.push(Buffer.alloc(2048, 0x58)); // seals the tail into the chunk list
    queue.push(Buffer.from('MORE'));
    queue.discard();
    expect(inTail.every((b) => b === 0)).toBe(true);
    expect(queue.length).toBe(0);
    expect(queue.heldChunks).toBe(0);
    expect(queue.take(10).length).toBe(0);
  });

  it('zeroes the rest of a partly consumed tail buffer, and the consumed part', () => {
    const queue = new ByteQueue({ wipe: true });
    for (let i = 0; i < 10; i++) queue.push(Buffer.from('SECRET'));
    const taken = queue.take(12);
    const rest = queue.peek(queue.length);
    expect(rest.toString()).toBe('SECRET'.repeat(8));
    queue.discard();
    expect(taken.every((b) => b === 0)).toBe(true);
    expect(rest.every((b) => b === 0)).toBe(true);
  });

  it('never writes to a chunk the caller pushed and still owns', () => {
    const queue = new ByteQueue({ wipe: true });
    const big = Buffer.alloc(4096, 0x42);
    queue.push(Buffer.alloc(10, 0x43));
    queue.push(big);
    queue.take(100);
    queue.discard();
    expect(big.every((b) => b === 0x42)).toBe(true);
  });

  it('empties a queue without wipe but leaves the bytes it held as they were', () => {
    const queue = new ByteQueue();
    for (let i = 0; i < 10; i++) queue.push(Buffer.from('CIPHER'));
    const view = queue.peek(queue.length);
    queue.discard();
    expect(queue.length).toBe(0);
    expect(view.toString()).toBe('CIPHER'.repeat(10));
  });
});

describe('ByteQueue.own (a stream: frames taken, then what is left owned, after every write)', () => {
  /** Writes `total` bytes in `write`-byte chunks through a queue used as a stream uses it; returns its work. */
  const run = (total: number, write: number, frame: number, wipe: boolean) => {
    const queue = new ByteQueue({ wipe });
    const data = randomBytes(write);
    let frames = 0;
    const allocUnsafeSlow = vi.spyOn(Buffer, 'allocUnsafeSlow');
    try {
      for (let written = 0; written < total; written += write) {
        queue.push(data);
        while (queue.length > frame) {
          const taken = queue.take(frame);
          // Each frame is what was written, in order: `data` repeated.
          expect(taken[0]).toBe(data[(frames * frame) % write]);
          frames += 1;
        }
        queue.own(frame);
      }
      expect(queue.take(queue.length).length).toBe(total - frames * frame);
      return { ...queue.work, slow: allocUnsafeSlow.mock.calls.length };
    } finally {
      allocUnsafeSlow.mockRestore();
    }
  };

  for (const wipe of [false, true]) {
    it(`does work linear in the bytes, not in the chunks held per frame (wipe: ${wipe})`, () => {
      const total = 4 * 1024 * 1024;
      // Twice, four times as many 1 KiB writes per frame: the work must not grow with it.
      const small = run(total, 1024, 256 * 1024, wipe);
      const large = run(total, 1024, 1024 * 1024, wipe);
      expect(large.visited).toBeLessThanOrEqual(small.visited * 1.1 + 16);
      expect(large.copied).toBeLessThanOrEqual(small.copied * 1.1 + 1024 * 1024);
      // Each byte is copied once at most, bar the first frame's buffer doubling up to a frame.
      for (const work of [small, large]) {
        expect(work.copied).toBeLessThanOrEqual(total + 2 * 1024 * 1024);
        expect(work.visited).toBeLessThanOrEqual(2 * (total / 1024) + 16);
        // No allocation per write: one buffer reused, once it has grown to a frame.
        expect(work.allocations).toBeLessThanOrEqual(8);
        expect(work.slow).toBe(0);
      }
    });

    it(`copies a write between 1 KiB and a frame once, never again when its frame is taken (wipe: ${wipe})`, () => {
      const total = 8 * 1024 * 1024;
      for (const write of [1024, 4096, 16 * 1024]) {
        const work = run(total, write, 64 * 1024, wipe);
        expect(work.copied).toBeLessThanOrEqual(total + 2 * 64 * 1024);
        expect(work.allocations).toBeLessThanOrEqual(4);
        expect(work.slow).toBe(0);
      }
    });

    it(`copies writes under 1 KiB about once and reuses one buffer of about a frame (wipe: ${wipe})`, () => {
      // A stream takes a frame only once more than a frame is queued: the buffer must hold a frame
      // and one small write, and the consumed front is reused, not a new buffer per frame.
      for (const [write, frame] of [
        [1000, 64 * 1024],
        [1023, 64 * 1024],
        [1023, 1024 * 1024],
      ] as const) {
        const total = 8192 * write; // whole writes: run() expects total to be a multiple of write
        const work = run(total, write, frame, wipe);
        expect(work.copied, `${write} B writes, ${frame} B frames`).toBeLessThanOrEqual(1.1 * total + 2 * frame);
        expect(work.allocations, `${write} B writes, ${frame} B frames`).toBeLessThanOrEqual(8);
      }
    });
  }

  it('takes whole frames straight from a large write, copying only the rest', () => {
    const frame = 64 * 1024;
    const work = run(16 * 1024 * 1024, 1024 * 1024, frame, true);
    // Per 1 MiB write the last frame it starts is held (the next write may end the stream): ≤ 1 frame copied.
    expect(work.copied).toBeLessThanOrEqual(16 * frame + frame);
  });

  it('hands out the bytes in order however writes, reads and own() interleave, the writer reusing its buffer', () => {
    for (let round = 0; round < 300; round++) {
      const queue = new ByteQueue({ wipe: round % 2 === 0 });
      const data = randomBytes(1 + Math.floor(Math.random() * 200_000));
      const frame = [1, 100, 4096, 20_000, 70_000][round % 5] ?? 1;
      const pooled = Buffer.alloc(40_000);
      const out: Buffer[] = [];
      let written = 0;
      while (written < data.length) {
        const size = Math.min(data.length - written, 1 + Math.floor(Math.random() * [10, 1500, 40_000][round % 3]!));
        data.copy(pooled, 0, written, written + size);
        queue.push(pooled.subarray(0, size));
        written += size;
        while (queue.length > frame && Math.random() < 0.9) out.push(Buffer.from(queue.take(frame)));
        if (Math.random() < 0.2) out.push(Buffer.from(queue.take(Math.floor(Math.random() * 3000))));
        if (Math.random() < 0.1) queue.peek(100);
        queue.own(frame);
        pooled.fill(0xee);
      }
      out.push(Buffer.from(queue.take(queue.length)));
      expect(Buffer.concat(out).equals(data)).toBe(true);
      expect(queue.length).toBe(0);
    }
  });

  it('hands out views the caller cannot change once owned, and zeroes them once consumed (wipe)', () => {
    const queue = new ByteQueue({ wipe: true });
    const pooled = Buffer.alloc(3000, 0x41);
    queue.push(pooled);
    queue.own(4096);
    pooled.fill(0x42);
    queue.push(pooled);
    queue.own(4096);
    pooled.fill(0x43);
    const frame = queue.take(4096);
    expect(frame.equals(Buffer.concat([Buffer.alloc(3000, 0x41), Buffer.alloc(1096, 0x42)]))).toBe(true);
    const rest = queue.take(queue.length);
    expect(rest.equals(Buffer.alloc(1904, 0x42))).toBe(true);
    queue.wipe();
    expect(frame.every((b) => b === 0) && rest.every((b) => b === 0)).toBe(true);
    expect(pooled.every((b) => b === 0x43)).toBe(true);
  });
});
