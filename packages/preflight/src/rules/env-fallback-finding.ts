// What every form of the env-fallback-literal rule reports: a secret-named variable (or a URL
// with credentials) and the literal it falls back to, JS or shell, compose, Spring and Dockerfiles.
import type { RawFinding } from '../finding.ts';
import { endsWithSecretWord, isSecretName } from '../secret-names.ts';
import { demoValueLabel, hasUrlCredentials } from '../secret-values.ts';

export const ID = 'env-fallback-literal';

/** The finding for `name` falling back to (or, `baked`, set to) `value` in `form`. */
export function finding(
  node: { readonly start: number; readonly end: number },
  name: string,
  value: string,
  form: string,
  redact: Array<readonly [number, number]>,
  baked = false,
): RawFinding {
  const demo = demoValueLabel(value);
  const what = value.length === 0 ? 'an empty string' : demo ? `a public demo value (${demo})` : 'a literal';
  return {
    ruleId: ID,
    severity: demo ? 'critical' : 'error',
    message: baked
      ? `${name} is set to ${what} in ${form}, so every container of the image carries it. Pass it at run time from the secret source (a mounted file or a secret manager), never in the image.`
      : `${name} falls back to ${what} via ${form} when the variable is unset. ` +
        `Declare it as a required secret (@rampart/config secret()) so a missing value stops the service at start-up.`,
    start: node.start,
    end: node.end,
    key: `${name}:${form}`,
    redact,
  };
}

// A fallback of `'true'`/`'false'` is a switch, not a secret (for a name such as TOKEN_AUTH),
// unless the name closes with the secret word: DB_PASSWORD falling back to `false` is a password.
const BOOLEAN_LITERAL = /^(true|false)$/i;

// A number (`3600`, `'604800'`) is a PIN or key only for a name that closes with the secret word:
// `ADMIN_PASSWORD`, not `REFRESH_TOKEN_DURATION`, `TOKEN_EXP` or `SALT_WORK_FACTOR` (a count, a
// duration, a factor of the secret).
const NUMBER_LITERAL = /^[-+]?\d+n?$/;

/** Whether `value` may be the secret `name` holds: `'true'`/`'false'` and numbers only when the name closes with the secret word. */
export function secretValueFor(name: string, value: string): boolean {
  return !(BOOLEAN_LITERAL.test(value) || NUMBER_LITERAL.test(value)) || endsWithSecretWord(name);
}

/** Whether a fallback of `value` for `name` is a secret or a URL with credentials. */
export function secretOrCredentialUrl(name: string, value: string): boolean {
  if (hasUrlCredentials(value)) return true;
  return isSecretName(name, 'env') && secretValueFor(name, value);
}
