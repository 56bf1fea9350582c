import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeBase64Std, goBase64ErrorOffset } from './fields.ts';

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

describe('goBase64ErrorOffset', () => {
  it("reports the offset Go's CorruptInputError does", () => {
    expect(goBase64ErrorOffset('aGVsbG8=')).toBeUndefined();
    expect(goBase64ErrorOffset('')).toBeUndefined();
    expect(goBase64ErrorOffset('aGVsbG8*')).toBe(7); // a bad character: its index
    expect(goBase64ErrorOffset('abc')).toBe(0); // a quantum cut short: where it starts
    expect(goBase64ErrorOffset('abcdab')).toBe(4);
    expect(goBase64ErrorOffset('ab\ncd\nab')).toBe(6); // skipped newlines count
    expect(goBase64ErrorOffset('abcd=')).toBe(4); // padding where a quantum starts
    expect(goBase64ErrorOffset('YQ=!')).toBe(2); // one "=" where two are needed: the first one
    expect(goBase64ErrorOffset('YQ=')).toBe(3); // the second "=" missing at the end
    expect(goBase64ErrorOffset('YWI=YWI=')).toBe(4); // data after padding
    expect(goBase64ErrorOffset('é')).toBe(0);
    expect(goBase64ErrorOffset('AAAAé')).toBe(4);
    expect(goBase64ErrorOffset('1')).toBe(0);
  });

  it('finds an error exactly when decodeBase64Std refuses the input', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/=\r\n!*]{0,16}$/), (input) => {
        expect(goBase64ErrorOffset(input) === undefined).toBe(decodeBase64Std(input) !== undefined);
      }),
      { numRuns: 2000 },
    );
  });
});
