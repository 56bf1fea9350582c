import { waitFor } from '@rampart/testkit';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheRegistry,
  type RedisClient,
  RedisStoreError,
  ReplayGuard,
  SharedCache,
  type SharedCacheOptions,
  SingleUseStore,
} from '../src/index.ts';
import { createOidcProviderAdapter } from '../src/oidc-provider-adapter.ts';
import { cluster, keysMatching, ready, singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${++counter}`;

// One set of behaviours every store passes, on a single node and on the 3-master cluster.
describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('store conformance on a %s', (_name, start) => {
  let target: Target;
  let redis: RedisClient;
  let other: RedisClient;
  const extra: RedisClient[] = [];
  const registry = new CacheRegistry();

  beforeAll(async () => {
    target = await start();
    redis = await target.connect();
    other = await target.connect();
  });
  afterAll(async () => {
    for (const c of [redis, other, ...extra]) c?.disconnect();
    await target?.stop();
  });

  const connect = async (): Promise<RedisClient> => {
    const c = await target.connect();
    extra.push(c);
    return c;
  };

  /** A SharedCache subscriber: on the cluster, a `Redis` connection to one node, as the README says. */
  const subscriberOf = async (): Promise<Redis> => {
    const c = await target.subscriber();
    extra.push(c);
    return c;
  };

  describe('ReplayGuard', () => {
    it('says first time once and replay afterwards, across pods', async () => {
      const name = unique('jti');
      const podA = new ReplayGuard({ redis, name, ttlMs: 60_000, registry, timeoutMs: 2_000 });
      const podB = new ReplayGuard({
        redis: other,
        name,
        ttlMs: 60_000,
        registry: new CacheRegistry(),
        timeoutMs: 2_000,
      });
      expect(await podA.check('nonce-1')).toBe(true);
      expect(await podB.check('nonce-1')).toBe(false);
      expect(await podA.check('nonce-1')).toBe(false);
      expect(await podB.check('nonce-2')).toBe(true);
      podA.close();
    });

    it('gives exactly one first-time answer to many concurrent checks of one id', async () => {
      const guard = new ReplayGuard({ redis, name: unique('race'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      const answers = await Promise.all(Array.from({ length: 50 }, () => guard.check('same')));
      expect(answers.filter(Boolean)).toHaveLength(1);
      guard.close();
    });

    it('rejects a bad id or TTL with a typed error, as a rejected promise (never a synchronous throw)', async () => {
      const guard = new ReplayGuard({ redis, name: unique('bad'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      const empty = guard.check('');
      const tooLong = guard.check('x'.repeat(10_000));
      const badTtl = guard.check('ok', 0);
      for (const call of [empty, tooLong, badTtl]) {
        await expect(call).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      }
      expect(await guard.check('ok')).toBe(true);
      guard.close();
    });

    it('forgets an id after its TTL', async () => {
      const guard = new ReplayGuard({ redis, name: unique('ttl'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      expect(await guard.check('short', 50)).toBe(true);
      await waitFor(async () => guard.check('short', 50), { timeoutMs: 5_000, what: 'the id to expire' });
      guard.close();
    });

    it('throws ERR_REDIS_REPLAY_DETECTED from checkOrThrow without echoing the id', async () => {
      const guard = new ReplayGuard({ redis, name: unique('throw'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      await guard.checkOrThrow('webhook-delivery-7f3a');
      const error = await guard.checkOrThrow('webhook-delivery-7f3a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect((error as RedisStoreError).code).toBe('ERR_REDIS_REPLAY_DETECTED');
      expect((error as Error).message).not.toContain('7f3a');
      guard.close();
    });

    it('answers "first time" exactly once per distinct id, for any batch of concurrent checks (property)', async () => {
      let run = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom('a', 'b', 'c', 'd', 'e'), { minLength: 1, maxLength: 40 }),
          async (ids) => {
            const name = unique(`prop-${run++}`);
            const pods = [redis, other].map(
              (client) =>
                new ReplayGuard({
                  redis: client,
                  name,
                  ttlMs: 60_000,
                  registry: new CacheRegistry(),
                  timeoutMs: 2_000,
                }),
            );
            const answers = await Promise.all(ids.map((id, i) => pods[i % 2]!.check(id)));
            const firsts = ids.filter((_, i) => answers[i]);
            expect(firsts.sort()).toEqual([...new Set(ids)].sort());
          },
        ),
        { numRuns: 25 },
      );
    });

    it('forget lets an id through again', async () => {
      const guard = new ReplayGuard({ redis, name: unique('forget'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      expect(await guard.check('x')).toBe(true);
      await guard.forget('x');
      expect(await guard.check('x')).toBe(true);
      guard.close();
    });
  });

  describe('SingleUseStore', () => {
    it('hands an item to exactly one consumer, on any pod', async () => {
      const name = unique('par');
      const podA = new SingleUseStore<{ scope: string }>({ redis, name, ttlMs: 60_000, registry, timeoutMs: 2_000 });
      const podB = new SingleUseStore<{ scope: string }>({
        redis: other,
        name,
        ttlMs: 60_000,
        registry: new CacheRegistry(),
        timeoutMs: 2_000,
      });
      await podA.put('urn:ietf:params:oauth:request_uri:abc', { scope: 'openid' });
      expect(await podB.consume('urn:ietf:params:oauth:request_uri:abc')).toEqual({
        value: { scope: 'openid' },
        reread: false,
      });
      expect(await podA.consume('urn:ietf:params:oauth:request_uri:abc')).toBeUndefined();
      podA.close();
    });

    it('gives one of many concurrent consumers the item', async () => {
      const store = new SingleUseStore<number>({
        redis,
        name: unique('race'),
        ttlMs: 60_000,
        registry,
        timeoutMs: 2_000,
      });
      await store.put('code', 42);
      const results = await Promise.all(Array.from({ length: 50 }, () => store.consume('code')));
      expect(results.filter((r) => r !== undefined)).toEqual([{ value: 42, reread: false }]);
      store.close();
    });

    it('stores concurrent puts once each, refusing a duplicate among them, and hands each item out once', async () => {
      const store = new SingleUseStore<string>({
        redis,
        name: unique('batch'),
        ttlMs: 60_000,
        registry,
        timeoutMs: 2_000,
      });
      const ids = ['a', 'b', 'a', 'c', 'd', 'e', 'f', 'g'];
      const puts = await Promise.allSettled(ids.map((id, i) => store.put(id, `${id}${i}`)));
      const refused = puts.filter((p) => p.status === 'rejected');
      expect(refused).toHaveLength(1);
      expect(((refused[0] as PromiseRejectedResult).reason as RedisStoreError).code).toBe('ERR_REDIS_DUPLICATE_ID');
      const taken = await Promise.all([...ids, ...ids].map((id) => store.consume(id)));
      const values = taken.flatMap((t) => (t === undefined ? [] : [t.value]));
      expect(values.sort()).toEqual(['a0', 'b1', 'c3', 'd4', 'e5', 'f6', 'g7']);
      store.close();
    });

    it('behaves like a put-once, take-once map for any sequence of operations from two pods (property)', async () => {
      let run = 0;
      const op = fc.record({
        kind: fc.constantFrom('put', 'consume'),
        id: fc.constantFrom('x', 'y', 'z'),
        pod: fc.constantFrom(0, 1),
        value: fc.integer(),
      });
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
          const name = unique(`prop-${run++}`);
          const pods = [redis, other].map(
            (client) =>
              new SingleUseStore<number>({
                redis: client,
                name,
                ttlMs: 60_000,
                registry: new CacheRegistry(),
                timeoutMs: 2_000,
              }),
          );
          const model = new Map<string, number>();
          for (const { kind, id, pod, value } of ops) {
            const store = pods[pod]!;
            if (kind === 'put') {
              const outcome = await store.put(id, value).then(
                () => 'stored',
                (e: RedisStoreError) => e.code,
              );
              expect(outcome).toBe(model.has(id) ? 'ERR_REDIS_DUPLICATE_ID' : 'stored');
              if (!model.has(id)) model.set(id, value);
            } else {
              const got = await store.consume(id);
              expect(got?.value).toBe(model.get(id));
              model.delete(id);
            }
          }
        }),
        { numRuns: 25 },
      );
    });

    it('refuses to overwrite an id that is stored', async () => {
      const store = new SingleUseStore({ redis, name: unique('dup'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      await store.put('magic-link-secret-9q', 'a');
      const error = await store.put('magic-link-secret-9q', 'b').catch((e: unknown) => e);
      expect((error as RedisStoreError).code).toBe('ERR_REDIS_DUPLICATE_ID');
      expect((error as Error).message).not.toContain('9q');
      expect((await store.consume('magic-link-secret-9q'))?.value).toBe('a');
      store.close();
    });

    it('never stores the id itself as a Redis key', async () => {
      const name = unique('hashed');
      const store = new SingleUseStore({ redis, name, ttlMs: 60_000, registry, timeoutMs: 2_000 });
      await store.put('bearer-secret-value', 1);
      const keys = await keysMatching(redis, `rampart:once:${name}:*`);
      expect(keys).toHaveLength(1);
      expect(keys[0]).not.toContain('bearer-secret-value');
      store.close();
    });

    it('expires an unconsumed item after its TTL', async () => {
      const store = new SingleUseStore({ redis, name: unique('ttl'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      await store.put('soon', 1, { ttlMs: 50 });
      await waitFor(async () => (await store.consume('soon')) === undefined, { timeoutMs: 5_000, what: 'expiry' });
      store.close();
    });

    it('lets the same client re-read within the grace window, and nobody else', async () => {
      const store = new SingleUseStore<string>({
        redis,
        name: unique('grace'),
        ttlMs: 60_000,
        grace: { windowMs: 60_000 },
        registry,
        timeoutMs: 2_000,
      });
      await store.put('uri', 'request', { clientId: 'client-a' });
      expect(await store.consume('uri', { clientId: 'client-a' })).toEqual({ value: 'request', reread: false });
      expect(await store.consume('uri', { clientId: 'client-a' })).toEqual({ value: 'request', reread: true });
      expect(await store.consume('uri', { clientId: 'client-b' })).toBeUndefined();
      expect(await store.consume('uri')).toBeUndefined();
      store.close();
    });

    it('leaves no grace copy when another client consumed the item: the attempt used it up', async () => {
      const name = unique('grace-wrong');
      const store = new SingleUseStore<string>({
        redis,
        name,
        ttlMs: 60_000,
        grace: { windowMs: 5_000 },
        registry,
        timeoutMs: 2_000,
      });
      await store.put('uri', 'request', { clientId: 'alice' });
      expect(await store.consume('uri', { clientId: 'mallory' })).toBeUndefined();
      expect(await store.consume('uri', { clientId: 'alice' })).toBeUndefined();
      expect(await store.consume('uri')).toBeUndefined();
      expect(await keysMatching(redis, `rampart:once:${name}:*`)).toEqual([]);
      store.close();
    });

    it('ends the grace window after windowMs', async () => {
      const store = new SingleUseStore<string>({
        redis,
        name: unique('grace-end'),
        ttlMs: 60_000,
        grace: { windowMs: 50 },
        registry,
        timeoutMs: 2_000,
      });
      await store.put('uri', 'request', { clientId: 'c' });
      expect((await store.consume('uri', { clientId: 'c' }))?.reread).toBe(false);
      await waitFor(async () => (await store.consume('uri', { clientId: 'c' })) === undefined, {
        timeoutMs: 5_000,
        what: 'the grace copy to expire',
      });
      store.close();
    });

    it('never lets the grace copy outlive the item it was consumed from', async () => {
      const name = unique('grace-ttl');
      const store = new SingleUseStore<string>({
        redis,
        name,
        ttlMs: 60_000,
        grace: { windowMs: 600_000 },
        registry,
        timeoutMs: 2_000,
      });
      await store.put('short', 'request', { ttlMs: 1_000, clientId: 'c' });
      expect((await store.consume('short', { clientId: 'c' }))?.reread).toBe(false);
      const [graceKey, ...others] = await keysMatching(redis, `rampart:once:${name}:*`);
      expect(others).toHaveLength(0);
      expect(graceKey).toMatch(/:grace$/);
      const left = await redis.pttl(graceKey as string);
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(1_000);
      // An item with more time left than the window keeps the window.
      await store.put('long', 'request', { ttlMs: 3_600_000, clientId: 'c' });
      await store.consume('long', { clientId: 'c' });
      const long = (await keysMatching(redis, `rampart:once:${name}:*`)).find((k) => k !== graceKey);
      expect(await redis.pttl(long as string)).toBeGreaterThan(590_000);
      expect(await redis.pttl(long as string)).toBeLessThanOrEqual(600_000);
      store.close();
    });

    it('requires a clientId on put when grace is enabled', async () => {
      const store = new SingleUseStore({
        redis,
        name: unique('grace-req'),
        ttlMs: 60_000,
        grace: { windowMs: 1_000 },
        registry,
      });
      await expect(store.put('x', 1)).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      store.close();
    });

    it('does not hand a client-bound item to another client', async () => {
      const store = new SingleUseStore({ redis, name: unique('bound'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      await store.put('code', 1, { clientId: 'client-a' });
      expect(await store.consume('code', { clientId: 'client-b' })).toBeUndefined();
      // The attempt used the item up: a code presented by the wrong client is burnt.
      expect(await store.consume('code', { clientId: 'client-a' })).toBeUndefined();
      store.close();
    });
  });

  describe('SharedCache', () => {
    const pods = async (
      overrides: Partial<SharedCacheOptions<unknown>> = {},
      { subscribe = true } = {},
    ): Promise<[SharedCache<unknown>, SharedCache<unknown>]> => {
      const name = unique('cache');
      const make = async (client: RedisClient): Promise<SharedCache<unknown>> => {
        const cache = new SharedCache<unknown>({
          name,
          class: 'cluster',
          reason: 'conformance test',
          ttlMs: 60_000,
          redis: client,
          ...(subscribe ? { subscriber: await subscriberOf() } : {}),
          timeoutMs: 2_000,
          registry: new CacheRegistry(),
          ...overrides,
        });
        await cache.ready();
        return cache;
      };
      return [await make(redis), await make(other)];
    };

    it('shares a value between pods and serves repeat reads from L1', async () => {
      const [a, b] = await pods();
      await a.set('k', { n: 1 });
      expect(await b.get('k')).toEqual({ n: 1 });
      expect(b.size).toBe(1);
      expect(await b.get('missing')).toBeUndefined();
      await Promise.all([a.close(), b.close()]);
    });

    it('drops other pods’ L1 copies when a value is set or deleted', async () => {
      const [a, b] = await pods();
      await a.set('k', 'v1');
      expect(await b.get('k')).toBe('v1');
      await a.set('k', 'v2');
      await waitFor(async () => (await b.get('k')) === 'v2', { timeoutMs: 5_000, what: 'pod B to see v2' });
      await a.delete('k');
      await waitFor(async () => (await b.get('k')) === undefined, { timeoutMs: 5_000, what: 'pod B to drop k' });
      await Promise.all([a.close(), b.close()]);
    });

    it('runs the loader once for concurrent misses in one pod', async () => {
      const [a, b] = await pods();
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls += 1;
        await new Promise((r) => setTimeout(r, 20));
        return 'computed';
      };
      const values = await Promise.all(Array.from({ length: 20 }, () => a.getOrSet('k', loader)));
      expect(new Set(values)).toEqual(new Set(['computed']));
      expect(calls).toBe(1);
      await Promise.all([a.close(), b.close()]);
    });

    it('runs the loader once across pods through the Redis lease', async () => {
      const name = unique('stampede');
      const caches = await Promise.all(
        Array.from({ length: 4 }, async () => {
          const cache = new SharedCache<string>({
            name,
            class: 'cluster',
            reason: 'stampede test',
            ttlMs: 60_000,
            redis: await connect(),
            timeoutMs: 2_000,
            lease: { ttlMs: 10_000, waitMs: 10_000 },
            registry: new CacheRegistry(),
          });
          return cache;
        }),
      );
      let calls = 0;
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const loader = async (): Promise<string> => {
        calls += 1;
        await gate;
        return 'expensive';
      };
      const all = Promise.all(caches.map((c) => c.getOrSet('hot', loader)));
      await waitFor(() => calls === 1, { timeoutMs: 5_000, what: 'one pod to start the load' });
      release();
      expect(await all).toEqual(['expensive', 'expensive', 'expensive', 'expensive']);
      expect(calls).toBe(1);
      await Promise.all(caches.map((c) => c.close()));
    });

    it('invalidates by tag in Redis and in every pod’s L1', async () => {
      const [a, b] = await pods();
      await a.set('user:1', 'alice', { tags: ['tenant-a'] });
      await a.set('user:2', 'bob', { tags: ['tenant-b'] });
      expect(await b.get('user:1')).toBe('alice');
      await a.invalidateTags(['tenant-a']);
      await waitFor(async () => (await b.get('user:1')) === undefined, { timeoutMs: 5_000, what: 'tag invalidation' });
      expect(await a.get('user:1')).toBeUndefined();
      expect(await b.get('user:2')).toBe('bob');
      await Promise.all([a.close(), b.close()]);
    });

    it('does not cache a value computed while its tag was invalidated', async () => {
      const [a, b] = await pods({ l1: false }, { subscribe: false });
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const load = a.getOrSet(
        'k',
        async () => {
          await gate;
          return 'old';
        },
        { tags: ['t'] },
      );
      await waitFor(async () => (await keysMatching(redis, `rampart:cache:*:t:t`)).length > 0, {
        timeoutMs: 5_000,
        what: 'the tag version to be read',
      });
      await b.invalidateTags(['t']);
      release();
      expect(await load).toBe('old');
      expect(await b.get('k')).toBeUndefined();
      await Promise.all([a.close(), b.close()]);
    });

    it('clears every entry on every node and in every pod’s L1', async () => {
      const [a, b] = await pods();
      for (let i = 0; i < 50; i++) await a.set(`key-${i}`, i);
      expect(await b.get('key-7')).toBe(7);
      await a.clear();
      await waitFor(() => b.size === 0, { timeoutMs: 5_000, what: 'pod B to drop its L1' });
      for (let i = 0; i < 50; i += 7) expect(await b.get(`key-${i}`)).toBeUndefined();
      await Promise.all([a.close(), b.close()]);
    });

    it('refreshes early in the background when XFetch says so, serving the current value meanwhile', async () => {
      let now = 1_000_000;
      const clock = { now: () => now, random: () => 0.999999 };
      const [a, b] = await pods({ clock, ttlMs: 10_000 });
      let version = 0;
      const loader = async (): Promise<number> => {
        version += 1;
        now += 100; // computing takes 100 ms on the injected clock: δ = 100
        return version;
      };
      expect(await a.getOrSet('k', loader)).toBe(1);
      // Far from expiry: no refresh, even with the most eager random draw.
      now += 5_000;
      expect(await a.getOrSet('k', loader)).toBe(1);
      expect(version).toBe(1);
      // δ·β·(-ln(1-0.999999)) ≈ 1381 ms before expiry: an early refresh starts.
      now += 4_000;
      expect(await a.getOrSet('k', loader)).toBe(1);
      await waitFor(async () => (await b.get('k')) === 2, { timeoutMs: 5_000, what: 'the early refresh' });
      await Promise.all([a.close(), b.close()]);
    });

    it('serves the stale value when the loader fails within staleIfErrorMs, and throws after', async () => {
      let now = 5_000_000;
      const clock = { now: () => now, random: () => 0 };
      const [a, b] = await pods({ clock, ttlMs: 1_000, staleIfErrorMs: 10_000, earlyRefresh: false });
      expect(await a.getOrSet('k', () => 'good')).toBe('good');
      now += 2_000;
      const failing = (): never => {
        throw new Error('origin down');
      };
      expect(await a.getOrSet('k', failing)).toBe('good');
      expect(await b.getOrSet('k', failing)).toBe('good');
      now += 20_000;
      await expect(b.getOrSet('k', failing)).rejects.toThrow('origin down');
      await Promise.all([a.close(), b.close()]);
    });

    it('lets many caches share one subscriber connection with one listener', async () => {
      const [subA, subB] = [await subscriberOf(), await subscriberOf()];
      const make = (client: RedisClient, subscriber: Redis, name: string): SharedCache<number> =>
        new SharedCache<number>({
          name,
          class: 'cluster',
          reason: 'shared subscriber test',
          ttlMs: 60_000,
          redis: client,
          subscriber,
          timeoutMs: 2_000,
          registry: new CacheRegistry(),
        });
      const names = Array.from({ length: 12 }, () => unique('shared-sub'));
      const podA = names.map((n) => make(redis, subA, n));
      const podB = names.map((n) => make(other, subB, n));
      await Promise.all([...podA, ...podB].map((c) => c.ready()));
      expect(subA.listenerCount('message')).toBe(1);
      for (const c of podA) await c.set('k', 1);
      for (const c of podB) expect(await c.get('k')).toBe(1);
      await podA[7]!.set('k', 2);
      await waitFor(async () => (await podB[7]!.get('k')) === 2, { timeoutMs: 5_000, what: 'the invalidation' });
      expect(await podB[6]!.get('k')).toBe(1);
      await Promise.all([...podA, ...podB].map((c) => c.close()));
      expect(subA.listenerCount('message')).toBe(0);
    });

    it('keeps the L1 within its size cap', async () => {
      const [a, b] = await pods({ l1: { maxEntries: 10 } });
      for (let i = 0; i < 100; i++) await a.set(`k${i}`, i);
      expect(a.size).toBe(10);
      expect(a.audit()).toMatchObject({ size: 10, maxSize: 10, backing: 'l1+redis', class: 'cluster' });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('oidc-provider adapter', () => {
    const adapters = (): [
      InstanceType<ReturnType<typeof createOidcProviderAdapter>>,
      InstanceType<ReturnType<typeof createOidcProviderAdapter>>,
    ] => {
      const prefix = unique('oidc');
      const A = createOidcProviderAdapter({ redis, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      const B = createOidcProviderAdapter({ redis: other, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      return [new A('AuthorizationCode'), new B('AuthorizationCode')];
    };

    it('stores, finds and destroys an entry with its TTL', async () => {
      const [a, b] = adapters();
      await a.upsert('code-1', { grantId: 'g1', clientId: 'c' }, 60);
      expect(await b.find('code-1')).toEqual({ grantId: 'g1', clientId: 'c' });
      await a.destroy('code-1');
      expect(await b.find('code-1')).toBeUndefined();
    });

    it('consumes atomically: a second consume fails, and find reports consumed', async () => {
      const [a, b] = adapters();
      await a.upsert('code-2', { grantId: 'g2' }, 60);
      await a.consume('code-2');
      await expect(b.consume('code-2')).rejects.toMatchObject({ message: 'invalid_grant' });
      expect((await b.find('code-2'))?.consumed).toEqual(expect.any(Number));
    });

    it('lets one of many concurrent consumers win', async () => {
      const [a, b] = adapters();
      await a.upsert('code-3', { grantId: 'g3' }, 60);
      const results = await Promise.allSettled(
        Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).consume('code-3')),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    });

    it('revokes every token of a grant, across models and slots', async () => {
      const prefix = unique('oidc');
      const Adapter = createOidcProviderAdapter({ redis, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      const codes = new Adapter('AuthorizationCode');
      const tokens = new Adapter('AccessToken');
      const refresh = new Adapter('RefreshToken');
      for (let i = 0; i < 10; i++) await tokens.upsert(`at-${i}`, { grantId: 'grant-x' }, 3600);
      await codes.upsert('code', { grantId: 'grant-x' }, 60);
      await refresh.upsert('rt', { grantId: 'grant-x' }, 86_400);
      await tokens.upsert('unrelated', { grantId: 'grant-y' }, 3600);
      await tokens.revokeByGrantId('grant-x');
      for (let i = 0; i < 10; i++) expect(await tokens.find(`at-${i}`)).toBeUndefined();
      expect(await codes.find('code')).toBeUndefined();
      expect(await refresh.find('rt')).toBeUndefined();
      expect(await tokens.find('unrelated')).toBeDefined();
    });

    it('keeps the grant index as long as its longest-lived token', async () => {
      const prefix = unique('oidc');
      const Adapter = createOidcProviderAdapter({ redis, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      await new Adapter('AccessToken').upsert('at', { grantId: 'g' }, 3600);
      await new Adapter('AuthorizationCode').upsert('code', { grantId: 'g' }, 60);
      await new Adapter('RefreshToken').upsert('rt', { grantId: 'g' }, 86_400);
      const ttl = await (redis as { pttl(k: string): Promise<number> }).pttl(`${prefix}:grant:{g}`);
      expect(ttl).toBeGreaterThan(86_000_000);
      const codeTtl = await (redis as { pttl(k: string): Promise<number> }).pttl(`${prefix}:AuthorizationCode:{code}`);
      expect(codeTtl).toBeGreaterThan(55_000);
      expect(codeTtl).toBeLessThanOrEqual(60_000);
    });

    it('reserves a ReplayDetection id on first lookup, so concurrent lookups see it once', async () => {
      const prefix = unique('oidc');
      const A = createOidcProviderAdapter({ redis, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      const B = createOidcProviderAdapter({ redis: other, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      const pods = [new A('ReplayDetection'), new B('ReplayDetection')];
      const found = await Promise.all(Array.from({ length: 20 }, (_, i) => pods[i % 2]!.find('jti-hash')));
      expect(found.filter((f) => f === undefined)).toHaveLength(1);
      await pods[0]!.upsert('jti-hash', { jti: 'jti-hash', iss: 'client', kind: 'ReplayDetection' }, 60);
      expect(await pods[1]!.find('jti-hash')).toMatchObject({ iss: 'client' });
    });

    it('finds a session by uid and a device code by user code', async () => {
      const prefix = unique('oidc');
      const Adapter = createOidcProviderAdapter({ redis, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      const sessions = new Adapter('Session');
      await sessions.upsert('sess-1', { uid: 'uid-1', accountId: 'a' }, 600);
      expect(await sessions.findByUid('uid-1')).toEqual({ uid: 'uid-1', accountId: 'a' });
      const devices = new Adapter('DeviceCode');
      await devices.upsert('dc-1', { userCode: 'ABCD-EFGH', grantId: 'g' }, 600);
      expect(await devices.findByUserCode('ABCD-EFGH')).toEqual({ userCode: 'ABCD-EFGH', grantId: 'g' });
      expect(await devices.findByUserCode('NOPE')).toBeUndefined();
      expect(await sessions.findByUid('nope')).toBeUndefined();
    });
  });
});

describe('stores on a client with autopipelining and a key prefix', () => {
  let target: Target;
  let piped: Redis;
  let admin: RedisClient;
  const registry = new CacheRegistry();

  beforeAll(async () => {
    target = await singleNode();
    admin = await target.connect();
    const url = target.spec.kind === 'single' ? target.spec.url : '';
    piped = (await ready(
      new Redis(url, { enableOfflineQueue: false, enableAutoPipelining: true, keyPrefix: 'app:' }),
    )) as Redis;
  });
  afterAll(async () => {
    piped?.disconnect();
    admin?.disconnect();
    await target?.stop();
  });

  it('sends a lone call at once, past the auto-pipeline, and keeps the client key prefix', async () => {
    const name = unique('piped');
    const guard = new ReplayGuard({ redis: piped, name, ttlMs: 60_000, registry, timeoutMs: 2_000 });
    const once = new SingleUseStore<string>({ redis: piped, name, ttlMs: 60_000, registry, timeoutMs: 2_000 });
    const checked = guard.check('nonce-1');
    // An auto-pipelined command would wait in the queue until the end of this loop iteration.
    expect(piped.autoPipelineQueueSize).toBe(0);
    expect(await checked).toBe(true);
    const put = once.put('code-1', 'v');
    expect(piped.autoPipelineQueueSize).toBe(0);
    await put;
    expect(await admin.exists(`app:rampart:replay:${name}:nonce-1`)).toBe(1);
    expect((await admin.keys(`app:rampart:once:${name}:*`)).length).toBe(1);
    expect(await once.consume('code-1')).toEqual({ value: 'v', reread: false });
    expect(await once.consume('code-1')).toBeUndefined();
    expect(await guard.check('nonce-1')).toBe(false);
  });

  it('still answers each of many concurrent calls right (coalesced batches and lone calls)', async () => {
    const name = unique('piped-many');
    const guard = new ReplayGuard({ redis: piped, name, ttlMs: 60_000, registry, timeoutMs: 2_000 });
    const ids = Array.from({ length: 50 }, (_, i) => `n${i % 25}`);
    const first = await Promise.all(ids.map((id) => guard.check(id)));
    expect(first.filter(Boolean)).toHaveLength(25);
  });

  it.each([true, false])(
    'runs SharedCache loads and reads through the auto-pipeline (lease: %s), keeping the key prefix',
    async (lease) => {
      const name = unique(`piped-cache-${lease}`);
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'autopipelining test',
        ttlMs: 60_000,
        redis: piped,
        l1: false,
        timeoutMs: 2_000,
        registry,
        onError: (error) => errors.push(error),
        ...(lease ? {} : { lease: false }),
      });
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls += 1;
        return 'loaded';
      };
      for (let i = 0; i < 3; i++) expect(await cache.getOrSet('k', loader)).toBe('loaded');
      expect(calls).toBe(1);
      expect(errors).toEqual([]);
      expect((await admin.keys(`app:*${name}*`)).length).toBeGreaterThan(0);
      await cache.close();
    },
  );

  it('sends every command at once, also with coalescing off (so none overtakes another)', async () => {
    const guard = new ReplayGuard({
      redis: piped,
      name: unique('piped-off'),
      ttlMs: 60_000,
      registry,
      timeoutMs: 2_000,
      coalesce: false,
    });
    const checked = guard.check('nonce-1');
    expect(piped.autoPipelineQueueSize).toBe(0);
    expect(await checked).toBe(true);
    const forgotten = guard.forget('nonce-1');
    const again = guard.check('nonce-1'); // must not overtake the forget
    expect(piped.autoPipelineQueueSize).toBe(0);
    await forgotten;
    expect(await again).toBe(true);
  });
});
