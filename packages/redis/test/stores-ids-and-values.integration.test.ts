import { createHash } from 'node:crypto';
import fc from 'fast-check';
import type { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheRegistry } from '../src/cache-registry.ts';
import { RedisStoreError } from '../src/errors.ts';
import { ReplayGuard } from '../src/replay-guard.ts';
import type { RedisClient } from '../src/scripts.ts';
import { SingleUseStore } from '../src/single-use-store.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${++counter}`;

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('ids and values chosen by clients on a %s', (name, start) => {
  let target: Target;
  let redis: RedisClient;
  const registry = new CacheRegistry();

  beforeAll(async () => {
    target = await start();
    redis = await target.connect();
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  /** Every key under `prefix`, on every master. */
  async function keysUnder(prefix: string): Promise<string[]> {
    const nodes = name === 'cluster' ? (redis as Cluster).nodes('master') : [redis];
    const keys: string[] = [];
    for (const node of nodes) keys.push(...(await node.keys(`${prefix}*`)));
    return keys;
  }

  describe('ReplayGuard', () => {
    it('keeps distinct ids apart, whatever braces, percent signs and surrogates they carry (property)', async () => {
      const guard = new ReplayGuard({ redis, name: unique('escape'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
      // Surrogate halves and U+FFFD too: an id with a lone half is refused (it would share the key
      // of U+FFFD), a pair is one character.
      const unit = fc.constantFrom('{', '}', '%', '7', 'B', 'D', 'a', '\uD800', '\uDC00', '\uFFFD');
      const id = fc.string({ unit, minLength: 1, maxLength: 6 });
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(id, { minLength: 2, maxLength: 8 }), async (all) => {
          const ids = all.filter((i) => !/\p{Cs}/u.test(i));
          for (const bad of all.filter((i) => /\p{Cs}/u.test(i))) {
            await expect(guard.check(bad)).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
          }
          await Promise.all(ids.map((i) => guard.forget(i)));
          expect(await Promise.all(ids.map((i) => guard.check(i)))).toEqual(ids.map(() => true));
          expect(await Promise.all(ids.map((i) => guard.check(i)))).toEqual(ids.map(() => false));
        }),
        { numRuns: 60 },
      );
      guard.close();
    });

    it('does not let an id pick its Cluster slot with a {hash tag}', async () => {
      const prefix = unique('rp');
      const guard = new ReplayGuard({ redis, name: 'jti', prefix, ttlMs: 60_000, registry, timeoutMs: 2_000 });
      const ids = Array.from({ length: 24 }, (_, i) => `{pinned}${i}`);
      for (const id of ids) expect(await guard.check(id)).toBe(true);
      for (const id of ids) expect(await guard.check(id)).toBe(false);
      const keys = await keysUnder(`${prefix}:jti:`);
      expect(keys).toHaveLength(ids.length);
      const slots = new Set<number>();
      for (const key of keys) slots.add(Number(await redis.cluster('KEYSLOT', key).catch(() => slotOf(key))));
      // Tagged by the client, all 24 would share one slot; hashed whole, they spread.
      expect(slots.size).toBeGreaterThan(16);
      guard.close();
    });
  });

  it('refuses ids with a lone UTF-16 surrogate, which Redis clients and hashes would turn into U+FFFD', async () => {
    // 'jti-\uD800', 'jti-\uDBFF' and 'jti-\uFFFD' would all map to the key of 'jti-\uFFFD'.
    const guard = new ReplayGuard({ redis, name: unique('surrogate'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
    const store = new SingleUseStore({ redis, name: unique('surrogate'), ttlMs: 60_000, registry, timeoutMs: 2_000 });
    const lone = ['jti-\uD800', 'jti-\uDBFF', 'jti-\uDC00', '\uDC00\uD800', 'x\uD83D'];
    const calls = lone.flatMap((id): (() => Promise<unknown>)[] => [
      () => guard.check(id),
      () => guard.forget(id),
      () => store.put(id, 1),
      () => store.consume(id),
      () => store.delete(id),
      () => store.put('ok', 1, { clientId: id }),
    ]);
    for (const call of calls) {
      const error = await Promise.resolve()
        .then(call)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect((error as RedisStoreError).code).toBe('ERR_REDIS_INVALID_ARGUMENT');
      expect((error as Error).message).not.toContain('jti-');
    }
    // Well-formed ids, a surrogate pair and U+FFFD included, are taken and kept apart.
    const wellFormed = ['jti-\uFFFD', 'jti-\uD83D\uDE00', 'jti-\uD83D\uDE01', 'jti-?'];
    for (const id of wellFormed) expect(await guard.check(id)).toBe(true);
    for (const id of wellFormed) expect(await guard.check(id)).toBe(false);
    for (const [i, id] of wellFormed.entries()) await store.put(id, i);
    for (const [i, id] of wellFormed.entries()) expect((await store.consume(id))?.value).toBe(i);
    guard.close();
    store.close();
  });

  it('holds a per-call ttlMs to the bound of the ttlMs option (1 ms to 366 days), storing nothing beyond it', async () => {
    const maxTtlMs = 366 * 86_400_000;
    const prefix = unique('ttl');
    const guard = new ReplayGuard({ redis, name: 'jti', prefix, ttlMs: 60_000, registry, timeoutMs: 2_000 });
    const store = new SingleUseStore({ redis, name: 'par', prefix, ttlMs: 60_000, registry, timeoutMs: 2_000 });
    // Just over the bound, an expiry time given as a duration (Date.now() + ms), the largest safe integer.
    const tooLong = [maxTtlMs + 1, Date.now() + 60_000, 1e16, 2 ** 53 - 1];
    for (const ttlMs of [...tooLong, 0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      const calls: [string, () => unknown][] = [
        ['SingleUseStore.put', () => store.put('too-long', 1, { ttlMs })],
        ['ReplayGuard.check', () => guard.check('too-long', ttlMs)],
        ['ReplayGuard.attempt', () => guard.attempt('too-long', ttlMs)],
      ];
      for (const [operation, call] of calls) {
        const error = await Promise.resolve()
          .then(call)
          .catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RedisStoreError);
        expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
        const message = (error as Error).message;
        expect(message).toContain(operation);
        expect(message).toContain(`1 to ${maxTtlMs}`);
        if (ttlMs > maxTtlMs) expect(message).not.toContain(String(ttlMs));
      }
    }
    expect(await keysUnder(`${prefix}:`)).toEqual([]);
    // The bound itself is taken, per call as in the option.
    await store.put('longest', 1, { ttlMs: maxTtlMs });
    expect(await guard.check('longest', maxTtlMs)).toBe(true);
    expect(await guard.attempt('longest-attempt', maxTtlMs).check()).toBe(true);
    const keys = await keysUnder(`${prefix}:`);
    expect(keys).toHaveLength(3);
    for (const key of keys) {
      const ttl = await redis.pttl(key);
      expect(ttl).toBeGreaterThan(maxTtlMs - 60_000);
      expect(ttl).toBeLessThanOrEqual(maxTtlMs);
    }
    guard.close();
    store.close();
  });

  describe('SingleUseStore', () => {
    it('refuses undefined at put, and stores nothing', async () => {
      const store = new SingleUseStore<unknown>({
        redis,
        name: unique('undef'),
        ttlMs: 60_000,
        registry,
        timeoutMs: 2_000,
      });
      await expect(store.put('item', undefined)).rejects.toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      expect(await store.consume('item')).toBeUndefined();
      store.close();
    });

    it('throws a typed error, never a raw one, for a stored item it cannot decode; the item is gone', async () => {
      const storeName = unique('decode');
      const prefix = unique('once');
      const writer = new SingleUseStore<string>({
        redis,
        name: storeName,
        prefix,
        ttlMs: 60_000,
        registry,
        timeoutMs: 2_000,
      });
      const reader = new SingleUseStore<string>({
        redis,
        name: storeName,
        prefix,
        ttlMs: 60_000,
        registry: new CacheRegistry(),
        timeoutMs: 2_000,
        serializer: {
          serialize: (v) => v,
          deserialize: () => {
            throw new SyntaxError('Unexpected token in secret-value');
          },
        },
      });
      await writer.put('item-a', 'secret-value');
      const error = await reader.consume('item-a').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY', retryable: false });
      expect((error as Error).message).not.toContain('secret');
      expect(await writer.consume('item-a')).toBeUndefined();

      // Items written by something else under the store's keys: no client line, or a broken one.
      const keyOf = (id: string): string =>
        `${prefix}:${storeName}:{${createHash('sha256').update(id).digest('base64url')}}`;
      for (const [i, raw] of ['undefined', '{"broken\n"x"', '""\nundefined', '""\n{'].entries()) {
        await redis.set(keyOf(`raw-${i}`), raw, 'PX', 60_000);
        const e = await writer.consume(`raw-${i}`).catch((x: unknown) => x);
        expect(e).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY' });
        expect(await redis.exists(keyOf(`raw-${i}`))).toBe(0);
      }
      writer.close();
    });
  });
});

/** The Cluster slot of a key, by the spec's hash tag rule (a single node has no CLUSTER KEYSLOT). */
function slotOf(key: string): number {
  const open = key.indexOf('{');
  const close = open === -1 ? -1 : key.indexOf('}', open + 1);
  const hashed = close > open + 1 ? key.slice(open + 1, close) : key;
  let crc = 0;
  for (const byte of Buffer.from(hashed)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}
