import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BearerError } from './errors.ts';
import { type BearerRequestLike, extractBearerToken } from './request.ts';

const req = (authorization: string[], extra: Partial<BearerRequestLike> = {}): BearerRequestLike => ({
  method: 'GET',
  authorization,
  header: () => undefined,
  ...extra,
});
const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (error) {
    return (error as BearerError).code;
  }
};

describe('extractBearerToken', () => {
  it('returns the token68 credential of a Bearer header', () => {
    expect(extractBearerToken(req(['Bearer abc.def-_~+/=']))).toBe('abc.def-_~+/=');
    expect(extractBearerToken(req(['  bearer   abc  ']))).toBe('abc');
  });

  it('reports a missing token with no error code, and other schemes as missing', () => {
    expect(codeOf(() => extractBearerToken(req([])))).toBe('ERR_BEARER_TOKEN_MISSING');
    expect(codeOf(() => extractBearerToken(req(['Basic abc'])))).toBe('ERR_BEARER_TOKEN_MISSING');
    expect(codeOf(() => extractBearerToken(req(['DPoP abc'])))).toBe('ERR_BEARER_TOKEN_MISSING');
  });

  it('refuses duplicate headers, empty credentials and non-token68 values with invalid_request', () => {
    for (const lines of [
      ['Bearer a', 'Bearer a'],
      ['Bearer'],
      ['Bearer  '],
      ['Bearer a b'],
      ['Bearer a,b'],
      ['Bearer "a"'],
      ['Bearer a=b'],
      ['Bearer\ta'],
    ]) {
      expect(codeOf(() => extractBearerToken(req(lines)))).toBe('ERR_BEARER_INVALID_REQUEST');
    }
  });

  it('ignores query and body tokens unless enabled', () => {
    const request = req([], { url: '/x?access_token=abc', bodyAccessTokens: ['abc'], method: 'POST' });
    expect(codeOf(() => extractBearerToken(request))).toBe('ERR_BEARER_TOKEN_MISSING');
    expect(extractBearerToken(request, { allowQueryToken: true })).toBe('abc');
    expect(extractBearerToken(req([], { bodyAccessTokens: ['abc'], method: 'POST' }), { allowBodyToken: true })).toBe(
      'abc',
    );
  });

  it('refuses a token sent in more than one place or twice in the query', () => {
    expect(
      codeOf(() => extractBearerToken(req(['Bearer a'], { url: '/?access_token=b' }), { allowQueryToken: true })),
    ).toBe('ERR_BEARER_INVALID_REQUEST');
    expect(
      codeOf(() => extractBearerToken(req([], { url: '/?access_token=a&access_token=b' }), { allowQueryToken: true })),
    ).toBe('ERR_BEARER_INVALID_REQUEST');
  });

  it('throws only BearerError for any header value, and returns only token68 strings', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { maxLength: 3 }), (lines) => {
        try {
          expect(extractBearerToken(req(lines))).toMatch(/^[A-Za-z0-9\-._~+/]+=*$/);
        } catch (error) {
          expect(error).toBeInstanceOf(BearerError);
        }
      }),
    );
  });
});
