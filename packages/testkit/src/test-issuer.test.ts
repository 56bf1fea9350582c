import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { describe, expect, it, vi } from 'vitest';
import { createTestIssuer } from './test-issuer.ts';

describe('createTestIssuer', () => {
  it('refuses to run in production', async () => {
    vi.stubEnv('NODE_ENV', 'production');
    try {
      await expect(createTestIssuer()).rejects.toMatchObject({ code: 'ERR_TESTKIT_PRODUCTION' });
    } finally {
      vi.unstubAllEnvs();
    }
  });

  for (const algorithm of ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const) {
    it(`mints ${algorithm} access tokens verifiable through its loopback JWKS`, async () => {
      const issuer = await createTestIssuer({ algorithm });
      try {
        expect(new URL(issuer.jwksUri).hostname).toBe('127.0.0.1');
        const token = await issuer.mint({ scopes: ['a', 'b'], claims: { tenant: 't' } });
        const { payload, protectedHeader } = await jwtVerify(token, createRemoteJWKSet(new URL(issuer.jwksUri)), {
          issuer: issuer.issuer,
          audience: issuer.audience,
          typ: 'at+jwt',
        });
        expect(payload.scope).toBe('a b');
        expect(payload.tenant).toBe('t');
        expect(protectedHeader.kid).toBe(issuer.kid);
        const raw = issuer.signRaw(JSON.stringify({ alg: algorithm, kid: issuer.kid }), '{"iss":"x"}');
        await expect(jwtVerify(raw, createRemoteJWKSet(new URL(issuer.jwksUri)))).resolves.toBeDefined();
      } finally {
        await issuer.close();
      }
    });
  }

  it('rotates keys, removes claims set to undefined and simulates outages', async () => {
    const issuer = await createTestIssuer();
    try {
      const first = issuer.kid;
      await issuer.rotate();
      expect(issuer.jwks().keys.map((key) => key.kid)).toEqual([first, issuer.kid]);
      await issuer.rotate({ dropPrevious: true });
      expect(issuer.jwks().keys).toHaveLength(1);
      const token = await issuer.mint({ claims: { exp: undefined }, header: { typ: undefined } });
      expect(decodeProtectedHeader(token).typ).toBeUndefined();
      expect(JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).exp).toBeUndefined();
      issuer.setJwksAvailable(false);
      expect((await fetch(issuer.jwksUri)).status).toBe(503);
      issuer.setJwksAvailable('reset');
      await expect(fetch(issuer.jwksUri)).rejects.toThrow();
      expect(issuer.jwksRequests).toBe(2);
    } finally {
      await issuer.close();
    }
  });
});
