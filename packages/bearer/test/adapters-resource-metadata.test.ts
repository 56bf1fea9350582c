import { beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier, protectedResourceMetadata } from '../src/index.ts';
import { bearer, challengeOf, checkRow, type Row, useContext, verifierOptionsOf } from './behaviour-table.ts';
import { HARNESSES, METADATA_PATH, type Routes } from './harness.ts';

const context = useContext();

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
    name: 'answers 401 invalid_token, not a step-up challenge, for an auth_time far in the future',
    path: '/mfa',
    request: async ({ up }) =>
      bearer(await up.mint({ claims: { acr: 'urn:mfa', auth_time: Math.floor(Date.now() / 1000) + 100_000_000 } })),
    expect: (r) => {
      expect(r.status).toBe(401);
      expect(challengeOf(r)).toContain('error="invalid_token"');
      expect(JSON.parse(r.body).error).toBe('invalid_token');
    },
  },
  {
    name: 'passes a step-up route with a recent strong login',
    path: '/mfa',
    request: async ({ up }) =>
      bearer(await up.mint({ claims: { acr: 'urn:mfa', auth_time: Math.floor(Date.now() / 1000) - 10 } })),
    expect: (r) => expect(r.status).toBe(200),
  },
];

let metadataVerifier: BearerVerifier;

beforeAll(() => {
  const { up } = context();
  metadataVerifier = createBearerVerifier({ ...verifierOptionsOf(up), resourceMetadata: RESOURCE_METADATA });
});

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of METADATA_TABLE) {
      it(`with resource metadata: ${row.name}`, () =>
        checkRow(harness.start(metadataVerifier, STEP_UP_ROUTES, METADATA), row, context(), {
          // The metadata document is served without a route handler.
          handled: (response) => (response.status === 200 && row.path !== METADATA_PATH ? 1 : 0),
        }));
    }
  });
}
