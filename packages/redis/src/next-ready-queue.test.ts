import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
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
