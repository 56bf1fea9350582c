import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { RedisClient } from '../scripts.ts';
import { InvalidationBus } from './invalidation-bus.ts';

/** A subscriber whose SUBSCRIBE replies only when the test says so. */
class FakeSubscriber extends EventEmitter {
  status = 'ready';
  readonly pending: (() => void)[] = [];

  subscribe(): Promise<number> {
    return new Promise((resolve) => this.pending.push(() => resolve(1)));
  }

  unsubscribe(): Promise<number> {
    return Promise.resolve(0);
  }

  reply(): Promise<void> {
    for (const resolve of this.pending.splice(0)) resolve();
    return new Promise((resolve) => setImmediate(resolve));
  }
}

describe('InvalidationBus', () => {
  it('is healthy again after a reconnect only once the channel’s SUBSCRIBE has replied, and resyncs then', async () => {
    const subscriber = new FakeSubscriber();
    let resyncs = 0;
    const bus = new InvalidationBus(
      subscriber as unknown as RedisClient,
      'ch',
      'pod-a',
      () => {},
      () => {
        resyncs += 1;
      },
      () => {},
    );
    bus.start();
    expect(bus.healthy).toBe(false);
    await subscriber.reply();
    expect(bus.healthy).toBe(true);
    // ioredis emits ready before it re-sends its SUBSCRIBE: messages published meanwhile are lost.
    subscriber.status = 'reconnecting';
    subscriber.status = 'ready';
    subscriber.emit('ready');
    expect(bus.healthy).toBe(false);
    const before = resyncs;
    await subscriber.reply();
    expect(bus.healthy).toBe(true);
    expect(resyncs).toBeGreaterThan(before); // the L1 is dropped when the subscription is confirmed
    await bus.close();
  });

  it('skips this pod’s own messages', () => {
    const subscriber = new FakeSubscriber();
    const seen: string[] = [];
    const bus = new InvalidationBus(
      subscriber as unknown as RedisClient,
      'ch',
      'pod-a',
      (m) => seen.push(m.origin),
      () => {},
      () => {},
    );
    bus.deliver({ origin: 'pod-a', keys: ['k'] });
    bus.deliver({ origin: 'pod-b', keys: ['k'] });
    expect(seen).toEqual(['pod-b']);
  });
});
