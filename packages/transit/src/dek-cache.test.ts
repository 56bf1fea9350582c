import { describe, expect, it } from 'vitest';
import { DataKey } from './data-key.ts';
import { DecryptDekCache, EncryptDekCache, type EncryptEntry } from './dek-cache.ts';
import type { TransitMetric } from './metrics.ts';

function entry(now: number): EncryptEntry {
  return {
    dataKey: new DataKey(Buffer.alloc(32, 1)),
    wrapped: Buffer.alloc(61),
    keyVersion: 1,
    createdAt: now,
    messages: 0,
    bytes: 0,
  };
}

describe('EncryptDekCache', () => {
  it('shares one fetch between concurrent misses and hands out distinct counters', async () => {
    let fetches = 0;
    const cache = new EncryptDekCache({ maxAgeMs: 1000 }, () => 0, undefined);
    const fetch = async (): Promise<EncryptEntry> => {
      fetches += 1;
      return entry(0);
    };
    const reservations = await Promise.all(Array.from({ length: 100 }, () => cache.reserve('', 10, fetch)));
    expect(fetches).toBe(1);
    expect(new Set(reservations.map((r) => r.counter)).size).toBe(100);
  });

  it('retires a DEK on age, message count and bytes, and reports why', async () => {
    let now = 0;
    const metrics: TransitMetric[] = [];
    const cache = new EncryptDekCache(
      { maxAgeMs: 100, maxMessages: 3, maxBytes: 1000 },
      () => now,
      (m) => metrics.push(m),
    );
    const fetch = async (): Promise<EncryptEntry> => entry(now);
    await cache.reserve('a', 1, fetch);
    await cache.reserve('a', 1, fetch);
    await cache.reserve('a', 1, fetch); // third message retires it
    expect(cache.tryReserve('a', 1)).toBeUndefined();
    await cache.reserve('a', 999, fetch);
    expect(cache.tryReserve('a', 2)).toBeUndefined(); // would exceed maxBytes
    await cache.reserve('a', 1, fetch);
    now += 100;
    expect(cache.tryReserve('a', 1)).toBeUndefined();
    const reasons = metrics.flatMap((m) => (m.type === 'dek-retired' ? [m.reason] : []));
    expect(reasons).toEqual(['max-messages', 'max-bytes', 'max-age']);
  });

  it('passes a failed fetch to every waiter and fetches again next time', async () => {
    const cache = new EncryptDekCache({ maxAgeMs: 1000 }, () => 0, undefined);
    let calls = 0;
    const failing = async (): Promise<EncryptEntry> => {
      calls += 1;
      throw new Error('vault down');
    };
    const results = await Promise.allSettled([cache.reserve('', 1, failing), cache.reserve('', 1, failing)]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(calls).toBe(1);
    await cache.reserve('', 1, async () => entry(0));
    expect(cache.size).toBe(1);
  });

  it('evicts the least recently used binding beyond maxEntries', async () => {
    const cache = new EncryptDekCache({ maxAgeMs: 1000, maxEntries: 2 }, () => 0, undefined);
    const fetch = async (): Promise<EncryptEntry> => entry(0);
    await cache.reserve('a', 1, fetch);
    await cache.reserve('b', 1, fetch);
    cache.tryReserve('a', 1);
    await cache.reserve('c', 1, fetch);
    expect(cache.tryReserve('b', 1)).toBeUndefined();
    expect(cache.tryReserve('a', 1)).toBeDefined();
  });

  it('stores no entry fetched before clear(): every waiter, the one that started the fetch too, fetches again', async () => {
    const cache = new EncryptDekCache({ maxAgeMs: 1000 }, () => 0, undefined);
    const stale = entry(0);
    const fresh = entry(0);
    let answer!: (e: EncryptEntry) => void;
    let fetches = 0;
    const fetch = (): Promise<EncryptEntry> => {
      fetches += 1;
      if (fetches === 1) return new Promise((resolve) => (answer = resolve));
      return Promise.resolve(fresh);
    };
    const before = cache.reserve('', 1, fetch);
    cache.clear();
    const after = cache.reserve('', 1, fetch);
    answer(stale);
    const reservations = await Promise.all([before, after]);
    expect(reservations.map((r) => (r.entry === fresh ? 'fresh' : r.entry === stale ? 'stale' : '?'))).toEqual([
      'fresh',
      'fresh',
    ]);
    expect(fetches).toBe(2);
    expect(cache.tryReserve('', 1)?.entry).toBe(fresh);
  });

  it('hands the fetched DEK to its waiters even when it arrives older than maxAgeMs', async () => {
    let now = 0;
    const cache = new EncryptDekCache({ maxAgeMs: 100 }, () => now, undefined);
    let fetches = 0;
    const fetch = async (): Promise<EncryptEntry> => {
      fetches += 1;
      const e = entry(now);
      now += 150;
      return e;
    };
    const reservations = await Promise.all([cache.reserve('', 1, fetch), cache.reserve('', 1, fetch)]);
    expect(fetches).toBe(1);
    expect(reservations.map((r) => r.counter)).toEqual([0, 1]);
    expect(cache.tryReserve('', 1)).toBeUndefined();
  });

  it('fails with a retryable ERR_TRANSIT_VAULT_UNAVAILABLE when clear() keeps dropping its fetches', async () => {
    const cache = new EncryptDekCache({ maxAgeMs: 1000 }, () => 0, undefined);
    let fetches = 0;
    const fetch = async (): Promise<EncryptEntry> => {
      fetches += 1;
      cache.clear();
      return entry(0);
    };
    await expect(cache.reserve('', 1, fetch)).rejects.toMatchObject({
      code: 'ERR_TRANSIT_VAULT_UNAVAILABLE',
      retryable: true,
    });
    expect(fetches).toBeLessThanOrEqual(5);
  });

  it('fetches once per binding when more bindings miss at once than maxEntries', async () => {
    const cache = new EncryptDekCache({ maxAgeMs: 1000, maxEntries: 1 }, () => 0, undefined);
    let fetches = 0;
    const fetch = async (): Promise<EncryptEntry> => {
      fetches += 1;
      return entry(0);
    };
    const bindings = Array.from({ length: 20 }, (_, i) => `tenant-${i}`);
    const reservations = await Promise.all(bindings.map((binding) => cache.reserve(binding, 1, fetch)));
    expect(fetches).toBe(20);
    expect(new Set(reservations.map((r) => r.entry)).size).toBe(20);
    expect(reservations.every((r) => r.counter === 0)).toBe(true);
    expect(cache.size).toBe(1);
  });

  it('still fetches again for a waiter whose evicted DEK reached maxMessages', async () => {
    const cache = new EncryptDekCache({ maxAgeMs: 1000, maxEntries: 1, maxMessages: 2 }, () => 0, undefined);
    let fetches = 0;
    const fetch = async (): Promise<EncryptEntry> => {
      fetches += 1;
      return entry(0);
    };
    const reservations = await Promise.all([
      cache.reserve('a', 1, fetch),
      cache.reserve('a', 1, fetch),
      cache.reserve('a', 1, fetch),
      cache.reserve('b', 1, fetch),
    ]);
    const onA = reservations.slice(0, 3);
    expect(new Set(onA.map((r) => r.entry)).size).toBe(2);
    for (const e of new Set(onA.map((r) => r.entry))) {
      const counters = onA.filter((r) => r.entry === e).map((r) => r.counter);
      expect(new Set(counters).size).toBe(counters.length);
      expect(counters.length).toBeLessThanOrEqual(2);
    }
    expect(fetches).toBe(3);
  });
});

describe('DecryptDekCache', () => {
  const retired = (metrics: TransitMetric[]): string[] =>
    metrics.flatMap((m) => (m.type === 'dek-retired' ? [`${m.cache}:${m.reason}`] : []));

  it('reports every data key clear() drops, once', () => {
    const metrics: TransitMetric[] = [];
    const cache = new DecryptDekCache(
      { maxAgeMs: 1000, maxEntries: 10 },
      () => 0,
      (m) => metrics.push(m),
    );
    for (const id of ['a', 'b', 'c']) cache.set(id, new DataKey(Buffer.alloc(32, 2)), cache.generation, 0);
    cache.clear();
    cache.clear();
    expect(retired(metrics)).toEqual(['decrypt:cleared', 'decrypt:cleared', 'decrypt:cleared']);
  });

  it('reports a data key that aged out as max-age, whichever path drops it', () => {
    let now = 0;
    const metrics: TransitMetric[] = [];
    const cache = new DecryptDekCache(
      { maxAgeMs: 100, maxEntries: 1 },
      () => now,
      (m) => metrics.push(m),
    );
    cache.set('a', new DataKey(Buffer.alloc(32, 2)), cache.generation, 0);
    now = 100;
    cache.set('b', new DataKey(Buffer.alloc(32, 2)), cache.generation, now); // evicts the expired 'a'
    now = 200;
    cache.clear(); // drops the expired 'b'
    expect(retired(metrics)).toEqual(['decrypt:max-age', 'decrypt:max-age']);
  });

  it('keeps the cached data key when a second set() brings the same wrapped DEK, reporting nothing', () => {
    let now = 0;
    const metrics: TransitMetric[] = [];
    const cache = new DecryptDekCache(
      { maxAgeMs: 1000, maxEntries: 10 },
      () => now,
      (m) => metrics.push(m),
    );
    const first = new DataKey(Buffer.alloc(32, 2));
    cache.set('a', first, cache.generation, 0);
    now = 10;
    cache.set('a', new DataKey(Buffer.alloc(32, 2)), cache.generation, 10);
    // The same DEK: nothing left the cache, so no dek-retired (it used to say `evicted`).
    expect(retired(metrics)).toEqual([]);
    expect(cache.size).toBe(1);
    expect(cache.get('a')).toBe(first);
    now = 1000; // aged from the first set(): the kept entry's age is not reset
    expect(cache.get('a')).toBeUndefined();
    expect(retired(metrics)).toEqual(['decrypt:max-age']);
  });
});

describe('EncryptDekCache retirement metrics', () => {
  const retired = (metrics: TransitMetric[]): string[] =>
    metrics.flatMap((m) => (m.type === 'dek-retired' ? [m.reason] : []));

  it('reports a DEK that aged out as max-age when eviction or clear() drops it', async () => {
    let now = 0;
    const metrics: TransitMetric[] = [];
    const cache = new EncryptDekCache(
      { maxAgeMs: 100, maxEntries: 1 },
      () => now,
      (m) => metrics.push(m),
    );
    const fetch = async (): Promise<EncryptEntry> => entry(now);
    await cache.reserve('a', 1, fetch);
    now = 150;
    await cache.reserve('b', 1, fetch); // evicts the expired 'a'
    now = 300;
    cache.clear(); // drops the expired 'b'
    expect(retired(metrics)).toEqual(['max-age', 'max-age']);
  });
});

describe('re-entrant metrics hooks', () => {
  const reasons = (metrics: TransitMetric[]): string[] =>
    metrics.flatMap((m) => (m.type === 'dek-retired' ? [`${m.cache}:${m.reason}`] : []));

  it('reports each encrypt DEK once when the hook calls clear() during a dek-retired event', async () => {
    const metrics: TransitMetric[] = [];
    let cache: EncryptDekCache | undefined;
    let clearing = false;
    cache = new EncryptDekCache(
      { maxAgeMs: 1000 },
      () => 0,
      (m) => {
        metrics.push(m);
        if (m.type === 'dek-retired' && !clearing) {
          clearing = true;
          cache?.clear();
        }
      },
    );
    for (const binding of ['a', 'b', 'c']) await cache.reserve(binding, 1, async () => entry(0));
    cache.clear();
    expect(reasons(metrics)).toEqual(['encrypt:cleared', 'encrypt:cleared', 'encrypt:cleared']);
  });

  it('reports each decrypt DEK once when the hook calls clear() during a dek-retired event', () => {
    const metrics: TransitMetric[] = [];
    let clearing = false;
    const cache: DecryptDekCache = new DecryptDekCache(
      { maxAgeMs: 1000, maxEntries: 10 },
      () => 0,
      (m) => {
        metrics.push(m);
        if (m.type === 'dek-retired' && !clearing) {
          clearing = true;
          cache.clear();
        }
      },
    );
    for (const id of ['a', 'b', 'c']) cache.set(id, new DataKey(Buffer.alloc(32, 1)), 0, 0);
    cache.clear();
    expect(reasons(metrics)).toEqual(['decrypt:cleared', 'decrypt:cleared', 'decrypt:cleared']);
  });
});

describe('DecryptDekCache with a hook that clears it', () => {
  const reasons = (metrics: TransitMetric[]): string[] =>
    metrics.flatMap((m) => (m.type === 'dek-retired' ? [`${m.cache}:${m.reason}`] : []));

  /** A cache of `maxEntries` whose hook calls clear() at the first dek-retired event. */
  function clearingCache(maxEntries: number, metrics: TransitMetric[]): DecryptDekCache {
    let clearing = false;
    const cache: DecryptDekCache = new DecryptDekCache(
      { maxAgeMs: 1000, maxEntries },
      () => 0,
      (m) => {
        metrics.push(m);
        if (m.type === 'dek-retired' && !clearing) {
          clearing = true;
          cache.clear();
        }
      },
    );
    return cache;
  }

  it('keeps no data key when the hook calls clear() while set() evicts for room', () => {
    const metrics: TransitMetric[] = [];
    const cache = clearingCache(1, metrics);
    cache.set('a', new DataKey(Buffer.alloc(32, 1)), cache.generation, 0);
    cache.set('b', new DataKey(Buffer.alloc(32, 1)), cache.generation, 0);
    expect(cache.size).toBe(0);
    expect(reasons(metrics)).toEqual(['decrypt:evicted', 'decrypt:cleared']);
  });

  it('keeps no data key when the hook calls clear() while set() replaces a wrapped DEK cached before', () => {
    const metrics: TransitMetric[] = [];
    const cache = clearingCache(10, metrics);
    cache.set('a', new DataKey(Buffer.alloc(32, 1)), cache.generation, 0);
    cache.set('b', new DataKey(Buffer.alloc(32, 1)), cache.generation, 0);
    cache.set('a', new DataKey(Buffer.alloc(32, 1)), cache.generation, 0);
    // No report, so no clear(): both DEKs stay; had one been reported, the clear() must have emptied it.
    const cleared = metrics.some((m) => m.type === 'dek-retired');
    expect({ cleared, size: cache.size }).toEqual({ cleared: false, size: 2 });
  });
});

describe('EncryptDekCache max-age reporting', () => {
  it('reports a DEK that arrived past maxAgeMs as max-age when its waiters use up its messages', async () => {
    let now = 0;
    const metrics: TransitMetric[] = [];
    const cache = new EncryptDekCache(
      { maxAgeMs: 100, maxMessages: 1 },
      () => now,
      (m) => metrics.push(m),
    );
    // Vault answered after 150 ms: the DEK is already past maxAgeMs when its waiter uses it.
    await cache.reserve('a', 1, async () => {
      const fetched = entry(now);
      now += 150;
      return fetched;
    });
    expect(metrics.flatMap((m) => (m.type === 'dek-retired' ? [m.reason] : []))).toEqual(['max-age']);
  });
});
