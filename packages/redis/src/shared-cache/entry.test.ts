import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntry, encodeEntry } from './entry.ts';

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
