/**
 * Sender-constrained and opaque tokens against a real authorization server (oidc-provider) with
 * DPoP (server nonces required), mTLS certificate-bound access tokens and introspection (plain and
 * RFC 9701 signed responses) enabled, through all four adapters. Tokens are obtained with this
 * package's TokenProvider; mTLS runs over real TLS sockets with openssl-generated certificates.
 */
import { randomBytes, X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { getFreePort } from '@rampart/testkit';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BearerError,
  type BearerVerifier,
  createBearerVerifier,
  createTokenProvider,
  memoryReplayStore,
  remoteJwks,
  type TokenProvider,
} from '../src/index.ts';
import { bearerOnEveryHarness, HARNESSES } from './harness.ts';
import { generateCertificate, type TestCertificate } from './tls-fixtures.ts';
import { TLS_ADAPTERS, tlsGet } from './tls-harness.ts';

const RESOURCE = 'https://orders.api.test';
const OPAQUE_RESOURCE = 'https://opaque.api.test';
const API_ORIGIN = 'https://api.test';

const secret = (): string => randomBytes(24).toString('base64url');
const secrets = { dpop: secret(), mtls: secret(), opaque: secret(), rs: secret() };

let httpServer: Server | undefined;
let httpsServer: Server | undefined;
let issuer: string;
let mtlsTokenEndpoint: string;
let asCert: TestCertificate;
let apiCert: TestCertificate;
let clientA: TestCertificate;
let clientB: TestCertificate;
let rsKeys: CryptoKeyPair;
let authServer: Provider;

/** A fetch over node:https that presents a client certificate (what undici needs a dispatcher for). */
function tlsFetch(client: TestCertificate, ca: string): typeof fetch {
  return ((input: string | URL, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const req = httpsRequest(
        new URL(String(input)),
        {
          method: init.method ?? 'GET',
          headers: init.headers as Record<string, string>,
          key: client.key,
          cert: client.cert,
          ca,
          agent: false,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () => {
            const headers = new Headers();
            for (const [name, value] of Object.entries(res.headers)) {
              if (typeof value === 'string') headers.set(name, value);
            }
            resolve(new Response(Buffer.concat(chunks), { status: res.statusCode ?? 500, headers }));
          });
        },
      );
      req.on('error', reject);
      req.end(init.body as string | undefined);
    })) as typeof fetch;
}

beforeAll(async () => {
  asCert = generateCertificate('127.0.0.1');
  apiCert = generateCertificate('127.0.0.1');
  clientA = generateCertificate('client-a');
  clientB = generateCertificate('client-b');
  rsKeys = await generateKeyPair('ES256', { extractable: true });
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  const signingKey: JWK = { ...(await exportJWK(privateKey)), kid: 'as-1', alg: 'ES256', use: 'sig' };
  const rsJwk = { ...(await exportJWK(rsKeys.publicKey)), kid: 'rs-1', alg: 'ES256', use: 'sig' };
  const [httpPort, httpsPort] = [await getFreePort(), await getFreePort()];
  issuer = `http://127.0.0.1:${httpPort}`;
  mtlsTokenEndpoint = `https://127.0.0.1:${httpsPort}/token`;
  const service = {
    grant_types: ['client_credentials'],
    redirect_uris: [],
    response_types: [],
    id_token_signed_response_alg: 'ES256',
    // With JWT introspection on, every client needs an alg the keystore (ES256 only) can sign.
    introspection_signed_response_alg: 'ES256',
  };
  const provider = new Provider(issuer, {
    clients: [
      {
        ...service,
        client_id: 'dpop-client',
        client_secret: secrets.dpop,
        scope: 'orders:read',
        dpop_bound_access_tokens: true,
      },
      {
        ...service,
        client_id: 'mtls-client',
        client_secret: secrets.mtls,
        scope: 'orders:read',
        tls_client_certificate_bound_access_tokens: true,
      },
      { ...service, client_id: 'opaque-client', client_secret: secrets.opaque, scope: 'orders:read' },
      { ...service, grant_types: [], client_id: 'orders-api', client_secret: secrets.rs },
      {
        ...service,
        grant_types: [],
        client_id: 'orders-api-signed',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'ES256',
        jwks: { keys: [rsJwk] },
        introspection_signed_response_alg: 'ES256',
      },
    ],
    jwks: { keys: [signingKey] },
    // offline_access makes oidc-provider issue and introspect refresh tokens.
    scopes: ['orders:read', 'offline_access'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      revocation: { enabled: true },
      jwtIntrospection: { enabled: true },
      dPoP: { enabled: true, nonceSecret: randomBytes(32), requireNonce: () => true },
      mTLS: {
        enabled: true,
        certificateBoundAccessTokens: true,
        getCertificate: (ctx: { socket: TLSSocket }) => {
          const raw = ctx.socket.getPeerCertificate?.()?.raw;
          return raw === undefined ? undefined : new X509Certificate(raw);
        },
      },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, indicator: string) => {
          if (indicator !== RESOURCE && indicator !== OPAQUE_RESOURCE) throw new Error('unknown resource');
          return indicator === RESOURCE
            ? {
                scope: 'orders:read',
                audience: RESOURCE,
                accessTokenTTL: 300,
                accessTokenFormat: 'jwt',
                jwt: { sign: { alg: 'ES256' } },
              }
            : { scope: 'orders:read', audience: OPAQUE_RESOURCE, accessTokenTTL: 300, accessTokenFormat: 'opaque' };
        },
      },
    },
  } as never);
  authServer = provider;
  httpServer = createServer(provider.callback());
  httpsServer = createHttpsServer(
    { key: asCert.key, cert: asCert.cert, requestCert: true, rejectUnauthorized: false },
    provider.callback(),
  );
  await new Promise<void>((resolve) => httpServer?.listen(httpPort, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => httpsServer?.listen(httpsPort, '127.0.0.1', resolve));
});

async function stop(server: Server | undefined): Promise<void> {
  if (!server?.listening) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

afterAll(async () => {
  await stop(httpServer);
  await stop(httpsServer);
});

const verifierOptions = () => ({
  realm: 'api',
  issuer,
  audience: RESOURCE,
  algorithms: ['ES256' as const],
  jwksUri: `${issuer}/jwks`,
  requiredClaims: ['client_id', 'jti'],
});

const provider = (clientId: 'dpop-client' | 'mtls-client' | 'opaque-client', extra: object = {}): TokenProvider =>
  createTokenProvider({
    tokenEndpoint: `${issuer}/token`,
    clientId,
    authentication: { method: 'client_secret_basic', clientSecret: secrets[clientId.split('-')[0] as 'dpop'] },
    ...extra,
  });

describe('DPoP-bound tokens from oidc-provider', () => {
  let verifier: BearerVerifier;
  let tokens: TokenProvider;

  beforeAll(async () => {
    verifier = createBearerVerifier({
      ...verifierOptions(),
      dpop: { publicOrigins: [API_ORIGIN], replayStore: memoryReplayStore() },
    });
    tokens = provider('dpop-client', { dpop: { ...(await generateKeyPair('ES256')), algorithm: 'ES256' } });
  });

  for (const harness of HARNESSES) {
    it(`${harness.name}: accepts the token with a fresh proof, refuses a replay and a Bearer presentation`, async () => {
      const running = await harness.start(verifier, { '/orders': { scopes: { all: ['orders:read'] } } });
      try {
        const request = { audience: RESOURCE, scopes: ['orders:read'] };
        const headers = await tokens.getRequestHeaders({ method: 'GET', url: `${API_ORIGIN}/orders` }, request);
        const lines = Object.entries(headers) as [string, string][];
        const ok = await running.request('/orders', { headers: lines });
        expect(ok.status).toBe(200);
        const replay = await running.request('/orders', { headers: lines });
        expect(replay.status).toBe(401);
        expect(JSON.parse(replay.body).error).toBe('invalid_dpop_proof');
        const token = await tokens.getToken(request);
        const asBearer = await running.request('/orders', { headers: [['Authorization', `Bearer ${token}`]] });
        expect(asBearer.status).toBe(401);
        expect(asBearer.headers['www-authenticate']).toContain('error="invalid_token"');
      } finally {
        await running.close();
      }
    });
  }
});

describe('mTLS certificate-bound tokens from oidc-provider', () => {
  let verifier: BearerVerifier;
  let token: string;

  beforeAll(async () => {
    verifier = createBearerVerifier(verifierOptions());
    const tokens = createTokenProvider({
      tokenEndpoint: mtlsTokenEndpoint,
      clientId: 'mtls-client',
      authentication: { method: 'client_secret_basic', clientSecret: secrets.mtls },
      fetch: tlsFetch(clientA, asCert.cert),
    });
    token = await tokens.getToken({ audience: RESOURCE, scopes: ['orders:read'] });
  });

  for (const [name, start] of Object.entries(TLS_ADAPTERS)) {
    it(`${name}: accepts the token only over a TLS connection with the bound certificate`, async () => {
      const running = await start(verifier, apiCert);
      try {
        const ok = await tlsGet(running.port, `Bearer ${token}`, clientA, apiCert);
        expect(ok.status).toBe(200);
        expect(JSON.parse(ok.body).binding).toEqual({ type: 'mtls', thumbprint: clientA.thumbprint });
        expect((await tlsGet(running.port, `Bearer ${token}`, clientB, apiCert)).status).toBe(401);
        expect((await tlsGet(running.port, `Bearer ${token}`, undefined, apiCert)).status).toBe(401);
      } finally {
        await running.close();
      }
    });
  }
});

describe('opaque tokens introspected at oidc-provider (hybrid mode)', () => {
  const introspection = (signed: boolean) => ({
    endpoint: `${issuer}/token/introspection`,
    issuer,
    audience: OPAQUE_RESOURCE,
    cacheMaxTtlSeconds: 0,
    ...(signed
      ? {
          clientId: 'orders-api-signed',
          authentication: {
            method: 'private_key_jwt' as const,
            privateKey: rsKeys.privateKey,
            algorithm: 'ES256',
            keyId: 'rs-1',
          },
          jwtResponse: { keys: remoteJwks(`${issuer}/jwks`), algorithms: ['ES256' as const] },
        }
      : {
          clientId: 'orders-api',
          authentication: { method: 'client_secret_basic' as const, clientSecret: secrets.rs },
        }),
  });

  for (const signed of [false, true]) {
    for (const harness of HARNESSES) {
      it(`${harness.name}${signed ? ' (RFC 9701 signed responses, private_key_jwt)' : ''}: accepts an opaque token and a JWT, refuses a revoked token`, async () => {
        const verifier = createBearerVerifier({ ...verifierOptions(), introspection: introspection(signed) });
        const running = await harness.start(verifier, { '/orders': { scopes: { all: ['orders:read'] } } });
        try {
          const opaque = await provider('opaque-client').getToken({
            audience: OPAQUE_RESOURCE,
            scopes: ['orders:read'],
          });
          expect(opaque.split('.')).toHaveLength(1);
          const bearer = (token: string) => ({ headers: [['Authorization', `Bearer ${token}`]] as [string, string][] });
          expect((await running.request('/orders', bearer(opaque))).status).toBe(200);
          const jwt = await provider('opaque-client').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
          expect((await running.request('/orders', bearer(jwt))).status).toBe(200);
          const revoke = await fetch(`${issuer}/token/revocation`, {
            method: 'POST',
            headers: {
              'content-type': 'application/x-www-form-urlencoded',
              authorization: `Basic ${Buffer.from(`opaque-client:${secrets.opaque}`).toString('base64')}`,
            },
            body: `token=${opaque}`,
          });
          expect(revoke.status).toBe(200);
          const revoked = await running.request('/orders', bearer(opaque));
          expect(revoked.status).toBe(401);
          expect(revoked.headers['www-authenticate']).toContain('error="invalid_token"');
        } finally {
          await running.close();
        }
      });
    }
  }

  it('refuses a refresh token presented as an access token, even with requireAudience: false', async () => {
    // oidc-provider introspects refresh tokens too: active, no "aud", no "token_type".
    const grant = new authServer.Grant({ clientId: 'opaque-client', accountId: 'user-1' });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(OPAQUE_RESOURCE, 'orders:read');
    const grantId = await grant.save();
    const client = await authServer.Client.find('opaque-client');
    const refreshToken = await new authServer.RefreshToken({
      client,
      accountId: 'user-1',
      grantId,
      scope: 'openid offline_access',
      gty: 'authorization_code',
    } as never).save();
    const lenient = { ...introspection(false), requireAudience: false };
    const strict = createBearerVerifier({ ...verifierOptions(), introspection: lenient });
    for (const { harness, response: refused } of await bearerOnEveryHarness(strict, refreshToken)) {
      expect(refused.status, harness).toBe(401);
      expect(refused.headers['www-authenticate'], harness).toContain('error="invalid_token"');
    }
    // The opt-out exists for servers that never send token_type; with it, nothing tells them apart.
    const blind = createBearerVerifier({
      ...verifierOptions(),
      introspection: { ...lenient, requireTokenType: false },
    });
    const view = { method: 'GET', authorization: [`Bearer ${refreshToken}`], header: () => undefined };
    await expect(blind.authenticate(view)).resolves.toMatchObject({ subject: 'user-1' });
  });

  it('answers 503 naming introspection.endpoint, not 401, for every token when the endpoint is the token endpoint', async () => {
    // The likeliest setup mistake: oidc-provider's token endpoint answers every introspection call
    // 400 invalid_request ("missing required parameter 'grant_type'"), valid tokens included.
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    const verifier = createBearerVerifier({
      ...verifierOptions(),
      introspection: { ...introspection(false), endpoint: `${issuer}/token`, fetch: counting },
    });
    const opaque = await provider('opaque-client').getToken({ audience: OPAQUE_RESOURCE, scopes: ['orders:read'] });
    const jwtShaped = `${'x'.repeat(40)}.${'y'.repeat(40)}.${'z'.repeat(40)}`;
    for (const token of [opaque, jwtShaped, opaque]) {
      const view = { method: 'GET', authorization: [`Bearer ${token}`], header: () => undefined };
      const error = await verifier.authenticate(view).then(
        () => expect.unreachable('a token was accepted through the token endpoint'),
        (reason: Error) => reason,
      );
      expect(error).toMatchObject({ code: 'ERR_BEARER_INTROSPECTION_UNAVAILABLE', retryable: true });
      expect(error.message).toContain('check introspection.endpoint');
      expect(error.message).not.toContain('grant_type');
      expect(error.message).not.toContain(token.slice(0, 16));
    }
    // Not cached: each request asked again.
    expect(sent).toBe(3);
    for (const { harness, response } of await bearerOnEveryHarness(verifier, opaque)) {
      expect(response.status, harness).toBe(503);
      expect(Number(response.headers['retry-after']), harness).toBeGreaterThanOrEqual(1);
      expect(response.headers['www-authenticate'] ?? '', harness).not.toContain('invalid_token');
    }
  });

  it('answers 401 invalid_token, not 503, for tokens oidc-provider refuses as malformed (HTTP 400 invalid_request) once it has introspected a real one', async () => {
    const verifier = createBearerVerifier({
      ...verifierOptions(),
      maxTokenBytes: 65_536,
      introspection: { ...introspection(false), failureThreshold: 1 },
    });
    const view = (token: string) => ({ method: 'GET', authorization: [`Bearer ${token}`], header: () => undefined });
    // A real introspection shows the endpoint answers introspections, so invalid_request is about the token.
    const opaque = await provider('opaque-client').getToken({ audience: OPAQUE_RESOURCE, scopes: ['orders:read'] });
    await expect(verifier.authenticate(view(opaque))).resolves.toMatchObject({ issuer });
    // Larger than HTTP servers take in a header (431), so it is handed to the verifier directly.
    const oversized = 'a'.repeat(60_000);
    const error = await verifier.authenticate(view(oversized)).then(
      () => expect.unreachable('an oversized token was accepted'),
      (reason: Error) => reason,
    );
    expect(error).toMatchObject({ code: 'ERR_BEARER_TOKEN_INVALID' });
    expect(error.message).not.toContain(oversized.slice(0, 32));
    expect(verifier.toResponse(error).status).toBe(401);
    // Dotted like a JWT, but its first segment is no JSON object: it is introspected, not verified locally.
    const jwtShaped = `${'x'.repeat(40)}.${'y'.repeat(40)}.${'z'.repeat(40)}`;
    for (const { harness, response: refused } of await bearerOnEveryHarness(verifier, jwtShaped)) {
      expect(refused.status, harness).toBe(401);
      expect(refused.headers['www-authenticate'], harness).toContain('error="invalid_token"');
      expect(refused.body, harness).not.toContain(jwtShaped);
    }
    // Answers, not outages: with failureThreshold 1 a real token is still introspected.
    await expect(verifier.authenticate(view(opaque))).resolves.toMatchObject({ issuer });
  });

  it('answers a cached 401 invalid_token, not 503, for JWT- and JWE-shaped tokens oidc-provider refuses as unsupported_token_type', async () => {
    let sent = 0;
    const counting: typeof fetch = (input, init) => {
      sent++;
      return fetch(input, init);
    };
    // cacheMaxTtlSeconds 0 caches no active answer; negative answers are still cached (5 s).
    const options = { ...introspection(false), fetch: counting };
    const hybrid = createBearerVerifier({ ...verifierOptions(), introspection: options });
    const introspectionOnly = createBearerVerifier({ realm: 'api', introspection: options });
    const view = (token: string) => ({ method: 'GET', authorization: [`Bearer ${token}`], header: () => undefined });
    const opaque = await provider('opaque-client').getToken({ audience: OPAQUE_RESOURCE, scopes: ['orders:read'] });
    const cases = [
      // Every token is introspected here, a compact JWS too; oidc-provider refuses any whose header decodes.
      { verifier: introspectionOnly, token: 'eyJhbGciOiJFUzI1NiJ9.e30.AAAA' },
      // Not compact JWSs (five segments; an empty signature), so hybrid mode introspects them too.
      { verifier: hybrid, token: 'eyJhbGciOiJkaXIiLCJlbmMiOiJBMjU2R0NNIn0..AAAA.AAAA.AAAA' },
      { verifier: hybrid, token: 'eyJhbGciOiJub25lIn0.e30.' },
    ];
    for (const { verifier, token } of cases) {
      // A real introspection first: the endpoint is known to answer, so a 400 is about the token.
      await expect(verifier.authenticate(view(opaque))).resolves.toMatchObject({ issuer });
      const before = sent;
      for (let i = 0; i < 20; i++) {
        const error = await verifier.authenticate(view(token)).then(
          () => expect.unreachable('a structured token was accepted'),
          (reason: Error) => reason,
        );
        expect(error).toMatchObject({ code: 'ERR_BEARER_TOKEN_INVALID' });
        expect(error.message).toContain('unsupported_token_type');
        const response = verifier.toResponse(error as BearerError);
        expect(response.status).toBe(401);
        expect(response.headers['www-authenticate']).toContain('error="invalid_token"');
      }
      // One call for 20 requests: the refusal is cached like an inactive answer.
      expect(sent - before).toBe(1);
    }
    for (const { harness, response } of await bearerOnEveryHarness(hybrid, cases[1]?.token as string)) {
      expect(response.status, harness).toBe(401);
      expect(response.headers['www-authenticate'], harness).toContain('error="invalid_token"');
    }
  });

  it('answers 503, not 401, through every adapter when the introspection endpoint is down', async () => {
    const opaque = await provider('opaque-client').getToken({ audience: OPAQUE_RESOURCE, scopes: ['orders:read'] });
    const verifier = createBearerVerifier({ ...verifierOptions(), introspection: introspection(false) });
    await stop(httpServer);
    for (const { harness, response } of await bearerOnEveryHarness(verifier, opaque)) {
      expect(response.status, harness).toBe(503);
      expect(Number(response.headers['retry-after']), harness).toBeGreaterThanOrEqual(1);
    }
  });
});
