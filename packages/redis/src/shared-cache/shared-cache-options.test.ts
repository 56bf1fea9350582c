import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CacheRegistry } from '../cache-registry.ts';
import { RedisStoreError } from '../errors.ts';
import { checkWrite, resolveSharedCacheOptions, type SharedCacheOptions } from './shared-cache-options.ts';

// lazyConnect: real ioredis clients that never open a connection, so validation is all that runs.
const options = (subscriber: unknown): SharedCacheOptions<unknown> => ({
  name: 'jwks',
  class: 'cluster',
  reason: 'signing keys rotate',
  ttlMs: 1_000,
  redis: new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true }),
  subscriber: subscriber as Redis,
  registry: new CacheRegistry(),
});

/** The message of the options error for `subscriber` next to a bad ttlMs (every problem at once). */
function refusal(subscriber: unknown): string {
  let error: unknown;
  try {
    resolveSharedCacheOptions({ ...options(subscriber), ttlMs: 0 });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(RedisStoreError);
  expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_OPTIONS' });
  const message = (error as Error).message;
  expect(message).toContain('ttlMs must be');
  return message;
}

describe('resolveSharedCacheOptions', () => {
  it('refuses a Cluster as subscriber, listed with the other problems, naming a one-node connection as the fix', () => {
    const subscriber = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true });
    const message = refusal(subscriber);
    expect(message).toContain('subscriber must be a plain ioredis Redis connection to one node of the cluster');
    expect(message).toContain('PUBLISH in Redis Cluster reaches every node');
    expect(message).toContain('without any event');
    expect(message).not.toContain('127.0.0.1'); // never a value
  });

  it('refuses a subscriber that never reconnects (retryStrategy: null), listed with the other problems', () => {
    // ioredis's type has no null, but its docs do ("never reconnect"), and a Cluster's node options carry it.
    const subscriber = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: null as never });
    const message = refusal(subscriber);
    expect(message).toContain('subscriber must reconnect after a lost connection: remove retryStrategy: null');
    expect(message).toContain("a Cluster's node options carry it");
    expect(message).not.toContain('127.0.0.1'); // never a value
  });

  it('accepts a subscriber whose retryStrategy is a function', () => {
    const subscriber = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true, retryStrategy: () => 100 });
    expect(() => resolveSharedCacheOptions(options(subscriber))).not.toThrow();
  });

  it('accepts a plain Redis connection to one node as subscriber of a cache on a Cluster', () => {
    const subscriber = new Redis({ host: '127.0.0.1', port: 1, lazyConnect: true });
    expect(() => resolveSharedCacheOptions(options(subscriber))).not.toThrow();
  });
});

describe('checkWrite', () => {
  it("holds a write's ttlMs to the bound of the ttlMs option (an expiry time passed as a duration is refused)", () => {
    expect(checkWrite({ ttlMs: 366 * 86_400_000 }, 1_000, 'jwks', 'set').ttl).toBe(366 * 86_400_000);
    expect(checkWrite({}, 1_000, 'jwks', 'set').ttl).toBe(1_000);
    const expiry = Date.now() + 60_000;
    for (const ttlMs of [366 * 86_400_000 + 1, expiry, 0, 1.5]) {
      let error: unknown;
      try {
        checkWrite({ ttlMs }, 1_000, 'jwks', 'set');
      } catch (e) {
        error = e;
      }
      expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      expect((error as Error).message).toMatch(
        /^SharedCache "jwks"\.set: ttlMs must be an integer from 1 to 31622400000/,
      );
      if (ttlMs > 366 * 86_400_000) expect((error as Error).message).not.toContain(String(ttlMs));
    }
  });
});
