import { getFreePort, waitFor } from '@rampart/testkit';
import { type Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CacheRegistry, loadScripts, RedisStoreError, SharedCache } from '../src/index.ts';
import { TAG_READ } from '../src/shared-cache/cache-scripts.ts';
import { LEASE_MODES, SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { tagCommandCounter } from './fixtures/tag-command-counter.ts';
import { keysMatching } from './fixtures/targets.ts';

// Redis steps that fail or are refused (ACLs, lost scripts, tag versions) and the scripts ready() loads,
// on a single node and on the 3-master cluster.
describe.each(SHARED_CACHE_TARGETS)('SharedCache on a %s', (_name, start) => {
  const suite = useSharedCacheTarget(start);
  const { clients, connect, subscriberOf, aclUser, refusingTags, pods, subscribers, nextAnnouncement } = suite;

  describe('reads that return an entry’s bytes', () => {
    it.each(LEASE_MODES)(
      'still work once the server lost its scripts (NOSCRIPT, then EVAL) (%s)',
      async (_how, overrides) => {
        const [a, b] = await pods({ l1: false, ...overrides }, { subscribe: false });
        await a.set('k', 'v');
        const spec = suite.target.spec;
        const nodes =
          spec.kind === 'single'
            ? [new Redis(spec.url)]
            : spec.nodes.map((n) => new Redis({ host: n.host, port: n.port }));
        for (const node of nodes) {
          await node.script('FLUSH'); // this suite's own server, never the machine's
          node.disconnect();
        }
        expect(await b.getOrSet('k', () => 'loaded')).toBe('v');
        expect(await b.getOrSet('other', () => 'loaded')).toBe('loaded');
        await Promise.all([a.close(), b.close()]);
      },
    );
  });

  describe('scripts loaded by ready()', () => {
    /** SCRIPT FLUSH on every master: Redis as a new server (or one just restarted) has it. */
    const flushScripts = async (): Promise<void> => {
      const admin = await connect();
      const nodes: Redis[] = admin.isCluster ? (admin as Cluster).nodes('master') : [admin as Redis];
      for (const node of nodes) await node.script('FLUSH');
    };

    // Without them, the first tagged call sent an EVALSHA per tag, got as many NOSCRIPT replies and
    // sent the whole script again per tag (up to 32 EVALs in one call bounded by timeoutMs).
    it('makes the first tagged calls after a SCRIPT FLUSH send EVALSHA, never EVAL', async () => {
      await flushScripts();
      const counted = tagCommandCounter(await connect());
      const cache = new SharedCache<string>({
        name: unique('preloaded'),
        class: 'pod',
        reason: 'script preload test',
        ttlMs: 60_000,
        redis: counted.client,
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await cache.ready();
      const tags = Array.from({ length: 32 }, (_, i) => `tenant-${i}`);
      expect(await cache.getOrSet('k', () => 'v', { tags })).toBe('v'); // every tag's version read
      expect(await cache.get('k')).toBe('v'); // every tag checked (GET)
      await cache.invalidateTags(tags); // every tag bumped
      expect(counted.sent()).toBe(3 * 32);
      expect(counted.evals()).toBe(0);
      // Scripts lost later (a SCRIPT FLUSH, a restart, a failover): reloaded by the NOSCRIPT fallback.
      // The first call's 31 bumps all meet NOSCRIPT and go again as EVAL; the last tag's bump, sent
      // once they are answered, finds the script loaded on its node.
      await flushScripts();
      await cache.invalidateTags(tags);
      expect(counted.evals()).toBe(31);
      await cache.close();
    });
  });

  describe('a miss whose tag versions Redis refuses', () => {
    // The read before a load (generation and tag versions) used to fail silently: the loader ran,
    // its value was not cached, and nothing reached onError, whatever the Redis-down policy.
    it('reports it to onError and follows the Redis-down policy (fail-closed throws, bypass loads)', async () => {
      const closedName = unique('tags-refused');
      const bypassName = unique('tags-refused-bypass');
      const client = await refusingTags(closedName, bypassName);
      const admin = await connect();
      const errors: unknown[] = [];
      const common = {
        reason: 'refused tag test',
        ttlMs: 60_000,
        redis: client,
        timeoutMs: 2_000,
        onError: (error: unknown) => errors.push(error),
      } as const;
      const closed = new SharedCache<string>({
        ...common,
        name: closedName,
        class: 'cluster',
        registry: new CacheRegistry(),
      });
      const bypass = new SharedCache<string>({
        ...common,
        name: bypassName,
        class: 'pod',
        registry: new CacheRegistry(),
      });
      let loads = 0;
      const loader = (): string => {
        loads += 1;
        return 'loaded';
      };
      const tags = ['secret-tenant-7f3a'];
      const refused = await closed.getOrSet('k', loader, { tags }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(RedisStoreError);
      expect(refused).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      expect(loads).toBe(0);
      expect(await bypass.getOrSet('k', loader, { tags })).toBe('loaded');
      expect(loads).toBe(1);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RedisStoreError);
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      for (const error of [refused, errors[0]]) {
        const message = (error as Error).message;
        expect(message).not.toContain('secret-tenant');
        expect(message).not.toContain('rampart:');
      }
      // Nothing cached, and both leases given back.
      for (const name of [closedName, bypassName]) {
        expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
        expect(await admin.get(`rampart:cache:${name}:{=k}`)).toBeNull();
      }
      await Promise.all([closed.close(), bypass.close()]);
    });
  });

  describe('an expired entry within staleIfErrorMs whose reload Redis refuses the tag versions of', () => {
    const loaderOf = (failing: boolean): { loader: () => string; loads: () => number } => {
      let loads = 0;
      return {
        loader: () => {
          loads += 1;
          if (failing) throw new Error('origin down');
          return 'fresh';
        },
        loads: () => loads,
      };
    };

    // The lease holder found the entry, expired within staleIfErrorMs, then failed to read the tag
    // versions its load needs: fail-closed threw, though the pods that lost the lease served it.
    it.each([
      ['fail-closed', false, 'old'],
      ['fail-closed', true, 'old'],
      ['bypass', false, 'fresh'],
      ['bypass', true, 'old'],
    ] as const)(
      'is served as the Redis-down policy says (the README JWKS setup without L1, %s, loader failing: %s)',
      async (policy, failing, expected) => {
        let now = 9_000_000;
        const name = unique('stale-refused');
        const errors: unknown[] = [];
        const cache = new SharedCache<string>({
          name,
          class: 'cluster',
          reason: 'stale entry with refused tags test',
          ttlMs: 60_000,
          redis: await refusingTags(name),
          l1: false,
          staleIfErrorMs: 3_600_000,
          onRedisDown: policy,
          timeoutMs: 2_000,
          clock: { now: () => now, random: () => 0.5 },
          onError: (error) => errors.push(error),
          registry: new CacheRegistry(),
        });
        await cache.set('k', 'old'); // untagged: no tag key is needed
        now += 61_000; // past its expiry, within staleIfErrorMs; Redis keeps it (its PX runs on real time)
        const { loader, loads } = loaderOf(failing);
        expect(await cache.getOrSet('k', loader, { tags: ['tenant-secret'] })).toBe(expected);
        // fail-closed serves the stale entry, as for a failed read, and runs no loader Redis could not cache for.
        expect(loads()).toBe(policy === 'fail-closed' ? 0 : 1);
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
        expect((errors[0] as Error).message).not.toContain('tenant-secret');
        await cache.close();
      },
    );

    it.each([
      ['fail-closed', false, 'v2'],
      ['fail-closed', true, 'v2'],
      ['bypass', false, 'fresh'],
      ['bypass', true, 'v2'],
    ] as const)(
      'is preferred to this pod’s older L1 copy (%s, loader failing: %s)',
      async (policy, failing, expected) => {
        let now = 9_500_000;
        const clock = { now: () => now, random: () => 0.5 };
        const name = unique('stale-refused-l1');
        const common = {
          name,
          class: 'pod',
          reason: 'stale entry with refused tags test',
          ttlMs: 60_000,
          staleIfErrorMs: 3_600_000,
          timeoutMs: 2_000,
          clock,
        } as const;
        const errors: unknown[] = [];
        const a = new SharedCache<string>({
          ...common,
          redis: await refusingTags(name),
          onRedisDown: policy,
          onError: (error) => errors.push(error),
          registry: new CacheRegistry(),
        });
        const b = new SharedCache<string>({
          ...common,
          redis: await connect(),
          l1: false,
          registry: new CacheRegistry(),
        });
        expect(await a.getOrSet('k', () => 'v1')).toBe('v1'); // A's L1 keeps v1
        await b.set('k', 'v2'); // A listens to no announcement: its copy stays v1
        now += 61_000; // both expired, within staleIfErrorMs
        const { loader } = loaderOf(failing);
        expect(await a.getOrSet('k', loader, { tags: ['tenant-secret'] })).toBe(expected);
        expect(errors).toHaveLength(1);
        await Promise.all([a.close(), b.close()]);
      },
    );
  });

  describe('a load whose tag versions Redis refuses', () => {
    it.each(
      LEASE_MODES.flatMap(
        ([how, overrides]) =>
          [
            [how, 'a missing key', overrides, false],
            [how, 'an expired entry', overrides, true],
          ] as const,
      ),
    )('leaves no generation or lease key behind (%s, %s)', async (_how, _what, overrides, expired) => {
      let now = 10_000_000;
      const name = unique('refused-keys');
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name,
        class: 'pod',
        reason: 'refused tag keys test',
        ttlMs: 60_000,
        redis: await refusingTags(name),
        l1: false,
        timeoutMs: 2_000,
        clock: { now: () => now, random: () => 0.5 },
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
        ...overrides,
      });
      const admin = await connect();
      if (expired) {
        await cache.set('k', 'old');
        now += 61_000;
      }
      expect(await cache.getOrSet('k', () => 'fresh', { tags: ['t1'] })).toBe('fresh'); // bypass
      expect(errors).toHaveLength(1);
      expect(await keysMatching(admin, `rampart:cache:${name}:g:*`)).toEqual([]);
      expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
      await cache.close();
    });

    it.each(LEASE_MODES)(
      'in an early refresh leaves no generation or lease key behind (%s)',
      async (_how, overrides) => {
        let now = 11_000_000;
        const name = unique('refused-refresh');
        const errors: unknown[] = [];
        const cache = new SharedCache<string>({
          name,
          class: 'pod',
          reason: 'refused tag keys test',
          ttlMs: 10_000,
          redis: await refusingTags(name),
          l1: false,
          earlyRefresh: { beta: 100 },
          timeoutMs: 10_000,
          clock: { now: () => now, random: () => 0.5 },
          onError: (error) => errors.push(error),
          registry: new CacheRegistry(),
          ...overrides,
        });
        const admin = await connect();
        const first = (): string => {
          now += 500; // δ = 500 ms on the injected clock
          return 'v1';
        };
        expect(await cache.getOrSet('k', first)).toBe('v1'); // untagged
        now += 9_000; // 1 s before expiry: due
        expect(await cache.getOrSet('k', () => 'v2', { tags: ['t1'] })).toBe('v1'); // starts the refresh
        await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the refresh to report the refused tags' });
        expect(errors).toHaveLength(1);
        expect(await keysMatching(admin, `rampart:cache:${name}:g:*`)).toEqual([]);
        expect(await keysMatching(admin, `rampart:cache:${name}:l:*`)).toEqual([]);
        await cache.close();
      },
    );
  });

  describe('ready() and the scripts it loads', () => {
    /** A client of a Redis that is down at start-up (nothing listens on its port). */
    const unreachable = async (): Promise<Redis> => {
      const port = await getFreePort();
      const redis = new Redis({ port, host: '127.0.0.1', enableOfflineQueue: false, retryStrategy: () => 50 });
      redis.on('error', () => {});
      clients.push(redis);
      return redis;
    };

    // Loading is an optimisation: ready() rejected (retryable, "check that Redis is reachable") for
    // a user without SCRIPT, whose calls all work, so a caller retrying it looped for ever.
    it('resolves when Redis refuses SCRIPT LOAD (NOPERM), reporting it once to onError as not retryable', async () => {
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name: unique('no-script'),
        class: 'pod',
        reason: 'script refused test',
        ttlMs: 60_000,
        redis: await aclUser('no-script', ['~*', '&*', '+@all', '-script']),
        l1: false,
        timeoutMs: 2_000,
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
      });
      await cache.ready();
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(RedisStoreError);
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY', retryable: false });
      const message = (errors[0] as Error).message;
      expect(message).toContain('SharedCache');
      expect(message).not.toContain('reachable');
      // Every call works without them: a script Redis lacks is sent whole.
      expect(await cache.getOrSet('k', () => 'v', { tags: ['a', 'b'] })).toBe('v');
      expect(await cache.get('k')).toBe('v');
      await cache.close();
    });

    it('loadScripts rejects SCRIPT LOAD refused by an ACL as not retryable, saying what to grant', async () => {
      const client = await aclUser('no-script', ['~*', '&*', '+@all', '-script']);
      const error = await loadScripts(client, [TAG_READ], 2_000).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY', retryable: false });
      expect((error as Error).message).toContain('script|load');
    });

    // It resolved at once before ready() loaded scripts, then waited 10 s and rejected.
    it('does not wait for a Redis that is down at start-up (no subscriber), and reports the unloaded scripts', async () => {
      const redis = await unreachable();
      const errors: unknown[] = [];
      const cache = new SharedCache<string>({
        name: unique('down-at-start'),
        class: 'pod',
        reason: 'redis down at start-up test',
        ttlMs: 60_000,
        redis,
        timeoutMs: 2_000,
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
      });
      await cache.ready();
      expect(redis.status).not.toBe('ready');
      redis.disconnect(); // the background load gives up on the closed client and reports it
      await waitFor(() => errors.length > 0, { timeoutMs: 5_000, what: 'the unloaded scripts to be reported' });
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
      await cache.close();
    });

    // The background load reports outside any caller: a throwing onError rejected a promise nobody
    // awaited, an unhandled rejection, which ends a Node process.
    it('swallows what onError throws, so a background load that fails never rejects unhandled', async () => {
      const unhandled: unknown[] = [];
      const onUnhandled = (reason: unknown): void => {
        unhandled.push(reason);
      };
      process.on('unhandledRejection', onUnhandled);
      try {
        const redis = await unreachable();
        let reports = 0;
        const cache = new SharedCache<string>({
          name: unique('throwing-on-error'),
          class: 'pod',
          reason: 'throwing onError test',
          ttlMs: 60_000,
          redis,
          timeoutMs: 2_000,
          onError: () => {
            reports += 1;
            throw new Error('the onError of the caller failed');
          },
          registry: new CacheRegistry(),
        });
        await cache.ready();
        redis.disconnect(); // the background load gives up on the closed client and reports it
        await waitFor(() => reports > 0, { timeoutMs: 5_000, what: 'the unloaded scripts to be reported' });
        // An unhandled rejection is reported once the microtasks of its turn ran: one more turn.
        await new Promise((resolve) => setImmediate(resolve));
        expect(reports).toBe(1);
        expect(unhandled).toEqual([]);
        await cache.close();
      } finally {
        process.off('unhandledRejection', onUnhandled);
      }
    });

    // A throwing onError is dropped, in background reports and in calls alike: once per cache, a
    // process warning shows that the reporter is broken, naming no key, tag or value.
    it('emits one process warning the first time onError throws, naming no key, tag or value', async () => {
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => {
        if ((warning as { code?: string }).code === 'RAMPART_ONERROR_THREW') warnings.push(warning);
      };
      process.on('warning', onWarning);
      try {
        const name = unique('warned-on-error');
        let reports = 0;
        const cache = new SharedCache<string>({
          name,
          class: 'pod',
          reason: 'throwing onError warning test',
          ttlMs: 60_000,
          redis: await refusingTags(name), // every tagged miss reports a refused tag step
          l1: false,
          timeoutMs: 2_000,
          onError: () => {
            reports += 1;
            throw new Error('the onError of the caller failed');
          },
          registry: new CacheRegistry(),
        });
        await cache.ready();
        for (const key of ['secret-key-1', 'secret-key-2'])
          expect(await cache.getOrSet(key, () => 'secret-value', { tags: ['secret-tag'] })).toBe('secret-value');
        expect(reports).toBe(2);
        // process.emitWarning emits on the next tick.
        await new Promise((resolve) => setImmediate(resolve));
        expect(warnings).toHaveLength(1);
        expect(warnings[0]?.message).toContain(name);
        expect(warnings[0]?.message).not.toMatch(/secret|caller failed/);
        await cache.close();
      } finally {
        process.off('warning', onWarning);
      }
    });

    it('reports nothing to onError once closed: a background load that fails after close() is not reported', async () => {
      const redis = await unreachable();
      const closedErrors: unknown[] = [];
      const openErrors: unknown[] = [];
      const common = { class: 'pod', reason: 'closed cache test', ttlMs: 60_000, redis, timeoutMs: 2_000 } as const;
      const closed = new SharedCache<string>({
        ...common,
        name: unique('closed-before-load'),
        onError: (error) => closedErrors.push(error),
        registry: new CacheRegistry(),
      });
      // A witness on the same client: its load fails on the same event as the closed cache's.
      const open = new SharedCache<string>({
        ...common,
        name: unique('open-witness'),
        onError: (error) => openErrors.push(error),
        registry: new CacheRegistry(),
      });
      await Promise.all([closed.ready(), open.ready()]);
      await closed.close();
      redis.disconnect();
      await waitFor(() => openErrors.length > 0, { timeoutMs: 5_000, what: 'the witness to report its load' });
      await new Promise((resolve) => setImmediate(resolve));
      expect(closedErrors).toEqual([]);
      await open.close();
    });
  });

  describe('a fail-closed miss whose read succeeded but whose tag step Redis refuses', () => {
    // The L1 copy was served as if Redis were down (nobody could publish an invalidation then),
    // though Redis's read had just said the value was deleted or tag-invalidated.
    it.each(
      LEASE_MODES.flatMap(
        ([how, overrides]) =>
          [
            [how, 'deleted', overrides],
            [how, 'tag-invalidated', overrides],
          ] as const,
      ),
    )('never serves this pod’s L1 copy of a value the read found %s (%s)', async (_how, what, overrides) => {
      const name = unique('read-says-dead');
      const subscriber = await subscriberOf();
      const errors: unknown[] = [];
      const a = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the reviewer’s probe',
        ttlMs: 60_000,
        // Reads the tag keys but cannot write them: the tag step (TAG_READ extends the tag) is refused.
        redis: await aclUser('tags-read-only', [
          `~rampart:cache:${name}:[^t]*`,
          `%R~rampart:cache:${name}:t:*`,
          'allchannels',
          '+@all',
        ]),
        subscriber,
        staleIfErrorMs: 3_600_000,
        onRedisDown: 'fail-closed',
        timeoutMs: 2_000,
        onError: (error) => errors.push(error),
        registry: new CacheRegistry(),
        ...overrides,
      });
      subscribers.set(a as SharedCache<unknown>, subscriber);
      await a.ready();
      // A shorter tag life than A's: A's tag step must extend the tag, a write its ACL refuses.
      const b = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the other pod',
        ttlMs: 60_000,
        redis: await connect(),
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
        ...overrides,
      });
      const announced = nextAnnouncement(a as SharedCache<unknown>, 'k');
      await b.set('k', 'old', { tags: ['x'] });
      await announced; // handled before A reads: it cannot drop the copy A's read keeps
      expect(await a.get('k')).toBe('old');
      expect(a.size).toBe(1); // held in A's L1
      subscriber.disconnect(); // A hears no invalidation from here on
      await waitFor(() => subscriber.status === 'end', { timeoutMs: 5_000, what: 'the subscriber to close' });
      if (what === 'deleted') await b.delete('k');
      else await b.invalidateTags(['x']);
      expect(await b.get('k')).toBeUndefined();
      expect(await a.get('k')).toBeUndefined();
      let loads = 0;
      const got = await a
        .getOrSet(
          'k',
          () => {
            loads += 1;
            return 'new';
          },
          { tags: ['x'] },
        )
        .catch((e: unknown) => e);
      expect(got).toBeInstanceOf(RedisStoreError);
      expect(got).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
      expect(loads).toBe(0);
      await Promise.all([a.close(), b.close()]);
    });
  });
});
