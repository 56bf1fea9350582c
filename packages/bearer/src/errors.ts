/** Stable codes of {@link BearerError}; see the README's errors table. */
export type BearerErrorCode =
  /** No bearer credentials in the request: 401 with a bare challenge (RFC 6750 §3.1). */
  | 'ERR_BEARER_TOKEN_MISSING'
  /** The request carries credentials in a malformed or ambiguous way: 400 `invalid_request`. */
  | 'ERR_BEARER_INVALID_REQUEST'
  /** The token is not one well-formed compact JWS this verifier accepts: 401 `invalid_token`. */
  | 'ERR_BEARER_TOKEN_MALFORMED'
  /** Signature, issuer, audience, type or another claim check failed: 401 `invalid_token`. */
  | 'ERR_BEARER_TOKEN_INVALID'
  /** `exp` has passed, or the token is older than `maxTokenAge`: 401 `invalid_token`. */
  | 'ERR_BEARER_TOKEN_EXPIRED'
  /** The revocation hook says the token is revoked: 401 `invalid_token`. */
  | 'ERR_BEARER_TOKEN_REVOKED'
  /** The token lacks a scope the route requires: 403 `insufficient_scope`. */
  | 'ERR_BEARER_INSUFFICIENT_SCOPE'
  /** A route's claim check failed: 403 `insufficient_scope`. */
  | 'ERR_BEARER_CLAIM_CHECK_FAILED'
  /** Signing keys could not be obtained (issuer or JWKS down): 503 with `Retry-After`. */
  | 'ERR_BEARER_KEYS_UNAVAILABLE'
  /** The revocation hook failed: 503 with `Retry-After` (fail closed). */
  | 'ERR_BEARER_REVOCATION_UNAVAILABLE'
  /** The DPoP proof is missing, malformed or does not match the request or token: 401 `invalid_dpop_proof`. */
  | 'ERR_BEARER_DPOP_PROOF_INVALID'
  /** The DPoP proof lacks the current server nonce: 401 `use_dpop_nonce` with a fresh `DPoP-Nonce`. */
  | 'ERR_BEARER_DPOP_NONCE_REQUIRED'
  /** The replay store (e.g. Redis) could not answer, so a proof could be a replay: 503 (fail closed). */
  | 'ERR_BEARER_REPLAY_STORE_UNAVAILABLE'
  /** The token is bound to a client certificate (`cnf.x5t#S256`) that this request did not present: 401 `invalid_token`. */
  | 'ERR_BEARER_CERTIFICATE_MISMATCH'
  /** The introspection endpoint failed or answered something unusable: 503 with `Retry-After`, never 401. */
  | 'ERR_BEARER_INTROSPECTION_UNAVAILABLE'
  /** The route needs a stronger or more recent user authentication (RFC 9470): 401 `insufficient_user_authentication`. */
  | 'ERR_BEARER_INSUFFICIENT_USER_AUTHENTICATION'
  /** Options rejected at construction; the message lists every problem. */
  | 'ERR_BEARER_INVALID_OPTIONS'
  /** The token endpoint of a {@link TokenProvider} failed or answered something unusable. */
  | 'ERR_BEARER_TOKEN_ENDPOINT';

const RETRYABLE: ReadonlySet<BearerErrorCode> = new Set([
  'ERR_BEARER_KEYS_UNAVAILABLE',
  'ERR_BEARER_REVOCATION_UNAVAILABLE',
  'ERR_BEARER_REPLAY_STORE_UNAVAILABLE',
  'ERR_BEARER_INTROSPECTION_UNAVAILABLE',
]);

/**
 * The one error class of `@rampart/bearer`. The verifier throws it; only adapters turn it into an
 * HTTP response (see `toBearerResponse`). Messages name the option, header or claim involved and
 * never contain a token, a claim value, a key or a secret.
 *
 * @example
 * ```ts
 * import { BearerError } from '@rampart/bearer';
 * try {
 *   await verifier.verify(token);
 * } catch (error) {
 *   if (error instanceof BearerError && error.retryable) {
 *     // keys are unavailable: answer 503, do not log the user out
 *   }
 * }
 * ```
 */
export class BearerError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: BearerErrorCode;
  /** True when the same request may succeed later (an outage, not a bad token). */
  readonly retryable: boolean;
  /** Seconds a client should wait before retrying, for 503 answers. */
  readonly retryAfterSeconds: number | undefined;
  /** For `ERR_BEARER_INSUFFICIENT_SCOPE`: the scopes to advertise in the challenge's `scope=`. */
  readonly requiredScopes: readonly string[] | undefined;
  /** For `ERR_BEARER_DPOP_NONCE_REQUIRED`: the nonce to send in the `DPoP-Nonce` response header. */
  readonly dpopNonce: string | undefined;
  /** For `ERR_BEARER_INSUFFICIENT_USER_AUTHENTICATION`: what the challenge asks for (RFC 9470 §3). */
  readonly stepUp: { readonly acrValues?: readonly string[]; readonly maxAge?: number } | undefined;

  constructor(
    code: BearerErrorCode,
    message: string,
    options?: {
      cause?: unknown;
      retryable?: boolean;
      retryAfterSeconds?: number;
      requiredScopes?: readonly string[];
      dpopNonce?: string;
      stepUp?: { readonly acrValues?: readonly string[]; readonly maxAge?: number };
    },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'BearerError';
    this.code = code;
    this.retryable = options?.retryable ?? RETRYABLE.has(code);
    this.retryAfterSeconds = options?.retryAfterSeconds;
    this.requiredScopes = options?.requiredScopes === undefined ? undefined : [...new Set(options.requiredScopes)];
    this.dpopNonce = options?.dpopNonce;
    this.stepUp = options?.stepUp;
  }
}

/** An `ERR_BEARER_TOKEN_INVALID` error: the token failed a signature, claim or binding check. */
export const invalidToken = (message: string): BearerError => new BearerError('ERR_BEARER_TOKEN_INVALID', message);

/** An `ERR_BEARER_DPOP_PROOF_INVALID` error: the DPoP proof is missing, malformed or does not match. */
export const proofError = (message: string): BearerError => new BearerError('ERR_BEARER_DPOP_PROOF_INVALID', message);
