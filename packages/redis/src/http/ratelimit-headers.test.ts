import { describe, expect, it } from 'vitest';
import type { RateLimitDecision } from '../rate-limit/decision.ts';
import { resolveLimits } from '../rate-limit/limits.ts';
import { scaleLimits } from '../rate-limit/local-limiter.ts';
import { rateLimitHeader, rateLimitPolicyHeader } from './ratelimit-headers.ts';

describe('rateLimitPolicyHeader', () => {
  it('lists every named policy with quota and window in seconds, in-flight limits with qu', () => {
    const limits = resolveLimits(
      [
        { name: 'burst', algorithm: 'gcra', limit: 10, windowMs: 500 },
        { name: 'day', algorithm: 'sliding-window', limit: 1000, windowMs: 86_400_000 },
        { name: 'inflight', algorithm: 'concurrency', limit: 4, leaseMs: 30_000 },
      ],
      [],
    );
    expect(rateLimitPolicyHeader(limits)).toBe(
      '"burst";q=10;w=1, "day";q=1000;w=86400, "inflight";q=4;qu="concurrent-requests"',
    );
  });
  it('advertises the burst of GCRA and token buckets over the time to earn it back, so r never exceeds q', () => {
    const limits = resolveLimits(
      [
        { name: 'tb', algorithm: 'token-bucket', capacity: 100, refillAmount: 1, refillIntervalMs: 1_000 },
        { name: 'g', algorithm: 'gcra', limit: 10, windowMs: 60_000, burst: 50 },
        { name: 'g1', algorithm: 'gcra', limit: 3, windowMs: 1_000 },
      ],
      [],
    );
    // 100 per 100 s is 1 per second; 50 per 300 s is 10 per minute: the configured rates.
    expect(rateLimitPolicyHeader(limits)).toBe('"tb";q=100;w=100, "g";q=50;w=300, "g1";q=3;w=1');
  });
  it('advertises the scaled quota and burst of the fallback from its scaled limits', () => {
    const limits = resolveLimits(
      [
        { name: 'hour', algorithm: 'fixed-window', limit: 1000, windowMs: 3_600_000 },
        { name: 'g', algorithm: 'gcra', limit: 10, windowMs: 60_000, burst: 50 },
        { name: 'tb', algorithm: 'token-bucket', capacity: 100, refillAmount: 4, refillIntervalMs: 1_000 },
        { name: 'inflight', algorithm: 'concurrency', limit: 4, leaseMs: 30_000 },
      ],
      [],
    );
    // 5 per minute with bursts of 25; 2 per second with bursts of 50.
    expect(rateLimitPolicyHeader(scaleLimits(limits, 0.5))).toBe(
      '"hour";q=500;w=3600, "g";q=25;w=300, "tb";q=50;w=25, "inflight";q=2;qu="concurrent-requests"',
    );
  });
});

describe('rateLimitHeader', () => {
  it('reports remaining quota and seconds to reset per policy', () => {
    const decision = {
      limits: [
        { name: 'a', algorithm: 'fixed-window', remaining: 3, resetMs: 1_001 },
        { name: 'b', algorithm: 'concurrency', remaining: 0, resetMs: 0 },
      ],
    } as unknown as RateLimitDecision;
    expect(rateLimitHeader(decision)).toBe('"a";r=3;t=2, "b";r=0');
  });
});
