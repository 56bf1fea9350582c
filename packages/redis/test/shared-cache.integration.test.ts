import { waitFor } from '@rampart/testkit';
import { describe, expect, it } from 'vitest';
import {
  CacheRegistry,
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
} from '../src/shared-cache/cache-scripts.ts';
import { deferred, gatedLoader } from './fixtures/gated-loader.ts';
import { LEASE_MODES, SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { tagCommandCounter } from './fixtures/tag-command-counter.ts';
import { keysMatching } from './fixtures/targets.ts';

// Races between loads, invalidations, writes and waiting pods, on a single node and on the 3-master cluster.
describe.each(SHARED_CACHE_TARGETS)('SharedCache on a %s', (_name, start) => {
  const { connect, withoutChannels, refusingTags, pods, nextAnnouncement } = useSharedCacheTarget(start);

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
    // The reverse (the pod that made the generation fails while another loads against it) is in
    // shared-cache-generation.integration.test.ts, with the load count that decides it.
  });
});
