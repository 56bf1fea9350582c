import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { API_HEADERS, webAppHeaders } from '../test/support/expected.ts';
import { NONCE } from './csp.ts';
import { HeadersError } from './errors.ts';
import { renderWithHelmet } from './helmet-render.ts';
import { scoreHeaders } from './observatory.ts';
import { apiPreset, type PresetOptions, webAppPreset } from './presets.ts';

const lower = (entries: readonly (readonly [string, string])[]): Record<string, string> =>
  Object.fromEntries(entries.map(([n, v]) => [n.toLowerCase(), v]));

function optionProblems(build: () => unknown): readonly string[] {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(HeadersError);
    expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
    return (error as HeadersError).problems;
  }
  throw new Error('expected a HeadersError');
}

describe('apiPreset', () => {
  it('compiles to exactly the API header set', () => {
    const policy = apiPreset();
    expect(lower(policy.headersFor({ secure: true }))).toEqual(API_HEADERS);
    expect(policy.usesNonce).toBe(false);
    expect(policy.remove).toEqual(['X-Powered-By', 'Server']);
  });

  it('adds removals without dropping the defaults', () => {
    expect(apiPreset({ removeHeaders: ['X-AspNet-Version'] }).remove).toEqual([
      'X-Powered-By',
      'Server',
      'X-AspNet-Version',
    ]);
  });

  it('keeps HSTS off plain HTTP only when asked', () => {
    expect(lower(apiPreset().headersFor({ secure: false }))['strict-transport-security']).toBeDefined();
    const tlsOnly = apiPreset({ hsts: { onlyOverTls: true } });
    expect(lower(tlsOnly.headersFor({ secure: false }))['strict-transport-security']).toBeUndefined();
    expect(lower(tlsOnly.headersFor({ secure: true }))['strict-transport-security']).toBe(
      'max-age=63072000; includeSubDomains',
    );
  });

  it('renders preload when its rules are met', () => {
    expect(
      lower(apiPreset({ hsts: { preload: true } }).headersFor({ secure: true }))['strict-transport-security'],
    ).toBe('max-age=63072000; includeSubDomains; preload');
  });
});

describe('webAppPreset', () => {
  it('compiles to exactly the web-app header set, nonce on script-src and style-src', () => {
    const policy = webAppPreset();
    expect(policy.usesNonce).toBe(true);
    expect(lower(policy.headersFor({ secure: true, nonce: 'N0NCE' }))).toEqual(webAppHeaders('N0NCE'));
  });

  it('adds Reporting-Endpoints, report-to and the report-uri fallback', () => {
    const h = lower(
      webAppPreset({ reporting: { endpoint: 'https://reports.example/csp', group: 'csp' } }).headersFor({
        secure: true,
        nonce: 'n',
      }),
    );
    expect(h['reporting-endpoints']).toBe('csp="https://reports.example/csp"');
    expect(h['content-security-policy']).toMatch(/;report-uri https:\/\/reports\.example\/csp;report-to csp$/);
  });

  it('adds Trusted Types with or without a policy allow-list', () => {
    const any = lower(webAppPreset({ trustedTypes: true }).headersFor({ secure: true, nonce: 'n' }));
    expect(any['content-security-policy']).toContain("require-trusted-types-for 'script'");
    expect(any['content-security-policy']).not.toContain('trusted-types ');
    const named = lower(
      webAppPreset({ trustedTypes: { policies: ['app', 'dompurify'], allowDuplicates: true } }).headersFor({
        secure: true,
        nonce: 'n',
      }),
    );
    expect(named['content-security-policy']).toContain("trusted-types app dompurify 'allow-duplicates'");
  });

  it('sends the CSP as Report-Only in rollout mode, keeping X-Frame-Options enforced', () => {
    const h = lower(
      webAppPreset({ reportOnly: true, reporting: { endpoint: '/csp' } }).headersFor({ secure: true, nonce: 'n' }),
    );
    expect(h['content-security-policy-report-only']).toContain("'nonce-n'");
    expect(h['content-security-policy']).toBeUndefined();
    expect(h['x-frame-options']).toBe('DENY');
  });

  it('keeps a list of frame ancestors enforced in Report-Only mode, where X-Frame-Options cannot stand in', () => {
    const reporting = { endpoint: '/csp' };
    const partner = 'https://partner.example';
    const policies = [
      webAppPreset({ reportOnly: true, reporting, frameAncestors: [partner] }),
      webAppPreset({ reportOnly: true, reporting }).forEmbedding([partner]),
      apiPreset({ reportOnly: true, reporting, frameAncestors: ["'self'", partner] }),
    ];
    const expected = [`frame-ancestors ${partner}`, `frame-ancestors ${partner}`, `frame-ancestors 'self' ${partner}`];
    policies.forEach((policy, i) => {
      const nonce = policy.usesNonce ? policy.newNonce() : undefined;
      const h = lower(policy.headersFor({ secure: true, nonce }));
      expect(h['content-security-policy']).toBe(expected[i]);
      expect(h['content-security-policy-report-only']).toContain(expected[i]);
      expect(h['x-frame-options']).toBeUndefined();
      expect(policy.cspHeaderName).toBe('Content-Security-Policy-Report-Only');
    });
    // 'none' and 'self' stay enforced through X-Frame-Options; nothing else is added.
    for (const frameAncestors of ['none', 'self'] as const) {
      const h = lower(
        webAppPreset({ reportOnly: true, reporting, frameAncestors }).headersFor({ secure: true, nonce: 'n' }),
      );
      expect(h['content-security-policy']).toBeUndefined();
      expect(h['x-frame-options']).toBeDefined();
    }
  });

  it("names in appended the headersFor() entry to append next to the app's CSP, and nothing outside that rollout", () => {
    const reporting = { endpoint: '/csp' };
    const partner = 'https://partner.example';
    const rollout = webAppPreset({ reportOnly: true, reporting, frameAncestors: [partner] });
    expect(rollout.appended).toEqual([['Content-Security-Policy', `frame-ancestors ${partner}`]]);
    const entries = rollout.headersFor({ secure: true, nonce: rollout.newNonce() });
    const toAppend = entries.filter(([name, value]) =>
      rollout.appended.some((entry) => entry[0] === name && entry[1] === value),
    );
    expect(toAppend).toEqual(rollout.appended);
    expect(Object.isFrozen(rollout.appended) && Object.isFrozen(rollout.appended[0])).toBe(true);
    // Two entries per header are still exactly [name, value], as new Headers(entries) requires.
    expect(() => new Headers(entries as [string, string][])).not.toThrow();
    for (const policy of [
      webAppPreset({ frameAncestors: [partner] }),
      webAppPreset({ reportOnly: true, reporting, frameAncestors: 'self' }),
      apiPreset(),
    ]) {
      expect(policy.appended).toEqual([]);
    }
  });

  it('keeps frame-ancestors and X-Frame-Options consistent', () => {
    const self = lower(webAppPreset({ frameAncestors: 'self' }).headersFor({ secure: true, nonce: 'n' }));
    expect(self['content-security-policy']).toContain("frame-ancestors 'self'");
    expect(self['x-frame-options']).toBe('SAMEORIGIN');
    const list = lower(
      webAppPreset({ frameAncestors: ['https://a.example'] }).headersFor({ secure: true, nonce: 'n' }),
    );
    expect(list['content-security-policy']).toContain('frame-ancestors https://a.example');
    expect(list['x-frame-options']).toBeUndefined();
  });

  it('offers a popup-friendly COOP for OAuth flows', () => {
    const h = lower(webAppPreset({ oauthPopups: true }).headersFor({ secure: true, nonce: 'n' }));
    expect(h['cross-origin-opener-policy']).toBe('same-origin-allow-popups');
  });

  it('merges Permissions-Policy features over the defaults', () => {
    const h = lower(
      webAppPreset({ permissionsPolicy: { camera: 'self', geolocation: ['self', 'https://maps.example'] } }).headersFor(
        {
          secure: true,
          nonce: 'n',
        },
      ),
    );
    expect(h['permissions-policy']).toContain('camera=(self)');
    expect(h['permissions-policy']).toContain('geolocation=(self "https://maps.example")');
    expect(h['permissions-policy']).toContain('microphone=()');
  });

  it('lets extra directives through the same validation', () => {
    const h = lower(
      webAppPreset({ directives: { 'connect-src': ["'self'", 'https://api.example'] } }).headersFor({
        secure: true,
        nonce: 'n',
      }),
    );
    expect(h['content-security-policy']).toContain("connect-src 'self' https://api.example");
    expect(() => webAppPreset({ directives: { 'script-src': ['*'] } })).toThrow(/CSP: script-src source #1/);
    expect(() => webAppPreset({ directives: { 'object-src': ["'self'"] } })).toThrow(/CSP: object-src must be 'none'/);
    expect(() => webAppPreset({ directives: { 'worker-src': ['*'] } })).toThrow(/CSP: worker-src source #1/);
    expect(() => webAppPreset({ directives: { 'base-uri': ['https:'] } })).toThrow(/CSP: base-uri source #1/);
    // Two spellings of one directive: merged into a map, the last would silently win.
    expect(() =>
      webAppPreset({ directives: { scriptSrc: ["'self'"], 'script-src': [NONCE, "'strict-dynamic'"] } }),
    ).toThrow(/directives: 'scriptSrc' and 'script-src' both set script-src: keep one/);
    expect(() => apiPreset({ directives: { 'default-src': ["'self'"] } })).toThrow(/CSP: object-src is missing/);
  });

  it('refuses an HSTS max-age that would render in exponent form, and a non-ASCII report endpoint', () => {
    expect(optionProblems(() => webAppPreset({ hsts: { maxAge: 1e21 } })).join()).toMatch(/hsts.maxAge/);
    expect(optionProblems(() => apiPreset({ reporting: { endpoint: 'https://r.example/€' } })).join()).toMatch(
      /reporting.endpoint/,
    );
    expect(optionProblems(() => apiPreset({ reporting: { endpoint: '/csp\\reports' } })).join()).toMatch(
      /reporting.endpoint/,
    );
    expect(() => apiPreset({ hsts: { maxAge: Number.MAX_SAFE_INTEGER } })).not.toThrow();
  });

  it('refuses a cacheable Cache-Control on a nonce page', () => {
    expect(optionProblems(() => webAppPreset({ cacheControl: 'public, max-age=60' })).join()).toMatch(/no-store/);
    expect(() => apiPreset({ cacheControl: 'public, max-age=60' })).not.toThrow();
  });

  it('lists every option problem at once without echoing values', () => {
    const marker = 'https://secret-partner.example/path';
    const problems = optionProblems(() =>
      webAppPreset({
        hsts: { maxAge: -1 },
        referrerPolicy: 'unsafe-url' as never,
        corp: 'everyone' as never,
        coop: 'nope' as never,
        frameAncestors: [marker],
        reporting: { endpoint: 'http://insecure.example/r' },
        trustedTypes: { policies: ['bad name'] },
        removeHeaders: ['bad header'],
        directives: { 'script-src': ['self'] },
      } as PresetOptions),
    );
    expect(problems.length).toBeGreaterThanOrEqual(9);
    expect(problems.join('\n')).not.toContain('secret-partner');
    expect(problems.join('\n')).not.toContain('insecure.example');
  });

  it('makes every variant of one policy once, at start-up', () => {
    const base = webAppPreset();
    const download = base.forDownload();
    expect(download.name).toBe('web-app+download');
    expect(download.usesNonce).toBe(false);
    expect(lower(download.headersFor({ secure: true }))['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none';sandbox",
    );
    const widget = lower(base.forEmbedding(['https://partner.example']).headersFor({ secure: true, nonce: 'n' }));
    expect(widget['x-frame-options']).toBeUndefined();
    expect(widget['cross-origin-resource-policy']).toBe('cross-origin');
    expect(() => base.forEmbedding(['not an origin'])).toThrow(HeadersError);
    expect(lower(base.forOAuthPopup().headersFor({ secure: true, nonce: 'n' }))['cross-origin-opener-policy']).toBe(
      'same-origin-allow-popups',
    );
  });
});

describe('preset safety rules', () => {
  it('sends an enforced CSP and no-store on downloads, whatever the base policy sends', () => {
    const base = apiPreset({
      reportOnly: true,
      reporting: { endpoint: '/csp' },
      cacheControl: 'public, max-age=3600',
    });
    const download = base.forDownload();
    const h = lower(download.headersFor({ secure: true }));
    // Browsers ignore `sandbox` in a Report-Only policy: it must be the enforced header.
    expect(h['content-security-policy']).toBe(
      "default-src 'none';base-uri 'none';form-action 'none';frame-ancestors 'none';sandbox",
    );
    expect(h['content-security-policy-report-only']).toBeUndefined();
    expect(h['cache-control']).toBe('no-store');
    expect(download.options.reportOnly).toBe(false);
    const problems = optionProblems(() => download.with({ reportOnly: true, cacheControl: 'public' }));
    expect(problems.join('\n')).toMatch(/reportOnly cannot be set on the download variant/);
    expect(problems.join('\n')).toMatch(/cacheControl on the download variant must be no-store/);
  });

  it.each([
    ['kebab-case', { 'frame-ancestors': ['*'] }],
    ['camelCase', { frameAncestors: ["'self'"] }],
  ])('refuses frame-ancestors in directives (%s), which would bypass the frameAncestors option', (_l, directives) => {
    const problems = optionProblems(() => webAppPreset({ directives }));
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/directives: frame-ancestors .*use the frameAncestors option/);
    expect(() => apiPreset({ directives })).toThrow(HeadersError);
  });

  it('lists a directives value or removeHeaders that is not an array with the other problems, never spreading it', () => {
    const options = {
      directives: { 'script-src': 'https://cdn.example', 'img-src': null, connectSrc: 42 },
      removeHeaders: 'X-Debug',
      corp: 'nowhere',
    } as unknown as PresetOptions;
    for (const preset of [apiPreset, webAppPreset]) {
      const problems = optionProblems(() => preset(options));
      const all = problems.join('\n');
      expect(all).toMatch(/directives: script-src must be an array of sources/);
      expect(all).toMatch(/directives: img-src must be an array of sources/);
      expect(all).toMatch(/directives: connect-src must be an array of sources/);
      expect(all).toMatch(/removeHeaders must be an array of header names/);
      expect(all).toMatch(/corp must be/);
      expect(all).not.toContain('cdn.example');
      expect(all).not.toContain('X-Debug');
    }
    expect(() => webAppPreset({ directives: null } as unknown as PresetOptions)).toThrow(
      /directives must be an object/,
    );
  });

  it('refuses reportOnly without reporting, and reporting next to report-uri/report-to directives', () => {
    expect(optionProblems(() => webAppPreset({ reportOnly: true })).join('\n')).toMatch(
      /reportOnly needs the reporting option/,
    );
    expect(optionProblems(() => apiPreset({ reportOnly: true })).join('\n')).toMatch(/reportOnly needs/);
    const marker = '/secret-report-path';
    const problems = optionProblems(() =>
      webAppPreset({
        reporting: { endpoint: '/csp' },
        directives: { 'report-uri': [marker], reportTo: ['other-group'] },
      }),
    );
    expect(problems).toHaveLength(2);
    expect(problems.join('\n')).toMatch(/directives: report-uri .*reporting option/);
    expect(problems.join('\n')).toMatch(/directives: report-to .*reporting option/);
    expect(problems.join('\n')).not.toContain('secret-report-path');
    expect(() => webAppPreset({ directives: { 'report-uri': ['/csp'] } })).not.toThrow();
  });

  it("refuses boolean options that are not booleans, such as the string 'false', which would weaken the policy", () => {
    const options = {
      reportOnly: 'false',
      reporting: { endpoint: '/csp' },
      dangerouslyAllowUnsafeInlineStyles: 'false',
      dangerouslyAllowUnsafeEval: 0,
      upgradeInsecureRequests: 'no',
      oauthPopups: 'false',
      hsts: { includeSubDomains: 'false', preload: 1, onlyOverTls: 'yes', dangerouslyAllowShortMaxAge: 'true' },
      trustedTypes: 'false',
      directives: { 'style-src': ["'self'", "'unsafe-inline'"] },
    } as unknown as PresetOptions;
    for (const preset of [apiPreset, webAppPreset]) {
      const all = optionProblems(() => preset(options)).join('\n');
      for (const name of [
        'reportOnly',
        'dangerouslyAllowUnsafeInlineStyles',
        'dangerouslyAllowUnsafeEval',
        'upgradeInsecureRequests',
        'oauthPopups',
        'hsts.includeSubDomains',
        'hsts.preload',
        'hsts.onlyOverTls',
        'hsts.dangerouslyAllowShortMaxAge',
      ]) {
        expect(all).toContain(`${name} must be true or false`);
      }
      expect(all).toMatch(/trustedTypes must be true, false or/);
      // The string did not name the inline-styles deviation.
      expect(all).toMatch(/CSP: style-src allows 'unsafe-inline'/);
    }
    expect(optionProblems(() => apiPreset({ trustedTypes: { policies: [], allowDuplicates: 'no' } } as never))).toEqual(
      ['trustedTypes.allowDuplicates must be true or false'],
    );
  });

  it('refuses an hsts option that is not an object, pointing to the way to switch HSTS off', () => {
    for (const hsts of [false, true, null, 'off', 0]) {
      const problems = optionProblems(() => apiPreset({ hsts } as unknown as PresetOptions));
      expect(problems).toHaveLength(1);
      expect(problems[0]).toMatch(/hsts must be an object.*maxAge: 0, dangerouslyAllowShortMaxAge: true/);
    }
  });

  it('refuses a permissionsPolicy that is neither an object nor false, and sends no header for an empty one', () => {
    expect(optionProblems(() => apiPreset({ permissionsPolicy: true } as never))).toEqual([
      'permissionsPolicy must be an object of features to allowlists, or false',
    ]);
    expect(lower(apiPreset({ permissionsPolicy: {} }).headersFor({ secure: true }))).toEqual(API_HEADERS);
    expect(lower(webAppPreset({ permissionsPolicy: {} }).headersFor({ secure: true, nonce: 'n' }))).toEqual(
      webAppHeaders('n'),
    );
  });

  it('refuses a reporting group that is not a structured-field key (RFC 8941), which voids Reporting-Endpoints', () => {
    for (const group of ['CSP', 'Csp-Endpoint', '9csp', '_csp', '-csp', '', 'a'.repeat(65), 'csp endpoint']) {
      expect(optionProblems(() => apiPreset({ reporting: { endpoint: '/csp', group } })).join('\n')).toMatch(
        /reporting.group must start with a lower-case letter/,
      );
    }
    for (const group of ['csp', 'csp-endpoint', 'csp_2', `a${'b'.repeat(63)}`]) {
      const h = lower(apiPreset({ reporting: { endpoint: '/csp', group } }).headersFor({ secure: true }));
      expect(h['reporting-endpoints']).toBe(`${group}="/csp"`);
    }
  });

  it('refuses an HSTS max-age under six months unless the short max-age is named', () => {
    for (const maxAge of [0, 60, 15_551_999]) {
      expect(optionProblems(() => apiPreset({ hsts: { maxAge } })).join('\n')).toMatch(
        /hsts.maxAge .*15552000 .*dangerouslyAllowShortMaxAge/,
      );
    }
    expect(() => apiPreset({ hsts: { maxAge: 15_552_000 } })).not.toThrow();
    // RFC 6797 §6.1.1: max-age=0 tells browsers to forget the host; the documented way to switch HSTS off.
    const off = apiPreset({ hsts: { maxAge: 0, includeSubDomains: false, dangerouslyAllowShortMaxAge: true } });
    expect(lower(off.headersFor({ secure: true }))['strict-transport-security']).toBe('max-age=0');
    expect(() => apiPreset({ hsts: { maxAge: -1, dangerouslyAllowShortMaxAge: true } })).toThrow(HeadersError);
  });

  it('accepts exactly the HSTS max-ages that scoreHeaders passes (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 126_144_000 }), (maxAge) => {
        let accepted = true;
        let policy: ReturnType<typeof apiPreset> | undefined;
        try {
          policy = apiPreset({ hsts: { maxAge } });
        } catch {
          accepted = false;
        }
        const scored = scoreHeaders({ 'strict-transport-security': `max-age=${maxAge}` }).tests[
          'strict-transport-security'
        ];
        expect(accepted).toBe(scored?.pass === true);
        if (policy) expect(scoreHeaders(policy.headersFor({ secure: true })).grade).toBe('A+');
      }),
      { numRuns: 300 },
    );
  });

  it("refuses 'unsafe-eval' in preset directives unless it is named", () => {
    const directives = { 'script-src': [NONCE, "'strict-dynamic'", "'unsafe-eval'"] };
    expect(optionProblems(() => webAppPreset({ directives })).join('\n')).toMatch(
      /CSP: script-src allows 'unsafe-eval'.*dangerouslyAllowUnsafeEval/,
    );
    const allowed = webAppPreset({ directives, dangerouslyAllowUnsafeEval: true });
    expect(lower(allowed.headersFor({ secure: true, nonce: 'n' }))['content-security-policy']).toContain(
      "'unsafe-eval'",
    );
  });

  it('refuses misspelt option keys, which would otherwise be ignored, and suggests the right one', () => {
    const problems = optionProblems(() =>
      webAppPreset({
        hsts: { maxage: 0, dangerouslyAllowShortMaxAge: true },
        frameAncestor: 'self',
        reporting: { endpoint: '/csp', Group: 'g' },
        trustedTypes: { policies: [], allowDuplicate: true },
        ReportOnly: false,
      } as unknown as PresetOptions),
    );
    const text = problems.join('\n');
    expect(text).toContain('hsts.maxage is not an option; did you mean hsts.maxAge?');
    expect(text).toContain('frameAncestor is not an option; did you mean frameAncestors?');
    expect(text).toContain('reporting.Group is not an option; did you mean reporting.group?');
    expect(text).toContain('trustedTypes.allowDuplicate is not an option; did you mean trustedTypes.allowDuplicates?');
    expect(text).toContain('ReportOnly is not an option; did you mean reportOnly?');
    // A key one swap from one option and one letter from another is told neither (no guess on a tie).
    expect(optionProblems(() => webAppPreset({ crop: 'same-origin' } as unknown as PresetOptions))).toEqual([
      'options: a key that is not an option; the options are hsts, referrerPolicy, corp, coop, oauthPopups, frameAncestors, cacheControl, permissionsPolicy, reporting, trustedTypes, reportOnly, directives, upgradeInsecureRequests, removeHeaders, dangerouslyAllowUnsafeInlineStyles, dangerouslyAllowUnsafeEval and variant',
    ]);
    // A key that resembles no option is not echoed (it could be a pasted token), whether or not it
    // looks like a name: one problem counts them and lists the options of that object.
    const odd = optionProblems(() =>
      apiPreset({
        colour: 'blue',
        'https://secret.example/x': 1,
        ghp_16C7e42F292c6912E7710c838347Ae178B4a: 1,
        hsts: { ghp_16C7e42F292c6912E7710c838347Ae178B4a: 1 },
      } as unknown as PresetOptions),
    );
    expect(odd).toEqual([
      'options: 3 keys that are not options; the options are hsts, referrerPolicy, corp, coop, oauthPopups, frameAncestors, cacheControl, permissionsPolicy, reporting, trustedTypes, reportOnly, directives, upgradeInsecureRequests, removeHeaders, dangerouslyAllowUnsafeInlineStyles, dangerouslyAllowUnsafeEval and variant',
      'hsts: a key that is not an option; the options are hsts.maxAge, hsts.dangerouslyAllowShortMaxAge, hsts.includeSubDomains, hsts.preload and hsts.onlyOverTls',
    ]);
    for (const secret of ['colour', 'secret.example', 'ghp_', '16C7e42F', 'B4a']) {
      expect(odd.join('\n')).not.toContain(secret);
    }
    // Thousands of stray keys: a bounded list, built quickly.
    const many = Object.fromEntries(Array.from({ length: 50_000 }, (_, i) => [`k${'x'.repeat(60)}${i}`, i]));
    const flood = optionProblems(() => webAppPreset({ ...many, hsts: many } as unknown as PresetOptions));
    expect(flood.length).toBeLessThanOrEqual(2 * 21 + 5);
    // Variants and every documented option still build.
    const base = webAppPreset({
      hsts: {
        maxAge: 0,
        dangerouslyAllowShortMaxAge: true,
        includeSubDomains: false,
        preload: false,
        onlyOverTls: true,
      },
      reporting: { endpoint: '/csp', group: 'g' },
      trustedTypes: { policies: ['app'], allowDuplicates: true },
      reportOnly: true,
    });
    expect(() => [base.forDownload(), base.forEmbedding(['https://a.example']), base.forOAuthPopup()]).not.toThrow();
    expect(optionProblems(() => apiPreset({ variant: 'upload' } as unknown as PresetOptions))).toEqual([
      "variant must be 'download' or left out; use forDownload()",
    ]);
  });
});

describe('presets across their option space', () => {
  const options = fc.record(
    {
      frameAncestors: fc.constantFrom<PresetOptions['frameAncestors']>('none', 'self', ['https://partner.example']),
      referrerPolicy: fc.constantFrom<PresetOptions['referrerPolicy']>(
        'no-referrer',
        'same-origin',
        'strict-origin',
        'strict-origin-when-cross-origin',
      ),
      corp: fc.constantFrom<PresetOptions['corp']>('same-origin', 'same-site', 'cross-origin'),
      coop: fc.constantFrom<PresetOptions['coop']>(
        'same-origin',
        'same-origin-allow-popups',
        'noopener-allow-popups',
        false,
      ),
      trustedTypes: fc.boolean(),
      reporting: fc.constantFrom(undefined, { endpoint: '/csp' }, { endpoint: 'https://r.example/csp', group: 'g1' }),
      hsts: fc.record({ maxAge: fc.integer({ min: 15_552_000, max: 126_144_000 }), onlyOverTls: fc.boolean() }),
    },
    { requiredKeys: [] },
  );

  it('always score A+ over HTTPS, with any combination of valid options', () => {
    fc.assert(
      fc.property(options, fc.boolean(), (o, web) => {
        const policy = web ? webAppPreset(o as PresetOptions) : apiPreset(o as PresetOptions);
        const nonce = policy.usesNonce ? policy.newNonce() : undefined;
        const result = scoreHeaders(policy.headersFor({ secure: true, nonce }));
        expect(result.grade).toBe('A+');
      }),
      { numRuns: 200 },
    );
  });

  it('always keep the nonce out of every header but the CSP, and change it per response', () => {
    const policy = webAppPreset();
    fc.assert(
      fc.property(fc.constant(null), () => {
        const a = policy.newNonce();
        const b = policy.newNonce();
        expect(a).not.toBe(b);
        for (const [name, value] of policy.headersFor({ secure: true, nonce: a })) {
          expect(value.includes(a)).toBe(name === 'Content-Security-Policy');
        }
      }),
    );
  });
});

describe('renderWithHelmet', () => {
  it("turns helmet's own errors into a typed error without echoing the value", () => {
    try {
      renderWithHelmet({ referrerPolicy: { policy: 'secret-token-value' as never } });
      expect.unreachable();
    } catch (error) {
      expect((error as HeadersError).code).toBe('ERR_HEADERS_INVALID_OPTION');
      expect((error as HeadersError).message).not.toContain('secret-token-value');
    }
  });
});

describe('preset option validation against any input', () => {
  /** A value of any shape, with near-miss and junk keys in the nested option objects. */
  const junk = fc.oneof(
    fc.anything({ maxDepth: 2 }),
    fc.constantFrom(null, undefined, true, false, 0, 1, -1, Number.NaN, 'x', '', [], [1], ['x'], {}, () => 1),
  );
  const nested = (keys: readonly string[]) =>
    fc.oneof(
      junk,
      fc.dictionary(fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 12 })), junk, { maxKeys: 4 }),
    );
  const anyOptions = fc.oneof(
    junk,
    fc.record(
      {
        hsts: nested([
          'maxAge',
          'maxage',
          'dangerouslyAllowShortMaxAge',
          'includeSubDomains',
          'preload',
          'onlyOverTls',
        ]),
        referrerPolicy: junk,
        corp: junk,
        coop: junk,
        oauthPopups: junk,
        frameAncestors: junk,
        cacheControl: junk,
        permissionsPolicy: nested(['camera', 'geolocation', 'sk_live_51HxYzAbCdEf']),
        reporting: nested(['endpoint', 'group', 'Endpoint']),
        trustedTypes: nested(['policies', 'policy', 'Policies', 'allowDuplicates']),
        reportOnly: junk,
        directives: nested(['scriptSrc', 'script-src', 'frame-ancestors', 'report-uri', 'defaultSrc', 'sandbox']),
        upgradeInsecureRequests: junk,
        removeHeaders: junk,
        dangerouslyAllowUnsafeInlineStyles: junk,
        dangerouslyAllowUnsafeEval: junk,
        variant: junk,
      },
      { requiredKeys: [] },
    ),
  );

  it('either builds a policy or throws ERR_HEADERS_INVALID_OPTION, never another error (property)', () => {
    fc.assert(
      fc.property(anyOptions, fc.boolean(), (options, web) => {
        try {
          (web ? webAppPreset : apiPreset)(options as PresetOptions);
        } catch (error) {
          if (!(error instanceof HeadersError) || error.code !== 'ERR_HEADERS_INVALID_OPTION') throw error;
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('suggests trustedTypes.policies for a misspelt key instead of failing on the missing list', () => {
    expect(optionProblems(() => apiPreset({ trustedTypes: { policy: [] } } as unknown as PresetOptions))).toEqual([
      'trustedTypes.policy is not an option; did you mean trustedTypes.policies?',
      'trustedTypes.policies must be an array of policy names',
    ]);
    expect(
      optionProblems(() => webAppPreset({ trustedTypes: { Policies: ['app'] } } as unknown as PresetOptions)),
    ).toEqual([
      'trustedTypes.Policies is not an option; did you mean trustedTypes.policies?',
      'trustedTypes.policies must be an array of policy names',
    ]);
    expect(optionProblems(() => apiPreset({ trustedTypes: {} } as unknown as PresetOptions))).toEqual([
      'trustedTypes.policies must be an array of policy names',
    ]);
  });

  it('refuses options that are not an object with a listed problem', () => {
    for (const bad of [null, [], 'x', 5]) {
      expect(optionProblems(() => apiPreset(bad as unknown as PresetOptions))).toEqual([
        'options must be an object of preset options',
      ]);
    }
  });
});

describe('preset option messages for permissionsPolicy and directives entries', () => {
  const hex = '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b';
  const secrets = ['sk_live', 'sk-live', '51hx', '51-hx', 'yzabcdef', '9f86d081', 'a3bf4f1b'];
  const echoesNothing = (problems: readonly string[]): void => {
    const text = problems.join('\n').toLowerCase();
    for (const secret of secrets) expect(text).not.toContain(secret);
  };

  it('names a permissionsPolicy entry by position unless it is a known feature or a near-miss of one', () => {
    const problems = optionProblems(() =>
      apiPreset({
        permissionsPolicy: {
          sk_live_51HxYzAbCdEf: 'yes',
          [hex]: 'yes',
          camera: 'yes',
          geolocaton: ['https://a.example/path'],
          'x-token-abc': ['nope'],
        },
      } as unknown as PresetOptions),
    );
    expect(problems).toEqual([
      'permissionsPolicy entry #1 has a feature name that is not lower-case-kebab',
      "permissionsPolicy entry #1 must be 'none', 'self', '*' or a list of origins",
      'permissionsPolicy entry #2 has a feature name that is not lower-case-kebab',
      "permissionsPolicy entry #2 must be 'none', 'self', '*' or a list of origins",
      "permissionsPolicy.camera must be 'none', 'self', '*' or a list of origins",
      'permissionsPolicy.geolocaton is not a Permissions-Policy feature; did you mean permissionsPolicy.geolocation?',
      "permissionsPolicy.geolocaton lists something that is neither 'self' nor an origin",
      "permissionsPolicy entry #5 lists something that is neither 'self' nor an origin",
    ]);
    echoesNothing(problems);
  });

  it('suggests the feature a name differing in case or _ is a near-miss of, as for directive names', () => {
    const problems = optionProblems(() =>
      apiPreset({
        permissionsPolicy: {
          Geolocation: 'self',
          publickey_credentials_get: 'self',
          GEOLOCATION: 'none',
          Clipboard_Write: ['self'],
          _camera: 'none',
          ScreenWakeLock: 'on',
        },
      } as unknown as PresetOptions),
    );
    expect(problems).toEqual([
      'permissionsPolicy.Geolocation is not a Permissions-Policy feature; did you mean permissionsPolicy.geolocation?',
      'permissionsPolicy.publickey_credentials_get is not a Permissions-Policy feature; did you mean permissionsPolicy.publickey-credentials-get?',
      'permissionsPolicy.GEOLOCATION is not a Permissions-Policy feature; did you mean permissionsPolicy.geolocation?',
      'permissionsPolicy.Clipboard_Write is not a Permissions-Policy feature; did you mean permissionsPolicy.clipboard-write?',
      'permissionsPolicy._camera is not a Permissions-Policy feature; did you mean permissionsPolicy.camera?',
      'permissionsPolicy.ScreenWakeLock is not a Permissions-Policy feature; did you mean permissionsPolicy.screen-wake-lock?',
      "permissionsPolicy.ScreenWakeLock must be 'none', 'self', '*' or a list of origins",
    ]);
  });

  it('refuses a lower-case-kebab misspelling of a feature, which would restrict nothing, and accepts other features', () => {
    expect(optionProblems(() => webAppPreset({ permissionsPolicy: { camra: 'self', 'x-token-abc': 'self' } }))).toEqual(
      ['permissionsPolicy.camra is not a Permissions-Policy feature; did you mean permissionsPolicy.camera?'],
    );
    // A feature this package does not list is sent as written (browsers add features often).
    const sent = apiPreset({ permissionsPolicy: { 'ai-feature': 'self' } }).headersFor({ secure: true });
    expect(new Map(sent).get('Permissions-Policy')).toBe('ai-feature=(self)');
  });

  it('takes a name for a misspelling of a feature only one typo away, so names that are words of their own still build', () => {
    // Two edits reach unrelated words (push and web are two from usb; face-detection is three from
    // idle-detection), and a three-letter feature is one edit from many (sub, id, kid): all are sent.
    const copied = {
      push: 'none',
      web: 'none',
      notifications: 'none',
      'face-detection': 'none',
      'multi-screen': 'none',
      'usb-restricted': 'none',
      credentials: 'none',
      sub: 'none',
      id: 'none',
    } as const;
    const sent = webAppPreset({ permissionsPolicy: copied }).headersFor({ secure: true, nonce: 'n' });
    expect(new Map(sent).get('Permissions-Policy')).toContain(
      'push=(), web=(), notifications=(), face-detection=(), multi-screen=(), usb-restricted=(), credentials=(), sub=(), id=()',
    );
    // One typo, a swap of two letters included, of a feature of four letters or more is refused.
    expect(
      optionProblems(() => webAppPreset({ permissionsPolicy: { midis: 'none', mdii: 'none', tolos: 'none' } })),
    ).toEqual([
      'permissionsPolicy.midis is not a Permissions-Policy feature; did you mean permissionsPolicy.midi?',
      'permissionsPolicy.mdii is not a Permissions-Policy feature; did you mean permissionsPolicy.midi?',
      'permissionsPolicy.tolos is not a Permissions-Policy feature; did you mean permissionsPolicy.tools?',
    ]);
    // A name that is not kebab is refused anyway; it is told a feature only when it is one in another
    // case or with _, or a typo of one, never a guess (Push is no usb).
    expect(
      optionProblems(() => webAppPreset({ permissionsPolicy: { USB_: 'none', Push: 'none', Camra: 'none' } })),
    ).toEqual([
      'permissionsPolicy.USB_ is not a Permissions-Policy feature; did you mean permissionsPolicy.usb?',
      'permissionsPolicy entry #2 has a feature name that is not lower-case-kebab',
      'permissionsPolicy.Camra is not a Permissions-Policy feature; did you mean permissionsPolicy.camera?',
    ]);
  });

  it('knows the features Chromium lists, so their misspellings are refused too', () => {
    expect(
      optionProblems(() =>
        webAppPreset({ permissionsPolicy: { 'langauge-model': 'none', 'ch-ua-platfrom': 'none', sumarizer: 'none' } }),
      ),
    ).toEqual([
      'permissionsPolicy.langauge-model is not a Permissions-Policy feature; did you mean permissionsPolicy.language-model?',
      'permissionsPolicy.ch-ua-platfrom is not a Permissions-Policy feature; did you mean permissionsPolicy.ch-ua-platform?',
      'permissionsPolicy.sumarizer is not a Permissions-Policy feature; did you mean permissionsPolicy.summarizer?',
    ]);
  });

  it('names a feature as written only when it is a near-miss, however many _ it has, and says when it has non-ASCII', () => {
    const underscores = '_'.repeat(5000);
    const problems = optionProblems(() =>
      apiPreset({
        permissionsPolicy: {
          [underscores]: 'self',
          [`${underscores}geolocation`]: 'self',
          [`geo${underscores}location`]: 'self',
          [`${'-'.repeat(3000)}camera`]: 'none',
          'camera\u00a0': 'none',
          sk_live_51HxYzAbCdEf: 'none',
          'camera\t': 'none',
        },
      } as unknown as PresetOptions),
    );
    expect(problems).toEqual([
      'permissionsPolicy entry #1 has a feature name that is not lower-case-kebab',
      'permissionsPolicy entry #2 has a feature name that is not lower-case-kebab',
      'permissionsPolicy entry #3 has a feature name that is not lower-case-kebab',
      'permissionsPolicy entry #4 has a feature name that is not lower-case-kebab',
      'permissionsPolicy entry #5 has a feature name with characters outside a-z, 0-9 and - (a non-breaking or other non-ASCII space, say): retype it',
      'permissionsPolicy entry #6 has a feature name that is not lower-case-kebab',
      // A tab is ASCII: no non-ASCII hint.
      'permissionsPolicy entry #7 has a feature name that is not lower-case-kebab',
    ]);
    echoesNothing(problems);
    // The same for a directives key: a near-miss behind thousands of _ is not repeated.
    const directives = optionProblems(() =>
      apiPreset({
        directives: { [`${underscores}script_src`]: ["'self'"], [`${underscores}imgSrc`]: 'x' },
      } as unknown as PresetOptions),
    );
    expect(directives).toEqual([
      'directives entry #1 is not a CSP directive this builder knows; its name has _, which no directive name has (words are joined by -, as in script-src): retype it',
      'directives entry #2 must be an array of sources',
    ]);
  });

  it('names a directives entry by position unless it is a CSP directive or a near-miss of one', () => {
    const problems = optionProblems(() =>
      apiPreset({
        directives: { sk_live_51HxYzAbCdEf: 'x', [hex]: 'x', scriptSrc: 'x', imgsrc: 'x', ImgSrc: 'x', Img_Src: 'x' },
      } as unknown as PresetOptions),
    );
    expect(problems.filter((p) => p.startsWith('directives'))).toEqual([
      'directives entry #1 must be an array of sources',
      'directives entry #2 must be an array of sources',
      'directives: script-src must be an array of sources',
      'directives: imgsrc must be an array of sources; did you mean img-src?',
      'directives: ImgSrc must be an array of sources; did you mean img-src?',
      'directives: Img_Src must be an array of sources; did you mean img-src?',
    ]);
    echoesNothing(problems);
    // The nearest known name is suggested, not the first within reach.
    const nearest = optionProblems(() =>
      apiPreset({
        directives: { conectSrc: 'x', 'script-src-elm': 'x' },
        permissionsPolicy: { 'clipboard-rite': 'yes', gamepa: 'on' },
      } as unknown as PresetOptions),
    ).join('\n');
    expect(nearest).toContain('did you mean connect-src?');
    expect(nearest).toContain('did you mean script-src-elem?');
    expect(nearest).toContain('did you mean permissionsPolicy.clipboard-write?');
    expect(nearest).toContain('did you mean permissionsPolicy.gamepad?');
    expect(nearest).not.toMatch(/font-src|clipboard-read|camera/);
    // Two spellings of one unknown name are not echoed either.
    echoesNothing(
      optionProblems(() =>
        apiPreset({ directives: { skLive51Hx: ["'self'"], 'sk-live51-hx': ["'self'"] } } as unknown as PresetOptions),
      ),
    );
    // An unknown name with sources is named by its place in `directives` (not in the built policy,
    // which starts with the preset's own directives), or as the near-miss it is.
    const unknown = optionProblems(() =>
      webAppPreset({
        directives: {
          'img-src': ["'self'"],
          scirptSrc: ["'self'"],
          ghp16c7e42f292c6912e7710c838347ae178b4a: ["'self'"],
          'script-src\u00a0': ["'self'"],
          ImgScr: ["'self'"],
          ScriptSrc: ["'self'"],
        },
      } as unknown as PresetOptions),
    ).filter((p) => /not a CSP directive/.test(p));
    expect(unknown).toEqual([
      'directives: scirptSrc is not a CSP directive this builder knows; did you mean script-src?',
      'directives entry #3 is not a CSP directive this builder knows; check its spelling',
      'directives entry #4 is not a CSP directive this builder knows; its name has characters outside a-z, 0-9 and - (a non-breaking or other non-ASCII space, say): retype it',
      'directives: ImgScr is not a CSP directive this builder knows; did you mean img-src?',
      'directives: ScriptSrc is not a CSP directive this builder knows; did you mean script-src?',
    ]);
    expect(unknown.join('\n')).not.toMatch(/CSP: |ghp|16c7e42f/);
  });
});
