import { performance } from 'node:perf_hooks';
import { startRedis, type TestRedis, waitFor } from '@rampart/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createRateLimiter,
  type RateLimiter,
  type RedisClient,
  type RedisDownPolicy,
  RedisStoreError,
} from '../src/index.ts';
import { cluster, ready, singleNode, type Target } from './fixtures/targets.ts';

/** Keeps `inFlight` decisions running until `until` resolves; counts outcomes. */
async function load(limiter: RateLimiter, inFlight: number, until: Promise<void>) {
  let stop = false;
  void until.finally(() => {
    stop = true;
  });
  const counts = { ok: 0, failed: 0 };
  let n = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (!stop) {
        try {
          const d = await limiter.consume(`user:${n++ % 50}`);
          if (d.source === 'redis') counts.ok += 1;
          else counts.failed += 1;
        } catch {
          counts.failed += 1;
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
    const limiter = createRateLimiter({ redis, prefix: 'restart', limits: [...LIMITS], timeoutMs: 50 });
    const restarted = (async () => {
      await limiter.consume('warm');
      await server.restart();
      await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'ioredis to reconnect' });
    })();
    const during = await load(limiter, 16, restarted);
    expect(during.ok).toBeGreaterThan(0);
    // After recovery: the restarted server has an empty script cache; EVALSHA falls back once.
    const after = await load(limiter, 16, new Promise((resolve) => setTimeout(resolve, 300)));
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
    await server.restart();
    await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'ioredis to reconnect' });
    expect((await closed.consume('user:2')).source).toBe('redis');
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
});
