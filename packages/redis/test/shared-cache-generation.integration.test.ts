import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import type { SharedCache } from '../src/index.ts';
import {
  LEASE_ACQUIRE,
  MAX_SHARES,
  READ_OR_GENERATION,
  READ_OR_LEASE,
  UNKNOWN_HOLDER,
  WRITE_IF_CURRENT,
} from '../src/shared-cache/cache-scripts.ts';
import { GENERATION_LIFE_MS } from '../src/shared-cache/redis-tier.ts';
import { gatedLoader } from './fixtures/gated-loader.ts';
import {
  keysOf,
  GENERATION_LEASE_MODES as LEASE_MODES,
  type LeaseMode,
  podOn,
  twoLoads,
} from './fixtures/generation-pods.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { singleNode } from './fixtures/targets.ts';

// Pods share a key's generation: a load that ends without writing takes its share out of it, and
// only the load whose share was the last one ends it. On a single node and on the 3-master cluster.
describe.each(SHARED_CACHE_TARGETS)('SharedCache generations on a %s', (_name, start) => {
  const { connect } = useSharedCacheTarget(start);

  /** One pod of cache `name`: its own client, no L1 (every read goes to Redis). */
  const pod = async (name: string, mode: LeaseMode): Promise<SharedCache<string>> => podOn(await connect(), name, mode);

  describe('a load that fails while another pod’s load holds the same generation', () => {
    it.each(LEASE_MODES)(
      'leaves the generation to the other load, whose value is cached, when the failing pod made it (%s)',
      async (_how, mode) => {
        const name = unique('maker-fails');
        const admin = await connect();
        const [p, a] = [await pod(name, mode), await pod(name, mode)];
        const loads = await twoLoads(p, a, 'h', ['p', 'origin timed out'], ['good']);
        const generations = await keysOf(admin, name, 'g:');
        expect(generations).toHaveLength(1); // one generation, made by P and joined by A
        loads.releaseMaker();
        expect(await loads.makerLoad).toMatchObject({ message: 'origin timed out' });
        loads.releaseJoiner();
        expect(await loads.joinerLoad).toBe('good');
        expect(await p.get('h')).toBe('good'); // cached in Redis: the other pod reads it
        // The write ended the generation and its holder set.
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await Promise.all([p.close(), a.close()]);
      },
    );

    it.each(LEASE_MODES)(
      'leaves the generation to the load that made it, whose value is cached, when a joined pod fails (%s)',
      async (_how, mode) => {
        const name = unique('joiner-fails');
        const admin = await connect();
        const [p, a] = [await pod(name, mode), await pod(name, mode)];
        const loads = await twoLoads(p, a, 'h', ['good'], ['a', 'not found']);
        loads.releaseJoiner();
        expect(await loads.joinerLoad).toMatchObject({ message: 'not found' });
        expect(await keysOf(admin, name, 'g:')).toHaveLength(1); // P's, still there
        loads.releaseMaker();
        expect(await loads.makerLoad).toBe('good');
        expect(await a.get('h')).toBe('good');
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await Promise.all([p.close(), a.close()]);
      },
    );
  });

  describe('loads of one key that all fail', () => {
    it.each(
      LEASE_MODES.flatMap(
        ([how, mode]) =>
          [
            [how, 'the pod that made the generation first', mode, true],
            [how, 'the pod that joined it first', mode, false],
          ] as const,
      ),
    )('leave no key behind, generation and holder set included (%s, %s)', async (_how, _order, mode, makerFirst) => {
      const name = unique('all-fail');
      const admin = await connect();
      const [p, a] = [await pod(name, mode), await pod(name, mode)];
      for (let i = 0; i < 10; i++) {
        const key = `missing:${i}`;
        const loads = await twoLoads(p, a, key, ['p', 'not found'], ['a', 'not found']);
        // While both load: one generation and its two loads' shares, each with a bounded life.
        const [generation, ...moreGenerations] = await keysOf(admin, name, 'g:');
        const [holders, ...moreHolders] = await keysOf(admin, name, 'n:');
        expect([moreGenerations, moreHolders]).toEqual([[], []]);
        expect(await admin.scard(holders ?? '')).toBe(2);
        for (const held of [generation, holders]) {
          const life = await admin.pttl(held ?? '');
          expect(life).toBeGreaterThan(0);
          expect(life).toBeLessThanOrEqual(GENERATION_LIFE_MS);
        }
        const [first, second] = makerFirst
          ? [loads.releaseMaker, loads.releaseJoiner]
          : [loads.releaseJoiner, loads.releaseMaker];
        first();
        await (makerFirst ? loads.makerLoad : loads.joinerLoad);
        expect(await admin.scard(holders ?? '')).toBe(1); // the other load still holds the generation
        second();
        expect(await loads.makerLoad).toMatchObject({ message: 'not found' });
        expect(await loads.joinerLoad).toMatchObject({ message: 'not found' });
      }
      expect(await keysOf(admin, name)).toEqual([]);
      // The key still caches normally afterwards, on either pod.
      expect(await a.getOrSet('missing:0', () => 'found')).toBe('found');
      expect(await p.get('missing:0')).toBe('found');
      await Promise.all([p.close(), a.close()]);
    });
  });

  describe('a generation whose holders this version cannot all see', () => {
    it.each(LEASE_MODES)(
      'one an older version made (no holder set) outlives a load that joins it and fails, for the older pod to write against (%s)',
      async (_how, mode) => {
        const name = unique('older-maker');
        const admin = await connect();
        const a = await pod(name, mode);
        const [generationKey, holdersKey] = [`rampart:cache:${name}:g:{=h}`, `rampart:cache:${name}:n:{=h}`];
        // An older pod's load in flight: its generation, with no holder set beside it.
        await admin.set(generationKey, 'older-pods-generation', 'PX', 60_000);
        const j = gatedLoader('a', 'not found');
        const load = a.getOrSet('h', j.loader).catch((e: unknown) => e);
        await j.started;
        // The holders it cannot see are one share no load holds, beside this load's own.
        expect(await admin.scard(holdersKey)).toBe(2);
        expect(await admin.sismember(holdersKey, UNKNOWN_HOLDER)).toBe(1);
        j.release();
        expect(await load).toMatchObject({ message: 'not found' });
        // Still the older pod's generation, so its write is cached; both keys keep a bounded life.
        expect(await admin.get(generationKey)).toBe('older-pods-generation');
        expect(await admin.smembers(holdersKey)).toEqual([UNKNOWN_HOLDER]);
        for (const held of [generationKey, holdersKey]) {
          const life = await admin.pttl(held);
          expect(life).toBeGreaterThan(0);
          expect(life).toBeLessThanOrEqual(GENERATION_LIFE_MS);
        }
        // A write ends it as usual, holders included.
        await a.set('h', 'set');
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await a.close();
      },
    );

    it.each(LEASE_MODES)(
      'a holder set lost while two pods load (evicted) lets no failing load end the generation: the other pod’s value is cached (%s)',
      async (_how, mode) => {
        const name = unique('holders-lost');
        const admin = await connect();
        const [p, a] = [await pod(name, mode), await pod(name, mode)];
        const loads = await twoLoads(p, a, 'h', ['p', 'origin timed out'], ['good']);
        expect(await admin.del(`rampart:cache:${name}:n:{=h}`)).toBe(1);
        loads.releaseMaker();
        expect(await loads.makerLoad).toMatchObject({ message: 'origin timed out' });
        expect(await keysOf(admin, name, 'g:')).toHaveLength(1);
        loads.releaseJoiner();
        expect(await loads.joinerLoad).toBe('good');
        expect(await p.get('h')).toBe('good');
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await Promise.all([p.close(), a.close()]);
      },
    );

    it('a holder set full of shares never taken out (crashed pods) starts again as the unknown holder and the joining load', async () => {
      const name = unique('holders-full');
      const admin = await connect();
      const a = await pod(name, { lease: false });
      const [generationKey, holdersKey] = [`rampart:cache:${name}:g:{=h}`, `rampart:cache:${name}:n:{=h}`];
      await admin.set(generationKey, 'crowded', 'PX', 60_000);
      const crashed = Array.from({ length: MAX_SHARES }, (_, i) => `crashed-${i}`);
      await admin.sadd(holdersKey, ...crashed);
      await admin.pexpire(holdersKey, 60_000);
      const j = gatedLoader('a', 'not found');
      const load = a.getOrSet('h', j.loader).catch((e: unknown) => e);
      await j.started;
      expect(await admin.scard(holdersKey)).toBe(2);
      expect(await admin.sismember(holdersKey, UNKNOWN_HOLDER)).toBe(1);
      j.release();
      expect(await load).toMatchObject({ message: 'not found' });
      expect(await admin.get(generationKey)).toBe('crowded');
      expect(await admin.smembers(holdersKey)).toEqual([UNKNOWN_HOLDER]);
      await a.close();
    });
  });

  describe('an invalidation during two pods’ loads of the key', () => {
    it.each(LEASE_MODES)('delete(): neither load writes, and no key is left (%s)', async (_how, mode) => {
      const name = unique('delete-two-loads');
      const admin = await connect();
      const [p, a] = [await pod(name, mode), await pod(name, mode)];
      const loads = await twoLoads(p, a, 'h', ['from p'], ['from a']);
      await a.delete('h');
      // The generation and its holders went (the lease, with it, stays its holder's to give back).
      expect([...(await keysOf(admin, name, 'g:')), ...(await keysOf(admin, name, 'n:'))]).toEqual([]);
      loads.releaseMaker();
      loads.releaseJoiner();
      expect(await loads.makerLoad).toBe('from p'); // each caller gets its value
      expect(await loads.joinerLoad).toBe('from a');
      expect(await p.get('h')).toBeUndefined(); // neither was written back
      expect(await keysOf(admin, name)).toEqual([]);
      await Promise.all([p.close(), a.close()]);
    });

    it.each(LEASE_MODES)(
      'set(): its value stands over both loads, and no generation is left (%s)',
      async (_how, mode) => {
        const name = unique('set-two-loads');
        const admin = await connect();
        const [p, a] = [await pod(name, mode), await pod(name, mode)];
        const loads = await twoLoads(p, a, 'h', ['from p'], ['from a']);
        await a.set('h', 'set');
        loads.releaseJoiner();
        loads.releaseMaker();
        expect(await loads.makerLoad).toBe('from p');
        expect(await loads.joinerLoad).toBe('from a');
        expect(await p.get('h')).toBe('set');
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await Promise.all([p.close(), a.close()]);
      },
    );

    it.each(LEASE_MODES)(
      'clear(): neither load writes, and its passes remove the holder sets too (%s)',
      async (_how, mode) => {
        const name = unique('clear-two-loads');
        const admin = await connect();
        const [p, a] = [await pod(name, mode), await pod(name, mode)];
        const loads = await twoLoads(p, a, 'h', ['from p'], ['from a']);
        expect(await keysOf(admin, name, 'n:')).toHaveLength(1);
        await p.clear();
        expect(await keysOf(admin, name)).toEqual([]);
        loads.releaseMaker();
        loads.releaseJoiner();
        expect(await loads.makerLoad).toBe('from p');
        expect(await loads.joinerLoad).toBe('from a');
        expect(await a.get('h')).toBeUndefined();
        expect(await keysOf(admin, name)).toEqual([]);
        await Promise.all([p.close(), a.close()]);
      },
    );
  });
});

// What a lease script or a join does when Redis runs it twice (sent again by hand, as ioredis
// resends it; the real resends, through a proxy, are in shared-cache-resend.integration.test.ts),
// and what a leave does when Redis is out of memory: on a single node, for CONFIG SET.
describe('SharedCache generations when a join or a lease script runs twice or Redis is out of memory', () => {
  const { connect } = useSharedCacheTarget(singleNode);

  // The same two runs of each lease script, sent by hand with the same arguments (as ioredis
  // resends them), around what ends the generation the first run made: the early refresh's lease
  // (LEASE_ACQUIRE without an entry to check) has no entry check to refuse it.
  const LEASE_SCRIPT_RUNS = [
    [
      'READ_OR_LEASE',
      READ_OR_LEASE,
      (name: string) => [`${name}{=h}`, `${name}l:{=h}`, `${name}g:{=h}`, `${name}n:{=h}`],
      (token: string) => [token, '60000', token, String(GENERATION_LIFE_MS)],
      [null, 0],
    ],
    [
      'LEASE_ACQUIRE',
      LEASE_ACQUIRE,
      (name: string) => [`${name}l:{=h}`, `${name}g:{=h}`, `${name}{=h}`, `${name}n:{=h}`],
      (token: string) => [token, '60000', token, String(GENERATION_LIFE_MS), ''],
      [0],
    ],
  ] as const;

  it.each(
    LEASE_SCRIPT_RUNS.flatMap(([how, script, keysFor, argsFor, refused]) => [
      [how, 'a delete ended it', false, script, keysFor, argsFor, refused] as const,
      [how, 'a delete ended it and another load made a new one', true, script, keysFor, argsFor, refused] as const,
    ]),
  )(
    '%s run again after %s refuses, gives the lease back and leaves the generation alone',
    async (_script, _between, another, script, keysFor, argsFor, refused) => {
      const name = unique('lease-run-twice');
      const admin = (await connect()) as Redis;
      const base = `rampart:cache:${name}:`;
      const keys = keysFor(base);
      const args = argsFor('resent-token-T01');
      const d = podOn(await connect(), name, { lease: false });
      const first = (await admin.eval(script.lua, keys.length, ...keys, ...args)) as unknown[];
      expect(String(first.at(-1))).toMatch(/^resent-token-T01:/); // the lease, and a generation of its token
      await d.delete('h');
      let other: string | null = null;
      if (another) {
        const dm = gatedLoader('from d');
        const dLoad = d.getOrSet('h', dm.loader);
        await dm.started;
        other = await admin.get(`${base}g:{=h}`);
        expect(other).not.toBeNull();
        const second = await admin.eval(script.lua, keys.length, ...keys, ...args);
        expect(second).toEqual(refused);
        expect(await admin.get(`${base}g:{=h}`)).toBe(other); // not joined, not replaced
        expect(await admin.sismember(`${base}n:{=h}`, 'resent-token-T01')).toBe(0);
        dm.release();
        expect(await dLoad).toBe('from d');
        expect(await keysOf(admin, name)).toEqual([`${base}{=h}`]);
      } else {
        const second = await admin.eval(script.lua, keys.length, ...keys, ...args);
        expect(second).toEqual(refused);
        expect(await keysOf(admin, name)).toEqual([]); // no lease, and no generation made again
      }
      await d.close();
    },
  );

  // Without a lease nothing refuses a resent join: it makes a new generation, never the ended one.
  it('a join run again after a delete makes a new generation, which a load that joined the ended one does not hold', async () => {
    const name = unique('join-run-twice');
    const admin = (await connect()) as Redis;
    const base = `rampart:cache:${name}:`;
    const keys = [`${base}{=h}`, `${base}g:{=h}`, `${base}n:{=h}`];
    const args = ['resent-token-T02', String(GENERATION_LIFE_MS)];
    const d = podOn(await connect(), name, { lease: false });
    const [, first] = (await admin.eval(READ_OR_GENERATION.lua, keys.length, ...keys, ...args)) as [null, string];
    await d.delete('h');
    const [, second] = (await admin.eval(READ_OR_GENERATION.lua, keys.length, ...keys, ...args)) as [null, string];
    expect(second).not.toBe(first);
    expect(await admin.get(`${base}g:{=h}`)).toBe(second);
    // A load holding the first (read before the delete) is refused its write.
    const writeKeys = [`${base}{=h}`, `${base}l:{=h}`, `${base}g:{=h}`, `${base}n:{=h}`];
    const written = (await admin.eval(WRITE_IF_CURRENT.lua, 4, ...writeKeys, 'v', '60000', '', first, '', '')) as [
      number,
      unknown,
    ];
    expect(written[0]).toBe(0);
    expect(await admin.exists(`${base}{=h}`)).toBe(0);
    expect(await admin.exists(`${base}{=h}`)).toBe(0);
    await d.close();
  });

  it.each(LEASE_MODES)(
    'loads that fail leave under maxmemory with noeviction, so they leave no key behind (%s)',
    async (_how, mode) => {
      const name = unique('leave-oom');
      const admin = (await connect()) as Redis;
      const [p, a] = [podOn(await connect(), name, mode), podOn(await connect(), name, mode)];
      const loads = await twoLoads(p, a, 'h', ['p', 'not found'], ['a', 'not found']);
      const [, maxmemory] = (await admin.config('GET', 'maxmemory')) as [string, string];
      const [, policy] = (await admin.config('GET', 'maxmemory-policy')) as [string, string];
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.config('SET', 'maxmemory', '1');
      try {
        // Out of memory: a join (SADD, SET) is refused now.
        await expect(admin.sadd(`rampart:cache:${name}:probe`, 'x')).rejects.toThrow(/^OOM/);
        // Either order leaves: LOAD_END has no `denyoom` command. The joiner goes first only because
        // that was the case the count this replaced failed (a joiner's leave began with its DECR,
        // `denyoom`, refused; the lease holder's DEL of its lease came before its DECR).
        loads.releaseJoiner();
        expect(await loads.joinerLoad).toMatchObject({ message: 'not found' });
        loads.releaseMaker();
        expect(await loads.makerLoad).toMatchObject({ message: 'not found' });
        expect(await keysOf(admin, name)).toEqual([]);
      } finally {
        await admin.config('SET', 'maxmemory', maxmemory);
        await admin.config('SET', 'maxmemory-policy', policy);
      }
      await Promise.all([p.close(), a.close()]);
    },
  );
});
