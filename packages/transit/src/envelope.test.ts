import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ALG,
  anyKey,
  encodeFixedHeader,
  encodeWrapped,
  parseHead,
  parseRecord,
  parseStreamHeader,
  RewrapCopy,
  replaceWrapped,
  WRAPPED_DEK_BYTES,
} from './envelope.ts';
import { TransitError } from './errors.ts';

const nameArb = fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}[a-z0-9]$/);

function record(mount: string, key: string, version: number, body: Uint8Array): Buffer {
  return Buffer.concat([
    encodeFixedHeader(ALG.record, mount, key),
    encodeWrapped(version, Buffer.alloc(WRAPPED_DEK_BYTES, 7)),
    Buffer.alloc(4 + 32),
    Buffer.from(body),
    Buffer.alloc(16, 1),
  ]);
}

describe('parseRecord', () => {
  it('reads back mount, key, version and body of any well-formed record', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.constant('transit'), nameArb),
        nameArb,
        fc.integer({ min: 1, max: 0x7fffffff }),
        fc.uint8Array({ maxLength: 64 }),
        (mount, key, version, body) => {
          const parsed = parseRecord(record(mount, key, version, body), anyKey);
          expect([parsed.mount, parsed.key, parsed.keyVersion]).toEqual([mount, key, version]);
          expect(parsed.ciphertext).toEqual(Buffer.from(body));
        },
      ),
    );
  });

  it('throws only ERR_TRANSIT_MALFORMED_ENVELOPE on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseRecord(bytes, anyKey);
        } catch (error) {
          expect(error).toBeInstanceOf(TransitError);
          expect((error as TransitError).code).toBe('ERR_TRANSIT_MALFORMED_ENVELOPE');
        }
      }),
    );
  });

  it('refuses every truncation of a record', () => {
    const full = record('transit', 'orders', 3, Buffer.from('hello'));
    const minimum = full.length - 5;
    for (let length = 0; length < minimum; length++) {
      expect(() => parseRecord(full.subarray(0, length), anyKey)).toThrow(TransitError);
    }
  });

  it('stores the default mount in zero bytes and keeps 118 bytes + key name of overhead', () => {
    const envelope = record('transit', 'orders', 1, Buffer.alloc(0));
    expect(envelope.length).toBe(118 + 'orders'.length);
  });
});

describe('replaceWrapped', () => {
  it('changes only the key version and wrapped DEK', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 100_000 }), (from, to) => {
        const original = record('team/transit', 'k', from, Buffer.from('payload'));
        const head = parseHead(original, anyKey);
        const replaced = replaceWrapped(original, head, to, Buffer.alloc(WRAPPED_DEK_BYTES, 9));
        const parsed = parseRecord(replaced, anyKey);
        expect(parsed.keyVersion).toBe(to);
        expect(parsed.wrappedDek).toEqual(Buffer.alloc(WRAPPED_DEK_BYTES, 9));
        expect(parsed.ciphertext.toString()).toBe('payload');
      }),
    );
  });
});

describe('parseHead', () => {
  it('reads format 2 for streams only: a version-2 record is not an envelope', () => {
    const body = [encodeWrapped(3, Buffer.alloc(WRAPPED_DEK_BYTES, 0xaa)), Buffer.alloc(4 + 32 + 16)];
    const record = Buffer.concat([encodeFixedHeader(ALG.record, 'transit', 'orders', 2), ...body]);
    expect(() => parseHead(record, anyKey)).toThrow(TransitError);
    const stream = Buffer.concat([encodeFixedHeader(ALG.stream, 'transit', 'orders'), ...body]);
    expect(parseHead(stream, anyKey)).toMatchObject({ version: 2, keyVersion: 3 });
    const old = Buffer.concat([encodeFixedHeader(ALG.stream, 'transit', 'orders', 1), ...body]);
    expect(parseHead(old, anyKey)).toMatchObject({ version: 1, keyVersion: 3 });
    for (const version of [0, 3, 0x81]) {
      const other = Buffer.from(stream);
      other[1] = version;
      expect(() => parseHead(other, anyKey)).toThrow(TransitError);
    }
  });
});

describe('parseHead key check', () => {
  const withName = (mount: string, key: string, alg: number = ALG.record): Buffer =>
    Buffer.concat([
      encodeFixedHeader(alg as typeof ALG.record, mount, key),
      encodeWrapped(3, Buffer.alloc(WRAPPED_DEK_BYTES, 0xaa)),
      Buffer.alloc(4 + 32 + 16),
    ]);

  it('refuses a mount or key name options would refuse as malformed, without echoing it', () => {
    const badKey = fc.oneof(
      fc.constantFrom('../../sys/mounts', 'k/../../sys/mounts', 'SECRET\nline2', 'a b', '.hidden', 'k.'),
      fc.string({ minLength: 1, maxLength: 40 }).filter((k) => !/^\w(?:[\w.-]*\w)?$/.test(k)),
    );
    const badMount = fc.constantFrom('../sys', 'a/../b', 'x y', '/transit', 'transit/', '..');
    fc.assert(
      fc.property(
        fc.oneof(fc.tuple(fc.constant('transit'), badKey), fc.tuple(badMount, nameArb), fc.tuple(nameArb, badKey)),
        fc.constantFrom(ALG.record, ALG.stream),
        ([mount, key], alg) => {
          const envelope = withName(mount, key, alg);
          for (const parse of [parseHead, alg === ALG.record ? parseRecord : parseStreamHeader]) {
            let thrown: unknown;
            try {
              parse(envelope, anyKey);
            } catch (error) {
              thrown = error;
            }
            expect(thrown).toBeInstanceOf(TransitError);
            expect((thrown as TransitError).code).toBe('ERR_TRANSIT_MALFORMED_ENVELOPE');
            // One fixed message per reason: nothing of the name is echoed.
            expect([
              'not a @rampart/transit envelope (bad mount name). Pass the bytes encrypt() returned, unmodified.',
              'not a @rampart/transit envelope (bad key name). Pass the bytes encrypt() returned, unmodified.',
            ]).toContain((thrown as TransitError).message);
          }
        },
      ),
    );
  });

  it('refuses a well-formed name that accepts refuses, from the fixed header alone', () => {
    const accepts = (mount: string, key: string): boolean => mount === 'transit' && key === 'orders';
    expect(parseHead(withName('transit', 'orders'), accepts).key).toBe('orders');
    for (const [mount, key] of [
      ['transit', 'other'],
      ['team/transit', 'orders'],
    ] as const) {
      const envelope = withName(mount, key, ALG.stream);
      const fixedHeader = encodeFixedHeader(ALG.stream, mount, key);
      for (const bytes of [envelope, fixedHeader]) {
        expect(() => parseHead(bytes, accepts)).toThrow(
          expect.objectContaining({ code: 'ERR_TRANSIT_KEY_NOT_ACCEPTED' }),
        );
      }
      expect(() => parseStreamHeader(envelope, accepts)).toThrow(
        expect.objectContaining({ code: 'ERR_TRANSIT_KEY_NOT_ACCEPTED' }),
      );
      expect(() => parseRecord(withName(mount, key), accepts)).toThrow(
        expect.objectContaining({ code: 'ERR_TRANSIT_KEY_NOT_ACCEPTED' }),
      );
    }
  });
});

describe('RewrapCopy', () => {
  const versions = [1, 127, 128, 16_383, 16_384, 2_097_152, 0x7fffffff];

  it('builds what replaceWrapped builds, from its own copy, whatever the old and new key version lengths', () => {
    fc.assert(
      fc.property(
        nameArb,
        fc.constantFrom(...versions),
        fc.constantFrom(...versions),
        fc.uint8Array({ minLength: 0, maxLength: 300 }),
        (key, from, to, body) => {
          const bytes = record('transit', key, from, body);
          const head = parseHead(bytes, anyKey);
          const expected = replaceWrapped(Buffer.from(bytes), head, to, Buffer.alloc(WRAPPED_DEK_BYTES, 0xcc));
          const copy = new RewrapCopy(bytes, head);
          expect(copy.head.wrappedDek.equals(head.wrappedDek)).toBe(true);
          expect(copy.head.fixedHeader.equals(head.fixedHeader)).toBe(true);
          bytes.fill(0); // the caller reuses its buffer
          const out = copy.replace(to, Buffer.alloc(WRAPPED_DEK_BYTES, 0xcc));
          expect(out.equals(expected)).toBe(true);
          expect(parseHead(out, anyKey).keyVersion).toBe(to);
        },
      ),
    );
  });
});
