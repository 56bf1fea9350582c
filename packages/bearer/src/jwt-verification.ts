import { type JWSHeaderParameters, errors as joseErrors } from 'jose';
import { checkClaimTypes, validateClaims } from './claims.ts';
import {
  deepFreeze,
  isAccessTokenType,
  isLegacyAccessTokenType,
  type ParsedCompactJws,
  parseCompactJws,
} from './compact-jws.ts';
import { BearerError, invalidToken } from './errors.ts';
import { isKeyForAlgorithm, verificationIsAlone, verifyJwsSignature } from './jws-signature.ts';
import { type KeyResolver, type KeySource, remoteJwks } from './key-source.ts';
import { DEFAULT_SCOPE_CLAIMS, type ScopeClaim } from './scopes.ts';
import type { TokenSource } from './token-source.ts';
import { VerifiedTokenCache, type VerifiedTokenCacheOptions } from './verified-token-cache.ts';
import type { CommonVerifierOptions, IssuerOptions } from './verifier-options.ts';

/** One issuer's options with every default applied, built once at start-up. */
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

/** What is left after guardKeySource is a verdict on the token (no key for its kid/alg): 401. */
function keySelectionError(error: unknown): BearerError {
  if (error instanceof BearerError) return error;
  return invalidToken('No key of this issuer matches the token\'s "kid" and "alg".');
}

/** The configured issuers by `iss`, with verifier-wide defaults applied, and every algorithm any of them allows. */
export function resolveIssuers(
  entries: readonly [string, IssuerOptions][],
  options: CommonVerifierOptions,
): { issuers: Map<string, ResolvedIssuer>; allAlgorithms: Set<string> } {
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
  return { issuers, allAlgorithms };
}

async function verifySignature(parsed: ParsedCompactJws, config: ResolvedIssuer): Promise<void> {
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
    throw invalidToken('The token signature is invalid.');
  }
  if (!isKeyForAlgorithm(key, parsed.alg)) {
    throw invalidToken("The issuer's key for this token cannot verify it (wrong type, curve or size).");
  }
  if (!(await verifyJwsSignature(parsed.alg, key, signingInput, signature, verificationIsAlone()))) {
    throw invalidToken('The token signature is invalid.');
  }
}

/** What local JWT verification needs, built once by the verifier. */
interface JwtVerificationSetup {
  readonly issuers: ReadonlyMap<string, ResolvedIssuer>;
  readonly allAlgorithms: ReadonlySet<string>;
  readonly maxTokenBytes: number;
  readonly clock: () => number;
  readonly verifiedTokenCache: VerifiedTokenCacheOptions | undefined;
}

/**
 * Local verification of a JWT access token: strict parsing, issuer selection, `alg` and `typ`
 * allowlists, the signature (skipped for a token in the verified-token cache), then the claims.
 */
export function createJwtVerification(setup: JwtVerificationSetup): (token: string) => Promise<TokenSource> {
  const { issuers, allAlgorithms, maxTokenBytes, clock } = setup;
  const verifiedCache =
    setup.verifiedTokenCache === undefined
      ? undefined
      : new VerifiedTokenCache<{ parsed: ParsedCompactJws; config: ResolvedIssuer }>(setup.verifiedTokenCache);

  /** Parsing, issuer selection and the signature: the part a verified-token cache may skip. */
  const verifyStructureAndSignature = async (
    token: string,
  ): Promise<{ parsed: ParsedCompactJws; config: ResolvedIssuer }> => {
    const parsed: ParsedCompactJws = parseCompactJws(token, allAlgorithms, { maxTokenBytes });
    const iss = parsed.payload.iss;
    if (typeof iss !== 'string') throw invalidToken('The token has no "iss" claim.');
    const config = issuers.get(iss);
    if (config === undefined) throw invalidToken('The token\'s "iss" is not a configured issuer.');
    if (!config.algorithms.has(parsed.alg)) {
      throw invalidToken('The token header "alg" is not in this issuer\'s algorithms allowlist.');
    }
    if (config.requireAccessTokenType ? !isAccessTokenType(parsed.typ) : !isLegacyAccessTokenType(parsed.typ)) {
      throw invalidToken('The token header "typ" is not "at+jwt" (RFC 9068); it is not an access token.');
    }
    checkClaimTypes(parsed.payload);
    await verifySignature(parsed, config);
    return { parsed, config };
  };

  return async (token) => {
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
      clockTolerance: config.clockTolerance,
    };
  };
}
