/**
 * What the adapters' behaviour table is made of: a row (a request to a route and what every
 * adapter must answer to it), the issuers and DPoP client rows are run with, and the routes.
 * The rows themselves live in the adapters-*.test.ts files, grouped by what they exercise.
 */
import { createTestIssuer, type TestIssuer } from '@rampart/testkit';
import { afterAll, beforeAll, expect } from 'vitest';
import { type BearerVerifier, type BearerVerifierOptions, claimEquals, createBearerVerifier } from '../src/index.ts';
import { createDpopClient, type DpopClient } from './dpop-client.ts';
import type { HarnessRequest, HarnessResponse, Routes, RunningHarness } from './harness.ts';

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

/** Options of a verifier, realm `api`, of the ES256 tokens of `issuer` alone, keys from its JWKS URI. */
export const verifierOptionsOf = (issuer: TestIssuer) => ({
  realm: 'api',
  issuer: issuer.issuer,
  audience: issuer.audience,
  algorithms: ['ES256' as const],
  jwksUri: issuer.jwksUri,
});

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

/** Runs `use` on the harness once started, then closes it. */
export async function withRunning(
  started: Promise<RunningHarness>,
  use: (running: RunningHarness) => Promise<unknown>,
): Promise<void> {
  const running = await started;
  try {
    await use(running);
  } finally {
    await running.close();
  }
}

/**
 * Sends `row`'s request to the harness once started (at `path`, the row's own by default), checks
 * the answer and closes the harness; checks too that the route handler ran `handled` times (by
 * default once for a 200, never otherwise), unless `handled` is null.
 */
export async function checkRow(
  started: Promise<RunningHarness>,
  row: Row,
  ctx: Context,
  {
    path = async () => row.path,
    handled = (response) => (response.status === 200 ? 1 : 0),
  }: {
    readonly path?: (ctx: Context) => Promise<string>;
    readonly handled?: ((response: HarnessResponse) => number) | null;
  } = {},
): Promise<void> {
  await withRunning(started, async (running) => {
    const response = await running.request(await path(ctx), await row.request(ctx));
    row.expect(response, ctx);
    if (handled) expect(running.handled()).toBe(handled(response));
  });
}

/**
 * A verifier built from `options` whose one custom step waits for `release`, then sets a response
 * header or refuses; `decided` settles once it has decided.
 */
export function heldVerifier(
  step: 'sets-header' | 'refuses',
  options: BearerVerifierOptions,
): { verifier: BearerVerifier; release: () => void; decided: Promise<void> } {
  let release = (): void => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  let decide = (): void => {};
  const decided = new Promise<void>((resolve) => {
    decide = resolve;
  });
  const verifier = createBearerVerifier({
    ...options,
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
export const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Collects the unhandled rejections seen while the file's tests run (the process-wide crash an
 * adapter must never cause), listening from its beforeAll to its afterAll.
 */
export function collectUnhandledRejections(): readonly unknown[] {
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
  return unhandled;
}
