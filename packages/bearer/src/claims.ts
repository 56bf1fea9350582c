import { BearerError, invalidToken } from './errors.ts';
import type { JsonObject, JsonValue } from './strict-json.ts';

/** What {@link validateClaims} checks a claims set against. */
export interface ClaimRules {
  readonly issuer: string;
  readonly audience: readonly string[];
  /** Seconds of allowed clock skew. */
  readonly clockTolerance: number;
  readonly maxTokenAge: number | undefined;
  /** Claims that must be present besides `iss`, `aud` and `exp`. */
  readonly requiredClaims: readonly string[];
}

const expired = (message: string): BearerError => new BearerError('ERR_BEARER_TOKEN_EXPIRED', message);

/**
 * Type checks on registered claims, done before any crypto so junk is refused cheaply. NumericDates
 * must be finite and non-negative; `exp` must exist; `aud` must be a string or a non-empty array of
 * strings; `sub`, `jti` and `client_id` must be strings when present.
 */
export function checkClaimTypes(claims: JsonObject): void {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    if (Object.hasOwn(claims, name)) {
      const value = claims[name];
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw invalidToken(`The "${name}" claim must be a non-negative NumericDate.`);
      }
    }
  }
  if (!Object.hasOwn(claims, 'exp')) throw invalidToken('The token has no "exp" claim; access tokens must expire.');
  for (const name of ['sub', 'jti', 'client_id'] as const) {
    if (Object.hasOwn(claims, name) && typeof claims[name] !== 'string') {
      throw invalidToken(`The "${name}" claim must be a string.`);
    }
  }
  const aud: JsonValue | undefined = claims.aud;
  if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string'))) {
    throw invalidToken('The "aud" claim must be a string or a non-empty array of strings.');
  }
}

/**
 * The value checks of RFC 7519 §4.1 / RFC 9068 §4, run after the signature on the same strictly
 * parsed claims set (so no second parser can read the token differently): exact `iss`, an
 * expected `aud`, `exp`/`nbf`/`iat` against `nowSeconds` with the tolerance, `maxTokenAge`, and
 * required claims. Types were checked by {@link checkClaimTypes}.
 */
export function validateClaims(claims: JsonObject, rules: ClaimRules, nowSeconds: number): void {
  for (const name of rules.requiredClaims) {
    if (!Object.hasOwn(claims, name))
      throw invalidToken(`The token has no "${name}" claim, which this issuer requires.`);
  }
  if (claims.iss !== rules.issuer) throw invalidToken('The token\'s "iss" does not match the issuer.');
  const aud = claims.aud;
  const audiences = typeof aud === 'string' ? [aud] : (aud as string[]);
  if (!audiences.some((value) => rules.audience.includes(value))) {
    throw invalidToken('The token\'s "aud" does not name this API.');
  }
  const tolerance = rules.clockTolerance;
  if ((claims.exp as number) <= nowSeconds - tolerance) throw expired('The token failed the "exp" time check.');
  const nbf = claims.nbf;
  if (typeof nbf === 'number' && nbf > nowSeconds + tolerance)
    throw invalidToken('The token\'s "nbf" is in the future.');
  const iat = claims.iat;
  if (typeof iat === 'number' && iat > nowSeconds + tolerance)
    throw invalidToken('The token\'s "iat" is in the future.');
  if (rules.maxTokenAge !== undefined) {
    if (typeof iat !== 'number') throw invalidToken('The token has no "iat" claim, which maxTokenAgeSeconds requires.');
    if (nowSeconds - iat - tolerance > rules.maxTokenAge) {
      throw expired('The token is older than maxTokenAgeSeconds.');
    }
  }
}

/** A claim's value when it is a string, otherwise undefined. */
export function optionalString(claims: JsonObject, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}
