import fc from 'fast-check';
import helmet from 'helmet';
import { describe, expect, it } from 'vitest';
import { scoreHeaders } from './observatory.ts';
import { apiPreset, webAppPreset } from './presets.ts';

/** What plain helmet() sends, captured from its middleware. */
function helmetDefaults(): Record<string, string> {
  const headers: Record<string, string> = {};
  const res = { setHeader: (n: string, v: string) => (headers[n.toLowerCase()] = v), removeHeader: () => undefined };
  (helmet() as unknown as (req: object, res: object, next: () => void) => void)({}, res, () => undefined);
  return headers;
}

const base = {
  'content-security-policy': "default-src 'self'",
  'strict-transport-security': 'max-age=31536000',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
};

describe('scoreHeaders', () => {
  it('grades the API preset A+ over HTTPS', () => {
    const result = scoreHeaders(apiPreset().headersFor({ secure: true }));
    expect(result.grade).toBe('A+');
    expect(result.score).toBeGreaterThanOrEqual(100);
    expect(result.tests['content-security-policy']?.result).toBe('csp-implemented-with-no-unsafe-default-src-none');
  });

  it('grades the web-app preset A+ over HTTPS, with every variant and option', () => {
    const base = webAppPreset();
    for (const policy of [
      base,
      base.forDownload(),
      base.forOAuthPopup(),
      webAppPreset({ trustedTypes: true, reporting: { endpoint: '/csp' } }),
    ]) {
      const result = scoreHeaders(policy.headersFor({ secure: true, nonce: 'bm9uY2Vub25jZW5vbmNlMQ==' }));
      expect(result.grade, policy.name).toBe('A+');
      expect(result.score).toBeGreaterThanOrEqual(100);
    }
  });

  it('scores a Report-Only rollout as the Observatory does, with and without a list of frame ancestors', () => {
    const reporting = { endpoint: '/csp' };
    const nonce = 'bm9uY2Vub25jZW5vbmNlMQ==';
    for (const preset of [apiPreset, webAppPreset]) {
      const none = scoreHeaders(preset({ reportOnly: true, reporting }).headersFor({ secure: true, nonce }));
      expect(none.tests['content-security-policy']).toMatchObject({
        result: 'csp-not-implemented-but-reporting-enabled',
        modifier: -25,
      });
      expect(none.tests['x-frame-options']?.modifier).toBe(0);
      expect(none.score).toBe(75);
      // The enforced `frame-ancestors <list>` is a CSP without script restrictions: −20, and +5 for
      // framing set through CSP.
      const list = scoreHeaders(
        preset({ reportOnly: true, reporting, frameAncestors: ['https://partner.example'] }).headersFor({
          secure: true,
          nonce,
        }),
      );
      expect(list.tests['content-security-policy']).toMatchObject({
        result: 'csp-implemented-with-unsafe-inline',
        modifier: -20,
      });
      expect(list.tests['x-frame-options']).toMatchObject({
        result: 'x-frame-options-implemented-via-csp',
        modifier: 5,
      });
      expect(list.score).toBe(80);
    }
  });

  it("gives helmet's default CSP no bonus because of style-src 'unsafe-inline'", () => {
    const result = scoreHeaders(helmetDefaults());
    expect(result.tests['content-security-policy']?.result).toBe(
      'csp-implemented-with-unsafe-inline-in-style-src-only',
    );
    expect(result.tests['content-security-policy']?.modifier).toBe(0);
    const ours = scoreHeaders(webAppPreset().headersFor({ secure: true, nonce: 'n' }));
    expect(ours.score).toBeGreaterThan(result.score);
  });

  it('penalises plain HTTP: no HSTS possible and no redirection', () => {
    const result = scoreHeaders(apiPreset().headersFor({ secure: false }), { https: false });
    expect(result.tests['strict-transport-security']?.result).toBe('hsts-not-implemented-no-https');
    expect(result.tests.redirection?.result).toBe('redirection-missing');
    // 100 - 20 - 20 = 60: below 90, so no bonus counts.
    expect(result.score).toBe(60);
    expect(result.grade).toBe('C+');
  });

  it('scores a missing CSP -25 and a missing X-Frame-Options -20', () => {
    const result = scoreHeaders({
      'strict-transport-security': 'max-age=31536000',
      'x-content-type-options': 'nosniff',
    });
    expect(result.tests['content-security-policy']?.modifier).toBe(-25);
    expect(result.tests['x-frame-options']?.modifier).toBe(-20);
    expect(result.score).toBe(55);
  });

  it.each([
    [
      "script-src 'unsafe-inline'",
      "default-src 'self'; script-src 'self' 'unsafe-inline'",
      'csp-implemented-with-unsafe-inline',
    ],
    [
      "'unsafe-inline' ignored next to a nonce",
      "default-src 'self'; script-src 'nonce-abc' 'unsafe-inline'",
      'csp-implemented-with-no-unsafe',
    ],
    ["'strict-dynamic' without a nonce", "default-src 'self'; script-src 'strict-dynamic'", 'csp-header-invalid'],
    ['a duplicate directive', "default-src 'self'; default-src 'none'", 'csp-header-invalid'],
    ["'unsafe-eval'", "default-src 'self'; script-src 'self' 'unsafe-eval'", 'csp-implemented-with-unsafe-eval'],
    [
      'http: on an https site',
      "default-src 'self'; connect-src http://api.example",
      'csp-implemented-with-insecure-scheme',
    ],
    [
      'http: images only',
      "default-src 'self'; img-src http://img.example",
      'csp-implemented-with-insecure-scheme-in-passive-content-only',
    ],
    ['no object-src or default-src', "script-src 'self'", 'csp-implemented-with-unsafe-inline'],
    ["default-src 'none'", "default-src 'none'", 'csp-implemented-with-no-unsafe-default-src-none'],
  ])('classifies a CSP with %s', (_label, policy, result) => {
    expect(scoreHeaders({ ...base, 'content-security-policy': policy }).tests['content-security-policy']?.result).toBe(
      result,
    );
  });

  it('reads Report-Only alone as not implemented', () => {
    const { 'content-security-policy': _csp, ...rest } = base;
    const result = scoreHeaders({ ...rest, 'content-security-policy-report-only': "default-src 'none'" });
    expect(result.tests['content-security-policy']?.result).toBe('csp-not-implemented-but-reporting-enabled');
  });

  it.each([
    ['max-age=100', 'hsts-implemented-max-age-less-than-six-months'],
    ['max-age=15552000', 'hsts-implemented-max-age-at-least-six-months'],
    ['includeSubDomains', 'hsts-header-invalid'],
    ['max-age=1, max-age=2', 'hsts-header-invalid'],
  ])('classifies Strict-Transport-Security %j', (value, result) => {
    expect(
      scoreHeaders({ ...base, 'strict-transport-security': value }).tests['strict-transport-security']?.result,
    ).toBe(result);
  });

  it('counts a preloaded host as +5', () => {
    expect(scoreHeaders(base, { hstsPreloaded: true }).tests['strict-transport-security']?.modifier).toBe(5);
  });

  it.each([
    ['unsafe-url', 'referrer-policy-unsafe'],
    ['no-referrer, bogus', 'referrer-policy-private'],
    ['bogus', 'referrer-policy-header-invalid'],
    ['strict-origin-when-cross-origin', 'referrer-policy-private'],
  ])('classifies Referrer-Policy %j', (value, result) => {
    expect(scoreHeaders({ ...base, 'referrer-policy': value }).tests['referrer-policy']?.result).toBe(result);
  });

  it.each([
    [['sessionid=1; Secure; HttpOnly; SameSite=Lax'], 'cookies-secure-with-httponly-sessions-and-samesite'],
    [['sessionid=1; Secure; HttpOnly'], 'cookies-secure-with-httponly-sessions'],
    [['sessionid=1; HttpOnly; SameSite=Lax'], 'cookies-session-without-secure-flag-but-protected-by-hsts'],
    [['sessionid=1; Secure; SameSite=Lax'], 'cookies-session-without-httponly-flag'],
    [['theme=dark; Secure; SameSite=Bogus'], 'cookies-samesite-flag-invalid'],
  ])('classifies cookies %j', (cookies, result) => {
    expect(scoreHeaders({ ...base, 'set-cookie': cookies }).tests.cookies?.result).toBe(result);
  });

  it('flags a reflected origin with credentials as universal CORS access', () => {
    const result = scoreHeaders(
      { ...base, 'access-control-allow-origin': 'https://probe.example', 'access-control-allow-credentials': 'true' },
      { probeOrigin: 'https://probe.example' },
    );
    expect(result.tests['cross-origin-resource-sharing']?.modifier).toBe(-50);
  });

  it('accepts a Headers object and entries', () => {
    const entries = apiPreset().headersFor({ secure: true });
    expect(scoreHeaders(new Headers(entries.map(([n, v]) => [n, v]))).score).toBe(scoreHeaders(entries).score);
  });

  it('keeps the score non-negative and the grade consistent with it', () => {
    const value = fc.string({ maxLength: 40 });
    const headers = fc.record(
      {
        'content-security-policy': value,
        'strict-transport-security': value,
        'x-frame-options': value,
        'referrer-policy': value,
        'x-content-type-options': value,
        'cross-origin-resource-policy': value,
        'set-cookie': value,
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(headers, fc.boolean(), (h, https) => {
        const { score, grade } = scoreHeaders(h, { https });
        expect(score).toBeGreaterThanOrEqual(0);
        expect(score >= 100).toBe(grade === 'A+');
      }),
    );
  });
});
