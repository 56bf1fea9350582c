import { describe, expect, it } from 'vitest';
import { clientKeyPrefix, escapeGlob } from './clear.ts';

describe('escapeGlob', () => {
  it('escapes every glob metacharacter of a SCAN MATCH pattern', () => {
    expect(escapeGlob('app[1]*?\\:')).toBe('app\\[1\\]\\*\\?\\\\:');
    expect(escapeGlob('rampart:cache:')).toBe('rampart:cache:');
  });
});

describe('clientKeyPrefix', () => {
  it('reads a Redis keyPrefix, a Cluster keyPrefix or its redisOptions.keyPrefix', () => {
    expect(clientKeyPrefix({ options: { keyPrefix: 'a:' } })).toBe('a:');
    expect(clientKeyPrefix({ options: { redisOptions: { keyPrefix: 'b:' } } })).toBe('b:');
    expect(clientKeyPrefix({ options: {} })).toBe('');
    expect(clientKeyPrefix({})).toBe('');
  });
});
