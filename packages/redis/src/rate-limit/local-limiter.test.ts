import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { gcraReference } from '../../test/fixtures/gcra-reference.ts';
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

/** A GCRA or token-bucket limit, its rate as `limit` per `windowMs`, and its burst. */
const arbitraryGcra: fc.Arbitrary<{ definition: LimitDefinition; limit: number; windowMs: number; burst: number }> = fc
  .tuple(
    fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 1_000_000 })),
    fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: 86_400_000 })),
    fc.oneof(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 1_000 })),
    fc.boolean(),
  )
  .map(([limit, windowMs, burst, bucket]) => ({
    definition: bucket
      ? {
          name: 'l',
          algorithm: 'token-bucket' as const,
          capacity: burst,
          refillAmount: limit,
          refillIntervalMs: windowMs,
        }
      : { name: 'l', algorithm: 'gcra' as const, limit, windowMs, burst },
    limit,
    windowMs,
    burst,
  }));

/**
 * Clock steps: none, a few emission intervals, up to two windows, or back (a late reading), by up
 * to an interval or by up to two windows (past several writes).
 */
function arbitrarySteps(windowMs: number, limit: number, burst: number) {
  const interval = Math.max(1, Math.ceil(windowMs / limit));
  return fc.array(
    fc.tuple(
      fc.oneof(
        fc.constant(0),
        fc.integer({ min: 0, max: 3 * interval }),
        fc.integer({ min: 0, max: 2 * windowMs }),
        fc.integer({ min: -interval, max: 0 }),
        fc.integer({ min: -2 * windowMs, max: 0 }),
      ),
      fc.integer({ min: 1, max: burst }),
    ),
    { minLength: 1, maxLength: 30 },
  );
}

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
          const local = new LocalLimiter(scaleLimits(g, scale), 10, () => 0);
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
    const local = new LocalLimiter(limits, 10, () => now);
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
          const local = new LocalLimiter(limits, 10, () => now);
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
          const local = new LocalLimiter(resolveLimits([definition], []), 10, () => now);
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

  it('reports the exact GCRA reset and retry (and admits exactly) at any clock value up to 1e10 ms', () => {
    fc.assert(
      fc.property(
        arbitraryGcra.chain((g) =>
          fc.tuple(fc.constant(g), fc.integer({ min: 0, max: 1e10 }), arbitrarySteps(g.windowMs, g.limit, g.burst)),
        ),
        ([{ definition, limit, windowMs, burst }, start, steps]) => {
          let now = start;
          const local = new LocalLimiter(resolveLimits([definition], []), 10, () => now);
          // The reference on the local limiter's clock, in whole ms.
          const exact = gcraReference(limit, windowMs, burst, 1);
          for (const [step, cost] of steps) {
            now = Math.max(0, now + step);
            const got = local.consume('k', cost, '').limits[0]!;
            const want = exact.consume(now, cost);
            // What a decision reports (redis-down-decision.ts rounds up).
            expect([Math.ceil(got.resetMs), Math.ceil(got.retryAfterMs)]).toEqual([want.resetTicks, want.retryTicks]);
            expect([got.ok, got.remaining]).toEqual([want.ok, want.remaining]);
          }
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('decides a GCRA limit on the whole ms of a fractional clock reading', () => {
    fc.assert(
      fc.property(
        arbitraryGcra.chain((g) =>
          fc.tuple(
            fc.constant(g),
            fc.integer({ min: 0, max: 1e10 }),
            arbitrarySteps(g.windowMs, g.limit, g.burst),
            fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 30, maxLength: 30 }),
          ),
        ),
        ([{ definition }, start, steps, fractions]) => {
          let whole = start;
          let now = start;
          const limits = resolveLimits([definition], []);
          const fractional = new LocalLimiter(limits, 10, () => now);
          const integral = new LocalLimiter(limits, 10, () => whole);
          steps.forEach(([step, cost], i) => {
            whole = Math.max(0, whole + step);
            now = whole + fractions[i]!;
            if (Math.floor(now) !== whole) now = whole;
            expect(fractional.consume('k', cost, '')).toEqual(integral.consume('k', cost, ''));
          });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('reports the exact reset and retry of a fixed or sliding window at any clock value', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('fixed-window' as const, 'sliding-window' as const),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 86_400_000 }),
        fc.oneof(fc.integer({ min: 0, max: 1e10 }), fc.double({ min: 0, max: 1e10, noNaN: true })),
        (algorithm, limit, windowMs, now) => {
          const local = new LocalLimiter(resolveLimits([{ name: 'w', algorithm, limit, windowMs }], []), 10, () => now);
          // Exact: the time into the window, from the clock reading as a rational (a double is one).
          const into = Number(BigInt(Math.floor(now)) % BigInt(windowMs));
          const end = windowMs - into;
          for (let k = 0; k <= limit; k++) {
            const got = local.consume('k', 1, '').limits[0]!;
            const reset = algorithm === 'fixed-window' ? end : windowMs + end;
            expect([Math.ceil(got.resetMs), Math.ceil(got.retryAfterMs)]).toEqual([reset, got.ok ? 0 : end]);
          }
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
      () => now,
    );
    expect(limiter.consume('k', 1, '').limits[0]).toMatchObject({ ok: true, resetMs: 1_000 });
    expect(limiter.consume('k', 1, '').limits[0]).toMatchObject({ ok: false, resetMs: 1_000, retryAfterMs: 1_000 });
  });

  it('holds at most maxKeys subjects and scales limits down', () => {
    const limiter = new LocalLimiter(
      scaleLimits(resolveLimits([{ name: 'w', algorithm: 'fixed-window', limit: 10, windowMs: 1_000 }], []), 0.2),
      3,
      () => 0,
    );
    for (let i = 0; i < 100; i++) limiter.consume(`k${i}`, 1, '');
    expect(limiter.size).toBe(3);
    expect([1, 2, 3].map(() => limiter.consume('x', 1, '').allowed)).toEqual([true, true, false]);
  });
});
