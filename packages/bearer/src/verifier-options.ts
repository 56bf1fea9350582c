import { isQuotable } from './challenge.ts';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './compact-jws.ts';
import { type DpopOptions, dpopProblems } from './dpop-options.ts';
import { BearerError, type BearerErrorCode } from './errors.ts';
import { type IntrospectionOptions, introspectionProblems } from './introspection-options.ts';
import { type KeySource, type RemoteJwksOptions, remoteJwksProblems } from './key-source.ts';
import { type MtlsOptions, mtlsProblems } from './mtls.ts';
import type { BearerRequestLike, TokenScheme, TokenSourceOptions } from './request.ts';
import { isScopeClaimList, type ScopeClaim } from './scopes.ts';
import type { JsonObject } from './strict-json.ts';
import { type VerifiedTokenCacheOptions, verifiedTokenCacheProblems } from './verified-token-cache.ts';

/** One trusted issuer. The token's `iss` selects it by exact string match; it never builds a URL. */
export interface IssuerOptions {
  /** Expected `aud`: the token must name at least one of these. Required. */
  readonly audience: string | readonly string[];
  /** Allowed `alg` values, asymmetric only. Required: there is no default. */
  readonly algorithms: readonly AsymmetricAlgorithm[];
  /** Where keys come from: an https JWKS URL (explicit, never derived from `iss`). */
  readonly jwksUri?: string;
  /** Options for the remote JWKS at `jwksUri`. */
  readonly jwks?: RemoteJwksOptions;
  /** A ready key source (`staticJwks(...)`, `remoteJwks(...)`); instead of `jwksUri`. */
  readonly keys?: KeySource;
  /** Require RFC 9068 `typ: at+jwt`. Default true; false accepts `JWT` or no `typ` (legacy issuers). */
  readonly requireAccessTokenType?: boolean;
  /** Tenant id reported on verified tokens from this issuer. */
  readonly tenant?: string;
  /** Overrides the verifier's `clockToleranceSeconds` for this issuer. */
  readonly clockToleranceSeconds?: number;
  /** Overrides the verifier's `maxTokenAgeSeconds` for this issuer. */
  readonly maxTokenAgeSeconds?: number;
  /** Overrides the verifier's `scopeClaims` for this issuer (Entra: `['scp', 'roles']`). */
  readonly scopeClaims?: readonly ScopeClaim[];
  /** Claims that must be present besides `iss`, `aud` and `exp` (e.g. `['sub', 'client_id', 'jti']`). */
  readonly requiredClaims?: readonly string[];
}

/** What the revocation hook is given. */
export interface RevocationQuery {
  readonly issuer: string;
  readonly jti: string | undefined;
  readonly sub: string | undefined;
  readonly clientId: string | undefined;
  readonly iat: number | undefined;
}

/**
 * A step run after the signature and standard claims are verified: the extension point for
 * sender-constrained tokens (DPoP, mTLS) and custom policy. Throw a `BearerError` to reject.
 */
export interface VerificationStep {
  /** For logs and error reports. */
  readonly name: string;
  /**
   * The `cnf` members this step verifies (e.g. `['jkt']`), or `true` for all. A token whose `cnf`
   * carries a confirmation method no step handles is refused.
   */
  readonly handlesConfirmation?: boolean | readonly string[];
  run(context: VerificationContext): void | Promise<void>;
}

/** What a {@link VerificationStep} sees. */
export interface VerificationContext {
  readonly token: string;
  readonly header: JsonObject;
  readonly claims: JsonObject;
  readonly issuer: string;
  /** Absent when `verify(token)` is called without a request. */
  readonly request: BearerRequestLike | undefined;
  /** The `Authorization` scheme the token came with (`Bearer` for `verify(token)`). */
  readonly scheme: TokenScheme;
  /** Set by a proof-of-possession step, reported on the result. */
  setBinding(binding: TokenBinding): void;
  /** Adds a header to the successful response (e.g. a fresh `DPoP-Nonce`); lower-case name. */
  setResponseHeader(name: string, value: string): void;
}

/** How the token is bound to its sender; `null` for a plain bearer token. */
export type TokenBinding = null | { readonly type: string; readonly thumbprint: string };

/** Options shared by every issuer. */
export interface CommonVerifierOptions extends TokenSourceOptions {
  /** Allowed clock skew for `exp`/`nbf`/`iat`, and `auth_time` on a `maxAgeSeconds` route. Default 30, at most 300. */
  readonly clockToleranceSeconds?: number;
  /** Reject tokens whose `iat` is older than this (requires `iat`). Default: no limit. */
  readonly maxTokenAgeSeconds?: number;
  /** Largest accepted token. Default 8192, at most 65536. */
  readonly maxTokenBytes?: number;
  /** Claims scopes are read from, merged. Default `['scope', 'scp']`. */
  readonly scopeClaims?: readonly ScopeClaim[];
  /** `true` revokes; a throw, a rejection or no answer within `revocationTimeoutMs` answers 503 (fail closed). */
  readonly isRevoked?: (query: RevocationQuery) => boolean | Promise<boolean>;
  /** How long `isRevoked` may take. Default 1000, at most 30000. */
  readonly revocationTimeoutMs?: number;
  /** `realm` in challenges: quotable ASCII (no `"` or `\`). */
  readonly realm?: string;
  /** Include required scopes in 403 challenges. Default true. */
  readonly discloseScopes?: boolean;
  /** RFC 9728 protected-resource metadata URL for the `resource_metadata` challenge parameter. */
  readonly resourceMetadata?: string;
  /** Extra steps after verification (proof-of-possession, policy). */
  readonly steps?: readonly VerificationStep[];
  /**
   * Enables DPoP (RFC 9449): the `DPoP` scheme is accepted with proofs checked in full, and
   * DPoP-bound tokens sent as `Bearer` are refused. Without it, DPoP-bound tokens are refused.
   */
  readonly dpop?: DpopOptions;
  /**
   * Where client certificates come from for mTLS-bound tokens (RFC 8705). Tokens with
   * `cnf.x5t#S256` are enforced whether or not this is set (default: the TLS socket).
   */
  readonly mtls?: MtlsOptions;
  /**
   * RFC 7662 introspection for opaque tokens. With issuers configured too (hybrid mode), JWTs are
   * verified locally and everything else is introspected; alone, every token is introspected.
   */
  readonly introspection?: IntrospectionOptions;
  /**
   * Opt-in: skip parsing and signature checks for a token seen in the last `maxTtlSeconds`
   * (default 60). Claims, scopes, steps and revocation still run per request. A key removed from
   * the JWKS stops being trusted for cached tokens only after the TTL. Default off.
   */
  readonly verifiedTokenCache?: VerifiedTokenCacheOptions;
  /** Clock in ms since the epoch, for tests. Default `Date.now`. */
  readonly now?: () => number;
  /**
   * Called once per `authenticate()` with the outcome, for metrics and logs. Carries the stable
   * error code, never the token; `issuer`/`tenant` only for accepted tokens. Exceptions are ignored.
   */
  readonly onDecision?: (decision: BearerDecision) => void;
}

/** What {@link CommonVerifierOptions.onDecision} receives. */
export type BearerDecision =
  | { readonly outcome: 'accepted'; readonly issuer: string; readonly tenant: string | undefined }
  | { readonly outcome: 'rejected'; readonly code: BearerErrorCode | 'internal' };

/** Options of {@link createBearerVerifier}: one issuer inline, or several in `issuers`. */
export type BearerVerifierOptions = CommonVerifierOptions &
  (
    | ({ readonly issuer: string; readonly issuers?: never } & IssuerOptions)
    | { readonly issuers: Readonly<Record<string, IssuerOptions>>; readonly issuer?: never }
    | { readonly introspection: IntrospectionOptions; readonly issuer?: never; readonly issuers?: never }
  );

const ALLOWED = new Set<string>(ASYMMETRIC_ALGORITHMS);

function isNonNegativeNumber(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max;
}

/** Problems with one issuer's options (empty when fine). */
function issuerProblems(issuer: string, options: IssuerOptions, prefix: string): string[] {
  const problems: string[] = [];
  if (typeof issuer !== 'string' || issuer.length === 0) problems.push(`${prefix}issuer must be a non-empty string`);
  const audiences = typeof options.audience === 'string' ? [options.audience] : options.audience;
  if (!Array.isArray(audiences) || audiences.length === 0 || audiences.some((a) => typeof a !== 'string' || a === '')) {
    problems.push(`${prefix}audience is required (a non-empty string or array of strings)`);
  }
  if (!Array.isArray(options.algorithms) || options.algorithms.length === 0) {
    problems.push(`${prefix}algorithms is required (e.g. ['RS256']); there is no default`);
  } else {
    for (const alg of options.algorithms) {
      if (!ALLOWED.has(alg)) {
        problems.push(
          `${prefix}algorithms may only contain asymmetric algorithms (${ASYMMETRIC_ALGORITHMS.join(', ')}); "none" and HMAC are refused`,
        );
        break;
      }
    }
  }
  const sources = [options.jwksUri, options.keys].filter((source) => source !== undefined).length;
  if (sources !== 1) problems.push(`${prefix}exactly one of jwksUri or keys is required`);
  if (options.jwksUri !== undefined) problems.push(...remoteJwksProblems(options.jwksUri, options.jwks ?? {}, prefix));
  if (options.jwks !== undefined && options.jwksUri === undefined) problems.push(`${prefix}jwks options need jwksUri`);
  if (options.clockToleranceSeconds !== undefined && !isNonNegativeNumber(options.clockToleranceSeconds, 300)) {
    problems.push(`${prefix}clockToleranceSeconds must be between 0 and 300`);
  }
  if (options.maxTokenAgeSeconds !== undefined && !isNonNegativeNumber(options.maxTokenAgeSeconds, 31_536_000)) {
    problems.push(`${prefix}maxTokenAgeSeconds must be a non-negative number of seconds`);
  }
  if (options.scopeClaims !== undefined && !isScopeClaimList(options.scopeClaims)) {
    problems.push(`${prefix}scopeClaims may only contain scope, scp, permissions, roles`);
  }
  if (options.requireAccessTokenType !== undefined && typeof options.requireAccessTokenType !== 'boolean') {
    problems.push(`${prefix}requireAccessTokenType must be a boolean`);
  }
  return problems;
}

/** Problems with the options shared by every issuer (empty when fine). */
function commonProblems(options: CommonVerifierOptions): string[] {
  const problems: string[] = [];
  if (options.clockToleranceSeconds !== undefined && !isNonNegativeNumber(options.clockToleranceSeconds, 300)) {
    problems.push('clockToleranceSeconds must be between 0 and 300');
  }
  if (options.maxTokenAgeSeconds !== undefined && !isNonNegativeNumber(options.maxTokenAgeSeconds, 31_536_000)) {
    problems.push('maxTokenAgeSeconds must be a non-negative number of seconds');
  }
  if (
    options.maxTokenBytes !== undefined &&
    !(Number.isInteger(options.maxTokenBytes) && options.maxTokenBytes >= 256 && options.maxTokenBytes <= 65_536)
  ) {
    problems.push('maxTokenBytes must be an integer between 256 and 65536');
  }
  if (options.scopeClaims !== undefined && !isScopeClaimList(options.scopeClaims)) {
    problems.push('scopeClaims may only contain scope, scp, permissions, roles');
  }
  if (options.realm !== undefined && (typeof options.realm !== 'string' || !isQuotable(options.realm))) {
    problems.push('realm must be printable ASCII without " or \\');
  }
  if (options.resourceMetadata !== undefined) {
    try {
      const url = new URL(options.resourceMetadata);
      if (!isQuotable(url.href)) throw new Error('not quotable');
    } catch {
      problems.push('resourceMetadata must be an absolute URL');
    }
  }
  problems.push(...verifiedTokenCacheProblems(options.verifiedTokenCache));
  if (options.dpop !== undefined) problems.push(...dpopProblems(options.dpop));
  if (options.introspection !== undefined) problems.push(...introspectionProblems(options.introspection));
  problems.push(...mtlsProblems(options.mtls));
  if (options.isRevoked !== undefined && typeof options.isRevoked !== 'function') {
    problems.push('isRevoked must be a function');
  }
  if (
    options.revocationTimeoutMs !== undefined &&
    !(
      Number.isFinite(options.revocationTimeoutMs) &&
      options.revocationTimeoutMs > 0 &&
      options.revocationTimeoutMs <= 30_000
    )
  ) {
    problems.push('revocationTimeoutMs must be between 1 and 30000');
  }
  return problems;
}

/** Options that only an issuer has (the others also exist verifier-wide). */
const ISSUER_ONLY_OPTIONS = [
  'audience',
  'algorithms',
  'jwksUri',
  'jwks',
  'keys',
  'requireAccessTokenType',
  'tenant',
  'requiredClaims',
] as const;

/**
 * Checks every verifier option, throwing `ERR_BEARER_INVALID_OPTIONS` with all problems at once,
 * and returns the configured issuers (the inline one, or each `issuers` entry).
 */
export function validateVerifierOptions(options: BearerVerifierOptions): [string, IssuerOptions][] {
  const problems = commonProblems(options);
  const entries: [string, IssuerOptions][] =
    options.issuers !== undefined
      ? Object.entries(options.issuers)
      : options.issuer !== undefined
        ? [[options.issuer, options]]
        : [];
  if (entries.length === 0 && options.introspection === undefined) {
    problems.push('issuer (or issuers, or introspection) is required');
  }
  if (options.issuer === undefined) {
    // Without an inline issuer these would be silently ignored (a JavaScript caller's
    // `requiredClaims` next to `issuers` would check nothing).
    const given = options as unknown as Record<string, unknown>;
    for (const name of ISSUER_ONLY_OPTIONS) {
      if (given[name] !== undefined) {
        problems.push(`${name} belongs to one issuer: set it inside each issuers entry, not at the top level`);
      }
    }
  }
  for (const [issuer, issuerOptions] of entries) {
    const prefix = options.issuers !== undefined ? `issuers[${JSON.stringify(issuer)}].` : '';
    problems.push(...issuerProblems(issuer, issuerOptions, prefix));
  }
  for (const step of options.steps ?? []) {
    if (typeof step?.run !== 'function') problems.push('steps must be objects with a run(context) function');
  }
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid bearer verifier options: ${problems.join('; ')}.`);
  }
  return entries;
}
