import { TestkitError } from './errors.ts';

const ENVIRONMENT_VARIABLES = ['NODE_ENV', 'RAMPART_ENV', 'APP_ENV'] as const;

/** The only environments a test server may start in, spelled exactly as `@rampart/config` reads them. */
const NON_PRODUCTION = new Set(['test', 'development']);

/**
 * Environment names common enough to echo in a message (as `@rampart/config` does): anything else
 * a variable holds could be a value that must not appear in output, so it is not repeated.
 */
const WELL_KNOWN = new Set([
  'production',
  'staging',
  'prod',
  'dev',
  'qa',
  'uat',
  'preview',
  'local',
  'ci',
  'sandbox',
  'demo',
  'stage',
]);

/**
 * Throws unless each of `NODE_ENV`, `RAMPART_ENV` and `APP_ENV` is unset (or empty) or says exactly
 * `test` or `development`: an allowlist, so `staging`, `prd`, `live`, `production-eu`, `Test` and
 * typos all refuse. The names are those `@rampart/config` treats as non-production (unlike config,
 * `test` in one variable and `development` in another is accepted: neither is production).
 * Test servers have no authentication and no persistence: they must never be what a production
 * process talks to.
 *
 * @example
 * ```ts
 * import { refuseInProduction } from '@rampart/testkit';
 * refuseInProduction('myFixture'); // throws ERR_TESTKIT_PRODUCTION under NODE_ENV=staging
 * ```
 */
export function refuseInProduction(helper: string, env: NodeJS.ProcessEnv = process.env): void {
  for (const name of ENVIRONMENT_VARIABLES) {
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    if (value === undefined || value === '' || NON_PRODUCTION.has(value)) continue;
    const said = WELL_KNOWN.has(value) ? `is "${value}"` : 'names an environment other than test or development';
    throw new TestkitError(
      'ERR_TESTKIT_PRODUCTION',
      `${helper}() refuses to run because ${name} ${said}: @rampart/testkit starts unauthenticated test servers, so it runs only where NODE_ENV, RAMPART_ENV and APP_ENV are unset, "test" or "development". Run it from tests (NODE_ENV=test) or unset ${name}.`,
    );
  }
}
