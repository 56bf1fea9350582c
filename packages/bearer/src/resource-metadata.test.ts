import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BearerError } from './errors.ts';
import { staticJwks } from './key-source.ts';
import type { BearerRequestLike } from './request.ts';
import { metadataResponse, protectedResourceMetadata, protectedResourceMetadataPath } from './resource-metadata.ts';
import { type BearerVerifier, createBearerVerifier } from './verifier.ts';
import type { CommonVerifierOptions, IssuerOptions } from './verifier-options.ts';

describe('protectedResourceMetadata', () => {
  it('builds the RFC 9728 document', () => {
    expect(
      protectedResourceMetadata({
        resource: 'https://orders.example.com',
        authorizationServers: ['https://id.example.com'],
        scopesSupported: ['orders:read'],
      }),
    ).toEqual({
      resource: 'https://orders.example.com',
      authorization_servers: ['https://id.example.com'],
      bearer_methods_supported: ['header'],
      scopes_supported: ['orders:read'],
    });
  });

  it('lists every problem at once', () => {
    expect(() =>
      protectedResourceMetadata({ resource: 'http://x', authorizationServers: [], scopesSupported: ['a b'] }),
    ).toThrow(/resource.*authorizationServers.*scopesSupported/);
  });

  it('refuses a resource that is not an absolute https URL without a fragment (RFC 9728 §1.2)', () => {
    for (const resource of [
      'https://orders.example.com#',
      'https://orders.example.com/#',
      'https://orders.example.com/v1#section',
      ' https://orders.example.com',
      'https://orders.example.com\n',
      'https://orders.example.com/a b',
      'https:orders.example.com',
      'https:\\\\orders.example.com',
      'https:///orders.example.com',
      'https://user:pass@orders.example.com',
      'https://@orders.example.com',
      '//orders.example.com',
      'http://orders.example.com',
      new URL('https://orders.example.com') as unknown as string,
      ['https://orders.example.com'] as unknown as string,
    ]) {
      let error: unknown;
      try {
        protectedResourceMetadata({ resource, authorizationServers: ['https://id.example.com'] });
      } catch (caught) {
        error = caught;
      }
      expect(error, JSON.stringify(resource)).toMatchObject({ code: 'ERR_BEARER_INVALID_OPTIONS' });
      expect((error as Error).message).toContain('resource must be an absolute https URL without a fragment');
      expect((error as Error).message).not.toContain('user:pass');
    }
    for (const resource of [
      'https://orders.example.com',
      'HTTPS://orders.example.com/v1',
      'https://orders.example.com:8443/v1?tenant=a',
    ]) {
      expect(protectedResourceMetadata({ resource, authorizationServers: ['https://id.example.com'] }).resource).toBe(
        resource,
      );
    }
  });

  it('advertises DPoP and mTLS support and serves as cacheable JSON', () => {
    const metadata = protectedResourceMetadata({
      resource: 'https://orders.example.com/v1',
      authorizationServers: ['https://id.example.com'],
      dpopSigningAlgValuesSupported: ['ES256', 'EdDSA'],
      dpopBoundAccessTokensRequired: true,
      tlsClientCertificateBoundAccessTokens: true,
    });
    expect(metadata).toMatchObject({
      dpop_signing_alg_values_supported: ['ES256', 'EdDSA'],
      dpop_bound_access_tokens_required: true,
      tls_client_certificate_bound_access_tokens: true,
    });
    expect(metadataResponse(metadata).headers['content-type']).toBe('application/json');
    expect(() =>
      protectedResourceMetadata({
        resource: 'https://a.test',
        authorizationServers: ['https://id.test'],
        dpopSigningAlgValuesSupported: ['HS256'],
      }),
    ).toThrow(/dpopSigningAlgValuesSupported/);
  });
  it('advertises body and query tokens when the verifier accepts them (bearer_methods_supported)', () => {
    const base = { resource: 'https://a.test', authorizationServers: ['https://id.test'] };
    expect(protectedResourceMetadata(base).bearer_methods_supported).toEqual(['header']);
    expect(protectedResourceMetadata({ ...base, allowBodyToken: true }).bearer_methods_supported).toEqual([
      'header',
      'body',
    ]);
    expect(
      protectedResourceMetadata({ ...base, allowBodyToken: true, allowQueryToken: true }).bearer_methods_supported,
    ).toEqual(['header', 'body', 'query']);
  });
});

describe('protectedResourceMetadataPath', () => {
  it('inserts the well-known segment before the resource path (RFC 9728 §3.1)', () => {
    expect(protectedResourceMetadataPath('https://api.test')).toBe('/.well-known/oauth-protected-resource');
    expect(protectedResourceMetadataPath('https://api.test/orders/v1')).toBe(
      '/.well-known/oauth-protected-resource/orders/v1',
    );
  });
});

describe('route step-up requirements (RFC 9470)', () => {
  it('are validated when declared', () => {
    const verifier = createBearerVerifier({
      issuer: 'https://id.test',
      audience: 'a',
      algorithms: ['ES256'],
      jwksUri: 'https://id.test/jwks',
    });
    expect(() => verifier.route({ authentication: {} })).toThrow(/acrValues or maxAgeSeconds/);
    expect(() => verifier.route({ authentication: { acrValues: ['a "b'], maxAgeSeconds: -1 } })).toThrow(
      /acrValues.*maxAgeSeconds/,
    );
    expect(verifier.route({ authentication: { acrValues: ['urn:mfa'] } })).toBeDefined();
  });
});

describe('route step-up requirements (RFC 9470): auth_time', () => {
  let issuer: TestIssuer;
  /** The verifier's clock, on a whole second so `now + tolerance` is an exact boundary. */
  let nowMs: number;
  let nowSeconds: number;
  beforeAll(async () => {
    issuer = await createTestIssuer({ algorithm: 'ES256' });
  });
  afterAll(() => issuer?.close());

  const stepUp = { authentication: { maxAgeSeconds: 300 } } as const;

  /** A verifier with a 60 s tolerance, its clock fixed at `nowMs`. */
  const verifierWith = (
    extra: Partial<CommonVerifierOptions> = {},
    issuerExtra: Partial<IssuerOptions> = {},
  ): BearerVerifier => {
    nowSeconds = Math.floor(Date.now() / 1000);
    nowMs = nowSeconds * 1000;
    return createBearerVerifier({
      issuers: {
        [issuer.issuer]: {
          audience: issuer.audience,
          algorithms: ['ES256'],
          keys: staticJwks(issuer.jwks()),
          ...issuerExtra,
        },
      },
      clockToleranceSeconds: 60,
      now: () => nowMs,
      ...extra,
    });
  };

  const view = (token: string): BearerRequestLike => ({
    method: 'GET',
    authorization: [`Bearer ${token}`],
    header: () => undefined,
  });

  /** 'accepted', or the error code (and the answer's status and challenge) of the refusal. */
  const attempt = async (verifier: BearerVerifier, authTime: unknown): Promise<string> => {
    const claims = authTime === undefined ? {} : { auth_time: authTime };
    try {
      await verifier.authenticate(view(await issuer.mint({ claims })), verifier.route(stepUp));
      return 'accepted';
    } catch (error) {
      expect(error).toBeInstanceOf(BearerError);
      if (typeof authTime === 'number') expect((error as Error).message).not.toContain(String(authTime));
      const response = verifier.toResponse(error);
      const error_ = /error="([^"]+)"/.exec(response.headers['www-authenticate'] ?? '')?.[1];
      return `${(error as BearerError).code} ${response.status} ${error_}`;
    }
  };

  const INVALID = 'ERR_BEARER_TOKEN_INVALID 401 invalid_token';
  const STEP_UP = 'ERR_BEARER_INSUFFICIENT_USER_AUTHENTICATION 401 insufficient_user_authentication';

  it('refuses an auth_time beyond the clock tolerance as an invalid token, not with a step-up challenge', async () => {
    const verifier = verifierWith();
    expect(await attempt(verifier, nowSeconds + 100_000_000)).toBe(INVALID);
    expect(await attempt(verifier, nowSeconds + 61)).toBe(INVALID);
  });

  it('accepts an auth_time in the future within the clock tolerance, up to exactly now + tolerance', async () => {
    const verifier = verifierWith();
    expect(await attempt(verifier, nowSeconds + 1)).toBe('accepted');
    expect(await attempt(verifier, nowSeconds + 59)).toBe('accepted');
    expect(await attempt(verifier, nowSeconds + 60)).toBe('accepted');
  });

  it("judges auth_time with the issuer's own clockToleranceSeconds", async () => {
    const verifier = verifierWith({}, { clockToleranceSeconds: 5 });
    expect(await attempt(verifier, nowSeconds + 5)).toBe('accepted');
    expect(await attempt(verifier, nowSeconds + 6)).toBe(INVALID);
  });

  it('refuses a non-numeric or negative auth_time as an invalid token; a missing one still asks for step-up', async () => {
    const verifier = verifierWith();
    for (const malformed of [String(nowSeconds), -1, null, true, [nowSeconds], { t: nowSeconds }]) {
      expect(await attempt(verifier, malformed)).toBe(INVALID);
    }
    expect(await attempt(verifier, undefined)).toBe(STEP_UP);
    expect(await attempt(verifier, nowSeconds - 301)).toBe(STEP_UP);
    expect(await attempt(verifier, nowSeconds - 300)).toBe('accepted');
  });

  it('checks auth_time on every request with verifiedTokenCache, against the clock of that request', async () => {
    const verifier = verifierWith({ verifiedTokenCache: { maxTtlSeconds: 60 } });
    const token = await issuer.mint({ claims: { auth_time: nowSeconds + 60 } });
    const call = () =>
      verifier.authenticate(view(token), verifier.route(stepUp)).then(
        () => 'accepted',
        (error: BearerError) => error.code,
      );
    expect(await call()).toBe('accepted');
    expect(await call()).toBe('accepted');
    // The clock steps back a second: the cached token's auth_time is now beyond the tolerance.
    nowMs -= 1000;
    expect(await call()).toBe('ERR_BEARER_TOKEN_INVALID');
    nowMs += 1000;
    expect(await call()).toBe('accepted');
  });

  it('leaves auth_time alone on a route that asks only for acr values', async () => {
    const verifier = verifierWith();
    const token = await issuer.mint({ claims: { acr: 'urn:mfa', auth_time: nowSeconds + 100_000_000 } });
    await expect(
      verifier.authenticate(view(token), verifier.route({ authentication: { acrValues: ['urn:mfa'] } })),
    ).resolves.toBeDefined();
  });
});
