import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isAccessTokenType, parseCompactJws } from './compact-jws.ts';
import { BearerError } from './errors.ts';

const ALGS = new Set(['RS256', 'ES256']);
const LIMITS = { maxTokenBytes: 8192 };
const enc = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('parseCompactJws', () => {
  it('throws only BearerError for any input string', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (token) => {
        try {
          parseCompactJws(token, ALGS, LIMITS);
        } catch (error) {
          expect(error).toBeInstanceOf(BearerError);
        }
      }),
    );
  });

  it('throws only BearerError for any three base64url segments of arbitrary JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), fc.uint8Array(), (header, payload, signature) => {
        const token = `${enc(header)}.${enc(payload)}.${Buffer.from(signature).toString('base64url')}`;
        try {
          parseCompactJws(token, ALGS, LIMITS);
        } catch (error) {
          expect(error).toBeInstanceOf(BearerError);
        }
      }),
    );
  });

  it('refuses every header carrying key material, whatever else it holds', () => {
    fc.assert(
      fc.property(fc.constantFrom('jwk', 'jku', 'x5u', 'x5c'), fc.jsonValue(), (member, value) => {
        const token = `${enc({ alg: 'RS256', [member]: value })}.${enc({ iss: 'x' })}.AAAA`;
        expect(() => parseCompactJws(token, ALGS, LIMITS)).toThrow(BearerError);
      }),
    );
  });

  it('refuses any alg outside the allowlist', () => {
    fc.assert(
      fc.property(fc.string(), (alg) => {
        fc.pre(!ALGS.has(alg));
        const token = `${enc({ alg })}.${enc({})}.AAAA`;
        expect(() => parseCompactJws(token, ALGS, LIMITS)).toThrow(BearerError);
      }),
    );
  });

  it('accepts exactly one encoding of each segment (canonical base64url)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), (bytes) => {
        const canonical = Buffer.from(bytes).toString('base64url');
        const token = `${enc({ alg: 'RS256' })}.${enc({ a: 1 })}.${canonical}`;
        expect(() => parseCompactJws(token, ALGS, LIMITS)).not.toThrow();
        expect(() => parseCompactJws(`${token}=`, ALGS, LIMITS)).toThrow(BearerError);
      }),
    );
  });

  it('refuses tokens over maxTokenBytes before decoding', () => {
    const token = `${enc({ alg: 'RS256' })}.${enc({ pad: 'x'.repeat(500) })}.AAAA`;
    expect(() => parseCompactJws(token, ALGS, { maxTokenBytes: 256 })).toThrow(/maxTokenBytes/);
  });
});

describe('isAccessTokenType', () => {
  it('accepts at+jwt and application/at+jwt in any case only', () => {
    expect(isAccessTokenType('at+jwt')).toBe(true);
    expect(isAccessTokenType('Application/AT+JWT')).toBe(true);
    for (const typ of [undefined, 'jwt', 'at+jwt ', 'application/at+jwt;x=1', 'at-jwt']) {
      expect(isAccessTokenType(typ)).toBe(false);
    }
  });
});
