/** Which rules apply: only an explicit `development` or `test` relaxes anything. */
export type Profile = 'production' | 'development' | 'test';

/** How the profile was decided, for reports and error messages. */
export interface EnvironmentInfo {
  readonly profile: Profile;
  /** The variables consulted and what they said (environment names are not secrets). */
  readonly declared: Readonly<Record<string, string | undefined>>;
  /** One sentence saying why this profile applies. */
  readonly reason: string;
}

/**
 * Consulted in this order; all that are set must agree on development/test to leave production.
 *
 * @example
 * ```ts
 * import { DEFAULT_ENVIRONMENT_VARIABLES, resolveEnvironment } from '@rampart/config';
 * resolveEnvironment(process.env, [...DEFAULT_ENVIRONMENT_VARIABLES, 'DEPLOY_ENV']);
 * ```
 */
export const DEFAULT_ENVIRONMENT_VARIABLES: readonly string[] = Object.freeze(['APP_ENV', 'NODE_ENV']);

const RELAXED = new Set<Profile>(['development', 'test']);
const WELL_KNOWN = new Set([
  'development',
  'test',
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
 * Decides the profile. Production unless every consulted variable that is set says exactly
 * `development` or `test` (and they agree): unset, `staging`, `prod`, `dev`, `Development` and
 * typos are all production. Only well-known environment names are echoed in `declared`.
 *
 * @example
 * ```ts
 * import { resolveEnvironment } from '@rampart/config';
 * resolveEnvironment({ NODE_ENV: 'staging' }).profile; // 'production'
 * resolveEnvironment({ NODE_ENV: 'test' }).profile; // 'test'
 * ```
 */
export function resolveEnvironment(
  env: Readonly<Record<string, string | undefined>>,
  variables: readonly string[] = DEFAULT_ENVIRONMENT_VARIABLES,
): EnvironmentInfo {
  const declared: Record<string, string | undefined> = {};
  const said = new Set<string>();
  for (const name of variables) {
    const value = Object.hasOwn(env, name) ? env[name] : undefined;
    if (typeof value !== 'string' || value === '') continue;
    // Shown in reports, so only well-known environment names are echoed: the variable could be
    // a schema key too, and nothing else a variable holds may appear in output.
    declared[name] = WELL_KNOWN.has(value) ? value : '(other)';
    said.add(value);
  }
  const names = variables.join(' / ');
  if (said.size === 0) {
    return Object.freeze({
      profile: 'production',
      declared: Object.freeze(declared),
      reason: `${names} not set: production rules apply`,
    });
  }
  const only = said.size === 1 ? [...said][0] : undefined;
  if (only !== undefined && RELAXED.has(only as Profile)) {
    return Object.freeze({
      profile: only as Profile,
      declared: Object.freeze(declared),
      reason: `${names} say ${only}`,
    });
  }
  return Object.freeze({
    profile: 'production',
    declared: Object.freeze(declared),
    reason:
      said.size > 1
        ? `${names} disagree: production rules apply`
        : `${names} is neither "development" nor "test": production rules apply`,
  });
}
