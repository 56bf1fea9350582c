import { type ClientAuthentication, clientAuthenticationProblems } from './client-authentication.ts';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './compact-jws.ts';
import type { KeySource } from './key-source.ts';
import { isScopeClaimList, type ScopeClaim } from './scopes.ts';

/** RFC 9701 signed introspection responses. */
export interface JwtIntrospectionResponseOptions {
  /** The authorization server's signing keys (`remoteJwks(...)` / `staticJwks(...)`). */
  readonly keys: KeySource;
  /** Allowed `alg` values, asymmetric only. */
  readonly algorithms: readonly AsymmetricAlgorithm[];
}

/** Options of the verifier's `introspection` (RFC 7662) for opaque tokens. */
export interface IntrospectionOptions {
  /** The introspection endpoint (https; loopback http allowed for tests). */
  readonly endpoint: string;
  /** The issuer whose tokens are introspected: reported on results, and `iss` must match when present. */
  readonly issuer: string;
  /** This resource server's client id at the authorization server. */
  readonly clientId: string;
  readonly authentication: ClientAuthentication;
  /** Expected `aud`: an active response must name one of these. */
  readonly audience: string | readonly string[];
  /** Refuse responses without `aud`. Default true (some servers omit it: set false only then). */
  readonly requireAudience?: boolean;
  /**
   * Refuse responses without `token_type`. Default true: servers such as oidc-provider name access
   * tokens `Bearer`/`DPoP` and answer refresh tokens without it, so this is what keeps a refresh
   * token from passing as an access token. Set false only for a server that never sends it. A
   * `token_type` other than Bearer, DPoP or `access_token` (Duende IdentityServer), a `token_use`
   * other than `access_token` (Ory Hydra) and a `typ` naming a refresh, offline, ID or logout token
   * (Keycloak) are refused either way.
   */
  readonly requireTokenType?: boolean;
  /** Ask for and require signed responses (RFC 9701, `application/token-introspection+jwt`). */
  readonly jwtResponse?: JwtIntrospectionResponseOptions;
  /** Active results are cached until `exp`, and at most this long. Default 60, at most 3600. 0 disables. */
  readonly cacheMaxTtlSeconds?: number;
  /** Inactive results are cached this long (a flood of bad tokens costs one call each per window). Default 5, at most 60. */
  readonly negativeCacheTtlSeconds?: number;
  /** Cached results at most. Default 10000. */
  readonly cacheMaxEntries?: number;
  /** Abort one call after this long. Default 2000, at most 30000. */
  readonly timeoutMs?: number;
  /**
   * Consecutive transport failures (network error, timeout, HTTP 5xx or 429) after which calls
   * stop for `failureBackoffMs`: requests whose result is not cached get 503 at once, without a
   * call. Default 5, an integer from 1 to 100.
   */
  readonly failureThreshold?: number;
  /**
   * How long calls stop after `failureThreshold` failures (also the `Retry-After`); then one call
   * is let through as a probe, whose success resumes calls and whose failure stops them for
   * another window. Default 5000, from 100 to 60000.
   */
  readonly failureBackoffMs?: number;
  /** Calls in flight at most (distinct tokens); a request needing one more gets 503 at once. Default 256, an integer from 1 to 10000. */
  readonly maxConcurrentCalls?: number;
  /** Tenant id reported on results. */
  readonly tenant?: string;
  /** Claims scopes are read from. Default the verifier's `scopeClaims`. */
  readonly scopeClaims?: readonly ScopeClaim[];
  /** Seconds of allowed clock skew for `exp`/`nbf`/`iat` (and `auth_time` on a `maxAgeSeconds` route). Default the verifier's `clockToleranceSeconds`, else 30. */
  readonly clockToleranceSeconds?: number;
  readonly fetch?: typeof fetch;
}

/**
 * The verifier-wide time settings that reach introspected tokens. Unlike a JWT's, an introspected
 * token's `iat` is checked only under `maxTokenAgeSeconds` (the server vouches that the token is
 * active); without it a future `iat` passes, and reaches `isRevoked` as it is.
 */
export interface IntrospectionTimePolicy {
  /** Used when `introspection.clockToleranceSeconds` is not set. */
  readonly clockToleranceSeconds?: number | undefined;
  /** Refuse tokens whose `iat` is older than this (requires `iat`). */
  readonly maxTokenAgeSeconds?: number | undefined;
}

const LOOPBACK = /^(127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/i;

/** Problems with `introspection` options (empty when fine). */
export function introspectionProblems(options: IntrospectionOptions): string[] {
  if (typeof options !== 'object' || options === null) return ['introspection must be an object'];
  const problems: string[] = [];
  try {
    const url = new URL(options.endpoint);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && LOOPBACK.test(url.hostname))) {
      problems.push('introspection.endpoint must be https');
    }
  } catch {
    problems.push('introspection.endpoint must be an absolute URL');
  }
  if (typeof options.issuer !== 'string' || options.issuer === '') problems.push('introspection.issuer is required');
  if (typeof options.clientId !== 'string' || options.clientId === '') {
    problems.push('introspection.clientId is required');
  }
  problems.push(...clientAuthenticationProblems(options.authentication, 'introspection.authentication.'));
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    problems.push('introspection.audience is required (a non-empty string or array of strings)');
  }
  const range = (value: number | undefined, name: string, min: number, max: number, integer = false): void => {
    const fits = typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max;
    if (value !== undefined && !(fits && (!integer || Number.isInteger(value)))) {
      problems.push(`introspection.${name} must be ${integer ? 'an integer ' : ''}between ${min} and ${max}`);
    }
  };
  range(options.cacheMaxTtlSeconds, 'cacheMaxTtlSeconds', 0, 3600);
  range(options.negativeCacheTtlSeconds, 'negativeCacheTtlSeconds', 0, 60);
  range(options.cacheMaxEntries, 'cacheMaxEntries', 1, 1_000_000);
  range(options.timeoutMs, 'timeoutMs', 1, 30_000);
  range(options.failureThreshold, 'failureThreshold', 1, 100, true);
  range(options.failureBackoffMs, 'failureBackoffMs', 100, 60_000);
  range(options.maxConcurrentCalls, 'maxConcurrentCalls', 1, 10_000, true);
  range(options.clockToleranceSeconds, 'clockToleranceSeconds', 0, 300);
  for (const name of ['requireAudience', 'requireTokenType'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'boolean') {
      problems.push(`introspection.${name} must be a boolean`);
    }
  }
  if (options.jwtResponse !== undefined) {
    if (typeof options.jwtResponse.keys?.getKey !== 'function') {
      problems.push('introspection.jwtResponse.keys must be a key source (remoteJwks or staticJwks)');
    }
    const algorithms: unknown = options.jwtResponse.algorithms;
    if (!Array.isArray(algorithms) || algorithms.length === 0) {
      problems.push('introspection.jwtResponse.algorithms is required');
    } else if (!algorithms.every((alg) => (ASYMMETRIC_ALGORITHMS as readonly unknown[]).includes(alg))) {
      problems.push(
        `introspection.jwtResponse.algorithms may only contain asymmetric algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')}); "none" and HMAC are refused`,
      );
    }
  }
  if (options.scopeClaims !== undefined && !isScopeClaimList(options.scopeClaims)) {
    problems.push('introspection.scopeClaims may only contain scope, scp, permissions, roles');
  }
  return problems;
}
