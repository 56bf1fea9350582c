import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type LimitDefinition, resolveLimits } from './limits.ts';
import { LocalLimiter, scaleLimits } from './local-limiter.ts';

/** A fixed-window, sliding-window, GCRA or token-bucket limit and the burst it allows at one instant. */
const arbitraryLimit: fc.Arbitrary<{ definition: LimitDefinition; burst: number }> = fc.oneof(
  fc
    .tuple(fc.constantFrom('fixed-window' as const, 'sliding-window' as const), fc.integer({ min: 1, max: 100 }))
    .chain(([algorithm, limit]) =>
      fc.integer({ min: 1, max: 86_400_000 }).map((windowMs) => ({
        definition: { name: 'l', algorithm, limit, windowMs },
        burst: limit,
      })),
    ),
  fc
    .tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 86_400_000 }), fc.integer({ min: 1, max: 100 }))
    .map(([limit, windowMs, burst]) => ({
      definition: { name: 'l', algorithm: 'gcra' as const, limit, windowMs, burst },
      burst,
    })),
  fc
    .tuple(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: 86_400_000 }))
    .map(([capacity, refillAmount, refillIntervalMs]) => ({
      definition: { name: 'l', algorithm: 'token-bucket' as const, capacity, refillAmount, refillIntervalMs },
      burst: capacity,
    })),
);

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
          // At one instant a GCRA limit admits exactly its burst.
          let admitted = 0;
          while (local.consume('k', 1, '').allowed) admitted += 1;
          expect(admitted).toBe(reported.burst);
        },
      ),
    );
  });

  it('reports 9 of a burst of 10 left after the first request when the clock is just below a power of two', () => {
    // 2^24 − 1.37 ms (4.7 h of uptime): `now + 200` rounds up, and a TAT-based `next − now` was a
    // hair over one interval, which reported 8.
    const now = 16_777_214.63;
    const limits = resolveLimits([{ name: 'g', algorithm: 'gcra', limit: 5, windowMs: 1_000, burst: 10 }], []);
    const local = new LocalLimiter(limits, 10, 1, () => now);
    expect(local.consume('k', 1, '').limits[0]!.remaining).toBe(9);
    expect(local.consume('k', 1, '').limits[0]!.remaining).toBe(8);
  });

  it('reports burst − cost left on a first request and never less than 0 or more than the burst, at any clock value', () => {
    fc.assert(
      fc.property(
        arbitraryLimit,
        // A clock reading of up to ~115 days of uptime, with fractions (performance.now()).
        fc.double({ min: 0, max: 1e10, noNaN: true }),
        fc.array(fc.tuple(fc.oneof(fc.constant(0), fc.double({ min: 0, max: 2, noNaN: true })), fc.nat()), {
          maxLength: 40,
        }),
        ({ definition, burst }, start, steps) => {
          const limits = resolveLimits([definition], []);
          let now = start;
          const local = new LocalLimiter(limits, 10, 1, () => now);
          const costOf = (n: number): number => 1 + (n % burst);
          const first = local.consume('k', costOf(steps[0]?.[1] ?? 0), '');
          expect(first.allowed).toBe(true);
          expect(first.limits[0]!.remaining).toBe(burst - costOf(steps[0]?.[1] ?? 0));
          for (const [windows, n] of steps) {
            // Steps of 0 (one instant) up to two windows, as multiples of the window.
            now += windows * limits[0]!.windowMs;
            const { limits: outcomes } = local.consume('k', costOf(n), '');
            expect(outcomes[0]!.remaining).toBeGreaterThanOrEqual(0);
            expect(outcomes[0]!.remaining).toBeLessThanOrEqual(burst);
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it('counts requests at one instant exactly: burst − k·cost left after k of them, at any clock value', () => {
    fc.assert(
      fc.property(
        arbitraryLimit,
        fc.double({ min: 0, max: 1e10, noNaN: true }),
        fc.nat(),
        ({ definition, burst }, now, n) => {
          const cost = 1 + (n % burst);
          const local = new LocalLimiter(resolveLimits([definition], []), 10, 1, () => now);
          const fits = Math.floor(burst / cost);
          for (let k = 1; k <= fits; k++) {
            const decision = local.consume('k', cost, '');
            expect(decision.allowed).toBe(true);
            expect(decision.limits[0]!.remaining).toBe(burst - k * cost);
          }
          const refused = local.consume('k', cost, '');
          expect(refused.allowed).toBe(false);
          expect(refused.limits[0]!.remaining).toBe(burst - fits * cost);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('does not count time twice when a GCRA request arrives with a clock reading behind the last one', () => {
    let now = 20_000;
    const limiter = new LocalLimiter(
      resolveLimits([{ name: 'g', algorithm: 'gcra', limit: 1, windowMs: 1_000, burst: 5 }], []),
      10,
      1,
      () => now,
    );
    for (let i = 0; i < 4; i++) expect(limiter.consume('k', 1, '').allowed).toBe(true);
    now = 10_000;
    expect(limiter.consume('k', 1, '').allowed).toBe(true);
    now = 20_000;
    expect(limiter.consume('k', 1, '').allowed).toBe(false);
  });

  it('reports the reset of a rejected GCRA request as the state it leaves: nothing spent', () => {
    const now = 0;
    const limiter = new LocalLimiter(
      resolveLimits([{ name: 'g', algorithm: 'gcra', limit: 1, windowMs: 1_000, burst: 1 }], []),
      10,
      1,
      () => now,
    );
    expect(limiter.consume('k', 1, '').limits[0]).toMatchObject({ ok: true, resetMs: 1_000 });
    expect(limiter.consume('k', 1, '').limits[0]).toMatchObject({ ok: false, resetMs: 1_000, retryAfterMs: 1_000 });
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
