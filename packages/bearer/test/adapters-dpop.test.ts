import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier, hmacDpopNonces, memoryReplayStore } from '../src/index.ts';
import {
  bearer,
  type Context,
  challengeOf,
  checkRow,
  ROUTES,
  type Row,
  useContext,
  verifierOptionsOf,
  withRunning,
} from './behaviour-table.ts';
import { HARNESSES, type HarnessRequest } from './harness.ts';

const context = useContext();

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

const nonceSecret = randomBytes(32);
let dpopVerifier: BearerVerifier;
let nonceVerifier: BearerVerifier;

beforeAll(() => {
  const { up } = context();
  const dpop = { publicOrigins: [ORIGIN], replayStore: memoryReplayStore() };
  const common = verifierOptionsOf(up);
  dpopVerifier = createBearerVerifier({ ...common, dpop });
  nonceVerifier = createBearerVerifier({
    ...common,
    dpop: { ...dpop, replayStore: memoryReplayStore(), nonces: hmacDpopNonces({ secret: nonceSecret }) },
  });
});

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of DPOP_TABLE) {
      it(`with DPoP enabled: ${row.name}`, () => checkRow(harness.start(dpopVerifier, ROUTES), row, context()));
    }
    it('with DPoP enabled: refuses a proof replayed on a second request', () =>
      withRunning(harness.start(dpopVerifier, ROUTES), async (running) => {
        const request = await dpopRequest(context());
        expect((await running.request('/any-token', request)).status).toBe(200);
        const replay = await running.request('/any-token', request);
        expect(replay.status).toBe(401);
        expect(JSON.parse(replay.body).error).toBe('invalid_dpop_proof');
        expect(running.handled()).toBe(1);
      }));
    it('with DPoP nonces: answers use_dpop_nonce with a DPoP-Nonce header, then accepts the nonce', () =>
      withRunning(harness.start(nonceVerifier, ROUTES), async (running) => {
        const first = await running.request('/any-token', await dpopRequest(context()));
        expect(first.status).toBe(401);
        expect(challengeOf(first)).toContain('DPoP realm="api", error="use_dpop_nonce"');
        const nonce = first.headers['dpop-nonce'] as string;
        expect(nonce).toMatch(/^[A-Za-z0-9_-]+$/);
        const second = await running.request('/any-token', await dpopRequest(context(), { claims: { nonce } }));
        expect(second.status).toBe(200);
      }));
  });
}
