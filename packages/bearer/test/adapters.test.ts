import { randomBytes } from 'node:crypto';
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BearerVerifier,
  claimEquals,
  createBearerVerifier,
  hmacDpopNonces,
  memoryReplayStore,
  protectedResourceMetadata,
} from '../src/index.ts';
import { createDpopClient, type DpopClient } from './dpop-client.ts';
import {
  ANSWERED_ELSEWHERE,
  HARNESSES,
  type HarnessRequest,
  type HarnessResponse,
  METADATA_PATH,
  type Routes,
} from './harness.ts';
import { type IntrospectionServer, startIntrospectionServer } from './introspection-server.ts';

/** One row of the behaviour every adapter must show identically. */
interface Row {
  readonly name: string;
  readonly path: string;
  readonly request: (ctx: Context) => Promise<HarnessRequest>;
  readonly expect: (response: HarnessResponse, ctx: Context) => void;
}

interface Context {
  readonly up: TestIssuer;
  readonly down: TestIssuer;
  readonly client: DpopClient;
}

const bearer = (token: string): HarnessRequest => ({ headers: [['Authorization', `Bearer ${token}`]] });
const challengeOf = (response: HarnessResponse): string | undefined => response.headers['www-authenticate'];

const ROUTES: Routes = {
  '/any-token': undefined,
  '/orders': { scopes: { all: ['orders:read'] } },
  '/either': { scopes: { any: ['a', 'b'] } },
  '/acme': { claims: claimEquals('tenant_id', 'acme') },
};

const TABLE: readonly Row[] = [
  {
    name: 'answers 401 with a bare challenge and no error code when no token is sent',
    path: '/any-token',
    request: async () => ({}),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe('Bearer realm="api"');
      expect(r.body).toBe('');
    },
  },
  {
    name: 'treats another authentication scheme as no bearer token',
    path: '/any-token',
    request: async () => ({ headers: [['Authorization', 'Basic dXNlcjpwYXNz']] }),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe('Bearer realm="api"');
    },
  },
  {
    name: 'answers 400 invalid_request for the Bearer scheme without a token',
    path: '/any-token',
    request: async () => ({ headers: [['Authorization', 'Bearer']] }),
    expect: (r) => {
      expect(r.status).toBe(400);
      expect(challengeOf(r)).toMatch(/^Bearer realm="api", error="invalid_request", error_description="[^"\\]+"$/);
      expect(JSON.parse(r.body).error).toBe('invalid_request');
    },
  },
  {
    name: 'answers 400 invalid_request for two credentials in one header',
    path: '/any-token',
    request: async ({ up }) => ({ headers: [['Authorization', `Bearer ${await up.mint()} extra`]] }),
    expect: (r) => expect(r.status).toBe(400),
  },
  {
    name: 'answers 400 invalid_request for two Authorization headers',
    path: '/any-token',
    request: async ({ up }) => {
      const token = await up.mint();
      return {
        headers: [
          ['Authorization', `Bearer ${token}`],
          ['Authorization', `Bearer ${token}`],
        ],
      };
    },
    expect: (r) => expect(r.status).toBe(400),
  },
  {
    name: 'accepts a valid token and exposes subject, scopes and issuer',
    path: '/any-token',
    request: async ({ up }) => bearer(await up.mint({ scopes: ['orders:read', 'x'] })),
    expect: (r, { up }) => {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toEqual({
        sub: 'test-user',
        scopes: ['orders:read', 'x'],
        issuer: up.issuer,
        tenant: 'up',
      });
    },
  },
  {
    name: 'accepts the scheme name in any case',
    path: '/any-token',
    request: async ({ up }) => ({ headers: [['Authorization', `bEaReR ${await up.mint()}`]] }),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'answers 401 invalid_token for a malformed token',
    path: '/any-token',
    request: async () => bearer('abc.def'),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe(
        'Bearer realm="api", error="invalid_token", error_description="The access token is malformed"',
      );
    },
  },
  {
    name: 'answers 401 invalid_token for an expired token',
    path: '/any-token',
    request: async ({ up }) => bearer(await up.mint({ claims: { exp: Math.floor(Date.now() / 1000) - 120 } })),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toContain('error_description="The access token expired"');
    },
  },
  {
    name: 'answers 401 invalid_token for another audience',
    path: '/any-token',
    request: async ({ up }) => bearer(await up.mint({ claims: { aud: 'https://other.test' } })),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toContain('error="invalid_token"');
    },
  },
  {
    name: 'answers 403 insufficient_scope naming the required scope',
    path: '/orders',
    request: async ({ up }) => bearer(await up.mint({ scopes: ['orders:write'] })),
    expect: (r) => {
      expect(r.status).toBe(403);
      expect(challengeOf(r)).toBe(
        'Bearer realm="api", error="insufficient_scope", error_description="The access token lacks a required scope", scope="orders:read"',
      );
    },
  },
  {
    name: 'passes a route that needs all scopes when the token has them',
    path: '/orders',
    request: async ({ up }) => bearer(await up.mint({ scopes: ['orders:read'] })),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'passes a route that needs any scope with one of them',
    path: '/either',
    request: async ({ up }) => bearer(await up.mint({ scopes: ['b'] })),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'answers 403 listing the alternatives when none of the any-scopes is present',
    path: '/either',
    request: async ({ up }) => bearer(await up.mint({ scopes: ['c'] })),
    expect: (r) => {
      expect(r.status).toBe(403);
      expect(challengeOf(r)).toContain('scope="a b"');
    },
  },
  {
    name: 'answers 403 when a claim check fails',
    path: '/acme',
    request: async ({ up }) => bearer(await up.mint({ claims: { tenant_id: 'other' } })),
    expect: (r) => {
      expect(r.status).toBe(403);
      expect(challengeOf(r)).toContain('error="insufficient_scope"');
    },
  },
  {
    name: 'passes when the claim check holds',
    path: '/acme',
    request: async ({ up }) => bearer(await up.mint({ claims: { tenant_id: 'acme' } })),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'answers 503 with Retry-After, never 401, when the issuer keys cannot be obtained',
    path: '/any-token',
    request: async ({ down }) => bearer(await down.mint()),
    expect: (r) => {
      expect(r.status).toBe(503);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(challengeOf(r)).toBeUndefined();
    },
  },
  {
    name: 'ignores a query-string token unless enabled',
    path: '/any-token?access_token=x',
    request: async () => ({}),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe('Bearer realm="api"');
    },
  },
  {
    name: 'marks every error response as not cacheable',
    path: '/orders',
    request: async () => ({}),
    expect: (r) => expect(r.headers['cache-control']).toBe('no-store'),
  },
];

/** Rows for a verifier that opted in to query-string tokens (RFC 6750 §2.3). */
const QUERY_TABLE: readonly Row[] = [
  {
    name: 'accepts a query-string token when enabled',
    path: '/any-token?access_token=TOKEN',
    request: async () => ({}),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'answers 400 for a token in both the header and the query',
    path: '/any-token?access_token=TOKEN',
    request: async ({ up }) => bearer(await up.mint()),
    expect: (r) => expect(r.status).toBe(400),
  },
  {
    name: 'answers 400 for two query-string tokens',
    path: '/any-token?access_token=TOKEN&access_token=TOKEN',
    request: async () => ({}),
    expect: (r) => expect(r.status).toBe(400),
  },
];

const form = (body: string, extra: [string, string][] = []): HarnessRequest => ({
  method: 'POST',
  headers: [['Content-Type', 'application/x-www-form-urlencoded'], ...extra],
  body,
});

/** Rows for a verifier that opted in to body tokens (RFC 6750 §2.2), on adapters that parse bodies. */
const BODY_TABLE: readonly Row[] = [
  {
    name: 'accepts a urlencoded body token when enabled',
    path: '/any-token',
    request: async ({ up }) => form(`access_token=${await up.mint()}`),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'answers 400 for a body token next to a header token',
    path: '/any-token',
    request: async ({ up }) =>
      form(`access_token=${await up.mint()}`, [['Authorization', `Bearer ${await up.mint()}`]]),
    expect: (r) => expect(r.status).toBe(400),
  },
  {
    name: 'answers 400 for two body tokens',
    path: '/any-token',
    request: async ({ up }) => form(`access_token=${await up.mint()}&access_token=${await up.mint()}`),
    expect: (r) => expect(r.status).toBe(400),
  },
];

const ORIGIN = 'https://api.test';
const ALGS = 'algs="ES256 EdDSA PS256 RS256"';
const dpopRequest = async (
  { up, client }: Context,
  proof: { method?: string; path?: string; claims?: Record<string, unknown> } = {},
): Promise<HarnessRequest> => {
  const token = await up.mint({ claims: { cnf: { jkt: client.thumbprint } } });
  return {
    method: proof.method ?? 'GET',
    headers: [
      ['Authorization', `DPoP ${token}`],
      [
        'DPoP',
        await client.proof({
          token,
          method: proof.method ?? 'GET',
          url: `${ORIGIN}${proof.path ?? '/any-token'}`,
          ...(proof.claims === undefined ? {} : { claims: proof.claims }),
        }),
      ],
    ],
  };
};

/** Rows for a verifier with DPoP enabled (RFC 9449). */
const DPOP_TABLE: readonly Row[] = [
  {
    name: 'accepts a DPoP-bound token with a valid proof',
    path: '/any-token',
    request: (ctx) => dpopRequest(ctx),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'accepts a DPoP proof for POST when htm is POST',
    path: '/any-token',
    request: (ctx) => dpopRequest(ctx, { method: 'POST' }),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'challenges with both Bearer and DPoP (with algs) when no token is sent',
    path: '/any-token',
    request: async () => ({}),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe(`Bearer realm="api", DPoP realm="api", ${ALGS}`);
    },
  },
  {
    name: 'refuses a DPoP-bound token sent as Bearer with invalid_token',
    path: '/any-token',
    request: async ({ up, client }) => bearer(await up.mint({ claims: { cnf: { jkt: client.thumbprint } } })),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe(
        `Bearer realm="api", error="invalid_token", error_description="The access token is invalid", DPoP realm="api", ${ALGS}`,
      );
    },
  },
  {
    name: 'answers 401 invalid_dpop_proof under the DPoP challenge for an htm mismatch',
    path: '/any-token',
    request: (ctx) => dpopRequest(ctx, { method: 'POST' }).then((r) => ({ ...r, method: 'GET' })),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe(
        `Bearer realm="api", DPoP realm="api", error="invalid_dpop_proof", error_description="The DPoP proof is missing or invalid", ${ALGS}`,
      );
      expect(JSON.parse(r.body).error).toBe('invalid_dpop_proof');
    },
  },
  {
    name: 'answers 401 invalid_dpop_proof for an htu naming another path',
    path: '/any-token',
    request: (ctx) => dpopRequest(ctx, { path: '/orders' }),
    expect: (r) => expect(JSON.parse(r.body).error).toBe('invalid_dpop_proof'),
  },
  {
    name: 'answers 401 invalid_dpop_proof for a stale proof',
    path: '/any-token',
    request: (ctx) => dpopRequest(ctx, { claims: { iat: Math.floor(Date.now() / 1000) - 600 } }),
    expect: (r) => expect(JSON.parse(r.body).error).toBe('invalid_dpop_proof'),
  },
  {
    name: 'answers 403 insufficient_scope under the DPoP challenge for a DPoP request',
    path: '/orders',
    request: async ({ up, client }) => {
      const token = await up.mint({ claims: { cnf: { jkt: client.thumbprint } }, scopes: ['x'] });
      return {
        headers: [
          ['Authorization', `DPoP ${token}`],
          ['DPoP', await client.proof({ token, url: `${ORIGIN}/orders` })],
        ],
      };
    },
    expect: (r) => {
      expect(r.status).toBe(403);
      expect(challengeOf(r)).toMatch(
        /^Bearer realm="api", DPoP realm="api", error="insufficient_scope", .*scope="orders:read"/,
      );
    },
  },
];

const RESOURCE_METADATA = `https://api.test${METADATA_PATH}`;
const METADATA = protectedResourceMetadata({
  resource: 'https://api.test',
  authorizationServers: ['https://id.test'],
  scopesSupported: ['orders:read'],
  dpopSigningAlgValuesSupported: ['ES256'],
});
const STEP_UP_ROUTES: Routes = {
  '/any-token': undefined,
  '/mfa': { authentication: { acrValues: ['urn:mfa'], maxAgeSeconds: 300 } },
};

/** Rows for RFC 9728 metadata and RFC 9470 step-up challenges. */
const METADATA_TABLE: readonly Row[] = [
  {
    name: 'serves the protected-resource metadata document',
    path: METADATA_PATH,
    request: async () => ({}),
    expect: (r) => {
      expect(r.status).toBe(200);
      expect(r.headers['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(r.body)).toEqual(METADATA);
    },
  },
  {
    name: 'points challenges at the metadata with resource_metadata',
    path: '/any-token',
    request: async () => ({}),
    expect: (r) => expect(challengeOf(r)).toBe(`Bearer realm="api", resource_metadata="${RESOURCE_METADATA}"`),
  },
  {
    name: 'answers 401 insufficient_user_authentication with acr_values and max_age for a weak login',
    path: '/mfa',
    request: async ({ up }) =>
      bearer(await up.mint({ claims: { acr: 'urn:pwd', auth_time: Math.floor(Date.now() / 1000) } })),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toBe(
        `Bearer realm="api", error="insufficient_user_authentication", error_description="A different authentication level is required", acr_values="urn:mfa", max_age="300", resource_metadata="${RESOURCE_METADATA}"`,
      );
      expect(JSON.parse(r.body).error).toBe('insufficient_user_authentication');
    },
  },
  {
    name: 'answers 401 insufficient_user_authentication for a login older than max_age',
    path: '/mfa',
    request: async ({ up }) =>
      bearer(await up.mint({ claims: { acr: 'urn:mfa', auth_time: Math.floor(Date.now() / 1000) - 3600 } })),
    expect: (r) => expect(JSON.parse(r.body).error).toBe('insufficient_user_authentication'),
  },
  {
    name: 'passes a step-up route with a recent strong login',
    path: '/mfa',
    request: async ({ up }) =>
      bearer(await up.mint({ claims: { acr: 'urn:mfa', auth_time: Math.floor(Date.now() / 1000) - 10 } })),
    expect: (r) => expect(r.status).toBe(200),
  },
];

/**
 * Rows for a response another middleware (connect-timeout, hono/timeout) already sent while the
 * verification was still running: a slow custom step, held until the client has that answer.
 */
const ANSWERED_ELSEWHERE_TABLE: readonly { readonly name: string; readonly step: 'sets-header' | 'refuses' }[] = [
  {
    name: 'no crash, handler not run, nothing written when the token then passes with a response header',
    step: 'sets-header',
  },
  { name: 'no crash, nothing written when the token is then refused', step: 'refuses' },
];

/** A verifier whose one custom step waits for `release`, then sets a response header or refuses. */
function heldVerifier(step: 'sets-header' | 'refuses'): {
  verifier: BearerVerifier;
  release: () => void;
  decided: Promise<void>;
} {
  let release = (): void => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let decide = (): void => {};
  const decided = new Promise<void>((resolve) => {
    decide = resolve;
  });
  const verifier = createBearerVerifier({
    realm: 'api',
    issuer: up.issuer,
    audience: up.audience,
    algorithms: ['ES256'],
    jwksUri: up.jwksUri,
    steps: [
      {
        name: 'slow-policy',
        async run(ctx) {
          await held;
          if (step === 'refuses') throw new Error('refused by policy');
          ctx.setResponseHeader('x-slow-policy', 'checked');
        },
      },
    ],
    onDecision: () => decide(),
  });
  return { verifier, release, decided };
}

/** Lets every callback already queued run (microtasks, then one turn of the event loop). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// Unhandled rejections seen while the tests run: the process-wide crash an adapter must never cause.
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
});

let metadataVerifier: BearerVerifier;
let up: TestIssuer;
let down: TestIssuer;
let client: DpopClient;
let dpopVerifier: BearerVerifier;
let introspectionServer: IntrospectionServer;
let hybridVerifier: BearerVerifier;
let deadIntrospectionVerifier: BearerVerifier;

/** Rows for a hybrid verifier: JWTs verified locally, opaque tokens introspected (RFC 7662). */
const INTROSPECTION_TABLE: readonly (Row & { dead?: boolean })[] = [
  {
    name: 'accepts an active opaque token',
    path: '/orders',
    request: async () => bearer('opaque-active'),
    expect: (r) => {
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ sub: 'opaque-user', scopes: ['orders:read'] });
    },
  },
  {
    name: 'still verifies JWTs locally',
    path: '/any-token',
    request: async ({ up }) => bearer(await up.mint()),
    expect: (r) => expect(r.status).toBe(200),
  },
  {
    name: 'answers 401 invalid_token for an inactive opaque token',
    path: '/any-token',
    request: async () => bearer('opaque-revoked'),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toContain('error="invalid_token"');
    },
  },
  {
    name: 'answers 503 with Retry-After, not 401, when the introspection endpoint is down',
    path: '/any-token',
    dead: true,
    request: async () => bearer('opaque-active'),
    expect: (r) => {
      expect(r.status).toBe(503);
      expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    },
  },
];
let nonceVerifier: BearerVerifier;
const nonceSecret = randomBytes(32);
let bodyVerifier: BearerVerifier;
let verifier: BearerVerifier;
let queryVerifier: BearerVerifier;

beforeAll(async () => {
  up = await createTestIssuer({ algorithm: 'ES256' });
  down = await createTestIssuer({ algorithm: 'ES256' });
  down.setJwksAvailable(false);
  verifier = createBearerVerifier({
    realm: 'api',
    issuers: {
      [up.issuer]: { audience: up.audience, algorithms: ['ES256'], jwksUri: up.jwksUri, tenant: 'up' },
      [down.issuer]: {
        audience: down.audience,
        algorithms: ['ES256'],
        jwksUri: down.jwksUri,
        jwks: { failureBackoffMs: 2000 },
      },
    },
  });
});

beforeAll(() => {
  bodyVerifier = createBearerVerifier({
    realm: 'api',
    allowBodyToken: true,
    issuer: up.issuer,
    audience: up.audience,
    algorithms: ['ES256'],
    jwksUri: up.jwksUri,
  });
  queryVerifier = createBearerVerifier({
    realm: 'api',
    allowQueryToken: true,
    issuer: up.issuer,
    audience: up.audience,
    algorithms: ['ES256'],
    jwksUri: up.jwksUri,
  });
});

beforeAll(async () => {
  client = await createDpopClient('ES256');
  const dpop = { publicOrigins: [ORIGIN], replayStore: memoryReplayStore() };
  const common = {
    realm: 'api',
    issuer: up.issuer,
    audience: up.audience,
    algorithms: ['ES256' as const],
    jwksUri: up.jwksUri,
  };
  dpopVerifier = createBearerVerifier({ ...common, dpop });
  nonceVerifier = createBearerVerifier({
    ...common,
    dpop: { ...dpop, replayStore: memoryReplayStore(), nonces: hmacDpopNonces({ secret: nonceSecret }) },
  });
});

beforeAll(async () => {
  introspectionServer = await startIntrospectionServer();
  introspectionServer.answer = (token) =>
    token === 'opaque-active'
      ? { active: true, token_type: 'Bearer', aud: 'https://api.test', sub: 'opaque-user', scope: 'orders:read' }
      : { active: false };
  const introspection = {
    endpoint: introspectionServer.url,
    issuer: 'https://as.test',
    clientId: 'api',
    authentication: { method: 'client_secret_basic' as const, clientSecret: randomBytes(16).toString('hex') },
    audience: 'https://api.test',
  };
  const local = {
    realm: 'api',
    issuer: up.issuer,
    audience: up.audience,
    algorithms: ['ES256' as const],
    jwksUri: up.jwksUri,
  };
  hybridVerifier = createBearerVerifier({ ...local, introspection });
  metadataVerifier = createBearerVerifier({ ...local, resourceMetadata: RESOURCE_METADATA });
  deadIntrospectionVerifier = createBearerVerifier({
    ...local,
    introspection: { ...introspection, endpoint: 'http://127.0.0.1:1/introspect' },
  });
});

afterAll(async () => {
  await introspectionServer?.close();
  await up?.close();
  await down?.close();
});

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of TABLE) {
      it(row.name, async () => {
        const running = await harness.start(verifier, ROUTES);
        try {
          const ctx = { up, down, client };
          const response = await running.request(row.path, await row.request(ctx));
          row.expect(response, ctx);
          expect(running.handled()).toBe(response.status === 200 ? 1 : 0);
        } finally {
          await running.close();
        }
      });
    }
    const bodyRows = harness.bodyTokens ? BODY_TABLE : [];
    for (const row of bodyRows) {
      it(`with body tokens enabled: ${row.name}`, async () => {
        const running = await harness.start(bodyVerifier, ROUTES);
        try {
          const ctx = { up, down, client };
          row.expect(await running.request(row.path, await row.request(ctx)), ctx);
        } finally {
          await running.close();
        }
      });
    }
    for (const row of DPOP_TABLE) {
      it(`with DPoP enabled: ${row.name}`, async () => {
        const running = await harness.start(dpopVerifier, ROUTES);
        try {
          const ctx = { up, down, client };
          const response = await running.request(row.path, await row.request(ctx));
          row.expect(response, ctx);
          expect(running.handled()).toBe(response.status === 200 ? 1 : 0);
        } finally {
          await running.close();
        }
      });
    }
    it('with DPoP enabled: refuses a proof replayed on a second request', async () => {
      const running = await harness.start(dpopVerifier, ROUTES);
      try {
        const request = await dpopRequest({ up, down, client });
        expect((await running.request('/any-token', request)).status).toBe(200);
        const replay = await running.request('/any-token', request);
        expect(replay.status).toBe(401);
        expect(JSON.parse(replay.body).error).toBe('invalid_dpop_proof');
        expect(running.handled()).toBe(1);
      } finally {
        await running.close();
      }
    });
    it('with DPoP nonces: answers use_dpop_nonce with a DPoP-Nonce header, then accepts the nonce', async () => {
      const running = await harness.start(nonceVerifier, ROUTES);
      try {
        const first = await running.request('/any-token', await dpopRequest({ up, down, client }));
        expect(first.status).toBe(401);
        expect(challengeOf(first)).toContain('DPoP realm="api", error="use_dpop_nonce"');
        const nonce = first.headers['dpop-nonce'] as string;
        expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
        const second = await running.request(
          '/any-token',
          await dpopRequest({ up, down, client }, { claims: { nonce } }),
        );
        expect(second.status).toBe(200);
      } finally {
        await running.close();
      }
    });
    for (const row of METADATA_TABLE) {
      it(`with resource metadata: ${row.name}`, async () => {
        const running = await harness.start(metadataVerifier, STEP_UP_ROUTES, METADATA);
        try {
          const ctx = { up, down, client };
          const response = await running.request(row.path, await row.request(ctx));
          row.expect(response, ctx);
          expect(running.handled()).toBe(response.status === 200 && row.path !== METADATA_PATH ? 1 : 0);
        } finally {
          await running.close();
        }
      });
    }
    for (const row of INTROSPECTION_TABLE) {
      it(`with introspection (hybrid): ${row.name}`, async () => {
        const running = await harness.start(row.dead ? deadIntrospectionVerifier : hybridVerifier, ROUTES);
        try {
          const ctx = { up, down, client };
          const response = await running.request(row.path, await row.request(ctx));
          row.expect(response, ctx);
          expect(running.handled()).toBe(response.status === 200 ? 1 : 0);
        } finally {
          await running.close();
        }
      });
    }
    for (const row of ANSWERED_ELSEWHERE_TABLE) {
      it(`with a response already sent by another middleware while verifying: ${row.name}`, async () => {
        const { verifier: held, release, decided } = heldVerifier(row.step);
        const running = await harness.start(held, ROUTES, undefined, { answerFirst: true });
        const seen = unhandled.length;
        try {
          const response = await running.request('/any-token', bearer(await up.mint()));
          expect(response.status).toBe(503);
          expect(response.body).toBe(ANSWERED_ELSEWHERE);
          release();
          await decided;
          await settle();
          await settle();
          expect(unhandled.slice(seen)).toEqual([]);
          expect(running.handled()).toBe(0);
          expect(running.lateWrites()).toBe(0);
        } finally {
          await running.close();
        }
      });
    }
    for (const row of QUERY_TABLE) {
      it(`with query tokens enabled: ${row.name}`, async () => {
        const running = await harness.start(queryVerifier, ROUTES);
        try {
          const ctx = { up, down, client };
          const path = row.path.replaceAll('TOKEN', await up.mint());
          row.expect(await running.request(path, await row.request(ctx)), ctx);
        } finally {
          await running.close();
        }
      });
    }
  });
}
