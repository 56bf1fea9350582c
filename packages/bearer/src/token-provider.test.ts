import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, jwtVerify } from 'jose';
import { afterEach, describe, expect, it } from 'vitest';
import { BearerError } from './errors.ts';
import { createTokenProvider, type TokenProviderOptions } from './token-provider.ts';

interface Seen {
  readonly authorization: string | undefined;
  readonly form: URLSearchParams;
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly retryAfter?: string;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

async function tokenEndpoint(
  answer: (seen: Seen, n: number) => Answer | Promise<Answer>,
): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(async (req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const entry = {
      authorization: req.headers.authorization,
      form: new URLSearchParams(Buffer.concat(chunks).toString()),
    };
    seen.push(entry);
    const { status, body, retryAfter } = await answer(entry, seen.length);
    res
      .writeHead(status, { 'content-type': 'application/json', ...(retryAfter ? { 'retry-after': retryAfter } : {}) })
      .end(JSON.stringify(body));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/token`, seen };
}

const ok = (n: number, expiresIn = 100) => ({
  status: 200,
  body: { access_token: `token-${n}`, token_type: 'Bearer', expires_in: expiresIn },
});

/** A provider for client `svc` with client_secret_basic at `url`, and `extra` options. */
const svcProvider = (url: string, extra: Partial<TokenProviderOptions> = {}) =>
  createTokenProvider({
    tokenEndpoint: url,
    clientId: 'svc',
    authentication: { method: 'client_secret_basic', clientSecret: 's3cret-value' },
    ...extra,
  });

describe('createTokenProvider', () => {
  it('sends client_secret_basic with form-encoded credentials, resource and scope', async () => {
    const endpoint = await tokenEndpoint((_s, n) => ok(n));
    const secret = 'p@ss:wörd +/';
    const provider = createTokenProvider({
      tokenEndpoint: endpoint.url,
      clientId: 'svc:a',
      authentication: { method: 'client_secret_basic', clientSecret: secret },
    });
    expect(await provider.getAuthorizationHeader({ audience: 'https://api', scopes: ['b', 'a', 'b'] })).toBe(
      'Bearer token-1',
    );
    const request = endpoint.seen[0] as (typeof endpoint.seen)[number];
    const decoded = Buffer.from((request.authorization as string).slice(6), 'base64').toString();
    expect(decoded).toBe(`${encodeURIComponent('svc:a')}:${encodeURIComponent(secret).replace(/%20/g, '+')}`);
    expect(request.form.get('grant_type')).toBe('client_credentials');
    expect(request.form.get('resource')).toBe('https://api');
    expect(request.form.get('scope')).toBe('b a');
  });

  it('signs a private_key_jwt assertion the issuer can verify', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const endpoint = await tokenEndpoint(async (seen, n) => {
      const { payload } = await jwtVerify(seen.form.get('client_assertion') as string, publicKey, {
        issuer: 'svc',
        subject: 'svc',
        audience: 'https://issuer',
      });
      expect(payload.jti).toBeTypeOf('string');
      expect(seen.form.get('client_assertion_type')).toBe('urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      expect(seen.authorization).toBeUndefined();
      return ok(n);
    });
    const provider = createTokenProvider({
      tokenEndpoint: endpoint.url,
      clientId: 'svc',
      authentication: {
        method: 'private_key_jwt',
        privateKey,
        algorithm: 'ES256',
        assertionAudience: 'https://issuer',
      },
    });
    expect(await provider.getToken()).toBe('token-1');
    expect(await exportJWK(publicKey)).toBeDefined();
  });

  it('caches per (audience, scopes) and makes one request for concurrent callers (single-flight)', async () => {
    const endpoint = await tokenEndpoint((_s, n) => ok(n));
    const provider = svcProvider(endpoint.url, {});
    const same = await Promise.all(
      Array.from({ length: 20 }, () => provider.getToken({ audience: 'a', scopes: ['x', 'y'] })),
    );
    expect(new Set(same).size).toBe(1);
    expect(await provider.getToken({ audience: 'a', scopes: ['y', 'x'] })).toBe(same[0]);
    expect(await provider.getToken({ audience: 'b', scopes: ['x', 'y'] })).not.toBe(same[0]);
    expect(endpoint.seen.length).toBe(2);
  });

  it('refreshes ahead of expiry with jitter, serving the cached token meanwhile', async () => {
    let clock = 1_000_000;
    const endpoint = await tokenEndpoint((_s, n) => ok(n, 100));
    const provider = svcProvider(endpoint.url, {
      now: () => clock,
      random: () => 1,
      refreshAheadRatio: 0.8,
      jitterRatio: 0.1,
    });
    expect(await provider.getToken()).toBe('token-1');
    clock += 69_000; // before 80 s - 10 s jitter
    expect(await provider.getToken()).toBe('token-1');
    expect(endpoint.seen.length).toBe(1);
    clock += 2_000; // past the jittered refresh point: cached token now, refresh in background
    expect(await provider.getToken()).toBe('token-1');
    await expect.poll(() => endpoint.seen.length).toBe(2);
    await expect.poll(() => provider.getToken()).toBe('token-2');
  });

  it('fetches synchronously once the cached token is about to expire', async () => {
    let clock = 0;
    const endpoint = await tokenEndpoint((_s, n) => ok(n, 100));
    const provider = svcProvider(endpoint.url, {
      now: () => clock,
    });
    await provider.getToken();
    clock = 99_000;
    expect(await provider.getToken()).toBe('token-2');
  });

  it('retries 5xx and 429 a bounded number of times, then reports a retryable error', async () => {
    const endpoint = await tokenEndpoint((_s, n) => (n === 1 ? { status: 429, body: {} } : { status: 503, body: {} }));
    const provider = svcProvider(endpoint.url, {
      maxRetries: 2,
      retryBaseDelayMs: 1,
    });
    const error = await provider.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: true });
    expect(endpoint.seen.length).toBe(3);
  });

  it('honours Retry-After between attempts, bounded', async () => {
    const endpoint = await tokenEndpoint((_s, n) =>
      n === 1
        ? { status: 429, body: {}, retryAfter: '2' }
        : n === 2
          ? { status: 503, body: {}, retryAfter: '3600' }
          : ok(n),
    );
    const waits: number[] = [];
    const provider = svcProvider(endpoint.url, {
      retryBaseDelayMs: 1,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    expect(await provider.getToken()).toBe('token-3');
    expect(waits).toEqual([2_000, 5_000]);
  });

  it('refuses an oversized token response', async () => {
    const endpoint = await tokenEndpoint(() => ({
      status: 200,
      body: { access_token: 'a', pad: 'x'.repeat(100_000) },
    }));
    const provider = svcProvider(endpoint.url, {});
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: false });
  });

  it('recovers when a retry succeeds', async () => {
    const endpoint = await tokenEndpoint((_s, n) => (n === 1 ? { status: 502, body: {} } : ok(n)));
    const provider = svcProvider(endpoint.url, {
      retryBaseDelayMs: 1,
    });
    expect(await provider.getToken()).toBe('token-2');
  });

  it('does not retry a client error, and never puts the secret or the token in a message', async () => {
    const secret = 'super-secret-client-credential';
    const endpoint = await tokenEndpoint(() => ({
      status: 401,
      body: { error: 'invalid_client', error_description: secret },
    }));
    const provider = createTokenProvider({
      tokenEndpoint: endpoint.url,
      clientId: 'svc',
      authentication: { method: 'client_secret_basic', clientSecret: secret },
    });
    const error = (await provider.getToken().catch((e: unknown) => e)) as BearerError;
    expect(error.retryable).toBe(false);
    expect(error.message).toContain('invalid_client');
    expect(error.message).not.toContain(secret);
    expect(endpoint.seen.length).toBe(1);
  });

  it('refuses a non-Bearer token type and a malformed access_token', async () => {
    for (const body of [
      { access_token: 'abc', token_type: 'DPoP', expires_in: 60 },
      { access_token: 'a b', token_type: 'Bearer', expires_in: 60 },
      { token_type: 'Bearer' },
    ]) {
      const endpoint = await tokenEndpoint(() => ({ status: 200, body }));
      const provider = svcProvider(endpoint.url, {});
      await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT' });
    }
  });

  it('backs off after a failed request instead of calling the endpoint for every caller', async () => {
    let clock = 1_000_000;
    const endpoint = await tokenEndpoint(() => ({ status: 401, body: { error: 'invalid_client' } }));
    const provider = svcProvider(endpoint.url, {
      now: () => clock,
      random: () => 0.5,
    });
    for (let i = 0; i < 300; i++) {
      clock += 1;
      await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: false });
    }
    expect(endpoint.seen.length).toBe(1);
    clock += 61_000; // past the longest backoff
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT' });
    expect(endpoint.seen.length).toBe(2);
  });

  it('ends the backoff when the wall clock steps back', async () => {
    let clock = 1_000_000_000;
    const endpoint = await tokenEndpoint((_s, n) => (n === 1 ? { status: 429, body: {}, retryAfter: '60' } : ok(n)));
    const provider = svcProvider(endpoint.url, { maxRetries: 0, now: () => clock, random: () => 0.5 });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: true });
    clock += 10_000;
    await expect(provider.getToken()).rejects.toMatchObject({ retryAfterSeconds: 50 });
    clock -= 3_600_000; // NTP steps the clock back an hour
    expect(await provider.getToken()).toBe('token-2');
    expect(endpoint.seen.length).toBe(2);
  });

  it('waits out Retry-After between calls, not only between retries of one call', async () => {
    let clock = 1_000_000;
    const endpoint = await tokenEndpoint((_s, n) => (n === 1 ? { status: 429, body: {}, retryAfter: '60' } : ok(n)));
    const provider = svcProvider(endpoint.url, {
      maxRetries: 0,
      now: () => clock,
    });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: true });
    clock += 10_000;
    const error = (await provider.getToken().catch((e: unknown) => e)) as BearerError;
    expect(error).toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: true, retryAfterSeconds: 50 });
    expect(endpoint.seen.length).toBe(1);
    clock += 50_000;
    expect(await provider.getToken()).toBe('token-2');
    expect(endpoint.seen.length).toBe(2);
  });

  it('reads Retry-After as delta-seconds or an HTTP-date, caps it at 5 min and ignores anything else', async () => {
    const clock = Date.parse('Mon, 23 Nov 2026 08:00:00 GMT');
    const cases: [string | undefined, number | undefined][] = [
      ['60', 60],
      ['999999999', 300],
      ['1e+21', undefined],
      ['0x3c', undefined],
      ['-5', undefined],
      [undefined, undefined],
      [new Date(clock + 120_000).toUTCString(), 120],
      [new Date(clock + 86_400_000).toUTCString(), 300],
      [new Date(clock - 60_000).toUTCString(), 0],
      ['not a date', undefined],
    ];
    for (const [header, expected] of cases) {
      const endpoint = await tokenEndpoint(() => ({
        status: 429,
        body: {},
        ...(header === undefined ? {} : { retryAfter: header }),
      }));
      const provider = svcProvider(endpoint.url, { maxRetries: 0, now: () => clock });
      const error = (await provider.getToken().catch((e: unknown) => e)) as BearerError;
      expect(error.retryAfterSeconds, `Retry-After: ${header}`).toBe(expected);
    }
  });

  it('waits out a Retry-After given as an HTTP-date', async () => {
    let clock = Date.parse('Mon, 23 Nov 2026 08:00:00 GMT');
    const retryAt = new Date(clock + 120_000).toUTCString();
    const endpoint = await tokenEndpoint((_s, n) => (n === 1 ? { status: 429, body: {}, retryAfter: retryAt } : ok(n)));
    const provider = svcProvider(endpoint.url, { maxRetries: 0, now: () => clock, random: () => 0 });
    await expect(provider.getToken()).rejects.toMatchObject({ code: 'ERR_BEARER_TOKEN_ENDPOINT', retryable: true });
    clock += 60_000;
    await expect(provider.getToken()).rejects.toMatchObject({ retryAfterSeconds: 60 });
    expect(endpoint.seen.length).toBe(1);
    clock += 60_000;
    expect(await provider.getToken()).toBe('token-2');
  });

  it('serves the cached token and does not refresh again before the backoff after a failed refresh', async () => {
    let clock = 1_000_000;
    const endpoint = await tokenEndpoint((_s, n) => (n === 1 ? ok(n, 1_000) : { status: 503, body: {} }));
    let pending = 0;
    const provider = svcProvider(endpoint.url, {
      maxRetries: 0,
      now: () => clock,
      random: () => 0,
      // Counts requests whose answer the provider has not read yet, so the test knows when a
      // background refresh has settled.
      fetch: async (input, init) => {
        pending++;
        try {
          const response = await fetch(input, init);
          return new Response(await response.text(), { status: response.status, headers: response.headers });
        } finally {
          pending--;
        }
      },
    });
    const settled = async (): Promise<void> => {
      await expect.poll(() => pending).toBe(0);
      await new Promise<void>((resolve) => setImmediate(resolve));
    };
    expect(await provider.getToken()).toBe('token-1');
    clock += 900_000; // in the refresh-ahead window, token still valid
    expect(await provider.getToken()).toBe('token-1');
    await settled();
    expect(endpoint.seen.length).toBe(2);
    for (let i = 0; i < 20; i++) {
      clock += 10;
      expect(await provider.getToken()).toBe('token-1');
      await settled();
    }
    expect(endpoint.seen.length).toBe(2);
    clock += 2_000; // past the first backoff (1 s with jitter)
    expect(await provider.getToken()).toBe('token-1');
    await settled();
    expect(endpoint.seen.length).toBe(3);
  });

  it('caches a short-lived token for the first half of its lifetime', async () => {
    let clock = 1_000_000;
    const endpoint = await tokenEndpoint((_s, n) => ok(n, 3));
    const provider = svcProvider(endpoint.url, {
      now: () => clock,
    });
    for (let i = 0; i < 5; i++) expect(await provider.getToken()).toBe('token-1');
    expect(endpoint.seen.length).toBe(1);
    clock += 1_499;
    expect(await provider.getToken()).toBe('token-1');
    clock += 1; // 1.5 s left: inside the safety margin of a 3 s token
    expect(await provider.getToken()).toBe('token-2');
  });

  it('refreshes a token claiming a huge lifetime at least daily', async () => {
    let clock = 1_000_000;
    const endpoint = await tokenEndpoint((_s, n) => ok(n, 1e308));
    const provider = svcProvider(endpoint.url, { now: () => clock, random: () => 0 });
    expect(await provider.getToken()).toBe('token-1');
    clock += 86_400_000;
    expect(await provider.getToken()).toBe('token-2');
    expect(endpoint.seen.length).toBe(2);
  });

  it.each([1, 3, 10, 20, 25, 40])(
    'refreshes a %i s token in the background before it stops being handed out',
    async (seconds) => {
      let clock = 1_000_000;
      const endpoint = await tokenEndpoint((_s, n) => ok(n, seconds));
      const provider = svcProvider(endpoint.url, { now: () => clock, random: () => 1 });
      const start = clock;
      expect(await provider.getToken()).toBe('token-1');
      // The last moment the token is still handed out: expiry minus the safety margin.
      clock = start + seconds * 1000 - Math.min(5_000, (seconds * 1000) / 2) - 1;
      expect(await provider.getToken()).toBe('token-1');
      await expect.poll(() => endpoint.seen.length).toBe(2);
      await expect.poll(() => provider.getToken()).toBe('token-2');
    },
  );

  it('refuses timeouts, delays, lifetimes and parameters out of range, all at once', () => {
    let message = '';
    try {
      createTokenProvider({
        tokenEndpoint: 'https://id.example.com/token',
        clientId: 'svc',
        authentication: { method: 'client_secret_basic', clientSecret: 'x' },
        timeoutMs: -1,
        retryBaseDelayMs: Number.NaN,
        defaultExpiresInSeconds: 0,
        audienceParameter: 'aud' as 'audience',
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({ code: 'ERR_BEARER_INVALID_OPTIONS' });
      message = (error as Error).message;
    }
    for (const word of ['timeoutMs', 'retryBaseDelayMs', 'defaultExpiresInSeconds', 'audienceParameter']) {
      expect(message).toContain(word);
    }
    for (const bad of [{ timeoutMs: 0 }, { timeoutMs: '5000' }, { defaultExpiresInSeconds: 1e308 }]) {
      expect(() =>
        svcProvider('https://id.example.com/token', bad as unknown as Partial<TokenProviderOptions>),
      ).toThrow(BearerError);
    }
    expect(() =>
      svcProvider('https://id.example.com/token', {
        timeoutMs: 1,
        retryBaseDelayMs: 0,
        defaultExpiresInSeconds: 86_400,
        audienceParameter: 'audience',
      }),
    ).not.toThrow();
  });

  it('lists every option problem at once', () => {
    try {
      createTokenProvider({
        tokenEndpoint: 'http://id.example.com/token',
        clientId: '',
        authentication: { method: 'client_secret_basic', clientSecret: '' },
        maxRetries: 9,
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(BearerError);
      const message = (error as Error).message;
      for (const word of ['tokenEndpoint', 'clientId', 'clientSecret', 'maxRetries']) expect(message).toContain(word);
    }
  });
});
