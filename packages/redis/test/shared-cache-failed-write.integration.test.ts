import { describe, expect, it } from 'vitest';
import { CacheRegistry, loadScripts, type RedisClient, SharedCache } from '../src/index.ts';
import { CACHE_SCRIPTS, WRITE_IF_CURRENT } from '../src/shared-cache/cache-scripts.ts';
import { keysOf, leftoverLoadKeys } from './fixtures/generation-pods.ts';
import { startReplyDroppingProxy } from './fixtures/reply-dropping-proxy.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';

// Long enough for every other call on a loaded machine: only the kept write runs into it.
const TIMEOUT_MS = 2_000;
// A wait that outlasts the test: a pod left waiting behind a lease would never load in time.
const LEASE = { ttlMs: 60_000, waitMs: 120_000 };
const TEST_TIMEOUT_MS = 60_000;

// A load's write (WRITE_IF_CURRENT) that the pod's per-call timeout ends before Redis answers it,
// on a single node and on the 3-master cluster (a proxy per master): the write either never ran,
// or ran after the pod gave up on it, just before the pod's leave (LOAD_END) on the same connection.
describe.each(SHARED_CACHE_TARGETS)('SharedCache when a load’s write times out on a %s', (_name, start) => {
  const shared = useSharedCacheTarget(start);
  const { connect } = shared;

  /** A pod of cache `name` under the lease, with no L1, its errors kept in `errors`. */
  const pod = (redis: RedisClient, name: string, errors: unknown[] = []): SharedCache<string> =>
    new SharedCache<string>({
      name,
      class: 'pod',
      reason: 'failed write test',
      ttlMs: 60_000,
      l1: false,
      timeoutMs: TIMEOUT_MS,
      redis,
      registry: new CacheRegistry(),
      lease: LEASE,
      onError: (error) => errors.push(error),
    });

  it(
    'gives its lease back when the write never reached Redis: nothing is left, and another pod takes the lease and loads at once',
    async () => {
      const proxy = await startReplyDroppingProxy(shared.target.spec);
      try {
        const admin = await connect();
        // Loaded up front, so the kept call is the script's own EVALSHA, not one a NOSCRIPT replaces.
        await loadScripts(admin, CACHE_SCRIPTS);
        const name = unique('write-never-ran');
        const errors: unknown[] = [];
        const p = pod(await proxy.connect(), name, errors);
        const a = pod(await connect(), name);
        const { kept } = proxy.keepCallUntilNext(WRITE_IF_CURRENT.sha1, 'never ran');
        const pLoad = p.getOrSet('h', () => 'from p');
        await kept;
        expect(await pLoad).toBe('from p'); // to its caller, uncached
        expect(errors).toMatchObject([{ code: 'ERR_REDIS_TIMEOUT' }]);
        // The lease (and the generation with its share) went back with the leave, not at the lease's ttlMs.
        expect(await leftoverLoadKeys(admin, name)).toEqual({});
        expect(await keysOf(admin, name)).toEqual([]);
        let aComputed = false;
        const aValue = await a.getOrSet('h', () => {
          aComputed = true;
          return 'from a';
        });
        expect(aValue).toBe('from a');
        expect(aComputed).toBe(true);
        expect(await p.get('h')).toBe('from a');
        expect(await leftoverLoadKeys(admin, name)).toEqual({});
        await Promise.all([p.close(), a.close()]);
      } finally {
        await proxy.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  it(
    'leaves everything consistent when the write ran but its reply came too late: the entry is written, and no lease, generation or share is left',
    async () => {
      const proxy = await startReplyDroppingProxy(shared.target.spec);
      try {
        const admin = await connect();
        await loadScripts(admin, CACHE_SCRIPTS);
        const name = unique('write-ran-late');
        const errors: unknown[] = [];
        const p = pod(await proxy.connect(), name, errors);
        const a = pod(await connect(), name);
        const { kept } = proxy.keepCallUntilNext(WRITE_IF_CURRENT.sha1, 'ran late');
        const pLoad = p.getOrSet('h', () => 'from p');
        await kept;
        expect(await pLoad).toBe('from p');
        expect(errors).toMatchObject([{ code: 'ERR_REDIS_TIMEOUT' }]);
        // The write ran (and gave the lease back) before the leave, which then found nothing of its own.
        expect(await leftoverLoadKeys(admin, name)).toEqual({});
        expect(await keysOf(admin, name)).toEqual([`rampart:cache:${name}:{=h}`]);
        let aComputed = false;
        const aValue = await a.getOrSet('h', () => {
          aComputed = true;
          return 'from a';
        });
        expect(aValue).toBe('from p');
        expect(aComputed).toBe(false);
        await Promise.all([p.close(), a.close()]);
      } finally {
        await proxy.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
