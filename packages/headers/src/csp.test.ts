import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ContentSecurityPolicy, csp, NONCE } from './csp.ts';
import { HeadersError } from './errors.ts';

/** The two directives every script-running test policy needs besides the one under test. */
const SAFE = { 'object-src': ["'none'"], 'base-uri': ["'none'"] } as const;

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
      'base-uri': ["'none'"],
    });
    expect(policy.usesNonce).toBe(true);
    expect(policy.render('abc')).toBe(
      "default-src 'self';script-src 'nonce-abc' 'strict-dynamic';object-src 'none';base-uri 'none'",
    );
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
        'object-src': ["'none'"],
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

  it('suggests the nearest directive for a near-miss name, and only then', () => {
    const unknown = (problems: readonly string[]): string[] => problems.filter((p) => /not a CSP directive/.test(p));
    expect(unknown(problemsOf(() => csp({ 'default-src': ["'self'"], 'scirpt-src': ["'self'"] })))).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean script-src?',
    ]);
    // The same for a parsed header.
    expect(unknown(problemsOf(() => ContentSecurityPolicy.parse("default-src 'self'; img-scr 'self'")))).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean img-src?',
    ]);
    // A swap of two neighbouring letters is one edit: two swaps (four plain edits) still suggest.
    expect(unknown(problemsOf(() => csp({ 'default-src': ["'self'"], 'ofnt-rsc': ["'self'"] })))).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean font-src?',
    ]);
    // A capitalised key (`ScriptSrc`, `IMG-SRC`) is written with a leading `-`: still a near miss.
    expect(
      unknown(problemsOf(() => csp({ 'default-src': ["'self'"], ScirptSrc: ["'self'"], 'IMG-SRC': ["'self'"] }))),
    ).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean script-src?',
      'directive #3 is not a CSP directive this builder knows; did you mean img-src?',
    ]);
    // A name that is no near-miss (a pasted token, say) gets no suggestion, and is never echoed.
    const token = 'ghp-16c7e42f292c6912e7710c838347ae178b4a';
    const problems = problemsOf(() => csp({ 'default-src': ["'self'"], [token]: ["'self'"], 'sk-live-51hx': [] }));
    expect(unknown(problems)).toEqual([
      'directive #2 is not a CSP directive this builder knows; check its spelling',
      'directive #3 is not a CSP directive this builder knows; check its spelling',
    ]);
    for (const part of ['ghp', '16c7e42f', 'sk-live', '51hx']) expect(problems.join('\n')).not.toContain(part);
  });

  it('suggests the directive for an underscore, upper-case or mixed-case spelling, as presets do', () => {
    const secret = 'https://cdn.example/t0k3n-9f2b';
    const problems = problemsOf(() =>
      csp({
        'default-src': ["'none'"],
        script_src: [secret],
        SCRIPT_SRC: ["'self'"],
        img_Src: ["'self'"],
        frame_ancestors: ["'none'"],
      }),
    );
    expect(problems).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean script-src?',
      'directive #3 is not a CSP directive this builder knows; did you mean script-src?',
      'directive #4 is not a CSP directive this builder knows; did you mean img-src?',
      'directive #5 is not a CSP directive this builder knows; did you mean frame-ancestors?',
    ]);
    expect(problems.join('\n')).not.toMatch(/t0k3n|cdn\.example/);
    // The same for a parsed header.
    expect(problemsOf(() => ContentSecurityPolicy.parse(`default-src 'none'; script_src ${secret}`))).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean script-src?',
    ]);
  });

  it('keeps the non-ASCII message for a name that differs by an invisible or non-ASCII character', () => {
    const outside = /^directive #2 has a name with characters outside a-z, 0-9 and - .*: retype the name$/;
    for (const name of ['script\u00a0src', '\u00a0script_src', 'script_src\u200b', 'scr\u0131pt_src']) {
      const problems = problemsOf(() => csp({ 'default-src': ["'none'"], [name]: ["'self'"] }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(outside);
      expect(problems[0]).not.toMatch(/did you mean|sk_live|51hx/);
    }
  });

  it('says a name with _ that is no near-miss has _, without echoing it', () => {
    const ascii = /^directive #2 has a name with _, which no directive name has .*: retype the name$/;
    for (const name of ['sk_live_51hx', 'script_src_el', 'SRC_IMG']) {
      const problems = problemsOf(() => csp({ 'default-src': ["'none'"], [name]: ["'self'"] }));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(ascii);
      expect(problems[0]).not.toMatch(/did you mean|sk_live|51hx|script_src|SRC_IMG/);
    }
    // The same for a parsed header (lower-cased first), and other ASCII gets no non-ASCII hint.
    const parsed = problemsOf(() => ContentSecurityPolicy.parse("default-src 'none'; SK_LIVE_51HX 'self'"));
    expect(parsed).toHaveLength(1);
    expect(parsed[0]).toMatch(ascii);
    expect(parsed[0]).not.toMatch(/sk_live|51hx/i);
    for (const name of ['script.src', 'script\tsrc', 'script\u0000src']) {
      expect(problemsOf(() => csp({ 'default-src': ["'none'"], [name]: ["'self'"] }))).toEqual([
        'directive #2 has a name with characters outside a-z, 0-9 and - (a space, a control character or punctuation); browsers ignore it: retype the name',
      ]);
    }
    // A leading _ is no part of the name meant, as the leading - the builder writes for a capital.
    expect(problemsOf(() => csp({ 'default-src': ["'none'"], _script_src: ["'self'"] }))).toEqual([
      'directive #2 is not a CSP directive this builder knows; did you mean script-src?',
    ]);
    // But a name longer than any directive is no near-miss, however many _ lead it (as for a
    // Permissions-Policy feature in the presets, which name a near-miss as written).
    expect(problemsOf(() => csp({ 'default-src': ["'none'"], [`${'_'.repeat(5000)}script_src`]: ["'self'"] }))).toEqual(
      [
        'directive #2 has a name with _, which no directive name has (words are joined by -, as in script-src); browsers ignore it: retype the name',
      ],
    );
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

  it.each([
    ["object-src 'self'", { 'default-src': ["'self'"], 'object-src': ["'self'"] }, /object-src must be 'none'/],
    ['object-src *', { 'default-src': ["'none'"], 'object-src': ['*'] }, /object-src must be 'none'/],
    ['object-src data:', { 'default-src': ["'none'"], 'object-src': ['data:'] }, /object-src must be 'none'/],
    ['object-src blob:', { 'default-src': ["'none'"], 'object-src': ['blob:'] }, /object-src must be 'none'/],
    ['object-src https:', { 'default-src': ["'none'"], 'object-src': ['https:'] }, /object-src must be 'none'/],
    ["a missing object-src under default-src 'self'", { 'default-src': ["'self'"] }, /object-src is missing/],
    ['worker-src *', { 'default-src': ["'none'"], 'worker-src': ['*'] }, /worker-src source #1 .*worker script/],
    ['worker-src https:', { 'default-src': ["'none'"], 'worker-src': ["'self'", 'https:'] }, /worker-src source #2/],
    ['worker-src data:', { 'default-src': ["'none'"], 'worker-src': ['data:'] }, /worker-src source #1/],
    ['child-src *', { 'default-src': ["'none'"], 'child-src': ['*'] }, /child-src source #1 .*worker script/],
    [
      'a host wildcard in child-src',
      { 'default-src': ["'none'"], 'child-src': ['https://*.cdn.example'] },
      /child-src/,
    ],
    ['base-uri *', { 'default-src': ["'none'"], 'base-uri': ['*'] }, /base-uri source #1 is a wildcard/],
    ['base-uri https:', { 'default-src': ["'none'"], 'base-uri': ['https:'] }, /base-uri source #1 is a wildcard/],
    [
      'a missing base-uri on a nonce policy',
      { 'default-src': ["'none'"], 'script-src': [NONCE, "'strict-dynamic'"] },
      /base-uri is missing/,
    ],
    [
      'a missing base-uri on a hash policy',
      { 'default-src': ["'none'"], 'script-src': ["'sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA='"] },
      /base-uri is missing/,
    ],
  ])('rejects %s', (_label, directives, pattern) => {
    expect(problemsOf(() => csp(directives)).join('\n')).toMatch(pattern);
  });

  it.each([
    ["default-src 'none' standing in for object-src", { 'default-src': ["'none'"] }],
    ["object-src 'NONE', as browsers read it", { 'default-src': ["'self'"], 'object-src': ["'NONE'"] }],
    ["worker-src 'self' blob:", { 'default-src': ["'none'"], 'worker-src': ["'self'", 'blob:'] }],
    ['child-src with a host', { 'default-src': ["'none'"], 'child-src': ['https://maps.example'] }],
    [
      'child-src wildcards when worker-src decides workers (child-src then governs frames only)',
      {
        'default-src': ["'self'"],
        'object-src': ["'none'"],
        'worker-src': ["'self'"],
        'child-src': ['https://*.youtube.com'],
      },
    ],
    [
      "Google's published strict policy (https: and http: fallbacks beside a nonce and 'strict-dynamic'), with the default-src this package requires",
      {
        'default-src': ["'self'"],
        'object-src': ["'none'"],
        'script-src': [NONCE, "'unsafe-inline'", "'strict-dynamic'", 'https:', 'http:'],
        'base-uri': ["'none'"],
      },
    ],
    ["base-uri 'self'", { ...SAFE, 'default-src': ["'none'"], 'script-src': [NONCE], 'base-uri': ["'self'"] }],
    ['no base-uri on a host-allowlist policy', { 'default-src': ["'none'"], 'script-src': ["'self'"] }],
    // form-action governs where forms submit, not script; it has no fallback, so a missing one
    // already means anywhere. The presets set it.
    ['form-action *', { 'default-src': ["'none'"], 'form-action': ['*'] }],
  ])('accepts %s', (_label, directives) => {
    expect(() => csp(directives)).not.toThrow();
  });

  it('accepts only policies whose object, worker, base and script sources are narrow (property)', () => {
    // Mostly narrow sources, so that a good share of policies is accepted and the checks below run.
    const source = fc.oneof(
      { arbitrary: fc.constantFrom("'self'", NONCE, "'strict-dynamic'", 'https://a.example', 'blob:'), weight: 6 },
      {
        arbitrary: fc.constantFrom('*', 'https:', 'http:', 'data:', 'https://*.a.example', "'unsafe-eval'"),
        weight: 1,
      },
    );
    const list = fc.oneof(fc.constant(["'none'"]), fc.uniqueArray(source, { minLength: 1, maxLength: 3 }));
    const names = [
      'default-src',
      'script-src',
      'object-src',
      'worker-src',
      'child-src',
      'base-uri',
      'frame-ancestors',
    ] as const;
    const policy = fc.record(
      Object.fromEntries(names.map((n) => [n, list])) as Record<(typeof names)[number], fc.Arbitrary<string[]>>,
      { requiredKeys: ['default-src'] },
    );
    const broad = (s: string): boolean => s.includes('*') || /^[a-z]+:$/.test(s);
    let accepted = 0;
    fc.assert(
      fc.property(policy, (directives) => {
        let ok = true;
        try {
          csp(directives);
        } catch (error) {
          expect(error).toBeInstanceOf(HeadersError);
          ok = false;
        }
        if (!ok) return;
        accepted++;
        expect(directives['object-src'] ?? directives['default-src']).toEqual(["'none'"]);
        // The list that decides workers: worker-src, else child-src (else the script list).
        for (const s of directives['worker-src'] ?? directives['child-src'] ?? []) {
          expect(s === 'blob:' || !broad(s)).toBe(true);
        }
        for (const s of directives['base-uri'] ?? []) expect(broad(s)).toBe(false);
        for (const s of directives['frame-ancestors'] ?? []) expect(broad(s)).toBe(false);
        const script = directives['script-src'] ?? directives['default-src'];
        expect(script).not.toContain("'unsafe-eval'");
        if (script.includes(NONCE)) expect(directives['base-uri']).toBeDefined();
        const fallback = script.includes(NONCE) && script.includes("'strict-dynamic'");
        for (const s of script) expect(!broad(s) || (fallback && (s === 'https:' || s === 'http:'))).toBe(true);
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });

  it('reports sources of the wrong type as problems instead of crashing', () => {
    const problems = problemsOf(() =>
      csp({ 'default-src': "'self'", 'script-src': [null, 5] } as unknown as Parameters<typeof csp>[0]),
    );
    expect(problems.join('\n')).toMatch(/default-src must be an array/);
    expect(problems.join('\n')).toMatch(/script-src source #1 must be a non-empty string/);
  });

  it('checks default-src for event handlers and eval when only script-src-elem is set (CSP3 fallback)', () => {
    const problems = problemsOf(() =>
      csp(
        { ...SAFE, 'default-src': ['*', "'unsafe-inline'"], 'script-src-elem': [NONCE] },
        { dangerouslyAllowUnsafeInlineStyles: true },
      ),
    ).join('\n');
    expect(problems).toMatch(/default-src allows 'unsafe-inline'/);
    expect(problems).toMatch(/default-src source #1 is a wildcard/);
    expect(() => csp({ ...SAFE, 'default-src': ["'self'"], 'script-src-elem': [NONCE] })).not.toThrow();
  });

  it("refuses a malformed hash, which browsers ignore along with its power over 'unsafe-inline'", () => {
    for (const hash of ["'sha256-x'", "'sha256-=abc'", "'sha256-AAAA'", `'sha384-${'A'.repeat(43)}='`]) {
      const problems = problemsOf(() =>
        csp({ ...SAFE, 'default-src': ["'none'"], 'script-src': ["'unsafe-inline'", hash] }),
      ).join('\n');
      expect(problems).toMatch(/script-src source #2 is not a well-formed hash/);
      expect(problems).toMatch(/'unsafe-inline' without a nonce or hash/);
    }
    expect(() =>
      ContentSecurityPolicy.parse("default-src 'none'; base-uri 'none'; script-src 'unsafe-inline' 'nonce-=abc'"),
    ).toThrow(/not a well-formed nonce/);
  });

  it('counts a hash only when it is base64 of a whole digest (property)', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-=';
    const value = fc.string({ unit: fc.constantFrom(...alphabet), minLength: 1, maxLength: 90 });
    const digest: Record<string, number> = { sha256: 32, sha384: 48, sha512: 64 };
    fc.assert(
      fc.property(fc.constantFrom('sha256', 'sha384', 'sha512'), value, (algorithm, v) => {
        const directives = {
          ...SAFE,
          'default-src': ["'none'"],
          'script-src': ["'unsafe-inline'", `'${algorithm}-${v}'`],
        };
        let accepted = true;
        try {
          csp(directives);
        } catch {
          accepted = false;
        }
        const wellFormed = /^[A-Za-z0-9+/_-]+={0,2}$/.test(v) && v.replace(/=+$/, '').length % 4 !== 1;
        const bytes = Buffer.from(v.replace(/-/g, '+').replace(/_/g, '/'), 'base64').length;
        if (accepted) expect(wellFormed && bytes === digest[algorithm]).toBe(true);
      }),
      { numRuns: 2000 },
    );
    const ok = `'sha256-${Buffer.alloc(32, 7).toString('base64')}'`;
    expect(() => csp({ ...SAFE, 'default-src': ["'none'"], 'script-src': ["'unsafe-inline'", ok] })).not.toThrow();
  });

  it('refuses non-ASCII sources, which Node would refuse to send on every response', () => {
    expect(
      problemsOf(() => csp({ ...SAFE, 'default-src': ["'none'"], 'img-src': ['https://例え.jp'] })).join(),
    ).toMatch(/img-src source #1 contains a non-ASCII character/);
    fc.assert(
      fc.property(
        fc.string({ minLength: 1, maxLength: 12 }),
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }).filter((s) => /[\u0080-\uffff]/.test(s)),
        (prefix, odd) => {
          expect(() => csp({ 'default-src': ["'none'"], 'img-src': [`${prefix}${odd}`] })).toThrow(HeadersError);
        },
      ),
    );
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
        ...SAFE,
        'default-src': ["'self'"],
        'script-src': [NONCE, "'strict-dynamic'"],
        'script-src-attr': ["'unsafe-inline'"],
      }),
    );
    expect(problems.join('\n')).toContain('script-src-attr');
    // With a hash, browsers ignore 'unsafe-inline' (and 'unsafe-hashes' allows just that handler).
    expect(() =>
      csp({
        ...SAFE,
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
    const problems = problemsOf(() => csp({ ...SAFE, 'default-src': ["'self'"], 'script-src': ["'nonce-abc'"] }));
    expect(problems.join('\n')).toContain('fixed nonce');
    const sent = ContentSecurityPolicy.parse(
      "default-src 'self'; script-src 'nonce-abc' 'strict-dynamic'; object-src 'none'; base-uri 'none'",
    );
    expect(sent.directives.get('script-src')).toEqual(["'nonce-abc'", "'strict-dynamic'"]);
  });

  it("accepts https: and 'unsafe-inline' as CSP2 fallbacks next to a nonce and 'strict-dynamic'", () => {
    const policy = csp({
      ...SAFE,
      'default-src': ["'self'"],
      'script-src': [NONCE, "'strict-dynamic'", 'https:', "'unsafe-inline'"],
    });
    expect(policy.render('n')).toContain("'nonce-n' 'strict-dynamic' https: 'unsafe-inline'");
  });

  it("accepts 'unsafe-inline' styles only as a named deviation", () => {
    const directives = { ...SAFE, 'default-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"] };
    expect(() => csp(directives)).toThrow(HeadersError);
    expect(csp(directives, { dangerouslyAllowUnsafeInlineStyles: true }).render()).toContain("'unsafe-inline'");
  });

  it.each([
    ['style-src-attr', { 'style-src-attr': ["'unsafe-inline'"] }, /style-src-attr allows 'unsafe-inline'/],
    [
      'default-src under style-src-elem alone',
      { 'default-src': ["'self'", "'unsafe-inline'"], 'script-src': [NONCE], 'style-src-elem': [NONCE] },
      /default-src allows 'unsafe-inline'/,
    ],
    [
      'style-src under style-src-elem',
      { 'style-src': ["'unsafe-inline'"], 'style-src-elem': [NONCE] },
      /style-src allows 'unsafe-inline'/,
    ],
    [
      'style-src-elem next to a nonced style-src',
      { 'style-src': [NONCE], 'style-src-elem': ["'unsafe-inline'"] },
      /style-src-elem allows 'unsafe-inline'/,
    ],
  ])("refuses 'unsafe-inline' that reaches style attributes or elements (%s)", (_label, directives, message) => {
    const policy = { ...SAFE, 'default-src': ["'self'"], ...directives };
    expect(problemsOf(() => csp(policy)).join('\n')).toMatch(message);
    expect(() => csp(policy, { dangerouslyAllowUnsafeInlineStyles: true })).not.toThrow();
  });

  it("accepts 'unsafe-inline' in a style list that also has a nonce or hash, which turns it off", () => {
    expect(() =>
      csp({
        ...SAFE,
        'default-src': ["'self'"],
        'style-src': [NONCE, "'unsafe-inline'"],
        'style-src-attr': [NONCE, "'unsafe-inline'"],
      }),
    ).not.toThrow();
  });

  it('refuses to render a nonce policy without a well-formed nonce, and never echoes the value', () => {
    const policy = csp({
      ...SAFE,
      'default-src': ["'self'"],
      'script-src': [NONCE, "'strict-dynamic'", "'unsafe-inline'"],
    });
    expect(policy.render('cmFtcGFydA==')).toContain("'nonce-cmFtcGFydA=='");
    expect(policy.render('a-b_c')).toContain("'nonce-a-b_c'");
    for (const nonce of [undefined, '', ' ', 'SECRETx y', "SECRET'", 'SECRET;', 'SEC=RET', 'A'.repeat(257)]) {
      expect(() => policy.render(nonce)).toThrow(HeadersError);
      try {
        policy.render(nonce);
      } catch (error) {
        expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_CSP');
        expect((error as HeadersError).message).not.toContain('SECRET');
      }
    }
    // A policy without NONCE needs none.
    expect(csp({ 'default-src': ["'none'"] }).render()).toBe("default-src 'none'");
  });

  it('renders every nonce it accepts as exactly one well-formed nonce source', () => {
    const policy = csp({ ...SAFE, 'default-src': ["'self'"], 'script-src': [NONCE, "'strict-dynamic'"] });
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.base64String({ maxLength: 300 })), (nonce) => {
        let value: string;
        try {
          value = policy.render(nonce);
        } catch (error) {
          expect(error).toBeInstanceOf(HeadersError);
          return;
        }
        const parsed = ContentSecurityPolicy.parse(value);
        expect(parsed.directives.get('script-src')).toEqual([`'nonce-${nonce}'`, "'strict-dynamic'"]);
      }),
    );
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

  it.each([
    ['*', ['*']],
    ['a scheme source', ['https:']],
    ['a host wildcard', ["'self'", 'https://*.partner.example']],
  ])('refuses %s in frame-ancestors, which lets other sites frame the page', (_label, sources) => {
    const problems = problemsOf(() => csp({ 'default-src': ["'none'"], 'frame-ancestors': sources }));
    expect(problems.join('\n')).toMatch(/frame-ancestors source #\d is a wildcard or scheme source/);
    expect(() => ContentSecurityPolicy.parse(`default-src 'none'; frame-ancestors ${sources.join(' ')}`)).toThrow(
      HeadersError,
    );
  });

  it('accepts frame-ancestors that name who may frame the page', () => {
    for (const sources of [["'none'"], ["'self'"], ["'self'", 'https://partner.example']]) {
      expect(() => csp({ 'default-src': ["'none'"], 'frame-ancestors': sources })).not.toThrow();
    }
  });

  it("refuses 'unsafe-eval' in the script list that decides eval, unless it is named", () => {
    const problems = problemsOf(() =>
      csp({ ...SAFE, 'default-src': ["'self'"], 'script-src': ["'self'", "'UNSAFE-EVAL'"] }),
    ).join('\n');
    expect(problems).toMatch(/script-src allows 'unsafe-eval'.*dangerouslyAllowUnsafeEval/);
    // Without script-src, default-src decides whether eval runs.
    expect(problemsOf(() => csp({ ...SAFE, 'default-src': ["'self'", "'unsafe-eval'"] })).join()).toMatch(
      /default-src allows 'unsafe-eval'/,
    );
    expect(() =>
      ContentSecurityPolicy.parse("default-src 'self'; script-src 'self' 'unsafe-eval'; object-src 'none'"),
    ).toThrow(/unsafe-eval/);
    const named = csp(
      { ...SAFE, 'default-src': ["'self'"], 'script-src': ["'self'", "'unsafe-eval'"] },
      { dangerouslyAllowUnsafeEval: true },
    );
    expect(named.render()).toContain("'unsafe-eval'");
  });

  it("accepts 'wasm-unsafe-eval', which compiles WebAssembly but never runs strings as JavaScript", () => {
    expect(() =>
      csp({ ...SAFE, 'default-src': ["'self'"], 'script-src': ["'self'", "'wasm-unsafe-eval'"] }),
    ).not.toThrow();
  });

  it("refuses flags that are not booleans, such as the string 'false', instead of reading them as true", () => {
    const problems = problemsOf(() =>
      csp({ 'default-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'object-src': ["'none'"] }, {
        reportOnly: 'false',
        dangerouslyAllowUnsafeInlineStyles: 'false',
        dangerouslyAllowUnsafeEval: 1,
      } as never),
    );
    expect(problems).toContain('reportOnly must be true or false');
    expect(problems).toContain('dangerouslyAllowUnsafeInlineStyles must be true or false');
    expect(problems).toContain('dangerouslyAllowUnsafeEval must be true or false');
    expect(problems.join('\n')).toMatch(/style-src allows 'unsafe-inline'/);
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
          'base-uri': ["'none'"],
        };
        if (upgrade) directives['upgrade-insecure-requests'] = [];
        const policy = csp(directives);
        const reparsed = ContentSecurityPolicy.parse(policy.render('n0nce'));
        expect(reparsed.render()).toBe(policy.render('n0nce'));
      }),
    );
  });

  it('splits only on ASCII whitespace, as browsers do, so a non-breaking space before a name is reported', () => {
    // Chromium reads "\u00a0script-src" as an unknown directive and falls back to default-src *.
    for (const space of ['\u00a0', '\u2003', '\ufeff', '\v']) {
      const policy = `default-src *;${space}script-src 'self';object-src 'none'`;
      expect(() => ContentSecurityPolicy.parse(policy)).toThrow(HeadersError);
      expect(() => ContentSecurityPolicy.parse(policy)).toThrow(
        /directive #2 has a name with characters outside a-z, 0-9 and -/,
      );
    }
    // Every ASCII whitespace character separates, around names and between sources.
    const parsed = ContentSecurityPolicy.parse(
      "\t default-src\n'none' ;\fbase-uri\r'none'\t;\n frame-ancestors 'none'",
    );
    expect(parsed.render()).toBe("default-src 'none';base-uri 'none';frame-ancestors 'none'");
    expect(() => csp({ '\u00a0scriptSrc': ["'self'"] } as never)).toThrow(/characters outside a-z, 0-9 and -/);
    // Names are lower-cased as ASCII only: the Kelvin sign is not a k to a browser.
    expect(() => ContentSecurityPolicy.parse("default-src 'none';wor\u212Aer-src 'self'")).toThrow(
      /directive #2 has a name with characters outside/,
    );
    expect(ContentSecurityPolicy.parse("DEFAULT-SRC 'none'").render()).toBe("default-src 'none'");
  });

  it('validates a parsed string like a built one', () => {
    expect(() => ContentSecurityPolicy.parse("default-src self; script-src 'unsafe-inline'")).toThrow(HeadersError);
  });
});

describe('ContentSecurityPolicy.with', () => {
  it('replaces and removes directives and validates again', () => {
    const base = csp({ 'default-src': ["'self'"], 'object-src': ["'none'"], 'img-src': ["'self'"] });
    expect(base.with({ 'img-src': null, connectSrc: ["'self'", 'https://api.example'] }).render()).toBe(
      "default-src 'self';object-src 'none';connect-src 'self' https://api.example",
    );
    expect(() => base.with({ 'script-src': ['*'] })).toThrow(HeadersError);
  });

  it('refuses two keys that name the same directive instead of letting the last one win', () => {
    const base = csp({ 'default-src': ["'self'"], 'object-src': ["'none'"] });
    expect(() => base.with({ imgSrc: ["'self'"], 'img-src': ['https://cdn.example'] })).toThrow(
      /'imgSrc' and 'img-src' both set img-src: keep one/,
    );
  });
});
