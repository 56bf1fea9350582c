import { describe, expect, it } from 'vitest';
import { LATE_FORGET_MAX, LATE_FORGET_WINDOW_MS, lateForgets } from './replay-attempt.ts';

// test/replay-guard-late-forget.integration.test.ts drives a queue of its own with a short window
// (the real one's is a minute); this pins the real queue to the window and limit it documents.
describe('lateForgets', () => {
  it('keeps refused forgets for LATE_FORGET_WINDOW_MS, at most LATE_FORGET_MAX per client', () => {
    expect(lateForgets.windowMs).toBe(LATE_FORGET_WINDOW_MS);
    expect(lateForgets.maxItems).toBe(LATE_FORGET_MAX);
  });
});
