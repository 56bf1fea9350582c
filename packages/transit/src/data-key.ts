import { createHmac, createSecretKey, type KeyObject } from 'node:crypto';
import { inspect } from 'node:util';

const ENCRYPTION_LABEL = Buffer.from('rampart/transit/v1 encryption key');
const COMMITMENT_LABEL = Buffer.from('rampart/transit/v1 key commitment');
const STREAM_LABEL = Buffer.from('rampart/transit/v1 stream key');

/**
 * A plaintext data key, held only as `KeyObject`s. From the 256-bit DEK Vault issued it derives,
 * once, the AES-256-GCM key (HMAC-SHA256(DEK, label)) and the 32-byte key commitment
 * (HMAC-SHA256(DEK, other label)), so no per-record KDF is needed. Printing or serialising it shows
 * nothing of the key.
 */
export class DataKey {
  readonly encryptionKey: KeyObject;
  readonly commitment: Buffer;
  readonly #macKey: KeyObject;

  /** Takes ownership of `dek` and zeroes it before returning. */
  constructor(dek: Buffer) {
    try {
      this.#macKey = createSecretKey(dek);
      const encryption = createHmac('sha256', this.#macKey).update(ENCRYPTION_LABEL).digest();
      this.encryptionKey = createSecretKey(encryption);
      encryption.fill(0);
      this.commitment = createHmac('sha256', this.#macKey).update(COMMITMENT_LABEL).digest();
    } finally {
      dek.fill(0);
    }
  }

  /** A key for one stream, from a random per-stream salt, so frame counters can start at zero. */
  streamKey(salt: Buffer): KeyObject {
    const raw = createHmac('sha256', this.#macKey).update(STREAM_LABEL).update(salt).digest();
    try {
      return createSecretKey(raw);
    } finally {
      raw.fill(0);
    }
  }

  toJSON(): string {
    return '[DataKey redacted]';
  }

  [inspect.custom](): string {
    return '[DataKey redacted]';
  }
}
