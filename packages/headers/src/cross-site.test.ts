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

  it('validates allowed origins at construction, listing every bad entry without echoing its path', () => {
    try {
      crossSiteProtection({ allowedOrigins: ['https://app.example/', 'https://secret.example/path', '*'] });
      expect.unreachable();
    } catch (error) {
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect((error as HeadersError).problems).toHaveLength(3);
      // The origin may be named (it is not secret); the path never is.
      expect((error as HeadersError).message).not.toContain('/path');
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

  const problemsOf = (options: unknown): readonly string[] => {
    try {
      crossSiteProtection(options as never);
    } catch (error) {
      expect(error).toBeInstanceOf(HeadersError);
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      return (error as HeadersError).problems;
    }
    throw new Error('crossSiteProtection accepted the options');
  };

  it('refuses options that are not an object with ERR_HEADERS_INVALID_OPTION, not a TypeError', () => {
    for (const options of [null, [], ['https://app.example'], 'https://app.example', 1, true, () => undefined]) {
      expect(problemsOf(options)).toEqual(['options must be an object']);
    }
  });

  it('names a misspelt option, which would otherwise be ignored, and suggests the right one', () => {
    const problems = problemsOf({
      allowedOrigin: ['https://app.example'],
      requirebrowsersignals: true,
      'https://secret.example/token': 1,
      environment: 'production',
    });
    expect(problems).toEqual([
      'allowedOrigin is not an option; did you mean allowedOrigins?',
      'requirebrowsersignals is not an option; did you mean requireBrowserSignals?',
      'options: a key that is not an option; the options are allowedOrigins, environment, requireBrowserSignals and safeMethods',
    ]);
    expect(problems.join('\n')).not.toContain('secret.example');
  });

  it('never echoes an unknown key that resembles no option, even when it looks like a plain name', () => {
    // A token pasted as a key is a plain name too: only a near-miss of an option is named.
    const problems = problemsOf({
      ghp_16C7e42F292c6912E7710c838347Ae178B4a: 1,
      sk_live_51HxSECRETabc: 2,
      environment: 'production',
    });
    expect(problems).toEqual([
      'options: 2 keys that are not options; the options are allowedOrigins, environment, requireBrowserSignals and safeMethods',
    ]);
    const all = problems.join('\n').toLowerCase();
    for (const secret of ['ghp_', '16c7e42f', 'b4a', 'sk_live', 'secret']) expect(all).not.toContain(secret);
  });

  it('suggests no origin for an allowedOrigins entry not written as scheme://host, so a pasted secret is never repeated', () => {
    // `https:sk_live_…` parses as the origin https://sk_live_…: suggesting it would echo the value.
    const entries = [
      'https:sk_live_51HxSECRETabc',
      'https:/sk_live_51HxSECRETabc',
      'HTTPS:\\\\sk_live_51HxSECRETabc',
      'https://user@sk_live_51HxSECRETabc@app.example',
    ];
    const problems = problemsOf({ allowedOrigins: entries });
    expect(problems).toHaveLength(entries.length);
    problems.forEach((problem, i) => {
      expect(problem).toBe(
        `allowedOrigins entry #${i + 1} must be a bare origin such as https://app.example (http or https, host and optional port, no path or trailing slash), exactly as browsers send it in the Origin header`,
      );
    });
    // Written as scheme://host (any case, surrounding spaces): the suggestion only normalizes it.
    const [spaced, upper] = problemsOf({ allowedOrigins: [' https://App.Example/ ', 'HTTPS://APP.EXAMPLE:443/x'] });
    expect(spaced).toMatch(/; did you mean https:\/\/app\.example\?$/);
    expect(upper).toMatch(/; did you mean https:\/\/app\.example\?$/);
  });

  it('suggests an origin only for a DNS-like host, so a token written after https:// is never repeated', () => {
    const hex = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b';
    const entries = [
      'https://sk_live_51HxYzAbCdEf',
      `http://${hex}.example:80`,
      `https://app.${hex.slice(0, 32)}.example/`,
      `https://${'a'.repeat(64)}.example/`,
      'https://-app.example/',
    ];
    const problems = problemsOf({ allowedOrigins: entries });
    expect(problems).toHaveLength(entries.length);
    for (const problem of problems) expect(problem).not.toMatch(/did you mean/);
    const text = problems.join('\n').toLowerCase();
    for (const secret of ['sk_live', '51hx', '9f86d081', 'a3bf4f1b', 'aaaa']) expect(text).not.toContain(secret);
    // DNS-like hosts, IP literals and short hex labels still get one.
    const ok = problemsOf({
      allowedOrigins: [
        'https://App.Example:443/',
        'http://127.0.0.1:8080/',
        'http://[::1]:3000/',
        'https://d1a2b3c4.cloudfront.net/',
        'https://my-app-3.eu-west-1.example/',
      ],
    });
    expect(ok.map((p) => /did you mean (\S+)\?$/.exec(p)?.[1])).toEqual([
      'https://app.example',
      'http://127.0.0.1:8080',
      'http://[::1]:3000',
      'https://d1a2b3c4.cloudfront.net',
      'https://my-app-3.eu-west-1.example',
    ]);
  });

  it('says which allowedOrigins entry is not a bare origin and suggests the origin a browser would send', () => {
    const problems = problemsOf({
      allowedOrigins: [
        'https://App.Example',
        'https://app.example:443',
        'https://user:hunter2@app.example/',
        'https://app.example/login?token=abc123',
        'https://bücher.example',
        5,
        'chrome-extension://abcdef',
        'null',
        'https://app.example',
      ],
    });
    expect(problems).toHaveLength(8);
    const suggestion = (n: number, origin: string): RegExp =>
      new RegExp(
        `^allowedOrigins entry #${n} must be a bare origin.*; did you mean ${origin.replace(/[.]/g, '\\.')}\\?$`,
      );
    expect(problems[0]).toMatch(suggestion(1, 'https://app.example'));
    expect(problems[1]).toMatch(suggestion(2, 'https://app.example'));
    expect(problems[2]).toMatch(suggestion(3, 'https://app.example'));
    expect(problems[3]).toMatch(suggestion(4, 'https://app.example'));
    expect(problems[4]).toMatch(suggestion(5, 'https://xn--bcher-kva.example'));
    expect(problems[5]).toBe('allowedOrigins entry #6 must be a string such as https://app.example');
    expect(problems[6]).toMatch(/^allowedOrigins entry #7 must be a bare origin/);
    expect(problems[7]).toMatch(/^allowedOrigins entry #8 must be a bare origin/);
    expect(problems[6]).not.toMatch(/did you mean/);
    // Only the origin is named: credentials, paths and queries can hold secrets.
    const all = problems.join('\n');
    for (const secret of ['hunter2', 'user', 'login', 'token', 'abc123', 'abcdef']) expect(all).not.toContain(secret);
  });

  it('lists problems of every option at once', () => {
    const problems = problemsOf({
      allowedOrigins: ['https://app.example/'],
      safeMethods: ['POST'],
      requireBrowserSignals: 1,
      environment: false,
      safemethod: ['GET'],
    });
    expect(problems).toHaveLength(5);
    for (const name of ['allowedOrigins', 'safeMethods', 'requireBrowserSignals', 'environment', 'safemethod']) {
      expect(problems.some((p) => p.startsWith(name))).toBe(true);
    }
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
