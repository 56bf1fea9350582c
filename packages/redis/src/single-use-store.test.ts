import { describe, expect, it } from 'vitest';
import { CacheRegistry } from './cache-registry.ts';
import { RedisStoreError } from './errors.ts';
import type { RedisClient } from './scripts.ts';
import { SingleUseStore } from './single-use-store.ts';

// Never connected: every refusal below must happen before anything is sent.
const sent: unknown[] = [];
const client = new Proxy(
  { evalsha: () => undefined },
  {
    get: (target, property) =>
      property in target
        ? target[property as keyof typeof target]
        : (...args: unknown[]) => {
            sent.push([property, ...args]);
            return Promise.reject(new Error('not connected'));
          },
  },
) as unknown as RedisClient;

const store = <T>(options: Partial<ConstructorParameters<typeof SingleUseStore<T>>[0]> = {}): SingleUseStore<T> =>
  new SingleUseStore<T>({ redis: client, name: 'values', ttlMs: 60_000, registry: new CacheRegistry(), ...options });

describe('SingleUseStore.put', () => {
  it('refuses a value the JSON codec cannot store (undefined, a function, a symbol, a BigInt, a cycle), sending nothing', async () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const values: unknown[] = [undefined, () => 'secret-fn', Symbol('secret-symbol'), 10n, { n: 12n }, cyclic];
    for (const value of values) {
      const error = await store<unknown>()
        .put('id-1', value)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      expect((error as Error).message).toContain('value');
      for (const fragment of ['secret', 'id-1', '12']) expect((error as Error).message).not.toContain(fragment);
    }
    expect(sent).toEqual([]);
  });

  it('refuses what a custom serializer does not turn into a string, or throws on, as a typed error without its text', async () => {
    const odd = store<string>({
      serializer: {
        serialize: (v) => (v === 'throw' ? refuseToEncode(v) : (undefined as unknown as string)),
        deserialize: (t) => t,
      },
    });
    for (const value of ['throw', 'undefined']) {
      const error = await odd.put('id-2', value).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_ARGUMENT' });
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error & { cause?: unknown }).cause).toBeUndefined();
    }
    expect(sent).toEqual([]);
  });
});

function refuseToEncode(value: string): never {
  throw new Error(`cannot encode secret ${value}`);
}
