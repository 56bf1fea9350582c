import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { resolveLimits } from './limits.ts';
import { LocalLimiter, scaleLimits } from './local-limiter.ts';

describe('LocalLimiter', () => {
  it('never admits more than the limit in one fixed window, whatever the arrival times', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 5_000 }), { maxLength: 200 }),
        fc.integer({ min: 1, max: 10 }),
        (times, limit) => {
          let now = 0;
          const limiter = new LocalLimiter(
            resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit, windowMs: 1_000 }], []),
            10,
            1,
            () => now,
          );
          const perWindow = new Map<number, number>();
          for (const t of [...times].sort((a, b) => a - b)) {
            now = t;
            if (limiter.consume('k', 1, 'l').allowed)
              perWindow.set(Math.floor(t / 1000), (perWindow.get(Math.floor(t / 1000)) ?? 0) + 1);
          }
          for (const n of perWindow.values()) expect(n).toBeLessThanOrEqual(limit);
        },
      ),
    );
  });

  it('admits a GCRA burst, then one request per emission interval', () => {
    let now = 0;
    const limiter = new LocalLimiter(
      resolveLimits([{ name: 'g', algorithm: 'gcra', limit: 10, windowMs: 1_000, burst: 2 }], []),
      10,
      1,
      () => now,
    );
    expect([1, 2, 3].map(() => limiter.consume('k', 1, '').allowed)).toEqual([true, true, false]);
    now = 100;
    expect(limiter.consume('k', 1, '').allowed).toBe(true);
    expect(limiter.consume('k', 1, '').allowed).toBe(false);
  });

  it('spends nothing on any limit when one limit rejects', () => {
    const now = 0;
    const limiter = new LocalLimiter(
      resolveLimits(
        [
          { name: 'a', algorithm: 'fixed-window', limit: 1, windowMs: 1_000 },
          { name: 'b', algorithm: 'sliding-window', limit: 10, windowMs: 1_000 },
        ],
        [],
      ),
      10,
      1,
      () => now,
    );
    limiter.consume('k', 1, '');
    for (let i = 0; i < 5; i++) limiter.consume('k', 1, '');
    expect(limiter.consume('k', 1, '').limits[1]!.remaining).toBe(9);
  });

  it('caps leases in flight and frees one on release', () => {
    const limiter = new LocalLimiter(
      resolveLimits([{ name: 'c', algorithm: 'concurrency', limit: 1, leaseMs: 1_000 }], []),
      10,
      1,
      () => 0,
    );
    expect(limiter.consume('k', 1, 'a').allowed).toBe(true);
    expect(limiter.consume('k', 1, 'b').allowed).toBe(false);
    limiter.release('k', 'a');
    expect(limiter.consume('k', 1, 'c').allowed).toBe(true);
  });

  it('applies the limits it reports: every quota and burst scaled down, at least 1, windows kept', () => {
    const limits = resolveLimits(
      [
        { name: 'f', algorithm: 'fixed-window', limit: 9, windowMs: 1_000 },
        { name: 'tb', algorithm: 'token-bucket', capacity: 100, refillAmount: 1, refillIntervalMs: 1_000 },
        { name: 'g', algorithm: 'gcra', limit: 10, windowMs: 1_000, burst: 20 },
        { name: 'c', algorithm: 'concurrency', limit: 3, leaseMs: 1_000 },
      ],
      [],
    );
    expect(scaleLimits(limits, 0.5).map((l) => [l.name, l.limit, l.windowMs, l.burst])).toEqual([
      ['f', 4, 1_000, 4],
      ['tb', 1, 1_000, 50],
      ['g', 5, 1_000, 10],
      ['c', 1, 1_000, Number.MAX_SAFE_INTEGER],
    ]);
    expect(scaleLimits(limits, 1)).toEqual(limits);
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        fc.double({ min: 0.01, max: 1, noNaN: true }),
        (limit, burst, scale) => {
          const g = resolveLimits([{ name: 'g', algorithm: 'gcra', limit, windowMs: 1_000, burst }], []);
          const local = new LocalLimiter(g, 10, scale, () => 0);
          const reported = local.limits[0]!;
          expect(reported.burst).toBe(Math.max(1, Math.floor(burst * scale)));
          // At one instant a GCRA limit admits its burst, never more (one less where the emission
          // intervals, added up in floating point, round above the tolerance).
          let admitted = 0;
          while (local.consume('k', 1, '').allowed) admitted += 1;
          expect(admitted).toBeLessThanOrEqual(reported.burst);
          expect(admitted).toBeGreaterThanOrEqual(reported.burst - 1);
        },
      ),
    );
  });

  it('holds at most maxKeys subjects and scales limits down', () => {
    const limiter = new LocalLimiter(
      resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit: 10, windowMs: 1_000 }], []),
      3,
      0.2,
      () => 0,
    );
    for (let i = 0; i < 100; i++) limiter.consume(`k${i}`, 1, '');
    expect(limiter.size).toBe(3);
    expect([1, 2, 3].map(() => limiter.consume('x', 1, '').allowed)).toEqual([true, true, false]);
  });
});
