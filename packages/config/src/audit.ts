import { createHmac } from 'node:crypto';
import { type Provenance, provenanceOf } from './config-object.ts';
import { ConfigError } from './errors.ts';
import { Secret } from './secret.ts';

/** One line of an audit: provenance plus, for secrets, a keyed fingerprint. */
export interface AuditEntry extends Provenance {
  /** `hmac-sha256:<32 hex>` of the value under the audit key; absent for non-secrets and unset keys. */
  readonly fingerprint?: string;
}

/**
 * The minimum length of the audit (fingerprint) key: a short key would make fingerprints guessable.
 *
 * @example
 * ```ts
 * import { MIN_FINGERPRINT_KEY_BYTES } from '@rampart/config';
 * import { randomBytes } from 'node:crypto';
 * const auditKey = randomBytes(MIN_FINGERPRINT_KEY_BYTES);
 * ```
 */
export const MIN_FINGERPRINT_KEY_BYTES = 32;

function keyBytes(key: Secret | Uint8Array | string): Uint8Array {
  // Checked here, not left to node: its TypeError quotes a number or bigint key.
  if (typeof key !== 'string' && !(key instanceof Uint8Array) && !Secret.isSecret(key)) {
    throw new ConfigError(
      'ERR_CONFIG_OPTIONS',
      `The fingerprint key must be a string, a Uint8Array or a Secret (got ${key === null ? 'null' : typeof key}); read it from your secret store, e.g. Secret.of('AUDIT_KEY', …).`,
    );
  }
  const bytes = key instanceof Uint8Array ? key : Buffer.from(Secret.isSecret(key) ? key.reveal() : key, 'utf8');
  if (bytes.length < MIN_FINGERPRINT_KEY_BYTES) {
    throw new ConfigError(
      'ERR_CONFIG_OPTIONS',
      `The fingerprint key must be at least ${MIN_FINGERPRINT_KEY_BYTES} bytes; generate one with \`openssl rand -base64 48\` and keep it in your secret store.`,
    );
  }
  return bytes;
}

/**
 * A non-reversible fingerprint of a secret: HMAC-SHA-256 under a separate audit key, truncated to
 * 128 bits. The same value and key give the same fingerprint, so a rotation record can prove a
 * value changed (or did not) without revealing it; without the key, fingerprints cannot be used to
 * test guesses.
 *
 * @example
 * ```ts
 * import { fingerprintSecret, Secret } from '@rampart/config';
 * const auditKey = Secret.of('AUDIT_KEY', 'a-32-byte-or-longer-key-from-your-secret-store');
 * fingerprintSecret(Secret.of('JWT_KEY', 'value-from-your-secret-store'), auditKey); // 'hmac-sha256:…'
 * ```
 */
export function fingerprintSecret(secret: Secret, key: Secret | Uint8Array | string): string {
  const digest = createHmac('sha256', keyBytes(key)).update(secret.reveal(), 'utf8').digest('hex');
  return `hmac-sha256:${digest.slice(0, 32)}`;
}

/**
 * Provenance of every key of a loaded config, with a keyed fingerprint for each secret.
 *
 * @example
 * ```ts
 * import { auditConfig, loadConfigSync, secret } from '@rampart/config';
 * const config = loadConfigSync({ JWT_KEY: secret() });
 * const auditKey = 'a-32-byte-or-longer-key-from-your-secret-store';
 * for (const entry of auditConfig(config, auditKey)) console.log(entry.key, entry.source, entry.fingerprint);
 * ```
 */
export function auditConfig(config: object, fingerprintKey: Secret | Uint8Array | string): readonly AuditEntry[] {
  const key = keyBytes(fingerprintKey);
  return Object.freeze(
    provenanceOf(config).map((entry): AuditEntry => {
      const value: unknown = entry.source === 'unset' ? undefined : (config as Record<string, unknown>)[entry.key];
      if (!entry.secret || !Secret.isSecret(value)) return entry;
      return Object.freeze({ ...entry, fingerprint: fingerprintSecret(value, key) });
    }),
  );
}
