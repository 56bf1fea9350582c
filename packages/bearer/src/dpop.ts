import { createHash } from 'node:crypto';
import { importJWK, type JWK } from 'jose';
import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm, parseCompactJws } from './compact-jws.ts';
import type { DpopNonceSource } from './dpop-nonce.ts';
import { BearerError } from './errors.ts';
import { isKeyForAlgorithm, verificationIsAlone, verifyJwsSignature } from './jws-signature.ts';
import type { ReplayStore } from './replay-store.ts';
import { type BearerRequestLike, requestPath } from './request.ts';
import { isJsonObject, type JsonObject } from './strict-json.ts';
import type { VerificationStep } from './verifier-options.ts';

/** DPoP (RFC 9449) options of the verifier. */
export interface DpopOptions {
  /**
   * The origins clients use to reach this API (`https://api.example.com`), from which the expected
   * `htu` is built with the request path. The request's `Host` is never trusted.
   */
  readonly publicOrigins: readonly string[];
  /**
   * With several `publicOrigins`: the header your reverse proxy sets (overwriting any client
   * value) that says which host the client used. The last entry (the nearest proxy's) is read
   * and must match one of `publicOrigins`. Only set this when every request passes that proxy.
   */
  readonly trustedProxyHeader?: 'x-forwarded-host' | 'forwarded';
  /**
   * The path prefix your reverse proxy strips before requests reach this service, e.g.
   * `'/orders'` when the gateway forwards `https://api.example.com/orders/items` as `/items`. It
   * is put in front of the request path to build the expected `htu` (the request path `/` stands
   * for `/orders/`). Default: none, the path is the one the client sent. A path the proxy does not
   * strip (an Express router mounted at `/orders`) needs no prefix: `originalUrl` is used.
   */
  readonly publicPathPrefix?: string;
  /** Where proof `jti`s are remembered: `redisReplayStore(guard)` across pods, or `memoryReplayStore()`. Required. */
  readonly replayStore: ReplayStore;
  /** Proof algorithms accepted (asymmetric only). Default `['ES256', 'EdDSA', 'PS256', 'RS256']`. */
  readonly algorithms?: readonly AsymmetricAlgorithm[];
  /** Refuse the `Bearer` scheme entirely (only DPoP-bound tokens). Default false. */
  readonly required?: boolean;
  /** How old a proof's `iat` may be, in seconds. Default 60, at most 300. */
  readonly maxProofAgeSeconds?: number;
  /** Clock skew allowed for a proof's `iat` in the future, in seconds. Default 5, at most 60. */
  readonly clockToleranceSeconds?: number;
  /** Server-issued nonces (`hmacDpopNonces(...)`); when set, every proof must carry a current one. */
  readonly nonces?: DpopNonceSource;
}

const DEFAULT_ALGORITHMS: readonly AsymmetricAlgorithm[] = ['ES256', 'EdDSA', 'PS256', 'RS256'];
const PRIVATE_JWK_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
const PUBLIC_KTY = new Set(['RSA', 'EC', 'OKP']);
const MAX_PROOF_BYTES = 8192;
const MAX_JTI_LENGTH = 256;

const proofError = (message: string): BearerError => new BearerError('ERR_BEARER_DPOP_PROOF_INVALID', message);
const invalidToken = (message: string): BearerError => new BearerError('ERR_BEARER_TOKEN_INVALID', message);

interface PublicOrigin {
  readonly origin: string;
  readonly host: string;
}

function originProblems(value: unknown): string | undefined {
  try {
    const url = new URL(String(value));
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be http(s)';
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      return 'must be an origin only (scheme, host, port)';
    }
    return undefined;
  } catch {
    return 'must be an absolute URL';
  }
}

/** Why `value` is not a usable path prefix, or undefined. */
function pathPrefixProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length < 2 || value.endsWith('/')) {
    return 'must start with "/" and not end with "/"';
  }
  if (/[?#\s\\]/.test(value) || value.includes('//')) return 'must be a plain path';
  try {
    // Already in the form URL parsing gives it (no dot segments, canonical escapes), so the
    // expected htu is exactly prefix + request path.
    if (new URL(value, 'https://prefix.invalid').pathname !== value) return 'must be a normalized path';
  } catch {
    return 'must be a plain path';
  }
  return undefined;
}

/** Problems with the `dpop` options (empty when fine). */
export function dpopProblems(options: DpopOptions): string[] {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) return ['dpop must be an object'];
  if (!Array.isArray(options.publicOrigins) || options.publicOrigins.length === 0) {
    problems.push(
      "dpop.publicOrigins is required (e.g. ['https://api.example.com']); the Host header is never trusted",
    );
  } else {
    for (const origin of options.publicOrigins) {
      const problem = originProblems(origin);
      if (problem !== undefined) {
        problems.push(`dpop.publicOrigins entries ${problem}`);
        break;
      }
    }
    if (options.publicOrigins.length > 1 && options.trustedProxyHeader === undefined) {
      problems.push('dpop.publicOrigins lists several origins: set dpop.trustedProxyHeader to tell them apart');
    }
  }
  if (options.publicPathPrefix !== undefined && pathPrefixProblem(options.publicPathPrefix) !== undefined) {
    problems.push(
      `dpop.publicPathPrefix ${pathPrefixProblem(options.publicPathPrefix)} (e.g. '/orders': a leading '/', no trailing '/', no query, fragment or dot segments)`,
    );
  }
  if (
    options.trustedProxyHeader !== undefined &&
    options.trustedProxyHeader !== 'x-forwarded-host' &&
    options.trustedProxyHeader !== 'forwarded'
  ) {
    problems.push("dpop.trustedProxyHeader must be 'x-forwarded-host' or 'forwarded'");
  }
  if (typeof options.replayStore?.check !== 'function') {
    problems.push(
      'dpop.replayStore is required: redisReplayStore(guard) from @rampart/bearer/redis, or memoryReplayStore() for a single pod',
    );
  }
  if (options.algorithms !== undefined) {
    if (
      !Array.isArray(options.algorithms) ||
      options.algorithms.length === 0 ||
      !options.algorithms.every((alg) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg))
    ) {
      problems.push('dpop.algorithms must list asymmetric algorithms only; "none" and HMAC are refused');
    }
  }
  const seconds = (value: number | undefined, name: string, max: number, min: number): void => {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) {
      problems.push(`dpop.${name} must be between ${min} and ${max}`);
    }
  };
  seconds(options.maxProofAgeSeconds, 'maxProofAgeSeconds', 300, 1);
  seconds(options.clockToleranceSeconds, 'clockToleranceSeconds', 60, 0);
  if (options.required !== undefined && typeof options.required !== 'boolean') {
    problems.push('dpop.required must be a boolean');
  }
  if (
    options.nonces !== undefined &&
    (typeof options.nonces?.issue !== 'function' || typeof options.nonces?.check !== 'function')
  ) {
    problems.push('dpop.nonces must be a nonce source such as hmacDpopNonces(...)');
  }
  return problems;
}

/** Whether a forwarded `host` names `origin`, also with its scheme's default port spelled out. */
function sameHost(origin: PublicOrigin, host: string): boolean {
  if (origin.host === host) return true;
  const defaultPort = origin.origin.startsWith('https:') ? ':443' : ':80';
  return host.endsWith(defaultPort) && origin.host === host.slice(0, -defaultPort.length);
}

/** The last host named by the trusted proxy header, lower case, or undefined. */
function forwardedHost(request: BearerRequestLike, header: 'x-forwarded-host' | 'forwarded'): string | undefined {
  const value = request.header(header);
  if (value === undefined) return undefined;
  const last = value.split(',').at(-1)?.trim();
  if (last === undefined || last === '') return undefined;
  if (header === 'x-forwarded-host') return last.toLowerCase();
  for (const pair of last.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === 'host') {
      return pair
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return undefined;
}

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

/**
 * RFC 3986 §6.2.2 normalization of a path, which RFC 9449 §4.3 asks for when comparing `htu`:
 * percent-encoded unreserved characters decoded (`%7E` → `~`), other percent-encodings in upper
 * case (`%2f` → `%2F`). Dot segments, also encoded ones, the URL parser has already resolved.
 */
function normalizePercentEncoding(path: string): string {
  return path.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
    const char = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
    return /^[A-Za-z0-9._~-]$/.test(char) ? char : encoded.toUpperCase();
  });
}

/** `scheme://host[:port]/path` of a URL with query and fragment dropped, or undefined. */
function normalizedTarget(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    return `${url.origin}${normalizePercentEncoding(url.pathname)}`;
  } catch {
    return undefined;
  }
}

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
  const origins: PublicOrigin[] = options.publicOrigins.map((origin) => {
    const url = new URL(origin);
    return { origin: url.origin, host: url.host.toLowerCase() };
  });
  const maxAge = options.maxProofAgeSeconds ?? 60;
  const tolerance = options.clockToleranceSeconds ?? 5;
  // A proof is acceptable for maxAge + tolerance after its iat and tolerance before it; the pods
  // sharing the replay store judge that by their own clocks, so its id is kept 2 × tolerance
  // longer: a pod whose clock is that far behind the first one's still finds it.
  const replayTtlMs = Math.ceil((maxAge + 4 * tolerance) * 1000);
  const store = options.replayStore;
  const nonces = options.nonces;
  const required = options.required === true;
  const pathPrefix = options.publicPathPrefix ?? '';

  const expectedTarget = (request: BearerRequestLike): string => {
    let origin: PublicOrigin | undefined = origins[0];
    if (options.trustedProxyHeader !== undefined) {
      const host = forwardedHost(request, options.trustedProxyHeader);
      origin = host === undefined ? undefined : origins.find((candidate) => sameHost(candidate, host));
      if (origin === undefined) {
        throw proofError(
          `The request's ${options.trustedProxyHeader} header does not name one of dpop.publicOrigins; the proof's "htu" cannot be checked.`,
        );
      }
    }
    const path = requestPath(request.url);
    if (origin === undefined || path === undefined) {
      throw proofError('The request target is unknown; the proof\'s "htu" cannot be checked.');
    }
    const target = normalizedTarget(`${origin.origin}${pathPrefix}${path}`);
    if (target === undefined) throw proofError('The request target is not a valid URL.');
    // Dot segments in the request path (`/%2e%2e/admin`) must not lead out of the prefix, to a
    // sibling service behind the same proxy.
    if (pathPrefix !== '' && !target.startsWith(`${origin.origin}${pathPrefix}/`)) {
      throw proofError('The request path leaves dpop.publicPathPrefix; the proof\'s "htu" cannot be checked.');
    }
    return target;
  };

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
