import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { foldLookalikes, LOOKALIKES } from './lookalikes.ts';

describe('foldLookalikes', () => {
  it('folds fullwidth, mathematical and circled forms, accents, lookalike letters and invisible characters', () => {
    const cases: [string, string][] = [
      ['\uff43\uff48\uff41\uff4e\uff47\uff45\uff4d\uff45', 'changeme'], // fullwidth
      ['\u0441hangeme', 'changeme'], // Cyrillic с
      ['\u0440\u0430ssword', 'password'], // Cyrillic р, а
      ['pa\u0301ssword', 'password'], // combining acute
      ['p\u00e4ssw\u00f6rd', 'password'], // precomposed ä, ö
      ['p\u00e4ssw\u00f8rd', 'password'], // ø has no decomposition: it is in the table
      ['pass\u200bword', 'password'], // zero-width space
      ['pa\u00ads\u2060sw\ufeffo\u200drd', 'password'], // soft hyphen, word joiner, BOM, zero-width joiner
      ['\u{1d429}\u{1d41a}\u{1d42c}\u{1d42c}\u{1d430}\u{1d428}\u{1d42b}\u{1d41d}', 'password'], // mathematical bold
      ['\u24df\u24d0\u24e2\u24e2\u24e6\u24de\u24e1\u24d3', 'password'], // circled
      ['\u03a1\u0391SSW\u039fRD', 'PASSWORD'], // Greek capitals keep their case
      ['\u0455\u0435\u0441r\u0435t', 'secret'], // Cyrillic ѕ, е, с
      ['l\u0435tm\u0435\u0456n', 'letmein'], // Cyrillic е, і
    ];
    for (const [input, folded] of cases) expect(foldLookalikes(input), JSON.stringify(input)).toBe(folded);
  });

  it('lists only non-ASCII letters that NFKD leaves alone, each folding to its ASCII letter', () => {
    for (const [ascii, letters] of Object.entries(LOOKALIKES)) {
      expect(ascii).toMatch(/^[A-Za-z]$/);
      for (const letter of letters) {
        expect(letter, `U+${letter.codePointAt(0)!.toString(16)}`).toMatch(/^[^\p{ASCII}]$/u);
        expect(letter.normalize('NFKD')).toBe(letter);
        expect(foldLookalikes(letter)).toBe(ascii);
      }
    }
  });

  it('keeps letters that pass for no ASCII letter, so the rules drop them as before', () => {
    expect(foldLookalikes('\u043f\u0430\u0440\u043e\u043b\u044c')).toBe('\u043fapo\u043b\u044c'); // пароль
    expect(foldLookalikes('\u5bc6\u7801')).toBe('\u5bc6\u7801');
  });
});

describe('foldLookalikes (properties)', () => {
  it('leaves every ASCII string as it is, so random ASCII keys are judged exactly as before (seeded)', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((code) => String.fromCharCode(code)) }),
        (text) => {
          expect(foldLookalikes(text)).toBe(text);
        },
      ),
      { seed: 0xa5c11, numRuns: 2000 },
    );
  });

  it('is idempotent on any text (seeded)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const once = foldLookalikes(text);
        expect(foldLookalikes(once)).toBe(once);
      }),
      { seed: 0xf01d, numRuns: 500 },
    );
  });
});
