import { TransitError } from './errors.ts';
import type { Transit } from './transit.ts';

/** One result of {@link Transit.decryptMany}. */
export type DecryptResult =
  | { readonly ok: true; readonly plaintext: Buffer }
  | { readonly ok: false; readonly error: TransitError };

/** One settled decrypt as a {@link DecryptResult}; a failure that is not a TransitError becomes a malformed envelope. */
export function decryptResultOf(result: PromiseSettledResult<Buffer>): DecryptResult {
  return result.status === 'fulfilled'
    ? { ok: true, plaintext: result.value }
    : {
        ok: false,
        error:
          result.reason instanceof TransitError
            ? result.reason
            : new TransitError('ERR_TRANSIT_MALFORMED_ENVELOPE', 'decryptMany: an item could not be read.'),
      };
}
