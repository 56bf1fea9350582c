/** Stable codes of {@link TransitError}; see the README's errors table. */
export type TransitErrorCode =
  /** Options passed to `createTransit` are invalid; every problem is listed in the message. */
  | 'ERR_TRANSIT_INVALID_OPTIONS'
  /** An argument is invalid: plaintext not bytes (or not well-formed text for `encryptString`), a bad `maxBodySize`, ... */
  | 'ERR_TRANSIT_INVALID_INPUT'
  /** The context (AAD) is missing, empty or malformed. */
  | 'ERR_TRANSIT_INVALID_CONTEXT'
  /** The bytes are not an envelope of a format this version reads. */
  | 'ERR_TRANSIT_MALFORMED_ENVELOPE'
  /** The envelope names a mount/key this instance does not accept. */
  | 'ERR_TRANSIT_KEY_NOT_ACCEPTED'
  /** Authentication failed: wrong context, modified envelope, wrong wrapped DEK, or failed key commitment. Never retried. */
  | 'ERR_TRANSIT_INTEGRITY'
  /** The wrapped DEK's key version is below the transit key's `min_decryption_version`: rewrap before raising it. */
  | 'ERR_TRANSIT_KEY_VERSION_TOO_OLD'
  /** The transit key does not exist (Vault answered 404 or `encryption key not found`). */
  | 'ERR_TRANSIT_KEY_NOT_FOUND'
  /** The transit key is not usable as configured (not derived for tenant binding, wrong type, ...). */
  | 'ERR_TRANSIT_KEY_MISCONFIGURED'
  /** Vault refused the token (403). */
  | 'ERR_TRANSIT_VAULT_FORBIDDEN'
  /** Vault is unreachable, sealed, rate-limiting or failing (network error, 412, 429, 5xx but a batch it cannot parse) after bounded retries. */
  | 'ERR_TRANSIT_VAULT_UNAVAILABLE'
  /** Vault rejected the request for another reason (4xx), or could not parse a batch (500 `failed to parse batch input`). Never retried. */
  | 'ERR_TRANSIT_VAULT_REJECTED'
  /** A decrypt stream went over `maxBodySize` or ended without its final frame (truncated), a stream went past 2^32 frames, or `rewrap` got a format 1 stream (re-encrypt it). */
  | 'ERR_TRANSIT_STREAM'
  /** The instance was closed. */
  | 'ERR_TRANSIT_CLOSED';

const RETRYABLE: ReadonlySet<TransitErrorCode> = new Set(['ERR_TRANSIT_VAULT_UNAVAILABLE']);

/**
 * The one error class of `@rampart/transit`. Messages name the key, option or field and say how to
 * fix it; they never contain plaintext, context values, keys, tokens or ciphertext. `cause` never
 * holds a Vault response body (batch bodies can carry data keys), only its status and error strings.
 *
 * @example
 * ```ts
 * import { TransitError } from '@rampart/transit';
 * try {
 *   await transit.decrypt(envelope, { tenant: 't1', table: 'users', column: 'ssn', id: '42' });
 * } catch (error) {
 *   if (error instanceof TransitError && error.retryable) {
 *     // Vault is down: retry later or answer 503
 *   }
 * }
 * ```
 */
export class TransitError extends Error {
  /** Stable, machine-readable reason. */
  readonly code: TransitErrorCode;
  /** True only for `ERR_TRANSIT_VAULT_UNAVAILABLE`: the same call may succeed later. */
  readonly retryable: boolean;

  constructor(code: TransitErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransitError';
    this.code = code;
    this.retryable = RETRYABLE.has(code);
  }
}

/** The error of every call on (or answered after) a closed Transit instance. */
export const closedError = (): TransitError =>
  new TransitError('ERR_TRANSIT_CLOSED', 'this Transit instance was closed: create a new one.');
