/**
 * Differential property: for any claims set and header we sign, this verifier never accepts a
 * token that jose.jwtVerify (configured with the same issuer, audience, algorithms, typ,
 * tolerance and exp requirement) rejects. We may be stricter, never looser.
 */
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import fc from 'fast-check';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier, staticJwks } from '../src/index.ts';

let issuer: TestIssuer;
let verifier: BearerVerifier;

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
  verifier = createBearerVerifier({
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    keys: staticJwks(issuer.jwks()),
  });
});
afterAll(() => issuer?.close());

describe('createBearerVerifier vs jose.jwtVerify', () => {
  it('never accepts what jose rejects', async () => {
    const now = Math.floor(Date.now() / 1000);
    const time = fc.oneof(
      fc.integer({ min: now - 200, max: now + 200 }),
      fc.constantFrom(undefined, null, 'soon', -1, 0, 1e12),
    );
    const aud = fc.oneof(
      fc.constant(issuer?.audience ?? 'https://api.test'),
      fc.constantFrom('https://other.test', '', undefined, 42),
      fc.array(fc.constantFrom('https://api.test', 'https://other.test', 1), { maxLength: 3 }),
    );
    const iss = fc.constantFrom('SELF', 'https://evil.test', undefined, 7, 'SELF/');
    const typ = fc.constantFrom('at+jwt', 'application/at+jwt', 'JWT', undefined, 'dpop+jwt');
    const alg = fc.constantFrom('ES256', 'ES256', 'RS256', 'none', 'HS256');
    await fc.assert(
      fc.asyncProperty(
        time,
        time,
        time,
        aud,
        iss,
        typ,
        alg,
        async (exp, nbf, iat, audience, issuerClaim, typValue, algValue) => {
          const claims: Record<string, unknown> = {
            exp,
            nbf,
            iat,
            aud: audience,
            iss: issuerClaim === 'SELF' ? issuer.issuer : issuerClaim === 'SELF/' ? `${issuer.issuer}/` : issuerClaim,
            sub: 's',
          };
          for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
          const header: Record<string, unknown> = { alg: algValue, kid: issuer.kid, typ: typValue };
          if (typValue === undefined) delete header.typ;
          const token = issuer.signRaw(JSON.stringify(header), JSON.stringify(claims));
          const ours = await verifier.verify(token).then(
            () => true,
            () => false,
          );
          const theirs = await jwtVerify(token, createLocalJWKSet(issuer.jwks()), {
            issuer: issuer.issuer,
            audience: issuer.audience,
            algorithms: ['ES256'],
            typ: 'at+jwt',
            requiredClaims: ['exp'],
            clockTolerance: 30,
          }).then(
            () => true,
            () => false,
          );
          if (ours) expect(theirs).toBe(true);
        },
      ),
      { numRuns: 250 },
    );
  });
});

describe('createBearerVerifier vs jose.jwtVerify, per algorithm', () => {
  for (const algorithm of ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'] as const) {
    it(`reaches the same verdict as jose for valid and tampered ${algorithm} tokens`, async () => {
      const own = await createTestIssuer({ algorithm });
      try {
        const ours = createBearerVerifier({
          issuer: own.issuer,
          audience: own.audience,
          algorithms: [algorithm],
          keys: staticJwks(own.jwks()),
        });
        const keys = createLocalJWKSet(own.jwks());
        const token = await own.mint();
        await fc.assert(
          fc.asyncProperty(fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean(), async (index, flip, tamper) => {
            const [h, p, s] = token.split('.') as [string, string, string];
            const signature = Buffer.from(s, 'base64url');
            if (tamper) {
              const at = index % signature.length;
              signature[at] = (signature[at] as number) ^ flip;
            }
            const candidate = `${h}.${p}.${signature.toString('base64url')}`;
            const accepted = await ours.verify(candidate).then(
              () => true,
              () => false,
            );
            const joseAccepted = await jwtVerify(candidate, keys, {
              issuer: own.issuer,
              audience: own.audience,
              algorithms: [algorithm],
              typ: 'at+jwt',
            }).then(
              () => true,
              () => false,
            );
            expect(accepted).toBe(joseAccepted);
            expect(accepted).toBe(!tamper);
          }),
          { numRuns: 30 },
        );
      } finally {
        await own.close();
      }
    });
  }

  it('refuses a key of the wrong type handed out by a custom key source', async () => {
    const own = await createTestIssuer({ algorithm: 'RS256' });
    try {
      const { generateKeyPair } = await import('jose');
      const pss = await generateKeyPair('PS256');
      const verifier = createBearerVerifier({
        issuer: own.issuer,
        audience: own.audience,
        algorithms: ['RS256'],
        keys: { ...staticJwks(own.jwks()), getKey: async () => pss.publicKey },
      });
      await expect(verifier.verify(await own.mint())).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_INVALID' });
    } finally {
      await own.close();
    }
  });
});
