import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockedSubjects } from './blocked-subjects.ts';

describe('BlockedSubjects', () => {
  it('forgets a subject once its block has passed', () => {
    let now = 0;
    const cache = new BlockedSubjects(10, 2, () => now);
    cache.set('a', 100, [1, 2]);
    now = 99;
    const slot = cache.find('a');
    expect(slot).toBeGreaterThanOrEqual(0);
    expect(cache.until(slot) - now).toBe(1);
    expect([cache.value(slot, 0), cache.value(slot, 1)]).toEqual([1, 2]);
    now = 100;
    expect(cache.find('a')).toBe(-1);
    expect(cache.size).toBe(0);
  });

  it('refreshes an entry that is set again and makes it the newest', () => {
    const cache = new BlockedSubjects(2, 1, () => 0);
    cache.set('a', 10, [1]);
    cache.set('b', 10, [2]);
    cache.set('a', 20, [3]);
    cache.set('c', 10, [4]); // evicts b, the oldest insertion
    expect(cache.find('b')).toBe(-1);
    expect(cache.value(cache.find('a'), 0)).toBe(3);
    expect(cache.until(cache.find('a'))).toBe(20);
    expect(cache.value(cache.find('c'), 0)).toBe(4);
  });

  it('refuses a size or width that is not a non-negative integer', () => {
    expect(() => new BlockedSubjects(0, 1)).toThrow(RangeError);
    expect(() => new BlockedSubjects(1.5, 1)).toThrow(RangeError);
    expect(() => new BlockedSubjects(1, -1)).toThrow(RangeError);
  });

  it('behaves like a size-capped insertion-ordered map (property)', () => {
    // Model: a Map with the same eviction rule; every operation sequence must agree with it,
    // including slot reuse after deletes, expiry, evictions and clear while the slab grows past
    // its first 64 slots. Both drop an expired entry only when it is read.
    const KEYS = 200;
    const key = fc.integer({ min: 0, max: KEYS - 1 });
    const op = fc.oneof(
      {
        arbitrary: fc.record({
          kind: fc.constant('set' as const),
          key,
          ms: fc.integer({ min: 1, max: 50 }),
          v: fc.integer(),
        }),
        weight: 6,
      },
      { arbitrary: fc.record({ kind: fc.constant('delete' as const), key }), weight: 2 },
      { arbitrary: fc.record({ kind: fc.constant('tick' as const), ms: fc.integer({ min: 1, max: 20 }) }), weight: 1 },
      { arbitrary: fc.record({ kind: fc.constant('clear' as const) }), weight: 1 },
    );
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 150 }), fc.array(op, { maxLength: 400 }), (max, ops) => {
        let now = 0;
        const cache = new BlockedSubjects(max, 2, () => now);
        const model = new Map<string, { until: number; v: number }>();
        const check = (k: string): void => {
          const m = model.get(k);
          const slot = cache.find(k);
          if (m === undefined || m.until <= now) {
            model.delete(k);
            expect(slot).toBe(-1);
          } else {
            expect(slot).toBeGreaterThanOrEqual(0);
            expect([cache.value(slot, 0), cache.value(slot, 1), cache.until(slot)]).toEqual([m.v, -m.v, m.until]);
          }
        };
        ops.forEach((o, i) => {
          if (o.kind === 'set') {
            const k = `k${o.key}`;
            if (model.has(k)) model.delete(k);
            else if (model.size >= max) model.delete(model.keys().next().value as string);
            model.set(k, { until: now + o.ms, v: o.v });
            cache.set(k, o.ms, [o.v, -o.v]);
            check(k);
          } else if (o.kind === 'delete') {
            model.delete(`k${o.key}`);
            cache.delete(`k${o.key}`);
            check(`k${o.key}`);
          } else if (o.kind === 'tick') now += o.ms;
          else {
            model.clear();
            cache.clear();
          }
          expect(cache.size).toBe(model.size);
          expect(cache.size).toBeLessThanOrEqual(max);
          if (i % 50 === 49 || i === ops.length - 1) for (let k = 0; k < KEYS; k++) check(`k${k}`);
        });
      }),
    );
  });

  it('keeps 100 000 distinct blocked subjects within its cap', () => {
    const cache = new BlockedSubjects(10_000, 6, () => 0);
    for (let i = 0; i < 100_000; i++) cache.set(`ip:${i}`, 60_000, [i]);
    expect(cache.size).toBe(10_000);
    expect(cache.value(cache.find('ip:99999'), 0)).toBe(99_999);
    expect(cache.find('ip:0')).toBe(-1);
  });
});
