import { BearerError, type BearerErrorCode } from './errors.ts';
import type { TokenScheme } from './request.ts';

/** An HTTP answer every adapter writes the same way. */
export interface BearerResponse {
  readonly status: 400 | 401 | 403 | 500 | 503;
  /** Lower-case header names. */
  readonly headers: Readonly<Record<string, string>>;
  /** JSON text, or empty when RFC 6750 gives no error code (missing token). */
  readonly body: string;
}

/** How challenges are rendered. */
export interface ChallengeOptions {
  /** `realm` auth-param. Omitted when undefined. */
  readonly realm?: string | undefined;
  /** Put the required scopes in the 403 challenge (`scope=`). Default true (RFC 6750 §3). */
  readonly discloseScopes?: boolean | undefined;
  /** `resource_metadata` auth-param (RFC 9728), an absolute URL. */
  readonly resourceMetadata?: string | undefined;
  /**
   * When DPoP is enabled: the `DPoP` challenge (RFC 9449 §7.1) with `algs=` is sent too, or alone
   * when `required`.
   */
  readonly dpop?: { readonly algorithms: readonly string[]; readonly required: boolean } | undefined;
}

type RfcError =
  | 'invalid_request'
  | 'invalid_token'
  | 'insufficient_scope'
  | 'invalid_dpop_proof'
  | 'use_dpop_nonce'
  | 'insufficient_user_authentication';

const MAPPING: Record<
  BearerErrorCode,
  { status: BearerResponse['status']; error?: RfcError; description: string } | undefined
> = {
  ERR_BEARER_TOKEN_MISSING: { status: 401, description: '' },
  ERR_BEARER_INVALID_REQUEST: {
    status: 400,
    error: 'invalid_request',
    description: 'The request carries bearer credentials in a malformed or ambiguous way',
  },
  ERR_BEARER_TOKEN_MALFORMED: { status: 401, error: 'invalid_token', description: 'The access token is malformed' },
  ERR_BEARER_TOKEN_INVALID: { status: 401, error: 'invalid_token', description: 'The access token is invalid' },
  ERR_BEARER_TOKEN_EXPIRED: { status: 401, error: 'invalid_token', description: 'The access token expired' },
  ERR_BEARER_TOKEN_REVOKED: { status: 401, error: 'invalid_token', description: 'The access token was revoked' },
  ERR_BEARER_INSUFFICIENT_SCOPE: {
    status: 403,
    error: 'insufficient_scope',
    description: 'The access token lacks a required scope',
  },
  ERR_BEARER_CLAIM_CHECK_FAILED: {
    status: 403,
    error: 'insufficient_scope',
    description: 'The access token does not grant access to this resource',
  },
  ERR_BEARER_KEYS_UNAVAILABLE: { status: 503, description: 'Token verification is temporarily unavailable' },
  ERR_BEARER_REVOCATION_UNAVAILABLE: { status: 503, description: 'Token verification is temporarily unavailable' },
  ERR_BEARER_DPOP_PROOF_INVALID: {
    status: 401,
    error: 'invalid_dpop_proof',
    description: 'The DPoP proof is missing or invalid',
  },
  ERR_BEARER_DPOP_NONCE_REQUIRED: {
    status: 401,
    error: 'use_dpop_nonce',
    description: 'Use the server-provided DPoP nonce',
  },
  ERR_BEARER_REPLAY_STORE_UNAVAILABLE: { status: 503, description: 'Token verification is temporarily unavailable' },
  ERR_BEARER_CERTIFICATE_MISMATCH: {
    status: 401,
    error: 'invalid_token',
    description: 'The access token is bound to another client certificate',
  },
  ERR_BEARER_INTROSPECTION_UNAVAILABLE: { status: 503, description: 'Token verification is temporarily unavailable' },
  ERR_BEARER_INSUFFICIENT_USER_AUTHENTICATION: {
    status: 401,
    error: 'insufficient_user_authentication',
    description: 'A different authentication level is required',
  },
  ERR_BEARER_INVALID_OPTIONS: undefined,
  // A step that calls out with a TokenProvider; only a retryable failure is a 503 (see below).
  ERR_BEARER_TOKEN_ENDPOINT: { status: 503, description: 'Token verification is temporarily unavailable' },
};

/** RFC 6750 §3: auth-param values are limited to %x20-21 / %x23-5B / %x5D-7E. */
const QUOTABLE = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** True when `value` may appear inside a `WWW-Authenticate` quoted-string without escaping. */
export function isQuotable(value: string): boolean {
  return QUOTABLE.test(value);
}

function quote(value: string): string {
  // Values are validated at construction; this is the last line of defence, never an escape.
  return `"${value.replace(/[^\x20\x21\x23-\x5b\x5d-\x7e]/g, '')}"`;
}

/**
 * Builds `Bearer realm="...", error="...", ...` (RFC 6750 §3).
 *
 * @example
 * ```ts
 * buildChallenge({ error: 'invalid_token', description: 'expired' }, { realm: 'api' });
 * // Bearer realm="api", error="invalid_token", error_description="expired"
 * ```
 */
export function buildChallenge(
  params: { error?: RfcError; description?: string; scope?: string; acrValues?: string; maxAge?: number },
  options: ChallengeOptions,
  errorScheme: TokenScheme = 'Bearer',
): string {
  const one = (scheme: TokenScheme, withError: boolean, algs: readonly string[] | undefined): string => {
    const parts: string[] = [];
    if (options.realm !== undefined) parts.push(`realm=${quote(options.realm)}`);
    if (withError) {
      if (params.error !== undefined) parts.push(`error=${quote(params.error)}`);
      if (params.description !== undefined && params.description !== '') {
        parts.push(`error_description=${quote(params.description)}`);
      }
      if (params.scope !== undefined && params.scope !== '') parts.push(`scope=${quote(params.scope)}`);
      if (params.acrValues !== undefined && params.acrValues !== '')
        parts.push(`acr_values=${quote(params.acrValues)}`);
      if (params.maxAge !== undefined) parts.push(`max_age=${quote(String(params.maxAge))}`);
    }
    if (algs !== undefined) parts.push(`algs=${quote(algs.join(' '))}`);
    if (options.resourceMetadata !== undefined) parts.push(`resource_metadata=${quote(options.resourceMetadata)}`);
    return parts.length === 0 ? scheme : `${scheme} ${parts.join(', ')}`;
  };
  const dpop = options.dpop;
  if (dpop === undefined) return one('Bearer', true, undefined);
  // The error goes in the challenge of the scheme the client used; the other one stays bare.
  const scheme: TokenScheme = dpop.required ? 'DPoP' : errorScheme;
  const dpopChallenge = one('DPoP', scheme === 'DPoP', dpop.algorithms);
  return dpop.required ? dpopChallenge : `${one('Bearer', scheme === 'Bearer', undefined)}, ${dpopChallenge}`;
}

/** `Retry-After` of a 503 when the error names no wait, and the longest one ever sent. */
const DEFAULT_RETRY_AFTER_SECONDS = 5;
const MAX_RETRY_AFTER_SECONDS = 86_400;

const DPOP_ERRORS: ReadonlySet<BearerErrorCode> = new Set([
  'ERR_BEARER_DPOP_PROOF_INVALID',
  'ERR_BEARER_DPOP_NONCE_REQUIRED',
]);

/**
 * Maps an error from the verifier to the exact RFC 6750 answer: 401 with a bare challenge when
 * no token was sent, 400 `invalid_request`, 401 `invalid_token`, 403 `insufficient_scope` with
 * `scope=`, and 503 with `Retry-After` when keys (or the revocation check) are unavailable.
 * Anything that is not a `BearerError` becomes a 500 without details.
 *
 * @example
 * ```ts
 * import { toBearerResponse } from '@rampart/bearer';
 * const { status, headers, body } = toBearerResponse(error, { realm: 'orders' });
 * ```
 */
export function toBearerResponse(
  error: unknown,
  options: ChallengeOptions = {},
  scheme: TokenScheme = 'Bearer',
): BearerResponse {
  const base = { 'cache-control': 'no-store' };
  const mapping = error instanceof BearerError ? MAPPING[error.code] : undefined;
  // A token endpoint that refuses this service's own credentials will not recover on a retry: 500.
  const unrecoverable = error instanceof BearerError && error.code === 'ERR_BEARER_TOKEN_ENDPOINT' && !error.retryable;
  if (!(error instanceof BearerError) || mapping === undefined || unrecoverable) {
    return {
      status: 500,
      headers: { ...base, 'content-type': 'application/json' },
      body: '{"error":"server_error"}',
    };
  }
  if (mapping.status === 503) {
    // Whole seconds (RFC 9110 delta-seconds) within [1, 1 day], whatever the error carries.
    const seconds = error.retryAfterSeconds;
    const retryAfter = String(
      seconds === undefined || Number.isNaN(seconds)
        ? DEFAULT_RETRY_AFTER_SECONDS
        : Math.min(Math.max(1, Math.ceil(seconds)), MAX_RETRY_AFTER_SECONDS),
    );
    return {
      status: 503,
      headers: { ...base, 'retry-after': retryAfter, 'content-type': 'application/json' },
      body: JSON.stringify({ error: 'temporarily_unavailable', error_description: mapping.description }),
    };
  }
  let scope: string | undefined;
  if (error.requiredScopes !== undefined && options.discloseScopes !== false) {
    scope = error.requiredScopes.join(' ');
  }
  const challenge = buildChallenge(
    {
      ...(mapping.error === undefined ? {} : { error: mapping.error, description: mapping.description }),
      ...(scope === undefined ? {} : { scope }),
      ...(error.stepUp?.acrValues === undefined ? {} : { acrValues: error.stepUp.acrValues.join(' ') }),
      ...(error.stepUp?.maxAge === undefined ? {} : { maxAge: error.stepUp.maxAge }),
    },
    options,
    DPOP_ERRORS.has(error.code) ? 'DPoP' : scheme,
  );
  if (mapping.error === undefined) {
    return { status: mapping.status, headers: { ...base, 'www-authenticate': challenge }, body: '' };
  }
  const nonce = error.dpopNonce === undefined ? {} : { 'dpop-nonce': error.dpopNonce };
  return {
    status: mapping.status,
    headers: { ...base, ...nonce, 'www-authenticate': challenge, 'content-type': 'application/json' },
    body: JSON.stringify({ error: mapping.error, error_description: mapping.description }),
  };
}
