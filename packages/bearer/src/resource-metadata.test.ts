import { describe, expect, it } from 'vitest';
import { metadataResponse, protectedResourceMetadata, protectedResourceMetadataPath } from './resource-metadata.ts';
import { createBearerVerifier } from './verifier.ts';

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
