// Replay guard and single-use store against the raw commands they wrap (target: within 5%), and
// SharedCache against keyv + @keyv/redis and bentocache, all on one private Redis in one process.
import { createKeyv } from '@keyv/redis';
import { startRedis } from '@rampart/testkit';
import { BentoCache, bentostore } from 'bentocache';
import { memoryDriver } from 'bentocache/drivers/memory';
import { redisDriver } from 'bentocache/drivers/redis';
import { Redis } from 'ioredis';
import { defineBench } from '../../../scripts/bench/harness.ts';
import { CacheRegistry, ReplayGuard, SharedCache, SingleUseStore } from '../src/index.ts';

export default defineBench('@rampart/redis', async (b) => {
  const server = await startRedis({ owned: true });
  // Autopipelining on: the configuration a service under load runs, and what node-redis (keyv) does by default.
  const redis = new Redis(server.url, { enableOfflineQueue: false, enableAutoPipelining: true });
  const subscriber = new Redis(server.url, { enableOfflineQueue: false });
  // And a client without autopipelining, where the raw commands pay no auto-pipeline wait either.
  const plain = new Redis(server.url, { enableOfflineQueue: false });
  await Promise.all([redis, subscriber, plain].map((c) => new Promise((resolve) => c.once('ready', resolve))));
  const registry = new CacheRegistry();
  const keyv = createKeyv(server.url, { namespace: 'bench-keyv' });
  const bento = new BentoCache({
    default: 'cache',
    stores: {
      cache: bentostore()
        .useL1Layer(memoryDriver({ maxItems: 1_000 }))
        .useL2Layer(redisDriver({ connection: new Redis(server.url) })),
    },
  });
  try {
    const guard = new ReplayGuard({ redis, name: 'bench', ttlMs: 60_000, registry, timeoutMs: 1_000 });
    const once = new SingleUseStore<string>({ redis, name: 'bench', ttlMs: 60_000, registry, timeoutMs: 1_000 });
    const guardOneByOne = new ReplayGuard({
      redis,
      name: 'bench-one',
      ttlMs: 60_000,
      registry,
      timeoutMs: 1_000,
      coalesce: false,
    });
    let n = 0;
    for (const concurrency of [1, 64]) {
      await b.compare(`ReplayGuard.check, c=${concurrency}`, {
        ours: () => guard.check(`ours-${n++}`),
        peer: { name: 'raw SET NX PX (ioredis)', fn: () => redis.set(`raw:${n++}`, '1', 'PX', 60_000, 'NX') },
        concurrency,
        rounds: concurrency === 1 ? 21 : 7,
        note: 'target ≥ 0.95×',
      });
      await b.compare(`SingleUseStore put+consume, c=${concurrency}`, {
        ours: async () => {
          const id = `ours-${n++}`;
          await once.put(id, 'v');
          await once.consume(id);
        },
        peer: {
          name: 'raw SET NX PX + GETDEL',
          fn: async () => {
            const id = `raw:${n++}`;
            await redis.set(id, 'v', 'PX', 60_000, 'NX');
            await redis.getdel(id);
          },
        },
        concurrency,
        rounds: concurrency === 1 ? 21 : 7,
        note: 'target ≥ 0.95×',
      });
    }

    // The c=1 rows' targets sit within 5 % of the raw command: 21 rounds per side instead of 7,
    // because on a shared machine one 500 ms round can be 10 % off the next.
    // The same at c=1 on the plain client: here the raw command waits for nothing either, so what
    // remains is the stores' own work (the SingleUseStore hashes the id and encodes the value).
    const guardPlain = new ReplayGuard({
      redis: plain,
      name: 'bench-plain',
      ttlMs: 60_000,
      registry,
      timeoutMs: 1_000,
    });
    const oncePlain = new SingleUseStore<string>({
      redis: plain,
      name: 'bench-plain',
      ttlMs: 60_000,
      registry,
      timeoutMs: 1_000,
    });
    await b.compare('ReplayGuard.check, c=1, client without autopipelining', {
      ours: () => guardPlain.check(`ours-${n++}`),
      peer: { name: 'raw SET NX PX (ioredis)', fn: () => plain.set(`raw:${n++}`, '1', 'PX', 60_000, 'NX') },
      rounds: 21,
      note: 'target ≥ 0.95×',
    });
    await b.compare('SingleUseStore put+consume, c=1, client without autopipelining', {
      ours: async () => {
        const id = `ours-${n++}`;
        await oncePlain.put(id, 'v');
        await oncePlain.consume(id);
      },
      peer: {
        name: 'raw SET NX PX + GETDEL',
        fn: async () => {
          const id = `raw:${n++}`;
          await plain.set(id, 'v', 'PX', 60_000, 'NX');
          await plain.getdel(id);
        },
      },
      rounds: 21,
      note: 'target ≥ 0.95×; ours hashes the id (SHA-256) and JSON-encodes the value',
    });

    await b.compare('ReplayGuard.check, c=64, ours with coalesce: false', {
      ours: () => guardOneByOne.check(`one-${n++}`),
      peer: { name: 'raw SET NX PX (ioredis)', fn: () => redis.set(`raw:${n++}`, '1', 'PX', 60_000, 'NX') },
      concurrency: 64,
      note: 'one command per check on both sides',
    });

    const l1 = new SharedCache<{ n: number }>({
      name: 'bench-l1',
      class: 'cluster',
      reason: 'benchmark',
      timeoutMs: 1_000,
      ttlMs: 600_000,
      redis,
      subscriber,
      registry,
    });
    await l1.ready();
    const l2 = new SharedCache<{ n: number }>({
      name: 'bench-l2',
      class: 'cluster',
      reason: 'benchmark',
      timeoutMs: 1_000,
      ttlMs: 600_000,
      redis,
      registry,
    });
    const keys = Array.from({ length: 100 }, (_, i) => `k${i}`);
    for (const k of keys) {
      await l1.set(k, { n: 1 });
      await l2.set(k, { n: 1 });
      await keyv.set(k, { n: 1 }, 600_000);
      await bento.set({ key: k, value: { n: 1 }, ttl: 600_000 });
    }
    let i = 0;
    const next = (): string => keys[i++ % keys.length] as string;
    await b.compare('SharedCache.get, L1 hit', {
      ours: () => l1.get(next()),
      peer: { name: 'bentocache get (L1 hit)', fn: () => bento.get({ key: next() }) },
    });
    await b.compare('SharedCache.get, Redis only, c=1', {
      ours: () => l2.get(next()),
      peer: { name: 'keyv + @keyv/redis get', fn: () => keyv.get(next()) },
    });
    await b.compare('SharedCache.get, Redis only, c=64', {
      ours: () => l2.get(next()),
      peer: { name: 'keyv + @keyv/redis get', fn: () => keyv.get(next()) },
      concurrency: 64,
    });
    await b.compare('SharedCache.getOrSet, L1 hit', {
      ours: () => l1.getOrSet(next(), () => ({ n: 2 })),
      peer: {
        name: 'bentocache getOrSet (L1 hit)',
        fn: () => bento.getOrSet({ key: next(), factory: () => ({ n: 2 }) }),
      },
    });
    let miss = 0;
    await b.compare('SharedCache.getOrSet, miss (load + write)', {
      ours: () => l2.getOrSet(`miss-${miss++}`, () => ({ n: 3 })),
      peer: {
        name: 'bentocache getOrSet (miss)',
        fn: () => bento.getOrSet({ key: `miss-${miss++}`, factory: () => ({ n: 3 }), ttl: 600_000 }),
      },
      note: 'ours: 2 script round trips (read-or-lease, write-and-release, which also publishes)',
    });
    await l1.close();
    await l2.close();
  } finally {
    await bento.disconnectAll().catch(() => {});
    await keyv.disconnect().catch(() => {});
    redis.disconnect();
    subscriber.disconnect();
    plain.disconnect();
    await server.stop();
  }
});
