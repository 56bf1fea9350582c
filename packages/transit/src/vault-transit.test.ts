import { describe, expect, it } from 'vitest';
import { codeForVaultMessage } from './vault-transit.ts';

describe('codeForVaultMessage', () => {
  it.each([
    ['cipher: message authentication failed', 400, 'ERR_TRANSIT_INTEGRITY'],
    ['cipher: message authentication failed', 500, 'ERR_TRANSIT_INTEGRITY'], // vault#10842: never retried
    ['ciphertext or signature version is disallowed by policy (too old)', 400, 'ERR_TRANSIT_KEY_VERSION_TOO_OLD'],
    ['invalid ciphertext: version is too new', 400, 'ERR_TRANSIT_INTEGRITY'],
    ['invalid ciphertext: no prefix', 400, 'ERR_TRANSIT_INTEGRITY'],
    ['encryption key not found', 400, 'ERR_TRANSIT_KEY_NOT_FOUND'],
    ["missing 'context' for key derivation; ...", 400, 'ERR_TRANSIT_KEY_MISCONFIGURED'],
    ['permission denied', 403, 'ERR_TRANSIT_VAULT_FORBIDDEN'],
    ['', 404, 'ERR_TRANSIT_KEY_NOT_FOUND'],
    ['', 412, 'ERR_TRANSIT_VAULT_UNAVAILABLE'],
    ['', 429, 'ERR_TRANSIT_VAULT_UNAVAILABLE'],
    ['Vault is sealed', 503, 'ERR_TRANSIT_VAULT_UNAVAILABLE'],
    ['internal error', 500, 'ERR_TRANSIT_VAULT_UNAVAILABLE'],
    // A malformed batch_input: a plain Go error (500) that no retry can fix.
    [
      "1 error occurred:\n\t* failed to parse batch input: '[0].ciphertext' expected type 'string'\n\n",
      500,
      'ERR_TRANSIT_VAULT_REJECTED',
    ],
    ['something else', 400, 'ERR_TRANSIT_VAULT_REJECTED'],
  ])('maps %j with status %i to %s', (message, status, code) => {
    expect(codeForVaultMessage(message, status)).toBe(code);
  });
});
