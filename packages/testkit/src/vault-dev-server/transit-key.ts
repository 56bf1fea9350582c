import { createHmac, randomBytes } from 'node:crypto';
import {
  type AeadKeyType,
  formatCiphertext,
  keyLength,
  openRaw,
  parseCiphertext,
  sealRaw,
} from './vault-ciphertext.ts';
import { userError } from './vault-http-error.ts';

/**
 * HKDF-SHA256 (RFC 5869) with an empty salt, as Vault's keysutil derives a key for a context. Written
 * out rather than `hkdfSync`, which refuses an `info` (the context) over 1024 bytes where Go's HKDF,
 * and so Vault, takes any length.
 */
export function hkdfSha256(ikm: Buffer, info: Buffer, length: number): Buffer {
  const prk = createHmac('sha256', Buffer.alloc(32)).update(ikm).digest();
  const blocks: Buffer[] = [];
  let previous = Buffer.alloc(0);
  for (let i = 1; blocks.length * 32 < length; i++) {
    previous = createHmac('sha256', prk)
      .update(previous)
      .update(info)
      .update(Buffer.from([i]))
      .digest();
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, length);
}

export const AEAD_KEY_TYPES: readonly AeadKeyType[] = ['aes256-gcm96', 'aes128-gcm96', 'chacha20-poly1305'];

/** Key types Vault knows that this server does not implement: refused with a named error. */
const OTHER_VAULT_KEY_TYPES = [
  'rsa-2048',
  'rsa-3072',
  'rsa-4096',
  'ed25519',
  'ecdsa-p256',
  'ecdsa-p384',
  'ecdsa-p521',
  'hmac',
  'managed_key',
  'aes128-cmac',
  'aes256-cmac',
  'xchacha20-poly1305',
];

export const MISSING_CONTEXT_ERROR =
  "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key";

export function parseKeyType(value: string | undefined): AeadKeyType {
  const type = value ?? 'aes256-gcm96';
  if ((AEAD_KEY_TYPES as readonly string[]).includes(type)) return type as AeadKeyType;
  if (OTHER_VAULT_KEY_TYPES.includes(type)) {
    throw userError(`key type "${type}" is not implemented by the rampart Vault dev server`);
  }
  throw userError(`unknown key type "${type}"`);
}

/**
 * Associated data, or how to get it: keysutil decodes `associated_data` (its factory) only after
 * the version checks and the key derivation, so a decoding error comes after theirs.
 */
export type AssociatedData = Buffer | (() => Buffer | undefined) | undefined;

function resolve(associatedData: AssociatedData): Buffer | undefined {
  return typeof associatedData === 'function' ? associatedData() : associatedData;
}

export interface TransitKeyCreateOptions {
  readonly type: AeadKeyType;
  readonly derived: boolean;
  readonly exportable: boolean;
  readonly allowPlaintextBackup: boolean;
  readonly autoRotatePeriod: number;
}

/**
 * One named transit key (a `keysutil.Policy`): its versions and the settings Vault keeps with it.
 * Derived keys use HKDF-SHA256 with the version's key as input, no salt and `context` as info,
 * exactly as `keysutil.DeriveKey` does for `Kdf_hkdf_sha256`.
 */
export class TransitKey {
  readonly name: string;
  readonly type: AeadKeyType;
  readonly derived: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  autoRotatePeriod: number;
  deletionAllowed = false;
  minDecryptionVersion = 1;
  minEncryptionVersion = 0;
  readonly #versions = new Map<number, { key: Buffer; created: number }>();
  latestVersion = 0;

  constructor(name: string, options: TransitKeyCreateOptions, now: () => number) {
    this.name = name;
    this.type = options.type;
    this.derived = options.derived;
    this.exportable = options.exportable;
    this.allowPlaintextBackup = options.allowPlaintextBackup;
    this.autoRotatePeriod = options.autoRotatePeriod;
    this.rotate(now);
  }

  rotate(now: () => number): void {
    this.latestVersion += 1;
    this.#versions.set(this.latestVersion, {
      key: randomBytes(keyLength(this.type)),
      created: Math.floor(now() / 1000),
    });
  }

  /**
   * The live version entry: Vault's keysutil archives versions below `min_decryption_version` out of
   * the policy's key map (`handleArchiving`), so asking for one fails like a version that never
   * existed (`safeGetKeyEntry`). Lowering `min_decryption_version` brings them back.
   */
  #liveEntry(version: number): { key: Buffer; created: number } {
    const entry = version >= this.minDecryptionVersion ? this.#versions.get(version) : undefined;
    if (!entry) throw userError('no such key version');
    return entry;
  }

  /** Key material for `version`, derived for `context` when the key is derived. */
  #material(version: number, context: Buffer | undefined): Buffer {
    if (!this.derived) return this.#liveEntry(version).key; // Vault ignores `context` on non-derived keys.
    // keysutil.DeriveKey checks the context before it looks the version up.
    if (!context || context.length === 0) throw userError(MISSING_CONTEXT_ERROR);
    return hkdfSha256(this.#liveEntry(version).key, context, keyLength(this.type));
  }

  /** Picks the version to encrypt with, applying `key_version` and `min_encryption_version`. */
  encryptionVersion(requested: number | undefined): number {
    const version = requested ?? 0;
    if (version === 0) return this.latestVersion;
    if (version < 0) throw userError('requested version for encryption is negative');
    if (version > this.latestVersion) {
      throw userError('requested version for encryption is higher than the latest key version');
    }
    if (this.minEncryptionVersion > 0 && version < this.minEncryptionVersion) {
      throw userError('requested version for encryption is less than the minimum encryption key version');
    }
    return version;
  }

  encrypt(
    plaintext: Buffer,
    input: { context?: Buffer | undefined; associatedData?: AssociatedData; keyVersion?: number | undefined },
  ): { ciphertext: string; keyVersion: number } {
    const version = this.encryptionVersion(input.keyVersion);
    const material = this.#material(version, input.context);
    const raw = sealRaw(this.type, material, plaintext, resolve(input.associatedData));
    return { ciphertext: formatCiphertext(version, raw), keyVersion: version };
  }

  decrypt(
    ciphertext: string,
    input: { context?: Buffer | undefined; associatedData?: AssociatedData },
  ): { plaintext: Buffer; keyVersion: number } {
    const { version, raw } = parseCiphertext(ciphertext, this);
    const material = this.#material(version, input.context);
    const plaintext = openRaw(this.type, material, raw, resolve(input.associatedData));
    return { plaintext, keyVersion: version };
  }

  /** The `data` of `GET transit/keys/:name`. */
  describe(): Record<string, unknown> {
    const keys: Record<string, number> = {};
    for (const [version, entry] of this.#versions) {
      // Archived versions (below min_decryption_version) are not in Vault's live key map either.
      if (version >= this.minDecryptionVersion) keys[String(version)] = entry.created;
    }
    const data: Record<string, unknown> = {
      allow_plaintext_backup: this.allowPlaintextBackup,
      auto_rotate_period: this.autoRotatePeriod,
      deletion_allowed: this.deletionAllowed,
      derived: this.derived,
      exportable: this.exportable,
      imported_key: false,
      keys,
      latest_version: this.latestVersion,
      min_available_version: 0,
      min_decryption_version: this.minDecryptionVersion,
      min_encryption_version: this.minEncryptionVersion,
      name: this.name,
      supports_decryption: true,
      supports_derivation: true,
      supports_encryption: true,
      supports_signing: false,
      type: this.type,
    };
    if (this.derived) {
      data.kdf = 'hkdf_sha256';
      data.convergent_encryption = false;
    }
    return data;
  }
}
