import type { ClaimCheck } from './claim-checks.ts';
import { BearerError, invalidToken } from './errors.ts';
import type { BearerRequestLike } from './request.ts';
import { checkScopes, isScopeToken, type ScopeRequirement, scopeRequirementProblems } from './scopes.ts';
import type { JsonObject, JsonValue } from './strict-json.ts';
import type { BearerVerifier, VerifiedToken } from './verifier.ts';

/** What a route requires, declared once with {@link BearerVerifier.route}. */
export interface RouteRequirement<S extends string = string> {
  readonly scopes?: ScopeRequirement<S>;
  readonly claims?: ClaimCheck | readonly ClaimCheck[];
  /**
   * The tenant this route serves, or how to read it from the request (path, host). A token whose
   * issuer belongs to another tenant is refused with 401 `invalid_token`; so is a request whose
   * tenant cannot be determined.
   */
  readonly tenant?: string | ((request: BearerRequestLike) => string | undefined);
  /**
   * Step-up (RFC 9470): the token's `acr` must be one of `acrValues`, and/or its `auth_time` at
   * most `maxAgeSeconds` old. Otherwise 401 `insufficient_user_authentication` with `acr_values` /
   * `max_age` in the challenge, so the client can send the user back to the authorization server.
   * Under `maxAgeSeconds`, an `auth_time` that is not a non-negative NumericDate, or is later than
   * now plus the issuer's clock tolerance, is refused as 401 `invalid_token` (like a future `iat`).
   */
  readonly authentication?: { readonly acrValues?: readonly string[]; readonly maxAgeSeconds?: number };
}

/** Validates a route declaration (every problem at once) and returns a frozen copy. */
export function freezeRoute<S extends string>(requirement: RouteRequirement<S>): RouteRequirement<S> {
  const problems = scopeRequirementProblems(requirement.scopes);
  const checks = requirement.claims;
  if (checks !== undefined) {
    const list = Array.isArray(checks) ? checks : [checks];
    if (!list.every((check) => typeof check === 'function')) problems.push('claims must be a function or functions');
  }
  if (requirement.tenant !== undefined && !['string', 'function'].includes(typeof requirement.tenant)) {
    problems.push('tenant must be a string or a function of the request');
  }
  const stepUp = requirement.authentication;
  if (stepUp !== undefined) {
    const acr = stepUp.acrValues;
    if (acr !== undefined && (!Array.isArray(acr) || acr.length === 0 || !acr.every(isScopeToken))) {
      problems.push('authentication.acrValues must be a non-empty list of acr values (no spaces or quotes)');
    }
    const maxAge = stepUp.maxAgeSeconds;
    if (maxAge !== undefined && !(Number.isInteger(maxAge) && maxAge >= 0)) {
      problems.push('authentication.maxAgeSeconds must be a non-negative integer');
    }
    if (acr === undefined && maxAge === undefined) problems.push('authentication needs acrValues or maxAgeSeconds');
  }
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid route requirement: ${problems.join('; ')}.`);
  }
  return Object.freeze({ ...requirement });
}

/**
 * A present `auth_time` must be a NumericDate no later than now plus the clock tolerance: a future
 * one would make the login look recent for as long as the token lives, so a step-up could never
 * expire. A malformed claim is a bad token (401 `invalid_token`), which stepping up would not fix;
 * a missing one is a step-up request (RFC 9470 §3).
 */
function checkAuthTime(authTime: JsonValue | undefined, nowSeconds: number, clockTolerance: number): void {
  if (authTime === undefined) return;
  if (typeof authTime !== 'number' || !Number.isFinite(authTime) || authTime < 0) {
    throw invalidToken('The "auth_time" claim must be a non-negative NumericDate (seconds since the epoch).');
  }
  if (authTime > nowSeconds + clockTolerance) {
    throw invalidToken(
      'The token\'s "auth_time" is in the future beyond the clock tolerance; check the authorization server\'s clock.',
    );
  }
}

/** RFC 9470 §3: `acr` among the accepted values, `auth_time` recent enough (and not in the future). */
function checkStepUp(
  claims: JsonObject,
  required: NonNullable<RouteRequirement['authentication']>,
  nowSeconds: number,
  clockTolerance: number,
): void {
  const { acrValues, maxAgeSeconds } = required;
  const authTime = claims.auth_time;
  if (maxAgeSeconds !== undefined) checkAuthTime(authTime, nowSeconds, clockTolerance);
  const acrOk = acrValues === undefined || (typeof claims.acr === 'string' && acrValues.includes(claims.acr));
  const ageOk = maxAgeSeconds === undefined || (typeof authTime === 'number' && nowSeconds - authTime <= maxAgeSeconds);
  if (!acrOk || !ageOk) {
    throw new BearerError(
      'ERR_BEARER_INSUFFICIENT_USER_AUTHENTICATION',
      'The token\'s user authentication ("acr" / "auth_time") does not meet this route\'s requirement; step up.',
      {
        stepUp: {
          ...(acrValues === undefined ? {} : { acrValues }),
          ...(maxAgeSeconds === undefined ? {} : { maxAge: maxAgeSeconds }),
        },
      },
    );
  }
}

/** The parts of a verified token a route's requirement is checked against. */
type RouteSubject = Pick<VerifiedToken, 'claims' | 'scopes' | 'tenant'>;

/**
 * Checks a verified token against an already validated route requirement: tenant, step-up,
 * scopes, then the claim checks in order. `clockTolerance` (seconds) is the one the token's
 * issuer or introspection judged its other times with.
 */
export async function checkRouteRequirement(
  request: BearerRequestLike,
  route: RouteRequirement,
  token: RouteSubject,
  clock: () => number,
  clockTolerance: number,
): Promise<void> {
  if (route.tenant !== undefined) {
    let expected: string | undefined;
    try {
      expected = typeof route.tenant === 'function' ? route.tenant(request) : route.tenant;
    } catch {
      // A reader that throws could not determine the tenant: the documented 401, not a 500.
      expected = undefined;
    }
    if (expected === undefined || token.tenant !== expected) {
      throw invalidToken("The token's issuer does not belong to this route's tenant.");
    }
  }
  if (route.authentication !== undefined) {
    checkStepUp(token.claims, route.authentication, clock() / 1000, clockTolerance);
  }
  checkScopes(token.scopes, route.scopes);
  const checks = route.claims === undefined ? [] : Array.isArray(route.claims) ? route.claims : [route.claims];
  for (const check of checks as ClaimCheck[]) {
    let passed = false;
    try {
      passed = (await check(token.claims)) === true;
    } catch {
      passed = false;
    }
    if (!passed) {
      throw new BearerError('ERR_BEARER_CLAIM_CHECK_FAILED', "The token failed a route's claim check.");
    }
  }
}
