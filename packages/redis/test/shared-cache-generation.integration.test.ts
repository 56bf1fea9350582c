import { describe, expect, it } from 'vitest';
import { CacheRegistry, type RedisClient, SharedCache } from '../src/index.ts';
import { gatedLoader } from './fixtures/gated-loader.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { keysMatching } from './fixtures/targets.ts';

/** The two ways a pod computes a miss: under the cross-pod lease, or without one. */
const LEASE_MODES = [
  // A lease that outlives the test: the waiter joins the holder's generation once its wait runs out.
  ['with the lease', { lease: { ttlMs: 60_000, waitMs: 50 } }],
  ['without the lease', { lease: false as const }],
] as const;

type LeaseMode = (typeof LEASE_MODES)[number][1];

/** The most life a key's generation and its load count may have (`GENERATION_LIFE_MS` in redis-tier.ts). */
const GENERATION_LIFE_MS = 3_600_000;

// Pods share a key's generation: a load that ends without writing leaves it, and only the last load
// holding it ends it. On a single node and on the 3-master cluster.
describe.each(SHARED_CACHE_TARGETS)('SharedCache generations on a %s', (_name, start) => {
  const { connect } = useSharedCacheTarget(start);

  /** One pod of cache `name`: its own client, no L1 (every read goes to Redis). */
  const pod = async (name: string, mode: LeaseMode): Promise<SharedCache<string>> =>
    new SharedCache<string>({
      name,
      class: 'pod',
      reason: 'shared generation test',
      ttlMs: 60_000,
      l1: false,
      timeoutMs: 2_000,
      redis: await connect(),
      registry: new CacheRegistry(),
      ...mode,
    });

  /** Every key of cache `name` in Redis, of the kind `kind` (`g:` generations, `n:` load counts, `` all). */
  const keysOf = async (admin: RedisClient, name: string, kind = ''): Promise<string[]> =>
    keysMatching(admin, `rampart:cache:${name}:${kind}*`);

  /**
   * Pod `maker` starts loading `key` (its loader held, making the generation), then pod `joiner`
   * (joining it: at once without the lease, once its wait runs out with it); resolves once both
   * loaders run. Each pod's load settles to its value or its error.
   */
  const twoLoads = async (
    maker: SharedCache<string>,
    joiner: SharedCache<string>,
    key: string,
    [makerValue, makerFailure]: readonly [string, string?],
    [joinerValue, joinerFailure]: readonly [string, string?],
  ) => {
    const m = gatedLoader(makerValue, makerFailure);
    const makerLoad = maker.getOrSet(key, m.loader).catch((e: unknown) => e);
    await m.started;
    const j = gatedLoader(joinerValue, joinerFailure);
    const joinerLoad = joiner.getOrSet(key, j.loader).catch((e: unknown) => e);
    await j.started;
    return { makerLoad, joinerLoad, releaseMaker: m.release, releaseJoiner: j.release };
  };

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
        // The write ended the generation and its load count.
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
    )('leave no key behind, generation and load count included (%s, %s)', async (_how, _order, mode, makerFirst) => {
      const name = unique('all-fail');
      const admin = await connect();
      const [p, a] = [await pod(name, mode), await pod(name, mode)];
      for (let i = 0; i < 10; i++) {
        const key = `missing:${i}`;
        const loads = await twoLoads(p, a, key, ['p', 'not found'], ['a', 'not found']);
        // While both load: one generation and its count of two loads, each with a bounded life.
        const [generation, ...moreGenerations] = await keysOf(admin, name, 'g:');
        const [count, ...moreCounts] = await keysOf(admin, name, 'n:');
        expect([moreGenerations, moreCounts]).toEqual([[], []]);
        expect(await admin.get(count ?? '')).toBe('2');
        for (const held of [generation, count]) {
          const life = await admin.pttl(held ?? '');
          expect(life).toBeGreaterThan(0);
          expect(life).toBeLessThanOrEqual(GENERATION_LIFE_MS);
        }
        const [first, second] = makerFirst
          ? [loads.releaseMaker, loads.releaseJoiner]
          : [loads.releaseJoiner, loads.releaseMaker];
        first();
        await (makerFirst ? loads.makerLoad : loads.joinerLoad);
        expect(await admin.get(count ?? '')).toBe('1'); // the other load still holds the generation
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

  describe('an invalidation during two pods’ loads of the key', () => {
    it.each(LEASE_MODES)('delete(): neither load writes, and no key is left (%s)', async (_how, mode) => {
      const name = unique('delete-two-loads');
      const admin = await connect();
      const [p, a] = [await pod(name, mode), await pod(name, mode)];
      const loads = await twoLoads(p, a, 'h', ['from p'], ['from a']);
      await a.delete('h');
      // The generation and its count went (the lease, with it, stays its holder's to give back).
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
      'clear(): neither load writes, and its passes remove the load counts too (%s)',
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
