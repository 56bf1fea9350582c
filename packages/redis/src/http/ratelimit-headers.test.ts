import { describe, expect, it } from 'vitest';
import type { RateLimitDecision } from '../rate-limit/decision.ts';
import { resolveLimits } from '../rate-limit/limits.ts';
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
