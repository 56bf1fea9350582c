import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { shouldRefreshEarly } from './xfetch.ts';

const args = fc.record({
  now: fc.integer({ min: 0, max: 2 ** 40 }),
  expiresAt: fc.integer({ min: 0, max: 2 ** 40 }),
  deltaMs: fc.integer({ min: 0, max: 600_000 }),
  beta: fc.double({ min: 0.01, max: 10, noNaN: true }),
  r: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
});

describe('shouldRefreshEarly', () => {
  it('always refreshes at or after expiry', () => {
    fc.assert(
      fc.property(args, ({ now, expiresAt, deltaMs, beta, r }) => {
        fc.pre(now >= expiresAt);
        expect(shouldRefreshEarly({ now, expiresAt, deltaMs, beta, random: () => r })).toBe(true);
      }),
    );
  });

  it('never refreshes before expiry when computing costs nothing', () => {
    fc.assert(
      fc.property(args, ({ now, expiresAt, beta, r }) => {
        fc.pre(now < expiresAt);
        expect(shouldRefreshEarly({ now, expiresAt, deltaMs: 0, beta, random: () => r })).toBe(false);
      }),
    );
  });

  it('once due, stays due as time passes (for the same random draw)', () => {
    fc.assert(
      fc.property(args, fc.integer({ min: 0, max: 600_000 }), ({ now, expiresAt, deltaMs, beta, r }, later) => {
        const at = (t: number): boolean => shouldRefreshEarly({ now: t, expiresAt, deltaMs, beta, random: () => r });
        if (at(now)) expect(at(now + later)).toBe(true);
      }),
    );
  });

  it('refreshes earlier for costlier values', () => {
    fc.assert(
      fc.property(args, fc.integer({ min: 0, max: 600_000 }), ({ now, expiresAt, deltaMs, beta, r }, extra) => {
        const cost = (d: number): boolean => shouldRefreshEarly({ now, expiresAt, deltaMs: d, beta, random: () => r });
        if (cost(deltaMs)) expect(cost(deltaMs + extra)).toBe(true);
      }),
    );
  });
});
