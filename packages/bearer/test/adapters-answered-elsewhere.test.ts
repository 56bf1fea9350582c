import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BearerVerifier, createBearerVerifier } from '../src/index.ts';
import { bearer, ROUTES, useContext } from './behaviour-table.ts';
import { ANSWERED_ELSEWHERE, HARNESSES } from './harness.ts';

const context = useContext();

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
  const { up } = context();
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

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of ANSWERED_ELSEWHERE_TABLE) {
      it(`with a response already sent by another middleware while verifying: ${row.name}`, async () => {
        const { verifier: held, release, decided } = heldVerifier(row.step);
        const running = await harness.start(held, ROUTES, undefined, { answerFirst: true });
        const seen = unhandled.length;
        try {
          const response = await running.request('/any-token', bearer(await context().up.mint()));
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
  });
}
