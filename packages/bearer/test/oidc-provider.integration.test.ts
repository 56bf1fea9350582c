/**
 * Against a real authorization server: oidc-provider issuing RFC 9068 JWT access tokens through the
 * client-credentials grant with RFC 8707 resource indicators. Covers both client authentication
 * methods of the TokenProvider, key rotation at the issuer and the issuer going down.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { getFreePort, waitFor } from '@rampart/testkit';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier, createTokenProvider, fromWebRequest } from '../src/index.ts';

const RESOURCE = 'https://orders.api.test';

interface RunningIssuer {
  readonly issuer: string;
  start(signingKeys: JWK[]): Promise<void>;
  stop(): Promise<void>;
}

async function signingKey(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'ES256', use: 'sig' };
}

async function startIssuer(clientSecret: string, clientJwk: JWK): Promise<RunningIssuer> {
  const port = await getFreePort();
  const issuer = `http://127.0.0.1:${port}`;
  let server: Server | undefined;
  return {
    issuer,
    async start(signingKeys) {
      const provider = new Provider(issuer, {
        clients: [
          {
            client_id: 'billing',
            client_secret: clientSecret,
            grant_types: ['client_credentials'],
            id_token_signed_response_alg: 'ES256',
            redirect_uris: [],
            response_types: [],
            token_endpoint_auth_method: 'client_secret_basic',
            scope: 'orders:read orders:write',
          },
          {
            client_id: 'reports',
            grant_types: ['client_credentials'],
            id_token_signed_response_alg: 'ES256',
            redirect_uris: [],
            response_types: [],
            token_endpoint_auth_method: 'private_key_jwt',
            token_endpoint_auth_signing_alg: 'ES256',
            jwks: { keys: [clientJwk] },
            scope: 'orders:read',
          },
        ],
        jwks: { keys: signingKeys },
        scopes: ['orders:read', 'orders:write'],
        features: {
          devInteractions: { enabled: false },
          clientCredentials: { enabled: true },
          resourceIndicators: {
            enabled: true,
            defaultResource: () => RESOURCE,
            useGrantedResource: () => true,
            getResourceServerInfo: (_ctx: unknown, resourceIndicator: string) => {
              if (resourceIndicator !== RESOURCE) throw new Error('unknown resource');
              return {
                scope: 'orders:read orders:write',
                audience: RESOURCE,
                accessTokenTTL: 300,
                accessTokenFormat: 'jwt',
                jwt: { sign: { alg: 'ES256' } },
              };
            },
          },
        },
      });
      server = createServer(provider.callback());
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(port, '127.0.0.1', () => resolve());
      });
    },
    async stop() {
      const current = server;
      server = undefined;
      if (!current) return;
      await new Promise<void>((resolve) => {
        current.closeAllConnections();
        current.close(() => resolve());
      });
    },
  };
}

describe('oidc-provider integration', () => {
  const clientSecret = randomBytes(24).toString('base64url');
  let clientPrivateKey: CryptoKey;
  let issuer: RunningIssuer;
  let key1: JWK;
  let key2: JWK;
  let verifier: BearerVerifier;
  const events: string[] = [];

  beforeAll(async () => {
    const clientPair = await generateKeyPair('ES256', { extractable: true });
    clientPrivateKey = clientPair.privateKey;
    const clientJwk = { ...(await exportJWK(clientPair.publicKey)), kid: 'reports-1', alg: 'ES256', use: 'sig' };
    key1 = await signingKey('as-1');
    key2 = await signingKey('as-2');
    issuer = await startIssuer(clientSecret, clientJwk);
    await issuer.start([key1]);
    verifier = createBearerVerifier({
      issuer: issuer.issuer,
      audience: RESOURCE,
      algorithms: ['ES256'],
      jwksUri: `${issuer.issuer}/jwks`,
      requiredClaims: ['sub', 'client_id', 'jti', 'iat'],
      jwks: {
        cooldownMs: 0,
        failureBackoffMs: 0,
        cacheMaxAgeMs: 1_000,
        staleIfErrorMs: 60_000,
        onEvent: (event) => events.push(event.type),
      },
    });
  });

  afterAll(async () => {
    await issuer?.stop();
  });

  const tokens = (method: 'client_secret_basic' | 'private_key_jwt') =>
    createTokenProvider({
      tokenEndpoint: `${issuer.issuer}/token`,
      clientId: method === 'client_secret_basic' ? 'billing' : 'reports',
      authentication:
        method === 'client_secret_basic'
          ? { method, clientSecret }
          : {
              method,
              privateKey: clientPrivateKey,
              algorithm: 'ES256',
              keyId: 'reports-1',
              assertionAudience: issuer.issuer,
            },
    });

  const call = async (token: string, scopes: string[]): Promise<number> => {
    const request = new Request('http://svc/orders', { headers: { authorization: `Bearer ${token}` } });
    return verifier
      .authenticate(fromWebRequest(request), { scopes: { all: scopes } })
      .then(() => 200)
      .catch((error: unknown) => verifier.toResponse(error).status);
  };

  it('verifies a client_secret_basic client-credentials token with resource indicator and scopes', async () => {
    await verifier.warm();
    expect(verifier.isReady()).toBe(true);
    const token = await tokens('client_secret_basic').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    const result = await verifier.verify(token);
    expect(result.clientId).toBe('billing');
    expect(result.header.typ).toBe('at+jwt');
    expect([...result.scopes]).toEqual(['orders:read']);
    expect(await call(token, ['orders:read'])).toBe(200);
    expect(await call(token, ['orders:write'])).toBe(403);
  });

  it('verifies a private_key_jwt client-credentials token', async () => {
    const token = await tokens('private_key_jwt').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    const result = await verifier.verify(token);
    expect(result.clientId).toBe('reports');
    expect(await call(token, ['orders:read'])).toBe(200);
  });

  it('caches tokens per audience and scopes', async () => {
    const provider = tokens('client_secret_basic');
    const a = await provider.getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    const b = await provider.getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    const c = await provider.getToken({ audience: RESOURCE, scopes: ['orders:read', 'orders:write'] });
    expect(b).toBe(a);
    expect(c).not.toBe(a);
  });

  it('reports a wrong client secret as ERR_BEARER_TOKEN_ENDPOINT without retrying or leaking it', async () => {
    const wrongSecret = randomBytes(24).toString('base64url');
    const provider = createTokenProvider({
      tokenEndpoint: `${issuer.issuer}/token`,
      clientId: 'billing',
      authentication: { method: 'client_secret_basic', clientSecret: wrongSecret },
    });
    const error = await provider.getToken({ audience: RESOURCE }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: false });
    expect((error as Error).message).toContain('invalid_client');
    expect((error as Error).message).not.toContain(wrongSecret);
  });

  it('follows key rotation at the issuer', async () => {
    const before = await tokens('client_secret_basic').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    expect(await call(before, ['orders:read'])).toBe(200);
    await issuer.stop();
    await issuer.start([key2, key1]);
    const after = await tokens('client_secret_basic').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    expect(JSON.parse(Buffer.from(after.split('.')[0] as string, 'base64url').toString()).kid).toBe('as-2');
    expect(await call(after, ['orders:read'])).toBe(200);
    expect(await call(before, ['orders:read'])).toBe(200);
    // The issuer retires the old key: once the verifier refreshes, tokens signed with it fail.
    await issuer.stop();
    await issuer.start([key2]);
    await waitFor(async () => (await call(before, ['orders:read'])) === 401, {
      timeoutMs: 10_000,
      what: 'the retired key to stop verifying',
    });
    expect(await call(after, ['orders:read'])).toBe(200);
    await issuer.stop();
    await issuer.start([key2, key1]);
  });

  it('protects an Express route end to end with a token from the TokenProvider', async () => {
    const express = (await import('express')).default;
    const { requireBearer, getBearer } = await import('../src/adapters/express.ts');
    const app = express();
    app.get('/orders', requireBearer(verifier, { scopes: { all: ['orders:read'] } }), (req, res) => {
      res.json({ client: getBearer(req).clientId });
    });
    app.delete('/orders', requireBearer(verifier, { scopes: { all: ['orders:write'] } }), (_req, res) => {
      res.status(204).end();
    });
    const server = createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as import('node:net').AddressInfo;
      const provider = tokens('client_secret_basic');
      const authorization = await provider.getAuthorizationHeader({ audience: RESOURCE, scopes: ['orders:read'] });
      const ok = await fetch(`http://127.0.0.1:${port}/orders`, { headers: { authorization } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ client: 'billing' });
      const forbidden = await fetch(`http://127.0.0.1:${port}/orders`, {
        method: 'DELETE',
        headers: { authorization },
      });
      expect(forbidden.status).toBe(403);
      expect(forbidden.headers.get('www-authenticate')).toContain('scope="orders:write"');
      const missing = await fetch(`http://127.0.0.1:${port}/orders`);
      expect(missing.status).toBe(401);
      expect(missing.headers.get('www-authenticate')).toBe('Bearer');
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('keeps serving tokens signed by known keys while the issuer is down, and answers 503 for unknown keys', async () => {
    const token = await tokens('client_secret_basic').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    expect(await call(token, ['orders:read'])).toBe(200);
    await issuer.stop();
    // Past cacheMaxAge: refreshes fail, the known keys keep verifying (stale-if-error).
    events.length = 0;
    await waitFor(
      async () => {
        expect(await call(token, ['orders:read'])).toBe(200);
        return events.includes('jwks.stale_served');
      },
      { timeoutMs: 5_000, what: 'stale keys to verify after a failed refresh' },
    );
    expect(events).toContain('jwks.refresh_failed');
    expect(await call(token, ['orders:read'])).toBe(200);
    // A token whose key this verifier never saw cannot be checked: 503, not 401.
    const key3 = await signingKey('as-3');
    await issuer.start([key3]);
    const unknown = await tokens('client_secret_basic').getToken({ audience: RESOURCE, scopes: ['orders:read'] });
    await issuer.stop();
    await waitFor(async () => (await call(unknown, ['orders:read'])) === 503, {
      timeoutMs: 5_000,
      what: 'a 503 for a key that cannot be fetched',
    });
    expect(await call(token, ['orders:read'])).toBe(200);
    await issuer.start([key2, key1]);
  });
});
