import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { staticJwks } from './key-source.ts';
import { VerifiedTokenCache } from './verified-token-cache.ts';
import { createBearerVerifier } from './verifier.ts';

let issuer: TestIssuer;
beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
});
afterAll(() => issuer?.close());

function countingVerifier(extra: { now?: () => number; isRevoked?: () => boolean } = {}) {
  const keys = staticJwks(issuer.jwks());
  let lookups = 0;
  const verifier = createBearerVerifier({
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    keys: {
      ...keys,
      getKey: (header, token) => {
        lookups++;
        return keys.getKey(header, token);
      },
    },
    verifiedTokenCache: { maxTtlSeconds: 60 },
    ...extra,
  });
  return { verifier, lookups: () => lookups };
}

describe('verifiedTokenCache', () => {
  it('skips the signature check for a token seen before', async () => {
    const { verifier, lookups } = countingVerifier();
    const token = await issuer.mint();
    await verifier.verify(token);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(lookups()).toBe(1);
  });

  it('still rejects a cached token once it expires', async () => {
    let now = Date.now();
    const { verifier } = countingVerifier({ now: () => now });
    const token = await issuer.mint({ expiresInSeconds: 10 });
    await verifier.verify(token);
    now += 60_000;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_EXPIRED' });
  });

  it('still calls the revocation hook on every request', async () => {
    let revoked = false;
    const { verifier } = countingVerifier({ isRevoked: () => revoked });
    const token = await issuer.mint();
    await verifier.verify(token);
    revoked = true;
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_REVOKED' });
  });

  it('re-verifies after the max TTL', async () => {
    let now = Date.now();
    const { verifier, lookups } = countingVerifier({ now: () => now });
    const token = await issuer.mint({ expiresInSeconds: 3600 });
    await verifier.verify(token);
    now += 61_000;
    await verifier.verify(token);
    expect(lookups()).toBe(2);
  });

  it('never caches a token that failed verification', async () => {
    const { verifier, lookups } = countingVerifier();
    const token = await issuer.mint();
    const tampered = `${token.slice(0, -4)}AAAA`;
    await expect(verifier.verify(tampered)).rejects.toBeDefined();
    await expect(verifier.verify(tampered)).rejects.toBeDefined();
    expect(lookups()).toBe(2);
  });

  it('hands out frozen claims, so one request cannot change what the next sees', async () => {
    const { verifier } = countingVerifier();
    const token = await issuer.mint({ claims: { groups: ['a'] } });
    const first = await verifier.verify(token);
    expect(() => {
      (first.claims as Record<string, unknown>).sub = 'admin';
    }).toThrow(TypeError);
    expect(() => (first.claims.groups as string[]).push('admin')).toThrow(TypeError);
  });
});

describe('VerifiedTokenCache', () => {
  it('evicts the least recently used entry beyond maxEntries and never stores the token', () => {
    const cache = new VerifiedTokenCache<number>({ maxEntries: 2 });
    const now = 1_000;
    for (const [i, token] of ['a.b.c', 'd.e.f', 'g.h.i'].entries()) {
      cache.set(VerifiedTokenCache.keyOf(token), i, now, now + 10_000);
    }
    expect(cache.size).toBe(2);
    expect(cache.get(VerifiedTokenCache.keyOf('a.b.c'), now)).toBeUndefined();
    expect(cache.get(VerifiedTokenCache.keyOf('g.h.i'), now)).toBe(2);
    expect(VerifiedTokenCache.keyOf('a.b.c')).not.toContain('a.b.c');
  });

  it('keeps a frequently read entry through churn (least recently used, not first in)', () => {
    const cache = new VerifiedTokenCache<string>({ maxEntries: 3 });
    const now = 1_000;
    const hot = VerifiedTokenCache.keyOf('hot.token.sig');
    cache.set(hot, 'hot', now, now + 10_000);
    for (let i = 0; i < 100; i++) {
      expect(cache.get(hot, now)).toBe('hot');
      cache.set(VerifiedTokenCache.keyOf(`churn.${i}.sig`), `churn ${i}`, now, now + 10_000);
      expect(cache.size).toBeLessThanOrEqual(3);
    }
    expect(cache.get(hot, now)).toBe('hot');
    // The bound holds: only the hot entry and the two most recent others remain.
    expect(cache.size).toBe(3);
    expect(cache.get(VerifiedTokenCache.keyOf('churn.99.sig'), now)).toBe('churn 99');
    expect(cache.get(VerifiedTokenCache.keyOf('churn.98.sig'), now)).toBe('churn 98');
    expect(cache.get(VerifiedTokenCache.keyOf('churn.97.sig'), now)).toBeUndefined();
  });
});
