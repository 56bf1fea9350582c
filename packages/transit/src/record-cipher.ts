import { createCipheriv, createDecipheriv, timingSafeEqual } from 'node:crypto';
import type { DataKey } from './data-key.ts';
import { COMMITMENT_BYTES, COUNTER_BYTES, type RecordEnvelope, TAG_BYTES } from './envelope.ts';
import { TransitError } from './errors.ts';

/**
 * Record nonces are 8 zero bytes then a 32-bit counter per DEK. Each cached DEK is issued by Vault
 * to this process alone and encrypts at most 2^30 records, so a counter never repeats under one
 * key: no birthday bound (unlike random 96-bit nonces) and 8 bytes less per record.
 */
export function recordNonce(counter: number): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUInt32BE(counter, 8);
  return nonce;
}

function integrity(what: string): TransitError {
  return new TransitError(
    'ERR_TRANSIT_INTEGRITY',
    `${what}: the context differs from the one used to encrypt, or the envelope was modified. Not retryable.`,
  );
}

/** `fixedHeader | wrapped | counter | commitment | ciphertext | tag`. */
export function sealRecord(
  fixedHeader: Buffer,
  wrapped: Buffer,
  counter: number,
  dataKey: DataKey,
  contextBytes: Buffer,
  plaintext: Uint8Array,
): Buffer {
  const cipher = createCipheriv('aes-256-gcm', dataKey.encryptionKey, recordNonce(counter));
  cipher.setAAD(
    fixedHeader.length + contextBytes.length > 0 ? Buffer.concat([fixedHeader, contextBytes]) : fixedHeader,
  );
  const headerLength = fixedHeader.length + wrapped.length + COUNTER_BYTES + COMMITMENT_BYTES;
  const out = Buffer.allocUnsafe(headerLength + plaintext.length + TAG_BYTES);
  let offset = fixedHeader.copy(out, 0);
  offset += wrapped.copy(out, offset);
  offset = out.writeUInt32BE(counter, offset);
  offset += dataKey.commitment.copy(out, offset);
  const body = cipher.update(plaintext);
  offset += body.copy(out, offset);
  const final = cipher.final();
  offset += final.copy(out, offset);
  cipher.getAuthTag().copy(out, offset);
  return out;
}

/** Checks the key commitment, then decrypts; a failure zeroes whatever was decrypted. */
export function openRecord(envelope: RecordEnvelope, dataKey: DataKey, contextBytes: Buffer): Buffer {
  if (!timingSafeEqual(envelope.commitment, dataKey.commitment)) {
    throw integrity('key commitment does not match the unwrapped data key');
  }
  const decipher = createDecipheriv('aes-256-gcm', dataKey.encryptionKey, recordNonce(envelope.counter));
  decipher.setAAD(Buffer.concat([envelope.fixedHeader, contextBytes]));
  decipher.setAuthTag(envelope.tag);
  const plaintext = decipher.update(envelope.ciphertext);
  try {
    decipher.final();
  } catch {
    plaintext.fill(0);
    throw integrity('the record does not authenticate');
  }
  return plaintext;
}
