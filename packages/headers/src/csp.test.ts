import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContentSecurityPolicy, csp, NONCE } from './csp.ts';
import { HeadersError } from './errors.ts';

function problemsOf(fn: () => unknown): readonly string[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(HeadersError);
    expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_CSP');
    return (error as HeadersError).problems;
  }
  throw new Error('expected a HeadersError');
}

describe('csp', () => {
  it('renders directives in order with the nonce in place of NONCE', () => {
    const policy = csp({
      'default-src': ["'self'"],
      'script-src': [NONCE, "'strict-dynamic'"],
      'object-src': ["'none'"],
    });
    expect(policy.usesNonce).toBe(true);
    expect(policy.render('abc')).toBe("default-src 'self';script-src 'nonce-abc' 'strict-dynamic';object-src 'none'");
  });

  it('accepts camelCase names like helmet', () => {
    expect(csp({ defaultSrc: ["'none'"], frameAncestors: ["'none'"] }).render()).toBe(
      "default-src 'none';frame-ancestors 'none'",
    );
  });

  it('lists every problem at once', () => {
    const problems = problemsOf(() =>
      csp({
        'default-src': ['self'],
        'script-src': ["'strict-dynamic'", "'unsafe-inline'", '*'],
        scriptSrc: ["'self'"],
        'made-up-src': ["'self'"],
      }),
    );
    expect(problems).toHaveLength(6);
    expect(problems.join('\n')).toMatch(/without single quotes/);
    expect(problems.join('\n')).toMatch(/more than once/);
    expect(problems.join('\n')).toMatch(/'strict-dynamic' without a nonce/);
    expect(problems.join('\n')).toMatch(/'unsafe-inline' without a nonce/);
    expect(problems.join('\n')).toMatch(/wildcard/);
    expect(problems.join('\n')).toMatch(/not a CSP directive/);
  });

  it.each([
    ['an unquoted keyword', { 'default-src': ['none'] }, /without single quotes/],
    ['an unquoted nonce', { 'default-src': ["'self'"], 'script-src': ['nonce-abc'] }, /without single quotes/],
    [
      "'unsafe-inline' without a nonce in script-src",
      { 'default-src': ["'self'"], 'script-src': ["'unsafe-inline'"] },
      /'unsafe-inline'/,
    ],
    [
      "'unsafe-inline' in default-src with no script-src",
      { 'default-src': ["'self'", "'unsafe-inline'"] },
      /'unsafe-inline'/,
    ],
    [
      "'unsafe-inline' without a nonce in style-src",
      { 'default-src': ["'self'"], 'style-src': ["'unsafe-inline'"] },
      /style-src/,
    ],
    [
      "'strict-dynamic' without a nonce",
      { 'default-src': ["'self'"], 'script-src': ["'strict-dynamic'"] },
      /strict-dynamic/,
    ],
    ['* in script-src', { 'default-src': ["'self'"], 'script-src': ['*'] }, /wildcard/],
    [
      'https: in script-src without strict-dynamic',
      { 'default-src': ["'self'"], 'script-src': ['https:'] },
      /wildcard/,
    ],
    [
      'a host wildcard in script-src',
      { 'default-src': ["'self'"], 'script-src': ['https://*.cdn.example'] },
      /wildcard/,
    ],
    ['data: in script-src', { 'default-src': ["'self'"], 'script-src': ['data:'] }, /wildcard/],
    ["'none' with other sources", { 'default-src': ["'none'", "'self'"] }, /must stand alone/],
    ['a missing default-src', { 'script-src': ["'self'"] }, /default-src is missing/],
    ['a semicolon inside a source', { 'default-src': ["'self';script-src"] }, /split the header/],
    ['a comma inside a source', { 'default-src': ["'self',x"] }, /split the header/],
    [
      'a source on upgrade-insecure-requests',
      { 'default-src': ["'self'"], 'upgrade-insecure-requests': ['x'] },
      /takes no sources/,
    ],
  ])('rejects %s', (_label, directives, pattern) => {
    expect(problemsOf(() => csp(directives)).join('\n')).toMatch(pattern);
  });

  it('reads keywords regardless of case, as browsers do', () => {
    for (const directives of [
      { 'default-src': ["'self'"], 'script-src': ["'UNSAFE-INLINE'"] },
      { 'default-src': ["'self'"], 'script-src': ["'Strict-Dynamic'"] },
      { 'default-src': ["'self'"], 'style-src': ["'Unsafe-Inline'"] },
    ]) {
      expect(problemsOf(() => csp(directives)).length).toBeGreaterThan(0);
    }
  });

  it("refuses 'unsafe-inline' in script-src-attr, which no nonce covers", () => {
    const problems = problemsOf(() =>
      csp({
        'default-src': ["'self'"],
        'script-src': [NONCE, "'strict-dynamic'"],
        'script-src-attr': ["'unsafe-inline'"],
      }),
    );
    expect(problems.join('\n')).toContain('script-src-attr');
    // With a hash, browsers ignore 'unsafe-inline' (and 'unsafe-hashes' allows just that handler).
    expect(() =>
      csp({
        'default-src': ["'self'"],
        'script-src': [NONCE],
        'script-src-attr': [
          "'unsafe-hashes'",
          "'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='",
          "'unsafe-inline'",
        ],
      }),
    ).not.toThrow();
  });

  it('refuses a fixed nonce in a built policy, and reads one in a header as sent', () => {
    const problems = problemsOf(() => csp({ 'default-src': ["'self'"], 'script-src': ["'nonce-abc'"] }));
    expect(problems.join('\n')).toContain('fixed nonce');
    const sent = ContentSecurityPolicy.parse("default-src 'self'; script-src 'nonce-abc' 'strict-dynamic'");
    expect(sent.directives.get('script-src')).toEqual(["'nonce-abc'", "'strict-dynamic'"]);
  });

  it("accepts https: and 'unsafe-inline' as CSP2 fallbacks next to a nonce and 'strict-dynamic'", () => {
    const policy = csp({
      'default-src': ["'self'"],
      'script-src': [NONCE, "'strict-dynamic'", 'https:', "'unsafe-inline'"],
    });
    expect(policy.render('n')).toContain("'nonce-n' 'strict-dynamic' https: 'unsafe-inline'");
  });

  it("accepts 'unsafe-inline' styles only as a named deviation", () => {
    const directives = { 'default-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"] };
    expect(() => csp(directives)).toThrow(HeadersError);
    expect(csp(directives, { dangerouslyAllowUnsafeInlineStyles: true }).render()).toContain("'unsafe-inline'");
  });

  it('rejects a policy larger than the header limit', () => {
    const hosts = Array.from({ length: 200 }, (_, i) => `https://host-${i}.example`);
    expect(problemsOf(() => csp({ 'default-src': ["'self'"], 'img-src': hosts })).join()).toMatch(/bytes/);
  });

  it('names the directive and position but never echoes a configured source', () => {
    const marker = 'https://*.secret-internal-host.example';
    const error = (() => {
      try {
        csp({ 'default-src': ["'self'"], 'script-src': [marker, 'self'] });
      } catch (e) {
        return e as HeadersError;
      }
      return undefined;
    })();
    expect(error?.message).toContain('script-src source #1');
    expect(error?.message).not.toContain('secret-internal-host');
    expect(error?.problems.join()).not.toContain('secret-internal-host');
  });

  it('sends Report-Only under its own header name', () => {
    expect(csp({ 'default-src': ["'none'"] }, { reportOnly: true }).headerName).toBe(
      'Content-Security-Policy-Report-Only',
    );
  });

  it('never accepts a source that could split or inject into the header', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /[;,\s\r\n]/.test(s)),
        (source) => {
          expect(() => csp({ 'default-src': ["'self'"], 'img-src': [source] })).toThrow(HeadersError);
        },
      ),
    );
  });
});

describe('ContentSecurityPolicy.parse', () => {
  it('reports duplicate directives that browsers would silently ignore', () => {
    expect(() =>
      ContentSecurityPolicy.parse("default-src 'self'; script-src 'self'; script-src https://x.example"),
    ).toThrow(/more than once/);
  });

  it('round-trips a rendered policy', () => {
    const hostArb = fc.constantFrom('https://a.example', 'https://b.example:8443', "'self'", 'data:', 'blob:');
    fc.assert(
      fc.property(fc.uniqueArray(hostArb, { minLength: 1, maxLength: 4 }), fc.boolean(), (imgSources, upgrade) => {
        const directives: Record<string, string[]> = {
          'default-src': ["'none'"],
          'img-src': imgSources,
          'script-src': [NONCE, "'strict-dynamic'"],
        };
        if (upgrade) directives['upgrade-insecure-requests'] = [];
        const policy = csp(directives);
        const reparsed = ContentSecurityPolicy.parse(policy.render('n0nce'));
        expect(reparsed.render()).toBe(policy.render('n0nce'));
      }),
    );
  });

  it('validates a parsed string like a built one', () => {
    expect(() => ContentSecurityPolicy.parse("default-src self; script-src 'unsafe-inline'")).toThrow(HeadersError);
  });
});

describe('ContentSecurityPolicy.with', () => {
  it('replaces and removes directives and validates again', () => {
    const base = csp({ 'default-src': ["'self'"], 'img-src': ["'self'"] });
    expect(base.with({ 'img-src': null, connectSrc: ["'self'", 'https://api.example'] }).render()).toBe(
      "default-src 'self';connect-src 'self' https://api.example",
    );
    expect(() => base.with({ 'script-src': ['*'] })).toThrow(HeadersError);
  });
});
