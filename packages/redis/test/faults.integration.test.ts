import { type AddressInfo, createServer } from 'node:net';
import { performance } from 'node:perf_hooks';
import { startRedis, startRedisCluster, type TestRedis, type TestRedisCluster, waitFor } from '@rampart/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createRateLimiter,
  type RateLimitDecision,
  type RateLimiter,
  type RedisClient,
  type RedisDownPolicy,
  RedisStoreError,
} from '../src/index.ts';
import { buildDecideScript } from '../src/rate-limit/decide-script.ts';
import { awayFromMinuteEdge, cluster, ready, singleNode, type Target } from './fixtures/targets.ts';

// Counts in 60 s fixed windows must not straddle a minute boundary.
beforeEach(() => awayFromMinuteEdge());

/** Keeps `inFlight` decisions running until `until` resolves; counts outcomes. */
async function load(limiter: RateLimiter, inFlight: number, until: Promise<void>) {
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  const counts = { ok: 0, failed: 0, codes: new Set<string>() };
  let n = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (!stop) {
        try {
          const d = await limiter.consume(`user:${n++ % 50}`);
          if (d.source === 'redis') counts.ok += 1;
          else counts.failed += 1;
        } catch (error) {
          counts.failed += 1;
          counts.codes.add(String((error as { code?: string }).code));
          // A fail-fast rejection settles in microtasks; let I/O (the reconnect) run.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    }),
  );
  return counts;
}

const LIMITS = [
  { name: 'second', algorithm: 'gcra', limit: 1_000_000, windowMs: 1_000 },
  { name: 'minute', algorithm: 'sliding-window', limit: 1_000_000, windowMs: 60_000 },
] as const;

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('script cache loss on a %s', (_name, start) => {
  let target: Target;
  let redis: RedisClient;
  let admins: Redis[];
  beforeAll(async () => {
    target = await start();
    redis = await target.connect();
    const nodes =
      target.spec.kind === 'single'
        ? [new URL(target.spec.url)]
        : target.spec.nodes.map((n) => new URL(`redis://${n.host}:${n.port}`));
    admins = await Promise.all(
      nodes.map((u) => ready(new Redis({ host: u.hostname, port: Number(u.port) })) as Promise<Redis>),
    );
  });
  afterAll(async () => {
    for (const a of admins ?? []) a.disconnect();
    redis?.disconnect();
    await target?.stop();
  });

  it('makes no failed decision while SCRIPT FLUSH runs again and again under load', async () => {
    const limiter = createRateLimiter({ redis, prefix: `flush${Date.now()}`, limits: [...LIMITS], timeoutMs: 2_000 });
    const flushes = (async () => {
      for (let i = 0; i < 10; i++) {
        await Promise.all(admins.map((a) => a.script('FLUSH')));
        await new Promise((resolve) => setImmediate(resolve));
        await limiter.consume('probe');
      }
    })();
    const counts = await load(limiter, 32, flushes);
    expect(counts.failed).toBe(0);
    expect(counts.ok).toBeGreaterThan(0);
  });

  it('warm() loads the scripts on every master: the first decisions after a flush send no EVAL', async () => {
    const limiter = createRateLimiter({ redis, prefix: `warm${Date.now()}`, limits: [...LIMITS], timeoutMs: 2_000 });
    await Promise.all(admins.map((a) => a.script('FLUSH')));
    await limiter.warm();
    await Promise.all(admins.map((a) => a.config('RESETSTAT')));
    // Subjects on every master, one at a time and (on a single node) coalesced into batches.
    for (let i = 0; i < 20; i++) await limiter.consume(`user:${i}`);
    await Promise.all(Array.from({ length: 64 }, (_, i) => limiter.consume(`batch:${i}`)));
    const stats = (await Promise.all(admins.map((a) => a.info('commandstats')))).join('\n');
    expect(stats).not.toMatch(/cmdstat_eval:/);
    expect(stats).toMatch(/cmdstat_evalsha:calls=\d+/);
  });
});

describe('Redis restart and outage (single node)', () => {
  let server: TestRedis;
  let redis: Redis;
  beforeAll(async () => {
    server = await startRedis({ owned: true });
    redis = (await ready(
      new Redis(server.url, { enableOfflineQueue: false, retryStrategy: () => 20, maxRetriesPerRequest: 0 }),
    )) as Redis;
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });

  it('decides every request again after a restart during load, with no failed decision once reconnected', async () => {
    // What is tested here is the script cache and the reconnect, not latency: a loaded CI box can
    // take more than 50 ms to answer the first calls of a cold server (the outage tests below
    // hold the default timeout).
    const limiter = createRateLimiter({ redis, prefix: 'restart', limits: [...LIMITS], timeoutMs: 1_000 });
    const restarted = (async () => {
      await limiter.consume('warm');
      await server.restart();
      await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'ioredis to reconnect' });
    })();
    const during = await load(limiter, 16, restarted);
    expect(during.ok).toBeGreaterThan(0);
    // After recovery: the restarted server has an empty script cache; EVALSHA falls back once.
    const after = await load(limiter, 16, new Promise((resolve) => setTimeout(resolve, 300)));
    expect([...after.codes]).toEqual([]);
    expect(after.failed).toBe(0);
    expect(after.ok).toBeGreaterThan(0);
  });

  it('returns every decision within the timeout while Redis is stopped, as each policy says', async () => {
    const timeoutMs = 50;
    // Generous slack for a loaded CI box: the point is "bounded", not "fast".
    const bound = timeoutMs + 450;
    const make = (onRedisDown: RedisDownPolicy) =>
      createRateLimiter({
        redis,
        prefix: 'down',
        timeoutMs,
        onRedisDown,
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }],
      });
    const closed = make('fail-closed');
    const open = make('fail-open');
    const fallback = make({ mode: 'fallback', maxKeys: 100 });
    await server.kill();
    await waitFor(() => redis.status !== 'ready', { timeoutMs: 5_000, what: 'ioredis to notice' });
    const timed = async <T>(fn: () => Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> => {
      const t0 = performance.now();
      try {
        const value = await fn();
        return { ms: performance.now() - t0, value };
      } catch (error) {
        return { ms: performance.now() - t0, error };
      }
    };
    for (let i = 0; i < 20; i++) {
      const c = await timed(() => closed.consume('user:1'));
      expect(c.ms).toBeLessThan(bound);
      expect(c.error).toBeInstanceOf(RedisStoreError);
      expect((c.error as RedisStoreError).retryable).toBe(true);
      const o = await timed(() => open.consume('user:1'));
      expect(o.ms).toBeLessThan(bound);
      expect(o.value).toMatchObject({ allowed: true, source: 'fail-open' });
      const f = await timed(() => fallback.consume('user:1'));
      expect(f.ms).toBeLessThan(bound);
      expect(f.value).toMatchObject({ allowed: i < 3, source: 'fallback' });
    }
    const warming = await timed(() => closed.warm({ timeoutMs: 100 }));
    expect(warming.ms).toBeLessThan(100 + 450);
    expect(warming.error).toMatchObject({ code: 'ERR_REDIS_TIMEOUT', retryable: true });
    await server.restart();
    await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'ioredis to reconnect' });
    expect((await closed.consume('user:2')).source).toBe('redis');
  });

  it('warm() connects a lazy client, refuses a closed one and a bad timeout', async () => {
    const limits = [{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }] as const;
    const lazy = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false });
    try {
      expect(lazy.status).toBe('wait');
      const limiter = createRateLimiter({ redis: lazy, prefix: 'lazy', limits: [...limits] });
      await limiter.warm();
      expect(lazy.status).toBe('ready');
      await expect(limiter.warm({ timeoutMs: 0 })).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
    } finally {
      lazy.disconnect();
    }
    const closed = new Redis(server.url, { lazyConnect: true, enableOfflineQueue: false });
    closed.disconnect();
    await waitFor(() => closed.status === 'end', { timeoutMs: 5_000, what: 'the client to end' });
    const limiter = createRateLimiter({ redis: closed, prefix: 'closed', limits: [...limits] });
    await expect(limiter.warm()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
  });

  it('times out instead of hanging when Redis accepts the connection but does not answer', async () => {
    const timeoutMs = 50;
    const limiter = createRateLimiter({
      redis,
      prefix: 'paused',
      timeoutMs,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }],
    });
    await limiter.consume('warm');
    const admin = (await ready(new Redis(server.url))) as Redis;
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const codes: string[] = [];
    for (let i = 0; i < 8; i++) {
      const t0 = performance.now();
      const error = await limiter.consume('user:1').catch((e: unknown) => e);
      expect(performance.now() - t0).toBeLessThan(timeoutMs + 450);
      codes.push((error as RedisStoreError).code);
    }
    // The first calls time out; then the circuit opens and calls fail at once.
    expect(codes.slice(0, 5)).toEqual(Array(5).fill('ERR_REDIS_TIMEOUT'));
    expect(codes.slice(5)).toEqual(Array(3).fill('ERR_REDIS_UNAVAILABLE'));
    await admin.call('CLIENT', 'UNPAUSE');
    await waitFor(async () => (await limiter.consume('user:1').catch(() => undefined))?.source === 'redis', {
      timeoutMs: 10_000,
      what: 'the circuit to close again',
    });
    admin.disconnect();
  });
  it('releases the lease of a decision that timed out, so a stall holds no slot once Redis answers again', async () => {
    const limits = [{ name: 'inflight', algorithm: 'concurrency', limit: 2, leaseMs: 60_000 }] as const;
    const closed = createRateLimiter({ redis, prefix: 'stall', timeoutMs: 50, limits: [...limits] });
    const fallback = createRateLimiter({
      redis,
      prefix: 'stall-fallback',
      timeoutMs: 50,
      limits: [...limits],
      onRedisDown: { mode: 'fallback' },
    });
    await closed.warm();
    await fallback.warm();
    const subjects = Array.from({ length: 6 }, (_, i) => `user:${i}`);
    const admin = (await ready(new Redis(server.url))) as Redis;
    try {
      // Scripts wait, but the consumes reach Redis: each runs, and takes its lease, after the pause.
      await admin.call('CLIENT', 'PAUSE', '300', 'WRITE');
      const [first, second, ...served] = await Promise.all([
        closed.consume('a').catch((e: unknown) => e),
        closed.consume('a').catch((e: unknown) => e),
        // The first goes alone, the other five together in one batch.
        ...subjects.map((s) => fallback.consume(s)),
      ]);
      expect([first, second].map((e) => (e as RedisStoreError).code)).toEqual([
        'ERR_REDIS_TIMEOUT',
        'ERR_REDIS_TIMEOUT',
      ]);
      for (const d of served as RateLimitDecision[]) {
        expect(d).toMatchObject({ allowed: true, source: 'fallback' });
        await d.lease?.release();
      }
      // Answered once the pause is over, after every command sent before it on this connection.
      await redis.ping();
      const leases = async (key: string): Promise<number> => admin.zcard(key);
      expect(await leases('stall:{a}:leases')).toBe(0);
      expect(await Promise.all(subjects.map((s) => leases(`stall-fallback:{${s}}:leases`)))).toEqual(Array(6).fill(0));
      expect(await closed.consume('a')).toMatchObject({ allowed: true, source: 'redis' });
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
      admin.disconnect();
    }
  });

  it('ignores an onRedisError that throws: the policy still decides and a lease release still resolves', async () => {
    const client = (await ready(
      new Redis(server.url, { enableOfflineQueue: false, retryStrategy: () => null }),
    )) as Redis;
    client.on('error', () => {});
    const reported: string[] = [];
    const onRedisError = (error: RedisStoreError): void => {
      reported.push(error.code);
      throw new Error('the logger is down');
    };
    const limits = [{ name: 'inflight', algorithm: 'concurrency', limit: 2, leaseMs: 60_000 }] as const;
    const open = createRateLimiter({
      redis: client,
      prefix: 'throwing-report',
      limits: [...limits],
      onRedisDown: 'fail-open',
      onRedisError,
    });
    const fallback = createRateLimiter({
      redis: client,
      prefix: 'throwing-report-fallback',
      limits: [...limits],
      onRedisDown: { mode: 'fallback' },
      onRedisError,
    });
    const held = await open.consume('a');
    expect(held.lease).toBeDefined();
    await redis.del('throwing-report:{a}:leases');
    client.disconnect();
    await waitFor(() => client.status === 'end', { timeoutMs: 5_000, what: 'the client to end' });
    await expect(held.lease!.release()).resolves.toBeUndefined();
    expect(await open.consume('a')).toMatchObject({ allowed: true, source: 'fail-open' });
    expect(await fallback.consume('a')).toMatchObject({ allowed: true, source: 'fallback' });
    expect(reported).toEqual(['ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_UNAVAILABLE', 'ERR_REDIS_UNAVAILABLE']);
  });

  it('times out every decision of a coalesced batch when Redis does not answer', async () => {
    const timeoutMs = 50;
    const limiter = createRateLimiter({
      redis,
      prefix: 'paused-batch',
      timeoutMs,
      limits: [{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }],
    });
    await Promise.all(Array.from({ length: 8 }, (_, i) => limiter.consume(`warm:${i}`)));
    const admin = (await ready(new Redis(server.url))) as Redis;
    await admin.call('CLIENT', 'PAUSE', '1500', 'ALL');
    const t0 = performance.now();
    const outcomes = await Promise.all(
      Array.from({ length: 40 }, (_, i) => limiter.consume(`user:${i}`).catch((e: unknown) => e)),
    );
    expect(performance.now() - t0).toBeLessThan(timeoutMs + 450);
    expect(new Set(outcomes.map((e) => (e as RedisStoreError).code))).toEqual(new Set(['ERR_REDIS_TIMEOUT']));
    await admin.call('CLIENT', 'UNPAUSE');
    await waitFor(async () => (await limiter.consume('user:1').catch(() => undefined))?.source === 'redis', {
      timeoutMs: 10_000,
      what: 'decisions to succeed again',
    });
    admin.disconnect();
  });
});

describe('failover on a cluster with replicas', () => {
  let cluster: TestRedisCluster;
  let client: Cluster;
  const admins: Redis[] = [];
  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    client = (await ready(new Cluster([...cluster.startupNodes], { enableOfflineQueue: false }))) as Cluster;
  });
  afterAll(async () => {
    for (const a of admins) a.disconnect();
    client?.disconnect();
    await cluster?.stop();
  });

  it('decides every request again after replicas take over, although they never saw the script', async () => {
    const limiter = createRateLimiter({ redis: client, prefix: 'failover', limits: [...LIMITS], timeoutMs: 1_000 });
    const replicas = cluster.nodes.filter((n) => n.role === 'replica');
    for (const r of replicas) admins.push((await ready(new Redis({ host: r.host, port: r.port }))) as Redis);
    const promoted = (async () => {
      await limiter.consume('warm');
      await waitFor(
        async () => {
          for (const a of admins) if (!(await a.info('replication')).includes('master_link_status:up')) return false;
          return true;
        },
        { timeoutMs: 20_000, what: 'the replicas to be in sync' },
      );
      // Scripts are not replicated: the replicas about to be promoted do not have it.
      const cached = await Promise.all(
        admins.map((a) => a.call('SCRIPT', 'EXISTS', buildDecideScript(limiter.limits).single.sha1)),
      );
      expect(cached).toEqual(admins.map(() => [0]));
      // A manual failover promotes each replica; the new masters have an empty script cache.
      // Redis gives a manual failover 5 s to complete and drops it after that (seen on a loaded
      // 2-core box), so a replica still not promoted is asked again.
      const asked = new Map<Redis, number>();
      const askToFailover = async (a: Redis) => {
        asked.set(a, performance.now());
        await a.call('CLUSTER', 'FAILOVER');
      };
      await Promise.all(admins.map(askToFailover));
      await waitFor(
        async () => {
          let all = true;
          for (const a of admins) {
            const role = (await a.call('ROLE')) as unknown[];
            if (role[0] === 'master') continue;
            all = false;
            if (performance.now() - (asked.get(a) ?? 0) > 6_000) await askToFailover(a);
          }
          return all;
        },
        { timeoutMs: 30_000, what: 'the replicas to become masters' },
      );
      await waitFor(async () => (await limiter.consume('probe').catch(() => undefined))?.source === 'redis', {
        timeoutMs: 20_000,
        what: 'decisions to succeed on the new masters',
      });
    })();
    const during = await load(limiter, 16, promoted);
    await promoted;
    expect(during.ok).toBeGreaterThan(0);
    const after = await load(limiter, 16, new Promise((resolve) => setTimeout(resolve, 300)));
    expect([...after.codes]).toEqual([]);
    expect(after.failed).toBe(0);
    expect(after.ok).toBeGreaterThan(0);
  }, 90_000);
});

describe('warm() on a Redis that cannot be reached', () => {
  it('leaves no listener on the client when it times out, however often it is called', async () => {
    // A port nobody listens on: taken from the OS, then closed.
    const port = await new Promise<number>((resolve, reject) => {
      const probe = createServer();
      probe.once('error', reject);
      probe.listen(0, '127.0.0.1', () => {
        const address = probe.address() as AddressInfo;
        probe.close(() => resolve(address.port));
      });
    });
    const client = new Redis({
      host: '127.0.0.1',
      port,
      lazyConnect: true,
      enableOfflineQueue: false,
      retryStrategy: () => 20,
    });
    client.on('error', () => {});
    // ioredis's own connect() holds a one-shot `ready` listener while a reconnect attempt is in
    // flight (named connectionReadyHandler): whether one is, at the moment of counting, is timing.
    const counts = () => {
      const others = (event: string) =>
        client.listeners(event).filter((listener) => listener.name !== 'connectionReadyHandler').length;
      return { ready: others('ready'), end: others('end') };
    };
    try {
      const before = counts();
      const limiter = createRateLimiter({
        redis: client,
        prefix: 'unreachable',
        limits: [{ name: 'w', algorithm: 'fixed-window', limit: 3, windowMs: 60_000 }],
      });
      for (let i = 0; i < 3; i++) {
        await expect(limiter.warm({ timeoutMs: 30 })).rejects.toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
      }
      expect(counts()).toEqual(before);
    } finally {
      client.disconnect();
    }
  });
});
