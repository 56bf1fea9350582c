// Differential check of scoreHeaders() against the real MDN HTTP Observatory analyzers (not run in CI:
// the Observatory pulls in pg-native, jsdom and sentry). Usage:
//   mkdir /tmp/obs && cd /tmp/obs && npm install --ignore-scripts @mdn/mdn-http-observatory@1.4.8
//   echo {} > node_modules/@mdn/mdn-http-observatory/conf/hsts-preload.json
//   OBSERVATORY_DIR=/tmp/obs/node_modules/@mdn/mdn-http-observatory node packages/headers/scripts/observatory-diff.ts
// Cookies are left out: the real test reads a cookie jar, not headers.
import fc from 'fast-check';
import helmet from 'helmet';
import { apiPreset, scoreHeaders, webAppPreset } from '../src/index.ts';

const dir = process.env.OBSERVATORY_DIR;
if (!dir)
  throw new Error(
    'set OBSERVATORY_DIR to an installed @mdn/mdn-http-observatory (npm install --ignore-scripts; echo {} > conf/hsts-preload.json)',
  );
const base = `${dir}/src/analyzer/tests/`;
const { contentSecurityPolicyTest } = await import(`${base}csp.js`);
const { xFrameOptionsTest } = await import(`${base}x-frame-options.js`);
const { crossOriginResourcePolicyTest } = await import(`${base}cross-origin-resource-policy.js`);
const { referrerPolicyTest } = await import(`${base}referrer-policy.js`);
const { xContentTypeOptionsTest } = await import(`${base}x-content-type-options.js`);
const { strictTransportSecurityTest } = await import(`${base}strict-transport-security.js`);

function requests(input: Record<string, string | string[]>) {
  const headers = { ...input };
  Object.defineProperty(headers, 'get', {
    enumerable: false,
    value: (n: string) => (headers as Record<string, unknown>)[n.toLowerCase()] ?? null,
  });
  const response = { headers, httpEquiv: new Map(), verified: true, status: 200, statusCode: 200 };
  return {
    hostname: 'example.com',
    site: 'example.com',
    resources: {},
    responses: { auto: response, https: response, http: null, cors: null, httpRedirects: [], httpsRedirects: [] },
    session: { url: new URL('https://example.com/') },
  };
}
type AnalyzerTest = (requests: ReturnType<typeof requests>) => { result: string };
const tests: [string, AnalyzerTest][] = [
  ['content-security-policy', contentSecurityPolicyTest],
  ['x-frame-options', xFrameOptionsTest],
  ['cross-origin-resource-policy', crossOriginResourcePolicyTest],
  ['referrer-policy', referrerPolicyTest],
  ['x-content-type-options', xContentTypeOptionsTest],
  ['strict-transport-security', strictTransportSecurityTest],
];
let mismatches = 0,
  checks = 0;
function compare(label: string, headers: Record<string, string | string[]>) {
  const ours = scoreHeaders(headers).tests;
  for (const [name, test] of tests) {
    let real: string;
    try {
      real = test(requests(headers)).result;
    } catch (e) {
      real = `THREW ${(e as Error).message}`;
    }
    checks++;
    if (ours[name]?.result !== real) {
      mismatches++;
      if (mismatches <= 25)
        console.log(
          'MISMATCH',
          label,
          name,
          JSON.stringify(
            name === 'x-frame-options' ? [headers[name], headers['content-security-policy']] : headers[name],
          ),
          'ours=',
          ours[name]?.result,
          'real=',
          real,
        );
    }
  }
}
const lower = (e: readonly (readonly [string, string])[]) =>
  Object.fromEntries(e.map(([n, v]) => [n.toLowerCase(), v]));
compare('api', lower(apiPreset().headersFor({ secure: true })));
compare(
  'web',
  lower(webAppPreset({ trustedTypes: true, reporting: { endpoint: '/r' } }).headersFor({ secure: true, nonce: 'abc' })),
);
// @cache-scope per-pod: collects the headers of one helmet() call in this one-off script.
const hh: Record<string, string> = {};
(helmet() as unknown as (req: object, res: object, next: () => void) => void)(
  {},
  { setHeader: (n: string, v: string) => (hh[n.toLowerCase()] = v), removeHeader() {} },
  () => {},
);
compare('helmet', hh);
const token = fc.constantFrom(
  "'self'",
  "'none'",
  "'unsafe-inline'",
  "'unsafe-eval'",
  "'strict-dynamic'",
  "'nonce-abc'",
  "'sha256-xyz'",
  'https:',
  'http:',
  'data:',
  '*',
  'https://a.example',
  'http://b.example',
  'blob:',
  "'report-sample'",
);
const directive = fc.constantFrom(
  'default-src',
  'script-src',
  'style-src',
  'object-src',
  'img-src',
  'media-src',
  'connect-src',
  'frame-ancestors',
  'base-uri',
  'form-action',
  'upgrade-insecure-requests',
  'report-uri',
  'report-to',
);
const policy = fc
  .array(fc.tuple(directive, fc.array(token, { maxLength: 4 })), { minLength: 1, maxLength: 6 })
  .map((ds) => ds.map(([d, t]) => [d, ...t].join(' ')).join('; '));
const cookie = fc
  .tuple(
    fc.constantFrom('sessionid', 'theme', 'csrftoken', 'SID', 'pref', 'auth_token'),
    fc.subarray([
      'Secure',
      'HttpOnly',
      'SameSite=Lax',
      'SameSite=Strict',
      'SameSite=None',
      'SameSite=Bogus',
      'Max-Age=3600',
    ]),
  )
  .map(([n, attrs]) => [`${n}=v`, ...attrs].join('; '));
fc.assert(
  fc.property(
    fc.record(
      {
        'content-security-policy': policy,
        'x-frame-options': fc.constantFrom('DENY', 'SAMEORIGIN', 'ALLOW-FROM https://a', 'bogus'),
        'cross-origin-resource-policy': fc.constantFrom('same-origin', 'same-site', 'cross-origin', 'bogus'),
        'referrer-policy': fc.constantFrom(
          'no-referrer',
          'unsafe-url',
          'origin, strict-origin',
          'bogus',
          'no-referrer, bogus',
        ),
        'x-content-type-options': fc.constantFrom('nosniff', 'bogus', 'NOSNIFF '),
        'strict-transport-security': fc.constantFrom(
          'max-age=31536000',
          'max-age=100',
          'includeSubDomains',
          'max-age=15552000; preload',
        ),
        'set-cookie': fc.array(cookie, { minLength: 1, maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
    (h) => {
      compare('random', h as Record<string, string | string[]>);
      return true;
    },
  ),
  { numRuns: 3000 },
);
console.log('checks', checks, 'mismatches', mismatches);
process.exitCode = mismatches === 0 ? 0 : 1;
