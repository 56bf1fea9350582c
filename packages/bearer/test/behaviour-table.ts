/**
 * What the adapters' behaviour table is made of: a row (a request to a route and what every
 * adapter must answer to it), the issuers and DPoP client rows are run with, and the routes.
 * The rows themselves live in the adapters-*.test.ts files, grouped by what they exercise.
 */
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, beforeAll } from 'vitest';
import { claimEquals } from '../src/index.ts';
import { createDpopClient, type DpopClient } from './dpop-client.ts';
import type { HarnessRequest, HarnessResponse, Routes } from './harness.ts';

/** One row of the behaviour every adapter must show identically. */
export interface Row {
  readonly name: string;
  readonly path: string;
  readonly request: (ctx: Context) => Promise<HarnessRequest>;
  readonly expect: (response: HarnessResponse, ctx: Context) => void;
}

export interface Context {
  readonly up: TestIssuer;
  /** An issuer whose JWKS cannot be fetched. */
  readonly down: TestIssuer;
  readonly client: DpopClient;
}

export const bearer = (token: string): HarnessRequest => ({ headers: [['Authorization', `Bearer ${token}`]] });
export const challengeOf = (response: HarnessResponse): string | undefined => response.headers['www-authenticate'];

export const ROUTES: Routes = {
  '/any-token': undefined,
  '/orders': { scopes: { all: ['orders:read'] } },
  '/either': { scopes: { any: ['a', 'b'] } },
  '/acme': { claims: claimEquals('tenant_id', 'acme') },
};

/**
 * Starts the file's issuers and DPoP client before its tests (and closes them after); the
 * returned function reads them once started, in a hook or a test.
 */
export function useContext(): () => Context {
  let up: TestIssuer | undefined;
  let down: TestIssuer | undefined;
  let client: DpopClient | undefined;
  beforeAll(async () => {
    up = await createTestIssuer({ algorithm: 'ES256' });
    down = await createTestIssuer({ algorithm: 'ES256' });
    down.setJwksAvailable(false);
    client = await createDpopClient('ES256');
  });
  afterAll(async () => {
    await up?.close();
    await down?.close();
  });
  return () => {
    if (!up || !down || !client) throw new Error('the issuers are read before the beforeAll that starts them');
    return { up, down, client };
  };
}
