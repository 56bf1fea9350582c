import { waitFor } from '@rampart/testkit';
import { describe, expect, it } from 'vitest';
import { CacheRegistry, loadScripts, type RedisClient, RedisStoreError, SharedCache } from '../src/index.ts';
import { TAG_BUMP, TAG_READ } from '../src/shared-cache/cache-scripts.ts';
import { LEASE_MODES, SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { tagCommandCounter } from './fixtures/tag-command-counter.ts';
import { keysMatching, ready } from './fixtures/targets.ts';

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

// What is cached and read back: entries, tags, L1 copies, expired and foreign entries, clear(), on a
// single node and on the 3-master cluster.
describe.each(SHARED_CACHE_TARGETS)('SharedCache on a %s', (_name, start) => {
  const { connect, subscriberOf, build, pods } = useSharedCacheTarget(start);

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
