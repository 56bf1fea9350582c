import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BoundedLru, type L1Entry } from './l1.ts';

const entry = (value: number, expiresAt = Number.MAX_SAFE_INTEGER, tags: string[] = []): L1Entry<number> => ({
  value,
  expiresAt,
  entryExpiresAt: expiresAt,
  staleUntil: expiresAt,
  deltaMs: 0,
  tags,
});

describe('BoundedLru', () => {
  it('never holds more than maxEntries, whatever the operations', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.tuple(fc.constantFrom('set', 'get', 'delete'), fc.string({ maxLength: 3 })), { maxLength: 300 }),
        (max, ops) => {
          const lru = new BoundedLru<number>(max);
          for (const [op, key] of ops) {
            if (op === 'set') lru.set(key, entry(1));
            else if (op === 'get') lru.get(key, 0);
            else lru.delete(key);
            expect(lru.size).toBeLessThanOrEqual(max);
          }
        },
      ),
    );
  });

  it('evicts the least recently used entry first', () => {
    const lru = new BoundedLru<number>(2);
    lru.set('a', entry(1));
    lru.set('b', entry(2));
    lru.get('a', 0);
    lru.set('c', entry(3));
    expect(lru.get('a', 0)?.value).toBe(1);
    expect(lru.get('b', 0)).toBeUndefined();
    expect(lru.get('c', 0)?.value).toBe(3);
  });

  it('drops an entry once it may no longer be served, even stale', () => {
    const lru = new BoundedLru<number>(2);
    lru.set('a', entry(1, 100));
    expect(lru.get('a', 99)?.value).toBe(1);
    expect(lru.get('a', 100)).toBeUndefined();
    expect(lru.size).toBe(0);
  });

  it('drops every entry carrying an invalidated tag', () => {
    const lru = new BoundedLru<number>(10);
    lru.set('a', entry(1, Number.MAX_SAFE_INTEGER, ['t1']));
    lru.set('b', entry(2, Number.MAX_SAFE_INTEGER, ['t2', 't1']));
    lru.set('c', entry(3, Number.MAX_SAFE_INTEGER, ['t3']));
    lru.deleteTagged(['t1']);
    expect([lru.get('a', 0), lru.get('b', 0), lru.get('c', 0)?.value]).toEqual([undefined, undefined, 3]);
  });
});
