/**
 * The introspection breaker against a real authorization server (oidc-provider issuing opaque
 * tokens), behind a small node:http proxy that fails for attacker-chosen tokens: it answers 500 to
 * tokens starting with "poison", never answers tokens starting with "stall", answers 500 to
 * everything while `down`, and forwards the rest. Calls are counted at the proxy; no assertion
 * depends on timing.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { getFreePort } from '@rampart/testkit';
import Provider from 'oidc-provider';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { type BearerError, type BearerVerifier, createBearerVerifier } from '../src/index.ts';
import type { IntrospectionOptions } from '../src/introspection-options.ts';
import { closeServer, listen } from './harness.ts';

const RESOURCE = 'https://opaque.api.test';
const secrets = { client: randomBytes(24).toString('base64url'), rs: randomBytes(24).toString('base64url') };

let issuer: string;
let authServer: Server;
let proxy: Server;
let proxyUrl: string;
/** The token of every call that reached the proxy, in order. */
let seen: string[] = [];
/** When true the proxy answers 500 to everything: an authorization server that is down. */
let down = false;
const stalled: ServerResponse[] = [];

/** Closes `server` if it was started (a failed `beforeAll` may not have got that far). */
async function stop(server: Server | undefined): Promise<void> {
  if (server?.listening) await closeServer(server);
}

beforeAll(async () => {
  const port = await getFreePort();
  issuer = `http://127.0.0.1:${port}`;
  const service = { redirect_uris: [], response_types: [] };
  const provider = new Provider(issuer, {
    clients: [
      {
        ...service,
        client_id: 'opaque-client',
        client_secret: secrets.client,
        grant_types: ['client_credentials'],
        scope: 'orders:read',
      },
      { ...service, grant_types: [], client_id: 'orders-api', client_secret: secrets.rs },
    ],
    scopes: ['orders:read'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: 'orders:read',
          audience: RESOURCE,
          accessTokenTTL: 300,
          accessTokenFormat: 'opaque',
        }),
      },
    },
  } as never);
  authServer = createServer(provider.callback());
  authServer.listen(port, '127.0.0.1');
  await once(authServer, 'listening');

  proxy = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString();
    const token = new URLSearchParams(body).get('token') ?? '';
    seen.push(token);
    if (token.startsWith('stall')) {
      stalled.push(res);
      return;
    }
    if (down || token.startsWith('poison')) {
      res.statusCode = 500;
      res.end('internal server error');
      return;
    }
    try {
      const upstream = await fetch(`${issuer}/token/introspection`, {
        method: 'POST',
        headers: {
          'content-type': req.headers['content-type'] ?? '',
          authorization: req.headers.authorization ?? '',
          accept: req.headers.accept ?? '',
        },
        body,
      });
      res.statusCode = upstream.status;
      res.setHeader('content-type', upstream.headers.get('content-type') ?? 'application/json');
      res.end(await upstream.text());
    } catch {
      res.statusCode = 502;
      res.end();
    }
  });
  await listen(proxy);
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/token/introspection`;
});

afterAll(async () => {
  await stop(proxy);
  await stop(authServer);
});

beforeEach(() => {
  seen = [];
  down = false;
});

afterEach(() => {
  vi.useRealTimers();
  for (const res of stalled.splice(0)) res.destroy();
});

/** A fresh opaque access token from oidc-provider (client credentials). */
async function issueToken(): Promise<string> {
  const response = await fetch(`${issuer}/token`, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`opaque-client:${secrets.client}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope: 'orders:read', resource: RESOURCE }),
  });
  expect(response.status).toBe(200);
  const token = ((await response.json()) as { access_token: string }).access_token;
  expect(token.split('.')).toHaveLength(1);
  return token;
}

const verifierWith = (extra: Partial<IntrospectionOptions> = {}, now?: () => number): BearerVerifier =>
  createBearerVerifier({
    realm: 'api',
    ...(now === undefined ? {} : { now }),
    introspection: {
      endpoint: proxyUrl,
      issuer,
      audience: RESOURCE,
      clientId: 'orders-api',
      authentication: { method: 'client_secret_basic', clientSecret: secrets.rs },
      ...extra,
    },
  });

/** The error of a rejected verification; no message may show a token or the client secret. */
async function failure(verifier: BearerVerifier, token: string, secret?: string): Promise<BearerError> {
  try {
    await verifier.verify(token);
  } catch (error) {
    const message = (error as Error).message;
    expect(message).not.toContain(token);
    expect(message).not.toContain(secrets.rs);
    if (secret !== undefined) expect(message).not.toContain(secret);
    return error as BearerError;
  }
  throw new Error('expected a rejection');
}

const unique = (prefix: string): string => `${prefix}-${randomBytes(9).toString('base64url')}`;
const UNAVAILABLE = 'ERR_BEARER_INTROSPECTION_UNAVAILABLE';
const codes = async (verifier: BearerVerifier, tokens: string[], secret?: string): Promise<string[]> =>
  Promise.all(tokens.map(async (token) => (await failure(verifier, token, secret)).code));
const retryAfter = (verifier: BearerVerifier, error: BearerError): string | undefined =>
  verifier.toResponse(error).headers['retry-after'];

/**
 * A verifier (threshold 2, window 10 s, monotonic clock faked) that remembered a valid token, then
 * opened its breaker in an outage: two garbage tokens failed, and so did the confirmation with it.
 */
async function openedInOutage(): Promise<{ verifier: BearerVerifier; witness: string }> {
  vi.useFakeTimers({ toFake: ['performance'] });
  const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 10_000 });
  const witness = await issueToken();
  await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
  down = true;
  await codes(verifier, [unique('garbage'), unique('garbage')]);
  expect(seen).toHaveLength(4);
  return { verifier, witness };
}

describe('introspection breaker confirmation (oidc-provider behind a failing proxy)', () => {
  it('does not open for tokens the server answers 500 to while a valid token was seen: a fresh valid token is still accepted', async () => {
    const verifier = verifierWith({ failureThreshold: 3, failureBackoffMs: 30_000 });
    const witness = await issueToken();
    await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
    for (let round = 0; round < 3; round++) {
      // failureThreshold concurrent attacker tokens, then one more round: before, this opened the breaker.
      const poison = Array.from({ length: 3 }, () => unique('poison'));
      expect(await codes(verifier, poison, witness)).toEqual(Array(3).fill(UNAVAILABLE));
    }
    const fresh = await issueToken();
    const before = seen.length;
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ issuer });
    expect(seen.slice(before)).toEqual([fresh]);
    // Each confirmation sent the remembered valid token, the same client authentication and endpoint.
    expect(seen.filter((token) => token === witness).length).toBe(1 + 3);
  });

  it('does not open for tokens the server never answers (timeouts) while a valid token was seen', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 30_000, timeoutMs: 1_000 });
    const witness = await issueToken();
    await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
    expect(await codes(verifier, [unique('stall'), unique('stall')], witness)).toEqual([UNAVAILABLE, UNAVAILABLE]);
    const fresh = await issueToken();
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ issuer });
    expect(seen.filter((token) => token === witness)).toHaveLength(2);
    expect(seen.at(-1)).toBe(fresh);
  });

  it('still opens on a real outage after failureThreshold failures, and half-open confirms a failed probe before reopening', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const verifier = verifierWith({ failureThreshold: 3, failureBackoffMs: 10_000 });
    const witness = await issueToken();
    await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
    down = true;
    const first = [unique('garbage'), unique('garbage'), unique('garbage')];
    const errors: BearerError[] = [];
    for (const token of first) errors.push(await failure(verifier, token, witness));
    expect(errors.map((error) => error.code)).toEqual(Array(3).fill(UNAVAILABLE));
    // The third failure sent one confirmation with the valid token; it failed too, so the breaker opened.
    expect(seen).toEqual([witness, ...first, witness]);
    expect(retryAfter(verifier, errors[1] as BearerError)).toBe('5');
    expect(retryAfter(verifier, errors[2] as BearerError)).toBe('10');
    // Open: nothing reaches the server, not even a valid token.
    const valid = await issueToken();
    expect((await failure(verifier, valid)).code).toBe(UNAVAILABLE);
    expect(await codes(verifier, [unique('x'), unique('x')])).toEqual([UNAVAILABLE, UNAVAILABLE]);
    expect(seen).toHaveLength(5);
    // Half-open: one probe; it fails, one confirmation fails too, and the breaker reopens for a whole window.
    vi.advanceTimersByTime(10_000);
    const probe = unique('probe');
    const probeError = await failure(verifier, probe, witness);
    expect(seen.slice(5)).toEqual([probe, witness]);
    expect(retryAfter(verifier, probeError)).toBe('10');
    expect((await failure(verifier, valid)).code).toBe(UNAVAILABLE);
    expect(seen).toHaveLength(7);
    // Back up: the next probe is a valid token, accepted, and the breaker is closed again.
    vi.advanceTimersByTime(10_000);
    down = false;
    await expect(verifier.verify(valid)).resolves.toMatchObject({ issuer });
    expect(await codes(verifier, [unique('after'), unique('after')])).toEqual([
      'ERR_BEARER_TOKEN_INVALID',
      'ERR_BEARER_TOKEN_INVALID',
    ]);
    expect(seen).toHaveLength(10);
  });

  it('closes again when a failed half-open probe was token-specific and the confirmation succeeds', async () => {
    const { verifier, witness } = await openedInOutage();
    vi.advanceTimersByTime(10_000);
    down = false;
    // The attacker takes the probe with a token the server fails on: the confirmation shows the
    // server is up, so the breaker closes instead of staying open for another window.
    const probe = unique('poison');
    expect(retryAfter(verifier, await failure(verifier, probe, witness))).toBe('5');
    expect(seen.slice(4)).toEqual([probe, witness]);
    const fresh = await issueToken();
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ issuer });
  });

  it('opens as before when no valid token is remembered', async () => {
    const verifier = verifierWith({ failureThreshold: 3, failureBackoffMs: 30_000 });
    const poison = Array.from({ length: 3 }, () => unique('poison'));
    expect(await codes(verifier, poison)).toEqual(Array(3).fill(UNAVAILABLE));
    expect(seen).toHaveLength(3);
    const fresh = await issueToken();
    expect((await failure(verifier, fresh)).code).toBe(UNAVAILABLE);
    expect(seen).toHaveLength(3);
  });

  it('forgets the remembered token 60 s after its answer, whatever the cache lifetime', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 30_000, cacheMaxTtlSeconds: 2 });
    const witness = await issueToken();
    await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
    // Past the cache lifetime, within 60 s: still confirmed with.
    vi.advanceTimersByTime(59_000);
    expect(await codes(verifier, [unique('poison'), unique('poison')])).toEqual([UNAVAILABLE, UNAVAILABLE]);
    expect(seen.filter((token) => token === witness)).toHaveLength(2);
    // The confirmation was an answer too: 60 s after it, nothing is remembered, and the breaker opens.
    vi.advanceTimersByTime(60_000);
    expect(await codes(verifier, [unique('poison'), unique('poison')])).toEqual([UNAVAILABLE, UNAVAILABLE]);
    expect(seen.filter((token) => token === witness)).toHaveLength(2);
    expect((await failure(verifier, await issueToken())).code).toBe(UNAVAILABLE);
    expect(seen).toHaveLength(6);
  });

  it('keeps a valid token answered seconds before its exp for 60 s: the attacker cannot make it expire to open the breaker', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let skewMs = 0;
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 30_000 }, () => Date.now() + skewMs);
    const witness = await issueToken();
    await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
    // The attacker's own valid token, sent 2 s before its exp (oidc-provider: 300 s after issue): the
    // newest active answer, cached for 2 s only.
    const own = await issueToken();
    skewMs = 298_000;
    await expect(verifier.verify(own)).resolves.toMatchObject({ issuer });
    skewMs = 0;
    vi.advanceTimersByTime(3_000);
    expect(await codes(verifier, [unique('poison'), unique('poison')], own)).toEqual([UNAVAILABLE, UNAVAILABLE]);
    // Still confirmed with (the server answers it, active or not): the breaker stays closed.
    expect(seen.slice(4)).toEqual([own]);
    const fresh = await issueToken();
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ issuer });
    expect(seen.at(-1)).toBe(fresh);
  });

  it('remembers a token with cacheMaxTtlSeconds 0: the confirmation does not depend on the answer cache', async () => {
    const verifier = verifierWith({
      failureThreshold: 2,
      failureBackoffMs: 30_000,
      cacheMaxTtlSeconds: 0,
      negativeCacheTtlSeconds: 0,
    });
    const witness = await issueToken();
    await expect(verifier.verify(witness)).resolves.toMatchObject({ issuer });
    expect(await codes(verifier, [unique('poison'), unique('poison')], witness)).toEqual([UNAVAILABLE, UNAVAILABLE]);
    expect(seen.filter((token) => token === witness)).toHaveLength(2);
    const fresh = await issueToken();
    await expect(verifier.verify(fresh)).resolves.toMatchObject({ issuer });
    expect(seen.at(-1)).toBe(fresh);
  });

  it('keeps the remembered token through an outage longer than 60 s, so an attacker cannot hold the breaker open by taking every probe', async () => {
    const { verifier, witness } = await openedInOutage();
    // Two minutes into the outage a probe fails, and is still confirmed with the token (it fails too).
    vi.advanceTimersByTime(120_000);
    const during = unique('garbage');
    expect(retryAfter(verifier, await failure(verifier, during, witness))).toBe('10');
    expect(seen.slice(4)).toEqual([during, witness]);
    // The server is back; the attacker takes the next probe with a token it fails on. The
    // confirmation shows the server up, so the breaker closes and valid tokens get through.
    vi.advanceTimersByTime(10_000);
    down = false;
    const probe = unique('poison');
    expect(retryAfter(verifier, await failure(verifier, probe, witness))).toBe('5');
    expect(seen.slice(6)).toEqual([probe, witness]);
    const valid = await Promise.all([issueToken(), issueToken(), issueToken()]);
    for (const token of valid) await expect(verifier.verify(token)).resolves.toMatchObject({ issuer });
    expect(seen.slice(8)).toEqual(valid);
  });

  it('forgets the remembered token 10 minutes after its last answer even while the breaker is open', async () => {
    const { verifier } = await openedInOutage();
    vi.advanceTimersByTime(600_000);
    down = false;
    // Past the cap a probe the server fails on reopens the breaker with no confirmation (README).
    const probe = unique('poison');
    expect(retryAfter(verifier, await failure(verifier, probe))).toBe('10');
    expect(seen.slice(4)).toEqual([probe]);
  });

  it('sends at most one confirmation per failureThreshold failures, preferring the newest active token', async () => {
    const verifier = verifierWith({ failureThreshold: 2, failureBackoffMs: 30_000 });
    const older = await issueToken();
    const witness = await issueToken();
    await expect(verifier.verify(older)).resolves.toBeDefined();
    await expect(verifier.verify(witness)).resolves.toBeDefined();
    // An inactive answer (a garbage token) does not replace an active token as the one remembered.
    expect((await failure(verifier, unique('garbage'))).code).toBe('ERR_BEARER_TOKEN_INVALID');
    const confirmations = () => seen.filter((token) => token === witness).length - 1;
    // One after another: exactly one confirmation per two failures.
    for (let i = 0; i < 20; i++) expect((await failure(verifier, unique('poison'), witness)).code).toBe(UNAVAILABLE);
    expect(confirmations()).toBe(10);
    expect(seen.filter((token) => token === older)).toHaveLength(1);
    // All at once: confirmations never outnumber failures / failureThreshold, and run one at a time.
    const burst = Array.from({ length: 40 }, () => unique('poison'));
    expect(await codes(verifier, burst, witness)).toEqual(Array(40).fill(UNAVAILABLE));
    expect(confirmations() - 10).toBeGreaterThanOrEqual(1);
    expect(confirmations() - 10).toBeLessThanOrEqual(20);
    // Still closed.
    await expect(verifier.verify(await issueToken())).resolves.toBeDefined();
    expect(seen.length).toBe(3 + 20 + 10 + 40 + (confirmations() - 10) + 1);
  });
});
