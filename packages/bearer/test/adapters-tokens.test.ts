import { beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier } from '../src/index.ts';
import { bearer, challengeOf, checkRow, ROUTES, type Row, useContext, verifierOptionsOf } from './behaviour-table.ts';
import { HARNESSES, type HarnessRequest } from './harness.ts';

const context = useContext();

/**
 * Rows for a verifier with the defaults (tokens in the Authorization header only) that trusts two
 * issuers, one of them with keys that cannot be fetched.
 */
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

let verifier: BearerVerifier;
let bodyVerifier: BearerVerifier;
let queryVerifier: BearerVerifier;

beforeAll(() => {
  const { up, down } = context();
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
  bodyVerifier = createBearerVerifier({ ...verifierOptionsOf(up), allowBodyToken: true });
  queryVerifier = createBearerVerifier({ ...verifierOptionsOf(up), allowQueryToken: true });
});

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of TABLE) {
      it(row.name, () => checkRow(harness.start(verifier, ROUTES), row, context()));
    }
    const bodyRows = harness.bodyTokens ? BODY_TABLE : [];
    for (const row of bodyRows) {
      it(`with body tokens enabled: ${row.name}`, () =>
        checkRow(harness.start(bodyVerifier, ROUTES), row, context(), { handled: null }));
    }
    for (const row of QUERY_TABLE) {
      it(`with query tokens enabled: ${row.name}`, () =>
        checkRow(harness.start(queryVerifier, ROUTES), row, context(), {
          path: async ({ up }) => row.path.replaceAll('TOKEN', await up.mint()),
          handled: null,
        }));
    }
  });
}
