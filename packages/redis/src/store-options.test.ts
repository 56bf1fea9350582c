import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CacheRegistry } from './cache-registry.ts';
import { RedisStoreError } from './errors.ts';
import { createOidcProviderAdapter } from './oidc-provider-adapter.ts';
import { ReplayGuard } from './replay-guard.ts';
import type { RedisClient } from './scripts.ts';
import { SharedCache } from './shared-cache/shared-cache.ts';
import { SingleUseStore } from './single-use-store.ts';
import { checkCoalesce, MAX_TTL_MS, ttlMsProblem } from './store-options.ts';

// Construction never talks to Redis, so a stand-in client is enough to test validation.
const fakeRedis = { evalsha: () => Promise.resolve(null), status: 'ready' } as unknown as RedisClient;

const problemsOf = (build: () => unknown): string => {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(RedisStoreError);
    expect((error as RedisStoreError).code).toBe('ERR_REDIS_INVALID_OPTIONS');
    return (error as Error).message;
  }
  throw new Error('expected the constructor to throw');
};

describe('SharedCache', () => {
  it('refuses a cache without a class and a reason, listing every problem at once', () => {
    const message = problemsOf(() => new SharedCache({ name: 'x', ttlMs: 1000 } as never));
    expect(message).toContain('class must be');
    expect(message).toContain('reason must');
  });

  it('requires Redis for a cluster-class cache, and a subscriber before it keeps an L1', () => {
    const registry = new CacheRegistry();
    expect(
      problemsOf(() => new SharedCache({ name: 'x', class: 'cluster', reason: 'jwks', ttlMs: 1, registry })),
    ).toContain("redis is required for class 'cluster'");
    expect(
      problemsOf(
        () =>
          new SharedCache({
            name: 'x',
            class: 'cluster',
            reason: 'jwks',
            ttlMs: 1,
            redis: fakeRedis,
            l1: { maxEntries: 10 },
            registry,
          }),
      ),
    ).toContain('l1 needs a subscriber');
    const cache = new SharedCache({
      name: 'x',
      class: 'cluster',
      reason: 'jwks',
      ttlMs: 1,
      redis: fakeRedis,
      registry,
    });
    expect(cache.audit()).toMatchObject({ backing: 'redis', class: 'cluster', maxSize: undefined });
  });

  it('keeps a pod-class cache in process without Redis, and registers it', () => {
    const registry = new CacheRegistry();
    const cache = new SharedCache({ name: 'memo', class: 'pod', reason: 'pure function', ttlMs: 1000, registry });
    expect(registry.rows()).toEqual([
      {
        name: 'memo',
        kind: 'SharedCache',
        class: 'pod',
        reason: 'pure function',
        backing: 'l1',
        size: 0,
        maxSize: 1000,
      },
    ]);
    return cache.close();
  });

  it('serves a pod-class in-process cache with single flight', async () => {
    const cache = new SharedCache<number>({
      name: 'memo',
      class: 'pod',
      reason: 'pure function',
      ttlMs: 60_000,
      registry: new CacheRegistry(),
    });
    let calls = 0;
    const values = await Promise.all(Array.from({ length: 10 }, () => cache.getOrSet('k', async () => ++calls)));
    expect(values).toEqual(Array(10).fill(1));
    expect(await cache.get('k')).toBe(1);
    await cache.close();
  });
});

describe('ReplayGuard', () => {
  it('lists every bad option at once', () => {
    const message = problemsOf(
      () =>
        new ReplayGuard({ redis: {} as RedisClient, name: 'bad name!', ttlMs: 0, wait: { replicas: 0, timeoutMs: 1 } }),
    );
    for (const part of ['redis must be', 'name must be', 'ttlMs must be', 'wait.replicas'])
      expect(message).toContain(part);
  });

  it('never echoes an id in an error message', async () => {
    const guard = new ReplayGuard({ redis: fakeRedis, name: 'g', ttlMs: 1000, registry: new CacheRegistry() });
    await fc.assert(
      fc.asyncProperty(fc.string({ minLength: 1025, maxLength: 1100 }), async (id) => {
        const error = await guard.check(id).catch((e: unknown) => e);
        expect((error as RedisStoreError).code).toBe('ERR_REDIS_INVALID_ARGUMENT');
        expect((error as Error).message).not.toContain(id.slice(0, 16));
      }),
      { numRuns: 20 },
    );
  });
});

describe('SingleUseStore', () => {
  it('only accepts the fail-closed policy', () => {
    expect(
      problemsOf(
        () => new SingleUseStore({ redis: fakeRedis, name: 's', ttlMs: 1, onRedisDown: 'fail-open' as never }),
      ),
    ).toContain("onRedisDown can only be 'fail-closed'");
  });
});

describe('createOidcProviderAdapter', () => {
  it('joins the cache audit table as a cluster-class store', () => {
    const registry = new CacheRegistry();
    createOidcProviderAdapter({ redis: fakeRedis, registry });
    expect(registry.rows()).toMatchObject([
      { name: 'oidc-provider', kind: 'OidcProviderAdapter', class: 'cluster', backing: 'redis' },
    ]);
  });

  it('refuses a missing client and a prefix with braces', () => {
    const message = problemsOf(() => createOidcProviderAdapter({ redis: undefined as never, prefix: '{x}' }));
    expect(message).toContain('redis must be');
    expect(message).toContain('prefix must be');
  });
});

describe('checkCoalesce', () => {
  it('defaults to batches of 32, turns off with false and on a Cluster, and refuses anything else', () => {
    const problems: string[] = [];
    expect(checkCoalesce(undefined, fakeRedis, problems)).toBe(32);
    expect(checkCoalesce({ maxBatch: 8 }, fakeRedis, problems)).toBe(8);
    expect(checkCoalesce(false, fakeRedis, problems)).toBe(0);
    expect(checkCoalesce({}, { isCluster: true }, problems)).toBe(0);
    expect(problems).toEqual([]);
    checkCoalesce(true, fakeRedis, problems);
    checkCoalesce({ maxBatch: 1 }, fakeRedis, problems);
    expect(problems).toEqual(['coalesce must be false or { maxBatch }.', expect.stringContaining('coalesce.maxBatch')]);
  });

  it('is validated by ReplayGuard and SingleUseStore with the other options', () => {
    for (const build of [
      () => new ReplayGuard({ redis: fakeRedis, name: 'c', ttlMs: 1_000, coalesce: 'on' as never }),
      () => new SingleUseStore({ redis: fakeRedis, name: 'c', ttlMs: 1_000, coalesce: { maxBatch: 0 } }),
    ]) {
      expect(problemsOf(build)).toContain('coalesce');
    }
  });
});

describe('ttlMsProblem', () => {
  it('says a missing ttlMs is required, and gives the unit hint only to one above the bound', () => {
    expect(ttlMsProblem(1)).toBeUndefined();
    expect(ttlMsProblem(MAX_TTL_MS)).toBeUndefined();
    expect(ttlMsProblem(undefined)).toMatch(/^ttlMs is required: an integer from 1 to 31622400000 \(366 days\)/);
    for (const bad of [0, -1, 1.5, Number.NaN, '60000', null]) {
      const problem = ttlMsProblem(bad);
      expect(problem, String(bad)).toMatch(
        /^ttlMs must be an integer from 1 to 31622400000 \(366 days\), in milliseconds\.$/,
      );
    }
    for (const big of [MAX_TTL_MS + 1, Date.now() + 60_000, Number.POSITIVE_INFINITY]) {
      expect(ttlMsProblem(big)).toContain('usually an expiry time (Date.now() + ms)');
      expect(ttlMsProblem(big)).not.toContain(String(big));
    }
  });
});
