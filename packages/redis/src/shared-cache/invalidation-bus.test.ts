import { EventEmitter } from 'node:events';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RedisStoreError } from '../errors.ts';
import type { RedisClient } from '../scripts.ts';
import { InvalidationBus } from './invalidation-bus.ts';

/** A subscriber whose SUBSCRIBE replies only when the test says so. */
class FakeSubscriber extends EventEmitter {
  status = 'ready';
  readonly pending: (() => void)[] = [];

  readonly failing: (() => void)[] = [];

  /** What a failed SUBSCRIBE rejects with. */
  failure: () => Error = () => new Error('connection lost');

  subscribe(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.pending.push(() => resolve(1));
      this.failing.push(() => reject(this.failure()));
    });
  }

  /** Fails every SUBSCRIBE still waiting for its reply. */
  fail(): Promise<void> {
    this.pending.length = 0;
    for (const reject of this.failing.splice(0)) reject();
    return new Promise((resolve) => setImmediate(resolve));
  }

  readonly unsubscribed: string[] = [];

  unsubscribe(...channels: string[]): Promise<number> {
    this.unsubscribed.push(...channels);
    return Promise.resolve(0);
  }

  reply(): Promise<void> {
    this.failing.length = 0;
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
    expect(resyncs).toBe(before + 1); // the L1 is dropped once, when the subscription is confirmed
    await bus.close();
  });

  it('is not healthy in the tick between a reconnect’s status ready and its ready event', async () => {
    const subscriber = new FakeSubscriber();
    const bus = new InvalidationBus(
      subscriber as unknown as RedisClient,
      'ch',
      'pod-a',
      () => {},
      () => {},
      () => {},
    );
    bus.start();
    await subscriber.reply();
    expect(bus.healthy).toBe(true);
    // ioredis: the connection closes (status, then the event a tick later), reconnects, and sets
    // status = 'ready' one tick before it emits 'ready': the old subscription flag must not count.
    subscriber.status = 'reconnecting';
    subscriber.emit('close');
    subscriber.status = 'ready';
    expect(bus.healthy).toBe(false);
    subscriber.emit('ready');
    expect(bus.healthy).toBe(false);
    await subscriber.reply();
    expect(bus.healthy).toBe(true);
    await bus.close();
    expect(subscriber.listenerCount('close')).toBe(0);
  });

  it('drops the L1 once per reconnect, and never turns healthy again without dropping it', async () => {
    const subscriber = new FakeSubscriber();
    const events: string[] = [];
    const bus = new InvalidationBus(
      subscriber as unknown as RedisClient,
      'ch',
      'pod-a',
      () => {},
      () => events.push(bus.healthy ? 'drop while healthy' : 'drop'),
      () => events.push('error'),
    );
    bus.start();
    await subscriber.reply();
    expect(events).toEqual(['drop']);
    // A reconnect whose SUBSCRIBE fails, then one whose SUBSCRIBE succeeds.
    for (const outcome of ['fail', 'reply'] as const) {
      subscriber.emit('ready');
      expect(bus.healthy).toBe(false);
      await subscriber[outcome]();
    }
    expect(events).toEqual(['drop', 'error', 'drop']);
    expect(bus.healthy).toBe(true);
    await bus.close();
  });

  it('leaves the channel on the next ready when closed while the subscriber reconnects, unless a bus joined it again', async () => {
    const subscriber = new FakeSubscriber();
    const make = (): InvalidationBus =>
      new InvalidationBus(
        subscriber as unknown as RedisClient,
        'ch',
        'pod-a',
        () => {},
        () => {},
        () => {},
      );
    const first = make();
    first.start();
    await subscriber.reply();
    subscriber.status = 'reconnecting';
    subscriber.emit('close');
    await first.close();
    expect(subscriber.unsubscribed).toEqual([]); // cannot be sent now
    subscriber.status = 'ready';
    subscriber.emit('ready'); // after ioredis's own re-SUBSCRIBE
    expect(subscriber.unsubscribed).toEqual(['ch']);
    expect(subscriber.listenerCount('ready')).toBe(0);
    expect(subscriber.listenerCount('end')).toBe(0);
    // Closed while reconnecting, then a new bus on the same channel: the channel stays.
    const second = make();
    second.start();
    subscriber.status = 'reconnecting';
    await second.close();
    const third = make();
    third.start();
    subscriber.status = 'ready';
    subscriber.emit('ready');
    expect(subscriber.unsubscribed).toEqual(['ch']);
    await third.close();
    expect(subscriber.unsubscribed).toEqual(['ch', 'ch']);
  });

  it('keeps one ready/end listener pair however many buses close while the subscriber reconnects, or how often', async () => {
    const subscriber = new FakeSubscriber();
    const make = (channel: string): InvalidationBus =>
      new InvalidationBus(
        subscriber as unknown as RedisClient,
        channel,
        'pod-a',
        () => {},
        () => {},
        () => {},
      );
    for (let cycle = 0; cycle < 3; cycle++) {
      const channels = Array.from({ length: 12 }, (_, i) => `ch-${cycle}-${i}`);
      const buses = channels.map(make);
      for (const bus of buses) bus.start();
      subscriber.status = 'reconnecting';
      subscriber.emit('close');
      for (const bus of buses) await bus.close();
      expect(subscriber.listenerCount('ready')).toBe(1);
      expect(subscriber.listenerCount('end')).toBe(1);
      subscriber.status = 'ready';
      subscriber.emit('ready');
      expect(subscriber.unsubscribed.slice(-12)).toEqual(channels);
      expect(subscriber.listenerCount('ready')).toBe(0);
      expect(subscriber.listenerCount('end')).toBe(0);
    }
    // Closed while reconnecting, then the connection ends for good: nothing is left listening.
    const last = make('ch-end');
    last.start();
    subscriber.status = 'reconnecting';
    await last.close();
    subscriber.status = 'end';
    subscriber.emit('end');
    expect(subscriber.listenerCount('ready')).toBe(0);
    expect(subscriber.listenerCount('end')).toBe(0);
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

  it('reports a failed SUBSCRIBE as a RedisStoreError whose cause carries no command or arguments', async () => {
    const subscriber = new FakeSubscriber();
    // ioredis rejects with a ReplyError that carries the command and its arguments.
    subscriber.failure = () =>
      Object.assign(new Error("NOPERM User app has no permissions to access the 'secret-ch-7f3a' channel"), {
        name: 'ReplyError',
        command: { name: 'subscribe', args: ['secret-ch-7f3a', 'arg-9c1d'] },
      });
    const errors: unknown[] = [];
    const bus = new InvalidationBus(
      subscriber as unknown as RedisClient,
      'secret-ch-7f3a',
      'pod-a',
      () => {},
      () => {},
      (error) => errors.push(error),
      'SharedCache "jwks"',
    );
    bus.start();
    await subscriber.fail();
    expect(errors).toHaveLength(1);
    const [error] = errors as [RedisStoreError & { cause?: Error }];
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
    expect(error.message).toContain('SharedCache "jwks"');
    expect(Object.hasOwn(error, 'command')).toBe(false);
    expect(error.cause).toBeInstanceOf(Error);
    expect(Object.hasOwn(error.cause as object, 'command')).toBe(false);
    expect(error.cause?.message).toContain('NOPERM'); // Redis's reason stays readable
    expect(inspect(error, { depth: 10 })).not.toContain('arg-9c1d');
    await bus.close();
  });
});
