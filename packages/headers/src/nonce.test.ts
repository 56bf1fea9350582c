import { describe, expect, it } from 'vitest';
import { attachNonce, generateNonce, getNonce, NONCE_BYTES } from './nonce.ts';

describe('generateNonce', () => {
  it('returns 128 bits as base64', () => {
    const nonce = generateNonce();
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{22}==$/);
    expect(Buffer.from(nonce, 'base64')).toHaveLength(NONCE_BYTES);
    expect(NONCE_BYTES * 8).toBeGreaterThanOrEqual(128);
  });

  it('never repeats across many pool refills', () => {
    const seen = new Set(Array.from({ length: 20_000 }, generateNonce));
    expect(seen.size).toBe(20_000);
  });
});

describe('getNonce', () => {
  it('finds the nonce on the request or on the node request a framework wraps', () => {
    const raw = {};
    attachNonce(raw, 'n1');
    expect(getNonce(raw)).toBe('n1');
    expect(getNonce({ raw })).toBe('n1');
    expect(getNonce({})).toBeUndefined();
  });
});
