import { performance } from 'node:perf_hooks';
import { inspect } from 'node:util';
import { startRedis, startRedisCluster, type TestRedis, waitFor } from '@rampart/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheRegistry,
  RedisStoreError,
  ReplayGuard,
  SharedCache,
  type SharedCacheOptions,
  SingleUseStore,
} from '../src/index.ts';

let counter = 0;
const unique = (what: string): string => `${what}-${++counter}`;

// A client as the README recommends: no offline queue, quick reconnects.
const connect = (server: TestRedis): Redis => {
  const client = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
  client.on('error', () => {}); // reconnect errors are expected here: Redis is stopped on purpose
  return client;
};

const readyOf = async (client: Redis): Promise<void> =>
  waitFor(() => client.status === 'ready', { timeoutMs: 10_000, what: 'the client to be ready' });

/** A cache whose entries (loaded while `now` moves 500 ms) are due for an early refresh 30 s later. */
const cacheOn = (
  name: string,
  redis: Redis,
  clock: { now: number },
  errors: unknown[],
  overrides: Partial<SharedCacheOptions<string>> = {},
): SharedCache<string> =>
  new SharedCache<string>({
    name,
    class: 'pod',
    reason: 'per-pod copies are fine here',
    ttlMs: 60_000,
    l1: { maxEntries: 100 },
    earlyRefresh: { beta: 100 },
    clock: { now: () => clock.now, random: () => 0.5 },
    redis,
    timeoutMs: 1_000,
    registry: new CacheRegistry(),
    onError: (e) => errors.push(e),
    ...overrides,
  });

const slowLoad =
  (clock: { now: number }, value: string): (() => string) =>
  () => {
    clock.now += 500; // δ = 500 ms: with β = 100, due from about 35 s before expiry
    return value;
  };

describe('Redis stopped and restarted', () => {
  let server: TestRedis;
  let redis: Redis;
  let subscriber: Redis;
  const registry = new CacheRegistry();

  beforeAll(async () => {
    server = await startRedis({ owned: true });
    redis = connect(server);
    subscriber = connect(server);
    await Promise.all([readyOf(redis), readyOf(subscriber)]);
  });
  afterAll(async () => {
    redis?.disconnect();
    subscriber?.disconnect();
    await server?.stop();
  });

  it('fails closed, fails open when told to, and recovers after a restart', async () => {
    const closed = new ReplayGuard({ redis, name: unique('closed'), ttlMs: 60_000, registry, timeoutMs: 1_000 });
    const failOpens: RedisStoreError[] = [];
    const open = new ReplayGuard({
      redis,
      name: unique('open'),
      ttlMs: 60_000,
      registry,
      timeoutMs: 1_000,
      onRedisDown: 'fail-open',
      onFailOpen: (e) => failOpens.push(e),
    });
    const once = new SingleUseStore<string>({ redis, name: unique('once'), ttlMs: 60_000, registry, timeoutMs: 1_000 });
    const jwks = new SharedCache<string>({
      name: unique('jwks'),
      class: 'cluster',
      reason: 'keys rotate together',
      ttlMs: 60_000,
      redis,
      subscriber,
      timeoutMs: 1_000,
      registry,
    });
    const stale = new SharedCache<string>({
      name: unique('stale'),
      class: 'cluster',
      reason: 'stale keys beat no keys during an outage',
      ttlMs: 60_000,
      staleIfErrorMs: 600_000,
      redis,
      subscriber,
      timeoutMs: 1_000,
      registry,
    });
    const tokens = new SharedCache<string>({
      name: unique('tokens'),
      class: 'pod',
      reason: 'an upstream token per pod is fine',
      ttlMs: 60_000,
      redis,
      timeoutMs: 1_000,
      registry,
    });
    await Promise.all([jwks.ready(), stale.ready()]);
    await once.put('before', 'x');
    await stale.set('k', 'cached');
    expect(await stale.get('k')).toBe('cached');

    await server.kill();
    await waitFor(() => redis.status !== 'ready', { timeoutMs: 5_000, what: 'the client to notice' });

    const down = async (p: Promise<unknown>): Promise<RedisStoreError> => {
      const error = await p.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RedisStoreError);
      expect((error as RedisStoreError).code).toMatch(/^ERR_REDIS_(UNAVAILABLE|TIMEOUT)$/);
      expect((error as RedisStoreError).retryable).toBe(true);
      return error as RedisStoreError;
    };
    // A replay check that cannot reach Redis never says "first time".
    await down(closed.check('nonce'));
    expect(await open.check('nonce')).toBe(true);
    expect(failOpens).toHaveLength(1);
    await down(once.put('during', 'x'));
    await down(once.consume('before'));
    await down(jwks.getOrSet('k', () => 'fresh'));
    expect(await stale.getOrSet('k', () => 'fresh')).toBe('cached');
    expect(await tokens.getOrSet('k', () => 'from-origin')).toBe('from-origin');

    await server.restart();
    await Promise.all([readyOf(redis), readyOf(subscriber)]);
    // A restarted (empty) Redis: the guard works again, the lost item stays lost.
    expect(await closed.check('nonce')).toBe(true);
    expect(await closed.check('nonce')).toBe(false);
    expect(await once.consume('before')).toBeUndefined();
    await once.put('after', 'y');
    expect((await once.consume('after'))?.value).toBe('y');
    // The subscriber reconnected: the L1 was dropped, so nothing stale survives the restart.
    await waitFor(() => stale.size === 0, { timeoutMs: 5_000, what: 'the L1 to be dropped on reconnect' });
    expect(await jwks.getOrSet('k', () => 'fresh')).toBe('fresh');
    for (const s of [closed, open, once]) s.close();
    await Promise.all([jwks.close(), stale.close(), tokens.close()]);
  });

  it('serves an L1 copy while Redis and the subscriber are down: a pod cache’s always, a cluster cache’s within staleIfErrorMs', async () => {
    const pod = new SharedCache<string>({
      name: unique('pod-l1'),
      class: 'pod',
      reason: 'an upstream token per pod is fine',
      ttlMs: 60_000,
      redis,
      subscriber,
      timeoutMs: 1_000,
      registry,
    });
    const bypass = new SharedCache<string>({
      name: unique('bypass-l1'),
      class: 'cluster',
      reason: 'stale keys beat no keys during an outage',
      ttlMs: 60_000,
      staleIfErrorMs: 600_000,
      onRedisDown: 'bypass',
      redis,
      subscriber,
      timeoutMs: 1_000,
      registry,
    });
    const strict = new SharedCache<string>({
      name: unique('strict-l1'),
      class: 'cluster',
      reason: 'keys rotate together',
      ttlMs: 60_000,
      onRedisDown: 'bypass',
      redis,
      subscriber,
      timeoutMs: 1_000,
      registry,
    });
    await Promise.all([pod.ready(), bypass.ready(), strict.ready()]);
    for (const cache of [pod, bypass, strict]) await cache.set('k', 'cached');
    expect([pod.size, bypass.size, strict.size]).toEqual([1, 1, 1]);

    await server.kill();
    await waitFor(() => redis.status !== 'ready' && subscriber.status !== 'ready', {
      timeoutMs: 5_000,
      what: 'both clients to notice',
    });
    let loads = 0;
    const failing = (): string => {
      loads += 1;
      throw new Error('the origin is down too');
    };
    // A fresh copy is served without the loader (the subscriber being down does not matter while
    // Redis is: nobody can publish an invalidation through it either).
    expect(await pod.getOrSet('k', failing)).toBe('cached');
    expect(await pod.get('k')).toBe('cached');
    expect(await bypass.getOrSet('k', failing)).toBe('cached');
    expect(loads).toBe(0);
    // Without staleIfErrorMs a cluster cache never serves an L1 it cannot trust: bypass calls the loader.
    await expect(strict.getOrSet('k', failing)).rejects.toThrow('the origin is down too');
    expect(await strict.getOrSet('k', () => 'from-origin')).toBe('from-origin');
    // A key without a copy goes to the loader (bypass).
    expect(await pod.getOrSet('other', () => 'from-origin')).toBe('from-origin');

    await server.restart();
    await Promise.all([readyOf(redis), readyOf(subscriber)]);
    await Promise.all([pod.close(), bypass.close(), strict.close()]);
  });

  it('never keeps serving the old value after a tagged set while Redis is down (pod cache, bypass)', async () => {
    const errors: unknown[] = [];
    const common = {
      class: 'pod',
      reason: 'an upstream token per pod is fine',
      ttlMs: 60_000,
      redis,
      timeoutMs: 1_000,
      registry,
      onError: (e: unknown) => errors.push(e),
    } as const;
    const caches = [
      new SharedCache<string>({ ...common, name: unique('tagged-set') }),
      new SharedCache<string>({ ...common, name: unique('tagged-set-sub'), subscriber }),
    ];
    await Promise.all(caches.map((c) => c.ready()));
    for (const cache of caches) {
      await cache.set('k', 'v1', { tags: ['t'] });
      await cache.set('untagged', 'u1');
      expect(await cache.get('k')).toBe('v1');
    }

    await server.kill();
    await waitFor(() => redis.status !== 'ready' && subscriber.status !== 'ready', {
      timeoutMs: 5_000,
      what: 'both clients to notice',
    });
    for (const cache of caches) {
      await cache.set('k', 'v2', { tags: ['t'] }); // bypass: resolves, the failure goes to onError
      // A tagged value cannot be versioned while Redis is down: it is cached nowhere, and the
      // old copy is gone from this pod's L1.
      expect(await cache.get('k')).toBeUndefined();
      expect(await cache.getOrSet('k', () => 'from-origin', { tags: ['t'] })).toBe('from-origin');
      // Nor does an untagged set leave the old value served.
      await cache.set('untagged', 'u2');
      expect(await cache.get('untagged')).not.toBe('u1');
    }
    expect(errors.length).toBeGreaterThan(0);

    await server.restart();
    await Promise.all([readyOf(redis), readyOf(subscriber)]);
    await Promise.all(caches.map((c) => c.close()));
  });

  it('rejects a clear that Redis does not answer within the timeout, and sends no more of it', async () => {
    const admin = connect(server);
    await readyOf(admin);
    const cache = new SharedCache<number>({
      name: unique('paused-clear'),
      class: 'pod',
      reason: 'a clear must not hang',
      ttlMs: 60_000,
      redis,
      timeoutMs: 100,
      registry,
    });
    for (let i = 0; i < 20; i++) await cache.set(`k${i}`, i);
    const pattern = `rampart:cache:${cache.name}:*`;
    const before = (await admin.keys(pattern)).length;
    expect(before).toBeGreaterThanOrEqual(20);
    await admin.call('CLIENT', 'PAUSE', '2000', 'ALL');
    const started = performance.now();
    const error = await cache.clear().catch((e: unknown) => e);
    const took = performance.now() - started;
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toMatchObject({ code: 'ERR_REDIS_TIMEOUT', retryable: true });
    expect((error as Error).message).toContain('call clear again');
    expect(took).toBeLessThan(1_500);
    // Once Redis answers again, nothing more of the rejected clear reaches it: the SCAN that timed
    // out runs, but no UNLINK and no further page follows. Two round trips on the cache's own
    // connection: whatever the clear sent after the SCAN's reply went before the second one.
    await admin.ping();
    await redis.ping();
    await redis.ping();
    expect((await admin.keys(pattern)).length).toBe(before);
    await cache.clear();
    expect(await admin.keys(pattern)).toEqual([]);
    admin.disconnect();
    await cache.close();
  });

  it('answers within the timeout while Redis does not answer at all', async () => {
    const admin = connect(server);
    await readyOf(admin);
    const guard = new ReplayGuard({ redis, name: unique('paused'), ttlMs: 60_000, registry, timeoutMs: 100 });
    const once = new SingleUseStore({ redis, name: unique('paused-once'), ttlMs: 60_000, registry, timeoutMs: 100 });
    await admin.call('CLIENT', 'PAUSE', '1500', 'WRITE');
    const error = await guard.check('n').catch((e: unknown) => e);
    expect((error as RedisStoreError).code).toBe('ERR_REDIS_TIMEOUT');
    expect((await once.consume('x').catch((e: unknown) => e)) as RedisStoreError).toMatchObject({
      code: 'ERR_REDIS_TIMEOUT',
    });
    await admin.call('CLIENT', 'UNPAUSE');
    admin.disconnect();
    guard.close();
    once.close();
  });
});

describe('a Redis that refuses writes (out of memory)', () => {
  let server: TestRedis;
  let redis: Redis;

  beforeAll(async () => {
    server = await startRedis({ owned: true, args: ['--maxmemory', '1', '--maxmemory-policy', 'noeviction'] });
    redis = connect(server);
    await readyOf(redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  /** Everything a logger could print of `error`, its cause and the cause's own properties included. */
  const shown = (error: unknown): string => {
    const cause = (error as { cause?: unknown }).cause;
    return `${inspect(error, { depth: 10 })}\n${JSON.stringify(cause)}\n${JSON.stringify(Object.entries(cause ?? {}))}`;
  };

  it('keeps the stored value and the id out of the error, its cause included', async () => {
    const once = new SingleUseStore<string>({
      redis,
      name: unique('oom-once'),
      ttlMs: 60_000,
      registry: new CacheRegistry(),
      timeoutMs: 1_000,
    });
    const error = await once.put('id-5a4b3c2d1e', 'value-9f8e7d6c5b').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
    const text = shown(error);
    expect(text).toContain('OOM'); // Redis's reason stays readable
    expect(text).not.toContain('value-9f8e7d6c5b');
    expect(text).not.toContain('id-5a4b3c2d1e');
    expect(text).not.toContain('rampart:');
    expect((error as { cause?: { command?: unknown } }).cause?.command).toBeUndefined();
    once.close();
  });

  it('keeps a cached value and its key out of a SharedCache error, its cause included', async () => {
    const cache = new SharedCache<string>({
      name: unique('oom-cache'),
      class: 'cluster',
      reason: 'a refused write fails closed',
      ttlMs: 60_000,
      redis,
      timeoutMs: 1_000,
      registry: new CacheRegistry(),
    });
    const error = await cache.set('key-4d3c2b1a', 'cached-8e7f6a5b').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
    const text = shown(error);
    expect(text).toContain('OOM');
    expect(text).not.toContain('cached-8e7f6a5b');
    expect(text).not.toContain('key-4d3c2b1a');
    expect(text).not.toContain('rampart:');
    await cache.close();
  });
});

describe('SharedCache early refresh while Redis refuses writes (maxmemory with noeviction)', () => {
  let server: TestRedis;
  let redis: Redis;
  let admin: Redis;

  beforeAll(async () => {
    server = await startRedis({ owned: true });
    redis = connect(server);
    admin = connect(server);
    await Promise.all([readyOf(redis), readyOf(admin)]);
  });
  afterAll(async () => {
    redis?.disconnect();
    admin?.disconnect();
    await server?.stop();
  });

  /** Calls per command so far, from INFO commandstats (the admin's own INFO and PING included). */
  const calls = async (): Promise<number> => {
    let total = 0;
    for (const line of (await admin.info('commandstats')).split('\n')) {
      const m = /^cmdstat_(?!info|ping|config)[^:]+:calls=(\d+)/.exec(line.trim());
      if (m) total += Number(m[1]);
    }
    return total;
  };

  /** Lets anything the cache started in the background reach Redis: a few round trips on its own client. */
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 4; i++) {
      await redis.ping();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  /**
   * A pod cache on an injected clock (`clock.now`) holding 'k' = 'v1' in its L1 only: the Redis
   * entry is deleted, as if evicted or lost in a restart. δ = 500 ms and β = 100 make it due for an
   * early refresh from about 35 s before expiry. `errors` collects what onError hears.
   */
  const cachedInL1Only = async (label: string, overrides: Partial<SharedCacheOptions<string>> = {}) => {
    const clock = { now: 5_000_000 };
    const errors: unknown[] = [];
    const name = unique(label);
    const cache = cacheOn(name, redis, clock, errors, overrides);
    expect(await cache.getOrSet('k', slowLoad(clock, 'v1'))).toBe('v1');
    await admin.del(`rampart:cache:${name}:{=k}`);
    return { cache, errors, name, clock };
  };

  it.each([
    ['with the lease', {}],
    ['without the lease', { lease: false as const }],
  ] as const)(
    'skips the loader, reports once and pauses, then reloads once Redis takes writes again (%s)',
    async (_how, overrides) => {
      const { cache, errors, name, clock } = await cachedInL1Only('oom-refresh', overrides);
      await admin.config('SET', 'maxmemory', '1');
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      try {
        let loads = 0;
        const loader = (): string => {
          loads += 1;
          return 'v2';
        };
        clock.now += 30_000; // due
        expect(await cache.getOrSet('k', loader)).toBe('v1'); // the L1 copy, and a refresh in the background
        await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the refused refresh to be reported' });
        await settle();
        expect(loads).toBe(0); // nothing it loaded could be stored
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
        expect(String((errors[0] as Error).message)).toContain('maxmemory');
        expect(String((errors[0] as Error).message)).not.toContain('primary'); // advice for OOM, not READONLY
        expect(inspect(errors[0], { depth: 10 })).toContain('OOM'); // Redis's reason, in the cause
        // Further due hits during the pause: the L1 copy, with no refresh, no round trip, no report.
        const before = await calls();
        for (let i = 0; i < 5; i++) {
          clock.now += 1_000;
          expect(await cache.getOrSet('k', loader)).toBe('v1');
        }
        await settle();
        expect(await calls()).toBe(before);
        expect(loads).toBe(0);
        expect(errors).toHaveLength(1);
        // After the pause, one attempt again: refused again, reported again (once).
        clock.now += 10_000;
        expect(await cache.getOrSet('k', loader)).toBe('v1');
        expect(await cache.getOrSet('k', loader)).toBe('v1');
        await waitFor(() => errors.length > 1, { timeoutMs: 5_000, what: 'the second refused refresh to be reported' });
        await settle();
        expect(errors).toHaveLength(2);
        expect(loads).toBe(0);
        // Redis takes writes again: the refresh after the pause reloads the lost entry.
        await admin.config('SET', 'maxmemory', '0');
        clock.now += 10_000;
        expect(await cache.getOrSet('k', loader)).toBe('v1');
        await waitFor(async () => (await admin.get(`rampart:cache:${name}:{=k}`)) !== null, {
          timeoutMs: 5_000,
          what: 'the refresh to store the reloaded entry',
        });
        expect(loads).toBe(1);
        expect(await cache.get('k')).toBe('v2');
        expect(errors).toHaveLength(2);
      } finally {
        await admin.config('SET', 'maxmemory', '0');
        await cache.close();
      }
    },
  );

  // Every write refused without any memory limit: these were read as an error of one key, so each
  // due hit of each key cost a read and a lease call and a report, with advice about WRONGTYPE.
  it('pauses on NOREPLICAS (min-replicas-to-write with no replica) as on OOM, with advice for it', async () => {
    const { cache, errors, clock } = await cachedInL1Only('noreplicas-refresh');
    await admin.config('SET', 'min-replicas-to-write', '1');
    try {
      let loads = 0;
      const loader = (): string => {
        loads += 1;
        return 'v2';
      };
      clock.now += 30_000; // due
      expect(await cache.getOrSet('k', loader)).toBe('v1');
      await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the refused refresh to be reported' });
      await settle();
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
      expect(String((errors[0] as Error).message)).toContain('min-replicas-to-write');
      expect(String((errors[0] as Error).message)).not.toMatch(/WRONGTYPE|NOPERM/);
      const before = await calls();
      for (let i = 0; i < 5; i++) {
        clock.now += 1_000;
        expect(await cache.getOrSet('k', loader)).toBe('v1');
      }
      await settle();
      expect(await calls()).toBe(before); // paused: no round trip
      expect(errors).toHaveLength(1);
      expect(loads).toBe(0);
    } finally {
      await admin.config('SET', 'min-replicas-to-write', '0');
      await cache.close();
    }
  });
});

describe('SharedCache early refresh racing a write, and Redis errors that do not pause refreshes', () => {
  let server: TestRedis;
  const clients: Redis[] = [];

  beforeAll(async () => {
    server = await startRedis({ owned: true });
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await server?.stop();
  });

  const client = async (): Promise<Redis> => {
    const c = connect(server);
    clients.push(c);
    await readyOf(c);
    return c;
  };

  /** Lets anything the cache started in the background reach Redis: a few round trips on `via`. */
  const settle = async (via: Redis): Promise<void> => {
    for (let i = 0; i < 8; i++) {
      await via.ping();
      await new Promise((resolve) => setImmediate(resolve));
    }
  };

  it.each([
    ['with the lease', {}],
    ['without the lease', { lease: false as const }],
  ] as const)(
    'skips the loader when another pod set() the key between the refresh’s read and its next step (%s)',
    async (_how, overrides) => {
      const clock = { now: 5_000_000 };
      const name = unique('refresh-race');
      const errors: unknown[] = [];
      const own = await client();
      // Pod A's client runs pod B's set() as soon as the refresh's read of the entry has its reply:
      // the set reaches Redis between that read and the refresh's lease (or generation) script.
      let afterRead: (() => Promise<void>) | undefined;
      const hooked = new Proxy(own, {
        get(t, prop) {
          const value = Reflect.get(t, prop, t) as unknown;
          if (typeof value !== 'function') return value;
          if (prop !== 'getBuffer') return value.bind(t);
          return async (...args: unknown[]) => {
            const reply = (await value.apply(t, args)) as unknown;
            const hook = afterRead;
            if (hook) {
              afterRead = undefined;
              await hook();
            }
            return reply;
          };
        },
      });
      const [subA, subB] = [await client(), await client()];
      const a = cacheOn(name, hooked, clock, errors, { class: 'cluster', subscriber: subA, ...overrides });
      const b = cacheOn(name, await client(), clock, errors, { class: 'cluster', subscriber: subB, ...overrides });
      try {
        await Promise.all([a.ready(), b.ready()]);
        expect(await a.getOrSet('k', slowLoad(clock, 'v1'))).toBe('v1');
        expect(await a.getOrSet('other', slowLoad(clock, 'o1'))).toBe('o1');
        let loads = 0;
        const loader = (): string => {
          loads += 1;
          return 'loaded';
        };
        afterRead = () => b.set('k', 'from-b');
        clock.now += 30_000; // due
        expect(await a.getOrSet('k', loader)).toBe('v1'); // the L1 copy, and a refresh in the background
        await waitFor(() => afterRead === undefined, { timeoutMs: 5_000, what: 'the set() to run after the read' });
        await settle(own);
        expect(errors).toEqual([]); // before the fix: a Lua error on the global FAIL, reported as Redis refusing writes
        expect(loads).toBe(0); // the entry changed since the read: nothing to refresh
        expect(await b.get('k')).toBe('from-b');
        await waitFor(async () => (await a.get('k')) === 'from-b', { timeoutMs: 5_000, what: 'A to drop its copy' });
        const entry = await own.get(`rampart:cache:${name}:{=k}`);
        expect(JSON.parse(entry as string).v).toBe('"from-b"');
        // No pause: the next due key refreshes at once.
        let otherLoads = 0;
        expect(
          await a.getOrSet('other', () => {
            otherLoads += 1;
            return 'o2';
          }),
        ).toBe('o1');
        await waitFor(() => otherLoads === 1, { timeoutMs: 5_000, what: 'the other key to be refreshed' });
        expect(errors).toEqual([]);
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    },
  );

  it('reports a WRONGTYPE of one key once per refresh, without pausing the refresh of the others', async () => {
    const clock = { now: 5_000_000 };
    const name = unique('refresh-wrongtype');
    const errors: unknown[] = [];
    const redis = await client();
    const cache = cacheOn(name, redis, clock, errors, { lease: false });
    try {
      expect(await cache.getOrSet('k', slowLoad(clock, 'v1'))).toBe('v1');
      expect(await cache.getOrSet('other', slowLoad(clock, 'o1'))).toBe('o1');
      // Something else wrote a list where the key's generation lives: its refresh fails in Redis.
      await redis.rpush(`rampart:cache:${name}:g:{=k}`, 'not-a-generation');
      let loads = 0;
      const loader = (): string => {
        loads += 1;
        return 'loaded';
      };
      clock.now += 30_000; // due
      expect(await cache.getOrSet('k', loader)).toBe('v1');
      await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the failed refresh to be reported' });
      await settle(redis);
      expect(loads).toBe(0);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RedisStoreError);
      const message = String((errors[0] as Error).message);
      expect(message).toContain(`SharedCache "${name}".refresh`);
      expect(message).not.toContain('maxmemory'); // not advice for a Redis that refuses writes
      expect(message).not.toContain('primary');
      expect(inspect(errors[0], { depth: 10 })).toContain('WRONGTYPE');
      // Not paused: another due key refreshes at once, and the same key's next refresh is tried
      // (and reported) again.
      let otherLoads = 0;
      expect(
        await cache.getOrSet('other', () => {
          otherLoads += 1;
          return 'o2';
        }),
      ).toBe('o1');
      await waitFor(() => otherLoads === 1, { timeoutMs: 5_000, what: 'the other key to be refreshed' });
      expect(await cache.getOrSet('k', loader)).toBe('v1');
      await waitFor(() => errors.length > 1, { timeoutMs: 5_000, what: 'the second failed refresh to be reported' });
      await settle(redis);
      expect(errors).toHaveLength(2);
      expect(loads).toBe(0);
    } finally {
      await cache.close();
    }
  });
});

describe('ReplayGuard with WAIT', () => {
  let primary: TestRedis;
  let replica: TestRedis;
  let redis: Redis;

  beforeAll(async () => {
    primary = await startRedis({
      owned: true,
      args: ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'],
    });
    replica = await startRedis({ owned: true });
    const replicaClient = new Redis(replica.url);
    await replicaClient.replicaof('127.0.0.1', primary.port);
    replicaClient.disconnect();
    redis = connect(primary);
    await readyOf(redis);
    await waitFor(async () => /slave0:.*state=online/.test(await redis.info('replication')), {
      timeoutMs: 10_000,
      what: 'the replica to attach',
    });
  });
  afterAll(async () => {
    redis?.disconnect();
    await replica?.stop();
    await primary?.stop();
  });

  it('records an id once a replica acknowledged it', async () => {
    const guard = new ReplayGuard({
      redis,
      name: unique('wait'),
      ttlMs: 60_000,
      wait: { replicas: 1, timeoutMs: 2_000 },
      registry: new CacheRegistry(),
      timeoutMs: 500,
    });
    try {
      expect(await guard.check('jti-1')).toBe(true);
      expect(await guard.check('jti-1')).toBe(false);
    } finally {
      guard.close(); // it opened its own connection for WAIT
    }
  });

  it('throws ERR_REDIS_NOT_REPLICATED when fewer replicas acknowledge', async () => {
    const guard = new ReplayGuard({
      redis,
      name: unique('wait-short'),
      ttlMs: 60_000,
      wait: { replicas: 2, timeoutMs: 50 },
      registry: new CacheRegistry(),
      timeoutMs: 500,
    });
    try {
      const error = await guard.check('jti-2').catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED', retryable: false });
      // The id stays recorded: a retry is answered "replay", never "first time".
      expect(await guard.check('jti-2').catch(() => 'still-not-replicated')).not.toBe(true);
    } finally {
      guard.close();
    }
  });
});

describe('stores on a Redis Cluster that goes away', () => {
  it('fail closed (or open, or bypass, as configured) once every node is stopped', async () => {
    const nodes = await startRedisCluster();
    const redis = new Cluster([...nodes.startupNodes], {
      enableOfflineQueue: false,
      clusterRetryStrategy: () => 100,
    });
    redis.on('error', () => {}); // the cluster is stopped on purpose
    await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'the cluster client' });
    const registry = new CacheRegistry();
    const guard = new ReplayGuard({ redis, name: 'c-guard', ttlMs: 60_000, registry, timeoutMs: 1_000 });
    const open = new ReplayGuard({
      redis,
      name: 'c-open',
      ttlMs: 60_000,
      registry,
      timeoutMs: 1_000,
      onRedisDown: 'fail-open',
    });
    const once = new SingleUseStore({ redis, name: 'c-once', ttlMs: 60_000, registry, timeoutMs: 1_000 });
    const pod = new SharedCache<string>({
      name: 'c-pod',
      class: 'pod',
      reason: 'per-pod token cache',
      ttlMs: 60_000,
      redis,
      registry,
      timeoutMs: 1_000,
    });
    await once.put('item', 1);
    expect(await guard.check('before')).toBe(true);

    await nodes.stop();
    await waitFor(
      async () =>
        (await guard.check('after').then(
          () => undefined,
          (e: unknown) => e,
        )) instanceof RedisStoreError,
      { timeoutMs: 10_000, what: 'the guard to see the cluster gone' },
    );
    await expect(guard.check('after')).rejects.toMatchObject({ retryable: true });
    expect(await open.check('after')).toBe(true);
    await expect(once.consume('item')).rejects.toMatchObject({ retryable: true });
    expect(await pod.getOrSet('k', () => 'from-origin')).toBe('from-origin');
    redis.disconnect();
    await pod.close();
  });
});
