import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayKeyId } from './replay-guard.ts';

/** The hash tag Redis Cluster would hash for `key` (the whole key when there is none). */
function hashedPart(key: string): string {
  const open = key.indexOf('{');
  if (open === -1) return key;
  const close = key.indexOf('}', open + 1);
  return close === -1 || close === open + 1 ? key : key.slice(open + 1, close);
}

describe('replayKeyId', () => {
  it('maps distinct ids to distinct key parts (property)', () => {
    const id = fc.string({ unit: fc.constantFrom('{', '}', '%', '7', 'B', 'D', '2', '5', 'a', ':'), maxLength: 12 });
    fc.assert(
      fc.property(id, id, (a, b) => {
        fc.pre(a !== b);
        expect(replayKeyId(a)).not.toBe(replayKeyId(b));
      }),
      { numRuns: 5_000 },
    );
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        fc.pre(a !== b);
        expect(replayKeyId(a)).not.toBe(replayKeyId(b));
      }),
    );
  });

  it('hashes the whole key for any id, so an id cannot choose its Cluster slot (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom('{', '}', '%', 'x', 'y') }), (id) => {
        const key = `rampart:replay:dpop-jti:${replayKeyId(id)}`;
        expect(hashedPart(key)).toBe(key);
      }),
      { numRuns: 2_000 },
    );
  });

  it('leaves an id without braces as it is, so keys recorded before stay valid', () => {
    for (const id of ['nonce-1', '3f2a%20b', 'a%7Bb', 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W']) {
      expect(replayKeyId(id)).toBe(id);
    }
  });
});
