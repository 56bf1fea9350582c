import { getFreePort, waitFor } from '@rampart/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CacheRegistry,
  loadScripts,
  type RedisClient,
  RedisStoreError,
  SharedCache,
  type SharedCacheOptions,
} from '../src/index.ts';
import {
  GENERATION_READ,
  LEASE_ACQUIRE,
  READ_OR_GENERATION,
  READ_OR_LEASE,
  TAG_BUMP,
  TAG_READ,
} from '../src/shared-cache/cache-scripts.ts';
import { cluster, keysMatching, ready, singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${++counter}`;

/** The two ways a pod computes a miss: under the cross-pod lease, or without one. */
const LEASE_MODES = [
  ['with the lease', {}],
  ['without the lease', { lease: false as const }],
] as const;

/** A promise with its resolve, to hold a loader until the test has done what it interleaves. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

/** A loader that reports when it starts and returns `value` once released. */
function gatedLoader<V>(value: V): { loader: () => Promise<V>; started: Promise<void>; release: () => void } {
  const started = deferred();
  const gate = deferred();
  return {
    loader: async () => {
      started.resolve();
      await gate.promise;
      return value;
    },
    started: started.promise,
    release: gate.resolve,
  };
}

/**
 * `client` counting the tag commands a cache sends (TAG_READ and TAG_BUMP scripts, GETs of tag
 * keys): `most()` is the most of them that were in flight at once. A call's commands all go out
 * before any is answered, so that is the most one Redis call carried. `evals()`: how many of them
 * were EVALs (the whole script, after a NOSCRIPT reply to its EVALSHA).
 */
function tagCommandCounter(client: RedisClient): {
  client: RedisClient;
  most: () => number;
  sent: () => number;
  evals: () => number;
} {
  const scripts = new Set([TAG_READ, TAG_BUMP].flatMap((s) => [s.sha1, s.lua]));
  let inFlight = 0;
  let most = 0;
  let sent = 0;
  let evals = 0;
  const isTagCommand = (prop: string, args: unknown[]): boolean =>
    prop === 'get'
      ? typeof args[0] === 'string' && /:t:/.test(args[0])
      : args.slice(0, 2).some((a) => typeof a === 'string' && scripts.has(a));
  const counted = new Proxy(client, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function') return value;
      if (!['get', 'evalsha', 'eval', 'call', 'evalshaBuffer', 'evalBuffer'].includes(String(prop)))
        return value.bind(t);
      return async (...args: unknown[]) => {
        if (!isTagCommand(String(prop), args)) return (await value.apply(t, args)) as unknown;
        sent += 1;
        if (prop === 'eval' || prop === 'evalBuffer') evals += 1;
        inFlight += 1;
        most = Math.max(most, inFlight);
        try {
          return (await value.apply(t, args)) as unknown;
        } finally {
          inFlight -= 1;
        }
      };
    },
  });
  return { client: counted, most: () => most, sent: () => sent, evals: () => evals };
}

/**
 * `client` as a Redis that takes `unitMs` per command of a call: the commands sent in one turn of
 * the event loop (one call's, sent together) are answered no sooner than `unitMs` times their
 * number after the turn ends. Error replies (a NOSCRIPT before the EVAL that follows) come at once.
 */
function slowPerCommand(client: RedisClient, unitMs: number): RedisClient {
  const commands = ['get', 'getBuffer', 'set', 'evalsha', 'eval', 'evalshaBuffer', 'evalBuffer', 'call', 'publish'];
  let turn: { size: number; answered: Promise<void> } | undefined;
  return new Proxy(client, {
    get(t, prop) {
      const value = Reflect.get(t, prop, t) as unknown;
      if (typeof value !== 'function') return value;
      if (!commands.includes(String(prop))) return value.bind(t);
      return async (...args: unknown[]) => {
        if (!turn) {
          let resolve!: () => void;
          const made = { size: 0, answered: new Promise<void>((r) => (resolve = r)) };
          turn = made;
          setImmediate(() => {
            turn = undefined;
            setTimeout(resolve, made.size * unitMs);
          });
        }
        const mine = turn;
        mine.size += 1;
        const reply = (await value.apply(t, args)) as unknown;
        await mine.answered;
        return reply;
      };
    },
  });
}

// Races between loads, invalidations and the subscriber, on a single node and on the 3-master cluster.
describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('SharedCache on a %s', (_name, start) => {
  let target: Target;
  const clients: RedisClient[] = [];

  beforeAll(async () => {
    target = await start();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await target?.stop();
  });

  const connect = async (): Promise<RedisClient> => {
    const c = await target.connect();
    clients.push(c);
    return c;
  };

  /** A subscriber as the README builds it: on the cluster, a `Redis` connection to one node. */
  const subscriberOf = async (options: { retryStrategy?: (times: number) => number } = {}): Promise<Redis> => {
    const c = await target.subscriber(options);
    clients.push(c);
    return c;
  };

  /** A client logged in as a new ACL user with `rules` (set on every node). */
  const aclUser = async (what: string, rules: readonly string[]): Promise<RedisClient> => {
    const spec = target.spec;
    const username = unique(what);
    const nodes =
      spec.kind === 'single' ? [new Redis(spec.url)] : spec.nodes.map((n) => new Redis({ host: n.host, port: n.port }));
    for (const node of nodes) {
      await node.call('ACL', 'SETUSER', username, 'on', 'nopass', ...rules);
      node.disconnect();
    }
    const client: RedisClient =
      spec.kind === 'single'
        ? new Redis(spec.url, { enableOfflineQueue: false, username })
        : new Cluster([...spec.nodes], { enableOfflineQueue: false, redisOptions: { username } });
    clients.push(client);
    return ready(client);
  };

  /**
   * A client of a user that may use every key and command but no pub/sub channel: Redis refuses
   * its PUBLISH, whether sent alone or from a script.
   */
  const withoutChannels = (): Promise<RedisClient> => aclUser('no-channels', ['~*', 'resetchannels', '+@all']);

  /** A client that may use every key of the caches `names` but their tag keys (`<prefix>:<name>:t:<tag>`). */
  const refusingTags = (...names: readonly string[]): Promise<RedisClient> =>
    aclUser('no-tags', [...names.map((name) => `~rampart:cache:${name}:[^t]*`), 'allchannels', '+@all']);

  /** A client built like a user would, with extra ioredis options. */
  const build = (options: Record<string, unknown>): RedisClient => {
    const spec = target.spec;
    const client: RedisClient =
      spec.kind === 'single'
        ? new Redis(spec.url, { enableOfflineQueue: false, ...options })
        : new Cluster([...spec.nodes], { enableOfflineQueue: false, ...options });
    client.on('error', () => {});
    clients.push(client);
    return client;
  };

  /** Two pods of one cache, both with `overrides`; the second with `second` on top. */
  const pods = async (
    overrides: Partial<SharedCacheOptions<unknown>> = {},
    { subscribe = true, second = {} }: { subscribe?: boolean; second?: Partial<SharedCacheOptions<unknown>> } = {},
  ): Promise<[SharedCache<unknown>, SharedCache<unknown>]> => {
    const name = unique('cache');
    const make = async (extra: Partial<SharedCacheOptions<unknown>> = {}): Promise<SharedCache<unknown>> => {
      const subscriber = subscribe ? await subscriberOf() : undefined;
      const cache = new SharedCache<unknown>({
        name,
        class: 'cluster',
        reason: 'shared cache race test',
        ttlMs: 60_000,
        redis: await connect(),
        ...(subscriber ? { subscriber } : {}),
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
        ...overrides,
        ...extra,
      });
      if (subscriber && !('subscriber' in overrides)) subscribers.set(cache, subscriber);
      await cache.ready();
      return cache;
    };
    return [await make(), await make(second)];
  };
  const subscribers = new WeakMap<SharedCache<unknown>, Redis>();

  /**
   * Resolves once `cache` has handled the next announcement naming `key`. On a Cluster a PUBLISH
   * reaches the subscriber's node over the cluster bus, so a write's announcement can come after a
   * read of the entry it announces (and drops the copy that read put in the L1): a test that needs
   * the copy kept waits for it first.
   */
  const nextAnnouncement = (cache: SharedCache<unknown>, key: string): Promise<void> => {
    const subscriber = subscribers.get(cache);
    if (!subscriber) throw new Error('nextAnnouncement: the cache was not made by pods() with its own subscriber');
    return new Promise((resolve) => {
      // Registered after the cache's own listener, so this runs once the cache has handled it.
      const onMessage = (_channel: string, message: string): void => {
        const keys = (JSON.parse(message) as { keys?: unknown[] }).keys;
        if (!keys?.includes(key)) return;
        subscriber.off('message', onMessage);
        resolve();
      };
      subscriber.on('message', onMessage);
    });
  };

  describe('tag invalidation during a load', () => {
    it('keeps the old value out of the computing pod’s L1 when another pod invalidates the tag', async () => {
      const [a, b] = await pods();
      // A probe entry with the same tag shows when pod A has received the invalidation.
      await a.set('probe', 'p', { tags: ['t'] });
      expect(a.size).toBe(1);
      const { loader, started, release } = gatedLoader('old');
      const load = a.getOrSet('k', loader, { tags: ['t'] });
      await started;
      await b.invalidateTags(['t']);
      await waitFor(() => a.size === 0, { timeoutMs: 5_000, what: 'pod A to receive the invalidation' });
      release();
      expect(await load).toBe('old'); // the caller gets what it loaded
      expect(a.size).toBe(0);
      expect(await a.get('k')).toBeUndefined();
      expect(await b.get('k')).toBeUndefined();
      await Promise.all([a.close(), b.close()]);
    });

    it('keeps the old value out of the L1 when the same pod invalidates the tag', async () => {
      const [a, b] = await pods();
      const { loader, started, release } = gatedLoader('old');
      const load = a.getOrSet('k', loader, { tags: ['t'] });
      await started;
      await a.invalidateTags(['t']);
      release();
      expect(await load).toBe('old');
      expect(await a.get('k')).toBeUndefined();
      expect(a.size).toBe(0);
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('tags named like Object.prototype members', () => {
    it.each(['__proto__', 'constructor'])(
      'invalidates a value tagged %s in Redis and in every pod’s L1',
      async (tag) => {
        const [a, b] = await pods();
        expect(await a.getOrSet('k', () => 'old', { tags: [tag] })).toBe('old');
        // Pod B keeps the copy it read from Redis, with the tags stored in the entry.
        await waitFor(async () => (await b.get('k')) === 'old' && b.size === 1, {
          timeoutMs: 5_000,
          what: 'pod B to hold the value in its L1',
        });
        await b.invalidateTags([tag]);
        expect(b.size).toBe(0);
        await waitFor(() => a.size === 0, { timeoutMs: 5_000, what: 'the invalidation to reach pod A' });
        expect(await a.get('k')).toBeUndefined();
        expect(await b.get('k')).toBeUndefined();
        expect(await b.getOrSet('k', () => 'new', { tags: [tag] })).toBe('new');
        await Promise.all([a.close(), b.close()]);
      },
    );
  });

  /**
   * A load on pod a is held while pod b invalidates the key: the caller still gets what it loaded,
   * Redis keeps nothing of it, and a load that starts afterwards is cached as usual.
   */
  const invalidatedDuringLoad = async (
    overrides: Partial<SharedCacheOptions<unknown>>,
    invalidate: (b: SharedCache<unknown>) => Promise<unknown>,
  ): Promise<void> => {
    const [a, b] = await pods({ l1: false, ...overrides }, { subscribe: false });
    const { loader, started, release } = gatedLoader('old');
    const load = a.getOrSet('k', loader);
    await started;
    await invalidate(b);
    release();
    expect(await load).toBe('old');
    expect(await b.get('k')).toBeUndefined();
    expect(await a.getOrSet('k', () => 'new')).toBe('new');
    expect(await b.get('k')).toBe('new');
    await Promise.all([a.close(), b.close()]);
  };

  describe('delete during a load', () => {
    it.each(LEASE_MODES)('does not write the old value back to Redis (%s)', (_how, overrides) =>
      invalidatedDuringLoad(overrides, (b) => b.delete('k')),
    );

    it('rejects with a retryable error when the invalidation cannot be published, after updating Redis', async () => {
      // The PUBLISH of a delete runs in the delete's script, a tag bump's in the bump's. Both are
      // refused for a user without channels, after Redis was updated.
      const restricted = await withoutChannels();
      const name = unique('publish');
      const make = (redis: RedisClient): SharedCache<string> =>
        new SharedCache<string>({
          name,
          class: 'cluster',
          reason: 'publish failure test',
          ttlMs: 60_000,
          redis,
          timeoutMs: 2_000,
          registry: new CacheRegistry(),
        });
      const [a, b] = [make(restricted), make(await connect())];
      await b.set('k', 'v', { tags: ['t', 'u'] });
      const deleted = await a.delete('k').catch((e: unknown) => e);
      expect(deleted).toBeInstanceOf(RedisStoreError);
      expect(deleted).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      expect((deleted as Error).message).toBe(
        `SharedCache "${name}".delete: Redis was updated but other pods were not told; they may serve their L1 copy until it expires. Call delete again.`,
      );
      expect(await b.get('k')).toBeUndefined();
      for (const tags of [['t'], ['t', 'u']]) {
        await b.set('k', 'v', { tags: ['t', 'u'] });
        const invalidated = await a.invalidateTags(tags).catch((e: unknown) => e);
        expect(invalidated).toBeInstanceOf(RedisStoreError);
        expect(invalidated).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
        expect((invalidated as Error).message).toContain('Call invalidateTags again');
        expect(await b.get('k')).toBeUndefined();
      }
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('a write whose announcement Redis refuses', () => {
    it('stands, and the refusal goes to onError (set and a loading getOrSet)', async () => {
      const restricted = await withoutChannels();
      const errors: unknown[] = [];
      const name = unique('publish-write');
      const options = {
        name,
        class: 'cluster',
        reason: 'publish failure test',
        ttlMs: 60_000,
        timeoutMs: 2_000,
      } as const;
      const a = new SharedCache<string>({
        ...options,
        redis: restricted,
        registry: new CacheRegistry(),
        onError: (e) => errors.push(e),
      });
      const b = new SharedCache<string>({ ...options, redis: await connect(), registry: new CacheRegistry() });
      await a.set('k', 'set');
      expect(await a.getOrSet('l', () => 'loaded')).toBe('loaded');
      expect(await b.get('k')).toBe('set');
      expect(await b.get('l')).toBe('loaded');
      expect(errors).toHaveLength(2);
      for (const error of errors) {
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
        expect((error as Error).message).toBe(`SharedCache "${name}".publish: the Redis call failed.`);
      }
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('set during a load', () => {
    it.each([
      ['on the same pod, with an L1', true, true],
      ['on the same pod, without an L1', true, false],
      ['on another pod, with an L1', false, true],
      ['on another pod, without an L1', false, false],
    ])('wins over the load’s value (%s)', async (_how, samePod, l1) => {
      const [a, b] = await pods(l1 ? {} : { l1: false, lease: false }, { subscribe: l1 });
      const { loader, started, release } = gatedLoader('old');
      const load = a.getOrSet('k', loader);
      await started;
      await (samePod ? a : b).set('k', 'new');
      release();
      expect(await load).toBe('old'); // the caller gets what it loaded
      expect(await a.get('k')).toBe('new');
      expect(await b.get('k')).toBe('new');
      const fresh = await pods({ name: a.name, l1: false }, { subscribe: false });
      expect(await fresh[0].get('k')).toBe('new'); // Redis holds the explicit write
      await Promise.all([a.close(), b.close(), ...fresh.map((c) => c.close())]);
    });
  });

  describe('writes announced during a load', () => {
    it('do not keep a load of an untouched key out of Redis or the L1', async () => {
      const [a, b] = await pods();
      // A marker that pod B deletes last shows when pod A has heard every write before it.
      await a.set('marker', 'm');
      const { loader, started, release } = gatedLoader('loaded');
      const load = a.getOrSet('k', loader);
      await started;
      for (let i = 0; i <= 10_000; i += 500) {
        await Promise.all(Array.from({ length: 500 }, (_, j) => b.set(`other-${i + j}`, i + j)));
      }
      await b.delete('marker');
      await waitFor(() => a.size === 0, { timeoutMs: 20_000, what: 'pod A to hear every write' });
      release();
      expect(await load).toBe('loaded');
      expect(a.size).toBe(1); // kept in the L1
      const [c, d] = await pods({ name: a.name, l1: false }, { subscribe: false });
      expect(await c.get('k')).toBe('loaded'); // and written to Redis
      await Promise.all([a.close(), b.close(), c.close(), d.close()]);
    }, 60_000);
  });

  describe('clear during a load', () => {
    it.each(LEASE_MODES)('does not write the old value back to Redis (%s)', (_how, overrides) =>
      invalidatedDuringLoad(overrides, (b) => b.clear()),
    );

    it('removes a value that a load begun before the clear writes while the SCAN runs', async () => {
      const [a] = await pods({ l1: false }, { subscribe: false });
      const entryKey = `rampart:cache:${a.name}:{=k}`;
      const admin = await connect();
      const { loader, started, release } = gatedLoader('old');
      const load = a.getOrSet('k', loader); // reads the key's generation before the clear
      await started;
      // SCAN may miss a key created during a pass: the clearing pod's SCAN does, for the entry the
      // load writes once the first SCAN reply is in (its cursor has passed the entry's position).
      // Every other node's SCAN waits for the write, so none removes the generation before it.
      let written: Promise<void> | undefined;
      const passes = new WeakMap<object, number>();
      const scanning =
        (node: object, scan: (...args: unknown[]) => Promise<[string, string[]]>) =>
        async (...args: unknown[]): Promise<[string, string[]]> => {
          if (args[0] === '0') passes.set(node, (passes.get(node) ?? 0) + 1);
          let reply: [string, string[]];
          if (written) {
            await written;
            reply = await scan(...args);
          } else {
            const first = scan(...args);
            written = first.then(async () => {
              release();
              await load;
              await waitFor(async () => (await admin.exists(entryKey)) === 1, { timeoutMs: 5_000, what: 'the write' });
            });
            reply = await first;
            await written;
          }
          const [cursor, keys] = reply;
          return [cursor, passes.get(node) === 1 ? keys.filter((key) => key !== entryKey) : keys];
        };
      const wrap = <C extends object>(client: C): C =>
        new Proxy(client, {
          get(t, prop) {
            const value = Reflect.get(t, prop, t) as unknown;
            if (typeof value !== 'function') return value;
            if (prop === 'scan') return scanning(t, value.bind(t) as never);
            if (prop === 'nodes') return (role: string) => (value.call(t, role) as object[]).map(wrap);
            return value.bind(t);
          },
        });
      const [b] = await pods({ name: a.name, l1: false, redis: wrap(await connect()) }, { subscribe: false });
      await b.clear();
      expect(await load).toBe('old');
      expect(await admin.exists(entryKey)).toBe(0);
      expect(await b.get('k')).toBeUndefined();
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('waiting for another pod’s lease', () => {
    it('takes the lease as soon as the holder gives it back unwritten, instead of waiting out waitMs', async () => {
      const name = unique('waiter');
      const options = {
        name,
        class: 'cluster',
        reason: 'lease waiter test',
        ttlMs: 60_000,
        l1: false,
        // Longer than the test's timeout: a waiter that sat it out would fail the test.
        lease: { ttlMs: 60_000, waitMs: 60_000 },
        timeoutMs: 2_000,
      } as const;
      const a = new SharedCache<string>({ ...options, redis: await connect(), registry: new CacheRegistry() });
      // Counts pod B's reads: its second one is the first poll, so B is waiting for A.
      const client = await connect();
      let reads = 0;
      const polling = deferred();
      const counting = new Proxy(client, {
        get(t, prop) {
          const value = Reflect.get(t, prop, t) as unknown;
          if (typeof value !== 'function') return value;
          if (!['get', 'evalsha', 'eval', 'evalshaBuffer', 'evalBuffer'].includes(String(prop))) return value.bind(t);
          return (...args: unknown[]) => {
            if (++reads === 2) polling.resolve();
            return value.apply(t, args);
          };
        },
      });
      const b = new SharedCache<string>({ ...options, redis: counting, registry: new CacheRegistry() });
      const admin = await connect();
      const holder = gatedLoader('old');
      const first = a.getOrSet('k', holder.loader);
      await holder.started;
      let leasesDuringLoad: string[] = [];
      const waiting = b.getOrSet('k', async () => {
        leasesDuringLoad = await keysMatching(admin, `rampart:cache:${name}:l:*`);
        return 'new';
      });
      await polling.promise;
      await a.delete('k'); // A's write will be refused: it gives the lease back without an entry
      holder.release();
      expect(await first).toBe('old');
      expect(await waiting).toBe('new');
      expect(leasesDuringLoad).toHaveLength(1); // B loaded under the lease it took, not after a timeout
      expect(await a.get('k')).toBe('new');
      await Promise.all([a.close(), b.close()]);
    }, 30_000);
  });

  describe('early refresh (XFetch)', () => {
    it('refreshes early on a value read from Redis, without an L1', async () => {
      let now = 1_000_000;
      const clock = { now: () => now, random: () => 0.5 };
      const [a, b] = await pods({ clock, ttlMs: 10_000, l1: false, earlyRefresh: { beta: 100 } }, { subscribe: false });
      let calls = 0;
      const loader = (): number => {
        calls += 1;
        now += 500; // δ = 500 ms on the injected clock
        return calls;
      };
      expect(await a.getOrSet('k', loader)).toBe(1);
      now += 9_000; // 1 s before expiry: the entry expires 10 s after the load finished
      expect(await a.getOrSet('k', loader)).toBe(1);
      await waitFor(() => calls === 2, { timeoutMs: 5_000, what: 'the early refresh to run the loader' });
      await waitFor(async () => (await b.get('k')) === 2, { timeoutMs: 5_000, what: 'the refreshed value' });
      await Promise.all([a.close(), b.close()]);
    });

    it('measures against the entry’s expiry, not the shorter L1 expiry (l1.ttlMs)', async () => {
      let now = 2_000_000;
      const clock = { now: () => now, random: () => 0.5 };
      const [a, b] = await pods({ clock, ttlMs: 60_000, l1: { maxEntries: 100, ttlMs: 200 } });
      let calls = 0;
      const loader = (): number => {
        calls += 1;
        now += 50; // δ = 50 ms
        return calls;
      };
      const redis = await connect();
      expect(await a.getOrSet('k', loader)).toBe(1);
      for (let i = 0; i < 300; i++) {
        now += 10;
        expect(await a.getOrSet('k', loader)).toBe(1);
        await redis.ping(); // gives a background refresh, if one started, its round trips
      }
      expect(calls).toBe(1);
      // Near the entry's own expiry, the refresh happens.
      now = 2_000_000 + 50 + 60_000 - 20;
      await a.getOrSet('k', loader);
      await waitFor(() => calls === 2, { timeoutMs: 5_000, what: 'the refresh near the real expiry' });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('clear', () => {
    const where =
      _name === 'cluster'
        ? ([
            ['keyPrefix', (p: string) => ({ keyPrefix: p })],
            ['redisOptions.keyPrefix', (p: string) => ({ redisOptions: { keyPrefix: p } })],
          ] as const)
        : ([['keyPrefix', (p: string) => ({ keyPrefix: p })]] as const);

    it.each(where)('deletes every entry on a client with a %s', async (_option, options) => {
      const prefix = 'app[1]*:';
      const redis = await ready(build(options(prefix)));
      const admin = await connect();
      const name = unique('prefixed');
      const cache = new SharedCache<number>({
        name,
        class: 'cluster',
        reason: 'clear with a key prefix',
        ttlMs: 60_000,
        redis,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      for (let i = 0; i < 30; i++) await cache.set(`key-${i}`, i);
      const pattern = `app\\[1\\]\\*:rampart:cache:${name}:*`;
      expect((await keysMatching(admin, pattern)).length).toBe(30);
      await cache.delete('key-0'); // the delete's script gets the prefixed key too
      expect((await keysMatching(admin, pattern)).length).toBe(29);
      await cache.clear();
      expect(await keysMatching(admin, pattern)).toEqual([]);
      expect(await cache.get('key-3')).toBeUndefined();
      await cache.close();
    });
  });

  describe('subscriber', () => {
    it('subscribes once a subscriber built with the cache connects (the README construction)', async () => {
      const redis = build({});
      // The README: redis.duplicate() of a single node; on a Cluster, a Redis to one of its nodes.
      const spec = target.spec;
      const subscriber =
        spec.kind === 'single'
          ? (redis as Redis).duplicate()
          : new Redis({ host: spec.nodes[0]!.host, port: spec.nodes[0]!.port });
      subscriber.on('error', () => {});
      clients.push(subscriber);
      const name = unique('readme');
      const jwks = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'signing keys rotate: every pod must drop a retired key together',
        ttlMs: 300_000,
        redis,
        subscriber,
        staleIfErrorMs: 3_600_000,
        // Not the README's (the 50 ms default): the subscription is what this checks, and a process
        // stalled under load reads Redis's answer to a call after its timeout has already fired.
        // 10 s: ready() still gives up after max(timeoutMs, 10 s), well within the test's timeout.
        timeoutMs: 10_000,
        registry: new CacheRegistry(),
      });
      await jwks.ready();
      await ready(redis);
      const other = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the other pod',
        ttlMs: 300_000,
        redis: await connect(),
        timeoutMs: 10_000,
        registry: new CacheRegistry(),
      });
      await other.set('issuer-a', 'keys-1');
      expect(await jwks.getOrSet('issuer-a', () => 'unused', { tags: ['issuer-a'] })).toBe('keys-1');
      expect(jwks.size).toBe(1); // the L1 is on
      await other.delete('issuer-a');
      await waitFor(() => jwks.size === 0, { timeoutMs: 5_000, what: 'the invalidation to reach the L1' });
      await Promise.all([jwks.close(), other.close()]);
    });

    // Only a Cluster can be refused as one: defined on the cluster run alone.
    if (_name === 'cluster') {
      it('refuses a Cluster as subscriber', async () => {
        const subscriber = await connect();
        expect(subscriber.isCluster).toBe(true);
        let error: unknown;
        try {
          new SharedCache<string>({
            name: unique('cluster-sub'),
            class: 'cluster',
            reason: 'a Cluster subscriber re-subscribes without telling anyone',
            ttlMs: 60_000,
            redis: await connect(),
            subscriber: subscriber as unknown as Redis,
            registry: new CacheRegistry(),
          });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_OPTIONS' });
        expect((error as Error).message).toContain('subscriber must be a plain ioredis Redis connection to one node');
        expect(subscriber.listenerCount('message')).toBe(0); // nothing was attached to it
      });
    }

    it('leaves nothing subscribed behind a cache refused for a name already registered', async () => {
      const subscriber = await subscriberOf();
      const admin = await subscriberOf(); // a plain connection to the subscriber's node, for PUBSUB
      const redis = await connect();
      const registry = new CacheRegistry();
      const name = unique('duplicate');
      const make = (): SharedCache<string> =>
        new SharedCache<string>({
          name,
          class: 'cluster',
          reason: 'one cache per name',
          ttlMs: 60_000,
          redis,
          subscriber,
          timeoutMs: 2_000,
          registry,
        });
      const first = make();
      await first.ready();
      for (let i = 0; i < 3; i++) {
        expect(make).toThrow(RedisStoreError);
        expect(make).toThrow('already registered');
      }
      const channel = `rampart:cache:${name}:invalidate`;
      expect(await admin.pubsub('CHANNELS', channel)).toEqual([channel]);
      await first.close();
      expect(subscriber.listenerCount('message')).toBe(0);
      expect(await admin.pubsub('CHANNELS', channel)).toEqual([]);
    });

    it('never serves a value deleted while the subscriber’s connection was down, and drops the L1 once it is back', async () => {
      // A long reconnect delay makes the gap certain; a user's default delay only shortens it.
      const subscriber = await subscriberOf({ retryStrategy: () => 1_000 });
      const id = String(await subscriber.client('ID'));
      const { host, port } = subscriber.options;
      const admin = new Redis({ host: host as string, port: port as number });
      admin.on('error', () => {});
      clients.push(admin);
      const name = unique('gap');
      const a = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'signing keys rotate',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      const b = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the other pod',
        ttlMs: 60_000,
        redis: await connect(),
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await a.ready();
      // Set by pod A itself: a write announced by B could reach A's node (cluster bus) after A read
      // the value, and drop it from A's L1 before the test begins.
      await a.set('k', 'v1');
      expect(await b.get('k')).toBe('v1');
      expect(await a.get('k')).toBe('v1');
      expect(a.size).toBe(1); // held in pod A's L1
      // What the reviewer did with CLIENT KILL TYPE pubsub, aimed at this one connection.
      await admin.client('KILL', 'ID', id);
      await waitFor(() => subscriber.status !== 'ready', { timeoutMs: 5_000, what: 'the subscriber to notice' });
      await b.delete('k'); // its invalidation is published while pod A hears nothing
      expect(subscriber.status).not.toBe('ready');
      expect(a.size).toBe(1); // the stale copy is still in the L1 ...
      expect(await a.get('k')).toBeUndefined(); // ... but not served: the bus is down, Redis is read
      await a.ready(); // reconnected and re-subscribed
      expect(a.size).toBe(0); // the L1 was dropped
      expect(await a.get('k')).toBeUndefined();
      await b.set('k', 'v2');
      await waitFor(async () => (await a.get('k')) === 'v2', { timeoutMs: 5_000, what: 'invalidations to flow again' });
      await b.delete('k');
      await waitFor(async () => (await a.get('k')) === undefined, {
        timeoutMs: 5_000,
        what: 'the delete to reach pod A',
      });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('writes from a pod without a subscriber', () => {
    it('still reach the L1 of pods that listen', async () => {
      const [a] = await pods();
      const [writer] = await pods({ name: a.name, l1: false }, { subscribe: false });
      expect(await a.getOrSet('k', () => 'old')).toBe('old');
      expect(a.size).toBe(1);
      await writer.set('k', 'new');
      await waitFor(async () => (await a.get('k')) === 'new', { timeoutMs: 5_000, what: 'the write to reach the L1' });
      await Promise.all([a.close(), writer.close()]);
    });
  });

  describe('loads that write nothing', () => {
    it.each([
      ['with the lease', {}],
      ['without a lease', { lease: false as const }],
    ])('leave no generation or lease key behind when the loader fails (%s)', async (_label, overrides) => {
      const name = unique('failing');
      const [a, b] = await pods({ name, ...overrides });
      const admin = await connect();
      for (let i = 0; i < 20; i++) {
        await expect(
          a.getOrSet(`missing:${i}`, () => {
            throw new Error('not found');
          }),
        ).rejects.toThrow('not found');
      }
      expect(await keysMatching(admin, `rampart:cache:${name}:g:*`)).toEqual([]);
      expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
      // The key still caches normally afterwards, on either pod.
      expect(await b.getOrSet('missing:0', () => 'found')).toBe('found');
      expect(await a.get('missing:0')).toBe('found');
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('round trips of a miss', () => {
    it.each(LEASE_MODES)(
      'are one read (with the lease or the generation) and one write that publishes its announcement (%s)',
      async (_how, overrides) => {
        const client = await connect();
        const sent: string[] = [];
        const counting = new Proxy(client, {
          get(t, prop) {
            const value = Reflect.get(t, prop, t) as unknown;
            if (typeof value !== 'function') return value;
            // EVAL only follows a NOSCRIPT reply to its EVALSHA: not a round trip of its own design.
            // evalshaBuffer: the reads that return an entry's bytes send their EVALSHA through it.
            if (!['get', 'evalsha', 'set', 'publish', 'unlink', 'evalshaBuffer'].includes(String(prop)))
              return value.bind(t);
            return (...args: unknown[]) => {
              sent.push(String(prop).replace(/Buffer$/, ''));
              return value.apply(t, args);
            };
          },
        });
        const [a] = await pods({ l1: false, redis: counting, ...overrides }, { subscribe: false });
        expect(await a.getOrSet('k', () => 'v')).toBe('v');
        expect(sent).toEqual(['evalsha', 'evalsha']);
        expect(await a.get('k')).toBe('v');
        await a.close();
      },
    );
  });

  describe('announcements published by the write scripts', () => {
    it('reach a pod subscribed on another node than the one that ran the script, in the same format', async () => {
      const name = unique('announce');
      const entryKey = (key: string): string => `rampart:cache:${name}:{=${key}}`;
      const spec = target.spec;
      const key = 'k';
      let tag = 't';
      // On the cluster: the key's and the tag's scripts run on one master, the pods listen on
      // another (the PUBLISH crosses the cluster bus).
      let listenOn: { host: string; port: number } | string = spec.kind === 'single' ? spec.url : spec.nodes[0]!;
      if (spec.kind === 'cluster') {
        const admin = await connect();
        const slots = await admin.cluster('SLOTS');
        const ownerOf = async (full: string): Promise<number> => {
          const slot = Number(await admin.cluster('KEYSLOT', full));
          return slots.find(([from, to]) => slot >= from && slot <= to)![2]![1];
        };
        const owner = await ownerOf(entryKey(key));
        listenOn = spec.nodes.find((n) => n.port !== owner)!;
        for (let i = 0; (await ownerOf(`rampart:cache:${name}:t:${tag}`)) === listenOn.port; i++) tag = `t${i}`;
      }
      const subscriber = typeof listenOn === 'string' ? new Redis(listenOn) : new Redis({ ...listenOn });
      const raw = typeof listenOn === 'string' ? new Redis(listenOn) : new Redis({ ...listenOn });
      clients.push(await ready(subscriber), await ready(raw));
      const heard: string[] = [];
      raw.on('message', (_channel: string, text: string) => heard.push(text));
      await raw.subscribe(`rampart:cache:${name}:invalidate`);
      const a = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'announcement test',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await a.ready();
      const sent: string[] = [];
      const client = await connect();
      const counting = new Proxy(client, {
        get(t, prop) {
          const value = Reflect.get(t, prop, t) as unknown;
          if (typeof value !== 'function') return value;
          // evalshaBuffer: the reads that return an entry's bytes send their EVALSHA through it.
          if (!['evalsha', 'publish', 'unlink', 'evalshaBuffer'].includes(String(prop))) return value.bind(t);
          return (...args: unknown[]) => {
            sent.push(String(prop).replace(/Buffer$/, ''));
            return value.apply(t, args);
          };
        },
      });
      // The writer listens to nothing: its writes are announced all the same.
      const b = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the writing pod',
        ttlMs: 60_000,
        redis: counting,
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      expect(await a.getOrSet(key, () => 'old')).toBe('old');
      expect(a.size).toBe(1);
      await waitFor(() => heard.length === 1, { timeoutMs: 5_000, what: 'pod A’s own announcement' });
      await (await connect()).unlink(entryKey(key)); // gone from Redis, unannounced: pod A's L1 still holds it
      sent.length = 0;
      expect(await b.getOrSet(key, () => 'loaded')).toBe('loaded'); // a miss: its write announces itself
      expect(sent).toEqual(['evalsha', 'evalsha']);
      await waitFor(async () => (await a.get(key)) === 'loaded', { timeoutMs: 5_000, what: 'the miss’s announcement' });
      await waitFor(() => heard.length === 2, { timeoutMs: 5_000, what: 'the raw subscriber' });
      const written = JSON.parse(heard[1]!) as { origin: string; keys: string[]; w: string };
      expect(Object.keys(written)).toEqual(['origin', 'keys', 'w']);
      expect(written.keys).toEqual([key]);
      expect(written.w.startsWith(`${written.origin}.`)).toBe(true);
      sent.length = 0;
      await b.set(key, 'set', { tags: [tag] });
      expect(sent).toEqual(['evalsha', 'evalsha']); // the tag's version, then the write that announces itself
      await waitFor(async () => (await a.get(key)) === 'set', { timeoutMs: 5_000, what: 'the set’s announcement' });
      sent.length = 0;
      await b.invalidateTags([tag]);
      expect(sent).toEqual(['evalsha']); // one tag: the bump announces itself
      await waitFor(async () => (await a.get(key)) === undefined, { timeoutMs: 5_000, what: 'the tag’s announcement' });
      await waitFor(() => heard.length === 4, { timeoutMs: 5_000, what: 'the raw subscriber' });
      expect(JSON.parse(heard[3]!)).toEqual({ origin: written.origin, tags: [tag] });
      expect(await a.getOrSet(key, () => 'again')).toBe('again');
      expect(a.size).toBe(1);
      await waitFor(() => heard.length === 5, { timeoutMs: 5_000, what: 'pod A’s own announcement' });
      sent.length = 0;
      await b.delete(key);
      expect(sent).toEqual(['evalsha']); // the delete's script unlinks and announces
      await waitFor(() => a.size === 0, { timeoutMs: 5_000, what: 'the delete’s announcement' });
      await waitFor(() => heard.length === 6, { timeoutMs: 5_000, what: 'the raw subscriber' });
      expect(JSON.parse(heard[5]!)).toEqual({ origin: written.origin, keys: [key] });
      expect(await (await connect()).exists(entryKey(key))).toBe(0);
      sent.length = 0;
      await b.delete('never-written'); // announced all the same, as a separate PUBLISH was
      expect(sent).toEqual(['evalsha']);
      await waitFor(() => heard.length === 7, { timeoutMs: 5_000, what: 'the delete of a missing key' });
      expect(JSON.parse(heard[6]!)).toEqual({ origin: written.origin, keys: ['never-written'] });
      await Promise.all([a.close(), b.close()]);
    });

    it('are not sent for a load whose write is refused', async () => {
      const name = unique('refused');
      const raw = await subscriberOf();
      const heard: string[] = [];
      raw.on('message', (_channel: string, text: string) => heard.push(text));
      await raw.subscribe(`rampart:cache:${name}:invalidate`);
      const [a, b] = await pods({ name, l1: false }, { subscribe: false });
      const { loader, started, release } = gatedLoader('old');
      const load = a.getOrSet('k', loader);
      await started;
      await b.delete('k'); // ends the load's generation: its write is refused
      release();
      expect(await load).toBe('old');
      // Published by the node that ran the refused write, after it: it comes after anything that
      // write could have published.
      await b.set('k', 'set');
      const messages = (): { origin: string; keys: string[]; w?: string }[] => heard.map((text) => JSON.parse(text));
      await waitFor(() => messages().filter((m) => m.w !== undefined).length >= 1, {
        timeoutMs: 5_000,
        what: 'the set',
      });
      await waitFor(() => heard.length >= 2, { timeoutMs: 5_000, what: 'the delete' });
      const [deleted, set] = [messages().find((m) => m.w === undefined), messages().find((m) => m.w !== undefined)];
      expect(heard).toHaveLength(2); // the delete and the set: nothing from pod A's load
      expect(deleted).toEqual({ origin: set?.origin, keys: ['k'] });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('getOrSet options', () => {
    it('rejects a bad ttlMs before taking the lease', async () => {
      const name = unique('bad-ttl');
      const [a, b] = await pods({ name });
      const admin = await connect();
      await expect(a.getOrSet('k', () => 'v', { ttlMs: 0 })).rejects.toMatchObject({
        code: 'ERR_REDIS_INVALID_ARGUMENT',
      });
      expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
      expect(await b.getOrSet('k', () => 'v')).toBe('v');
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('set racing a load that found an unusable entry', () => {
    /** What Redis holds for `name`'s `key`, read by a pod without an L1. */
    const inRedis = async (name: string, key: string, now: () => number): Promise<unknown> => {
      const [reader] = await pods({ name, l1: false, clock: { now, random: () => 0.5 } }, { subscribe: false });
      const value = await reader.get(key);
      await reader.close();
      return value;
    };

    const paths = [
      [
        'tag-invalidated',
        {},
        async (a: SharedCache<unknown>): Promise<void> => {
          await a.set('k', 'v0', { tags: ['tenant'] });
          await a.invalidateTags(['tenant']);
        },
      ],
      [
        'expired, within staleIfErrorMs',
        { ttlMs: 1_000, staleIfErrorMs: 3_600_000 },
        async (a: SharedCache<unknown>, clock: { now: number }): Promise<void> => {
          await a.set('k', 'v0');
          clock.now += 2_000;
        },
      ],
    ] as const;

    for (const [how, leaseOverrides] of LEASE_MODES) {
      it.each(paths)(
        `leaves the explicit value in Redis and in every pod (%s entry, ${how})`,
        async (_path, overrides, before) => {
          const clock = { now: 5_000_000 };
          // Pod A's client runs the set as soon as the load's read has its reply: the set's write
          // reaches Redis between the load's read and its lease (or the start of its load).
          let afterRead: (() => Promise<void>) | undefined;
          const client = await connect();
          // EVALSHA, or EVAL after a NOSCRIPT (the first run of a script on a new server), sent as
          // the command itself or as its Buffer variant (the reads that return an entry's bytes).
          const reads = new Set([
            READ_OR_LEASE.sha1,
            READ_OR_GENERATION.sha1,
            READ_OR_LEASE.lua,
            READ_OR_GENERATION.lua,
          ]);
          const hooked = new Proxy(client, {
            get(t, prop) {
              const value = Reflect.get(t, prop, t) as unknown;
              if (typeof value !== 'function') return value;
              if (!['evalsha', 'eval', 'evalshaBuffer', 'evalBuffer'].includes(String(prop))) return value.bind(t);
              return async (...args: unknown[]) => {
                const reply = (await value.apply(t, args)) as unknown;
                const hook = afterRead;
                if (hook && args.slice(0, 2).some((a) => reads.has(a as string))) {
                  afterRead = undefined;
                  await hook();
                }
                return reply;
              };
            },
          });
          const options = {
            earlyRefresh: false,
            clock: { now: () => clock.now, random: () => 0.5 },
            ...overrides,
            ...leaseOverrides,
          } as const;
          const [a, b] = await pods({ ...options, redis: hooked });
          await before(a, clock);
          afterRead = () => a.set('k', 'explicit');
          await a.getOrSet('k', () => 'loaded');
          expect(afterRead).toBeUndefined(); // the set ran
          expect(await inRedis(a.name, 'k', () => clock.now)).toBe('explicit');
          expect(await a.get('k')).toBe('explicit');
          expect(await b.get('k')).toBe('explicit');
          await Promise.all([a.close(), b.close()]);
        },
      );
    }
  });

  describe('an entry its serializer cannot decode', () => {
    it.each(LEASE_MODES)(
      'reads as a miss: the loader runs and overwrites it, reported without the value (%s)',
      async (_how, overrides) => {
        const errors: unknown[] = [];
        const name = unique('undecodable');
        const [a, b] = await pods({ name, onError: (e) => errors.push(e), ...overrides });
        const admin = await connect();
        const entryKey = `rampart:cache:${name}:{=k}`;
        await admin.set(entryKey, JSON.stringify({ v: 'not json', e: Date.now() + 60_000, d: 0 }), 'PX', 60_000);
        expect(await a.get('k')).toBeUndefined();
        expect(await a.getOrSet('k', () => 'loaded')).toBe('loaded');
        expect(await b.get('k')).toBe('loaded');
        expect(JSON.parse((await admin.get(entryKey)) as string).v).toBe('"loaded"');
        expect(errors.length).toBeGreaterThan(0);
        for (const error of errors) {
          expect(error).toBeInstanceOf(RedisStoreError);
          expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY' });
          expect((error as Error).cause).toBeUndefined();
          expect((error as Error).message).not.toContain('not json');
        }
        await Promise.all([a.close(), b.close()]);
      },
    );

    it('is not served stale: a failing loader’s own error reaches the caller', async () => {
      const errors: unknown[] = [];
      const name = unique('undecodable-stale');
      const [a, b] = await pods({ name, staleIfErrorMs: 3_600_000, onError: (e) => errors.push(e) });
      const admin = await connect();
      const entryKey = `rampart:cache:${name}:{=k}`;
      await admin.set(entryKey, JSON.stringify({ v: 'not json', e: Date.now() - 1_000, d: 0 }), 'PX', 60_000);
      await expect(
        a.getOrSet('k', () => {
          throw new Error('source down');
        }),
      ).rejects.toThrow('source down');
      for (const error of errors) expect(String((error as Error).message)).not.toContain('not json');
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('close while the subscriber reconnects', () => {
    it('leaves the channel unsubscribed once the subscriber is back', async () => {
      const subscriber = await subscriberOf({ retryStrategy: () => 200 });
      const { host, port } = subscriber.options;
      const admin = new Redis({ host: host as string, port: port as number });
      admin.on('error', () => {});
      clients.push(admin);
      const name = unique('close-reconnecting');
      const cache = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'close during a reconnect',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await cache.ready();
      const channel = `rampart:cache:${name}:invalidate`;
      const subscribers = async (): Promise<number> =>
        Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);
      expect(await subscribers()).toBe(1);
      subscriber.stream.destroy();
      await waitFor(() => subscriber.status !== 'ready', { timeoutMs: 5_000, what: 'the subscriber to notice' });
      await cache.close();
      await waitFor(() => subscriber.status === 'ready', { timeoutMs: 5_000, what: 'the subscriber to reconnect' });
      await waitFor(async () => (await subscribers()) === 0, { timeoutMs: 5_000, what: 'the channel to be left' });
      await subscriber.ping(); // every command the reconnect sent has been answered
      expect(await subscribers()).toBe(0);
    });
  });

  describe('clear', () => {
    it('leaves the keys of a cache whose prefix starts with this cache’s prefix and name', async () => {
      const prefix = unique('app');
      const make = async (options: { prefix: string; name: string }): Promise<SharedCache<string>> =>
        new SharedCache<string>({
          ...options,
          class: 'cluster',
          reason: 'nested key spaces',
          ttlMs: 60_000,
          redis: await connect(),
          timeoutMs: 2_000,
          registry: new CacheRegistry(),
        });
      const outer = await make({ prefix, name: 'x' });
      const inner = await make({ prefix: `${prefix}:x`, name: 'y' });
      const tagged = await make({ prefix: `${prefix}:x`, name: 't' });
      await outer.set('k', 'outer', { tags: ['tenant'] });
      await inner.set('k', 'inner');
      await tagged.set('k', 'tagged');
      await outer.clear();
      expect(await outer.get('k')).toBeUndefined();
      expect(await inner.get('k')).toBe('inner');
      expect(await tagged.get('k')).toBe('tagged');
      await Promise.all([outer.close(), inner.close(), tagged.close()]);
    });
  });

  describe('values kept in the L1', () => {
    it('are copies: mutating the object given to set() or returned by a loader changes nothing cached', async () => {
      const [a, b] = await pods();
      const given = { n: 1 };
      await a.set('k', given);
      given.n = 2;
      expect(await a.get('k')).toEqual({ n: 1 });
      expect(await b.get('k')).toEqual({ n: 1 });
      const loaded = (await a.getOrSet('l', () => ({ n: 1 }))) as { n: number };
      loaded.n = 2;
      expect(await a.get('l')).toEqual({ n: 1 });
      expect(await b.get('l')).toEqual({ n: 1 });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('hits read from Redis', () => {
    it.each(LEASE_MODES)('write nothing: no generation key is created or extended (%s)', async (_how, overrides) => {
      const name = unique('hits');
      const [a] = await pods({ name, l1: false, ...overrides }, { subscribe: false });
      const admin = await connect();
      const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
      for (const key of keys) await a.set(key, key);
      // A generation that a load elsewhere holds, with little life left: a hit must not extend it.
      const held = `rampart:cache:${name}:g:{=k0}`;
      await admin.set(held, 'held', 'PX', 5_000);
      for (let round = 0; round < 2; round++) {
        for (const key of keys) expect(await a.getOrSet(key, () => 'loaded')).toBe(key);
      }
      expect(await keysMatching(admin, `rampart:cache:${name}:g:*`)).toEqual([held]);
      expect(await admin.pttl(held)).toBeLessThanOrEqual(5_000);
      for (const key of keys) expect(await admin.pttl(`rampart:cache:${name}:{=${key}}`)).toBeLessThanOrEqual(60_000);
      await a.close();
    });
  });

  describe('pods waiting on an entry their serializer cannot decode', () => {
    it('wait for the lease holder’s load instead of each running the loader', async () => {
      const name = unique('undecodable-stampede');
      const errors: unknown[] = [];
      const caches: SharedCache<unknown>[] = [];
      for (let i = 0; i < 4; i++) {
        caches.push(...(await pods({ name, l1: false, onError: (e) => errors.push(e) }, { subscribe: false })));
      }
      const admin = await connect();
      await admin.set(
        `rampart:cache:${name}:{=k}`,
        JSON.stringify({ v: 'not json', e: Date.now() + 60_000, d: 0 }),
        'PX',
        60_000,
      );
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls += 1;
        await new Promise((resolve) => setTimeout(resolve, 300));
        return 'loaded';
      };
      const values = await Promise.all(caches.map((cache) => cache.getOrSet('k', loader)));
      expect(values).toEqual(caches.map(() => 'loaded'));
      expect(calls).toBe(1);
      for (const error of errors) expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY' });
      await Promise.all(caches.map((cache) => cache.close()));
    });
  });

  describe('many caches closed while their shared subscriber reconnects', () => {
    it('add one listener pair to it, not one each, and leave every channel once it is back', async () => {
      const subscriber = await subscriberOf({ retryStrategy: () => 200 });
      const { host, port } = subscriber.options;
      const admin = new Redis({ host: host as string, port: port as number });
      admin.on('error', () => {});
      clients.push(admin);
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(warning);
      };
      process.on('warning', onWarning);
      try {
        const redis = await connect();
        const caches = Array.from(
          { length: 12 },
          () =>
            new SharedCache<string>({
              name: unique('close-many'),
              class: 'cluster',
              reason: 'close during a reconnect',
              ttlMs: 60_000,
              redis,
              subscriber,
              timeoutMs: 2_000,
              registry: new CacheRegistry(),
            }),
        );
        await Promise.all(caches.map((cache) => cache.ready()));
        const channels = caches.map((cache) => `rampart:cache:${cache.name}:invalidate`);
        const subscribers = async (): Promise<number[]> => {
          const reply = (await admin.pubsub('NUMSUB', ...channels)) as (string | number)[];
          return channels.map((_, i) => Number(reply[2 * i + 1]));
        };
        expect(await subscribers()).toEqual(channels.map(() => 1));
        const readyBefore = subscriber.listenerCount('ready');
        const endBefore = subscriber.listenerCount('end');
        subscriber.stream.destroy();
        await waitFor(() => subscriber.status !== 'ready', { timeoutMs: 5_000, what: 'the subscriber to notice' });
        await Promise.all(caches.map((cache) => cache.close()));
        // The dispatcher's own listener went with the last cache; at most one pending pair is left.
        expect(subscriber.listenerCount('ready')).toBeLessThanOrEqual(readyBefore);
        expect(subscriber.listenerCount('end')).toBeLessThanOrEqual(endBefore + 1);
        await waitFor(() => subscriber.status === 'ready', { timeoutMs: 5_000, what: 'the subscriber to reconnect' });
        await waitFor(async () => (await subscribers()).every((n) => n === 0), {
          timeoutMs: 5_000,
          what: 'every channel to be left',
        });
        await subscriber.ping();
        expect(await subscribers()).toEqual(channels.map(() => 0));
        expect(subscriber.listenerCount('ready')).toBe(readyBefore - 1);
        expect(subscriber.listenerCount('end')).toBe(endBefore);
        await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
        expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    });
  });

  describe('a loader that returns undefined', () => {
    it('is cached in this pod’s L1 like any value, with nothing reported to onError', async () => {
      const errors: unknown[] = [];
      const [a, b] = await pods({ onError: (e) => errors.push(e) });
      let calls = 0;
      const loader = (): undefined => {
        calls += 1;
        return undefined;
      };
      for (let i = 0; i < 3; i++) expect(await a.getOrSet('k', loader)).toBeUndefined();
      expect(calls).toBe(1);
      expect(errors).toEqual([]);
      // Redis holds an entry without a value (JSON has no undefined): other pods read it as a miss.
      expect(await b.get('k')).toBeUndefined();
      expect(errors).toEqual([]);
      await Promise.all([a.close(), b.close()]);
    });
  });
  /**
   * `client` with `hook` run before the first script call `matches` (EVALSHA, or EVAL after a
   * NOSCRIPT, sent as the command itself or through call or as its Buffer variant), `counted`
   * incremented for every such call, and `answered` once its reply (or error) came back.
   */
  const scriptHook = (
    client: RedisClient,
    scripts: readonly { sha1: string; lua: string }[],
  ): {
    client: RedisClient;
    arm: (hook: () => Promise<unknown>) => void;
    armed: () => boolean;
    counted: () => number;
    answered: () => number;
  } => {
    const names = new Set(scripts.flatMap((s) => [s.sha1, s.lua]));
    let hook: (() => Promise<unknown>) | undefined;
    let counted = 0;
    let answered = 0;
    const hooked = new Proxy(client, {
      get(t, prop) {
        const value = Reflect.get(t, prop, t) as unknown;
        if (typeof value !== 'function') return value;
        if (!['evalsha', 'eval', 'call', 'evalshaBuffer', 'evalBuffer'].includes(String(prop))) return value.bind(t);
        return async (...args: unknown[]) => {
          if (!args.slice(0, 2).some((a) => typeof a === 'string' && names.has(a)))
            return (await value.apply(t, args)) as unknown;
          counted += 1;
          const run = hook;
          hook = undefined;
          if (run) await run();
          try {
            return (await value.apply(t, args)) as unknown;
          } finally {
            answered += 1;
          }
        };
      },
    });
    return {
      client: hooked,
      arm: (h) => {
        hook = h;
      },
      armed: () => hook !== undefined,
      counted: () => counted,
      answered: () => answered,
    };
  };

  describe('a key with many tags', () => {
    // One Redis call used to carry every tag's command: with enough tags it outlasted timeoutMs on a
    // healthy Redis (measured: 1,000 tags against the default 50 ms), and a refresh's timeout
    // paused every key's early refresh for 10 s, and each read of the key failed. Here Redis takes
    // 10 ms per command of a call (slowPerCommand), so one call of 64 tags (640 ms) outlasts the
    // 600 ms timeoutMs, and a call of 32 (320 ms) does not.
    it('sends at most 32 tag commands per Redis call, and its refresh neither fails nor pauses other keys', async () => {
      let now = 6_000_000;
      const errors: unknown[] = [];
      // One per pod: each pod's calls are its own, and their commands may be in flight together.
      const counted = tagCommandCounter(slowPerCommand(await connect(), 10));
      const readerCounted = tagCommandCounter(slowPerCommand(await connect(), 10));
      // Loaded beforehand: a first EVALSHA's NOSCRIPT and the EVAL after it would make one call of two turns.
      await loadScripts(await connect(), [TAG_READ, TAG_BUMP]);
      const options = {
        name: unique('many-tags'),
        class: 'pod',
        reason: 'many tags test',
        ttlMs: 10_000,
        timeoutMs: 600,
        clock: { now: () => now, random: () => 0.5 },
        onError: (error: unknown) => errors.push(error),
      } as const;
      const cache = new SharedCache<string>({
        ...options,
        redis: counted.client,
        l1: { maxEntries: 100 },
        earlyRefresh: { beta: 100 },
        registry: new CacheRegistry(),
      });
      const reader = new SharedCache<string>({
        ...options,
        redis: readerCounted.client,
        l1: false,
        registry: new CacheRegistry(),
      });
      const tags = Array.from({ length: 64 }, (_, i) => `tenant-${i}`); // the most a key may have
      const timed = (value: string) => (): string => {
        now += 500; // δ = 500 ms: with β = 100, due at once
        return value;
      };
      expect(await cache.getOrSet('k', timed('v1'), { tags })).toBe('v1'); // every tag's version read
      expect(await cache.getOrSet('other', timed('o1'))).toBe('o1');
      expect(await reader.get('k')).toBe('v1'); // every tag checked
      let loads = 0;
      const reload = (): string => {
        loads += 1;
        return 'v2';
      };
      expect(await cache.getOrSet('k', reload, { tags })).toBe('v1'); // an L1 hit: the refresh reads every tag again
      await waitFor(async () => (await reader.get('k')) === 'v2', {
        timeoutMs: 20_000,
        what: 'the refresh to store v2',
      });
      let otherLoads = 0;
      const other = (): string => {
        otherLoads += 1;
        return 'o2';
      };
      expect(await cache.getOrSet('other', other)).toBe('o1'); // not paused: refreshed too
      await waitFor(() => otherLoads === 1, { timeoutMs: 20_000, what: 'the other key to be refreshed' });
      await cache.invalidateTags(tags); // every tag bumped
      expect(await reader.get('k')).toBeUndefined();
      expect(await cache.get('k')).toBeUndefined();
      expect(loads).toBe(1);
      expect(errors).toEqual([]);
      expect(counted.sent()).toBeGreaterThanOrEqual(3 * 64); // read twice, bumped once
      expect(counted.most()).toBeLessThanOrEqual(32);
      expect(readerCounted.sent()).toBeGreaterThanOrEqual(64); // checked at least once in full
      expect(readerCounted.most()).toBeLessThanOrEqual(32);
      await Promise.all([cache.close(), reader.close()]);
    }, 60_000);

    it('refuses more than 64 tags in set, getOrSet and invalidateTags, before any Redis call, saying how to fix it', async () => {
      const counted = tagCommandCounter(await connect());
      const admin = await connect();
      const name = unique('too-many-tags');
      const cache = new SharedCache<string>({
        name,
        class: 'pod',
        reason: 'tag bound test',
        ttlMs: 60_000,
        redis: counted.client,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      const tags = Array.from({ length: 65 }, (_, i) => `secret-tenant-${i}`);
      let loads = 0;
      const refusal = async (call: () => Promise<unknown>): Promise<RedisStoreError> => {
        const error = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT', retryable: false });
        const message = (error as Error).message;
        expect(message).toContain('at most 64 tags');
        expect(message).toContain('fewer, broader tags');
        expect(message).not.toContain('secret-tenant'); // never a value
        expect(message.replace(name, '')).not.toContain('65'); // nor the caller's count (the name may hold digits)
        return error as RedisStoreError;
      };
      await refusal(() => cache.set('k', 'v', { tags }));
      await refusal(() =>
        cache.getOrSet(
          'k',
          () => {
            loads += 1;
            return 'v';
          },
          { tags },
        ),
      );
      expect((await refusal(() => cache.invalidateTags(tags))).message).toContain('several invalidateTags calls');
      expect(loads).toBe(0);
      expect(counted.sent()).toBe(0);
      expect(await keysMatching(admin, `rampart:cache:${name}:*`)).toEqual([]);
      // The bound itself is allowed.
      await cache.set('k', 'v', { tags: tags.slice(0, 64) });
      await cache.invalidateTags(tags.slice(0, 64));
      expect(await cache.get('k')).toBeUndefined();
      // A tag named twice is one tag: 65 copies of one are allowed and cost one tag command each time.
      const before = counted.sent();
      const copies = Array.from({ length: 65 }, () => 'tenant');
      await cache.set('k', 'v', { tags: copies });
      await cache.invalidateTags(copies);
      expect(counted.sent() - before).toBe(2);
      expect(await cache.get('k')).toBeUndefined();
      await cache.close();
    });

    it('reads an entry recording more than 64 tags (another writer’s) as a miss, checking none of them', async () => {
      const counted = tagCommandCounter(await connect());
      const admin = await connect();
      const name = unique('over-tagged');
      const cache = new SharedCache<string>({
        name,
        class: 'pod',
        reason: 'tag bound test',
        ttlMs: 60_000,
        redis: counted.client,
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      // 65 tags, every one at its current version: read under the old rules, it was served.
      const tags = Array.from({ length: 65 }, (_, i) => `tenant-${i}`);
      for (const tag of tags) await admin.set(`rampart:cache:${name}:t:${tag}`, '7', 'PX', 60_000);
      const t = Object.fromEntries(tags.map((tag) => [tag, 7]));
      const entry = { v: JSON.stringify('foreign'), e: Date.now() + 60_000, d: 0, t };
      await admin.set(`rampart:cache:${name}:{=k}`, JSON.stringify(entry), 'PX', 60_000);
      expect(await cache.get('k')).toBeUndefined();
      expect(counted.sent()).toBe(0);
      expect(await cache.getOrSet('k', () => 'mine', { tags: tags.slice(0, 3) })).toBe('mine'); // replaced
      expect(await cache.get('k')).toBe('mine');
      await cache.close();
    });
  });

  describe('a waiter polling for an entry it cannot use', () => {
    // Each poll used to check every tag of the entry it found again: up to 1 + 2 calls per poll
    // for 64 tags, so waiters polled more slowly and overran waitMs. Tag versions only move
    // forward: the same bytes, once found invalidated, stay so; an expired entry is of no use.
    it.each([
      ['tag-invalidated', 2],
      ['expired', 1],
    ] as const)('checks the tags of a %s entry once, not on every poll', async (kind, checks) => {
      let now = 7_000_000;
      const tags = Array.from({ length: 64 }, (_, i) => `t${i}`);
      const counted = tagCommandCounter(await connect());
      const polls = scriptHook(counted.client, [READ_OR_LEASE]);
      const [a, b] = await pods(
        { clock: { now: () => now, random: () => 0.5 }, earlyRefresh: false, lease: { ttlMs: 30_000, waitMs: 20_000 } },
        { second: { redis: polls.client } },
      );
      await a.set('k', 'v1', { tags });
      // Only the last tag: a check goes through every tag before it finds out.
      if (kind === 'tag-invalidated') await a.invalidateTags([tags[63] as string]);
      else now += 61_000; // past its expiry (ttlMs 60 s); Redis keeps it (its PX runs on real time)
      const held = gatedLoader('v2');
      const aLoad = a.getOrSet('k', held.loader, { tags }); // takes the lease
      await held.started;
      let bLoads = 0;
      const bLoad = b.getOrSet(
        'k',
        () => {
          bLoads += 1;
          return 'b';
        },
        { tags },
      );
      // B's read, then its first poll: each poll is sent once the one before was answered and checked.
      await waitFor(() => polls.counted() >= 3, { timeoutMs: 10_000, what: "B's second poll" });
      const afterFirstPoll = counted.sent();
      expect(afterFirstPoll).toBe(checks * 64); // B's read checked every tag; the first poll too unless expired
      await waitFor(() => polls.counted() >= 9, { timeoutMs: 10_000, what: 'six more polls' });
      expect(counted.sent()).toBe(afterFirstPoll); // no tag command in any of them
      held.release();
      expect(await aLoad).toBe('v2');
      expect(await bLoad).toBe('v2'); // its value, checked once it is there
      expect(bLoads).toBe(0);
    });
  });

  describe('a foreign entry that is not valid UTF-8 (another app’s msgpack or gzip under the prefix)', () => {
    // msgpack {"v": <bytes>} with bytes that are no UTF-8 (0xc4, 0xff, 0xfe), then a gzip header.
    const foreign = Buffer.from([0x81, 0xa1, 0x76, 0xc4, 0x03, 0xff, 0xfe, 0x80, 0x1f, 0x8b, 0x08, 0x00, 0xc3, 0x28]);

    it.each(LEASE_MODES)('is replaced by one load across three pods (%s)', async (how, overrides) => {
      const name = unique('foreign-bytes');
      const caches: SharedCache<unknown>[] = [];
      for (let i = 0; i < 2; i++) caches.push(...(await pods({ name, l1: false, ...overrides }, { subscribe: false })));
      const three = caches.slice(0, 3);
      const admin = await connect();
      const entryKey = `rampart:cache:${name}:{=k}`;
      await admin.set(entryKey, foreign); // no TTL: it would stay for good
      let calls = 0;
      const loader = async (): Promise<string> => {
        calls += 1;
        await new Promise((resolve) => setTimeout(resolve, 50));
        return 'loaded';
      };
      const started = performance.now();
      const values =
        how === 'with the lease'
          ? await Promise.all(three.map((cache) => cache.getOrSet('k', loader)))
          : [
              await three[0]!.getOrSet('k', loader),
              await three[1]!.getOrSet('k', loader),
              await three[2]!.getOrSet('k', loader),
            ];
      expect(values).toEqual(['loaded', 'loaded', 'loaded']);
      expect(calls).toBe(1);
      expect(performance.now() - started).toBeLessThan(1_500); // nobody sat out waitMs (2 s)
      expect(JSON.parse((await admin.get(entryKey)) as string).v).toBe('"loaded"');
      await Promise.all(caches.map((cache) => cache.close()));
    });
  });

  describe('reads that return an entry’s bytes', () => {
    it.each(LEASE_MODES)(
      'still work once the server lost its scripts (NOSCRIPT, then EVAL) (%s)',
      async (_how, overrides) => {
        const [a, b] = await pods({ l1: false, ...overrides }, { subscribe: false });
        await a.set('k', 'v');
        const spec = target.spec;
        const nodes =
          spec.kind === 'single'
            ? [new Redis(spec.url)]
            : spec.nodes.map((n) => new Redis({ host: n.host, port: n.port }));
        for (const node of nodes) {
          await node.script('FLUSH'); // this suite's own server, never the machine's
          node.disconnect();
        }
        expect(await b.getOrSet('k', () => 'loaded')).toBe('v');
        expect(await b.getOrSet('other', () => 'loaded')).toBe('loaded');
        await Promise.all([a.close(), b.close()]);
      },
    );
  });

  describe('pods waiting while the lease holder replaces a tag-invalidated entry', () => {
    it('do not ask for the lease on every poll', async () => {
      const options = {
        name: unique('invalidated-wait'),
        class: 'cluster',
        reason: 'lease poll test',
        ttlMs: 60_000,
        l1: false,
        lease: { ttlMs: 60_000, waitMs: 30_000 },
        timeoutMs: 2_000,
      } as const;
      const a = new SharedCache<string>({ ...options, redis: await connect(), registry: new CacheRegistry() });
      const reads = scriptHook(await connect(), [READ_OR_LEASE]);
      const leases = scriptHook(reads.client, [LEASE_ACQUIRE]);
      const b = new SharedCache<string>({ ...options, redis: leases.client, registry: new CacheRegistry() });
      // A large entry: each lease attempt on it hashed the whole of it in Redis.
      await a.set('k', 'x'.repeat(200_000), { tags: ['tenant'] });
      await a.invalidateTags(['tenant']);
      const holder = gatedLoader('new');
      const first = a.getOrSet('k', holder.loader, { tags: ['tenant'] });
      await holder.started;
      let calls = 0;
      const waiting = b.getOrSet(
        'k',
        () => {
          calls += 1;
          return 'other';
        },
        { tags: ['tenant'] },
      );
      await waitFor(() => reads.counted() >= 25, { timeoutMs: 10_000, what: 'pod B to poll 25 times' });
      holder.release();
      expect(await first).toBe('new');
      expect(await waiting).toBe('new');
      expect(calls).toBe(0);
      expect(leases.counted()).toBeLessThanOrEqual(3);
      await Promise.all([a.close(), b.close()]);
    }, 30_000);
  });

  describe('a waiter whose wait ends before the holder’s load does', () => {
    it('does not overwrite a set() that lands before its own load starts', async () => {
      const options = {
        name: unique('wait-timeout'),
        class: 'cluster',
        reason: 'lease wait timeout test',
        ttlMs: 60_000,
        l1: false,
        lease: { ttlMs: 60_000, waitMs: 200 },
        timeoutMs: 2_000,
      } as const;
      const a = new SharedCache<string>({ ...options, redis: await connect(), registry: new CacheRegistry() });
      const hooked = scriptHook(await connect(), [GENERATION_READ]);
      const b = new SharedCache<string>({ ...options, redis: hooked.client, registry: new CacheRegistry() });
      const holder = gatedLoader('held');
      const first = a.getOrSet('k', holder.loader);
      await holder.started;
      hooked.arm(() => a.set('k', 'explicit'));
      expect(await b.getOrSet('k', () => 'waited')).toBe('waited');
      expect(hooked.armed()).toBe(false); // the set ran, before B's load read the generation
      holder.release();
      expect(await first).toBe('held');
      expect(await a.get('k')).toBe('explicit');
      expect(await b.get('k')).toBe('explicit');
      await Promise.all([a.close(), b.close()]);
    }, 30_000);
  });

  describe('an early refresh started by an L1 hit', () => {
    it.each(LEASE_MODES)(
      'reloads an entry Redis lost (evicted, or a restart) instead of serving the L1 copy till it expires (%s)',
      async (_how, overrides) => {
        let now = 4_000_000;
        const clock = { now: () => now, random: () => 0.5 };
        const name = unique('l1-refresh-lost');
        // B's steps after its read of the entry: its lease, or (had it none) the generation it loads against.
        const bSteps = scriptHook(await connect(), [LEASE_ACQUIRE, GENERATION_READ]);
        // timeoutMs: the refresh runs in the background, and a step of it whose answer this process
        // reads after timeoutMs (the pods' 2 s; stalled under load) fails it before the loader runs,
        // and pauses refreshes on the injected clock, which stands still: the reload never comes.
        const [a, b] = await pods(
          { name, clock, ttlMs: 10_000, earlyRefresh: { beta: 100 }, timeoutMs: 10_000, ...overrides },
          { second: { redis: bSteps.client } },
        );
        const admin = await connect();
        const entryKey = `rampart:cache:${name}:{=k}`;
        const held = async (): Promise<unknown> =>
          JSON.parse(JSON.parse((await admin.get(entryKey)) ?? '{"v":"null"}').v);
        const first = (): string => {
          now += 500; // δ = 500 ms on the injected clock
          return 'v1';
        };
        const announced = nextAnnouncement(b, 'k');
        expect(await a.getOrSet('k', first)).toBe('v1');
        await announced; // else its late arrival could drop the copy B is about to keep
        expect(await b.get('k')).toBe('v1'); // B's L1 holds it too
        await admin.del(entryKey); // evicted, or lost with a restart
        now += 9_000; // 1 s before expiry: due
        const reload = gatedLoader('v2');
        let reloading = false;
        void reload.started.then(() => {
          reloading = true;
        });
        expect(await a.getOrSet('k', reload.loader)).toBe('v1'); // an L1 hit, which starts the refresh
        await waitFor(() => reloading, { timeoutMs: 5_000, what: 'the refresh to run the loader' });
        let otherLoads = 0;
        const withLease = !('lease' in overrides);
        // B's own refresh of its copy, while A's holds the lease: B does not load it a second time.
        // A's loader is held until B's step after its read was answered: were A's write to land
        // first, the entry it writes alone would stop B, and a B that skipped the lease would pass.
        if (withLease) {
          const other = (): string => {
            otherLoads += 1;
            return 'b';
          };
          const before = bSteps.answered();
          expect(await b.getOrSet('k', other)).toBe('v1');
          await waitFor(() => bSteps.answered() > before, {
            timeoutMs: 5_000,
            what: "B's refresh to try for the lease",
          });
          expect(otherLoads).toBe(0);
        }
        reload.release();
        await waitFor(async () => (await held()) === 'v2', {
          timeoutMs: 5_000,
          what: 'the refresh to reload the lost entry',
        });
        await waitFor(async () => (await b.get('k')) === 'v2', { timeoutMs: 5_000, what: 'B to drop v1' });
        expect(await a.get('k')).toBe('v2');
        expect(otherLoads).toBe(0);
        await Promise.all([a.close(), b.close()]);
      },
    );

    it.each(LEASE_MODES)(
      'does not overwrite a set() that lands before it starts loading (%s)',
      async (_how, overrides) => {
        let now = 3_000_000;
        const clock = { now: () => now, random: () => 0.5 };
        const name = unique('l1-refresh');
        const underlying = await connect();
        const hooked = scriptHook(underlying, [LEASE_ACQUIRE, GENERATION_READ]);
        const [a, b] = await pods({
          name,
          clock,
          ttlMs: 10_000,
          earlyRefresh: { beta: 100 },
          redis: hooked.client,
          ...overrides,
        });
        const admin = await connect();
        let calls = 0;
        const loader = (): string => {
          calls += 1;
          now += 500; // δ = 500 ms on the injected clock
          return `v${calls}`;
        };
        expect(await a.getOrSet('k', loader)).toBe('v1');
        now += 9_000; // 1 s before expiry: due
        hooked.arm(() => b.set('k', 'explicit'));
        expect(await a.getOrSet('k', loader)).toBe('v1'); // an L1 hit, which starts the refresh
        await waitFor(() => !hooked.armed(), { timeoutMs: 5_000, what: 'the refresh to reach Redis' });
        // Whatever the refresh does next is a few round trips on A's connection, sent before these.
        for (let i = 0; i < 5; i++) {
          await new Promise((resolve) => setImmediate(resolve));
          await underlying.ping();
        }
        expect(JSON.parse((await admin.get(`rampart:cache:${name}:{=k}`)) as string).v).toBe('"explicit"');
        await waitFor(async () => (await a.get('k')) === 'explicit', { timeoutMs: 5_000, what: 'A to drop v1' });
        expect(await b.get('k')).toBe('explicit');
        await Promise.all([a.close(), b.close()]);
      },
    );
  });

  describe('scripts loaded by ready()', () => {
    /** SCRIPT FLUSH on every master: Redis as a new server (or one just restarted) has it. */
    const flushScripts = async (): Promise<void> => {
      const admin = await connect();
      const nodes: Redis[] = admin.isCluster ? (admin as Cluster).nodes('master') : [admin as Redis];
      for (const node of nodes) await node.script('FLUSH');
    };

    // Without them, the first tagged call sent an EVALSHA per tag, got as many NOSCRIPT replies and
    // sent the whole script again per tag (up to 32 EVALs in one call bounded by timeoutMs).
    it('makes the first tagged calls after a SCRIPT FLUSH send EVALSHA, never EVAL', async () => {
      await flushScripts();
      const counted = tagCommandCounter(await connect());
      const cache = new SharedCache<string>({
        name: unique('preloaded'),
        class: 'pod',
        reason: 'script preload test',
        ttlMs: 60_000,
        redis: counted.client,
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await cache.ready();
      const tags = Array.from({ length: 32 }, (_, i) => `tenant-${i}`);
      expect(await cache.getOrSet('k', () => 'v', { tags })).toBe('v'); // every tag's version read
      expect(await cache.get('k')).toBe('v'); // every tag checked (GET)
      await cache.invalidateTags(tags); // every tag bumped
      expect(counted.sent()).toBe(3 * 32);
      expect(counted.evals()).toBe(0);
      // Scripts lost later (a SCRIPT FLUSH, a restart, a failover): reloaded by the NOSCRIPT fallback.
      // The first call's 31 bumps all meet NOSCRIPT and go again as EVAL; the last tag's bump, sent
      // once they are answered, finds the script loaded on its node.
      await flushScripts();
      await cache.invalidateTags(tags);
      expect(counted.evals()).toBe(31);
      await cache.close();
    });
  });

  describe('a miss whose tag versions Redis refuses', () => {
    // The read before a load (generation and tag versions) used to fail silently: the loader ran,
    // its value was not cached, and nothing reached onError, whatever the Redis-down policy.
    it('reports it to onError and follows the Redis-down policy (fail-closed throws, bypass loads)', async () => {
      const closedName = unique('tags-refused');
      const bypassName = unique('tags-refused-bypass');
      const client = await refusingTags(closedName, bypassName);
      const admin = await connect();
      const errors: unknown[] = [];
      const common = {
        reason: 'refused tag test',
        ttlMs: 60_000,
        redis: client,
        timeoutMs: 2_000,
        onError: (error: unknown) => errors.push(error),
      } as const;
      const closed = new SharedCache<string>({
        ...common,
        name: closedName,
        class: 'cluster',
        registry: new CacheRegistry(),
      });
      const bypass = new SharedCache<string>({
        ...common,
        name: bypassName,
        class: 'pod',
        registry: new CacheRegistry(),
      });
      let loads = 0;
      const loader = (): string => {
        loads += 1;
        return 'loaded';
      };
      const tags = ['secret-tenant-7f3a'];
      const refused = await closed.getOrSet('k', loader, { tags }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RedisStoreError);
      expect(refused).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      expect(loads).toBe(0);
      expect(await bypass.getOrSet('k', loader, { tags })).toBe('loaded');
      expect(loads).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RedisStoreError);
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      for (const error of [refused, errors[0]]) {
        const message = (error as Error).message;
        expect(message).not.toContain('secret-tenant');
        expect(message).not.toContain('rampart:');
      }
      // Nothing cached, and both leases given back.
      for (const name of [closedName, bypassName]) {
        expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
        expect(await admin.get(`rampart:cache:${name}:{=k}`)).toBeNull();
      }
      await Promise.all([closed.close(), bypass.close()]);
    });
  });

  describe('get() of an expired entry', () => {
    it('checks none of its tags', async () => {
      let now = 8_000_000;
      const counted = tagCommandCounter(await connect());
      const cache = new SharedCache<string>({
        name: unique('expired-tags'),
        class: 'pod',
        reason: 'expired entry test',
        ttlMs: 60_000,
        redis: counted.client,
        l1: false,
        timeoutMs: 2_000,
        clock: { now: () => now, random: () => 0.5 },
        registry: new CacheRegistry(),
      });
      const tags = ['a', 'b', 'c'];
      await cache.set('k', 'v', { tags });
      const afterSet = counted.sent();
      expect(await cache.get('k')).toBe('v');
      expect(counted.sent() - afterSet).toBe(3); // a fresh entry: every tag checked
      now += 61_000; // past its expiry; Redis keeps it (its PX runs on real time)
      const beforeExpired = counted.sent();
      expect(await cache.get('k')).toBeUndefined();
      expect(counted.sent()).toBe(beforeExpired);
      await cache.close();
    });
  });

  describe('an expired entry within staleIfErrorMs whose reload Redis refuses the tag versions of', () => {
    const loaderOf = (failing: boolean): { loader: () => string; loads: () => number } => {
      let loads = 0;
      return {
        loader: () => {
          loads += 1;
          if (failing) throw new Error('origin down');
          return 'fresh';
        },
        loads: () => loads,
      };
    };

    // The lease holder found the entry, expired within staleIfErrorMs, then failed to read the tag
    // versions its load needs: fail-closed threw, though the pods that lost the lease served it.
    it.each([
      ['fail-closed', false, 'old'],
      ['fail-closed', true, 'old'],
      ['bypass', false, 'fresh'],
      ['bypass', true, 'old'],
    ] as const)(
      'is served as the Redis-down policy says (the README JWKS setup without L1, %s, loader failing: %s)',
      async (policy, failing, expected) => {
        let now = 9_000_000;
        const name = unique('stale-refused');
        const errors: unknown[] = [];
        const cache = new SharedCache<string>({
          name,
          class: 'cluster',
          reason: 'stale entry with refused tags test',
          ttlMs: 60_000,
          redis: await refusingTags(name),
          l1: false,
          staleIfErrorMs: 3_600_000,
          onRedisDown: policy,
          timeoutMs: 2_000,
          clock: { now: () => now, random: () => 0.5 },
          onError: (error) => errors.push(error),
          registry: new CacheRegistry(),
        });
        await cache.set('k', 'old'); // untagged: no tag key is needed
        now += 61_000; // past its expiry, within staleIfErrorMs; Redis keeps it (its PX runs on real time)
        const { loader, loads } = loaderOf(failing);
        expect(await cache.getOrSet('k', loader, { tags: ['tenant-secret'] })).toBe(expected);
        // fail-closed serves the stale entry, as for a failed read, and runs no loader Redis could not cache for.
        expect(loads()).toBe(policy === 'fail-closed' ? 0 : 1);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
        expect((errors[0] as Error).message).not.toContain('tenant-secret');
        await cache.close();
      },
    );

    it.each([
      ['fail-closed', false, 'v2'],
      ['fail-closed', true, 'v2'],
      ['bypass', false, 'fresh'],
      ['bypass', true, 'v2'],
    ] as const)(
      'is preferred to this pod’s older L1 copy (%s, loader failing: %s)',
      async (policy, failing, expected) => {
        let now = 9_500_000;
        const clock = { now: () => now, random: () => 0.5 };
        const name = unique('stale-refused-l1');
        const common = {
          name,
          class: 'pod',
          reason: 'stale entry with refused tags test',
          ttlMs: 60_000,
          staleIfErrorMs: 3_600_000,
          timeoutMs: 2_000,
          clock,
        } as const;
        const errors: unknown[] = [];
        const a = new SharedCache<string>({
          ...common,
          redis: await refusingTags(name),
          onRedisDown: policy,
          onError: (error) => errors.push(error),
          registry: new CacheRegistry(),
        });
        const b = new SharedCache<string>({
          ...common,
          redis: await connect(),
          l1: false,
          registry: new CacheRegistry(),
        });
        expect(await a.getOrSet('k', () => 'v1')).toBe('v1'); // A's L1 keeps v1
        await b.set('k', 'v2'); // A listens to no announcement: its copy stays v1
        now += 61_000; // both expired, within staleIfErrorMs
        const { loader } = loaderOf(failing);
        expect(await a.getOrSet('k', loader, { tags: ['tenant-secret'] })).toBe(expected);
        expect(errors).toHaveLength(1);
        await Promise.all([a.close(), b.close()]);
      },
    );
  });

  describe('a load whose tag versions Redis refuses', () => {
    it.each(
      LEASE_MODES.flatMap(
        ([how, overrides]) =>
          [
            [how, 'a missing key', overrides, false],
            [how, 'an expired entry', overrides, true],
          ] as const,
      ),
    )('leaves no generation or lease key behind (%s, %s)', async (_how, _what, overrides, expired) => {
      let now = 10_000_000;
      const name = unique('refused-keys');
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name,
        class: 'pod',
        reason: 'refused tag keys test',
        ttlMs: 60_000,
        redis: await refusingTags(name),
        l1: false,
        timeoutMs: 2_000,
        clock: { now: () => now, random: () => 0.5 },
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
        ...overrides,
      });
      const admin = await connect();
      if (expired) {
        await cache.set('k', 'old');
        now += 61_000;
      }
      expect(await cache.getOrSet('k', () => 'fresh', { tags: ['t1'] })).toBe('fresh'); // bypass
      expect(errors).toHaveLength(1);
      expect(await keysMatching(admin, `rampart:cache:${name}:g:*`)).toEqual([]);
      expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
      await cache.close();
    });

    it.each(LEASE_MODES)(
      'in an early refresh leaves no generation or lease key behind (%s)',
      async (_how, overrides) => {
        let now = 11_000_000;
        const name = unique('refused-refresh');
        const errors: unknown[] = [];
        const cache = new SharedCache<string>({
          name,
          class: 'pod',
          reason: 'refused tag keys test',
          ttlMs: 10_000,
          redis: await refusingTags(name),
          l1: false,
          earlyRefresh: { beta: 100 },
          timeoutMs: 10_000,
          clock: { now: () => now, random: () => 0.5 },
          onError: (error) => errors.push(error),
          registry: new CacheRegistry(),
          ...overrides,
        });
        const admin = await connect();
        const first = (): string => {
          now += 500; // δ = 500 ms on the injected clock
          return 'v1';
        };
        expect(await cache.getOrSet('k', first)).toBe('v1'); // untagged
        now += 9_000; // 1 s before expiry: due
        expect(await cache.getOrSet('k', () => 'v2', { tags: ['t1'] })).toBe('v1'); // starts the refresh
        await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the refresh to report the refused tags' });
        expect(errors).toHaveLength(1);
        expect(await keysMatching(admin, `rampart:cache:${name}:g:*`)).toEqual([]);
        expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
        await cache.close();
      },
    );
  });

  describe('ready() and the scripts it loads', () => {
    /** A client of a Redis that is down at start-up (nothing listens on its port). */
    const unreachable = async (): Promise<Redis> => {
      const port = await getFreePort();
      const redis = new Redis({ port, host: '127.0.0.1', enableOfflineQueue: false, retryStrategy: () => 50 });
      redis.on('error', () => {});
      clients.push(redis);
      return redis;
    };

    // Loading is an optimisation: ready() rejected (retryable, "check that Redis is reachable") for
    // a user without SCRIPT, whose calls all work, so a caller retrying it looped for ever.
    it('resolves when Redis refuses SCRIPT LOAD (NOPERM), reporting it once to onError as not retryable', async () => {
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name: unique('no-script'),
        class: 'pod',
        reason: 'script refused test',
        ttlMs: 60_000,
        redis: await aclUser('no-script', ['~*', '&*', '+@all', '-script']),
        l1: false,
        timeoutMs: 2_000,
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
      });
      await cache.ready();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RedisStoreError);
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY', retryable: false });
      const message = (errors[0] as Error).message;
      expect(message).toContain('SharedCache');
      expect(message).not.toContain('reachable');
      // Every call works without them: a script Redis lacks is sent whole.
      expect(await cache.getOrSet('k', () => 'v', { tags: ['a', 'b'] })).toBe('v');
      expect(await cache.get('k')).toBe('v');
      await cache.close();
    });

    it('loadScripts rejects SCRIPT LOAD refused by an ACL as not retryable, saying what to grant', async () => {
      const client = await aclUser('no-script', ['~*', '&*', '+@all', '-script']);
      const error = await loadScripts(client, [TAG_READ], 2_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY', retryable: false });
      expect((error as Error).message).toContain('script|load');
    });

    // It resolved at once before ready() loaded scripts, then waited 10 s and rejected.
    it('does not wait for a Redis that is down at start-up (no subscriber), and reports the unloaded scripts', async () => {
      const redis = await unreachable();
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name: unique('down-at-start'),
        class: 'pod',
        reason: 'redis down at start-up test',
        ttlMs: 60_000,
        redis,
        timeoutMs: 2_000,
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
      });
      await cache.ready();
      expect(redis.status).not.toBe('ready');
      redis.disconnect(); // the background load gives up on the closed client and reports it
      await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the unloaded scripts to be reported' });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      await cache.close();
    });

    // The background load reports outside any caller: a throwing onError rejected a promise nobody
    // awaited, an unhandled rejection, which ends a Node process.
    it('swallows what onError throws, so a background load that fails never rejects unhandled', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const redis = await unreachable();
        let reports = 0;
        const cache = new SharedCache<string>({
          name: unique('throwing-on-error'),
          class: 'pod',
          reason: 'throwing onError test',
          ttlMs: 60_000,
          redis,
          timeoutMs: 2_000,
          onError: () => {
            reports += 1;
            throw new Error('the onError of the caller failed');
          },
          registry: new CacheRegistry(),
        });
        await cache.ready();
        redis.disconnect(); // the background load gives up on the closed client and reports it
        await waitFor(() => reports > 0, { timeoutMs: 5_000, what: 'the unloaded scripts to be reported' });
        // An unhandled rejection is reported once the microtasks of its turn ran: one more turn.
        await new Promise((resolve) => setImmediate(resolve));
        expect(reports).toBe(1);
        expect(unhandled).toEqual([]);
        await cache.close();
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    // A throwing onError is dropped, in background reports and in calls alike: once per cache, a
    // process warning shows that the reporter is broken, naming no key, tag or value.
    it('emits one process warning the first time onError throws, naming no key, tag or value', async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => {
        if ((warning as { code?: string }).code === 'RAMPART_ONERROR_THREW') warnings.push(warning);
      };
      process.on('warning', onWarning);
      try {
        const name = unique('warned-on-error');
        let reports = 0;
        const cache = new SharedCache<string>({
          name,
          class: 'pod',
          reason: 'throwing onError warning test',
          ttlMs: 60_000,
          redis: await refusingTags(name), // every tagged miss reports a refused tag step
          l1: false,
          timeoutMs: 2_000,
          onError: () => {
            reports += 1;
            throw new Error('the onError of the caller failed');
          },
          registry: new CacheRegistry(),
        });
        await cache.ready();
        for (const key of ['secret-key-1', 'secret-key-2'])
          expect(await cache.getOrSet(key, () => 'secret-value', { tags: ['secret-tag'] })).toBe('secret-value');
        expect(reports).toBe(2);
        // process.emitWarning emits on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]?.message).toContain(name);
        expect(warnings[0]?.message).not.toMatch(/secret|caller failed/);
        await cache.close();
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('reports nothing to onError once closed: a background load that fails after close() is not reported', async () => {
      const redis = await unreachable();
      const closedErrors: unknown[] = [];
      const openErrors: unknown[] = [];
      const common = { class: 'pod', reason: 'closed cache test', ttlMs: 60_000, redis, timeoutMs: 2_000 } as const;
      const closed = new SharedCache<string>({
        ...common,
        name: unique('closed-before-load'),
        onError: (error) => closedErrors.push(error),
        registry: new CacheRegistry(),
      });
      // A witness on the same client: its load fails on the same event as the closed cache's.
      const open = new SharedCache<string>({
        ...common,
        name: unique('open-witness'),
        onError: (error) => openErrors.push(error),
        registry: new CacheRegistry(),
      });
      await Promise.all([closed.ready(), open.ready()]);
      await closed.close();
      redis.disconnect();
      await waitFor(() => openErrors.length > 0, { timeoutMs: 5_000, what: 'the witness to report its load' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(closedErrors).toEqual([]);
      await open.close();
    });
  });

  describe('a fail-closed miss whose read succeeded but whose tag step Redis refuses', () => {
    // The L1 copy was served as if Redis were down (nobody could publish an invalidation then),
    // though Redis's read had just said the value was deleted or tag-invalidated.
    it.each(
      LEASE_MODES.flatMap(
        ([how, overrides]) =>
          [
            [how, 'deleted', overrides],
            [how, 'tag-invalidated', overrides],
          ] as const,
      ),
    )('never serves this pod’s L1 copy of a value the read found %s (%s)', async (_how, what, overrides) => {
      const name = unique('read-says-dead');
      const subscriber = await subscriberOf();
      const errors: unknown[] = [];
      const a = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the reviewer’s probe',
        ttlMs: 60_000,
        // Reads the tag keys but cannot write them: the tag step (TAG_READ extends the tag) is refused.
        redis: await aclUser('tags-read-only', [
          `~rampart:cache:${name}:[^t]*`,
          `%R~rampart:cache:${name}:t:*`,
          'allchannels',
          '+@all',
        ]),
        subscriber,
        staleIfErrorMs: 3_600_000,
        onRedisDown: 'fail-closed',
        timeoutMs: 2_000,
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
        ...overrides,
      });
      subscribers.set(a as SharedCache<unknown>, subscriber);
      await a.ready();
      // A shorter tag life than A's: A's tag step must extend the tag, a write its ACL refuses.
      const b = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the other pod',
        ttlMs: 60_000,
        redis: await connect(),
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
        ...overrides,
      });
      const announced = nextAnnouncement(a as SharedCache<unknown>, 'k');
      await b.set('k', 'old', { tags: ['x'] });
      await announced; // handled before A reads: it cannot drop the copy A's read keeps
      expect(await a.get('k')).toBe('old');
      expect(a.size).toBe(1); // held in A's L1
      subscriber.disconnect(); // A hears no invalidation from here on
      await waitFor(() => subscriber.status === 'end', { timeoutMs: 5_000, what: 'the subscriber to close' });
      if (what === 'deleted') await b.delete('k');
      else await b.invalidateTags(['x']);
      expect(await b.get('k')).toBeUndefined();
      expect(await a.get('k')).toBeUndefined();
      let loads = 0;
      const got = await a
        .getOrSet(
          'k',
          () => {
            loads += 1;
            return 'new';
          },
          { tags: ['x'] },
        )
        .catch((e: unknown) => e);
      expect(got).toBeInstanceOf(RedisStoreError);
      expect(got).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
      expect(loads).toBe(0);
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('this pod’s expired L1 copy of an entry its read finds tag-invalidated', () => {
    // The bump's announcement has not reached this pod (late or lost): its L1 still holds the copy,
    // expired, and a failing loader served it, though the read had just said the value was dead.
    it.each(LEASE_MODES)('is not served when the loader fails (%s)', async (_how, overrides) => {
      let now = 12_000_000;
      const name = unique('l1-stale-dead');
      const subscriber = await subscriberOf();
      const cache = new SharedCache<string>({
        name,
        class: 'pod',
        reason: 'stale L1 copy test',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        staleIfErrorMs: 3_600_000,
        timeoutMs: 2_000,
        clock: { now: () => now, random: () => 0.5 },
        registry: new CacheRegistry(),
        ...overrides,
      });
      await cache.ready();
      expect(await cache.getOrSet('k', () => 'old', { tags: ['x'] })).toBe('old');
      expect(cache.size).toBe(1);
      const admin = await connect();
      await admin.incr(`rampart:cache:${name}:t:x`); // invalidated in Redis; no announcement
      now += 61_000; // the copy and the entry expired, within staleIfErrorMs
      const got = await cache
        .getOrSet(
          'k',
          () => {
            throw new Error('origin down');
          },
          { tags: ['x'] },
        )
        .catch((e: unknown) => e);
      expect(got).toMatchObject({ message: 'origin down' });
      await cache.close();
    });
  });

  describe('a pod whose load ends without writing while another pod loads the key', () => {
    /** The options (but `redis` and `registry`) of every pod of cache `name`, in a {@link LEASE_MODES} mode. */
    const options = (name: string, overrides: (typeof LEASE_MODES)[number][1]) =>
      ({
        name,
        class: 'pod',
        reason: 'shared generation test',
        ttlMs: 60_000,
        l1: false,
        timeoutMs: 2_000,
        ...('lease' in overrides ? overrides : { lease: { waitMs: 50 } }),
      }) as const;

    // Generations are shared: a pod whose tag step or loader failed ended the generation another
    // pod's load in flight had made, so that pod's value was never cached.
    it.each(
      LEASE_MODES.flatMap(
        ([how, overrides]) =>
          [
            [how, 'its tag step is refused', overrides],
            [how, 'its loader fails', overrides],
          ] as const,
      ),
    )('leaves the other pod’s generation, so its value is cached (%s, %s)', async (_how, what, overrides) => {
      const name = unique('shared-generation');
      const admin = await connect();
      const common = options(name, overrides);
      const a = new SharedCache<string>({ ...common, redis: await connect(), registry: new CacheRegistry() });
      const refused = what === 'its tag step is refused';
      const c = new SharedCache<string>({
        ...common,
        redis: refused ? await refusingTags(name) : await connect(),
        registry: new CacheRegistry(),
      });
      const generations = `rampart:cache:${name}:g:*`;
      const { loader, started, release } = gatedLoader('good');
      const loadA = a.getOrSet('h', loader, { tags: ['y'] });
      await started;
      expect(await keysMatching(admin, generations)).toHaveLength(1);
      if (refused)
        expect(await c.getOrSet('h', () => 'c', { tags: ['y'] })).toBe('c'); // bypass: cached nowhere
      else
        await expect(
          c.getOrSet(
            'h',
            () => {
              throw new Error('not found');
            },
            { tags: ['y'] },
          ),
        ).rejects.toThrow('not found');
      expect(await keysMatching(admin, generations)).toHaveLength(1); // A's, still there
      release();
      expect(await loadA).toBe('good');
      expect(await a.get('h')).toBe('good'); // cached
      expect(await keysMatching(admin, generations)).toEqual([]);
      await Promise.all([a.close(), c.close()]);
    });

    // The reverse is not prevented: the pod that made the generation ends it when its own load
    // fails, and a pod that joined it writes nothing then. Only caching is lost, never a value
    // served stale, and nothing is left in Redis.
    it.each(LEASE_MODES)(
      'a joined pod’s value is not cached when the pod that made the generation fails (%s)',
      async (_how, overrides) => {
        const name = unique('creator-fails');
        const admin = await connect();
        const common = options(name, overrides);
        const p = new SharedCache<string>({ ...common, redis: await connect(), registry: new CacheRegistry() });
        const a = new SharedCache<string>({ ...common, redis: await connect(), registry: new CacheRegistry() });
        const generations = `rampart:cache:${name}:g:*`;
        const failing = deferred();
        const pStarted = deferred();
        const loadP = p
          .getOrSet('h', async () => {
            pStarted.resolve();
            await failing.promise;
            throw new Error('origin timed out');
          })
          .catch((e: unknown) => e);
        await pStarted.promise;
        const made = await keysMatching(admin, generations);
        expect(made).toHaveLength(1);
        const generation = await admin.get(made[0] ?? '');
        const { loader, started, release } = gatedLoader('good');
        const loadA = a.getOrSet('h', loader); // joins P's generation (with the lease: once its wait ran out)
        await started;
        expect(await admin.get(made[0] ?? '')).toBe(generation); // the same one, joined
        failing.resolve();
        expect(await loadP).toMatchObject({ message: 'origin timed out' });
        release();
        expect(await loadA).toBe('good'); // its caller gets it
        expect(await a.get('h')).toBeUndefined(); // not cached, nothing stale
        expect(await keysMatching(admin, `rampart:cache:${name}:*`)).toEqual([]);
        await Promise.all([p.close(), a.close()]);
      },
    );
  });

  describe('this pod’s expired L1 copy of an entry no longer in Redis (evicted, lost in a restart)', () => {
    // Absence cannot tell a delete from an eviction: a `pod` cache, whose outage copy is already a
    // per-pod one, serves its copy within staleIfErrorMs when the loader fails; a `cluster` cache
    // serves only what Redis holds.
    it.each(
      LEASE_MODES.flatMap(
        ([how, overrides]) =>
          [
            ['pod', how, overrides],
            ['cluster', how, overrides],
          ] as const,
      ),
    )('a %s cache whose loader fails (%s)', async (cls, _how, overrides) => {
      let now = 13_000_000;
      const name = unique('l1-stale-evicted');
      const subscriber = await subscriberOf();
      const cache = new SharedCache<string>({
        name,
        class: cls,
        reason: 'evicted entry test',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        staleIfErrorMs: 3_600_000,
        onRedisDown: 'bypass',
        timeoutMs: 2_000,
        clock: { now: () => now, random: () => 0.5 },
        registry: new CacheRegistry(),
        ...overrides,
      });
      await cache.ready();
      expect(await cache.getOrSet('k', () => 'old')).toBe('old');
      expect(cache.size).toBe(1);
      const admin = await connect();
      expect(await admin.del(`rampart:cache:${name}:{=k}`)).toBe(1); // evicted: no announcement
      now += 61_000; // the copy expired, within staleIfErrorMs
      const got = await cache
        .getOrSet('k', () => {
          throw new Error('origin down');
        })
        .catch((e: unknown) => e);
      if (cls === 'pod') expect(got).toBe('old');
      else expect(got).toMatchObject({ message: 'origin down' });
      await cache.close();
    });
  });
});
