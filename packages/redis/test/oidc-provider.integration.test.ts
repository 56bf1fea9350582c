import { createHash, generateKeyPairSync, type KeyObject, randomBytes, randomUUID, sign } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CacheRegistry, cacheRegistry } from '../src/cache-registry.ts';
import { RedisStoreError } from '../src/errors.ts';
import { createOidcProviderAdapter } from '../src/oidc-provider-adapter.ts';
import type { RedisClient } from '../src/scripts.ts';
import { startClosingServer } from './fixtures/closing-server.ts';
import { cluster, singleNode, type Target } from './fixtures/targets.ts';

const REDIRECT_URI = 'https://app.example.test/cb';

interface RunningProvider {
  readonly url: string;
  readonly provider: InstanceType<typeof Provider>;
  readonly server: Server;
}

/** Starts one oidc-provider instance on a loopback port, sharing `adapterPrefix` in Redis with its siblings. */
async function startProvider(
  redis: RedisClient,
  adapterPrefix: string,
  secrets: {
    clientSecret: string;
    cookieKey: string;
    signingKey: Record<string, unknown>;
    clientPublicKey: Record<string, unknown>;
  },
): Promise<RunningProvider> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(url, {
    adapter: createOidcProviderAdapter({
      redis,
      prefix: adapterPrefix,
      timeoutMs: 2_000,
      registry: new CacheRegistry(),
    }),
    clients: [
      {
        client_id: 'app',
        client_secret: secrets.clientSecret,
        grant_types: ['authorization_code', 'client_credentials'],
        response_types: ['code'],
        redirect_uris: [REDIRECT_URI],
        scope: 'openid api:read',
      },
      {
        client_id: 'jwt-app',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'RS256',
        jwks: { keys: [secrets.clientPublicKey] },
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        scope: 'api:read',
      },
    ],
    scopes: ['openid', 'api:read'],
    jwks: { keys: [secrets.signingKey] },
    ttl: {
      AccessToken: 3_600,
      AuthorizationCode: 60,
      ClientCredentials: 600,
      Grant: 3_600,
      IdToken: 3_600,
      Interaction: 600,
      PushedAuthorizationRequest: 60,
      Session: 3_600,
    },
    features: {
      clientCredentials: { enabled: true },
      introspection: { enabled: true, allowedPolicy: async () => true },
      revocation: { enabled: true, allowedPolicy: async () => true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      devInteractions: { enabled: false },
    },
    cookies: { keys: [secrets.cookieKey] },
    findAccount: async (_ctx: unknown, sub: string) => ({ accountId: sub, claims: async () => ({ sub }) }),
    interactions: { url: (_ctx: unknown, interaction: { uid: string }) => `/interaction/${interaction.uid}` },
  });
  const callback = provider.callback();
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (req.url?.startsWith('/interaction/')) {
      finishInteraction(provider, req, res).catch((error: unknown) => {
        res.statusCode = 500;
        res.end(String(error));
      });
      return;
    }
    callback(req, res);
  });
  return { url, provider, server };
}

/** Logs "alice" in and grants the requested scope, as a login/consent UI would. */
async function finishInteraction(
  provider: InstanceType<typeof Provider>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const details = await provider.interactionDetails(req, res);
  const grant = new provider.Grant({ accountId: 'alice', clientId: details.params.client_id as string });
  grant.addOIDCScope('openid');
  const grantId = await grant.save();
  await provider.interactionFinished(
    req,
    res,
    { login: { accountId: 'alice' }, consent: { grantId } },
    { mergeWithLastSubmission: false },
  );
}

/** A minimal cookie jar over fetch with manual redirects. */
class Browser {
  readonly #cookies = new Map<string, string>();

  async get(url: string): Promise<Response> {
    const cookie = [...this.#cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const response = await fetch(url, { redirect: 'manual', headers: cookie ? { cookie } : {} });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      this.#cookies.set(pair!.slice(0, eq), pair!.slice(eq + 1));
    }
    return response;
  }

  /** Follows redirects on the provider until one leaves it; returns that Location. */
  async follow(url: string, base: string): Promise<URL> {
    let next = new URL(url, base);
    for (let hops = 0; hops < 10; hops++) {
      const response = await this.get(next.href);
      await response.arrayBuffer();
      const location = response.headers.get('location');
      if (!location) throw new Error(`no redirect from ${next.pathname}: ${response.status}`);
      next = new URL(location, next);
      if (next.origin !== new URL(base).origin) return next;
    }
    throw new Error('too many redirects');
  }
}

/** A private_key_jwt client assertion (RFC 7523), signed with node:crypto. */
function clientAssertion(key: KeyObject, audience: string[], exp?: string): string {
  const encode = (part: object): string => Buffer.from(JSON.stringify(part)).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const claims = JSON.stringify({
    iss: 'jwt-app',
    sub: 'jwt-app',
    aud: audience,
    jti: randomUUID(),
    iat: now,
    exp: now + 60,
  });
  // `exp` as JSON text: a number like 1e400, which JSON.parse reads as Infinity.
  const body = exp === undefined ? claims : claims.replace(/"exp":\d+/, `"exp":${exp}`);
  const input = `${encode({ alg: 'RS256', kid: 'client-key', typ: 'JWT' })}.${Buffer.from(body).toString('base64url')}`;
  return `${input}.${sign('sha256', Buffer.from(input), key).toString('base64url')}`;
}

const basic = (secret: string): string => `Basic ${Buffer.from(`app:${secret}`).toString('base64')}`;

async function post(url: string, secret: string, form: Record<string, string>): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { authorization: basic(secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(form),
  });
}

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('createOidcProviderAdapter with real oidc-provider flows on a %s', (_name, start) => {
  let target: Target;
  let redisA: RedisClient;
  let redisB: RedisClient;
  let a: RunningProvider;
  let b: RunningProvider;
  const clientKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const secrets = {
    clientPublicKey: { ...clientKeys.publicKey.export({ format: 'jwk' }), kid: 'client-key', use: 'sig', alg: 'RS256' },
    clientSecret: randomBytes(32).toString('base64url'),
    cookieKey: randomBytes(32).toString('hex'),
    signingKey: {
      ...generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' }),
      kid: 'test-signing-key',
      use: 'sig',
      alg: 'RS256',
    },
  };

  beforeAll(async () => {
    target = await start();
    redisA = await target.connect();
    redisB = await target.connect();
    const prefix = `oidc-${process.pid}-${Date.now().toString(36)}`;
    // Two provider instances ("pods") sharing one Redis, each with its own connection.
    a = await startProvider(redisA, prefix, secrets);
    b = await startProvider(redisB, prefix, secrets);
  });
  afterAll(async () => {
    for (const p of [a, b]) if (p) await new Promise((resolve) => p.server.close(resolve));
    redisA?.disconnect();
    redisB?.disconnect();
    await target?.stop();
  });

  /** PAR at `a`, then the authorization request through login and consent; returns code and verifier. */
  async function authorize(browser = new Browser()): Promise<{ code: string; verifier: string; requestUri: string }> {
    const verifier = randomBytes(32).toString('base64url');
    const challenge = createHash('sha256').update(verifier).digest('base64url');
    const par = await post(`${a.url}/request`, secrets.clientSecret, {
      client_id: 'app',
      response_type: 'code',
      redirect_uri: REDIRECT_URI,
      scope: 'openid',
      state: 'xyz',
      code_challenge: challenge,
      code_challenge_method: 'S256',
    });
    expect(par.status).toBe(201);
    const { request_uri: requestUri, expires_in: expiresIn } = (await par.json()) as {
      request_uri: string;
      expires_in: number;
    };
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(600);
    const authUrl = `${a.url}/auth?${new URLSearchParams({ client_id: 'app', request_uri: requestUri })}`;
    const callback = await browser.follow(authUrl, a.url);
    expect(`${callback.origin}${callback.pathname}`).toBe(REDIRECT_URI);
    expect(callback.searchParams.get('state')).toBe('xyz');
    const code = callback.searchParams.get('code');
    expect(code).toEqual(expect.any(String));
    return { code: code as string, verifier, requestUri };
  }

  const exchange = (provider: RunningProvider, code: string, verifier: string): Promise<Response> =>
    post(`${provider.url}/token`, secrets.clientSecret, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });

  it('issues a client-credentials token that the other instance introspects and revokes', async () => {
    const token = await post(`${a.url}/token`, secrets.clientSecret, {
      grant_type: 'client_credentials',
      scope: 'api:read',
    });
    expect(token.status).toBe(200);
    const { access_token: accessToken } = (await token.json()) as { access_token: string };
    const introspect = async (p: RunningProvider): Promise<{ active: boolean; scope?: string }> =>
      (await (await post(`${p.url}/token/introspection`, secrets.clientSecret, { token: accessToken })).json()) as {
        active: boolean;
      };
    expect(await introspect(b)).toMatchObject({ active: true, scope: 'api:read' });
    const revoked = await post(`${b.url}/token/revocation`, secrets.clientSecret, { token: accessToken });
    expect(revoked.status).toBe(200);
    expect(await introspect(a)).toMatchObject({ active: false });
  });

  it('runs PAR + authorization code with PKCE, and the other instance refuses the used code', async () => {
    const { code, verifier } = await authorize();
    const first = await exchange(a, code, verifier);
    expect(first.status).toBe(200);
    const tokens = (await first.json()) as { access_token: string; id_token: string };
    expect(tokens.id_token).toEqual(expect.any(String));
    const replay = await exchange(b, code, verifier);
    expect(replay.status).toBe(400);
    expect(await replay.json()).toMatchObject({ error: 'invalid_grant' });
    // The replay revoked the grant's tokens (RFC 6749 §4.1.2), on the other instance.
    const introspection = await post(`${a.url}/token/introspection`, secrets.clientSecret, {
      token: tokens.access_token,
    });
    expect(await introspection.json()).toMatchObject({ active: false });
  });

  it('lets a user sign in again through the same session after an access token of the kept grant was revoked', async () => {
    // Revoking an access token at /token/revocation revokes the grant's tokens but keeps the grant
    // (oidc-provider's default revokeGrantPolicy); signing in again reuses it.
    const browser = new Browser();
    const first = await authorize(browser);
    const tokens = await exchange(a, first.code, first.verifier);
    expect(tokens.status).toBe(200);
    const { access_token: accessToken } = (await tokens.json()) as { access_token: string };
    const revoked = await post(`${b.url}/token/revocation`, secrets.clientSecret, { token: accessToken });
    expect(revoked.status).toBe(200);
    // Entries issued in the revocation's second are refused (see revokeByGrantId); a person signs
    // in again later than that.
    await new Promise((resolve) => setTimeout(resolve, 1_050 - (Date.now() % 1_000)));
    for (const provider of [a, b]) {
      const again = await authorize(browser);
      const response = await exchange(provider, again.code, again.verifier);
      expect(response.status).toBe(200);
      const { access_token: fresh } = (await response.json()) as { access_token: string };
      const introspection = await post(`${a.url}/token/introspection`, secrets.clientSecret, { token: fresh });
      expect(await introspection.json()).toMatchObject({ active: true });
    }
    const old = await post(`${a.url}/token/introspection`, secrets.clientSecret, { token: accessToken });
    expect(await old.json()).toMatchObject({ active: false });
  });

  it('lets exactly one of two instances racing with the same code issue tokens', async () => {
    for (let round = 0; round < 3; round++) {
      const { code, verifier } = await authorize();
      const results = await Promise.all([exchange(a, code, verifier), exchange(b, code, verifier)]);
      const statuses = results.map((r) => r.status).sort();
      expect(statuses).toEqual([200, 400]);
      const loser = results.find((r) => r.status === 400) as Response;
      expect(await loser.json()).toMatchObject({ error: 'invalid_grant' });
    }
  });

  it('refuses a used request_uri on the other instance', async () => {
    const { requestUri } = await authorize();
    const browser = new Browser();
    const again = await browser.get(
      `${b.url}/auth?${new URLSearchParams({ client_id: 'app', request_uri: requestUri })}`,
    );
    const location = again.headers.get('location');
    // An invalid request_uri is reported to the client's redirect_uri (or rendered when it cannot be).
    const body = location ? new URL(location).searchParams.get('error') : await again.text();
    expect(body).toContain('invalid_request_uri');
  });

  /** A client-credentials request of `jwt-app` authenticated by `assertion` (private_key_jwt). */
  const tokenRequest = (p: RunningProvider, assertion: string): Promise<Response> =>
    fetch(`${p.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        scope: 'api:read',
        client_id: 'jwt-app',
        client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
        client_assertion: assertion,
      }),
    });

  it('accepts a private_key_jwt client assertion once, even when both instances get it at once', async () => {
    for (let round = 0; round < 3; round++) {
      const assertion = clientAssertion(clientKeys.privateKey, [a.url, b.url]);
      const results = await Promise.all([tokenRequest(a, assertion), tokenRequest(b, assertion)]);
      expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
      const replay = await tokenRequest(round % 2 === 0 ? a : b, assertion);
      expect(replay.status).toBe(401);
      expect(await replay.json()).toMatchObject({ error: 'invalid_client' });
    }
  });

  it('refuses a replayed client assertion whose exp is beyond any number (1e400)', async () => {
    for (const exp of ['1e400', '1e20']) {
      const assertion = clientAssertion(clientKeys.privateKey, [a.url, b.url], exp);
      const statuses = [];
      for (const p of [a, b, a]) statuses.push((await tokenRequest(p, assertion)).status);
      expect(statuses).toEqual([200, 401, 401]);
    }
  });

  it('rejects a wrong PKCE verifier', async () => {
    const { code } = await authorize();
    const response = await exchange(b, code, randomBytes(32).toString('base64url'));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_grant' });
  });
});

describe.each([
  ['single node', singleNode],
  ['cluster', cluster],
] as const)('createOidcProviderAdapter edge cases on a %s', (_name, start) => {
  let target: Target;
  let redis: RedisClient;
  let Adapter: ReturnType<typeof createOidcProviderAdapter>;
  let prefix: string;

  beforeAll(async () => {
    target = await start();
    redis = await target.connect();
    prefix = `oidc-edge-${process.pid}-${Date.now().toString(36)}`;
    Adapter = createOidcProviderAdapter({ redis, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
  });
  afterAll(async () => {
    redis?.disconnect();
    await target?.stop();
  });

  it('ends an entry saved already expired instead of keeping it without a TTL, and indexes nothing for it', async () => {
    const tokens = new Adapter('AccessToken');
    for (const [i, expiresIn] of [0, -5, Number.NaN].entries()) {
      await tokens.upsert(`live-${i}`, { grantId: `g-exp-${i}` }, 60);
      await tokens.upsert(`live-${i}`, { grantId: `g-exp-${i}` }, expiresIn);
      expect(await tokens.find(`live-${i}`)).toBeUndefined();
      await tokens.upsert(`new-${i}`, { grantId: `g-new-${i}` }, expiresIn);
      expect(await tokens.find(`new-${i}`)).toBeUndefined();
      expect(await redis.exists(`${prefix}:grant:{g-new-${i}}`)).toBe(0);
    }
    // No expiry asked for: kept without a TTL.
    await tokens.upsert('forever', { grantId: 'g-forever' }, undefined);
    expect(await redis.pttl(`${prefix}:AccessToken:{forever}`)).toBe(-1);
    // An infinite expiry, or one Redis cannot hold, is capped at 2^47 ms: never stored without a TTL.
    for (const [i, expiresIn] of [Number.POSITIVE_INFINITY, 1e16].entries()) {
      for (const model of ['AccessToken', 'ReplayDetection']) {
        await new Adapter(model).upsert(`capped-${i}`, { grantId: `g-capped-${i}` }, expiresIn);
        const ttl = await redis.pttl(`${prefix}:${model}:{capped-${i}}`);
        expect(ttl).toBeGreaterThan(2 ** 47 - 60_000);
        expect(ttl).toBeLessThanOrEqual(2 ** 47);
      }
      expect(await redis.pttl(`${prefix}:grant:{g-capped-${i}}`)).toBeGreaterThan(0);
    }
    await tokens.upsert('short', {}, 0.0004);
    expect(await redis.pttl(`${prefix}:AccessToken:{short}`)).toBeLessThanOrEqual(1);
  });

  it('finds nothing by uid or user code once the entry is destroyed, and leaves the lookup key to its TTL', async () => {
    const sessions = new Adapter('Session');
    const devices = new Adapter('DeviceCode');
    await sessions.upsert('s-d', { uid: 'uid-d', accountId: 'alice' }, 60);
    await devices.upsert('dc-d', { userCode: 'WDJB-MJHT', grantId: 'g-dc-d' }, 60);
    expect(await sessions.findByUid('uid-d')).toMatchObject({ accountId: 'alice' });
    expect(await devices.findByUserCode('WDJB-MJHT')).toMatchObject({ grantId: 'g-dc-d' });

    await sessions.destroy('s-d');
    await devices.destroy('dc-d');
    expect(await sessions.findByUid('uid-d')).toBeUndefined();
    expect(await devices.findByUserCode('WDJB-MJHT')).toBeUndefined();
    expect(await redis.exists(`${prefix}:Session:{s-d}`)).toBe(0);
    // The lookup keys sit in other slots: they end with the TTL they were saved with, never later.
    for (const key of [`${prefix}:uid:{uid-d}`, `${prefix}:userCode:{WDJB-MJHT}`]) {
      expect(await redis.pttl(key)).toBeGreaterThan(0);
      expect(await redis.pttl(key)).toBeLessThanOrEqual(60_000);
    }

    // The same id saved again under another user code is not found by the old one.
    await devices.upsert('dc-d', { userCode: 'BDWP-HQPK' }, 60);
    expect(await devices.findByUserCode('WDJB-MJHT')).toBeUndefined();
    expect(await devices.findByUserCode('BDWP-HQPK')).toMatchObject({ userCode: 'BDWP-HQPK' });
    // Destroying what is not there (or no longer) is a no-op.
    await devices.destroy('never-saved');
  });

  it('finds no device code by its user code once its grant is revoked or it is saved already expired', async () => {
    const devices = new Adapter('DeviceCode');
    await devices.upsert('dc-g', { userCode: 'KQJM-TWXL', grantId: 'g-device' }, 60);
    await devices.revokeByGrantId('g-device');
    expect(await devices.find('dc-g')).toBeUndefined();
    expect(await devices.findByUserCode('KQJM-TWXL')).toBeUndefined();

    await devices.upsert('dc-x', { userCode: 'ZRNM-PLQD' }, 60);
    await devices.upsert('dc-x', { userCode: 'ZRNM-PLQD' }, 0);
    expect(await devices.findByUserCode('ZRNM-PLQD')).toBeUndefined();
  });

  it('never leaves a live session without its uid lookup when destroy and save of one id race', async () => {
    // Two instances on their own connections, one destroying a session while the other saves it (a
    // logout racing a request that touched the session). The save starts 0–7 event-loop turns
    // after the destroy, so it lands before, between and after the destroy's steps. Whatever the
    // order, a session that is still there must be found by its uid: oidc-provider loads sessions
    // through findByUid. Only the final state is checked.
    const other = await target.connect();
    try {
      const a = new Adapter('Session');
      const B = createOidcProviderAdapter({ redis: other, prefix, timeoutMs: 2_000, registry: new CacheRegistry() });
      const b = new B('Session');
      const turns = (n: number): Promise<void> =>
        n === 0 ? Promise.resolve() : new Promise((resolve) => setImmediate(() => resolve(turns(n - 1))));
      const broken: string[] = [];
      for (let batch = 0; batch < 4; batch++) {
        await Promise.all(
          Array.from({ length: 100 }, async (_, i) => {
            const id = `s-race-${batch}-${i}`;
            const uid = `uid-race-${batch}-${i}`;
            await a.upsert(id, { uid, accountId: 'alice' }, 60);
            await Promise.all([
              a.destroy(id),
              turns(i % 8).then(() => b.upsert(id, { uid, accountId: 'alice', touched: true }, 60)),
            ]);
            if ((await a.find(id)) !== undefined && (await a.findByUid(uid)) === undefined) broken.push(id);
          }),
        );
      }
      expect(broken).toEqual([]);
    } finally {
      other.disconnect();
    }
  });

  it('keeps a consumed device code findable by its user code, consumed, as oidc-provider expects', async () => {
    const devices = new Adapter('DeviceCode');
    await devices.upsert('dc-c', { userCode: 'HVTX-CMRB' }, 60);
    await devices.consume('dc-c');
    // oidc-provider tells "already used" from "no such code" by `consumed`: the lookup must stay.
    expect(await devices.findByUserCode('HVTX-CMRB')).toMatchObject({ consumed: expect.any(Number) });
  });

  it('finds no entry by a uid it is no longer saved under', async () => {
    const sessions = new Adapter('Session');
    await sessions.upsert('s-moved', { uid: 'uid-before' }, 60);
    await sessions.upsert('s-moved', { uid: 'uid-after' }, 60);
    expect(await sessions.findByUid('uid-before')).toBeUndefined();
    expect(await sessions.findByUid('uid-after')).toMatchObject({ uid: 'uid-after' });
  });

  it('revokes every token of a grant on a retry after a revocation failed halfway', async () => {
    const tokens = new Adapter('AccessToken');
    const codes = new Adapter('AuthorizationCode');
    await tokens.upsert('at-1', { grantId: 'g-retry' }, 60);
    await codes.upsert('code-1', { grantId: 'g-retry' }, 60);
    const unlink = redis.unlink.bind(redis);
    let failures = 1;
    // A node dropping the connection during the revocation, once.
    (redis as { unlink: unknown }).unlink = (...keys: string[]) =>
      failures-- > 0 ? Promise.reject(new Error('Connection is closed.')) : unlink(...keys);
    try {
      await expect(tokens.revokeByGrantId('g-retry')).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
    } finally {
      (redis as { unlink: unknown }).unlink = unlink;
    }
    await tokens.revokeByGrantId('g-retry');
    expect(await tokens.find('at-1')).toBeUndefined();
    expect(await codes.find('code-1')).toBeUndefined();
    expect(await redis.exists(`${prefix}:grant:{g-retry}`)).toBe(0);
  });

  it('deletes a token issued for a grant while the grant is revoked, instead of letting it outlive the revocation', async () => {
    const tokens = new Adapter('AccessToken');
    const refresh = new Adapter('RefreshToken');
    await tokens.upsert('at-before', { grantId: 'g-race' }, 60);
    await tokens.revokeByGrantId('g-race');
    // A token request that loaded the grant before the revocation saves afterwards.
    await refresh.upsert('rt-late', { grantId: 'g-race' }, 60);
    expect(await tokens.find('at-before')).toBeUndefined();
    expect(await refresh.find('rt-late')).toBeUndefined();
    expect(await redis.sismember(`${prefix}:grant:{g-race}`, `${prefix}:RefreshToken:{rt-late}`)).toBe(0);
    // Other grants are untouched.
    await refresh.upsert('rt-other', { grantId: 'g-other' }, 60);
    expect(await refresh.find('rt-other')).toBeDefined();

    // Interleaved: saves racing one revocation either end up listed and deleted, or refused.
    for (let round = 0; round < 5; round++) {
      const grantId = `g-interleaved-${round}`;
      const saves = Array.from({ length: 40 }, (_, i) => tokens.upsert(`at-${round}-${i}`, { grantId }, 60));
      await Promise.all([...saves.slice(0, 20), tokens.revokeByGrantId(grantId), ...saves.slice(20)]);
      for (let i = 0; i < 40; i++) expect(await tokens.find(`at-${round}-${i}`)).toBeUndefined();
    }
  });

  it('refuses entries issued up to the revocation second, or at all once the grant is gone; takes later ones for a kept grant', async () => {
    const grants = new Adapter('Grant');
    const codes = new Adapter('AuthorizationCode');
    const tokens = new Adapter('AccessToken');
    const now = (): number => Math.floor(Date.now() / 1000);
    await grants.upsert('g-kept', { accountId: 'alice' }, 3_600);
    await tokens.upsert('at-kept', { grantId: 'g-kept', iat: now() }, 60);
    await tokens.revokeByGrantId('g-kept');
    // The second of the revocation, as the mark holds it (ms).
    const revokedAt = Math.floor(Number(await redis.get(`${prefix}:grant-revoked:{g-kept}`)) / 1000);
    expect(Math.abs(revokedAt - now())).toBeLessThanOrEqual(1);
    expect(await tokens.find('at-kept')).toBeUndefined();
    // In flight: issued in the revocation's second (or earlier), or with no iat at all.
    for (const [i, iat] of [revokedAt, revokedAt - 5, undefined].entries()) {
      await codes.upsert(`code-in-flight-${i}`, { grantId: 'g-kept', iat }, 60);
      expect(await codes.find(`code-in-flight-${i}`)).toBeUndefined();
    }
    // Issued in a later second for the kept grant: a new sign-in.
    await codes.upsert('code-later', { grantId: 'g-kept', iat: revokedAt + 1 }, 60);
    expect(await codes.find('code-later')).toMatchObject({ grantId: 'g-kept' });
    expect(await redis.sismember(`${prefix}:grant:{g-kept}`, `${prefix}:AuthorizationCode:{code-later}`)).toBe(1);
    await tokens.revokeByGrantId('g-kept');
    expect(await codes.find('code-later')).toBeUndefined();
    // A destroyed grant takes nothing while marked, whatever the iat.
    await tokens.revokeByGrantId('g-destroyed');
    await codes.upsert('code-destroyed', { grantId: 'g-destroyed', iat: now() + 60 }, 60);
    expect(await codes.find('code-destroyed')).toBeUndefined();
    // A revocation mark without a time (an older version's) refuses every entry.
    await redis.set(`${prefix}:grant-revoked:{g-kept}`, '1', 'PX', 60_000);
    await codes.upsert('code-legacy', { grantId: 'g-kept', iat: now() + 60 }, 60);
    expect(await codes.find('code-legacy')).toBeUndefined();
    // A revoking instance with a clock behind never moves the revocation time back.
    const ahead = (now() + 120) * 1000;
    await redis.set(`${prefix}:grant-revoked:{g-kept}`, String(ahead), 'PX', 60_000);
    await tokens.revokeByGrantId('g-kept');
    expect(Number(await redis.get(`${prefix}:grant-revoked:{g-kept}`))).toBe(ahead);
    expect(await redis.pttl(`${prefix}:grant-revoked:{g-kept}`)).toBeGreaterThan(3_000_000);
  });

  it('keeps a ReplayDetection id reserved when it is saved with expiresIn 0 or less, so the replay is refused', async () => {
    // oidc-provider saves a client assertion's jti with `exp + clockTolerance - now`, which reaches
    // 0 (or less) when a second boundary passes between the assertion check and the save. An absent
    // ReplayDetection entry means "first use": the save must keep the id, not delete it.
    const replays = new Adapter('ReplayDetection');
    for (const [i, expiresIn] of [0, -1, -30, Number.NaN, 0.2].entries()) {
      const id = `jti-boundary-${i}`;
      expect(await replays.find(id)).toBeUndefined();
      await replays.upsert(id, { jti: id, iss: 'jwt-app', kind: 'ReplayDetection' }, expiresIn);
      expect(await replays.find(id)).toMatchObject({ iss: 'jwt-app' });
      expect(await replays.find(id)).toMatchObject({ iss: 'jwt-app' });
      const ttl = await redis.pttl(`${prefix}:ReplayDetection:{${id}}`);
      expect(ttl).toBeGreaterThan(1_000);
      expect(ttl).toBeLessThanOrEqual(5_000);
      // A save without a preceding lookup is kept as well.
      await replays.upsert(`${id}-direct`, { jti: id, iss: 'jwt-app', kind: 'ReplayDetection' }, expiresIn);
      expect(await replays.find(`${id}-direct`)).toMatchObject({ iss: 'jwt-app' });
    }
    // Models where a missing entry means "refused" still end when saved already expired.
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('code-expired', { grantId: 'g-code-expired' }, 60);
    await codes.upsert('code-expired', { grantId: 'g-code-expired' }, 0);
    expect(await codes.find('code-expired')).toBeUndefined();
  });

  it('throws a typed error that quotes nothing for an entry it cannot decode, instead of a parser error', async () => {
    const codes = new Adapter('AuthorizationCode');
    const sessions = new Adapter('Session');
    await sessions.upsert('s-corrupt', { uid: 'uid-corrupt', accountId: 'alice' }, 60);
    // Written by something else under the adapter's keys: broken JSON that starts with a secret,
    // JSON that is not an object, a consumed mark that is not a number.
    const corrupt: [string, Record<string, string>][] = [
      ['not-json', { p: 'secret-grant-7f3a{' }],
      ['empty', { p: '' }],
      ['null', { p: 'null' }],
      ['array', { p: '["secret-grant-7f3a"]' }],
      ['string', { p: '"secret-grant-7f3a"' }],
      ['bad-mark', { p: '{"grantId":"g"}', c: 'secret-grant-7f3a' }],
      ['empty-mark', { p: '{"grantId":"g"}', c: '' }],
    ];
    for (const [id, fields] of corrupt) {
      await redis.hset(`${prefix}:AuthorizationCode:{${id}}`, fields);
      const error = await codes.find(id).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisStoreError);
      expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY', retryable: false });
      expect((error as Error).cause).toBeUndefined();
      expect((error as Error).message).not.toContain('secret');
      expect((error as Error).message).toContain('AuthorizationCode');
    }
    // Through a lookup key too.
    await redis.hset(`${prefix}:Session:{s-corrupt}`, { p: 'secret-session-9{' });
    const error = await sessions.findByUid('uid-corrupt').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_REDIS_UNEXPECTED_REPLY' });
    expect((error as Error).message).not.toContain('secret');
    // A consumed mark the adapter wrote still reads back as a number.
    await codes.upsert('code-ok', { grantId: 'g-ok' }, 60);
    await codes.consume('code-ok');
    expect(await codes.find('code-ok')).toMatchObject({ grantId: 'g-ok', consumed: expect.any(Number) });
  });

  it('never makes a consumed entry usable again when it is saved again', async () => {
    const codes = new Adapter('AuthorizationCode');
    await codes.upsert('code-resaved', { grantId: 'g-resaved' }, 60);
    await codes.consume('code-resaved');
    await codes.upsert('code-resaved', { grantId: 'g-resaved', extra: 1 }, 60);
    expect(await codes.find('code-resaved')).toMatchObject({ extra: 1, consumed: expect.any(Number) });
    await expect(codes.consume('code-resaved')).rejects.toThrow();
    // A payload saved with `consumed` is consumed, whatever was stored before.
    await codes.upsert('code-saved-consumed', { grantId: 'g-resaved', consumed: 1_700_000_000 }, 60);
    expect(await codes.find('code-saved-consumed')).toMatchObject({ consumed: 1_700_000_000 });
    await expect(codes.consume('code-saved-consumed')).rejects.toThrow();
    // A re-save still replaces the TTL.
    await codes.upsert('code-resaved', { grantId: 'g-resaved' }, 30);
    expect(await redis.pttl(`${prefix}:AuthorizationCode:{code-resaved}`)).toBeLessThanOrEqual(30_000);
  });

  it('indexes and revokes tokens of any grant id, braces and percent signs included, without mixing grants up', async () => {
    const tokens = new Adapter('AccessToken');
    // Each grant id would, put into the hash tag as it is, give its index and revoked-mark keys
    // different slots ('}' first: an empty tag) or collide with another grant id once escaped.
    const grantIds = ['}lead', '}', '{', '{}', 'a{b}c', '%7D', '%7B', '%', '%25', '%%7B', 'a%7B', 'plain'];
    for (const [i, grantId] of grantIds.entries()) {
      await tokens.upsert(`at-brace-${i}`, { grantId }, 60);
    }
    for (const [i, grantId] of grantIds.entries()) {
      await tokens.revokeByGrantId(grantId);
      expect(await tokens.find(`at-brace-${i}`)).toBeUndefined();
      // Revoking one grant leaves every other grant's token alone.
      for (let j = i + 1; j < grantIds.length; j++) expect(await tokens.find(`at-brace-${j}`)).toBeDefined();
    }
    // A token saved for a revoked grant is still refused.
    await tokens.upsert('at-brace-late', { grantId: '}lead' }, 60);
    expect(await tokens.find('at-brace-late')).toBeUndefined();
  });

  it('keeps the index key of a grant id without braces as it was, percent signs included', async () => {
    const tokens = new Adapter('AccessToken');
    await tokens.upsert('at-percent', { grantId: 'g%1' }, 60);
    // Keys written before ids with braces were escaped stay where revokeByGrantId looks.
    expect(await redis.exists(`${prefix}:grant:{g%1}`)).toBe(1);
  });

  it('refuses every call at once while Redis is down, sending nothing and leaving no unhandled rejection', async () => {
    // A server of ours that drops every connection: no other process can answer on its port.
    const closing = await startClosingServer();
    const down = new Redis({
      host: '127.0.0.1',
      port: closing.port,
      enableOfflineQueue: false,
      lazyConnect: true,
    });
    down.on('error', () => {});
    const unhandled: unknown[] = [];
    const collect = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', collect);
    try {
      const Down = createOidcProviderAdapter({ redis: down, prefix, timeoutMs: 200, registry: new CacheRegistry() });
      const sessions = new Down('Session');
      const codes = new Down('DeviceCode');
      for (const call of [
        () => sessions.upsert('s', { uid: 'u', grantId: 'g' }, 60),
        () => codes.upsert('d', { grantId: 'g', userCode: 'ABCD' }, 60),
        () => codes.find('d'),
        () => codes.consume('d'),
        () => sessions.destroy('s'),
        () => codes.destroy('d'),
        () => codes.revokeByGrantId('g'),
      ]) {
        await expect(call()).rejects.toMatchObject({ code: 'ERR_REDIS_UNAVAILABLE' });
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', collect);
      down.disconnect();
      await closing.stop();
    }
  });
});

describe('createOidcProviderAdapter in the cache registry', () => {
  const client = { evalsha: () => undefined } as unknown as RedisClient;
  const run = `${process.pid}-${Date.now().toString(36)}`;

  it('lets adapters with different prefixes share the default registry, one audit row each', () => {
    const A = createOidcProviderAdapter({ redis: client, prefix: `a-${run}` });
    const B = createOidcProviderAdapter({ redis: client, prefix: `b-${run}` });
    const names = cacheRegistry
      .rows()
      .filter((r) => r.kind === 'OidcProviderAdapter')
      .map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining([`oidc-provider@a-${run}`, `oidc-provider@b-${run}`]));
    A.close();
    B.close();
    const after = cacheRegistry.rows().filter((r) => r.name.endsWith(run));
    expect(after).toEqual([]);
  });

  it('treats a second adapter with the same prefix and name as the same store, until the last one closes', () => {
    const registry = new CacheRegistry();
    const first = createOidcProviderAdapter({ redis: client, prefix: `same-${run}`, registry });
    const second = createOidcProviderAdapter({ redis: client, prefix: `same-${run}:`, registry });
    expect(registry.rows()).toHaveLength(1);
    first.close();
    first.close();
    expect(registry.rows()).toHaveLength(1);
    second.close();
    expect(registry.rows()).toHaveLength(0);
    // The default prefix keeps the historical name.
    const defaults = createOidcProviderAdapter({ redis: client, registry });
    expect(registry.rows().map((r) => r.name)).toEqual(['oidc-provider']);
    defaults.close();
  });

  it('refuses one name for two different prefixes, naming the option to fix', () => {
    const registry = new CacheRegistry();
    const first = createOidcProviderAdapter({ redis: client, prefix: `one-${run}`, name: 'idp', registry });
    const error = (() => {
      try {
        createOidcProviderAdapter({ redis: client, prefix: `two-${run}`, name: 'idp', registry });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(RedisStoreError);
    expect(error).toMatchObject({ code: 'ERR_REDIS_INVALID_OPTIONS' });
    expect((error as Error).message).toContain('name');
    expect((error as Error).message).not.toContain(`two-${run}`);
    first.close();
    // Once the first is closed, the name is free again.
    createOidcProviderAdapter({ redis: client, prefix: `two-${run}`, name: 'idp', registry }).close();
  });
});
