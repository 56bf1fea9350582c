import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry, MAX_TAGS } from './entry.ts';

describe('decodeEntry', () => {
  it('reads anything malformed as a miss instead of throwing', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const entry = decodeEntry(text);
        if (entry !== undefined) {
          expect(typeof entry.v).toBe('string');
          expect(typeof entry.e).toBe('number');
        }
      }),
    );
  });

  it('keeps tags named like Object.prototype members as own keys', () => {
    const t: Record<string, number> = Object.create(null);
    for (const [i, tag] of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'].entries()) t[tag] = i + 1;
    const entry = decodeEntry(encodeEntry({ v: 'x', e: 1, d: 0, t }));
    expect(Object.keys(entry?.t ?? {})).toEqual(['__proto__', 'constructor', 'toString', 'hasOwnProperty']);
    expect(Object.getOwnPropertyDescriptor(entry?.t ?? {}, '__proto__')?.value).toBe(1);
    expect(Object.getPrototypeOf(entry?.t)).toBeNull();
  });

  it('reads an entry recording more than MAX_TAGS tags as a miss, and one with MAX_TAGS as an entry', () => {
    const tagged = (n: number): string =>
      encodeEntry({ v: 'x', e: 1, d: 0, t: Object.fromEntries(Array.from({ length: n }, (_, i) => [`t${i}`, i])) });
    expect(MAX_TAGS).toBe(64);
    expect(Object.keys(decodeEntry(tagged(MAX_TAGS))?.t ?? {})).toHaveLength(MAX_TAGS);
    expect(decodeEntry(tagged(MAX_TAGS + 1))).toBeUndefined();
  });

  it('round-trips what encodeEntry wrote', () => {
    fc.assert(
      fc.property(
        fc.record({
          v: fc.string(),
          e: fc.integer({ min: 0 }),
          d: fc.integer({ min: 0 }),
          t: fc.dictionary(fc.string({ minLength: 1 }), fc.integer({ min: 0 })),
        }),
        (entry) => {
          expect(decodeEntry(encodeEntry(entry))).toEqual(entry);
        },
      ),
    );
  });
});
