import { waitFor } from '@rampart/testkit';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { CacheRegistry, RedisStoreError, SharedCache } from '../src/index.ts';
import { gatedLoader } from './fixtures/gated-loader.ts';
import { SHARED_CACHE_TARGETS, unique, useSharedCacheTarget } from './fixtures/shared-cache-target.ts';
import { ready } from './fixtures/targets.ts';

// The subscriber and the announcements that keep every pod’s L1 current, on a single node and on the
// 3-master cluster.
describe.each(SHARED_CACHE_TARGETS)('SharedCache on a %s', (_name, start) => {
  const suite = useSharedCacheTarget(start);
  const { clients, connect, subscriberOf, withoutChannels, build, pods } = suite;

  describe('a write whose announcement Redis refuses', () => {
    it('stands, and the refusal goes to onError (set and a loading getOrSet)', async () => {
      const restricted = await withoutChannels();
      const errors: unknown[] = [];
      const name = unique('publish-write');
      const options = {
        name,
        class: 'cluster',
        reason: 'publish failure test',
        ttlMs: 60_000,
        timeoutMs: 2_000,
      } as const;
      const a = new SharedCache<string>({
        ...options,
        redis: restricted,
        registry: new CacheRegistry(),
        onError: (e) => errors.push(e),
      });
      const b = new SharedCache<string>({ ...options, redis: await connect(), registry: new CacheRegistry() });
      await a.set('k', 'set');
      expect(await a.getOrSet('l', () => 'loaded')).toBe('loaded');
      expect(await b.get('k')).toBe('set');
      expect(await b.get('l')).toBe('loaded');
      expect(errors).toHaveLength(2);
      for (const error of errors) {
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error).toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE', retryable: true });
        expect((error as Error).message).toBe(`SharedCache "${name}".publish: the Redis call failed.`);
      }
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('subscriber', () => {
    it('subscribes once a subscriber built with the cache connects (the README construction)', async () => {
      const redis = build({});
      // The README: redis.duplicate() of a single node; on a Cluster, a Redis to one of its nodes.
      const spec = suite.target.spec;
      const subscriber =
        spec.kind === 'single'
          ? (redis as Redis).duplicate()
          : new Redis({ host: spec.nodes[0]!.host, port: spec.nodes[0]!.port });
      subscriber.on('error', () => {});
      clients.push(subscriber);
      const name = unique('readme');
      const jwks = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'signing keys rotate: every pod must drop a retired key together',
        ttlMs: 300_000,
        redis,
        subscriber,
        staleIfErrorMs: 3_600_000,
        // Not the README's (the 50 ms default): the subscription is what this checks, and a process
        // stalled under load reads Redis's answer to a call after its timeout has already fired.
        // 10 s: ready() still gives up after max(timeoutMs, 10 s), well within the test's timeout.
        timeoutMs: 10_000,
        registry: new CacheRegistry(),
      });
      await jwks.ready();
      await ready(redis);
      const other = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the other pod',
        ttlMs: 300_000,
        redis: await connect(),
        timeoutMs: 10_000,
        registry: new CacheRegistry(),
      });
      await other.set('issuer-a', 'keys-1');
      expect(await jwks.getOrSet('issuer-a', () => 'unused', { tags: ['issuer-a'] })).toBe('keys-1');
      expect(jwks.size).toBe(1); // the L1 is on
      await other.delete('issuer-a');
      await waitFor(() => jwks.size === 0, { timeoutMs: 5_000, what: 'the invalidation to reach the L1' });
      await Promise.all([jwks.close(), other.close()]);
    });

    // Only a Cluster can be refused as one: defined on the cluster run alone.
    if (_name === 'cluster') {
      it('refuses a Cluster as subscriber', async () => {
        const subscriber = await connect();
        expect(subscriber.isCluster).toBe(true);
        let error: unknown;
        try {
          new SharedCache<string>({
            name: unique('cluster-sub'),
            class: 'cluster',
            reason: 'a Cluster subscriber re-subscribes without telling anyone',
            ttlMs: 60_000,
            redis: await connect(),
            subscriber: subscriber as unknown as Redis,
            registry: new CacheRegistry(),
          });
        } catch (e) {
          error = e;
        }
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_OPTIONS' });
        expect((error as Error).message).toContain('subscriber must be a plain ioredis Redis connection to one node');
        expect(subscriber.listenerCount('message')).toBe(0); // nothing was attached to it
      });
    }

    it('leaves nothing subscribed behind a cache refused for a name already registered', async () => {
      const subscriber = await subscriberOf();
      const admin = await subscriberOf(); // a plain connection to the subscriber's node, for PUBSUB
      const redis = await connect();
      const registry = new CacheRegistry();
      const name = unique('duplicate');
      const make = (): SharedCache<string> =>
        new SharedCache<string>({
          name,
          class: 'cluster',
          reason: 'one cache per name',
          ttlMs: 60_000,
          redis,
          subscriber,
          timeoutMs: 2_000,
          registry,
        });
      const first = make();
      await first.ready();
      for (let i = 0; i < 3; i++) {
        expect(make).toThrow(RedisStoreError);
        expect(make).toThrow('already registered');
      }
      const channel = `rampart:cache:${name}:invalidate`;
      expect(await admin.pubsub('CHANNELS', channel)).toEqual([channel]);
      await first.close();
      expect(subscriber.listenerCount('message')).toBe(0);
      expect(await admin.pubsub('CHANNELS', channel)).toEqual([]);
    });

    it('never serves a value deleted while the subscriber’s connection was down, and drops the L1 once it is back', async () => {
      // A long reconnect delay makes the gap certain; a user's default delay only shortens it.
      const subscriber = await subscriberOf({ retryStrategy: () => 1_000 });
      const id = String(await subscriber.client('ID'));
      const { host, port } = subscriber.options;
      const admin = new Redis({ host: host as string, port: port as number });
      admin.on('error', () => {});
      clients.push(admin);
      const name = unique('gap');
      const a = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'signing keys rotate',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      const b = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the other pod',
        ttlMs: 60_000,
        redis: await connect(),
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await a.ready();
      // Set by pod A itself: a write announced by B could reach A's node (cluster bus) after A read
      // the value, and drop it from A's L1 before the test begins.
      await a.set('k', 'v1');
      expect(await b.get('k')).toBe('v1');
      expect(await a.get('k')).toBe('v1');
      expect(a.size).toBe(1); // held in pod A's L1
      // What the reviewer did with CLIENT KILL TYPE pubsub, aimed at this one connection.
      await admin.client('KILL', 'ID', id);
      await waitFor(() => subscriber.status !== 'ready', { timeoutMs: 5_000, what: 'the subscriber to notice' });
      await b.delete('k'); // its invalidation is published while pod A hears nothing
      expect(subscriber.status).not.toBe('ready');
      expect(a.size).toBe(1); // the stale copy is still in the L1 ...
      expect(await a.get('k')).toBeUndefined(); // ... but not served: the bus is down, Redis is read
      await a.ready(); // reconnected and re-subscribed
      expect(a.size).toBe(0); // the L1 was dropped
      expect(await a.get('k')).toBeUndefined();
      await b.set('k', 'v2');
      await waitFor(async () => (await a.get('k')) === 'v2', { timeoutMs: 5_000, what: 'invalidations to flow again' });
      await b.delete('k');
      await waitFor(async () => (await a.get('k')) === undefined, {
        timeoutMs: 5_000,
        what: 'the delete to reach pod A',
      });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('writes from a pod without a subscriber', () => {
    it('still reach the L1 of pods that listen', async () => {
      const [a] = await pods();
      const [writer] = await pods({ name: a.name, l1: false }, { subscribe: false });
      expect(await a.getOrSet('k', () => 'old')).toBe('old');
      expect(a.size).toBe(1);
      await writer.set('k', 'new');
      await waitFor(async () => (await a.get('k')) === 'new', { timeoutMs: 5_000, what: 'the write to reach the L1' });
      await Promise.all([a.close(), writer.close()]);
    });
  });

  describe('announcements published by the write scripts', () => {
    it('reach a pod subscribed on another node than the one that ran the script, in the same format', async () => {
      const name = unique('announce');
      const entryKey = (key: string): string => `rampart:cache:${name}:{=${key}}`;
      const spec = suite.target.spec;
      const key = 'k';
      let tag = 't';
      // On the cluster: the key's and the tag's scripts run on one master, the pods listen on
      // another (the PUBLISH crosses the cluster bus).
      let listenOn: { host: string; port: number } | string = spec.kind === 'single' ? spec.url : spec.nodes[0]!;
      if (spec.kind === 'cluster') {
        const admin = await connect();
        const slots = await admin.cluster('SLOTS');
        const ownerOf = async (full: string): Promise<number> => {
          const slot = Number(await admin.cluster('KEYSLOT', full));
          return slots.find(([from, to]) => slot >= from && slot <= to)![2]![1];
        };
        const owner = await ownerOf(entryKey(key));
        listenOn = spec.nodes.find((n) => n.port !== owner)!;
        for (let i = 0; (await ownerOf(`rampart:cache:${name}:t:${tag}`)) === listenOn.port; i++) tag = `t${i}`;
      }
      const subscriber = typeof listenOn === 'string' ? new Redis(listenOn) : new Redis({ ...listenOn });
      const raw = typeof listenOn === 'string' ? new Redis(listenOn) : new Redis({ ...listenOn });
      clients.push(await ready(subscriber), await ready(raw));
      const heard: string[] = [];
      raw.on('message', (_channel: string, text: string) => heard.push(text));
      await raw.subscribe(`rampart:cache:${name}:invalidate`);
      const a = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'announcement test',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await a.ready();
      const sent: string[] = [];
      const client = await connect();
      const counting = new Proxy(client, {
        get(t, prop) {
          const value = Reflect.get(t, prop, t) as unknown;
          if (typeof value !== 'function') return value;
          // evalshaBuffer: the reads that return an entry's bytes send their EVALSHA through it.
          if (!['evalsha', 'publish', 'unlink', 'evalshaBuffer'].includes(String(prop))) return value.bind(t);
          return (...args: unknown[]) => {
            sent.push(String(prop).replace(/Buffer$/, ''));
            return value.apply(t, args);
          };
        },
      });
      // The writer listens to nothing: its writes are announced all the same.
      const b = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'the writing pod',
        ttlMs: 60_000,
        redis: counting,
        l1: false,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      expect(await a.getOrSet(key, () => 'old')).toBe('old');
      expect(a.size).toBe(1);
      await waitFor(() => heard.length === 1, { timeoutMs: 5_000, what: 'pod A’s own announcement' });
      await (await connect()).unlink(entryKey(key)); // gone from Redis, unannounced: pod A's L1 still holds it
      sent.length = 0;
      expect(await b.getOrSet(key, () => 'loaded')).toBe('loaded'); // a miss: its write announces itself
      expect(sent).toEqual(['evalsha', 'evalsha']);
      await waitFor(async () => (await a.get(key)) === 'loaded', { timeoutMs: 5_000, what: 'the miss’s announcement' });
      await waitFor(() => heard.length === 2, { timeoutMs: 5_000, what: 'the raw subscriber' });
      const written = JSON.parse(heard[1]!) as { origin: string; keys: string[]; w: string };
      expect(Object.keys(written)).toEqual(['origin', 'keys', 'w']);
      expect(written.keys).toEqual([key]);
      expect(written.w.startsWith(`${written.origin}.`)).toBe(true);
      sent.length = 0;
      await b.set(key, 'set', { tags: [tag] });
      expect(sent).toEqual(['evalsha', 'evalsha']); // the tag's version, then the write that announces itself
      await waitFor(async () => (await a.get(key)) === 'set', { timeoutMs: 5_000, what: 'the set’s announcement' });
      sent.length = 0;
      await b.invalidateTags([tag]);
      expect(sent).toEqual(['evalsha']); // one tag: the bump announces itself
      await waitFor(async () => (await a.get(key)) === undefined, { timeoutMs: 5_000, what: 'the tag’s announcement' });
      await waitFor(() => heard.length === 4, { timeoutMs: 5_000, what: 'the raw subscriber' });
      expect(JSON.parse(heard[3]!)).toEqual({ origin: written.origin, tags: [tag] });
      expect(await a.getOrSet(key, () => 'again')).toBe('again');
      expect(a.size).toBe(1);
      await waitFor(() => heard.length === 5, { timeoutMs: 5_000, what: 'pod A’s own announcement' });
      sent.length = 0;
      await b.delete(key);
      expect(sent).toEqual(['evalsha']); // the delete's script unlinks and announces
      await waitFor(() => a.size === 0, { timeoutMs: 5_000, what: 'the delete’s announcement' });
      await waitFor(() => heard.length === 6, { timeoutMs: 5_000, what: 'the raw subscriber' });
      expect(JSON.parse(heard[5]!)).toEqual({ origin: written.origin, keys: [key] });
      expect(await (await connect()).exists(entryKey(key))).toBe(0);
      sent.length = 0;
      await b.delete('never-written'); // announced all the same, as a separate PUBLISH was
      expect(sent).toEqual(['evalsha']);
      await waitFor(() => heard.length === 7, { timeoutMs: 5_000, what: 'the delete of a missing key' });
      expect(JSON.parse(heard[6]!)).toEqual({ origin: written.origin, keys: ['never-written'] });
      await Promise.all([a.close(), b.close()]);
    });

    it('are not sent for a load whose write is refused', async () => {
      const name = unique('refused');
      const raw = await subscriberOf();
      const heard: string[] = [];
      raw.on('message', (_channel: string, text: string) => heard.push(text));
      await raw.subscribe(`rampart:cache:${name}:invalidate`);
      const [a, b] = await pods({ name, l1: false }, { subscribe: false });
      const { loader, started, release } = gatedLoader('old');
      const load = a.getOrSet('k', loader);
      await started;
      await b.delete('k'); // ends the load's generation: its write is refused
      release();
      expect(await load).toBe('old');
      // Published by the node that ran the refused write, after it: it comes after anything that
      // write could have published.
      await b.set('k', 'set');
      const messages = (): { origin: string; keys: string[]; w?: string }[] => heard.map((text) => JSON.parse(text));
      await waitFor(() => messages().filter((m) => m.w !== undefined).length >= 1, {
        timeoutMs: 5_000,
        what: 'the set',
      });
      await waitFor(() => heard.length >= 2, { timeoutMs: 5_000, what: 'the delete' });
      const [deleted, set] = [messages().find((m) => m.w === undefined), messages().find((m) => m.w !== undefined)];
      expect(heard).toHaveLength(2); // the delete and the set: nothing from pod A's load
      expect(deleted).toEqual({ origin: set?.origin, keys: ['k'] });
      await Promise.all([a.close(), b.close()]);
    });
  });

  describe('close while the subscriber reconnects', () => {
    it('leaves the channel unsubscribed once the subscriber is back', async () => {
      const subscriber = await subscriberOf({ retryStrategy: () => 200 });
      const { host, port } = subscriber.options;
      const admin = new Redis({ host: host as string, port: port as number });
      admin.on('error', () => {});
      clients.push(admin);
      const name = unique('close-reconnecting');
      const cache = new SharedCache<string>({
        name,
        class: 'cluster',
        reason: 'close during a reconnect',
        ttlMs: 60_000,
        redis: await connect(),
        subscriber,
        timeoutMs: 2_000,
        registry: new CacheRegistry(),
      });
      await cache.ready();
      const channel = `rampart:cache:${name}:invalidate`;
      const subscribers = async (): Promise<number> =>
        Number(((await admin.pubsub('NUMSUB', channel)) as [string, number])[1]);
      expect(await subscribers()).toBe(1);
      subscriber.stream.destroy();
      await waitFor(() => subscriber.status !== 'ready', { timeoutMs: 5_000, what: 'the subscriber to notice' });
      await cache.close();
      await waitFor(() => subscriber.status === 'ready', { timeoutMs: 5_000, what: 'the subscriber to reconnect' });
      await waitFor(async () => (await subscribers()) === 0, { timeoutMs: 5_000, what: 'the channel to be left' });
      await subscriber.ping(); // every command the reconnect sent has been answered
      expect(await subscribers()).toBe(0);
    });
  });

  describe('many caches closed while their shared subscriber reconnects', () => {
    it('add one listener pair to it, not one each, and leave every channel once it is back', async () => {
      const subscriber = await subscriberOf({ retryStrategy: () => 200 });
      const { host, port } = subscriber.options;
      const admin = new Redis({ host: host as string, port: port as number });
      admin.on('error', () => {});
      clients.push(admin);
      const warnings: Error[] = [];
      const onWarning = (warning: Error): void => {
        warnings.push(warning);
      };
      process.on('warning', onWarning);
      try {
        const redis = await connect();
        const caches = Array.from(
          { length: 12 },
          () =>
            new SharedCache<string>({
              name: unique('close-many'),
              class: 'cluster',
              reason: 'close during a reconnect',
              ttlMs: 60_000,
              redis,
              subscriber,
              timeoutMs: 2_000,
              registry: new CacheRegistry(),
            }),
        );
        await Promise.all(caches.map((cache) => cache.ready()));
        const channels = caches.map((cache) => `rampart:cache:${cache.name}:invalidate`);
        const subscribers = async (): Promise<number[]> => {
          const reply = (await admin.pubsub('NUMSUB', ...channels)) as (string | number)[];
          return channels.map((_, i) => Number(reply[2 * i + 1]));
        };
        expect(await subscribers()).toEqual(channels.map(() => 1));
        const readyBefore = subscriber.listenerCount('ready');
        const endBefore = subscriber.listenerCount('end');
        subscriber.stream.destroy();
        await waitFor(() => subscriber.status !== 'ready', { timeoutMs: 5_000, what: 'the subscriber to notice' });
        await Promise.all(caches.map((cache) => cache.close()));
        // The dispatcher's own listener went with the last cache; at most one pending pair is left.
        expect(subscriber.listenerCount('ready')).toBeLessThanOrEqual(readyBefore);
        expect(subscriber.listenerCount('end')).toBeLessThanOrEqual(endBefore + 1);
        await waitFor(() => subscriber.status === 'ready', { timeoutMs: 5_000, what: 'the subscriber to reconnect' });
        await waitFor(async () => (await subscribers()).every((n) => n === 0), {
          timeoutMs: 5_000,
          what: 'every channel to be left',
        });
        await subscriber.ping();
        expect(await subscribers()).toEqual(channels.map(() => 0));
        expect(subscriber.listenerCount('ready')).toBe(readyBefore - 1);
        expect(subscriber.listenerCount('end')).toBe(endBefore);
        await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
        expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
      } finally {
        process.off('warning', onWarning);
      }
    });
  });
});
