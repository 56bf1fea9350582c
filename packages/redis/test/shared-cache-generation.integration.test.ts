import type { Socket } from 'node:net';
import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CacheRegistry, type RedisClient, SharedCache } from '../src/index.ts';
import {
  LEASE_ACQUIRE,
  LOAD_END,
  MAX_SHARES,
  READ_OR_GENERATION,
  READ_OR_LEASE,
  UNKNOWN_HOLDER,
  WRITE_IF_CURRENT,
} from '../src/shared-cache/cache-scripts.ts';
import { GENERATION_LIFE_MS } from '../src/shared-cache/redis-tier.ts';
import { deferred, gatedLoader } from './fixtures/gated-loader.ts';
import { startRedisProxy } from './fixtures/redis-proxy.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { keysMatching, singleNode } from './fixtures/targets.ts';

/** The two ways a pod computes a miss: under the cross-pod lease, or without one. */
const LEASE_MODES = [
  // A lease that outlives the test: the waiter joins the holder's generation once its wait runs out.
  ['with the lease', { lease: { ttlMs: 60_000, waitMs: 50 } }],
  ['without the lease', { lease: false as const }],
] as const;

type LeaseMode = { readonly lease: false | { readonly ttlMs: number; readonly waitMs: number } };

/** One pod of cache `name` on `redis`: no L1 (every read goes to Redis). */
const podOn = (redis: RedisClient, name: string, mode: LeaseMode): SharedCache<string> =>
  new SharedCache<string>({
    name,
    class: 'pod',
    reason: 'shared generation test',
    ttlMs: 60_000,
    l1: false,
    timeoutMs: 2_000,
    redis,
    registry: new CacheRegistry(),
    ...mode,
  });

/** Every key of cache `name` in Redis, of the kind `kind` (`g:` generations, `n:` holder sets, `` all). */
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

/**
 * A proxy in front of the single node that passes everything through, except that once armed it
 * forwards the next call of script `sha1` and drops Redis's reply to it, resetting the client's
 * connection: Redis ran the script, the client never heard, and ioredis resends it after
 * reconnecting (`autoResendUnfulfilledCommands`), so it runs twice. Armed with `holdResend`, the
 * proxy keeps that resend (and whatever the connection sends after it) until `releaseResend`, so a
 * test can interleave other pods' calls between the two runs.
 */
async function startReplyDroppingProxy(url: string) {
  const { hostname, port } = new URL(url);
  let armed: { sha1: string; dropped: () => void } | undefined;
  let holding: { sha1: string; held: () => void } | undefined;
  const resend = deferred();
  const kept = new Map<Socket, Buffer[]>();
  const proxy = await startRedisProxy({ host: hostname, port: Number(port) }, (chunk, client: Socket, upstream) => {
    const queue = kept.get(client);
    if (queue) {
      queue.push(chunk);
      return;
    }
    const hold = holding;
    if (hold !== undefined && chunk.includes(hold.sha1)) {
      holding = undefined;
      kept.set(client, [chunk]);
      void resend.promise.then(() => {
        for (const c of kept.get(client) ?? []) upstream.write(c);
        kept.delete(client);
      });
      hold.held();
      return;
    }
    upstream.write(chunk);
    const drop = armed;
    if (drop === undefined || !chunk.includes(drop.sha1)) return;
    armed = undefined;
    upstream.unpipe(client);
    upstream.once('data', () => {
      client.resetAndDestroy();
      upstream.destroy();
      drop.dropped();
    });
    upstream.resume();
  });
  return {
    connect: proxy.connect,
    stop: async () => {
      resend.resolve();
      await proxy.stop();
    },
    /** Drops the reply to the next call of `sha1`; resolves once it was dropped. */
    dropNextReply: (sha1: string) =>
      new Promise<void>((resolve) => {
        armed = { sha1, dropped: resolve };
      }),
    /**
     * Drops the reply to the next call of `sha1`, as `dropNextReply`, and keeps its resend:
     * `held` resolves once the resend reached the proxy (Redis has not seen it yet).
     */
    dropReplyAndHoldResend: (sha1: string) => {
      const held = deferred();
      const dropped = new Promise<void>((resolve) => {
        armed = {
          sha1,
          dropped: () => {
            holding = { sha1, held: held.resolve };
            resolve();
          },
        };
      });
      return { dropped, held: held.promise };
    },
    /** Sends the kept resend on to Redis. */
    releaseResend: resend.resolve,
  };
}

/**
 * The two scripts that take a pod's lease: the read of a miss, and the lease a pod asks for after a
 * read that found an entry it cannot use (here tag-invalidated: `prepare` makes that entry).
 */
const LEASE_TAKERS = [
  ['the read of a miss (READ_OR_LEASE)', READ_OR_LEASE, async (_cache: SharedCache<string>) => {}],
  [
    'the lease after an entry it cannot use (LEASE_ACQUIRE)',
    LEASE_ACQUIRE,
    async (cache: SharedCache<string>) => {
      await cache.set('h', 'invalidated', { tags: ['t'] });
      await cache.invalidateTags(['t']);
    },
  ],
] as const;

// What a load's join and leave do when Redis runs them twice, or runs them out of memory: on a
// single node, for the proxy and CONFIG SET.
describe('SharedCache generations when a join or a leave is resent or Redis is out of memory', () => {
  const shared = useSharedCacheTarget(singleNode);
  const { connect } = shared;

  it.each(LEASE_MODES)(
    'a failing load whose leave ran twice (reply lost, resent) leaves the other pod’s share: its value is cached (%s)',
    async (_how, mode) => {
      const { spec } = shared.target;
      if (spec.kind !== 'single') throw new Error('a single node was expected');
      const proxy = await startReplyDroppingProxy(spec.url);
      try {
        const name = unique('leave-resent');
        const admin = await connect();
        // Loaded, so the dropped reply is the script's own (not a NOSCRIPT before its EVAL).
        await (admin as Redis).script('LOAD', LOAD_END.lua);
        const p = podOn(await proxy.connect(), name, mode);
        const a = podOn(await connect(), name, mode);
        const loads = await twoLoads(p, a, 'h', ['p', 'origin timed out'], ['good']);
        const dropped = proxy.dropNextReply(LOAD_END.sha1);
        loads.releaseMaker();
        expect(await loads.makerLoad).toMatchObject({ message: 'origin timed out' });
        await dropped; // the leave ran, its reply was lost, and the resend was answered
        expect(await keysOf(admin, name, 'g:')).toHaveLength(1);
        loads.releaseJoiner();
        expect(await loads.joinerLoad).toBe('good');
        expect(await a.get('h')).toBe('good');
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await Promise.all([p.close(), a.close()]);
      } finally {
        await proxy.stop();
      }
    },
  );

  // A wait longer than the test's own timeout: a pod that waited out lease.waitMs behind its own
  // lease (the resent script refused it) would never get to its loader in time.
  const waitLong = { lease: { ttlMs: 60_000, waitMs: 60_000 } };

  it.each(
    LEASE_TAKERS.flatMap(([how, script, prepare]) => [
      [how, 'its load writes', script, prepare, undefined],
      [how, 'its load fails', script, prepare, 'not found'],
    ]),
  )(
    'a pod whose lease was taken twice (reply lost, resent) loads under it at once, the other pod gets its value, and no lease or share is left (%s, %s)',
    async (_how, _outcome, script, prepare, failure) => {
      const { spec } = shared.target;
      if (spec.kind !== 'single') throw new Error('a single node was expected');
      const proxy = await startReplyDroppingProxy(spec.url);
      try {
        const name = unique('lease-resent');
        const admin = await connect();
        // Loaded, so the dropped reply is the script's own (not a NOSCRIPT before its EVAL).
        await (admin as Redis).script('LOAD', script.lua);
        const p = podOn(await proxy.connect(), name, waitLong);
        const a = podOn(await connect(), name, waitLong);
        await prepare(a);
        const dropped = proxy.dropNextReply(script.sha1);
        const m = gatedLoader('from p', failure);
        const pLoad = p.getOrSet('h', m.loader, { tags: ['t'] }).catch((e: unknown) => e);
        await dropped; // the script ran, took the lease, its reply was lost, and the resend was answered
        await m.started; // under the lease the first run took: no wait
        expect(await keysOf(admin, name, 'l:')).toHaveLength(1);
        expect(await admin.scard(`rampart:cache:${name}:n:{=h}`)).toBe(1); // the resend added no second share
        if (failure === undefined) {
          // The other pod misses meanwhile: it waits for P's load, and never computes.
          let aComputed = false;
          const aLoad = a.getOrSet(
            'h',
            () => {
              aComputed = true;
              return 'from a';
            },
            { tags: ['t'] },
          );
          m.release();
          expect(await pLoad).toBe('from p');
          expect(await aLoad).toBe('from p');
          expect(aComputed).toBe(false);
        } else {
          m.release();
          expect(await pLoad).toMatchObject({ message: failure });
        }
        // P's lease, generation and share went with its write or its leave.
        for (const kind of ['l:', 'g:', 'n:']) expect(await keysOf(admin, name, kind)).toEqual([]);
        await Promise.all([p.close(), a.close()]);
      } finally {
        await proxy.stop();
      }
    },
    20_000,
  );

  it('a resent lease read that finds the generation it made ended by a delete gives its lease back: the pod that joined that generation before the delete does not cache its value, and the resending pod loads under a fresh lease', async () => {
    const { spec } = shared.target;
    if (spec.kind !== 'single') throw new Error('a single node was expected');
    const proxy = await startReplyDroppingProxy(spec.url);
    try {
      const name = unique('lease-resent-deleted');
      const admin = await connect();
      const key = (kind: string) => `rampart:cache:${name}:${kind}{=h}`;
      // Loaded, so the dropped reply is the script's own (not a NOSCRIPT before its EVAL).
      await (admin as Redis).script('LOAD', READ_OR_LEASE.lua);
      const p = podOn(await proxy.connect(), name, waitLong);
      // A short wait: A stops waiting behind P's lease and joins the generation P's first run made.
      const a = podOn(await connect(), name, { lease: { ttlMs: 60_000, waitMs: 50 } });
      const d = podOn(await connect(), name, { lease: false });
      const { dropped, held } = proxy.dropReplyAndHoldResend(READ_OR_LEASE.sha1);
      const pm = gatedLoader('from p, loaded after the delete');
      const pLoad = p.getOrSet('h', pm.loader).catch((e: unknown) => e);
      await dropped; // the first run took the lease and made the generation (its token); the reply was lost
      await held; // the resend waits at the proxy
      const am = gatedLoader('from a, read before the delete');
      const aLoad = a.getOrSet('h', am.loader).catch((e: unknown) => e);
      await am.started;
      const token = await admin.get(key('l:'));
      const made = await admin.get(key('g:'));
      expect(made?.startsWith(`${token}:`)).toBe(true); // A loads against P's generation
      await d.delete('h'); // ends it: nothing A read before may be written
      expect(await admin.exists(key('g:'), key('n:'))).toBe(0);
      proxy.releaseResend();
      await pm.started; // P loads (refused by the resend, under the lease its next poll took)
      expect(await admin.get(key('g:'))).not.toBe(made); // the ended generation was not made again
      am.release();
      expect(await aLoad).toBe('from a, read before the delete'); // to its caller, uncached
      expect(await d.get('h')).toBeUndefined();
      pm.release();
      expect(await pLoad).toBe('from p, loaded after the delete');
      expect(await d.get('h')).toBe('from p, loaded after the delete');
      expect(await keysOf(admin, name)).toEqual([key('')]); // no lease, generation or share left
      await Promise.all([p.close(), a.close(), d.close()]);
    } finally {
      await proxy.stop();
    }
  }, 20_000);

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
