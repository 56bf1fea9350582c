import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateCertificate, type TestCertificate } from '../test/tls-fixtures.ts';
import { BearerError } from './errors.ts';
import { staticJwks } from './key-source.ts';
import type { BearerRequestLike } from './request.ts';
import { createBearerVerifier } from './verifier.ts';
import type { BearerVerifierOptions } from './verifier-options.ts';

let issuer: TestIssuer;
let cert: TestCertificate;
let other: TestCertificate;

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
  cert = generateCertificate('a');
  other = generateCertificate('b');
});
afterAll(async () => {
  await issuer?.close();
});

const verifierWith = (extra: Partial<BearerVerifierOptions> = {}) =>
  createBearerVerifier({
    issuer: issuer.issuer,
    audience: issuer.audience,
    algorithms: ['ES256'],
    keys: staticJwks(issuer.jwks()),
    ...extra,
  } as BearerVerifierOptions);

const view = (token: string, headers: Record<string, string> = {}, der?: Uint8Array): BearerRequestLike => ({
  method: 'GET',
  authorization: [`Bearer ${token}`],
  url: '/r',
  header: (name) => headers[name],
  clientCertificate: () => der,
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BearerError);
    return (error as BearerError).code;
  }
  return 'accepted';
}

const pemUrlencoded = (c: TestCertificate): string => encodeURIComponent(c.cert);

describe('mTLS-bound tokens (cnf.x5t#S256)', () => {
  it('are enforced without any option: the socket certificate must match', async () => {
    const verifier = verifierWith();
    const token = await issuer.mint({ claims: { cnf: { 'x5t#S256': cert.thumbprint } } });
    expect(await codeOf(verifier.authenticate(view(token, {}, cert.der)))).toBe('accepted');
    expect(await codeOf(verifier.authenticate(view(token, {}, other.der)))).toBe('ERR_BEARER_CERTIFICATE_MISMATCH');
    expect(await codeOf(verifier.authenticate(view(token)))).toBe('ERR_BEARER_CERTIFICATE_MISMATCH');
    expect(await codeOf(verifier.verify(token))).toBe('ERR_BEARER_CERTIFICATE_MISMATCH');
  });

  it('ignores a certificate header unless a trusted proxy header is configured', async () => {
    const verifier = verifierWith();
    const token = await issuer.mint({ claims: { cnf: { 'x5t#S256': cert.thumbprint } } });
    const forged = { 'x-ssl-client-cert': pemUrlencoded(cert) };
    expect(await codeOf(verifier.authenticate(view(token, forged)))).toBe('ERR_BEARER_CERTIFICATE_MISMATCH');
  });

  it('reads the trusted proxy header (URL-encoded PEM or base64 DER) and only that', async () => {
    const token = await issuer.mint({ claims: { cnf: { 'x5t#S256': cert.thumbprint } } });
    const pem = verifierWith({
      mtls: { trustedProxyHeader: { name: 'x-ssl-client-cert', encoding: 'pem-urlencoded' } },
    });
    expect(await codeOf(pem.authenticate(view(token, { 'x-ssl-client-cert': pemUrlencoded(cert) })))).toBe('accepted');
    expect(await codeOf(pem.authenticate(view(token, { 'x-ssl-client-cert': pemUrlencoded(other) })))).toBe(
      'ERR_BEARER_CERTIFICATE_MISMATCH',
    );
    // With a proxy header configured, the socket (the proxy's own connection) is not used.
    expect(await codeOf(pem.authenticate(view(token, {}, cert.der)))).toBe('ERR_BEARER_CERTIFICATE_MISMATCH');
    expect(await codeOf(pem.authenticate(view(token, { 'x-ssl-client-cert': '%E0%A4%A' })))).toBe(
      'ERR_BEARER_CERTIFICATE_MISMATCH',
    );
    const der = verifierWith({ mtls: { trustedProxyHeader: { name: 'x-client-cert', encoding: 'base64-der' } } });
    expect(await codeOf(der.authenticate(view(token, { 'x-client-cert': cert.der.toString('base64') })))).toBe(
      'accepted',
    );
  });

  it('answers 401 invalid_token for a mismatch', async () => {
    const verifier = verifierWith({ realm: 'api' });
    const token = await issuer.mint({ claims: { cnf: { 'x5t#S256': cert.thumbprint } } });
    const error = await verifier.authenticate(view(token, {}, other.der)).catch((e: unknown) => e);
    const response = verifier.toResponse(error);
    expect(response.status).toBe(401);
    expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    expect((error as Error).message).not.toContain(cert.thumbprint);
  });

  it('refuses a malformed thumbprint and confirmation methods no step checks', async () => {
    const verifier = verifierWith();
    for (const cnf of [{ 'x5t#S256': 'short' }, { 'x5t#S256': 42 }, { jwk: { kty: 'EC' } }, { other: 'x' }, 'x']) {
      const token = await issuer.mint({ claims: { cnf } });
      expect(await codeOf(verifier.authenticate(view(token, {}, cert.der)))).toBe('ERR_BEARER_TOKEN_INVALID');
    }
  });

  it('enforces both bindings when a token carries jkt and x5t#S256 but DPoP is off', async () => {
    const verifier = verifierWith();
    const token = await issuer.mint({ claims: { cnf: { 'x5t#S256': cert.thumbprint, jkt: 'abc' } } });
    expect(await codeOf(verifier.authenticate(view(token, {}, cert.der)))).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('validates the mtls options', () => {
    expect(() =>
      verifierWith({ mtls: { trustedProxyHeader: { name: 'Bad Header', encoding: 'pem' as 'base64-der' } } }),
    ).toThrow(/trustedProxyHeader.name.*trustedProxyHeader.encoding/);
  });
});
