import { describe, expect, it, vi } from 'vitest';
import { CacheRegistry, loadScripts, type RedisClient, SharedCache } from '../src/index.ts';
import { CACHE_SCRIPTS, WRITE_IF_CURRENT } from '../src/shared-cache/cache-scripts.ts';
import { gatedLoader } from './fixtures/gated-loader.ts';
import { keysOf, leftoverLoadKeys } from './fixtures/generation-pods.ts';
import { startReplyDroppingProxy } from './fixtures/reply-dropping-proxy.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';

// Long enough for every other call on a loaded machine: only the kept write runs into it.
const TIMEOUT_MS = 2_000;
// A wait that outlasts the test: a pod left waiting behind a lease would never load in time.
const LEASE = { ttlMs: 60_000, waitMs: 120_000 };
const TEST_TIMEOUT_MS = 60_000;
// How long a test polls Redis for a step the proxy sent on to have run.
const POLL = { timeout: 20_000, interval: 10 };

/**
 * The lease, generation and share keys of cache `name`, each as Redis serializes it (DUMP: its type
 * and content, byte for byte, not its time to live).
 */
const loadKeyBytes = async (admin: RedisClient, name: string): Promise<Record<string, string>> => {
  const bytes: Record<string, string> = {};
  for (const kind of ['l:', 'g:', 'n:']) {
    for (const key of await keysOf(admin, name, kind))
      bytes[key] = (await admin.dumpBuffer(key))?.toString('hex') ?? '';
  }
  return bytes;
};

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

  interface Pods {
    readonly proxy: Awaited<ReturnType<typeof startReplyDroppingProxy>>;
    readonly admin: RedisClient;
    readonly name: string;
    readonly entryKey: string;
    /** Pod P's connection, through the proxy, and P's errors. */
    readonly pRedis: RedisClient;
    readonly p: SharedCache<string>;
    readonly errors: unknown[];
    /** Another pod, straight to Redis. */
    readonly other: SharedCache<string>;
  }

  /** Runs `test` with pod P behind a fresh proxy and another pod, cache `stem`-unique; closes both. */
  const withPods = async (stem: string, test: (pods: Pods) => Promise<void>): Promise<void> => {
    const proxy = await startReplyDroppingProxy(shared.target.spec);
    try {
      const admin = await connect();
      // Loaded up front, so the kept call is the script's own EVALSHA, not one a NOSCRIPT replaces.
      await loadScripts(admin, CACHE_SCRIPTS);
      const name = unique(stem);
      const errors: unknown[] = [];
      const pRedis = await proxy.connect();
      const p = pod(pRedis, name, errors);
      const other = pod(await connect(), name);
      await test({ proxy, admin, name, entryKey: `rampart:cache:${name}:{=h}`, pRedis, p, errors, other });
      await Promise.all([p.close(), other.close()]);
    } finally {
      await proxy.stop();
    }
  };

  /**
   * Pod `b` misses `h` and takes a new lease and generation, its loader held: its load keys, as
   * read and as bytes, and `finish`, which lets the load end and checks that B's value is cached
   * for every pod and P's write timed out.
   */
  const bLoading = async ({ admin, name, entryKey, p, errors, other: b }: Pods) => {
    const bLoader = gatedLoader('from b');
    const bLoad = b.getOrSet('h', bLoader.loader);
    await bLoader.started;
    const loadKeys = await leftoverLoadKeys(admin, name);
    expect(Object.keys(loadKeys).map((key) => key.slice(`rampart:cache:${name}:`.length, -'{=h}'.length))).toEqual([
      'l:',
      'g:',
      'n:',
    ]);
    const finish = async (): Promise<void> => {
      bLoader.release();
      expect(await bLoad).toBe('from b');
      expect(await leftoverLoadKeys(admin, name)).toEqual({});
      expect(await keysOf(admin, name)).toEqual([entryKey]);
      expect(await p.get('h')).toBe('from b');
      expect(errors).toMatchObject([{ code: 'ERR_REDIS_TIMEOUT' }]);
    };
    return { loadKeys, bytes: await loadKeyBytes(admin, name), finish };
  };

  it(
    'gives its lease back when the write never reached Redis: nothing is left, and another pod takes the lease and loads at once',
    () =>
      withPods('write-never-ran', async ({ proxy, admin, name, p, errors, other: a }) => {
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
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'leaves everything consistent when the write ran but its reply came too late: the entry is written, and no lease, generation or share is left',
    () =>
      withPods('write-ran-late', async ({ proxy, admin, name, entryKey, p, errors, other: a }) => {
        const { kept } = proxy.keepCallUntilNext(WRITE_IF_CURRENT.sha1, 'ran late');
        const pLoad = p.getOrSet('h', () => 'from p');
        await kept;
        expect(await pLoad).toBe('from p');
        expect(errors).toMatchObject([{ code: 'ERR_REDIS_TIMEOUT' }]);
        // The write ran (and gave the lease back) before the leave, which then found nothing of its own.
        expect(await leftoverLoadKeys(admin, name)).toEqual({});
        expect(await keysOf(admin, name)).toEqual([entryKey]);
        let aComputed = false;
        const aValue = await a.getOrSet('h', () => {
          aComputed = true;
          return 'from a';
        });
        expect(aValue).toBe('from p');
        expect(aComputed).toBe(false);
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'gives its lease back after its write ran late without touching the lease, generation or shares of a load that started in between',
    () =>
      withPods('late-write-then-new-load', async (pods) => {
        const { proxy, admin, name, entryKey, pRedis, p, other: b } = pods;
        // p's write runs once p gave up on it, and p's give-back (LOAD_END) after it is held.
        const { kept, held, release } = proxy.keepCallThenHold(WRITE_IF_CURRENT.sha1, 'kept call');
        const pLoad = p.getOrSet('h', () => 'from p');
        await kept;
        await held;
        // The write ran: it wrote the entry and gave p's lease back, ending p's generation.
        await vi.waitFor(async () => expect(await keysOf(admin, name)).toEqual([entryKey]), POLL);
        expect(await leftoverLoadKeys(admin, name)).toEqual({});
        // The entry is deleted, so b misses: it takes a new lease and makes a new generation.
        await b.delete('h');
        const bLoad = await bLoading(pods);
        // Now p's give-back reaches Redis.
        release();
        expect(await pLoad).toBe('from p');
        // Answered after the give-back (a client reads its replies in order), on the same connection:
        // on the cluster the key's master's, which the give-back went to.
        await pRedis.exists(entryKey);
        expect(await leftoverLoadKeys(admin, name)).toEqual(bLoad.loadKeys);
        expect(await loadKeyBytes(admin, name)).toEqual(bLoad.bytes);
        await bLoad.finish();
      }),
    TEST_TIMEOUT_MS,
  );

  it(
    'gives its lease back before its write runs late: the write then writes nothing and takes nothing of a load that started in between',
    () =>
      withPods('give-back-then-late-write', async (pods) => {
        const { proxy, admin, name, entryKey, pRedis, p } = pods;
        // p's give-back (LOAD_END) runs first, and p's write after it is held.
        const { kept, held, release } = proxy.keepCallThenHold(WRITE_IF_CURRENT.sha1, 'next chunk');
        const pLoad = p.getOrSet('h', () => 'from p');
        await kept;
        await held;
        // The give-back ran: p's lease, generation and share are gone, and nothing was written.
        await vi.waitFor(async () => expect(await leftoverLoadKeys(admin, name)).toEqual({}), POLL);
        expect(await keysOf(admin, name)).toEqual([]);
        // b misses: it takes a new lease and makes a new generation.
        const bLoad = await bLoading(pods);
        // Now p's write reaches Redis.
        release();
        expect(await pLoad).toBe('from p');
        await pRedis.exists(entryKey); // answered after the write, as above
        expect(await keysOf(admin, name, '{')).toEqual([]);
        expect(await leftoverLoadKeys(admin, name)).toEqual(bLoad.loadKeys);
        expect(await loadKeyBytes(admin, name)).toEqual(bLoad.bytes);
        await bLoad.finish();
      }),
    TEST_TIMEOUT_MS,
  );
});
