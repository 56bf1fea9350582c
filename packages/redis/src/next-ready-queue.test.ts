import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { describe, expect, it, vi } from 'vitest';
import { NextReadyQueue } from './next-ready-queue.ts';
import type { RedisClient } from './scripts.ts';

/** A client whose status and events the test sets. */
const fakeClient = (): EventEmitter & { status: string } =>
  Object.assign(new EventEmitter(), { status: 'reconnecting' });

describe('NextReadyQueue', () => {
  it('runs the items once on the next ready with the status ready, with one listener pair, up to maxItems', () => {
    const runs: string[][] = [];
    const queue = new NextReadyQueue<string>({ maxItems: 2, run: (_client, items) => runs.push([...items]) });
    const client = fakeClient();
    const redis = client as unknown as RedisClient;
    expect(queue.add(redis, 'a')).toBe(true);
    expect(queue.add(redis, 'b')).toBe(true);
    expect(queue.add(redis, 'c')).toBe(false); // beyond maxItems
    expect(client.listenerCount('ready')).toBe(1);
    client.emit('ready'); // the connection was lost again before the event: wait for the next one
    expect(runs).toEqual([]);
    client.status = 'ready';
    client.emit('ready');
    client.emit('ready');
    expect(runs).toEqual([['a', 'b']]);
    expect(client.listenerCount('ready') + client.listenerCount('end')).toBe(0);
  });

  it('queues nothing on a client closed for good, and drops the set on end or drop()', () => {
    const runs: string[][] = [];
    const queue = new NextReadyQueue<string>({ run: (_client, items) => runs.push([...items]) });
    const client = fakeClient();
    const redis = client as unknown as RedisClient;
    queue.add(redis, 'a');
    client.emit('end');
    queue.add(redis, 'b');
    queue.drop(redis);
    expect(queue.pending(redis)).toBeUndefined();
    client.status = 'end';
    expect(queue.add(redis, 'c')).toBe(false);
    client.emit('ready');
    expect(runs).toEqual([]);
    expect(client.listenerCount('ready') + client.listenerCount('end')).toBe(0);
  });
});

describe('NextReadyQueue with a window (the queue’s, the same for every item)', () => {
  /** Polls `done` every few ms until it holds, or fails after `timeoutMs`. */
  const until = async (done: () => boolean, timeoutMs = 5_000): Promise<void> => {
    const deadline = performance.now() + timeoutMs;
    while (!done()) {
      if (performance.now() > deadline) throw new Error('timed out');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };

  it('drops the set, with its listeners, once no ready came within the window of the latest item', async () => {
    const runs: string[][] = [];
    const queue = new NextReadyQueue<string>({ windowMs: 100, run: (_client, items) => runs.push([...items]) });
    const client = fakeClient();
    const redis = client as unknown as RedisClient;
    queue.add(redis, 'a');
    await new Promise((resolve) => setTimeout(resolve, 60));
    const latest = performance.now();
    queue.add(redis, 'b'); // moves the end of the window
    expect(queue.pending(redis)).toEqual(new Set(['a', 'b']));
    await until(() => queue.pending(redis) === undefined);
    expect(performance.now() - latest).toBeGreaterThanOrEqual(100);
    expect(client.listenerCount('ready') + client.listenerCount('end')).toBe(0);
    client.status = 'ready';
    client.emit('ready');
    expect(runs).toEqual([]);
  });

  it('runs the set on a ready within the window, and leaves no timer behind', async () => {
    const runs: string[][] = [];
    const queue = new NextReadyQueue<string>({ windowMs: 60_000, run: (_client, items) => runs.push([...items]) });
    const client = fakeClient();
    const redis = client as unknown as RedisClient;
    const cleared = vi.spyOn(globalThis, 'clearTimeout');
    queue.add(redis, 'a');
    queue.add(redis, 'b');
    client.status = 'ready';
    client.emit('ready');
    expect(runs).toEqual([['a', 'b']]);
    expect(cleared).toHaveBeenCalled();
  });

  it('arms only timers a Node timer keeps (never past the window), and none without a window', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    const timeouts = vi.spyOn(globalThis, 'setTimeout');
    try {
      const unwindowed = new NextReadyQueue<string>({ run: () => {} });
      const client = fakeClient();
      const redis = client as unknown as RedisClient;
      unwindowed.add(redis, 'a');
      unwindowed.add(redis, 'b');
      expect(timeouts).not.toHaveBeenCalled(); // no window: waits for the ready or the end
      const windowed = new NextReadyQueue<string>({ windowMs: 50, run: () => {} });
      windowed.add(redis, 'c');
      windowed.add(redis, 'd');
      await until(() => windowed.pending(redis) === undefined);
      for (const [, delay] of timeouts.mock.calls) {
        if (typeof delay !== 'number') continue; // this test's own polls pass 5
        expect(Number.isFinite(delay)).toBe(true);
        expect(delay).toBeLessThanOrEqual(50);
      }
      expect(unwindowed.pending(redis)).toEqual(new Set(['a', 'b'])); // the other queue's set is its own
      unwindowed.drop(redis);
      await new Promise((resolve) => setImmediate(resolve));
      expect(warnings.filter((w) => w.name === 'TimeoutOverflowWarning')).toEqual([]);
      expect(client.listenerCount('ready') + client.listenerCount('end')).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('refuses a window a timer cannot keep, and a maxItems that is not a positive integer, listing both', () => {
    for (const windowMs of [0, -1, 1.5, Number.POSITIVE_INFINITY, Number.NaN, 2 ** 31]) {
      expect(() => new NextReadyQueue<string>({ windowMs, run: () => {} })).toThrow(
        expect.objectContaining({ code: 'ERR_REDIS_INVALID_OPTIONS', message: expect.stringContaining('windowMs') }),
      );
    }
    expect(() => new NextReadyQueue<string>({ windowMs: 0, maxItems: 0, run: () => {} })).toThrow(/windowMs.*maxItems/);
    expect(() => new NextReadyQueue<string>({ windowMs: 2 ** 31 - 1, maxItems: 1, run: () => {} })).not.toThrow();
  });
});
