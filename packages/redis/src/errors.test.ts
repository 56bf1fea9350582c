import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { RateLimitError } from './errors.ts';
import type { RateLimitDecision } from './rate-limit/decision.ts';

describe('RateLimitError', () => {
  it('carries a decision property only when it has a decision, and keeps code, retryable and name enumerable', () => {
    const plain = new RateLimitError('ERR_RATE_LIMIT_NO_KEY', 'm');
    expect(Object.hasOwn(plain, 'decision')).toBe(false);
    expect(inspect(plain)).not.toContain('decision');
    expect(Object.keys(plain)).toEqual(expect.arrayContaining(['code', 'retryable', 'name']));

    const decision = { allowed: false, limited: true, limits: [] } as unknown as RateLimitDecision;
    const rejected = new RateLimitError('ERR_RATE_LIMIT_EXCEEDED', 'm', { retryAfterMs: 5, decision });
    expect(rejected.decision).toBe(decision);
    expect(Object.keys(rejected)).toContain('decision');
  });
});
