import { describe, expect, it } from 'vitest';
import { loadScripts, type RedisClient, type RedisScript, type SharedCache } from '../src/index.ts';
import { LEASE_ACQUIRE, LOAD_END, READ_OR_LEASE } from '../src/shared-cache/cache-scripts.ts';
import { gatedLoader } from './fixtures/gated-loader.ts';
import {
  GENERATION_LEASE_MODES,
  keysOf,
  type LeaseMode,
  leftoverLoadKeys,
  podOn,
  twoLoads,
} from './fixtures/generation-pods.ts';
import { type ReplyDroppingProxy, startReplyDroppingProxy } from './fixtures/reply-dropping-proxy.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';

// Every call of these tests' pods may wait for a reconnect, a Cluster's retry and a resend the proxy
// holds: a `timeoutMs` (not under test here) that outlasts them on a loaded machine, as the README
// asks of a deployment that counts on the resend.
const RESEND_TIMEOUT_MS = 30_000;
const TEST_TIMEOUT_MS = 60_000;

/**
 * The two scripts that take a pod's lease: the read of a miss, and the lease a pod asks for after a
 * read that found an entry it cannot use (here tag-invalidated: `prepare` makes that entry).
 */
/** An entry under `h` that a load cannot use (its tag invalidated): a miss then asks LEASE_ACQUIRE. */
const invalidateH = async (cache: SharedCache<string>): Promise<void> => {
  await cache.set('h', 'invalidated', { tags: ['t'] });
  await cache.invalidateTags(['t']);
};

const LEASE_TAKERS = [
  ['the read of a miss (READ_OR_LEASE)', READ_OR_LEASE, async (_cache: SharedCache<string>) => {}],
  ['the lease after an entry it cannot use (LEASE_ACQUIRE)', LEASE_ACQUIRE, invalidateH],
] as const;

// What a load's join, lease and leave do when Redis runs them twice: the reply to the first run is
// lost and ioredis sends it again (see startReplyDroppingProxy), on a single node and on the
// 3-master cluster (a proxy per master).
describe.each(SHARED_CACHE_TARGETS)('SharedCache when a join, a lease or a leave is resent on a %s', (_name, start) => {
  const shared = useSharedCacheTarget(start);
  const { connect } = shared;

  /**
   * An admin client and a proxy in front of the deployment, with `script` loaded on every master
   * (so the dropped reply is the script's own, not a NOSCRIPT before its EVAL); the proxy is
   * stopped after `run`.
   */
  const withProxy = async (
    script: RedisScript,
    run: (proxy: ReplyDroppingProxy, admin: RedisClient) => Promise<void>,
  ): Promise<void> => {
    const proxy = await startReplyDroppingProxy(shared.target.spec);
    try {
      const admin = await connect();
      await loadScripts(admin, [script]);
      await run(proxy, admin);
    } finally {
      await proxy.stop();
    }
  };

  /** A pod of cache `name` through the proxy, or (without one) straight to Redis. */
  const pod = async (name: string, mode: LeaseMode, proxy?: ReplyDroppingProxy): Promise<SharedCache<string>> =>
    podOn(await (proxy ?? { connect }).connect(), name, mode, RESEND_TIMEOUT_MS);

  it.each(GENERATION_LEASE_MODES)(
    'a failing load whose leave ran twice (reply lost, resent) leaves the other pod’s share: its value is cached (%s)',
    (_how, mode) =>
      withProxy(LOAD_END, async (proxy, admin) => {
        const name = unique('leave-resent');
        const p = await pod(name, mode, proxy);
        const a = await pod(name, mode);
        const loads = await twoLoads(p, a, 'h', ['p', 'origin timed out'], ['good']);
        const { dropped, held } = proxy.dropReplyAndHoldResend(LOAD_END.sha1);
        loads.releaseMaker();
        await dropped; // the leave ran and its reply was lost
        await held; // its resend reached the proxy (a failed leave is not reported: this shows it was sent)
        expect(await keysOf(admin, name, 'g:')).toHaveLength(1); // the first run left A's share
        proxy.releaseResend();
        // Settled once the resend was answered (the load awaits its leave).
        expect(await loads.makerLoad).toMatchObject({ message: 'origin timed out' });
        expect(await keysOf(admin, name, 'g:')).toHaveLength(1);
        loads.releaseJoiner();
        expect(await loads.joinerLoad).toBe('good');
        expect(await a.get('h')).toBe('good');
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        await Promise.all([p.close(), a.close()]);
      }),
    TEST_TIMEOUT_MS,
  );

  // A wait longer than the test's own timeout: a pod that waited out lease.waitMs behind its own
  // lease (the resent script refused it) would never get to its loader in time.
  const waitLong = { lease: { ttlMs: 60_000, waitMs: 120_000 } };

  it.each(
    LEASE_TAKERS.flatMap(([how, script, prepare]) => [
      [how, 'its load writes', script, prepare, undefined],
      [how, 'its load fails', script, prepare, 'not found'],
    ]),
  )(
    'a pod whose lease was taken twice (reply lost, resent) loads under it at once, the other pod gets its value, and no lease or share is left (%s, %s)',
    (_how, _outcome, script, prepare, failure) =>
      withProxy(script, async (proxy, admin) => {
        const name = unique('lease-resent');
        const p = await pod(name, waitLong, proxy);
        const a = await pod(name, waitLong);
        await prepare(a);
        const dropped = proxy.dropNextReply(script.sha1);
        const m = gatedLoader('from p', failure);
        const pLoad = p.getOrSet('h', m.loader, { tags: ['t'] }).catch((e: unknown) => e);
        await dropped; // the script ran, took the lease, and its reply was lost
        await m.started; // under the lease the first run took (the resend found it its own): no wait
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
        expect(await leftoverLoadKeys(admin, name)).toEqual({});
        await Promise.all([p.close(), a.close()]);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'a resent lease read that finds the generation it made ended by a delete gives its lease back: the pod that joined that generation before the delete does not cache its value, and the resending pod loads under a fresh lease',
    () =>
      withProxy(READ_OR_LEASE, async (proxy, admin) => {
        const name = unique('lease-resent-deleted');
        const key = (kind: string) => `rampart:cache:${name}:${kind}{=h}`;
        const p = await pod(name, waitLong, proxy);
        // A short wait: A stops waiting behind P's lease and joins the generation P's first run made.
        const a = await pod(name, { lease: { ttlMs: 60_000, waitMs: 50 } });
        const d = await pod(name, { lease: false });
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
      }),
    TEST_TIMEOUT_MS,
  );

  // The lease P asks for after its read found an entry it cannot use (tag-invalidated) is taken only
  // while that entry is unchanged. When it changes between the two runs of that LEASE_ACQUIRE, the
  // resend gives back the lease and the share the first run took, and P waits like any other pod.
  describe('the lease after an entry it cannot use, resent after that entry changed', () => {
    /** Cache `name` with a tag-invalidated entry under `h`, pod P through the proxy and pod A without a lease. */
    const invalidatedEntry = async (proxy: ReplyDroppingProxy, name: string) => {
      const p = await pod(name, waitLong, proxy);
      const a = await pod(name, { lease: false });
      await invalidateH(a);
      return { p, a };
    };

    // What replaces the entry between the two runs, and the value P then serves.
    const REPLACEMENTS = [
      [
        'a set(), which also ends the generation the first run made',
        async (_admin: RedisClient, _name: string, a: SharedCache<string>) => {
          await a.set('h', 'set between the runs');
          return 'set between the runs';
        },
      ],
      [
        'a plain SET of another writer, which leaves the generation alone',
        async (admin: RedisClient, name: string, a: SharedCache<string>) => {
          await a.set('elsewhere', 'written by another writer');
          const bytes = await admin.get(`rampart:cache:${name}:{=elsewhere}`);
          await admin.set(`rampart:cache:${name}:{=h}`, bytes ?? '', 'PX', 60_000);
          return 'written by another writer';
        },
      ],
    ] as const;

    it.each(REPLACEMENTS)(
      'replaced by %s: the pod serves the new entry without loading, and no lease, generation or share is left',
      (_how, replace) =>
        withProxy(LEASE_ACQUIRE, async (proxy, admin) => {
          const name = unique('lease-resent-replaced');
          const key = (kind: string) => `rampart:cache:${name}:${kind}{=h}`;
          const { p, a } = await invalidatedEntry(proxy, name);
          const { dropped, held } = proxy.dropReplyAndHoldResend(LEASE_ACQUIRE.sha1);
          let pComputed = false;
          const pLoad = p
            .getOrSet(
              'h',
              () => {
                pComputed = true;
                return 'from p';
              },
              { tags: ['t'] },
            )
            .catch((e: unknown) => e);
          await dropped; // the first run found the entry unchanged, took the lease and a share; the reply was lost
          await held; // the resend waits at the proxy
          const token = await admin.get(key('l:'));
          expect(token).not.toBeNull();
          expect(await admin.smembers(key('n:'))).toEqual([token]);
          const value = await replace(admin, name, a);
          proxy.releaseResend();
          expect(await pLoad).toBe(value); // the resend refused: P waited for the entry and found it
          expect(pComputed).toBe(false);
          expect(await leftoverLoadKeys(admin, name)).toEqual({});
          await Promise.all([p.close(), a.close()]);
        }),
      TEST_TIMEOUT_MS,
    );

    it(
      'evicted, the generation left alone: the resend gives back only its own share, so the pod that joined meanwhile caches its value',
      () =>
        withProxy(LEASE_ACQUIRE, async (proxy, admin) => {
          const name = unique('lease-resent-evicted');
          const key = (kind: string) => `rampart:cache:${name}:${kind}{=h}`;
          const { p, a } = await invalidatedEntry(proxy, name);
          const { dropped, held } = proxy.dropReplyAndHoldResend(LEASE_ACQUIRE.sha1);
          const pm = gatedLoader('from p');
          const pLoad = p.getOrSet('h', pm.loader, { tags: ['t'] }).catch((e: unknown) => e);
          await dropped; // the first run took the lease, made the generation and took a share; the reply was lost
          await held; // the resend waits at the proxy
          const first = await admin.get(key('l:'));
          const made = await admin.get(key('g:'));
          expect(made?.startsWith(`${first}:`)).toBe(true);
          expect(await admin.unlink(key(''))).toBe(1); // evicted (or its life ran out)
          // A misses and joins the generation P's first run made.
          const am = gatedLoader('from a');
          const aLoad = a.getOrSet('h', am.loader, { tags: ['t'] }).catch((e: unknown) => e);
          await am.started;
          expect(await admin.scard(key('n:'))).toBe(2);
          proxy.releaseResend();
          await pm.started; // refused by the resend, P loads under the lease its next poll took
          const second = await admin.get(key('l:'));
          expect(second).not.toBeNull();
          expect(second).not.toBe(first);
          expect(await admin.get(key('g:'))).toBe(made); // A's share kept it: P's poll joined it
          expect(await admin.sismember(key('n:'), first ?? '')).toBe(0); // the first run's share went back
          expect(await admin.scard(key('n:'))).toBe(2); // A's, and P's fresh one
          am.release();
          expect(await aLoad).toBe('from a');
          expect(await a.get('h')).toBe('from a'); // cached: A's write ended the generation
          pm.release();
          expect(await pLoad).toBe('from p'); // to its caller: its write found the generation ended
          expect(await a.get('h')).toBe('from a');
          expect(await leftoverLoadKeys(admin, name)).toEqual({});
          await Promise.all([p.close(), a.close()]);
        }),
      TEST_TIMEOUT_MS,
    );
  });
});
