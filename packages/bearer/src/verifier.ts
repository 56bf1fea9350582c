import { type JWSHeaderParameters, errors as joseErrors } from 'jose';
import { type BearerResponse, type ChallengeOptions, toBearerResponse } from './challenge.ts';
import type { ClaimCheck } from './claim-checks.ts';
import { checkClaimTypes, validateClaims } from './claims.ts';
import {
  deepFreeze,
  isAccessTokenType,
  isLegacyAccessTokenType,
  type ParsedCompactJws,
  parseCompactJws,
} from './compact-jws.ts';
import { createDpopRuntime, type DpopRuntime } from './dpop.ts';
import { BearerError } from './errors.ts';
import { createIntrospector, type Introspector } from './introspection.ts';
import {
  beginVerification,
  endVerification,
  isKeyForAlgorithm,
  verificationIsAlone,
  verifyJwsSignature,
} from './jws-signature.ts';
import { type KeyResolver, type KeySource, remoteJwks } from './key-source.ts';
import { createMtlsStep } from './mtls.ts';
import { type BearerRequestLike, extractAccessToken, type TokenScheme } from './request.ts';
import {
  checkScopes,
  DEFAULT_SCOPE_CLAIMS,
  extractScopes,
  isScopeToken,
  type ScopeClaim,
  type ScopeRequirement,
  scopeRequirementProblems,
} from './scopes.ts';
import { isJsonObject, type JsonObject } from './strict-json.ts';
import { VerifiedTokenCache } from './verified-token-cache.ts';
import {
  type BearerDecision,
  type BearerVerifierOptions,
  commonProblems,
  type IssuerOptions,
  issuerProblems,
  type TokenBinding,
  type VerificationContext,
} from './verifier-options.ts';

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
   */
  readonly authentication?: { readonly acrValues?: readonly string[]; readonly maxAgeSeconds?: number };
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
  /** Headers adapters add to the successful response (a rotated `dpop-nonce`); usually empty. */
  readonly responseHeaders: Readonly<Record<string, string>>;
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
  readonly getKey: KeyResolver;
}

/**
 * Whatever a key source throws that is not a verdict on the token (a custom source's network
 * error, a bug) means keys could not be obtained: 503, never 401.
 */
function guardKeySource(keys: KeySource): KeyResolver {
  return async (header, token) => {
    try {
      return await keys.getKey(header, token);
    } catch (error) {
      if (
        error instanceof BearerError ||
        error instanceof joseErrors.JWKSMultipleMatchingKeys ||
        error instanceof joseErrors.JWKSNoMatchingKey
      ) {
        throw error;
      }
      throw new BearerError(
        'ERR_BEARER_KEYS_UNAVAILABLE',
        "The issuer's key source failed; the token could not be checked. Retry later.",
        { cause: error, retryable: true, retryAfterSeconds: keys.retryAfterSeconds },
      );
    }
  };
}

const invalid = (message: string): BearerError => new BearerError('ERR_BEARER_TOKEN_INVALID', message);

const EMPTY_HEADER: JsonObject = Object.freeze(Object.create(null));

/**
 * A JWT to verify locally (hybrid mode): three non-empty dot-separated segments, the first a
 * base64url JSON object (its first byte after optional whitespace is `{`). Other dotted formats
 * (PASETO `v4.local.…`, vendor handles) are opaque and go to introspection.
 */
function isCompactJws(token: string): boolean {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (!(first > 0 && second > first + 1 && token.indexOf('.', second + 1) === -1 && second < token.length - 1)) {
    return false;
  }
  const head = Buffer.from(token.slice(0, Math.min(first, 16)), 'base64url').toString('latin1');
  return /^[\t\n\r ]*\{/.test(head);
}

/** RFC 7800 / 8705 / 9449 confirmation methods; `cnf` members outside this list are ignored. */
const CONFIRMATION_METHODS: ReadonlySet<string> = new Set(['jkt', 'x5t#S256', 'jwk', 'jwe', 'jku', 'kid']);

function optionalString(claims: JsonObject, name: string): string | undefined {
  const value = claims[name];
  return typeof value === 'string' ? value : undefined;
}

/** What is left after guardKeySource is a verdict on the token (no key for its kid/alg): 401. */
function keySelectionError(error: unknown): BearerError {
  if (error instanceof BearerError) return error;
  return invalid('No key of this issuer matches the token\'s "kid" and "alg".');
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('revocation check timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** RFC 9470 §3: `acr` among the accepted values, `auth_time` recent enough. */
function checkStepUp(
  claims: JsonObject,
  required: NonNullable<RouteRequirement['authentication']>,
  nowSeconds: number,
): void {
  const { acrValues, maxAgeSeconds } = required;
  const acrOk = acrValues === undefined || (typeof claims.acr === 'string' && acrValues.includes(claims.acr));
  const authTime = claims.auth_time;
  const ageOk =
    maxAgeSeconds === undefined ||
    (typeof authTime === 'number' && Number.isFinite(authTime) && nowSeconds - authTime <= maxAgeSeconds);
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

function freezeRoute<S extends string>(requirement: RouteRequirement<S>): RouteRequirement<S> {
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

  const clock = options.now ?? Date.now;
  const revocationTimeoutMs = options.revocationTimeoutMs ?? 1_000;
  const maxTokenBytes = options.maxTokenBytes ?? 8192;
  const introspector =
    options.introspection === undefined ? undefined : createIntrospector(options.introspection, clock);
  const dpop: DpopRuntime | undefined = options.dpop === undefined ? undefined : createDpopRuntime(options.dpop, clock);
  // Built-in confirmation steps first: certificate-bound tokens are always enforced (fail closed).
  const steps = [createMtlsStep(options.mtls), ...(dpop === undefined ? [] : [dpop.step]), ...(options.steps ?? [])];
  const handlesAllConfirmations = steps.some((step) => step.handlesConfirmation === true);
  const handledConfirmations = new Set(
    steps.flatMap((step) => (Array.isArray(step.handlesConfirmation) ? step.handlesConfirmation : [])),
  );
  const acceptedSchemes = { bearer: dpop?.required !== true, dpop: dpop !== undefined };
  const challenge: ChallengeOptions = {
    realm: options.realm,
    discloseScopes: options.discloseScopes,
    resourceMetadata: options.resourceMetadata,
    dpop: dpop === undefined ? undefined : { algorithms: dpop.algorithms, required: dpop.required },
  };
  /** The scheme each failed request used, so its challenge carries the error under that scheme. */
  const schemeOfError = new WeakMap<object, TokenScheme>();
  const issuers = new Map<string, ResolvedIssuer>();
  const allAlgorithms = new Set<string>();
  for (const [issuer, config] of entries) {
    const keys = config.keys ?? remoteJwks(config.jwksUri as string, config.jwks ?? {});
    const maxTokenAge = config.maxTokenAgeSeconds ?? options.maxTokenAgeSeconds;
    for (const alg of config.algorithms) allAlgorithms.add(alg);
    issuers.set(issuer, {
      issuer,
      audience: typeof config.audience === 'string' ? [config.audience] : [...config.audience],
      algorithms: new Set(config.algorithms),
      keys,
      requireAccessTokenType: config.requireAccessTokenType ?? true,
      tenant: config.tenant,
      clockTolerance: config.clockToleranceSeconds ?? options.clockToleranceSeconds ?? 30,
      maxTokenAge,
      scopeClaims: config.scopeClaims ?? options.scopeClaims ?? DEFAULT_SCOPE_CLAIMS,
      requiredClaims: ['exp', ...(config.requiredClaims ?? [])],
      getKey: guardKeySource(keys),
    });
  }

  const verifySignature = async (parsed: ParsedCompactJws, config: ResolvedIssuer): Promise<void> => {
    // jose selects and imports the key (JWKS, kid/alg/kty/use matching, import cache); the
    // signature is then checked (WebCrypto, or inline when alone) on the segments we already
    // parsed strictly, so the token is decoded once. verifyJwsSignature applies jose's own
    // key/algorithm checks.
    const dot = parsed.signingInput.indexOf('.');
    const jws = {
      protected: parsed.signingInput.slice(0, dot),
      payload: parsed.signingInput.slice(dot + 1),
      signature: parsed.signature,
    };
    // Buffer.from(string) never allocates from a SharedArrayBuffer.
    const signingInput = Buffer.from(parsed.signingInput, 'latin1') as Uint8Array<ArrayBuffer>;
    const signature = Buffer.from(parsed.signature, 'base64url') as Uint8Array<ArrayBuffer>;
    let key: CryptoKey;
    try {
      // jose matches keys on alg and kid only; hand it just those (a small plain object is also
      // much cheaper for it to spread than the full null-prototype header).
      const selector: JWSHeaderParameters =
        parsed.kid === undefined ? { alg: parsed.alg } : { alg: parsed.alg, kid: parsed.kid };
      key = await config.getKey(selector, jws);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSMultipleMatchingKeys)) throw keySelectionError(error);
      // Several keys match a header without a decisive kid: try each, as jose documents.
      for await (const candidate of error as unknown as AsyncIterable<CryptoKey>) {
        if (await verifyJwsSignature(parsed.alg, candidate, signingInput, signature, verificationIsAlone())) return;
      }
      throw invalid('The token signature is invalid.');
    }
    if (!isKeyForAlgorithm(key, parsed.alg)) {
      throw invalid("The issuer's key for this token cannot verify it (wrong type, curve or size).");
    }
    if (!(await verifyJwsSignature(parsed.alg, key, signingInput, signature, verificationIsAlone()))) {
      throw invalid('The token signature is invalid.');
    }
  };

  const verifiedCache =
    options.verifiedTokenCache === undefined
      ? undefined
      : new VerifiedTokenCache<{ parsed: ParsedCompactJws; config: ResolvedIssuer }>(options.verifiedTokenCache);

  /** Parsing, issuer selection and the signature: the part a verified-token cache may skip. */
  const verifyStructureAndSignature = async (
    token: string,
  ): Promise<{ parsed: ParsedCompactJws; config: ResolvedIssuer }> => {
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
    await verifySignature(parsed, config);
    return { parsed, config };
  };

  interface TokenSource {
    readonly claims: JsonObject;
    readonly header: JsonObject;
    readonly issuer: string;
    readonly tenant: string | undefined;
    readonly scopeClaims: readonly ScopeClaim[];
  }

  const verifyLocally = async (token: string): Promise<TokenSource> => {
    let verified: { parsed: ParsedCompactJws; config: ResolvedIssuer } | undefined;
    const cacheKey = verifiedCache === undefined ? undefined : VerifiedTokenCache.keyOf(token);
    if (verifiedCache !== undefined && cacheKey !== undefined) {
      verified = verifiedCache.get(cacheKey, clock());
      if (verified === undefined) {
        verified = await verifyStructureAndSignature(token);
        // Shared by every later request with this token: nobody may change it.
        deepFreeze(verified.parsed.header);
        deepFreeze(verified.parsed.payload);
        const exp = verified.parsed.payload.exp as number;
        // Keep the claims, never the token or its signature.
        const { signingInput: _input, signature: _signature, ...claimsOnly } = verified.parsed;
        verifiedCache.set(
          cacheKey,
          { parsed: { ...claimsOnly, signingInput: '', signature: '' }, config: verified.config },
          clock(),
          exp * 1000,
        );
      }
    } else {
      verified = await verifyStructureAndSignature(token);
    }
    const { parsed, config } = verified;
    validateClaims(parsed.payload, config, clock() / 1000);
    return {
      claims: parsed.payload,
      header: parsed.header,
      issuer: config.issuer,
      tenant: config.tenant,
      scopeClaims: config.scopeClaims,
    };
  };

  const introspect = async (token: string): Promise<TokenSource> => {
    const active = introspector as Introspector;
    const claims = await active.introspect(token);
    return {
      claims,
      header: EMPTY_HEADER,
      issuer: active.issuer,
      tenant: active.tenant,
      scopeClaims: active.scopeClaims ?? options.scopeClaims ?? DEFAULT_SCOPE_CLAIMS,
    };
  };

  /**
   * Hybrid mode: a compact JWS goes to local verification when issuers are configured; anything
   * else (an opaque handle, or every token when only introspection is configured) is introspected.
   */
  const obtain = (token: string): Promise<TokenSource> => {
    if (introspector === undefined) return verifyLocally(token);
    if (issuers.size > 0 && isCompactJws(token)) return verifyLocally(token);
    if (token.length > maxTokenBytes) {
      return Promise.reject(
        new BearerError('ERR_BEARER_TOKEN_MALFORMED', `The token is larger than maxTokenBytes (${maxTokenBytes}).`),
      );
    }
    return introspect(token);
  };

  /**
   * One verification, counted process-wide while it runs: a service handling one request at a time
   * verifies signatures inline, a busy one keeps the other cores verifying (verifyJwsSignature).
   */
  const verify = async (
    token: string,
    request?: BearerRequestLike,
    scheme: TokenScheme = 'Bearer',
  ): Promise<VerifiedToken> => {
    beginVerification();
    try {
      return await verifyCounted(token, request, scheme);
    } finally {
      endVerification();
    }
  };

  const verifyCounted = async (
    token: string,
    request: BearerRequestLike | undefined,
    scheme: TokenScheme,
  ): Promise<VerifiedToken> => {
    const source = await obtain(token);
    const claims = source.claims;
    const iat = claims.iat;
    if (Object.hasOwn(claims, 'cnf') && !handlesAllConfirmations) checkConfirmation(claims.cnf);
    const scopes = extractScopes(claims, source.scopeClaims);
    let binding: TokenBinding = null;
    const responseHeaders: Record<string, string> = {};
    const context: VerificationContext = {
      token,
      header: source.header,
      claims,
      issuer: source.issuer,
      request,
      scheme,
      setBinding: (value) => {
        binding = value;
      },
      setResponseHeader: (name, value) => {
        responseHeaders[name.toLowerCase()] = value;
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
      let revoked: unknown;
      try {
        revoked = await withTimeout(
          Promise.resolve(
            options.isRevoked({
              issuer: source.issuer,
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
      // Anything but `false` (a string, a record, undefined from a missing `return`) is a hook bug:
      // refused as if the hook were down, never read as "not revoked".
      if (revoked !== false) {
        throw new BearerError(
          'ERR_BEARER_REVOCATION_UNAVAILABLE',
          'The isRevoked hook answered something other than true or false; the token is refused until it does.',
          { retryable: true, retryAfterSeconds: 5 },
        );
      }
    }
    return Object.freeze({
      claims,
      header: source.header,
      scopes,
      issuer: source.issuer,
      tenant: source.tenant,
      subject: optionalString(claims, 'sub'),
      clientId: optionalString(claims, 'client_id'),
      binding,
      responseHeaders: Object.freeze(responseHeaders),
    });
  };

  /**
   * Every confirmation method in `cnf` must be verified by a step; `cnf` with no method this
   * verifier knows (or one it cannot check) means the token is bound to something unchecked.
   */
  const checkConfirmation = (cnf: JsonObject[string] | undefined): void => {
    if (!isJsonObject(cnf)) throw invalid('The token\'s "cnf" claim is not an object.');
    const methods = Object.keys(cnf).filter((member) => CONFIRMATION_METHODS.has(member));
    if (methods.length === 0) {
      throw invalid('The token\'s "cnf" carries no confirmation method this verifier can check; refusing it.');
    }
    for (const method of methods) {
      if (!handledConfirmations.has(method)) {
        throw invalid(
          method === 'jkt'
            ? 'The token is DPoP-bound ("cnf.jkt") but DPoP is not enabled (dpop option); refusing it as a plain bearer token.'
            : `The token is bound by "cnf.${method}", which no verification step checks; refusing it.`,
        );
      }
    }
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
    let scheme: TokenScheme | undefined;
    let result: VerifiedToken;
    try {
      const extracted = extractAccessToken(request, options, acceptedSchemes);
      scheme = extracted.scheme;
      result = await verify(extracted.token, request, scheme);
    } catch (error) {
      if (scheme !== undefined && typeof error === 'object' && error !== null) schemeOfError.set(error, scheme);
      throw error;
    }
    try {
      await checkRoute(request, route, result);
    } catch (error) {
      if (scheme !== undefined && typeof error === 'object' && error !== null) schemeOfError.set(error, scheme);
      throw error;
    }
    return result;
  };

  const checkRoute = async (
    request: BearerRequestLike,
    route: RouteRequirement<S> | undefined,
    result: VerifiedToken,
  ): Promise<void> => {
    if (route !== undefined) {
      if (!validatedRoutes.has(route)) {
        freezeRoute(route);
        validatedRoutes.add(route);
      }
      if (route.tenant !== undefined) {
        const expected = typeof route.tenant === 'function' ? route.tenant(request) : route.tenant;
        if (expected === undefined || result.tenant !== expected) {
          throw invalid("The token's issuer does not belong to this route's tenant.");
        }
      }
      if (route.authentication !== undefined) checkStepUp(result.claims, route.authentication, clock() / 1000);
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
  };

  return {
    verify: (token, request) => verify(token, request),
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
    toResponse: (error) =>
      toBearerResponse(
        error,
        challenge,
        typeof error === 'object' && error !== null ? (schemeOfError.get(error) ?? 'Bearer') : 'Bearer',
      ),
    async warm() {
      await Promise.all([...issuers.values()].map((config) => config.keys.warm()));
    },
    isReady: () => [...issuers.values()].every((config) => config.keys.isReady()),
    allowsBodyToken: options.allowBodyToken === true,
  };
}
