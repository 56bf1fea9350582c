import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { requestPathAndQuery } from './request-target.ts';

describe('requestPathAndQuery', () => {
  it('keeps an origin-form target as sent, percent-encoding included', () => {
    fc.assert(
      fc.property(fc.string(), (rest) => {
        expect(requestPathAndQuery(`/${rest}`)).toBe(`/${rest}`);
      }),
    );
    expect(requestPathAndQuery('/%65xpensive?a=1')).toBe('/%65xpensive?a=1');
  });

  it('reads an absolute-form http(s) target as the path and query of its URL', () => {
    fc.assert(
      fc.property(fc.webUrl({ validSchemes: ['http', 'https'], withQueryParameters: true }), (target) => {
        const url = new URL(target);
        expect(requestPathAndQuery(target)).toBe(`${url.pathname}${url.search}`);
      }),
    );
    expect(requestPathAndQuery('http://example.com/expensive?x=1')).toBe('/expensive?x=1');
    expect(requestPathAndQuery('HTTPS://example.com')).toBe('/');
    expect(requestPathAndQuery('http://example.com?x')).toBe('/?x');
  });

  it('finds no path in any other target, so the middleware refuses it', () => {
    // `http://h:99999/expensive` does not parse as a URL, yet Express routes it to `/expensive`:
    // shown as written, a rule on `/expensive` would not see it.
    for (const target of [
      '*',
      'example.com:443',
      'ftp://example.com/x',
      'http://[::1/x',
      'http://h:99999/expensive',
      'http://',
      '',
      'expensive',
    ]) {
      expect(requestPathAndQuery(target)).toBeUndefined();
    }
  });

  it('answers a path starting with / or nothing, whatever the target', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.webUrl(),
          fc.string().map((s) => `http://${s}`),
        ),
        (target) => {
          const path = requestPathAndQuery(target);
          if (path !== undefined) expect(path.startsWith('/')).toBe(true);
        },
      ),
    );
  });
});
