import { hkdfSync } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TransitKey } from './transit-key.ts';
import { CIPHERTEXT_ERRORS, formatCiphertext, parseCiphertext } from './vault-ciphertext.ts';
import { VaultHttpError } from './vault-http-error.ts';

const policy = { latestVersion: 5, minDecryptionVersion: 1 };

describe('parseCiphertext', () => {
  it('reads back what formatCiphertext wrote, for every version and payload', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 5 }), fc.uint8Array({ maxLength: 200 }), (version, bytes) => {
        const raw = Buffer.from(bytes);
        const parsed = parseCiphertext(formatCiphertext(version, raw), policy);
        expect(parsed.version).toBe(version);
        expect(parsed.raw).toEqual(raw);
      }),
    );
  });

  it('never throws anything but a 400 Vault error on arbitrary input', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((s) => `vault:v${s}`),
        ),
        (value) => {
          try {
            parseCiphertext(value, policy);
          } catch (error) {
            expect(error).toBeInstanceOf(VaultHttpError);
            expect((error as VaultHttpError).status).toBe(400);
          }
        },
      ),
    );
  });

  it('reads v0 as v1 and applies min_decryption_version', () => {
    expect(parseCiphertext('vault:v0:AAAA', policy).version).toBe(1);
    expect(() => parseCiphertext('vault:v1:AAAA', { latestVersion: 3, minDecryptionVersion: 2 })).toThrow(
      CIPHERTEXT_ERRORS.tooOld,
    );
  });
});

describe('TransitKey', () => {
  it('derives per-context keys with HKDF-SHA256 (no salt, context as info), as keysutil does', () => {
    const key = new TransitKey(
      'k',
      { type: 'aes256-gcm96', derived: true, exportable: false, allowPlaintextBackup: false, autoRotatePeriod: 0 },
      Date.now,
    );
    const { ciphertext } = key.encrypt(Buffer.from('x'), { context: Buffer.from('a') });
    expect(() => key.decrypt(ciphertext, { context: Buffer.from('b') })).toThrow(CIPHERTEXT_ERRORS.authentication);
    expect(key.decrypt(ciphertext, { context: Buffer.from('a') }).plaintext.toString()).toBe('x');
    // An empty salt and a zero-filled salt of hash length are the same HKDF (RFC 5869 §2.2).
    expect(Buffer.from(hkdfSync('sha256', Buffer.alloc(32, 1), Buffer.alloc(0), 'c', 32))).toEqual(
      Buffer.from(hkdfSync('sha256', Buffer.alloc(32, 1), Buffer.alloc(32), 'c', 32)),
    );
  });
});
