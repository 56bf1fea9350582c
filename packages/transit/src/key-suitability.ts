import { TransitError } from './errors.ts';
import type { TransitKeyInfo } from './vault-transit.ts';

/**
 * Throws `ERR_TRANSIT_KEY_MISCONFIGURED`, listing every problem, unless the transit key is an AEAD
 * type and derived exactly when the instance binds data keys to tenants.
 */
export function checkKeySuits(info: TransitKeyInfo, mount: string, key: string, tenantBound: boolean): void {
  const problems: string[] = [];
  // The AEAD types whose wrapped data key has the 12-byte nonce this package reads
  // (xchacha20-poly1305's 24-byte nonce would fail every encrypt).
  if (!['aes256-gcm96', 'aes128-gcm96', 'chacha20-poly1305'].includes(info.type)) {
    problems.push(`its type must be aes256-gcm96 (or another AEAD type), not "${info.type}"`);
  }
  if (tenantBound && !info.derived) {
    problems.push(
      'tenantBinding needs a key created with derived: true (Vault silently ignores context on other keys)',
    );
  }
  if (!tenantBound && info.derived) problems.push('it is derived, so configure tenantBinding.contextKey');
  if (problems.length > 0) {
    throw new TransitError(
      'ERR_TRANSIT_KEY_MISCONFIGURED',
      `transit key "${key}" on mount "${mount}": ${problems.join('; ')}.`,
    );
  }
}
