import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { decodeBase64Std } from './fields.ts';
import { userError } from './vault-http-error.ts';

/** Encryption key types this server implements (Vault's AEAD types; 96-bit nonce, 128-bit tag). */
export type AeadKeyType = 'aes256-gcm96' | 'aes128-gcm96' | 'chacha20-poly1305';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/** Vault's `keysutil` error strings, returned as 400 user errors. */
export const CIPHERTEXT_ERRORS = {
  noPrefix: 'invalid ciphertext: no prefix',
  fieldCount: 'invalid ciphertext: wrong number of fields',
  versionDecode: 'invalid ciphertext: version number could not be decoded',
  tooNew: 'invalid ciphertext: version is too new',
  tooOld: 'ciphertext or signature version is disallowed by policy (too old)',
  base64: 'invalid ciphertext: could not decode base64',
  length: 'invalid ciphertext length',
  /** Go's crypto/cipher GCM says this; a chacha20-poly1305 key says {@link CIPHERTEXT_ERRORS.chachaAuthentication}. */
  authentication: 'cipher: message authentication failed',
  /** golang.org/x/crypto/chacha20poly1305's errOpen (a bad tag, or a body shorter than the tag). */
  chachaAuthentication: 'chacha20poly1305: message authentication failed',
} as const;

/** What aead.Open says when it refuses a ciphertext for `type`. */
function authenticationError(type: AeadKeyType): string {
  return type === 'chacha20-poly1305' ? CIPHERTEXT_ERRORS.chachaAuthentication : CIPHERTEXT_ERRORS.authentication;
}

// Typed as one GCM name so the AEAD overloads apply; chacha20-poly1305 takes the same options.
function cipherName(type: AeadKeyType): 'aes-256-gcm' {
  if (type === 'aes256-gcm96') return 'aes-256-gcm';
  return (type === 'aes128-gcm96' ? 'aes-128-gcm' : 'chacha20-poly1305') as 'aes-256-gcm';
}

export function keyLength(type: AeadKeyType): number {
  return type === 'aes128-gcm96' ? 16 : 32;
}

/** `nonce(12) || ciphertext || tag(16)`, as `keysutil.SymmetricEncryptRaw` lays it out. */
export function sealRaw(type: AeadKeyType, key: Buffer, plaintext: Buffer, aad: Buffer | undefined): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv(cipherName(type), key, nonce, { authTagLength: TAG_BYTES });
  if (aad && aad.length > 0) cipher.setAAD(aad);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

export function openRaw(type: AeadKeyType, key: Buffer, sealed: Buffer, aad: Buffer | undefined): Buffer {
  // keysutil refuses only what is shorter than the nonce; anything longer reaches aead.Open, which
  // fails a body shorter than the tag as it fails a bad tag.
  if (sealed.length < NONCE_BYTES) throw userError(CIPHERTEXT_ERRORS.length);
  if (sealed.length < NONCE_BYTES + TAG_BYTES) throw userError(authenticationError(type));
  const nonce = sealed.subarray(0, NONCE_BYTES);
  const tag = sealed.subarray(sealed.length - TAG_BYTES);
  const body = sealed.subarray(NONCE_BYTES, sealed.length - TAG_BYTES);
  const decipher = createDecipheriv(cipherName(type), key, nonce, { authTagLength: TAG_BYTES });
  if (aad && aad.length > 0) decipher.setAAD(aad);
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw userError(authenticationError(type));
  }
}

/** `vault:v<version>:<base64std(raw)>`. */
export function formatCiphertext(version: number, raw: Buffer): string {
  return `vault:v${version}:${raw.toString('base64')}`;
}

/**
 * Splits a `vault:vN:` ciphertext in the order and with the errors of `keysutil.Policy.Decrypt`:
 * prefix, field count, version (v0 reads as v1), then too new / too old, then base64.
 */
export function parseCiphertext(
  value: string,
  policy: { latestVersion: number; minDecryptionVersion: number },
): { version: number; raw: Buffer } {
  const prefix = 'vault:v';
  if (!value.startsWith(prefix)) throw userError(CIPHERTEXT_ERRORS.noPrefix);
  const rest = value.slice(prefix.length);
  const colon = rest.indexOf(':');
  if (colon < 0) throw userError(CIPHERTEXT_ERRORS.fieldCount);
  const versionText = rest.slice(0, colon);
  if (!/^[+-]?\d+$/.test(versionText)) throw userError(CIPHERTEXT_ERRORS.versionDecode);
  let version = Number(versionText);
  if (!Number.isSafeInteger(version)) throw userError(CIPHERTEXT_ERRORS.versionDecode);
  if (version === 0) version = 1;
  if (version > policy.latestVersion) throw userError(CIPHERTEXT_ERRORS.tooNew);
  if (policy.minDecryptionVersion > 0 && version < policy.minDecryptionVersion) {
    throw userError(CIPHERTEXT_ERRORS.tooOld);
  }
  const raw = decodeBase64Std(rest.slice(colon + 1));
  if (!raw) throw userError(CIPHERTEXT_ERRORS.base64);
  return { version, raw };
}
