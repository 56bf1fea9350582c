import { type BearerResponse, type ChallengeOptions, toBearerResponse } from './challenge.ts';
import { optionalString } from './claims.ts';
import { createDpopRuntime, type DpopRuntime } from './dpop.ts';
import { BearerError, invalidToken } from './errors.ts';
import { createIntrospector, isDpopTokenType } from './introspection.ts';
import { beginVerification, endVerification } from './jws-signature.ts';
import { createJwtVerification, resolveIssuers } from './jwt-verification.ts';
import { createMtlsStep } from './mtls.ts';
import { type BearerRequestLike, extractAccessTokenNotingScheme, type TokenScheme } from './request.ts';
import { checkRevocation } from './revocation.ts';
import { checkRouteRequirement, freezeRoute, type RouteRequirement } from './route-requirement.ts';
import { extractScopes } from './scopes.ts';
import type { JsonObject } from './strict-json.ts';
import { checkConfirmation } from './token-confirmation.ts';
import { createTokenSource } from './token-source.ts';
import {
  type BearerDecision,
  type BearerVerifierOptions,
  type TokenBinding,
  type VerificationContext,
  validateVerifierOptions,
} from './verifier-options.ts';

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

/** A verified token and the clock tolerance its source judges times with (for a route's `auth_time`). */
interface Verification {
  readonly token: VerifiedToken;
  readonly clockTolerance: number;
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
  /**
   * Pre-fetches every issuer's keys and the keys of signed introspection responses; rejects with
   * `ERR_BEARER_KEYS_UNAVAILABLE` if one fails.
   */
  warm(): Promise<void>;
  /**
   * True when every issuer, and signed introspection responses, have usable keys (readiness
   * probe). Also starts a bounded background refresh of keys that are due, so an idle service
   * probed only for readiness recovers by itself.
   */
  isReady(): boolean;
  /** Whether body tokens are enabled, so adapters parse a urlencoded body only when needed. */
  readonly allowsBodyToken: boolean;
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
  const entries = validateVerifierOptions(options);
  const clock = options.now ?? Date.now;
  const revocationTimeoutMs = options.revocationTimeoutMs ?? 1_000;
  const maxTokenBytes = options.maxTokenBytes ?? 8192;
  const introspector =
    options.introspection === undefined
      ? undefined
      : createIntrospector(options.introspection, clock, {
          clockToleranceSeconds: options.clockToleranceSeconds,
          maxTokenAgeSeconds: options.maxTokenAgeSeconds,
        });
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
  const { issuers, allAlgorithms } = resolveIssuers(entries, options);
  /** Every issuer's keys, and the keys of signed introspection responses (RFC 9701), once each. */
  const keySources = [
    ...new Set([
      ...[...issuers.values()].map((config) => config.keys),
      ...(options.introspection?.jwtResponse === undefined ? [] : [options.introspection.jwtResponse.keys]),
    ]),
  ];
  const obtain = createTokenSource({
    verifyLocally: createJwtVerification({
      issuers,
      allAlgorithms,
      maxTokenBytes,
      clock,
      verifiedTokenCache: options.verifiedTokenCache,
    }),
    hasIssuers: issuers.size > 0,
    introspector,
    maxTokenBytes,
    options,
  });

  /**
   * One verification, counted process-wide while it runs: a service handling one request at a time
   * verifies signatures inline, a busy one keeps the other cores verifying (verifyJwsSignature).
   */
  const verify = async (
    token: string,
    request?: BearerRequestLike,
    scheme: TokenScheme = 'Bearer',
  ): Promise<Verification> => {
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
  ): Promise<Verification> => {
    const source = await obtain(token);
    const claims = source.claims;
    // Read before the steps run: a step may change the claims (without verifiedTokenCache they are not frozen).
    const iat = claims.iat;
    if (source.introspected === true && scheme === 'Bearer' && isDpopTokenType(claims)) {
      // The authorization server says this token is DPoP-bound: it is never a bearer token, even
      // when a custom step (handlesConfirmation: true) would otherwise decide about its cnf.
      throw invalidToken('The introspected token is DPoP-bound ("token_type" DPoP) but was sent as a Bearer token.');
    }
    if (Object.hasOwn(claims, 'cnf') && !handlesAllConfirmations) checkConfirmation(claims.cnf, handledConfirmations);
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
        throw invalidToken(`Verification step "${step.name}" rejected the token.`);
      }
    }
    if (options.isRevoked) await checkRevocation(options, source.issuer, claims, iat, revocationTimeoutMs);
    const verified: VerifiedToken = Object.freeze({
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
    return { token: verified, clockTolerance: source.clockTolerance };
  };

  const validatedRoutes = new WeakSet<object>();

  const report = (decision: BearerDecision): void => {
    try {
      options.onDecision?.(decision);
    } catch {
      // Metrics must never change an authentication decision.
    }
  };

  /**
   * Records the scheme of the request that failed with `error`. One error object can reach several
   * requests (a shared introspection result, a step that throws a constant): when it already
   * carries another scheme, this request gets its own copy, so each answer uses its own scheme.
   * The copy has the same prototype, own properties and stack, so a subclass of `BearerError` (and
   * its public fields) thrown by a step reaches the caller intact.
   */
  const withScheme = (error: unknown, scheme: TokenScheme | undefined): unknown => {
    if (scheme === undefined || typeof error !== 'object' || error === null) return error;
    const recorded = schemeOfError.get(error);
    if (recorded === undefined || !(error instanceof BearerError)) {
      schemeOfError.set(error, scheme);
      return error;
    }
    if (recorded === scheme) return error;
    // A real error (V8 keeps `stack` working only on those) given the original's prototype and own
    // properties; the stack trace is the original's. Private `#fields` of a subclass cannot be copied.
    const copy = new BearerError(error.code, error.message);
    Object.setPrototypeOf(copy, Object.getPrototypeOf(error) as object | null);
    for (const [name, descriptor] of Object.entries(Object.getOwnPropertyDescriptors(error))) {
      if (name !== 'stack') Object.defineProperty(copy, name, descriptor);
    }
    Object.defineProperty(copy, 'stack', { value: error.stack, writable: true, configurable: true });
    schemeOfError.set(copy, scheme);
    return copy;
  };

  const authenticate = async (
    request: BearerRequestLike,
    route: RouteRequirement<S> | undefined,
  ): Promise<VerifiedToken> => {
    const noted: { scheme?: TokenScheme } = {};
    let result: Verification;
    try {
      const extracted = extractAccessTokenNotingScheme(request, options, acceptedSchemes, noted);
      // Query and body tokens count as Bearer: record that too, in case the error object is shared.
      noted.scheme = extracted.scheme;
      result = await verify(extracted.token, request, extracted.scheme);
    } catch (error) {
      throw withScheme(error, noted.scheme);
    }
    try {
      await checkRoute(request, route, result);
    } catch (error) {
      throw withScheme(error, noted.scheme);
    }
    return result.token;
  };

  const checkRoute = (
    request: BearerRequestLike,
    route: RouteRequirement<S> | undefined,
    result: Verification,
  ): Promise<void> | undefined => {
    if (route === undefined) return undefined;
    if (!validatedRoutes.has(route)) {
      freezeRoute(route);
      validatedRoutes.add(route);
    }
    return checkRouteRequirement(request, route, result.token, clock, result.clockTolerance);
  };

  return {
    verify: async (token, request) => (await verify(token, request)).token,
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
      await Promise.all(keySources.map((keys) => keys.warm()));
    },
    // Ask every key source (no short-circuit): each call may start that source's background refresh.
    isReady: () => keySources.map((keys) => keys.isReady()).every(Boolean),
    allowsBodyToken: options.allowBodyToken === true,
  };
}
