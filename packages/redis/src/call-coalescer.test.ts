import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CallCoalescer } from './call-coalescer.ts';

/** A coalescer over an echo "server" that records how each call was sent. */
function recording(maxBatch: number, opts: { failItem?: number; failBatch?: boolean } = {}) {
  const sent: number[][] = [];
  const coalescer = new CallCoalescer<number, number>(
    maxBatch,
    async (item) => {
      sent.push([item]);
      return item * 10;
    },
    async (items) => {
      sent.push([...items]);
      if (opts.failBatch) throw new Error('batch failed');
      return items.map((i) => (i === opts.failItem ? new Error(`item ${i} failed`) : i * 10));
    },
  );
  return { coalescer, sent };
}

describe('CallCoalescer', () => {
  it('sends a call at once and alone when nothing is in flight', async () => {
    const { coalescer, sent } = recording(8);
    expect(await coalescer.run(1)).toBe(10);
    expect(await coalescer.run(2)).toBe(20);
    expect(sent).toEqual([[1], [2]]);
    expect(coalescer.pending).toBe(0);
  });

  it('gathers the calls made while one is in flight into batches of at most maxBatch, in call order', async () => {
    const { coalescer, sent } = recording(4);
    const results = await Promise.all(Array.from({ length: 11 }, (_, i) => coalescer.run(i)));
    expect(results).toEqual(Array.from({ length: 11 }, (_, i) => i * 10));
    expect(sent).toEqual([[0], [1, 2, 3, 4], [5, 6, 7, 8], [9, 10]]);
    expect(coalescer.pending).toBe(0);
  });

  it('sends a call after the calls already waiting, even when nothing is in flight any more', async () => {
    const { coalescer, sent } = recording(8);
    const a = coalescer.run(1);
    const b = coalescer.run(2); // waits for the end of the loop iteration
    await a; // the first call is answered before the waiting one leaves
    const c = coalescer.run(3);
    expect(await Promise.all([b, c])).toEqual([20, 30]);
    expect(sent).toEqual([[1], [2, 3]]);
  });

  it('fails only the item the batch failed, and every item when the whole batch fails', async () => {
    const one = recording(8, { failItem: 3 });
    const settled = await Promise.allSettled([0, 1, 2, 3, 4].map((i) => one.coalescer.run(i)));
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    const all = recording(8, { failBatch: true });
    const failed = await Promise.allSettled([0, 1, 2, 3].map((i) => all.coalescer.run(i)));
    expect(failed.map((s) => s.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'rejected']);
    // Nothing stays counted as in flight after failures: the next call goes out alone again.
    await all.coalescer.run(9);
    expect(all.sent.at(-1)).toEqual([9]);
  });

  it('answers every call exactly once with its own result, whatever the batch size and arrival pattern', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 6 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 1_000 }), { maxLength: 10 }), { maxLength: 6 }),
        async (maxBatch, waves) => {
          const { coalescer, sent } = recording(maxBatch);
          const pending: Promise<number>[] = [];
          const expected: number[] = [];
          for (const wave of waves) {
            for (const item of wave) {
              pending.push(coalescer.run(item));
              expected.push(item * 10);
            }
            await new Promise((resolve) => setImmediate(resolve));
          }
          expect(await Promise.all(pending)).toEqual(expected);
          expect(sent.flat().sort((a, b) => a - b)).toEqual(waves.flat().sort((a, b) => a - b));
          for (const batch of sent) expect(batch.length).toBeLessThanOrEqual(maxBatch);
          expect(coalescer.pending).toBe(0);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('asks `busy` instead of counting its own calls when given one', async () => {
    let busy = true;
    const sent: number[][] = [];
    const coalescer = new CallCoalescer<number, number>(
      8,
      async (item) => {
        sent.push([item]);
        return item;
      },
      async (items) => {
        sent.push([...items]);
        return [...items];
      },
      () => busy,
    );
    // Something else is in flight on the same connection: even a first call waits for its batch.
    expect(await Promise.all([coalescer.run(1), coalescer.run(2)])).toEqual([1, 2]);
    busy = false;
    expect(await coalescer.run(3)).toBe(3);
    expect(sent).toEqual([[1, 2], [3]]);
  });
});
