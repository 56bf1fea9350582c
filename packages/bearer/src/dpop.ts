import { createHash } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import { type AsymmetricAlgorithm, parseCompactJws } from './compact-jws.ts';
import type { DpopOptions } from './dpop-options.ts';
import { createExpectedTarget, normalizedTarget } from './dpop-target.ts';
import { BearerError, invalidToken, proofError } from './errors.ts';
import { isKeyForAlgorithm, verificationIsAlone, verifyJwsSignature } from './jws-signature.ts';
import type { BearerRequestLike } from './request.ts';
import { isJsonObject, type JsonObject } from './strict-json.ts';
import type { VerificationStep } from './verifier-options.ts';

const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['ES256', 'EdDSA', 'PS256', 'RS256'];
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const PUBLIC_KTY = new Set(['RSA', 'EC', 'OKP']);
const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;

/**
 * `base64url(SHA-256(ASCII(token)))`, the `ath` of RFC 9449 §4.2.
 *
 * @example
 * ```ts
 * import { accessTokenHash } from '@rampart/bearer';
 * const ath = accessTokenHash(accessToken); // put in the proof's "ath" claim
 * ```
 */
export function accessTokenHash(token: string): string {
  return createHash('sha256').update(token, 'ascii').digest('base64url');
}

/** The members RFC 7638 §3.2 hashes for each key type, in lexicographic order. */
const THUMBPRINT_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'kty', 'x', 'y'],
  OKP: ['crv', 'kty', 'x'],
  RSA: ['e', 'kty', 'n'],
};

/**
 * The RFC 7638 SHA-256 thumbprint of a public JWK (what `cnf.jkt` holds), computed here with
 * node:crypto: jose's `calculateJwkThumbprint` hands the digest to WebCrypto on the thread pool.
 * Undefined when a required member is missing or not a string. Equal to jose's for every
 * ASCII-valued JWK (property-tested); for non-ASCII member values jose throws, this hashes the
 * UTF-8 as RFC 7638 §3 says.
 *
 * @example
 * ```ts
 * import { jwkThumbprint } from '@rampart/bearer';
 * const jkt = jwkThumbprint(publicJwk); // the value a DPoP-bound token carries in cnf.jkt
 * ```
 */
export function jwkThumbprint(jwk: JsonObject): string | undefined {
  const members =
    typeof jwk.kty === 'string' && Object.hasOwn(THUMBPRINT_MEMBERS, jwk.kty) ? THUMBPRINT_MEMBERS[jwk.kty] : undefined;
  if (members === undefined) return undefined;
  const canonical: Record<string, string> = {};
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string') return undefined;
    canonical[member] = value;
  }
  return createHash('sha256').update(JSON.stringify(canonical)).digest('base64url');
}

/** Proof keys imported once: the same client signs every proof with the same key. */
const MAX_CACHED_PROOF_KEYS = 1_000;

/** Everything the DPoP step needs at request time, built once. */
export interface DpopRuntime {
  readonly algorithms: readonly AsymmetricAlgorithm[];
  readonly required: boolean;
  readonly step: VerificationStep;
}

/**
 * Builds the verification step that checks DPoP proofs (RFC 9449 §4.3, §7.1) for tokens presented
 * with the `DPoP` scheme and refuses DPoP-bound tokens presented as `Bearer`.
 */
export function createDpopRuntime(options: DpopOptions, clock: () => number): DpopRuntime {
  const algorithms = options.algorithms ?? DEFAULT_ALGORITHMS;
  const allowed = new Set<string>(algorithms);
  const maxAge = options.maxProofAgeSeconds ?? 60;
  const tolerance = options.clockToleranceSeconds ?? 5;
  // A proof is acceptable for maxAge + tolerance after its iat and tolerance before it; the pods
  // sharing the replay store judge that by their own clocks, so its id is kept 2 × tolerance
  // longer: a pod whose clock is that far behind the first one's still finds it.
  const replayTtlMs = Math.ceil((maxAge + 4 * tolerance) * 1000);
  const store = options.replayStore;
  const nonces = options.nonces;
  const required = options.required === true;
  const expectedTarget = createExpectedTarget(options);

  /**
   * Imported proof keys by `alg` and the proof's whole `jwk` (so a JWK that differs in any member,
   * `use` or `key_ops` included, is imported and checked afresh), kept once a proof signed with
   * the key verified against a valid token's `cnf.jkt` (only the key holder takes slots); oldest
   * dropped first.
   */
  const proofKeys = new Map<string, CryptoKey>();

  /** The imported key of a proof `jwk`, from the cache when a proof with it verified before. */
  const importProofKey = async (cacheKey: string, jwk: JsonObject, alg: string): Promise<CryptoKey> => {
    const cached = proofKeys.get(cacheKey);
    if (cached !== undefined) return cached;
    let key: unknown;
    try {
      // Extractable (a public key has nothing to hide) so a lone proof can be verified inline.
      key = await importJWK({ ...(jwk as JWK), ext: true }, alg, { extractable: true });
    } catch {
      throw proofError('The DPoP proof "jwk" is not a usable public key for its "alg".');
    }
    if (!isKeyForAlgorithm(key, alg)) {
      throw proofError('The DPoP proof "jwk" cannot verify its "alg" (wrong type, curve or size).');
    }
    return key;
  };

  /** Keeps a key whose proof verified (so a token holder without the private key adds nothing). */
  const rememberProofKey = (cacheKey: string, key: CryptoKey): void => {
    if (proofKeys.has(cacheKey)) return;
    if (proofKeys.size >= MAX_CACHED_PROOF_KEYS) proofKeys.delete(proofKeys.keys().next().value as string);
    proofKeys.set(cacheKey, key);
  };

  const nonceRequired = (message: string): BearerError =>
    new BearerError('ERR_BEARER_DPOP_NONCE_REQUIRED', message, { dpopNonce: nonces?.issue(clock()) as string });

  const checkProof = async (
    request: BearerRequestLike,
    token: string,
    boundThumbprint: string,
    setResponseHeader: (name: string, value: string) => void,
  ): Promise<void> => {
    const proof = request.header('dpop');
    if (proof === undefined || proof === '') throw proofError('The request has the DPoP scheme but no DPoP header.');
    let parsed: ReturnType<typeof parseCompactJws>;
    try {
      parsed = parseCompactJws(proof, allowed, { maxTokenBytes: MAX_PROOF_BYTES, embeddedJwk: true });
    } catch {
      throw proofError(
        'The DPoP header is not exactly one compact JWS with an allowed "alg" (see dpop.algorithms) and no key references.',
      );
    }
    const typ = parsed.typ?.toLowerCase();
    if (typ !== 'dpop+jwt' && typ !== 'application/dpop+jwt') {
      throw proofError('The DPoP proof header "typ" is not "dpop+jwt".');
    }
    const jwk = parsed.header.jwk;
    if (!isJsonObject(jwk)) throw proofError('The DPoP proof header has no "jwk" object.');
    if (typeof jwk.kty !== 'string' || !PUBLIC_KTY.has(jwk.kty)) {
      throw proofError('The DPoP proof "jwk" must be an RSA, EC or OKP public key.');
    }
    for (const member of PRIVATE_JWK_MEMBERS) {
      if (Object.hasOwn(jwk, member)) throw proofError('The DPoP proof "jwk" contains private key material.');
    }
    // The key must be the one the token is bound to; checked first, so only bound keys are imported.
    const thumbprint = jwkThumbprint(jwk);
    if (thumbprint === undefined) throw proofError('The DPoP proof "jwk" lacks the members of its key type.');
    if (thumbprint !== boundThumbprint) {
      throw proofError('The DPoP proof key does not match the token\'s "cnf.jkt".');
    }
    const cacheKey = `${parsed.alg}.${JSON.stringify(jwk)}`;
    const key = await importProofKey(cacheKey, jwk, parsed.alg);
    const signingInput = Buffer.from(parsed.signingInput, 'latin1') as Uint8Array<ArrayBuffer>;
    const signature = Buffer.from(parsed.signature, 'base64url') as Uint8Array<ArrayBuffer>;
    if (!(await verifyJwsSignature(parsed.alg, key, signingInput, signature, verificationIsAlone()))) {
      throw proofError('The DPoP proof signature is invalid.');
    }
    rememberProofKey(cacheKey, key);

    const claims: JsonObject = parsed.payload;
    const { jti, htm, htu, iat, ath } = claims;
    if (typeof jti !== 'string' || jti.length === 0 || jti.length > MAX_JTI_LENGTH) {
      throw proofError(`The DPoP proof "jti" must be a string of 1 to ${MAX_JTI_LENGTH} characters.`);
    }
    if (typeof htm !== 'string' || htm !== request.method) {
      throw proofError('The DPoP proof "htm" does not match the request method.');
    }
    if (typeof htu !== 'string' || normalizedTarget(htu) !== expectedTarget(request)) {
      throw proofError('The DPoP proof "htu" does not match the request URL (configured origin and path).');
    }
    if (typeof iat !== 'number' || !Number.isFinite(iat)) throw proofError('The DPoP proof has no numeric "iat".');
    const now = clock() / 1000;
    if (iat > now + tolerance) throw proofError('The DPoP proof "iat" is in the future.');
    if (iat < now - maxAge - tolerance) throw proofError('The DPoP proof is too old ("iat"); send a fresh proof.');
    if (typeof ath !== 'string' || ath !== accessTokenHash(token)) {
      throw proofError('The DPoP proof "ath" does not match the access token.');
    }
    if (nonces !== undefined) {
      const nonce = claims.nonce;
      const at = clock();
      if (typeof nonce !== 'string' || !nonces.check(nonce, at)) {
        throw nonceRequired('The DPoP proof lacks a current server nonce; retry with the DPoP-Nonce sent.');
      }
      // Still accepted but no longer current: hand out the new one before it expires (RFC 9449 §8.2).
      const current = nonces.issue(at);
      if (nonce !== current) setResponseHeader('dpop-nonce', current);
    }
    // Last, so malformed or mismatched proofs never take a slot in the store.
    const id = createHash('sha256').update(thumbprint).update('\n').update(jti).digest('base64url');
    let first: boolean;
    try {
      first = await store.check(id, replayTtlMs);
    } catch (cause) {
      if (cause instanceof BearerError) throw cause;
      throw new BearerError(
        'ERR_BEARER_REPLAY_STORE_UNAVAILABLE',
        'The DPoP replay store could not be reached; the proof is refused until it can answer.',
        { cause, retryAfterSeconds: 5 },
      );
    }
    if (!first) throw proofError('The DPoP proof was already used ("jti" replay); send a fresh proof.');
  };

  const step: VerificationStep = {
    name: 'dpop',
    handlesConfirmation: ['jkt'],
    async run(context) {
      const cnf = context.claims.cnf;
      const jkt = isJsonObject(cnf) ? cnf.jkt : undefined;
      if (context.scheme !== 'DPoP') {
        if (jkt !== undefined) {
          throw invalidToken('The token is DPoP-bound ("cnf.jkt") but was presented with the Bearer scheme.');
        }
        // Query and body tokens count as Bearer: with dpop.required they are refused here too.
        if (required) throw invalidToken('This API requires DPoP-bound tokens (dpop.required).');
        return;
      }
      if (typeof jkt !== 'string' || jkt === '') {
        throw invalidToken('The token was presented with the DPoP scheme but is not DPoP-bound ("cnf.jkt").');
      }
      if (context.request === undefined) throw proofError('A DPoP-bound token needs the request to check its proof.');
      await checkProof(context.request, context.token, jkt, context.setResponseHeader);
      context.setBinding({ type: 'dpop', thumbprint: jkt });
    },
  };
  return { algorithms, required, step };
}
