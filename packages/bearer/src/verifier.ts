import { type JWTVerifyOptions, errors as joseErrors, jwtVerify } from 'jose';
import { type BearerResponse, type ChallengeOptions, isQuotable, toBearerResponse } from './challenge.ts';
import {
  ASYMMETRIC_ALGORITHMS,
  type AsymmetricAlgorithm,
  isAccessTokenType,
  isLegacyAccessTokenType,
  type ParsedCompactJws,
  parseCompactJws,
} from './compact-jws.ts';
import { BearerError, type BearerErrorCode } from './errors.ts';
import { type KeySource, type RemoteJwksOptions, remoteJwks, remoteJwksProblems } from './key-source.ts';
import { type BearerRequestLike, extractBearerToken, type TokenSourceOptions } from './request.ts';
import {
  checkScopes,
  DEFAULT_SCOPE_CLAIMS,
  extractScopes,
  type ScopeClaim,
  type ScopeRequirement,
  scopeRequirementProblems,
} from './scopes.ts';
import type { JsonObject, JsonValue } from './strict-json.ts';

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
  /** Set when this step verifies the `cnf` claim; without such a step, `cnf`-bound tokens are refused. */
  readonly handlesConfirmation?: boolean;
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
  /** Set by a proof-of-possession step, reported on the result. */
  setBinding(binding: TokenBinding): void;
}

/** How the token is bound to its sender; `null` for a plain bearer token. */
export type TokenBinding = null | { readonly type: string; readonly thumbprint: string };

/** Options shared by every issuer. */
export interface CommonVerifierOptions extends TokenSourceOptions {
  /** Allowed clock skew for `exp`/`nbf`/`iat`. Default 30, at most 300. */
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
  );

/** A claim predicate for a route; `false` answers 403. */
export type ClaimCheck = (claims: JsonObject) => boolean | Promise<boolean>;

/** What a route requires, declared once with {@link BearerVerifier.route}. */
export interface RouteRequirement<S extends string = string> {
  readonly scopes?: ScopeRequirement<S>;
  readonly claims?: ClaimCheck | readonly ClaimCheck[];
}

/** A verified access token. Claims objects have a null prototype. */
export interface VerifiedToken {
  readonly claims: JsonObject;
  readonly header: JsonObject;
  readonly scopes: ReadonlySet<string>;
  readonly issuer: string;
  readonly tenant: string | undefined;
  readonly subject: string | undefined;
  readonly clientId: string | undefined;
  readonly binding: TokenBinding;
}

/** The verifier. Adapters wrap {@link BearerVerifier.authenticate}. */
export interface BearerVerifier<S extends string = string> {
  /** Verifies a token string (no scope or route checks). */
  verify(token: string, request?: BearerRequestLike): Promise<VerifiedToken>;
  /** Extracts, verifies and checks a request against a route's requirement. */
  authenticate(request: BearerRequestLike, route?: RouteRequirement<S>): Promise<VerifiedToken>;
  /** Validates a route declaration now (start-up), returning it frozen. */
  route(requirement: RouteRequirement<S>): RouteRequirement<S>;
  /** Maps any error from this verifier to its RFC 6750 answer. */
  toResponse(error: unknown): BearerResponse;
  /** Pre-fetches every issuer's keys; rejects with `ERR_BEARER_KEYS_UNAVAILABLE` if one fails. */
  warm(): Promise<void>;
  /** True when every issuer has usable keys (readiness probe). */
  isReady(): boolean;
  /** Whether body tokens are enabled, so adapters parse a urlencoded body only when needed. */
  readonly allowsBodyToken: boolean;
}

interface ResolvedIssuer {
  readonly issuer: string;
  readonly audience: string[];
  readonly algorithms: ReadonlySet<string>;
  readonly keys: KeySource;
  readonly requireAccessTokenType: boolean;
  readonly tenant: string | undefined;
  readonly clockTolerance: number;
  readonly maxTokenAge: number | undefined;
  readonly scopeClaims: readonly ScopeClaim[];
  readonly requiredClaims: string[];
}

const ALLOWED = new Set<string>(ASYMMETRIC_ALGORITHMS);
const SCOPE_CLAIMS = new Set<string>(['scope', 'scp', 'permissions', 'roles']);

const invalid = (message: string): BearerError => new BearerError('ERR_BEARER_TOKEN_INVALID', message);

function isNonNegativeNumber(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= max;
}

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
  if (options.scopeClaims !== undefined && !options.scopeClaims.every((claim) => SCOPE_CLAIMS.has(claim))) {
    problems.push(`${prefix}scopeClaims may only contain scope, scp, permissions, roles`);
  }
  if (options.requireAccessTokenType !== undefined && typeof options.requireAccessTokenType !== 'boolean') {
    problems.push(`${prefix}requireAccessTokenType must be a boolean`);
  }
  return problems;
}

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
  if (options.scopeClaims !== undefined && !options.scopeClaims.every((claim) => SCOPE_CLAIMS.has(claim))) {
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

function optionalString(claims: JsonObject, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}

/** Type checks on registered claims before any crypto; values are checked after the signature. */
function checkClaimTypes(claims: JsonObject): void {
  for (const name of ['exp', 'nbf', 'iat'] as const) {
    if (Object.hasOwn(claims, name)) {
      const value = claims[name];
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        throw invalid(`The "${name}" claim must be a non-negative NumericDate.`);
      }
    }
  }
  if (!Object.hasOwn(claims, 'exp')) throw invalid('The token has no "exp" claim; access tokens must expire.');
  for (const name of ['sub', 'jti', 'client_id'] as const) {
    if (Object.hasOwn(claims, name) && typeof claims[name] !== 'string') {
      throw invalid(`The "${name}" claim must be a string.`);
    }
  }
  const aud: JsonValue | undefined = claims.aud;
  if (typeof aud !== 'string' && !(Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string'))) {
    throw invalid('The "aud" claim must be a string or a non-empty array of strings.');
  }
}

function mapJoseError(error: unknown): BearerError {
  if (error instanceof BearerError) return error;
  if (error instanceof joseErrors.JWTExpired) {
    return new BearerError(
      'ERR_BEARER_TOKEN_EXPIRED',
      `The token failed the "${error.claim}" time check (expired or too old).`,
    );
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    return invalid(`The token failed the "${error.claim}" claim check (${error.reason}).`);
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return invalid('The token signature is invalid.');
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid) {
    return new BearerError('ERR_BEARER_TOKEN_MALFORMED', 'The token is not a valid JWS/JWT.');
  }
  return invalid("The token could not be verified with the issuer's keys and algorithms.");
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('revocation check timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function freezeRoute<S extends string>(requirement: RouteRequirement<S>): RouteRequirement<S> {
  const problems = scopeRequirementProblems(requirement.scopes);
  const checks = requirement.claims;
  if (checks !== undefined) {
    const list = Array.isArray(checks) ? checks : [checks];
    if (!list.every((check) => typeof check === 'function')) problems.push('claims must be a function or functions');
  }
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid route requirement: ${problems.join('; ')}.`);
  }
  return Object.freeze({ ...requirement });
}

/**
 * Creates the framework-neutral verifier. Secure by default: `issuer`, `audience` and
 * `algorithms` are required; only asymmetric algorithms; `exp` required; RFC 9068 `typ: at+jwt`
 * required (opt out per issuer); 30 s clock tolerance (at most 300); tokens only from the
 * `Authorization` header; strict parsing before any crypto; keys only from the configured JWKS.
 * Every option problem is reported at once as `ERR_BEARER_INVALID_OPTIONS`.
 *
 * @example
 * ```ts
 * import { createBearerVerifier } from '@rampart/bearer';
 * const verifier = createBearerVerifier({
 *   issuer: 'https://id.example.com',
 *   audience: 'https://orders.example.com',
 *   algorithms: ['RS256'],
 *   jwksUri: 'https://id.example.com/jwks',
 * });
 * await verifier.warm();
 * const ordersRead = verifier.route({ scopes: { all: ['orders:read'] } });
 * ```
 */
export function createBearerVerifier<S extends string = string>(options: BearerVerifierOptions): BearerVerifier<S> {
  const problems = commonProblems(options);
  const entries: [string, IssuerOptions][] =
    options.issuers !== undefined
      ? Object.entries(options.issuers)
      : options.issuer !== undefined
        ? [[options.issuer, options]]
        : [];
  if (entries.length === 0) problems.push('issuer (or issuers) is required');
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

  const clock = options.now ?? Date.now;
  const revocationTimeoutMs = options.revocationTimeoutMs ?? 1_000;
  const maxTokenBytes = options.maxTokenBytes ?? 8192;
  const steps = [...(options.steps ?? [])];
  const confirmationHandled = steps.some((step) => step.handlesConfirmation === true);
  const challenge: ChallengeOptions = {
    realm: options.realm,
    discloseScopes: options.discloseScopes,
    resourceMetadata: options.resourceMetadata,
  };
  const issuers = new Map<string, ResolvedIssuer>();
  const allAlgorithms = new Set<string>();
  for (const [issuer, config] of entries) {
    const keys = config.keys ?? remoteJwks(config.jwksUri as string, config.jwks ?? {});
    for (const alg of config.algorithms) allAlgorithms.add(alg);
    issuers.set(issuer, {
      issuer,
      audience: typeof config.audience === 'string' ? [config.audience] : [...config.audience],
      algorithms: new Set(config.algorithms),
      keys,
      requireAccessTokenType: config.requireAccessTokenType ?? true,
      tenant: config.tenant,
      clockTolerance: config.clockToleranceSeconds ?? options.clockToleranceSeconds ?? 30,
      maxTokenAge: config.maxTokenAgeSeconds ?? options.maxTokenAgeSeconds,
      scopeClaims: config.scopeClaims ?? options.scopeClaims ?? DEFAULT_SCOPE_CLAIMS,
      requiredClaims: ['exp', ...(config.requiredClaims ?? [])],
    });
  }

  const verifySignature = async (token: string, config: ResolvedIssuer): Promise<void> => {
    const verifyOptions: JWTVerifyOptions = {
      algorithms: [...config.algorithms],
      issuer: config.issuer,
      audience: config.audience,
      clockTolerance: config.clockTolerance,
      requiredClaims: config.requiredClaims,
      currentDate: new Date(clock()),
      ...(config.maxTokenAge === undefined ? {} : { maxTokenAge: config.maxTokenAge }),
    };
    try {
      await jwtVerify(token, config.keys.getKey, verifyOptions);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw mapJoseError(error);
      // Several keys match a header without a decisive kid: try each, as jose documents.
      for await (const key of error as unknown as AsyncIterable<CryptoKey>) {
        try {
          await jwtVerify(token, key, verifyOptions);
          return;
        } catch (inner) {
          if (!(inner instanceof joseErrors.JWSSignatureVerificationFailed)) throw mapJoseError(inner);
        }
      }
      throw invalid('The token signature is invalid.');
    }
  };

  const verify = async (token: string, request?: BearerRequestLike): Promise<VerifiedToken> => {
    const parsed: ParsedCompactJws = parseCompactJws(token, allAlgorithms, { maxTokenBytes });
    const iss = parsed.payload.iss;
    if (typeof iss !== 'string') throw invalid('The token has no "iss" claim.');
    const config = issuers.get(iss);
    if (config === undefined) throw invalid('The token\'s "iss" is not a configured issuer.');
    if (!config.algorithms.has(parsed.alg)) {
      throw invalid('The token header "alg" is not in this issuer\'s algorithms allowlist.');
    }
    if (config.requireAccessTokenType ? !isAccessTokenType(parsed.typ) : !isLegacyAccessTokenType(parsed.typ)) {
      throw invalid('The token header "typ" is not "at+jwt" (RFC 9068); it is not an access token.');
    }
    checkClaimTypes(parsed.payload);
    await verifySignature(token, config);

    const claims = parsed.payload;
    const now = clock() / 1000;
    const iat = claims.iat;
    if (typeof iat === 'number' && iat > now + config.clockTolerance) {
      throw invalid('The token\'s "iat" is in the future.');
    }
    if (Object.hasOwn(claims, 'cnf') && !confirmationHandled) {
      throw invalid(
        'The token is sender-constrained ("cnf") but no proof-of-possession step is configured; refusing it as a plain bearer token.',
      );
    }
    const scopes = extractScopes(claims, config.scopeClaims);
    let binding: TokenBinding = null;
    const context: VerificationContext = {
      token,
      header: parsed.header,
      claims,
      issuer: config.issuer,
      request,
      setBinding: (value) => {
        binding = value;
      },
    };
    for (const step of steps) {
      try {
        await step.run(context);
      } catch (error) {
        if (error instanceof BearerError) throw error;
        throw invalid(`Verification step "${step.name}" rejected the token.`);
      }
    }
    if (options.isRevoked) {
      let revoked: boolean;
      try {
        revoked = await withTimeout(
          Promise.resolve(
            options.isRevoked({
              issuer: config.issuer,
              jti: optionalString(claims, 'jti'),
              sub: optionalString(claims, 'sub'),
              clientId: optionalString(claims, 'client_id'),
              iat: typeof iat === 'number' ? iat : undefined,
            }),
          ),
          revocationTimeoutMs,
        );
      } catch (cause) {
        throw new BearerError(
          'ERR_BEARER_REVOCATION_UNAVAILABLE',
          'The isRevoked hook failed; the token is refused until it can answer.',
          { cause, retryable: true, retryAfterSeconds: 5 },
        );
      }
      if (revoked === true) {
        throw new BearerError('ERR_BEARER_TOKEN_REVOKED', 'The isRevoked hook reports this token as revoked.');
      }
    }
    return Object.freeze({
      claims,
      header: parsed.header,
      scopes,
      issuer: config.issuer,
      tenant: config.tenant,
      subject: optionalString(claims, 'sub'),
      clientId: optionalString(claims, 'client_id'),
      binding,
    });
  };

  const validatedRoutes = new WeakSet<object>();

  const report = (decision: BearerDecision): void => {
    try {
      options.onDecision?.(decision);
    } catch {
      // Metrics must never change an authentication decision.
    }
  };

  const authenticate = async (
    request: BearerRequestLike,
    route: RouteRequirement<S> | undefined,
  ): Promise<VerifiedToken> => {
    const token = extractBearerToken(request, options);
    const result = await verify(token, request);
    if (route !== undefined) {
      if (!validatedRoutes.has(route)) {
        freezeRoute(route);
        validatedRoutes.add(route);
      }
      checkScopes(result.scopes, route.scopes);
      const checks = route.claims === undefined ? [] : Array.isArray(route.claims) ? route.claims : [route.claims];
      for (const check of checks as ClaimCheck[]) {
        let passed = false;
        try {
          passed = (await check(result.claims)) === true;
        } catch {
          passed = false;
        }
        if (!passed) {
          throw new BearerError('ERR_BEARER_CLAIM_CHECK_FAILED', "The token failed a route's claim check.");
        }
      }
    }
    return result;
  };

  return {
    verify,
    async authenticate(request, route) {
      try {
        const result = await authenticate(request, route);
        report({ outcome: 'accepted', issuer: result.issuer, tenant: result.tenant });
        return result;
      } catch (error) {
        report({ outcome: 'rejected', code: error instanceof BearerError ? error.code : 'internal' });
        throw error;
      }
    },
    route(requirement) {
      const frozen = freezeRoute(requirement);
      validatedRoutes.add(frozen);
      return frozen;
    },
    toResponse: (error) => toBearerResponse(error, challenge),
    async warm() {
      await Promise.all([...issuers.values()].map((config) => config.keys.warm()));
    },
    isReady: () => [...issuers.values()].every((config) => config.keys.isReady()),
    allowsBodyToken: options.allowBodyToken === true,
  };
}

/**
 * A claim check: `claims[name]` equals `value` (strict).
 *
 * @example
 * ```ts
 * verifier.route({ claims: claimEquals('tenant_id', 'acme') });
 * ```
 */
export function claimEquals(name: string, value: string | number | boolean): ClaimCheck {
  return (claims) => Object.hasOwn(claims, name) && claims[name] === value;
}

/**
 * A claim check: `claims[name]` is an array (or space-delimited string) containing every one of `values`.
 *
 * @example
 * ```ts
 * verifier.route({ claims: claimIncludes('groups', 'admins') });
 * ```
 */
export function claimIncludes(name: string, ...values: readonly string[]): ClaimCheck {
  return (claims) => {
    if (!Object.hasOwn(claims, name)) return false;
    const value = claims[name];
    const have = typeof value === 'string' ? value.split(' ') : Array.isArray(value) ? value : [];
    return values.every((wanted) => have.includes(wanted));
  };
}
