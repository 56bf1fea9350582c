import { generateKeyPairSync } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createDpopClient } from '../test/dpop-client.ts';
import { TEST_AUDIENCE as AUD, TEST_ISSUER as ISS, useIntrospectionServer } from '../test/introspection-server.ts';
import { BearerError } from './errors.ts';
import { createIntrospector } from './introspection.ts';
import type { IntrospectionOptions } from './introspection-options.ts';
import { remoteJwks, staticJwks } from './key-source.ts';
import { memoryReplayStore } from './replay-store.ts';
import type { BearerRequestLike } from './request.ts';
import { createBearerVerifier } from './verifier.ts';

const OPAQUE = 'opaque-handle_0123456789';

const as = useIntrospectionServer();
let issuer: TestIssuer;
let now = Date.now();

beforeAll(async () => {
  issuer = await createTestIssuer({ algorithm: 'ES256' });
});
afterAll(async () => {
  await issuer?.close();
});
beforeEach(() => {
  // The cache and the breaker time their deadlines with performance.now(), not the verifier's wall
  // clock: only that is faked, so real timers (timeoutMs, the loopback server) keep running.
  vi.useFakeTimers({ toFake: ['performance'] });
  now = Date.now();
  as.answer = (token) =>
    token === OPAQUE
      ? {
          active: true,
          token_type: 'Bearer',
          scope: 'orders:read',
          sub: 'u1',
          client_id: 'c1',
          aud: AUD,
          iss: ISS,
          exp: Math.floor(now / 1000) + 600,
        }
      : { active: false };
});

afterEach(() => {
  vi.useRealTimers();
});

/** Lets `ms` pass on both clocks: the verifier's (token times) and the monotonic one (cache deadlines). */
function elapse(ms: number): void {
  now += ms;
  vi.advanceTimersByTime(ms);
}

const base = (extra: Partial<IntrospectionOptions> = {}): IntrospectionOptions => as.options(extra);

const opaqueVerifier = (extra: Partial<IntrospectionOptions> = {}) =>
  createBearerVerifier({ introspection: base(extra), now: () => now, realm: 'api' });

const view = (token: string, scheme = 'Bearer', headers: Record<string, string> = {}): BearerRequestLike => ({
  method: 'GET',
  authorization: [`${scheme} ${token}`],
  url: '/orders',
  header: (name) => headers[name],
});

async function failure(promise: Promise<unknown>): Promise<BearerError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(BearerError);
    const message = (error as Error).message;
    expect(message).not.toContain(OPAQUE);
    expect(message).not.toContain(as.clientSecret);
    return error as BearerError;
  }
  throw new Error('expected a rejection');
}

describe('introspection (RFC 7662)', () => {
  it('accepts an active opaque token, with client_secret_basic, and reports scopes and issuer', async () => {
    const result = await opaqueVerifier().authenticate(view(OPAQUE), { scopes: { all: ['orders:read'] } });
    expect(result).toMatchObject({ issuer: ISS, subject: 'u1', clientId: 'c1' });
    expect([...result.scopes]).toEqual(['orders:read']);
    const call = as.calls[0];
    expect(call?.authorization).toBe(`Basic ${Buffer.from(`orders-api:${as.clientSecret}`).toString('base64')}`);
    expect(call?.params.get('token')).toBe(OPAQUE);
    expect(call?.params.get('token_type_hint')).toBe('access_token');
  });

  it('authenticates with private_key_jwt', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const verifier = opaqueVerifier({
      authentication: { method: 'private_key_jwt', privateKey, algorithm: 'ES256', keyId: 'k1' },
    });
    await verifier.authenticate(view(OPAQUE));
    const call = as.calls[0];
    expect(call?.authorization).toBeUndefined();
    expect(call?.params.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
    const { payload } = await jwtVerify(call?.params.get('client_assertion') as string, publicKey, {
      audience: as.url,
    });
    expect(payload).toMatchObject({ iss: 'orders-api', sub: 'orders-api' });
  });

  it('refuses an inactive token with 401 and caches that briefly (negative cache)', async () => {
    const verifier = opaqueVerifier({ negativeCacheTtlSeconds: 5 });
    const error = await failure(verifier.authenticate(view('unknown-token')));
    expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(verifier.toResponse(error).status).toBe(401);
    await failure(verifier.authenticate(view('unknown-token')));
    expect(as.calls).toHaveLength(1);
    elapse(6_000);
    await failure(verifier.authenticate(view('unknown-token')));
    expect(as.calls).toHaveLength(2);
  });

  it('caches active results until the max TTL, and never past exp', async () => {
    const verifier = opaqueVerifier({ cacheMaxTtlSeconds: 60 });
    await verifier.authenticate(view(OPAQUE));
    elapse(30_000);
    await verifier.authenticate(view(OPAQUE));
    expect(as.calls).toHaveLength(1);
    elapse(31_000);
    await verifier.authenticate(view(OPAQUE));
    expect(as.calls).toHaveLength(2);

    const shortLived = opaqueVerifier({ cacheMaxTtlSeconds: 3600 });
    as.answer = () => ({ active: true, token_type: 'Bearer', aud: AUD, exp: Math.floor(now / 1000) + 10 });
    await shortLived.authenticate(view('short-lived'));
    elapse(11_000);
    as.answer = () => ({ active: false });
    expect((await failure(shortLived.authenticate(view('short-lived')))).code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('times its cache deadlines with a monotonic clock: a wall clock stepped back does not stretch them past revocation', async () => {
    const verifier = opaqueVerifier({ cacheMaxTtlSeconds: 60, negativeCacheTtlSeconds: 5 });
    as.answer = () => ({ active: true, token_type: 'Bearer', aud: AUD, exp: Math.floor(now / 1000) + 7_200 });
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
    // Revoked at the server; then the wall clock is stepped back an hour (NTP, a VM restored).
    as.answer = () => ({ active: false });
    now -= 3_600_000;
    elapse(59_000);
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
    expect(as.calls).toHaveLength(1);
    elapse(2_000);
    expect((await failure(verifier.verify(OPAQUE))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(as.calls).toHaveLength(2);
    // The negative answer's deadline too: cached for 5 s of monotonic time, whatever the wall clock does.
    now -= 3_600_000;
    elapse(4_000);
    await failure(verifier.verify(OPAQUE));
    expect(as.calls).toHaveLength(2);
    now += 7_200_000; // stepped forward: no earlier call either
    await failure(verifier.verify(OPAQUE));
    expect(as.calls).toHaveLength(2);
    elapse(2_000);
    await failure(verifier.verify(OPAQUE));
    expect(as.calls).toHaveLength(3);
  });

  it('still refuses a cached token past its exp by the wall clock, also when the wall clock steps forward', async () => {
    const verifier = opaqueVerifier({ cacheMaxTtlSeconds: 60, clockToleranceSeconds: 0 });
    const exp = Math.floor(now / 1000) + 600;
    as.answer = () => ({ active: true, token_type: 'Bearer', aud: AUD, exp });
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
    now += 601_000; // the wall clock only: the cached answer is still within its 60 s of monotonic time
    expect((await failure(verifier.verify(OPAQUE))).code).toBe('ERR_BEARER_TOKEN_EXPIRED');
    expect(as.calls).toHaveLength(1);
  });

  it('keeps a frequently used result through churn (least recently used, not first in)', async () => {
    const verifier = opaqueVerifier({ cacheMaxEntries: 2 });
    await verifier.authenticate(view(OPAQUE));
    for (let i = 0; i < 5; i++) {
      await verifier.authenticate(view(OPAQUE));
      await failure(verifier.authenticate(view(`churn-${i}`)));
    }
    await verifier.authenticate(view(OPAQUE));
    // One call for the hot token, one per churned token: the hot result was never evicted.
    expect(as.calls).toHaveLength(6);
    // The bound holds: of the churned tokens only the latest is still cached.
    await failure(verifier.authenticate(view('churn-4')));
    expect(as.calls).toHaveLength(6);
    await failure(verifier.authenticate(view('churn-3')));
    expect(as.calls).toHaveLength(7);
  });

  it('makes one call for many concurrent requests with one token', async () => {
    const verifier = opaqueVerifier();
    await Promise.all(Array.from({ length: 10 }, () => verifier.authenticate(view(OPAQUE))));
    expect(as.calls).toHaveLength(1);
  });

  it('hands out frozen claims, so no handler can change what the cached answer authorizes', async () => {
    const verifier = opaqueVerifier();
    const first = await verifier.authenticate(view(OPAQUE));
    const claims = first.claims as Record<string, unknown>;
    expect(Object.isFrozen(claims)).toBe(true);
    expect(() => {
      claims.scope = 'orders:read admin';
    }).toThrow(TypeError);
    const second = await verifier.authenticate(view(OPAQUE));
    expect([...second.scopes]).toEqual(['orders:read']);
    expect(second.subject).toBe('u1');
    await expect(verifier.authenticate(view(OPAQUE), { scopes: { all: ['admin'] } })).rejects.toMatchObject({
      code: 'ERR_BEARER_INSUFFICIENT_SCOPE',
    });
    expect(as.calls).toHaveLength(1);
  });

  it('refuses another audience, a missing audience and another issuer', async () => {
    for (const answer of [
      { active: true, token_type: 'Bearer', aud: 'https://other.test' },
      { active: true, token_type: 'Bearer' },
      { active: true, token_type: 'Bearer', aud: AUD, iss: 'https://evil.test' },
      { active: true, token_type: 'Bearer', aud: AUD, exp: Math.floor(now / 1000) - 100 },
    ]) {
      as.answer = () => answer;
      const error = await failure(opaqueVerifier().authenticate(view(OPAQUE)));
      expect(verifier401(error)).toBe(401);
    }
    as.answer = () => ({ active: true, token_type: 'Bearer' });
    await expect(opaqueVerifier({ requireAudience: false }).authenticate(view(OPAQUE))).resolves.toBeDefined();
  });

  it('refuses tokens that are not access tokens: no token_type, another token_type, token_use or typ', async () => {
    const refused = [
      { active: true, aud: AUD }, // oidc-provider's answer for a refresh token (with an audience here)
      { active: true, aud: AUD, token_type: 'refresh_token' },
      { active: true, aud: AUD, token_type: 'N_A' },
      { active: true, aud: AUD, token_type: 42 },
      { active: true, aud: AUD, token_type: 'Bearer', token_use: 'refresh_token' }, // Ory Hydra
      { active: true, aud: AUD, token_type: 'Bearer', typ: 'Refresh' }, // Keycloak
      { active: true, aud: AUD, token_type: 'Bearer', typ: 'Offline' },
      { active: true, aud: AUD, token_type: 'Bearer', typ: 'ID' },
    ];
    for (const answer of refused) {
      as.answer = () => answer;
      const error = await failure(opaqueVerifier({ requireAudience: false }).authenticate(view(OPAQUE)));
      expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
      expect(verifier401(error)).toBe(401);
    }
    as.answer = () => ({ active: true, aud: AUD });
    expect((await failure(opaqueVerifier().authenticate(view(OPAQUE)))).message).toContain('requireTokenType: false');
    // The opt-out is for servers that never send token_type; the other signals still refuse.
    await expect(opaqueVerifier({ requireTokenType: false }).authenticate(view(OPAQUE))).resolves.toBeDefined();
    as.answer = () => ({ active: true, aud: AUD, typ: 'Refresh' });
    await expect(opaqueVerifier({ requireTokenType: false }).authenticate(view(OPAQUE))).rejects.toMatchObject({
      code: 'ERR_BEARER_TOKEN_INVALID',
    });
    for (const answer of [
      { active: true, aud: AUD, token_type: 'bearer' },
      { active: true, aud: AUD, token_type: 'Bearer', token_use: 'access_token', typ: 'Bearer' },
    ]) {
      as.answer = () => answer;
      await expect(opaqueVerifier().authenticate(view(OPAQUE))).resolves.toBeDefined();
    }
    expect(() => opaqueVerifier({ requireTokenType: 'yes' as never })).toThrow(/requireTokenType must be a boolean/);
  });

  /** A verifier refusing tokens older than 60 s with no clock tolerance, and an active answer without iat. */
  const strictAgePolicy = () => {
    const seconds = Math.floor(now / 1000);
    const strict = (extra: Partial<IntrospectionOptions> = {}) =>
      createBearerVerifier({
        maxTokenAgeSeconds: 60,
        clockToleranceSeconds: 0,
        introspection: base(extra),
        now: () => now,
      });
    const answer = { active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: seconds + 3600, scope: 'read' };
    return { seconds, strict, answer };
  };

  it('applies the verifier-wide maxTokenAgeSeconds and clockToleranceSeconds to introspected tokens', async () => {
    const { seconds, strict, answer } = strictAgePolicy();
    as.answer = () => ({ ...answer, iat: seconds - 172_800 });
    expect((await failure(strict().authenticate(view(OPAQUE)))).code).toBe('ERR_BEARER_TOKEN_EXPIRED');
    as.answer = () => answer;
    const noIat = await failure(strict().authenticate(view(OPAQUE)));
    expect(noIat.code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(noIat.message).toContain('maxTokenAgeSeconds');
    as.answer = () => ({ ...answer, iat: seconds - 10, nbf: seconds + 20 });
    expect((await failure(strict().authenticate(view(OPAQUE)))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    // The introspection's own clockToleranceSeconds still wins over the verifier-wide one.
    await expect(strict({ clockToleranceSeconds: 30 }).authenticate(view(OPAQUE))).resolves.toBeDefined();
    as.answer = () => ({ ...answer, iat: seconds - 30 });
    await expect(strict().authenticate(view(OPAQUE))).resolves.toBeDefined();
  });

  it('refuses an introspected token whose iat is in the future, so it cannot outlive maxTokenAgeSeconds', async () => {
    const { seconds, strict, answer } = strictAgePolicy();
    as.answer = () => ({ ...answer, iat: seconds + 86_400 });
    const future = await failure(strict().authenticate(view(OPAQUE)));
    expect(future.code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(future.message).toContain('"iat" is in the future');
    as.answer = () => ({ ...answer, iat: seconds + 20 });
    expect((await failure(strict().authenticate(view(OPAQUE)))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    await expect(strict({ clockToleranceSeconds: 30 }).authenticate(view(OPAQUE))).resolves.toBeDefined();
  });

  it('ignores iat without maxTokenAgeSeconds, so a server whose clock runs ahead does not lock out fresh tokens', async () => {
    const seconds = Math.floor(now / 1000);
    const answer = { active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: seconds + 3600, scope: 'read' };
    for (const iat of [seconds + 120, seconds + 86_400, 'not a number']) {
      as.answer = () => ({ ...answer, iat });
      await expect(opaqueVerifier().authenticate(view(OPAQUE))).resolves.toMatchObject({ issuer: ISS });
    }
  });

  it('refuses an introspected auth_time beyond introspection.clockToleranceSeconds on a maxAgeSeconds route', async () => {
    now = Math.floor(now / 1000) * 1000;
    const seconds = now / 1000;
    const answer = { active: true, token_type: 'Bearer', aud: AUD, iss: ISS, exp: seconds + 3600, scope: 'read' };
    const stepUp = { authentication: { maxAgeSeconds: 300 } };
    // The verifier-wide tolerance is 60 s; the introspection's own 10 s is the one that counts.
    const verifier = () =>
      createBearerVerifier({
        clockToleranceSeconds: 60,
        introspection: base({ clockToleranceSeconds: 10 }),
        now: () => now,
      });
    for (const authTime of [seconds + 100_000_000, seconds + 11, 'soon']) {
      as.answer = () => ({ ...answer, auth_time: authTime });
      const refused = await failure(verifier().authenticate(view(OPAQUE), stepUp));
      expect(refused.code).toBe('ERR_BEARER_TOKEN_INVALID');
      expect(refused.message).not.toContain(String(authTime));
    }
    for (const authTime of [seconds + 10, seconds - 300]) {
      as.answer = () => ({ ...answer, auth_time: authTime });
      await expect(verifier().authenticate(view(OPAQUE), stepUp)).resolves.toMatchObject({ issuer: ISS });
    }
    as.answer = () => ({ ...answer, auth_time: seconds - 301 });
    const old = await failure(verifier().authenticate(view(OPAQUE), stepUp));
    expect(old.code).toBe('ERR_BEARER_INSUFFICIENT_USER_AUTHENTICATION');
  });

  it('accepts Duende IdentityServer\'s token_type "access_token" as a bearer token, or as DPoP-bound with cnf.jkt', async () => {
    for (const tokenType of ['access_token', 'Access_Token']) {
      as.answer = () => ({ active: true, aud: AUD, token_type: tokenType, sub: 'duende' });
      expect((await opaqueVerifier().authenticate(view(OPAQUE))).subject).toBe('duende');
    }
    const client = await createDpopClient();
    as.answer = () => ({ active: true, aud: AUD, token_type: 'access_token', cnf: { jkt: client.thumbprint } });
    const dpop = { publicOrigins: ['https://api.test'], replayStore: memoryReplayStore() };
    const verifier = createBearerVerifier({
      introspection: base(),
      dpop,
      steps: [{ name: 'accepts-any-binding', handlesConfirmation: true, run: () => {} }],
    });
    // Bound to a key: never a bearer token, even when a custom step handles cnf...
    expect((await failure(verifier.authenticate(view(OPAQUE)))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    // ...and accepted with a DPoP proof of that key.
    const proof = await client.proof({ url: 'https://api.test/orders', token: OPAQUE });
    const result = await verifier.authenticate(view(OPAQUE, 'DPoP', { dpop: proof }));
    expect(result.binding).toEqual({ type: 'dpop', thumbprint: client.thumbprint });
    // Other vocabularies for other kinds of tokens are still refused.
    as.answer = () => ({ active: true, aud: AUD, token_type: 'refresh_token' });
    expect((await failure(opaqueVerifier().authenticate(view(OPAQUE)))).code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('refuses at start-up a private_key_jwt key that does not fit its algorithm', async () => {
    const es256 = await generateKeyPair('ES256');
    const rsaKeyObject = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
    const weakRsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    const misfits: [unknown, string][] = [
      [es256.privateKey, 'RS256'],
      [es256.privateKey, 'ES384'],
      [es256.publicKey, 'ES256'],
      [p384, 'ES256'],
      [weakRsa, 'RS256'],
      [rsaKeyObject, 'EdDSA'],
      ['not a key', 'ES256'],
    ];
    for (const [privateKey, algorithm] of misfits) {
      expect(() =>
        opaqueVerifier({ authentication: { method: 'private_key_jwt', privateKey: privateKey as never, algorithm } }),
      ).toThrow(/introspection\.authentication\.privateKey does not fit algorithm/);
    }
    expect(() =>
      opaqueVerifier({
        authentication: { method: 'private_key_jwt', privateKey: es256.privateKey, algorithm: 'ES256K' },
      }),
    ).toThrow(/introspection\.authentication\.algorithm must be an asymmetric JWS algorithm/);
    for (const [privateKey, algorithm] of [
      [p384, 'ES384'],
      [rsaKeyObject, 'PS256'],
      [generateKeyPairSync('ed25519').privateKey, 'EdDSA'],
    ] as const) {
      const verifier = opaqueVerifier({ authentication: { method: 'private_key_jwt', privateKey, algorithm } });
      await expect(verifier.authenticate(view(OPAQUE))).resolves.toBeDefined();
    }
  });

  it('answers 503, never 500, when the client assertion cannot be signed', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    // createIntrospector alone skips the option checks, as a key that stops working later would.
    const introspector = createIntrospector(
      base({ authentication: { method: 'private_key_jwt', privateKey, algorithm: 'RS256' } }),
      () => now,
    );
    const error = await failure(introspector.introspect(OPAQUE));
    expect(error).toMatchObject({ code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE', retryable: true });
    expect(error.message).toContain('introspection.authentication');
    expect(opaqueVerifier().toResponse(error).status).toBe(503);
    expect(as.calls).toHaveLength(0);
  });

  it('answers 503 with Retry-After, never 401, when the endpoint is down or misbehaves', async () => {
    const closed = createServer();
    closed.listen(0, '127.0.0.1');
    await new Promise((resolve) => closed.once('listening', resolve));
    const deadUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/introspect`;
    await new Promise((resolve) => closed.close(resolve));
    const down = opaqueVerifier({ endpoint: deadUrl });
    const error = await failure(down.authenticate(view(OPAQUE)));
    expect(error).toMatchObject({ code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE', retryable: true });
    const response = down.toResponse(error);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    for (const answer of [
      { status: 500, body: 'oops' },
      { status: 401, body: '{"error":"invalid_client"}' },
      { body: 'not json' },
      { body: '{"active":true,"active":true}' },
      { body: '[]' },
    ]) {
      as.answer = () => answer;
      expect((await failure(opaqueVerifier().authenticate(view(OPAQUE)))).code).toBe(
        'ERR_BEARER_INTROSPECTION_UNAVAILABLE',
      );
    }
  });

  it('answers 503 naming introspection.endpoint, uncached, while every call is refused as invalid_request (e.g. the token endpoint)', async () => {
    const verifier = opaqueVerifier({ failureThreshold: 1 });
    // What oidc-provider's token endpoint answers an introspection call: about the request, not the token.
    const description = "missing required parameter 'grant_type'";
    as.answer = () => ({
      status: 400,
      body: JSON.stringify({ error: 'invalid_request', error_description: description }),
    });
    for (let i = 0; i < 3; i++) {
      for (const token of [OPAQUE, 'garbage-token']) {
        const error = await failure(verifier.verify(token));
        expect(error).toMatchObject({ code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE', retryable: true });
        expect(error.message).toContain('check introspection.endpoint');
        expect(error.message).toContain("client's registration");
        // Server text is never echoed.
        expect(error.message).not.toContain('grant_type');
        expect(error.message).not.toContain(token);
        const response = verifier.toResponse(error);
        expect(response.status).toBe(503);
        expect(response.headers['retry-after']).toBe('5');
      }
    }
    // Not cached (each request asked again), and an answer, not an outage: the breaker stays closed.
    expect(as.calls).toHaveLength(6);
    as.answer = (token) => (token === OPAQUE ? { active: true, token_type: 'Bearer', aud: AUD } : { active: false });
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
  });

  it('answers 401 for a token the server refuses as malformed (HTTP 400 invalid_request) once it has answered a real introspection', async () => {
    const verifier = opaqueVerifier({ failureThreshold: 1 });
    const refuse = { status: 400, body: '{"error":"invalid_request","error_description":"invalid token"}' };
    as.answer = (token) => (token === OPAQUE ? { active: true, token_type: 'Bearer', aud: AUD } : refuse);
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
    for (const token of ['malformed-1', 'malformed-2', 'malformed-3']) {
      const error = await failure(verifier.verify(token));
      expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
      expect(error.message).not.toContain(token);
      expect(error.message).toContain('invalid_request');
      expect(error.message).not.toContain('invalid token');
      const response = verifier.toResponse(error);
      expect(response.status).toBe(401);
      expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
    }
    expect(as.calls).toHaveLength(4);
    // Cached like an inactive answer: the same token is not sent again within negativeCacheTtlSeconds.
    expect((await failure(verifier.verify('malformed-1'))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(as.calls).toHaveLength(4);
  });

  it('answers a cached 401 for a token the server refuses as unsupported_token_type (oidc-provider: any JWT- or JWE-shaped token) once it has answered a real introspection', async () => {
    const verifier = opaqueVerifier({ failureThreshold: 1 });
    // oidc-provider refuses every token whose first segment decodes as a JOSE header like this.
    const refuse = {
      status: 400,
      body: '{"error":"unsupported_token_type","error_description":"Structured JWT Tokens cannot be introspected"}',
    };
    as.answer = (token) => (token === OPAQUE ? { active: true, token_type: 'Bearer', aud: AUD } : refuse);
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
    const structured = [
      'eyJhbGciOiJFUzI1NiJ9.e30.AAAA',
      'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.AAAA.AAAA',
      'eyJhbGciOiJub25lIn0.e30.',
    ];
    for (const token of structured) {
      for (let i = 0; i < 20; i++) {
        const error = await failure(verifier.verify(token));
        expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
        expect(error.message).toContain('unsupported_token_type');
        expect(error.message).not.toContain(token);
        expect(error.message).not.toContain('Structured');
        const response = verifier.toResponse(error);
        expect(response.status).toBe(401);
        expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
        expect(response.headers['retry-after']).toBeUndefined();
      }
    }
    // One call per token (cached like an inactive answer), and the breaker never counted them.
    expect(as.calls).toHaveLength(1 + structured.length);
    await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
  });

  it('answers 503, uncached, while unsupported_token_type is all the endpoint has answered, and again after 10 in a row', async () => {
    const verifier = opaqueVerifier({ cacheMaxTtlSeconds: 0 });
    const refuse = { status: 400, body: '{"error":"unsupported_token_type"}' };
    as.answer = (token) => (token === OPAQUE ? { active: true, token_type: 'Bearer', aud: AUD } : refuse);
    // No real introspection yet: the endpoint may refuse every call (a server that introspects only
    // another kind of token), so this is no answer about the token.
    for (let i = 0; i < 2; i++) {
      const error = await failure(verifier.verify('structured'));
      expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
      expect(error.message).toContain('check introspection.endpoint');
      expect(verifier.toResponse(error).headers['retry-after']).toBe('5');
    }
    expect(as.calls).toHaveLength(2);
    await verifier.verify(OPAQUE);
    const codes: string[] = [];
    // invalid_request and unsupported_token_type answers count together.
    for (let i = 0; i < 12; i++) {
      as.answer = (token) =>
        token === OPAQUE
          ? { active: true, token_type: 'Bearer', aud: AUD }
          : i % 2 === 0
            ? refuse
            : { status: 400, body: '{"error":"invalid_request"}' };
      codes.push((await failure(verifier.verify(`refused-${i}`))).code);
    }
    expect(codes).toEqual([
      ...Array(9).fill('ERR_BEARER_TOKEN_INVALID'),
      ...Array(3).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'),
    ]);
  });

  it('answers 503 again after 10 invalid_request answers without a 200 between them, until a real introspection', async () => {
    const verifier = opaqueVerifier({ cacheMaxTtlSeconds: 0 });
    const refuse = { status: 400, body: '{"error":"invalid_request"}' };
    as.answer = (token) =>
      token === OPAQUE
        ? { active: true, token_type: 'Bearer', aud: AUD }
        : token === 'gone'
          ? { active: false }
          : refuse;
    await verifier.verify(OPAQUE);
    const codes = async (count: number, prefix: string) => {
      const seen: string[] = [];
      for (let i = 0; i < count; i++) seen.push((await failure(verifier.verify(`${prefix}-${i}`))).code);
      return seen;
    };
    expect(await codes(9, 'first')).toEqual(Array(9).fill('ERR_BEARER_TOKEN_INVALID'));
    // The tenth in a row: the endpoint may have been reconfigured to one that refuses everything.
    expect(await codes(3, 'second')).toEqual(Array(3).fill('ERR_BEARER_INTROSPECTION_UNAVAILABLE'));
    // An inactive answer is a real introspection too.
    expect((await failure(verifier.verify('gone'))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(await codes(9, 'third')).toEqual(Array(9).fill('ERR_BEARER_TOKEN_INVALID'));
  });

  it('keeps valid tokens valid through a flood of garbage the server refuses as invalid_request', async () => {
    const verifier = opaqueVerifier({ cacheMaxTtlSeconds: 0, failureThreshold: 1 });
    const refuse = { status: 400, body: '{"error":"invalid_request"}' };
    as.answer = (token) => (token === OPAQUE ? { active: true, token_type: 'Bearer', aud: AUD } : refuse);
    await verifier.verify(OPAQUE);
    for (let round = 0; round < 3; round++) {
      const garbage = await Promise.allSettled(
        Array.from({ length: 40 }, (_, i) => verifier.verify(`flood-${round}-${i}`)),
      );
      for (const result of garbage) {
        expect(result).toMatchObject({ status: 'rejected' });
        const { code } = (result as PromiseRejectedResult).reason as BearerError;
        expect(['ERR_BEARER_TOKEN_INVALID', 'ERR_BEARER_INTROSPECTION_UNAVAILABLE']).toContain(code);
      }
      // Every call of the valid token is answered 200: it is never a 401 or 503.
      await expect(verifier.verify(OPAQUE)).resolves.toMatchObject({ issuer: ISS });
      // ... and that re-arms the 401 for the garbage that follows.
      expect((await failure(verifier.verify(`after-${round}`))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    }
  });

  it('points 401, 403 and other 400 answers at the client credentials, and 5xx at the server', async () => {
    for (const answer of [
      { status: 401, body: '{"error":"invalid_client"}' },
      { status: 403, body: '' },
      { status: 400, body: '{"error":"invalid_client"}' },
      // RFC 7662 §2.3: invalid_token at the introspection endpoint is about the caller's own credentials.
      { status: 400, body: '{"error":"invalid_token"}' },
      { status: 401, body: '{"error":"invalid_token"}' },
      { status: 400, body: 'Bad Request' },
    ]) {
      as.answer = () => answer;
      const error = await failure(opaqueVerifier().verify(OPAQUE));
      expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
      expect(error.message).toContain('introspection.clientId');
    }
    for (const status of [500, 502, 503]) {
      as.answer = () => ({ status, body: 'unavailable' });
      const error = await failure(opaqueVerifier().verify(OPAQUE));
      expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
      expect(error.message).toContain(`HTTP ${status}`);
      expect(error.message).toContain('the authorization server failed');
      expect(error.message).not.toContain('clientId');
    }
  });

  it('times out a hanging endpoint with 503', async () => {
    const hanging = createServer(() => {});
    hanging.listen(0, '127.0.0.1');
    await new Promise((resolve) => hanging.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}/introspect`;
      const error = await failure(opaqueVerifier({ endpoint: url, timeoutMs: 100 }).authenticate(view(OPAQUE)));
      expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    } finally {
      hanging.closeAllConnections();
      await new Promise((resolve) => hanging.close(resolve));
    }
  });

  it('in hybrid mode verifies JWTs locally and introspects the rest', async () => {
    const verifier = createBearerVerifier({
      issuer: issuer.issuer,
      audience: issuer.audience,
      algorithms: ['ES256'],
      keys: staticJwks(issuer.jwks()),
      introspection: base(),
    });
    const jwt = await verifier.authenticate(view(await issuer.mint()));
    expect(jwt.issuer).toBe(issuer.issuer);
    expect(as.calls).toHaveLength(0);
    expect((await verifier.authenticate(view(OPAQUE))).issuer).toBe(ISS);
    expect(as.calls).toHaveLength(1);
    // A JWT that fails locally is never handed to introspection.
    await failure(verifier.authenticate(view(await issuer.mint({ claims: { aud: 'https://other.test' } }))));
    expect(as.calls).toHaveLength(1);
    // Nor is a malformed JWT (its header segment is still a JSON object's start).
    const [, payload, signature] = (await issuer.mint()).split('.');
    const badHeader = Buffer.from(' {"alg":"none"').toString('base64url');
    expect((await failure(verifier.authenticate(view(`${badHeader}.${payload}.${signature}`)))).code).toMatch(
      /^ERR_BEARER_TOKEN_(INVALID|MALFORMED)$/,
    );
    expect(as.calls).toHaveLength(1);
    // Dotted opaque formats (PASETO v4.local, vendor handles) are introspected, not refused as bad JWTs.
    for (const dotted of ['v4.local.QAxIpVe-ECVNI1z4xQbm_qQYomyT3h8FtV8bxkz8pBJWkT8f7HtlOpbroPDEZUKop', 'ab.cd.ef']) {
      as.answer = (token) =>
        token === dotted ? { active: true, token_type: 'Bearer', aud: AUD, sub: 'dotted' } : { active: false };
      expect((await verifier.authenticate(view(dotted))).subject).toBe('dotted');
    }
    expect(as.calls).toHaveLength(3);
  });

  it('enforces DPoP bindings (cnf.jkt) of introspected tokens', async () => {
    const client = await createDpopClient();
    as.answer = () => ({ active: true, aud: AUD, token_type: 'DPoP', cnf: { jkt: client.thumbprint } });
    const verifier = createBearerVerifier({
      introspection: base(),
      dpop: { publicOrigins: ['https://api.test'], replayStore: memoryReplayStore() },
    });
    const proof = await client.proof({ url: 'https://api.test/orders', token: OPAQUE });
    const result = await verifier.authenticate(view(OPAQUE, 'DPoP', { dpop: proof }));
    expect(result.binding).toEqual({ type: 'dpop', thumbprint: client.thumbprint });
    expect((await failure(verifier.authenticate(view(OPAQUE)))).code).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('refuses a response that says token_type DPoP (any case) without cnf.jkt, as inconsistent', async () => {
    const client = await createDpopClient();
    const dpop = { publicOrigins: ['https://api.test'], replayStore: memoryReplayStore() };
    for (const answer of [
      { active: true, aud: AUD, token_type: 'DPoP' },
      { active: true, aud: AUD, token_type: 'dpop' },
      { active: true, aud: AUD, token_type: 'DPOP', cnf: {} },
      { active: true, aud: AUD, token_type: 'DPoP', cnf: { jkt: '' } },
      { active: true, aud: AUD, token_type: 'DPoP', cnf: { 'x5t#S256': 'abc' } },
    ]) {
      as.answer = () => answer;
      // Without the dpop option, as a Bearer token (the way it used to pass)...
      const error = await failure(opaqueVerifier().authenticate(view(OPAQUE)));
      expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
      expect(verifier401(error)).toBe(401);
      // ...and with DPoP on, even with a valid proof.
      const verifier = createBearerVerifier({ introspection: base(), dpop });
      const proof = await client.proof({ url: 'https://api.test/orders', token: OPAQUE });
      const withProof = await failure(verifier.authenticate(view(OPAQUE, 'DPoP', { dpop: proof })));
      expect(withProof.code).toBe('ERR_BEARER_TOKEN_INVALID');
    }
  });

  it('refuses a Bearer presentation of a token the server calls DPoP, even when a custom step handles cnf', async () => {
    const client = await createDpopClient();
    as.answer = () => ({ active: true, aud: AUD, token_type: 'dpop', cnf: { jkt: client.thumbprint } });
    const verifier = createBearerVerifier({
      introspection: base(),
      steps: [{ name: 'accepts-any-binding', handlesConfirmation: true, run: () => {} }],
    });
    const error = await failure(verifier.authenticate(view(OPAQUE)));
    expect(error.code).toBe('ERR_BEARER_TOKEN_INVALID');
    expect(verifier401(error)).toBe(401);
    // The same step still passes a token the server calls Bearer (a fresh verifier: results are cached).
    as.answer = () => ({ active: true, aud: AUD, token_type: 'Bearer' });
    const plain = createBearerVerifier({
      introspection: base(),
      steps: [{ name: 'accepts-any-binding', handlesConfirmation: true, run: () => {} }],
    });
    await expect(plain.authenticate(view(OPAQUE))).resolves.toMatchObject({ binding: null });
  });

  it('validates its options, listing every problem', () => {
    expect(() =>
      createBearerVerifier({
        introspection: {
          endpoint: 'http://as.example.com/introspect',
          issuer: '',
          clientId: '',
          authentication: { method: 'client_secret_basic', clientSecret: '' },
          audience: [],
          cacheMaxTtlSeconds: 100_000,
        },
      }),
    ).toThrow(
      /endpoint must be https.*issuer is required.*clientId is required.*clientSecret.*audience.*cacheMaxTtlSeconds/,
    );
  });

  it('refuses none, HMAC and unknown algorithms for signed responses, and unknown scope claims', async () => {
    const { publicKey } = await generateKeyPair('ES256');
    const keys = staticJwks({ keys: [{ ...(await exportJWK(publicKey)), kid: 'as-1', alg: 'ES256' }] });
    for (const algorithms of [['none'], ['HS256'], ['ES256', 'HS512'], ['ES257']]) {
      expect(() =>
        createBearerVerifier({
          introspection: base({ jwtResponse: { keys, algorithms: algorithms as never } }),
        }),
      ).toThrow(/introspection\.jwtResponse\.algorithms may only contain asymmetric algorithms/);
    }
    let message = '';
    try {
      createBearerVerifier({
        introspection: base({
          jwtResponse: { keys, algorithms: ['none' as never] },
          scopeClaims: ['scope', 'groups' as never],
        }),
      });
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_BEARER_INVALID_OPTIONS' });
      message = (error as Error).message;
    }
    expect(message).toMatch(/jwtResponse\.algorithms.*scopeClaims/);
    expect(() => createBearerVerifier({ introspection: base({ scopeClaims: 'scope' as never }) })).toThrow(
      /introspection\.scopeClaims/,
    );
    expect(() =>
      createBearerVerifier({
        introspection: base({ jwtResponse: { keys, algorithms: ['ES256'] }, scopeClaims: ['scp', 'roles'] }),
      }),
    ).not.toThrow();
  });
});

const verifier401 = (error: BearerError): number => opaqueVerifier().toResponse(error).status;

describe('signed introspection responses (RFC 9701)', () => {
  it('requests and verifies a signed response', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'as-1', alg: 'ES256' };
    const sign = (claims: Record<string, unknown>, typ = 'token-introspection+jwt') =>
      new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'as-1', typ }).sign(privateKey);
    const options = base({ jwtResponse: { keys: staticJwks({ keys: [jwk] }), algorithms: ['ES256'] } });
    const type = 'application/token-introspection+jwt';
    const good = {
      iss: ISS,
      aud: 'orders-api',
      iat: Math.floor(now / 1000),
      token_introspection: { active: true, token_type: 'Bearer', aud: AUD, sub: 's' },
    };
    let body = await sign(good);
    as.answer = () => ({ type, body });
    const verifier = createBearerVerifier({ introspection: options });
    expect((await verifier.authenticate(view(OPAQUE))).subject).toBe('s');
    expect(as.calls[0]?.accept).toBe(type);

    const failures: { type: string; body: string }[] = [
      { type, body: await sign(good, 'JWT') },
      { type, body: await sign({ ...good, aud: 'someone-else' }) },
      { type, body: await sign({ ...good, iss: 'https://evil.test' }) },
      { type, body: `${(await sign(good)).slice(0, -4)}AAAA` },
      { type: 'application/json', body: JSON.stringify(good.token_introspection) },
    ];
    for (const answer of failures) {
      body = answer.body;
      as.answer = () => answer;
      const error = await failure(createBearerVerifier({ introspection: options }).authenticate(view(OPAQUE)));
      expect(error.code).toBe('ERR_BEARER_INTROSPECTION_UNAVAILABLE');
    }
  });
});

describe('readiness with signed introspection responses', () => {
  it('warms the response keys and is not ready while they cannot be obtained', async () => {
    let up = false;
    const { publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'as-1', alg: 'ES256' };
    const jwks = createServer((_req, res) => {
      if (up) res.end(JSON.stringify({ keys: [jwk] }));
      else res.writeHead(503).end();
    });
    await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
      const verifier = createBearerVerifier({
        introspection: base({
          jwtResponse: { keys: remoteJwks(url, { failureBackoffMs: 0 }), algorithms: ['ES256'] },
        }),
      });
      expect(verifier.isReady()).toBe(false);
      await expect(verifier.warm()).rejects.toMatchObject({ code: 'ERR_BEARER_KEYS_UNAVAILABLE' });
      expect(verifier.isReady()).toBe(false);
      up = true;
      await verifier.warm();
      expect(verifier.isReady()).toBe(true);
    } finally {
      jwks.closeAllConnections();
      await new Promise<void>((resolve) => jwks.close(() => resolve()));
    }
  });
});
