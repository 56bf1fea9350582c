import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestIssuer, type TestIssuer, waitFor } from '@rampart/testkit';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { closeServer, listen } from '../test/harness.ts';
import { BearerError } from './errors.ts';
import { type KeySourceEvent, remoteJwks, staticJwks } from './key-source.ts';
import { createBearerVerifier } from './verifier.ts';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0)) await fn();
});

async function issuer(): Promise<TestIssuer> {
  const created = await createTestIssuer({ algorithm: 'ES256' });
  cleanup.push(() => created.close());
  return created;
}

async function serve(handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server: Server = createServer(handler);
  await listen(server);
  cleanup.push(() => closeServer(server));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks`;
}

function verifierFor(iss: TestIssuer, jwks: Parameters<typeof remoteJwks>[1] = {}) {
  return createBearerVerifier({
    issuer: iss.issuer,
    audience: iss.audience,
    algorithms: ['ES256'],
    jwksUri: iss.jwksUri,
    jwks,
  });
}

const codeOf = (promise: Promise<unknown>): Promise<string | undefined> =>
  promise.then(
    () => undefined,
    (error: unknown) => (error as BearerError).code,
  );

describe('remoteJwks', () => {
  it('pre-warms at start-up and reports readiness', async () => {
    const iss = await issuer();
    const verifier = verifierFor(iss);
    expect(verifier.isReady()).toBe(false);
    await verifier.warm();
    expect(verifier.isReady()).toBe(true);
    expect(iss.jwksRequests).toBe(1);
    await verifier.verify(await iss.mint());
    expect(iss.jwksRequests).toBe(1);
  });

  it('rejects warm() with ERR_BEARER_KEYS_UNAVAILABLE when the issuer is down', async () => {
    const iss = await issuer();
    iss.setJwksAvailable(false);
    const verifier = verifierFor(iss);
    expect(await codeOf(verifier.warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
    expect(verifier.isReady()).toBe(false);
  });

  it('keeps verifying with known keys while the issuer is down (stale-if-error), then answers 503', async () => {
    const iss = await issuer();
    const events: KeySourceEvent['type'][] = [];
    const verifier = verifierFor(iss, {
      cacheMaxAgeMs: 1_000,
      staleIfErrorMs: 1_500,
      failureBackoffMs: 0,
      onEvent: (event) => events.push(event.type),
    });
    const token = await iss.mint();
    await verifier.verify(token);
    iss.setJwksAvailable('reset');
    // Past cacheMaxAge: the refresh fails but the known key keeps working.
    await waitFor(
      async () => {
        await verifier.verify(token);
        return events.includes('jwks.stale_served');
      },
      { timeoutMs: 5_000, what: 'a stale key set to be served' },
    );
    expect(verifier.isReady()).toBe(true);
    // Past cacheMaxAge + staleIfError: keys are gone, and the answer is 503, never 401.
    await waitFor(async () => (await codeOf(verifier.verify(token))) === 'ERR_BEARER_KEYS_UNAVAILABLE', {
      timeoutMs: 6_000,
      what: 'the stale window to end',
    });
    const error = await verifier.verify(token).catch((e: unknown) => e);
    const response = verifier.toResponse(error);
    expect(response.status).toBe(503);
    expect(response.headers['retry-after']).toBeDefined();
    // The issuer comes back: tokens verify again.
    iss.setJwksAvailable(true);
    await waitFor(async () => (await codeOf(verifier.verify(token))) === undefined, {
      timeoutMs: 5_000,
      what: 'recovery',
    });
  });

  it('costs at most one fetch per cooldown under a flood of unknown kids, and valid tokens keep working', async () => {
    const iss = await issuer();
    const verifier = verifierFor(iss, { cooldownMs: 60_000 });
    const valid = await iss.mint();
    await verifier.verify(valid);
    const before = iss.jwksRequests;
    const flood = await Promise.all(
      Array.from({ length: 200 }, async (_, i) =>
        codeOf(verifier.verify(await iss.mint({ header: { kid: `random-${i}` } }))),
      ),
    );
    expect(new Set(flood)).toEqual(new Set(['ERR_BEARER_TOKEN_INVALID']));
    expect(iss.jwksRequests - before).toBeLessThanOrEqual(1);
    await expect(verifier.verify(valid)).resolves.toBeDefined();
  });

  it('picks up a rotated key through one refetch on the new kid', async () => {
    const iss = await issuer();
    const verifier = verifierFor(iss, { cooldownMs: 0 });
    await verifier.verify(await iss.mint());
    await iss.rotate();
    await expect(verifier.verify(await iss.mint())).resolves.toBeDefined();
    expect(iss.jwksRequests).toBe(2);
  });

  it('refreshes ahead of expiry in the background', async () => {
    const iss = await issuer();
    const verifier = verifierFor(iss, { cacheMaxAgeMs: 1_000, refreshAheadRatio: 0.5 });
    const token = await iss.mint();
    await verifier.verify(token);
    await waitFor(
      async () => {
        await verifier.verify(token);
        return iss.jwksRequests >= 2;
      },
      { timeoutMs: 5_000, what: 'a refresh-ahead fetch' },
    );
  });

  it('refuses an oversized JWKS body', async () => {
    const url = await serve((_req, res) => res.end(JSON.stringify({ keys: [], pad: 'x'.repeat(100_000) })));
    const keys = remoteJwks(url, { maxBodyBytes: 1024 });
    expect(await codeOf(keys.warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
  });

  it('refuses an oversized chunked JWKS body without a content-length', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      for (let i = 0; i < 50; i++) res.write(' '.repeat(1024));
      res.end('{"keys":[]}');
    });
    expect(await codeOf(remoteJwks(url, { maxBodyBytes: 4096 }).warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
  });

  it('treats a JWKS that is not JSON, or not a key set, as unavailable', async () => {
    for (const body of ['<html>', '{"keys":{}}', '[]', '{"keys":[1]}', '{"keys":[],"keys":[]}']) {
      const url = await serve((_req, res) => res.end(body));
      expect(await codeOf(remoteJwks(url).warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
    }
  });

  it('answers 401, not 503, when the fetched key is unusable for the token (RSA under 2048 bits)', async () => {
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const url = await serve((_req, res) =>
      res.end(JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'weak', alg: 'RS256' }] })),
    );
    const verifier = createBearerVerifier({
      issuer: 'https://weak.test',
      audience: 'a',
      algorithms: ['RS256'],
      jwksUri: url,
    });
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${b64({ alg: 'RS256', kid: 'weak', typ: 'at+jwt' })}.${b64({ iss: 'https://weak.test', aud: 'a', exp: Math.floor(Date.now() / 1000) + 60 })}`;
    const token = `${input}.${sign('sha256', Buffer.from(input), privateKey).toString('base64url')}`;
    expect(await codeOf(verifier.verify(token))).toBe('ERR_BEARER_TOKEN_INVALID');
  });

  it('answers 503, not 401, when the issuer publishes a key that does not import', async () => {
    const { generateKeyPairSync, sign } = await import('node:crypto');
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = publicKey.export({ format: 'jwk' }) as { x: string; y: string };
    // A point that is not on the curve: WebCrypto refuses to import it.
    const broken = { ...jwk, y: Buffer.alloc(32, 7).toString('base64url'), kid: 'k1', alg: 'ES256' };
    const url = await serve((_req, res) => res.end(JSON.stringify({ keys: [broken] })));
    const verifier = createBearerVerifier({
      issuer: 'https://broken.test',
      audience: 'a',
      algorithms: ['ES256'],
      jwksUri: url,
    });
    const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const input = `${b64({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })}.${b64({ iss: 'https://broken.test', aud: 'a', exp: Math.floor(Date.now() / 1000) + 60 })}`;
    const signature = sign('sha256', Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' });
    expect(await codeOf(verifier.verify(`${input}.${signature.toString('base64url')}`))).toBe(
      'ERR_BEARER_KEYS_UNAVAILABLE',
    );
  });

  it('does not follow redirects', async () => {
    const iss = await issuer();
    const url = await serve((_req, res) => res.writeHead(302, { location: iss.jwksUri }).end());
    expect(await codeOf(remoteJwks(url).warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
    expect(iss.jwksRequests).toBe(0);
  });

  it('times out a hanging JWKS endpoint', async () => {
    const url = await serve(() => {
      // never answers
    });
    expect(await codeOf(remoteJwks(url, { timeoutMs: 200 }).warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
  });

  it('refuses a JWKS that contains symmetric or private keys', async () => {
    const url = await serve((_req, res) => res.end(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })));
    expect(await codeOf(remoteJwks(url).warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
  });

  it('drops a refused entry and takes the remaining keys as the new set (rotation with an oct key)', async () => {
    const k1 = await generateKeyPair('ES256');
    const k2 = await generateKeyPair('ES256');
    const jwk1 = { ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'ES256' };
    const jwk2 = { ...(await exportJWK(k2.publicKey)), kid: 'k2', alg: 'ES256' };
    let body = JSON.stringify({ keys: [jwk1] });
    const url = await serve((_req, res) => res.end(body));
    const events: KeySourceEvent[] = [];
    const verifier = createBearerVerifier({
      issuer: 'https://rotation.test',
      audience: 'a',
      algorithms: ['ES256'],
      jwksUri: url,
      jwks: { cacheMaxAgeMs: 1_000, cooldownMs: 0, failureBackoffMs: 0, onEvent: (event) => events.push(event) },
    });
    const mint = (key: CryptoKey, kid: string): Promise<string> =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid, typ: 'at+jwt' })
        .setIssuer('https://rotation.test')
        .setAudience('a')
        .setExpirationTime('2m')
        .sign(key);
    const t1 = await mint(k1.privateKey, 'k1');
    const t2 = await mint(k2.privateKey, 'k2');
    await verifier.warm();
    expect(await codeOf(verifier.verify(t1))).toBeUndefined();
    body = `{"keys":[${JSON.stringify(jwk2)},{"kty":"oct","kid":"hmac","k":"c2VjcmV0"},{"kty":"EC","kid":"dup","kid":"dup2"}]}`;
    await waitFor(async () => (await codeOf(verifier.verify(t1))) === 'ERR_BEARER_TOKEN_INVALID', {
      timeoutMs: 5_000,
      what: 'the removed key to stop verifying',
    });
    expect(await codeOf(verifier.verify(t2))).toBeUndefined();
    expect(verifier.isReady()).toBe(true);
    expect(verifier.toResponse(await verifier.verify(t1).catch((e: unknown) => e)).status).toBe(401);
    const refused = events.filter((event) => event.type === 'jwks.key_refused');
    expect(refused).toContainEqual({ type: 'jwks.key_refused', url, kid: 'hmac', reason: expect.any(String) });
    expect(refused.length).toBeGreaterThanOrEqual(2);
    expect(events.map((event) => event.type)).not.toContain('jwks.stale_served');
    expect(JSON.stringify(events)).not.toContain('c2VjcmV0');
  });

  it.each([
    ['only private keys', []],
    ['private keys and an empty entry', [{}]],
    ['private keys and an entry with no public members', [{ kty: 'RSA' }]],
    ['private keys and an entry of an unknown kty', [{ kty: 'XYZ', kid: 'junk' }]],
    // Keycloak and others also publish an encryption key: it verifies nothing.
    [
      'private keys and an encryption key',
      [{ kty: 'RSA', kid: 'enc1', use: 'enc', alg: 'RSA-OAEP', n: 'sXch', e: 'AQAB' }],
    ],
    [
      'private keys and an X25519 key',
      [{ kty: 'OKP', kid: 'x1', crv: 'X25519', x: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' }],
    ],
  ])('refuses a key set whose every entry is refused, without serving the previous set (%s)', async (_name, junk) => {
    const k1 = await generateKeyPair('ES256', { extractable: true });
    const jwk1 = { ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'ES256' };
    let body = JSON.stringify({ keys: [jwk1] });
    const url = await serve((_req, res) => res.end(body));
    const events: KeySourceEvent['type'][] = [];
    const verifier = createBearerVerifier({
      issuer: 'https://private.test',
      audience: 'a',
      algorithms: ['ES256'],
      jwksUri: url,
      jwks: { cacheMaxAgeMs: 1_000, failureBackoffMs: 0, onEvent: (event) => events.push(event.type) },
    });
    const t1 = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer('https://private.test')
      .setAudience('a')
      .setExpirationTime('2m')
      .sign(k1.privateKey);
    await verifier.warm();
    expect(await codeOf(verifier.verify(t1))).toBeUndefined();
    // The issuer now publishes its private key only: a serious misconfiguration, fail closed.
    body = JSON.stringify({ keys: [{ ...(await exportJWK(k1.privateKey)), kid: 'k1', alg: 'ES256' }, ...junk] });
    await waitFor(async () => (await codeOf(verifier.verify(t1))) === 'ERR_BEARER_KEYS_UNAVAILABLE', {
      timeoutMs: 5_000,
      what: 'the private-only set to be refused',
    });
    expect(verifier.isReady()).toBe(false);
    expect(events).toContain('jwks.key_refused');
    expect(events).not.toContain('jwks.stale_served');
  });

  it.each([
    ['an empty key set', []],
    ['only an encryption key', [{ kty: 'RSA', kid: 'enc1', use: 'enc', alg: 'RSA-OAEP', n: 'sXch', e: 'AQAB' }]],
    [
      'only an X25519 key',
      [{ kty: 'OKP', kid: 'x1', crv: 'X25519', x: 'hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo' }],
    ],
  ])('refuses a fetched set with no verification key, without serving the previous set (%s)', async (_name, keys) => {
    const k1 = await generateKeyPair('ES256');
    const jwk1 = { ...(await exportJWK(k1.publicKey)), kid: 'k1', alg: 'ES256' };
    let body = JSON.stringify({ keys: [jwk1] });
    const url = await serve((_req, res) => res.end(body));
    const events: KeySourceEvent['type'][] = [];
    const verifier = createBearerVerifier({
      issuer: 'https://nosig.test',
      audience: 'a',
      algorithms: ['ES256'],
      jwksUri: url,
      jwks: { cacheMaxAgeMs: 1_000, failureBackoffMs: 0, onEvent: (event) => events.push(event.type) },
    });
    const t1 = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', typ: 'at+jwt' })
      .setIssuer('https://nosig.test')
      .setAudience('a')
      .setExpirationTime('2m')
      .sign(k1.privateKey);
    await verifier.warm();
    expect(await codeOf(verifier.verify(t1))).toBeUndefined();
    body = JSON.stringify({ keys });
    await waitFor(async () => (await codeOf(verifier.verify(t1))) === 'ERR_BEARER_KEYS_UNAVAILABLE', {
      timeoutMs: 5_000,
      what: 'the set without verification keys to be refused',
    });
    expect(verifier.isReady()).toBe(false);
    expect(verifier.toResponse(await verifier.verify(t1).catch((e: unknown) => e)).status).toBe(503);
    expect(events).not.toContain('jwks.stale_served');
  });

  it('refuses plain http to a non-loopback host and URLs with credentials', () => {
    expect(() => remoteJwks('http://id.example.com/jwks')).toThrow(BearerError);
    expect(() => remoteJwks('https://user:pass@id.example.com/jwks')).toThrow(BearerError);
    expect(() => remoteJwks('https://id.example.com/jwks', { timeoutMs: 0 })).toThrow(BearerError);
    expect(() => remoteJwks('https://id.example.com/jwks', { allowInsecureHttp: false })).not.toThrow();
  });

  it('does not hammer a down issuer: one attempt per failure backoff', async () => {
    const iss = await issuer();
    iss.setJwksAvailable(false);
    const verifier = verifierFor(iss, { failureBackoffMs: 60_000 });
    const token = await iss.mint();
    const codes = await Promise.all(Array.from({ length: 50 }, () => codeOf(verifier.verify(token))));
    expect(new Set(codes)).toEqual(new Set(['ERR_BEARER_KEYS_UNAVAILABLE']));
    expect(await codeOf(verifier.verify(token))).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
    expect(iss.jwksRequests).toBe(1);
  });
});

describe('remoteJwks readiness on an idle service', () => {
  const minute = 60_000;
  // Only Date is faked (jose and the key source read the same clock); I/O and timers stay real.
  afterEach(() => {
    vi.useRealTimers();
  });

  async function fakeIssuer() {
    const { publicKey } = await generateKeyPair('ES256');
    const body = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] });
    const state = { fetches: 0, up: true, refreshed: 0, failed: 0 };
    // Settled attempts, counted from events: a fetch call alone does not mean the outcome was recorded.
    const onEvent = (event: KeySourceEvent): void => {
      if (event.type === 'jwks.refreshed') state.refreshed++;
      if (event.type === 'jwks.refresh_failed') state.failed++;
    };
    const fetch = (async () => {
      state.fetches++;
      return state.up ? new Response(body, { status: 200 }) : new Response('down', { status: 503 });
    }) as typeof globalThis.fetch;
    return { state, fetch, onEvent };
  }

  // The fake clock stands still, so the deadline is measured on a real monotonic clock.
  async function pollUntil(probe: () => boolean, what: string): Promise<void> {
    const deadline = performance.now() + 5_000;
    while (!probe()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  const options = { cacheMaxAgeMs: 10 * minute, staleIfErrorMs: 60 * minute, failureBackoffMs: 5_000 };

  it('refreshes keys from the readiness probe alone once they are past the stale window', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { state, fetch, onEvent } = await fakeIssuer();
    const keys = remoteJwks('https://id.example.test/jwks', { ...options, fetch, onEvent });
    await keys.warm();
    expect(state.fetches).toBe(1);
    // No request for 71 minutes: past cacheMaxAge + staleIfError.
    vi.setSystemTime(Date.now() + 71 * minute);
    expect(keys.isReady()).toBe(false);
    await pollUntil(() => keys.isReady(), 'the probe-started refresh');
    expect(state.fetches).toBe(2);
    expect(keys.isDegraded()).toBe(false);
    // Fresh again: further probes cost nothing.
    for (let i = 0; i < 20; i++) expect(keys.isReady()).toBe(true);
    expect(state.fetches).toBe(2);
  });

  it('refreshes ahead from the probe while still ready, with one fetch in flight at most', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { state, fetch, onEvent } = await fakeIssuer();
    const keys = remoteJwks('https://id.example.test/jwks', { ...options, fetch, onEvent });
    await keys.warm();
    vi.setSystemTime(Date.now() + 9 * minute);
    for (let i = 0; i < 20; i++) expect(keys.isReady()).toBe(true);
    await pollUntil(() => state.refreshed === 2, 'the refresh-ahead fetch');
    expect(state.fetches).toBe(2);
    // The refresh restarted the clock: 71 minutes after warm() the keys are still within their window.
    vi.setSystemTime(Date.now() + 62 * minute);
    expect(keys.isReady()).toBe(true);
  });

  it('stays unready while the issuer is down and probes at most once per failure backoff', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { state, fetch, onEvent } = await fakeIssuer();
    const keys = remoteJwks('https://id.example.test/jwks', { ...options, fetch, onEvent });
    await keys.warm();
    state.up = false;
    vi.setSystemTime(Date.now() + 71 * minute);
    expect(keys.isReady()).toBe(false);
    await pollUntil(() => state.failed === 1, 'the failed refresh');
    expect(state.fetches).toBe(2);
    // A probe storm inside the backoff costs no fetch.
    for (let i = 0; i < 100; i++) expect(keys.isReady()).toBe(false);
    await new Promise((resolve) => setImmediate(resolve));
    expect(state.fetches).toBe(2);
    // Each elapsed backoff allows exactly one more attempt.
    vi.setSystemTime(Date.now() + 5_000);
    for (let i = 0; i < 100; i++) expect(keys.isReady()).toBe(false);
    await pollUntil(() => state.failed === 2, 'the retry after the backoff');
    expect(state.fetches).toBe(3);
    expect(keys.isReady()).toBe(false);
    // The issuer recovers: the next probe after the backoff brings readiness back.
    state.up = true;
    vi.setSystemTime(Date.now() + 5_000);
    expect(keys.isReady()).toBe(false);
    await pollUntil(() => keys.isReady(), 'recovery');
    expect(state.fetches).toBe(4);
  });

  it('retries a failed start-up warm() from the readiness probe', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const { state, fetch, onEvent } = await fakeIssuer();
    state.up = false;
    const keys = remoteJwks('https://id.example.test/jwks', { ...options, fetch, onEvent });
    expect(keys.isReady()).toBe(false);
    expect(state.fetches).toBe(0);
    expect(await codeOf(keys.warm())).toBe('ERR_BEARER_KEYS_UNAVAILABLE');
    state.up = true;
    expect(keys.isReady()).toBe(false);
    expect(state.fetches).toBe(1);
    vi.setSystemTime(Date.now() + 5_000);
    expect(keys.isReady()).toBe(false);
    await pollUntil(() => keys.isReady(), 'the retried warm-up');
    expect(state.fetches).toBe(2);
  });

  it('asks every issuer of a verifier, so each one refreshes', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const a = await fakeIssuer();
    const b = await fakeIssuer();
    const verifier = createBearerVerifier({
      issuers: {
        'https://a.example.test': {
          audience: 'api',
          algorithms: ['ES256'],
          keys: remoteJwks('https://a.example.test/jwks', { ...options, fetch: a.fetch, onEvent: a.onEvent }),
        },
        'https://b.example.test': {
          audience: 'api',
          algorithms: ['ES256'],
          keys: remoteJwks('https://b.example.test/jwks', { ...options, fetch: b.fetch, onEvent: b.onEvent }),
        },
      },
    });
    await verifier.warm();
    vi.setSystemTime(Date.now() + 71 * minute);
    expect(verifier.isReady()).toBe(false);
    // One probe started both refreshes: an unready first issuer does not hide the second.
    await pollUntil(() => a.state.refreshed === 2 && b.state.refreshed === 2, 'both refreshes started by one probe');
    expect(verifier.isReady()).toBe(true);
    expect([a.state.fetches, b.state.fetches]).toEqual([2, 2]);
  });
});

describe('staticJwks', () => {
  it('verifies with fixed keys and is ready at once', async () => {
    const iss = await issuer();
    const verifier = createBearerVerifier({
      issuer: iss.issuer,
      audience: iss.audience,
      algorithms: ['ES256'],
      keys: staticJwks(iss.jwks()),
    });
    expect(verifier.isReady()).toBe(true);
    await expect(verifier.verify(await iss.mint())).resolves.toBeDefined();
    expect(iss.jwksRequests).toBe(0);
  });

  it("keeps working with an IdP's whole key set: certificate-only and unknown-type entries are left unused", async () => {
    const iss = await issuer();
    const jwks = iss.jwks() as { keys: object[] };
    const verifier = createBearerVerifier({
      issuer: iss.issuer,
      audience: iss.audience,
      algorithms: ['ES256'],
      keys: staticJwks({
        keys: [
          ...jwks.keys,
          { kty: 'RSA', kid: 'cert-only', x5c: ['MIIC'] },
          { kty: 'AKP', kid: 'pq', alg: 'ML-DSA-65', pub: 'AAAA' },
        ],
      }),
    });
    await expect(verifier.verify(await iss.mint())).resolves.toBeDefined();
  });

  it('refuses private or symmetric keys', () => {
    // ML-DSA ("AKP") keys keep their private part in `priv`.
    expect(() => staticJwks({ keys: [{ kty: 'AKP', alg: 'ML-DSA-65', pub: 'AAAA', priv: 'BBBB' }] })).toThrow(
      BearerError,
    );
    expect(() => staticJwks({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }] })).toThrow(BearerError);
    expect(() => staticJwks({ keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'c' }] })).toThrow(BearerError);
  });
});
