import { optionalString } from './claims.ts';
import { BearerError } from './errors.ts';
import type { JsonObject } from './strict-json.ts';
import type { CommonVerifierOptions } from './verifier-options.ts';

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('revocation check timed out')), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Asks the `isRevoked` hook (when set) about a verified token, within `timeoutMs`; `iat` is the claim as
 * issued, read before any verification step ran. Revoked: 401. A hook that
 * fails, times out or answers anything but a boolean: 503, the token refused until it answers.
 */
export async function checkRevocation(
  options: Pick<CommonVerifierOptions, 'isRevoked'>,
  issuer: string,
  claims: JsonObject,
  iat: unknown,
  timeoutMs: number,
): Promise<void> {
  if (!options.isRevoked) return;
  let revoked: unknown;
  try {
    revoked = await withTimeout(
      Promise.resolve(
        options.isRevoked({
          issuer,
          jti: optionalString(claims, 'jti'),
          sub: optionalString(claims, 'sub'),
          clientId: optionalString(claims, 'client_id'),
          iat: typeof iat === 'number' ? iat : undefined,
        }),
      ),
      timeoutMs,
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
