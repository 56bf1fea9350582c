import { startRedis, startRedisCluster, type TestRedis, type TestRedisCluster, waitFor } from '@rampart/testkit';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheRegistry, type RedisClient, type RedisStoreError, ReplayGuard } from '../src/index.ts';
import { startHeldWaitProxy } from './fixtures/held-wait-proxy.ts';

// ReplayGuard with `wait` against a Redis without any replica: every WAIT runs to its timeout,
// and Redis ends a blocked WAIT only on its ~100 ms event-loop tick (WAIT 1 100 takes ~200 ms).
describe('ReplayGuard with wait, on a Redis without replicas', () => {
  let server: TestRedis;
  let redis: Redis;
  let counter = 0;
  const unique = (what: string): string => `${what}-${++counter}`;
  const wait = { replicas: 1, timeoutMs: 100 };
  // The call limit of the tests whose subject is not the limit: under load the default 50 ms ran
  // out for a SET (fail-closed threw ERR_REDIS_TIMEOUT, fail-open rightly answered "first time")
  // and for the guard's new connection to get ready (ERR_REDIS_UNAVAILABLE).
  const unhurried = 2_000;
  const guards: ReplayGuard[] = [];

  beforeAll(async () => {
    server = await startRedis({ owned: true });
    redis = new Redis(server.url, { enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    await waitFor(() => redis.status === 'ready', { timeoutMs: 10_000, what: 'the client to be ready' });
  });
  afterAll(async () => {
    for (const g of guards) g.close();
    redis?.disconnect();
    await server?.stop();
  });

  const guard = (
    onRedisDown: 'fail-closed' | 'fail-open',
    onFailOpen?: (error: RedisStoreError) => void,
    timeoutMs?: number,
    client: RedisClient = redis,
  ) => {
    const g = new ReplayGuard({
      redis: client,
      name: unique('wait'),
      ttlMs: 60_000,
      wait,
      onRedisDown,
      ...(onFailOpen === undefined ? {} : { onFailOpen }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
      registry: new CacheRegistry(),
    });
    guards.push(g);
    return g;
  };

  it('throws ERR_REDIS_NOT_REPLICATED (never ERR_REDIS_TIMEOUT) for every first check', async () => {
    const g = guard('fail-closed', undefined, unhurried);
    for (let i = 0; i < 10; i++) {
      const error = await g.check(`jti-${i}`).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED', retryable: false });
    }
  });

  it('answers a replay false at once, without waiting for replicas', async () => {
    // The proxy holds every WAIT: a replay that waited for replicas would throw
    // ERR_REDIS_NOT_REPLICATED (its WAIT never answered) instead of answering false, however slow
    // the machine is (a bound on the elapsed time flaked under load).
    const proxy = await startHeldWaitProxy(server);
    try {
      const g = guard('fail-closed', undefined, unhurried, await proxy.connect());
      await expect(g.check('seen')).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
      proxy.release();
      for (let i = 0; i < 10; i++) expect(await g.check('seen')).toBe(false);
      g.close();
    } finally {
      await proxy.stop();
    }
  });

  it('never answers a replay "first time" under fail-open', async () => {
    const failOpens: RedisStoreError[] = [];
    const g = guard('fail-open', (error) => failOpens.push(error), unhurried);
    await expect(g.check('seen')).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
    const answers = [];
    for (let i = 0; i < 10; i++) answers.push(await g.check('seen'));
    expect(answers).toEqual(Array.from({ length: 10 }, () => false));
    expect(failOpens).toEqual([]);
  });

  it('under fail-open, reports an unconfirmed first check as ERR_REDIS_NOT_REPLICATED, not as "first time"', async () => {
    const failOpens: RedisStoreError[] = [];
    const g = guard('fail-open', (error) => failOpens.push(error), unhurried);
    for (let i = 0; i < 5; i++) {
      await expect(g.check(`open-${i}`)).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
      expect(await g.check(`open-${i}`)).toBe(false);
    }
    expect(failOpens).toEqual([]);
  });

  it('never answers "first time" for a replay made while a first check of the guard waits for replicas, with either policy', async () => {
    for (const policy of ['fail-closed', 'fail-open'] as const) {
      // The proxy lets the first WAIT through, then holds the first checks' WAITs, and the replays
      // queued behind them, until the assertions: every replay's SET times out behind a pending
      // WAIT of the guard, however slow the machine is. (Left to Redis's ~200 ms WAITs with the
      // default 50 ms limit, a SET sent before any WAIT was pending timed out under load, and
      // fail-open rightly answered "first time"; a longer limit let the queued SETs be answered.)
      const proxy = await startHeldWaitProxy(server, { hold: false });
      try {
        const failOpens: RedisStoreError[] = [];
        const g = guard(policy, (error) => failOpens.push(error), unhurried, await proxy.connect());
        await expect(g.check('seen')).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
        proxy.hold();
        const outcome = (check: Promise<boolean>) =>
          check.then(
            (answer) => answer,
            (e: RedisStoreError) => [e.code, (e.cause as RedisStoreError | undefined)?.code],
          );
        const firsts = Array.from({ length: 8 }, (_, i) => outcome(g.check(`fresh-${i}`)));
        await waitFor(() => proxy.holding(), { timeoutMs: 10_000, what: 'a first check to wait for replicas' });
        // More replays than the 5 timeouts that open a circuit: each one's SET queues behind the
        // held WAITs and runs out of time, which says nothing about Redis's health.
        const replays = await Promise.all(Array.from({ length: 8 }, () => outcome(g.check('seen'))));
        const unanswered = ['ERR_REDIS_NOT_REPLICATED', 'ERR_REDIS_TIMEOUT'];
        expect(replays).toEqual(Array.from({ length: 8 }, () => unanswered));
        expect(await Promise.all(firsts)).toEqual(Array.from({ length: 8 }, () => unanswered));
        expect(failOpens).toEqual([]);
        proxy.release();
        // Nothing opened a circuit: until the released WAITs are over a replay may still queue
        // behind them, then it answers false again, never "Redis is unavailable".
        const later: unknown[] = [];
        await waitFor(
          async () => {
            later.push(await g.check('seen').catch((e: RedisStoreError) => e.code));
            return later.at(-1) === false;
          },
          { timeoutMs: 10_000, what: 'the replay to be answered false' },
        );
        for (const answer of later) expect([false, 'ERR_REDIS_NOT_REPLICATED']).toContain(answer);
        expect(failOpens).toEqual([]);
        g.close();
      } finally {
        await proxy.stop();
      }
    }
  });

  it('lets an attempt release the record its unreplicated check left, and no other attempt', async () => {
    // The forget queues behind the busy checks' SETs: the default 50 ms was exceeded under load.
    const g = guard('fail-closed', undefined, 2_000);
    const mine = g.attempt('unreplicated');
    await expect(mine.check()).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
    // The id stays recorded: another attempt answers replay, and its forget leaves the record.
    const other = g.attempt('unreplicated');
    expect(await other.check()).toBe(false);
    expect(await other.forget()).toBe(false);
    // Sent on the guard's own connection, behind the WAITs pending there.
    const busy = Array.from({ length: 3 }, (_, i) => g.check(`busy-attempt-${i}`).catch(() => undefined));
    expect(await mine.forget()).toBe(true);
    await Promise.all(busy);
    await expect(g.attempt('unreplicated').check()).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
  });

  it("refuses an attempt's forget once the guard is closed", async () => {
    const g = guard('fail-open');
    const attempt = g.attempt('closing');
    await expect(attempt.check()).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
    g.close();
    await expect(attempt.forget()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
  });

  it("does not delay an unrelated command on the caller's client behind the guard's WAITs", async () => {
    // The proxy holds the guard's WAITs, and what its connection sends after them, until released:
    // a PING queued behind them would get no answer at all, however slow the machine is (a bound
    // on the PING's time flaked under load).
    const proxy = await startHeldWaitProxy(server);
    try {
      const client = await proxy.connect();
      const g = guard('fail-closed', undefined, unhurried, client);
      await expect(g.check('warm')).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
      const checks = Array.from({ length: 10 }, (_, i) => g.check(`busy-${i}`).catch(() => undefined));
      expect(await client.ping()).toBe('PONG');
      proxy.release();
      await Promise.all(checks);
      g.close();
    } finally {
      await proxy.stop();
    }
  });

  it('closes the connection it opened for wait, and refuses later checks with either policy', async () => {
    const before = (await redis.client('LIST')) as string;
    const g = guard(
      'fail-open',
      () => {
        throw new Error('fail-open must not answer for a closed guard');
      },
      unhurried,
    );
    await expect(g.check('once')).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
    const count = (list: string) => list.split('\n').filter((line) => line.includes('id=')).length;
    expect(count((await redis.client('LIST')) as string)).toBe(count(before) + 1);
    g.close();
    await waitFor(async () => count((await redis.client('LIST')) as string) === count(before), {
      timeoutMs: 5_000,
      what: 'the guard to close its connection',
    });
    await expect(g.check('once')).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
  });

  it('opens no connection when its name is refused (nothing could close it afterwards)', async () => {
    const count = async () =>
      ((await redis.client('LIST')) as string).split('\n').filter((line) => line.includes('id=')).length;
    const registry = new CacheRegistry();
    const options = { redis, name: unique('taken'), ttlMs: 60_000, wait, timeoutMs: unhurried, registry };
    const first = new ReplayGuard(options);
    guards.push(first);
    await expect(first.check('warm')).rejects.toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
    const before = await count();
    for (let i = 0; i < 3; i++) {
      expect(() => new ReplayGuard(options)).toThrow(expect.objectContaining({ code: 'ERR_REDIS_INVALID_OPTIONS' }));
    }
    // A connection opened by a refused construction would show up here (it connects at once).
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(await count()).toBe(before);
  });

  it('reports a WAIT without an answer within its limit as ERR_REDIS_NOT_REPLICATED, never "first time", with either policy', async () => {
    // The proxy holds the WAIT until after the assertions: Redis cannot answer it within the WAIT
    // phase's call limit however slow the machine is (at hz 1 a busy server still answered in time).
    const proxy = await startHeldWaitProxy(server);
    try {
      for (const policy of ['fail-closed', 'fail-open'] as const) {
        const failOpens: RedisStoreError[] = [];
        // 2 s for the SET and for the guard's new connection to get ready: under load the default
        // 50 ms ran out, and fail-open rightly answered "first time" for a Redis that did not answer.
        const g = guard(policy, (error) => failOpens.push(error), 2_000, await proxy.connect());
        const error = (await g.check('slow').catch((e: unknown) => e)) as RedisStoreError;
        expect(error).toMatchObject({ code: 'ERR_REDIS_NOT_REPLICATED' });
        expect(error.cause).toMatchObject({ code: 'ERR_REDIS_TIMEOUT' });
        expect(failOpens).toEqual([]);
        proxy.release();
        // The id stays recorded.
        await waitFor(async () => (await g.check('slow').catch(() => 'busy')) === false, {
          timeoutMs: 5_000,
          what: 'the replay to be refused',
        });
        g.close();
      }
    } finally {
      await proxy.stop();
    }
  });
});

// On a Cluster the WAIT goes with a read of the key, so it reaches the key's master.
describe('ReplayGuard with wait, on a Redis Cluster with one replica per master', () => {
  let cluster: TestRedisCluster;
  let redis: Cluster;

  beforeAll(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1 });
    redis = new Cluster([...cluster.startupNodes], { lazyConnect: true });
    await redis.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await cluster?.stop();
  });

  it('answers true once its replica acknowledged, then false for a replay, for ids in every slot', async () => {
    const guard = new ReplayGuard({
      redis,
      name: 'wait-cluster',
      ttlMs: 60_000,
      wait: { replicas: 1, timeoutMs: 1000 },
      // Under load the default 50 ms ran out for a SET (ERR_REDIS_TIMEOUT); the limit is not the subject.
      timeoutMs: 2_000,
      registry: new CacheRegistry(),
    });
    try {
      for (const id of ['a', 'b{x}', 'c', 'zzz', 'jti-42']) {
        expect(await guard.check(id)).toBe(true);
        expect(await guard.check(id)).toBe(false);
      }
    } finally {
      guard.close();
    }
  });
});
