import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Std } from './fields.ts';

describe('decodeBase64Std', () => {
  it('skips \\r and \\n anywhere, as Go base64.StdEncoding (and so Vault) does', () => {
    expect(decodeBase64Std('aGVs\nbG8=')).toEqual(Buffer.from('hello'));
    expect(decodeBase64Std('aGVsbG8=\r\n')).toEqual(Buffer.from('hello'));
    expect(decodeBase64Std('\r\naG\rVs\nbG8=')).toEqual(Buffer.from('hello'));
  });

  it('decodes any bytes encoded as MIME-wrapped base64 (a line break every 76 characters)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 58, maxLength: 300 }), fc.constantFrom('\n', '\r\n'), (bytes, eol) => {
        const wrapped = (
          Buffer.from(bytes)
            .toString('base64')
            .match(/.{1,76}/g) ?? []
        ).join(eol);
        expect(decodeBase64Std(wrapped)).toEqual(Buffer.from(bytes));
      }),
    );
  });

  it.each([
    ['missing padding', 'aGVsbG8'],
    ['a space', 'aGVs bG8='],
    ['a tab', 'aGVs\tbG8='],
    ['base64url', 'aGV-bG8_'],
    ['data after padding', 'aGU=aGU='],
    ['a length that is not a multiple of 4 once line breaks are skipped', 'aGVs\nbG8'],
  ])('still refuses %s', (_what, value) => {
    expect(decodeBase64Std(value)).toBeUndefined();
  });
});
