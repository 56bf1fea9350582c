import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockedSubjects } from './blocked-subjects.ts';

describe('BlockedSubjects', () => {
  it('forgets a subject once its block has passed', () => {
    let now = 0;
    const cache = new BlockedSubjects<number>(10, () => now);
    cache.set('a', 100, 1);
    now = 99;
    expect(cache.get('a')).toEqual({ remainingMs: 1, value: 1 });
    now = 100;
    expect(cache.get('a')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('never holds more than maxKeys subjects, evicting the oldest first', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.array(fc.string({ maxLength: 3 }), { maxLength: 300 }),
        (max, keys) => {
          const cache = new BlockedSubjects<null>(max, () => 0);
          for (const k of keys) {
            cache.set(k, 1_000, null);
            expect(cache.size).toBeLessThanOrEqual(max);
            expect(cache.get(k)).toBeDefined();
          }
        },
      ),
    );
  });

  it('keeps 100 000 distinct blocked subjects within its cap', () => {
    const cache = new BlockedSubjects<null>(10_000, () => 0);
    for (let i = 0; i < 100_000; i++) cache.set(`ip:${i}`, 60_000, null);
    expect(cache.size).toBe(10_000);
    expect(cache.get('ip:99999')).toBeDefined();
    expect(cache.get('ip:0')).toBeUndefined();
  });
});
