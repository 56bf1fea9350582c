import { ConfigError } from './errors.ts';
import { isListOf, isPlainObject } from './spec.ts';

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

/** A portable environment variable name, as the schema's keys and `environmentVariables` must be. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * What is wrong with the variables object and the names that decide the profile, one problem a
 * line, naming the option or argument (`variablesName`). Shared by `loadConfig` and
 * {@link resolveEnvironment}: read as given, `[ , ]` read a variable named "undefined" and a
 * string threw a TypeError. Never quotes a value.
 */
export function environmentProblems(
  env: unknown,
  variables: unknown,
  variablesName = 'environmentVariables',
): string[] {
  const problems: string[] = [];
  if (env !== undefined && !isPlainObject(env)) {
    problems.push('env must be an object of variables (name → value), such as process.env');
  }
  // isListOf refuses holes, which every() skips.
  if (
    variables !== undefined &&
    !(isListOf(variables, (name) => typeof name === 'string' && VARIABLE_NAME.test(name)) && variables.length > 0)
  ) {
    problems.push(`${variablesName} must be a non-empty list of variable names, e.g. ['APP_ENV', 'NODE_ENV']`);
  }
  return problems;
}

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
 * @throws ConfigError `ERR_CONFIG_OPTIONS` when `env` is not an object or `variables` is not a
 * non-empty list of variable names (holes included), as `loadConfig` checks them.
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
  // `env` is required here: undefined is refused too, not read as process.env.
  const problems = environmentProblems(env ?? null, variables, 'variables');
  if (problems.length > 0) {
    throw new ConfigError('ERR_CONFIG_OPTIONS', `resolveEnvironment(): ${problems.join('; ')}.`);
  }
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
