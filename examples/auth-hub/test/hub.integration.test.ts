import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { loadConfig, type Secret, secret } from '@rampart/config';
import { startRedis, type TestRedis } from '@rampart/testkit';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hubSchema } from '../src/config.ts';
import { createHub } from '../src/hub.ts';

let redisServer: TestRedis;
let redis: Redis;
let server: Server;
let base = '';
const clientSecret = randomBytes(32).toString('base64url');
const resource = 'https://issues.example.com';
const otherResource = 'https://hooks.example.com';
const redirectUri = 'https://app.example.com/callback';

// Secrets built the way @rampart/config hands them over, from values generated for this run.
async function secretOf(value: string): Promise<Secret> {
  const loaded = await loadConfig({ S: secret({ kind: 'key' }) }, { env: { NODE_ENV: 'test', S: value } });
  return loaded.S;
}

interface RunningHub {
  readonly server: Server;
  readonly redis: Redis;
  readonly base: string;
}
const extraHubs: RunningHub[] = [];

/**
 * A hub on its own port and its own ioredis client, its keys under the Redis handle's prefix (and
 * `keyPrefix` when given, so its limits start fresh): REDIS_URL may name a shared Redis.
 */
async function startHub(keyPrefix = ''): Promise<RunningHub> {
  const client = new Redis(redisServer.url, {
    enableOfflineQueue: false,
    lazyConnect: true,
    keyPrefix: `${redisServer.keyPrefix}${keyPrefix}`,
  });
  await client.connect();
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const hub = createHub({
    issuer: 'http://127.0.0.1',
    redis: client,
    signingKey: await secretOf(privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64url')),
    cookieKey: await secretOf(randomBytes(32).toString('base64url')),
    clients: [
      {
        clientId: 'svc',
        grantTypes: ['client_credentials'],
        // webhooks:deliver is served by the other resource only.
        scopes: ['issues:read', 'webhooks:deliver'],
        redirectUris: [],
        tenant: 'acme',
      },
      {
        clientId: 'hooks',
        grantTypes: ['client_credentials'],
        // No scope the issues API serves.
        scopes: ['webhooks:deliver'],
        redirectUris: [],
        tenant: 'acme',
      },
      {
        clientId: 'web',
        grantTypes: ['authorization_code'],
        scopes: ['issues:read'],
        redirectUris: [redirectUri],
        tenant: 'acme',
      },
    ],
    clientSecrets: new Map([
      ['svc', await secretOf(clientSecret)],
      ['hooks', await secretOf(clientSecret)],
      ['web', await secretOf(clientSecret)],
    ]),
    resources: [
      { resource, scopes: ['issues:read', 'issues:write'] },
      { resource: otherResource, scopes: ['webhooks:deliver'] },
    ],
    tokenRateLimitPerMinute: 8,
    accessTokenTtlSeconds: 300,
  });
  await new Promise<void>((resolve) => hub.server.listen(0, '127.0.0.1', resolve));
  const address = hub.server.address();
  return {
    server: hub.server,
    redis: client,
    base: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`,
  };
}

async function stopHub(hub: RunningHub): Promise<void> {
  hub.server.closeAllConnections();
  await new Promise((resolve) => hub.server.close(resolve));
  hub.redis.disconnect();
}

beforeAll(async () => {
  redisServer = await startRedis();
  const hub = await startHub();
  ({ server, redis, base } = hub);
});

afterAll(async () => {
  if (redis && !redisServer.external) {
    // A private server holds only this file's keys: each must be under the prefix.
    const stray = (await redis.keys('*')).filter((key) => !key.startsWith(redisServer.keyPrefix));
    expect(stray).toEqual([]);
  }
  for (const hub of extraHubs) await stopHub(hub);
  if (server) await stopHub({ server, redis, base });
  await redisServer?.stop();
});

const tokenRequest = (body: Record<string, string>, secretValue = clientSecret, at = base, clientId = 'svc') =>
  fetch(`${at}/token`, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${clientId}:${secretValue}`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams(body),
  });

describe('createHub', () => {
  it('issues an RFC 9068 JWT for the requested resource with the allowed scopes and the tenant claim', async () => {
    const response = await tokenRequest({ grant_type: 'client_credentials', resource, scope: 'issues:read' });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const { access_token: token } = (await response.json()) as { access_token: string };
    const [header, payload] = token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toMatchObject({ typ: 'at+jwt', alg: 'ES256' });
    expect(payload).toMatchObject({ aud: resource, scope: 'issues:read', client_id: 'svc', tenant: 'acme' });
  });

  it('accepts pushed authorization requests (PAR), stores them in Redis and refuses an unregistered redirect URI', async () => {
    const push = (redirect: string, at = resource) =>
      fetch(`${base}/request`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`web:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({
          response_type: 'code',
          client_id: 'web',
          redirect_uri: redirect,
          scope: 'issues:read',
          resource: at,
          code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
          code_challenge_method: 'S256',
        }),
      });
    const pushed = await push(redirectUri);
    // A scope the named resource does not serve is refused, as at the token endpoint.
    const elsewhere = await push(redirectUri, otherResource);
    expect(elsewhere.status).toBe(400);
    expect(((await elsewhere.json()) as { error: string }).error).toBe('invalid_scope');
    expect(pushed.status).toBe(201);
    expect(((await pushed.json()) as { request_uri: string }).request_uri).toMatch(
      /^urn:ietf:params:oauth:request_uri:/,
    );
    // ioredis puts its keyPrefix in front of keys, not of KEYS patterns.
    expect((await redis.keys(`${redisServer.keyPrefix}rampart:oidc:PushedAuthorizationRequest:*`)).length).toBe(1);
    const evil = await push('https://evil.example.com/callback');
    expect(evil.status).toBe(400);
  });

  it('refuses an unknown resource, a scope the client lacks and a wrong secret', async () => {
    const unknown = await tokenRequest({
      grant_type: 'client_credentials',
      resource: 'https://other.example.com',
      scope: 'issues:read',
    });
    expect(((await unknown.json()) as { error: string }).error).toBe('invalid_target');
    const scope = await tokenRequest({ grant_type: 'client_credentials', resource, scope: 'issues:write' });
    expect(((await scope.json()) as { error: string }).error).toBe('invalid_scope');
    const wrong = await tokenRequest(
      { grant_type: 'client_credentials', resource },
      randomBytes(32).toString('base64url'),
    );
    expect(wrong.status).toBe(401);
  });

  it('refuses the client secret in the body (client_secret_post) with invalid_request: clients are registered for Basic', async () => {
    const hub = await startHub(`auth-method-${randomUUID()}:`); // a token budget of its own
    extraHubs.push(hub);
    const form = { grant_type: 'client_credentials', resource, scope: 'issues:read' };
    const posted = await fetch(`${hub.base}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...form, client_id: 'svc', client_secret: clientSecret }),
    });
    expect(posted.status).toBe(400);
    const refused = (await posted.json()) as { error: string; error_description?: string };
    expect(refused.error).toBe('invalid_request');
    expect(JSON.stringify(refused)).not.toContain(clientSecret);
    // The same client, the same secret, in the Authorization header: a token.
    const basic = await tokenRequest(form, clientSecret, hub.base);
    expect(basic.status).toBe(200);
    expect(((await basic.json()) as { access_token?: unknown }).access_token).toEqual(expect.any(String));
    // Discovery names only what the hub accepts.
    const discovery = (await (await fetch(`${hub.base}/.well-known/openid-configuration`)).json()) as Record<
      string,
      unknown
    >;
    expect(discovery.token_endpoint_auth_methods_supported).toEqual(['client_secret_basic']);
  });

  it.each([
    ['the right secret', () => clientSecret],
    ['a wrong secret', () => randomBytes(32).toString('base64url')],
  ])(
    'refuses a token or revocation request with Basic AND a client_secret form field (%s): no secret in bodies',
    async (_what, bodySecret) => {
      const hub = await startHub(`auth-both-${randomUUID()}:`); // a token budget of its own
      extraHubs.push(hub);
      const secretInBody = bodySecret();
      const basic = `Basic ${Buffer.from(`svc:${clientSecret}`).toString('base64')}`;
      for (const [path, form] of [
        ['/token', { grant_type: 'client_credentials', resource, scope: 'issues:read' }],
        ['/token/revocation', { token: 'x', token_type_hint: 'access_token' }],
      ] as const) {
        const params = new URLSearchParams({ client_secret: secretInBody, ...form }).toString();
        // Also behind a UTF-8 byte-order mark, which a decoder strips before the first name (this one).
        for (const body of [params, `\uFEFF${params}`]) {
          const response = await fetch(`${hub.base}${path}`, {
            method: 'POST',
            headers: { authorization: basic, 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
            body,
          });
          expect(response.status, path).toBe(400);
          const refused = (await response.json()) as { error: string; error_description?: string };
          expect(refused.error, path).toBe('invalid_request');
          expect(refused.error_description, path).toMatch(/Authorization header/);
          const text = JSON.stringify(refused);
          for (const value of [secretInBody, clientSecret]) expect(text, path).not.toContain(value);
        }
      }
      // Without the body copy, the same request is served.
      expect(
        (
          await tokenRequest(
            { grant_type: 'client_credentials', resource, scope: 'issues:read' },
            clientSecret,
            hub.base,
          )
        ).status,
      ).toBe(200);
    },
  );

  it('refuses a client-credentials request without a resource, storing no token for it', async () => {
    const hub = await startHub(`no-resource-${randomUUID()}:`); // a token budget of its own
    extraHubs.push(hub);
    const stored = async (): Promise<number> =>
      (await redis.keys(`${redisServer.keyPrefix}*rampart:oidc:ClientCredentials:*`)).length;
    const before = await stored();
    for (const body of [
      { grant_type: 'client_credentials' },
      { grant_type: 'client_credentials', scope: 'issues:read' },
    ]) {
      const response = await tokenRequest(body, clientSecret, hub.base);
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_target');
    }
    expect(await stored()).toBe(before);
  });

  it('refuses a scope the client holds but the requested resource does not serve, instead of dropping it', async () => {
    const hub = await startHub(`scope-${randomUUID()}:`); // a token budget of its own
    extraHubs.push(hub);
    const response = await tokenRequest(
      { grant_type: 'client_credentials', resource, scope: 'issues:read webhooks:deliver' },
      clientSecret,
      hub.base,
    );
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: string; access_token?: string };
    expect(body.error).toBe('invalid_scope');
    expect(body.access_token).toBeUndefined();
    // Each scope at the resource serving it is granted.
    const other = await tokenRequest(
      { grant_type: 'client_credentials', resource: otherResource, scope: 'webhooks:deliver' },
      clientSecret,
      hub.base,
    );
    expect(other.status).toBe(200);
    expect(((await other.json()) as { scope: string }).scope).toBe('webhooks:deliver');
  });

  it('refuses a client-credentials token that would carry no scope: none held at the resource, or none asked for', async () => {
    const hub = await startHub(`no-scope-${randomUUID()}:`); // a token budget of its own
    extraHubs.push(hub);
    const stored = async (): Promise<number> =>
      (await redis.keys(`${redisServer.keyPrefix}no-scope-*rampart:oidc:ClientCredentials:*`)).length;
    const before = await stored();
    for (const [clientId, body] of [
      // hooks holds no scope the issues API serves.
      ['hooks', { grant_type: 'client_credentials', resource }],
      ['hooks', { grant_type: 'client_credentials', resource, scope: '' }],
      // svc holds issues:read, but asks for no scope.
      ['svc', { grant_type: 'client_credentials', resource }],
    ] as const) {
      const response = await tokenRequest(body, clientSecret, hub.base, clientId);
      const answer = (await response.json()) as { error?: string; access_token?: string };
      expect(response.status, `${clientId} ${JSON.stringify(body)}`).toBe(400);
      expect(answer.error).toBe('invalid_scope');
      expect(answer.access_token).toBeUndefined();
    }
    expect(await stored()).toBe(before);
    // Its own resource and scope are still served.
    const own = await tokenRequest(
      { grant_type: 'client_credentials', resource: otherResource, scope: 'webhooks:deliver' },
      clientSecret,
      hub.base,
      'hooks',
    );
    expect(own.status).toBe(200);
    expect(((await own.json()) as { scope: string }).scope).toBe('webhooks:deliver');
  });

  it('rate-limits the token endpoint per client IP in Redis, with RateLimit headers', async () => {
    let last: Response | undefined;
    for (let i = 0; i < 20 && last?.status !== 429; i++) {
      last = await tokenRequest({ grant_type: 'client_credentials', resource });
    }
    expect(last?.status).toBe(429);
    expect(last?.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(last?.headers.get('ratelimit-policy')).toContain('"token-per-ip";q=8;w=60');
  });

  // oidc-provider's router folds case and ignores one trailing slash, so each spelling below reaches
  // a client-authenticating endpoint; every one of them must spend from the same per-IP budget.
  it.each([
    ['/TOKEN', { grant_type: 'client_credentials', resource }],
    ['/Token?x=1', { grant_type: 'client_credentials', resource }],
    ['/token/', { grant_type: 'client_credentials', resource }],
    ['/token/revocation', { token: 'not-a-token' }],
    ['/Token/Revocation/', { token: 'not-a-token' }],
    ['/REQUEST', { response_type: 'code', client_id: 'svc' }],
  ])('rate-limits POST %s like the token endpoint', async (path, body) => {
    const hub = await startHub(`limit-${randomUUID()}:`);
    extraHubs.push(hub);
    const post = (): Promise<Response> =>
      fetch(`${hub.base}${path}`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`svc:${clientSecret}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams(body),
      });
    const first = await post();
    expect(first.status).not.toBe(404);
    expect(first.headers.get('ratelimit')).toContain('"token-per-ip";r=7');
    let last = first;
    for (let i = 0; i < 20 && last.status !== 429; i++) last = await post();
    expect(last.status).toBe(429);
    expect(last.headers.get('retry-after')).toMatch(/^\d+$/);
    expect(last.headers.get('ratelimit-policy')).toContain('"token-per-ip";q=8;w=60');
    expect(last.headers.get('ratelimit')).toContain('"token-per-ip";r=0');
    expect(last.headers.get('x-content-type-options')).toBe('nosniff');
    // The read-only endpoints stay available to a client that spent its budget.
    expect((await fetch(`${hub.base}/.well-known/openid-configuration`)).status).toBe(200);
    expect((await fetch(`${hub.base}/jwks`)).status).toBe(200);
  });
});

describe('hubSchema', () => {
  it('refuses client and signing secrets given as plain environment variables in production', async () => {
    const env = {
      HUB_ISSUER: 'https://id.example.com',
      REDIS_URL: 'redis://127.0.0.1:6379',
      HUB_SIGNING_KEY: randomBytes(64).toString('base64url'),
      HUB_COOKIE_KEY: randomBytes(32).toString('base64url'),
      HUB_CLIENTS: '[]',
      HUB_RESOURCES: '{}',
    };
    const error = await loadConfig(hubSchema, { env }).catch((caught: unknown) => caught);
    const issues = (error as { issues: { key: string; code: string }[] }).issues;
    expect(issues.map((i) => `${i.key}:${i.code}`).sort()).toEqual([
      'HUB_COOKIE_KEY:source-not-allowed',
      'HUB_SIGNING_KEY:source-not-allowed',
    ]);
    expect(JSON.stringify(error) + String(error)).not.toContain(env.HUB_COOKIE_KEY);
  });
});
