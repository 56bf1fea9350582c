import type { EncryptionContext } from './context.ts';
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

/** {@link Transit.decryptMany}: `decrypt` on each item, each failing on its own. */
export async function decryptEach(
  items: readonly { readonly envelope: Uint8Array; readonly context: EncryptionContext }[],
  decrypt: (envelope: Uint8Array, context: EncryptionContext) => Promise<Buffer>,
): Promise<DecryptResult[]> {
  if (!Array.isArray(items)) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_INPUT',
      'decryptMany(items): items must be an array of { envelope, context }, e.g. rows.map((r) => ({ envelope: r.ssn, context: { ... } })).',
    );
  }
  // An item that is not an object fails as a malformed envelope, like any other unreadable item.
  const settled = await Promise.allSettled(items.map((item) => decrypt(item?.envelope, item?.context)));
  return settled.map(decryptResultOf);
}
