import type { SecretEncoding } from './weak-secret.ts';

/** A value decoded in its declared encoding. */
export interface DecodedSecret {
  /** The key length in bytes. */
  readonly bytes: number;
  /**
   * The bytes read as UTF-8 text, when they are valid UTF-8 and the encoding is not `utf8`:
   * `base64(“super-secret-jwt-token-…”)` is the same documented secret as the text it encodes.
   */
  readonly text: string | undefined;
}

// Fatal: a byte sequence that is not UTF-8 is not text, rather than text with U+FFFD in it.
// ignoreBOM keeps a leading U+FEFF in the text instead of dropping it unseen.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes as UTF-8 text; `undefined` when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Decodes a value in its declared encoding; `undefined` when it is not valid in that encoding. */
export function decodeSecret(value: string, encoding: SecretEncoding): DecodedSecret | undefined {
  let bytes: Buffer;
  switch (encoding) {
    case 'utf8':
      return { bytes: Buffer.byteLength(value, 'utf8'), text: undefined };
    case 'hex':
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(value)) return undefined;
      bytes = Buffer.from(value, 'hex');
      break;
    case 'base64':
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
      bytes = Buffer.from(value, 'base64');
      break;
    case 'base64url':
      if (!/^[A-Za-z0-9_-]+$/.test(value) || value.length % 4 === 1) return undefined;
      bytes = Buffer.from(value, 'base64url');
      break;
  }
  return { bytes: bytes.length, text: decodeUtf8(bytes) };
}
