import { TestkitError } from './errors.ts';

const ENVIRONMENT_VARIABLES = ['NODE_ENV', 'RAMPART_ENV', 'APP_ENV'] as const;

/**
 * Throws when any of `NODE_ENV`, `RAMPART_ENV` or `APP_ENV` says production (`production`, `prod`,
 * any case). Test servers have no authentication and no persistence: they must never be what a
 * production process talks to.
 *
 * @example
 * ```ts
 * import { refuseInProduction } from '@rampart/testkit';
 * refuseInProduction('myFixture'); // throws ERR_TESTKIT_PRODUCTION under NODE_ENV=production
 * ```
 */
export function refuseInProduction(helper: string, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ENVIRONMENT_VARIABLES) {
    const value = env[name]?.trim().toLowerCase();
    if (value === 'production' || value === 'prod') {
      throw new TestkitError(
        'ERR_TESTKIT_PRODUCTION',
        `${helper}() refuses to run because ${name} says production: @rampart/testkit starts unauthenticated test servers. Run it only from tests (NODE_ENV=test).`,
      );
    }
  }
}
