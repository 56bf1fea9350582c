import { describe, expect, it } from 'vitest';
import { TransitKey } from './transit-key.ts';

const key = (): TransitKey =>
  new TransitKey(
    'k1',
    { type: 'aes256-gcm96', derived: false, exportable: false, allowPlaintextBackup: false, autoRotatePeriod: 0 },
    () => 0,
  );

describe('TransitKey.encryptionVersion', () => {
  it("refuses a negative key_version with keysutil's words", () => {
    expect(() => key().encryptionVersion(-1)).toThrowError('requested version for encryption is negative');
  });

  it('takes 0 or no key_version as the latest version', () => {
    const k = key();
    k.rotate(() => 0);
    expect([k.encryptionVersion(0), k.encryptionVersion(undefined), k.encryptionVersion(1)]).toEqual([2, 2, 1]);
  });
});
