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

  it('reads an absolute-form http(s) target as the text after its authority, as sent', () => {
    fc.assert(
      fc.property(
        fc.webUrl({ validSchemes: ['http', 'https'], withQueryParameters: true }),
        fc.constantFrom('', '/'),
        fc.string(),
        (url, slash, rest) => {
          // Whatever follows the authority is shown as written, as the origin form would be.
          const base = url.replace(/^(https?:\/\/[^/?#\\]+).*$/s, '$1');
          expect(requestPathAndQuery(`${base}/${rest}`)).toBe(`/${rest}`);
          expect(requestPathAndQuery(`${base}${slash}?${rest}`)).toBe(`/?${rest}`);
        },
      ),
    );
    expect(requestPathAndQuery('http://example.com/expensive?x=1')).toBe('/expensive?x=1');
    expect(requestPathAndQuery('HTTPS://example.com')).toBe('/');
    expect(requestPathAndQuery('http://example.com?x')).toBe('/?x');
    expect(requestPathAndQuery('http://user@example.com:8080/a?b')).toBe('/a?b');
  });

  it('leaves dot segments, percent-encoding and case of an absolute-form target as sent, as routers see them', () => {
    // Express and Fastify route the raw path: `/search/%2e%2e` is served by `/search/:q`, so a
    // rule must not see it as `/` (what the URL parser makes of it).
    for (const [target, path] of [
      ['http://h/search/%2e%2e?q=x', '/search/%2e%2e?q=x'],
      ['http://h/search/..?q=x', '/search/..?q=x'],
      ['http://h/a/./b/../c', '/a/./b/../c'],
      ['http://h/%65xpensive', '/%65xpensive'],
      ['http://h/Expensive?Q=1', '/Expensive?Q=1'],
      ['http://h/a?x=/../b', '/a?x=/../b'],
      ['http://h/%2E%2E/%2e./.%2e', '/%2E%2E/%2e./.%2e'],
    ] as const) {
      expect(requestPathAndQuery(target)).toBe(path);
    }
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
      // No authority, or a backslash in it: URL and the routers disagree on where the path starts.
      'http:///expensive',
      'http://h\\expensive/x',
      'http://h\\',
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
