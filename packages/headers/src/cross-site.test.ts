import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crossSiteProtection, isProductionEnvironment } from './cross-site.ts';
import { HeadersError } from './errors.ts';

const request = (method: string, headers: Record<string, string>, selfOrigin?: string) => ({
  method,
  header: (name: string) => headers[name],
  selfOrigin,
});

describe('isProductionEnvironment', () => {
  it.each([
    [undefined, true],
    ['', true],
    ['production', true],
    ['staging', true],
    ['prod', true],
    ['development', false],
    ['test', false],
    [' Development ', false],
  ])('treats %j as production: %s', (env, expected) => {
    expect(isProductionEnvironment(env)).toBe(expected);
  });
});

describe('crossSiteProtection', () => {
  const protection = crossSiteProtection({ allowedOrigins: ['https://app.example'], environment: 'production' });

  it('fails closed in production without allowed origins, even for same-origin requests', () => {
    const closed = crossSiteProtection({ environment: 'production' });
    expect(closed.failsClosed).toBe(true);
    const decision = closed.check(request('POST', { 'sec-fetch-site': 'same-origin' }));
    expect(decision.allowed).toBe(false);
    expect(!decision.allowed && decision.error.code).toBe('ERR_HEADERS_NO_ALLOWED_ORIGINS');
    expect(closed.check(request('GET', {})).allowed).toBe(true);
  });

  it('reads NODE_ENV when no environment is given', () => {
    const previous = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'production';
      expect(crossSiteProtection().failsClosed).toBe(true);
      process.env.NODE_ENV = 'development';
      expect(crossSiteProtection().failsClosed).toBe(false);
    } finally {
      process.env.NODE_ENV = previous;
    }
  });

  it('reads NODE_ENV when environment is explicitly undefined, as documented', () => {
    const previous = process.env.NODE_ENV;
    try {
      process.env.NODE_ENV = 'development';
      expect(crossSiteProtection({ environment: undefined }).failsClosed).toBe(false);
      process.env.NODE_ENV = 'production';
      expect(crossSiteProtection({ environment: undefined }).failsClosed).toBe(true);
      // An explicit environment still wins over NODE_ENV.
      expect(crossSiteProtection({ environment: 'development' }).failsClosed).toBe(false);
    } finally {
      if (previous === undefined) delete process.env.NODE_ENV;
      else process.env.NODE_ENV = previous;
    }
  });

  it('falls back to comparing Origin with the server origin for browsers without Fetch Metadata', () => {
    const dev = crossSiteProtection({ environment: 'development' });
    expect(dev.check(request('POST', { origin: 'http://localhost:3000' }, 'http://localhost:3000')).allowed).toBe(true);
    expect(dev.check(request('POST', { origin: 'http://evil.localhost' }, 'http://localhost:3000')).allowed).toBe(
      false,
    );
  });

  it('rejects non-browser clients only when asked', () => {
    const strict = crossSiteProtection({ allowedOrigins: ['https://app.example'], requireBrowserSignals: true });
    expect(strict.check(request('POST', {})).allowed).toBe(false);
    expect(protection.check(request('POST', {})).allowed).toBe(true);
  });

  it('throws a typed error from assert()', () => {
    expect(() => protection.assert(request('DELETE', { 'sec-fetch-site': 'cross-site' }))).toThrow(HeadersError);
  });

  it('validates allowed origins at construction, listing every bad entry without echoing it', () => {
    try {
      crossSiteProtection({ allowedOrigins: ['https://app.example/', 'https://secret.example/path', '*'] });
      expect.unreachable();
    } catch (error) {
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect((error as HeadersError).problems).toHaveLength(3);
      expect((error as HeadersError).message).not.toContain('secret.example');
    }
  });

  it('refuses allowedOrigins entries with a wildcard, which never match an Origin header', () => {
    try {
      crossSiteProtection({ allowedOrigins: ['https://*.secret.example', 'https://app.example', '*'] });
      expect.unreachable();
    } catch (error) {
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect((error as HeadersError).problems).toEqual([
        'allowedOrigins entry #1 contains a wildcard (*), which never matches: browsers send one exact origin; list each origin',
        'allowedOrigins entry #3 contains a wildcard (*), which never matches: browsers send one exact origin; list each origin',
      ]);
      expect((error as HeadersError).message).not.toContain('secret.example');
    }
  });

  it('refuses a requireBrowserSignals that is not a boolean and an environment that is not a string', () => {
    try {
      crossSiteProtection({
        allowedOrigins: ['https://app.example'],
        requireBrowserSignals: 'false',
        environment: 0,
      } as never);
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HeadersError);
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect((error as HeadersError).problems).toEqual([
        'requireBrowserSignals must be true or false',
        'environment must be a string such as production or development, or undefined to read NODE_ENV',
      ]);
    }
  });

  it('reports allowedOrigins and safeMethods of the wrong type together instead of crashing', () => {
    try {
      crossSiteProtection({
        allowedOrigins: 'https://secret.example' as unknown as string[],
        safeMethods: 'GET' as unknown as string[],
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(HeadersError);
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect((error as HeadersError).problems).toEqual([
        'allowedOrigins must be an array of origins',
        'safeMethods must be an array of method names',
      ]);
      expect((error as HeadersError).message).not.toContain('secret.example');
    }
  });

  it('refuses safeMethods that change state, which would let every cross-site request of that method through', () => {
    try {
      crossSiteProtection({
        allowedOrigins: ['https://app.example'],
        safeMethods: ['GET', 'POST', 'X-SECRET', 5 as never],
      });
      expect.unreachable();
    } catch (error) {
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      const problems = (error as HeadersError).problems;
      expect(problems).toHaveLength(3);
      expect(problems[0]).toMatch(/safeMethods entry #2 .*GET, HEAD, OPTIONS or TRACE.*unsafe methods are what/);
      expect(problems.join('\n')).not.toContain('X-SECRET');
    }
    const lenient = crossSiteProtection({ allowedOrigins: ['https://app.example'], safeMethods: ['get', 'Trace'] });
    expect(lenient.check(request('TRACE', { 'sec-fetch-site': 'cross-site' })).allowed).toBe(true);
    // Not listed, so checked like any state-changing method.
    expect(lenient.check(request('HEAD', { 'sec-fetch-site': 'cross-site' })).allowed).toBe(false);
  });

  it('never allows a state-changing cross-site request from an origin that is not allowed', () => {
    const unsafeMethod = fc.constantFrom('POST', 'PUT', 'PATCH', 'DELETE', 'post', 'CUSTOM');
    const foreignOrigin = fc
      .tuple(fc.constantFrom('http', 'https'), fc.domain())
      .map(([scheme, host]) => new URL(`${scheme}://${host}`).origin)
      .filter((o) => o !== 'https://app.example');
    fc.assert(
      fc.property(unsafeMethod, foreignOrigin, fc.constantFrom('cross-site', 'same-site'), (method, origin, site) => {
        expect(protection.check(request(method, { origin, 'sec-fetch-site': site })).allowed).toBe(false);
        expect(protection.check(request(method, { origin })).allowed).toBe(false);
      }),
    );
  });

  it('never blocks a safe method', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('GET', 'HEAD', 'OPTIONS'),
        fc.dictionary(fc.constantFrom('origin', 'sec-fetch-site'), fc.string()),
        (method, headers) => {
          expect(protection.check(request(method, headers)).allowed).toBe(true);
        },
      ),
    );
  });
});
