import { describe, expect, it } from 'vitest';
import {
  bearer,
  collectUnhandledRejections,
  heldVerifier,
  ROUTES,
  settle,
  useContext,
  verifierOptionsOf,
  withRunning,
} from './behaviour-table.ts';
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

const unhandled = collectUnhandledRejections();

for (const harness of HARNESSES) {
  describe(`adapter ${harness.name}`, () => {
    for (const row of ANSWERED_ELSEWHERE_TABLE) {
      it(`with a response already sent by another middleware while verifying: ${row.name}`, async () => {
        const { verifier: held, release, decided } = heldVerifier(row.step, verifierOptionsOf(context().up));
        await withRunning(harness.start(held, ROUTES, undefined, { answerFirst: true }), async (running) => {
          const seen = unhandled.length;
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
        });
      });
    }
  });
}
