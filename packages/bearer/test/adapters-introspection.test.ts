import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier } from '../src/index.ts';
import { bearer, challengeOf, checkRow, ROUTES, type Row, useContext, verifierOptionsOf } from './behaviour-table.ts';
import { HARNESSES } from './harness.ts';
import { type IntrospectionServer, startIntrospectionServer } from './introspection-server.ts';

const context = useContext();

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

let introspectionServer: IntrospectionServer;
let hybridVerifier: BearerVerifier;
let deadIntrospectionVerifier: BearerVerifier;

beforeAll(async () => {
  const { up } = context();
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
  const local = verifierOptionsOf(up);
  hybridVerifier = createBearerVerifier({ ...local, introspection });
  deadIntrospectionVerifier = createBearerVerifier({
    ...local,
    introspection: { ...introspection, endpoint: 'http://127.0.0.1:1/introspect' },
  });
});

afterAll(async () => {
  await introspectionServer?.close();
});

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of INTROSPECTION_TABLE) {
      it(`with introspection (hybrid): ${row.name}`, () =>
        checkRow(harness.start(row.dead ? deadIntrospectionVerifier : hybridVerifier, ROUTES), row, context()));
    }
  });
}
