/**
 * An offline implementation of the MDN HTTP Observatory's header tests and grading (scoring
 * methodology v4: `src/analyzer/tests/*.js` and `src/grader/charts.js` of mdn/mdn-http-observatory).
 * It scores headers you already have (a test response, a preset) without a network scan.
 */

/** Headers to score: a `Headers`, entries, or a plain object (values may be arrays, e.g. Set-Cookie). */
export type HeaderInput =
  | Headers
  | Iterable<readonly [string, string]>
  | Readonly<Record<string, string | readonly string[] | number | undefined>>;

/** Options of {@link scoreHeaders}. */
export interface ScoreOptions {
  /** Whether the response was fetched over HTTPS with a valid certificate. Default true. */
  readonly https?: boolean;
  /**
   * The redirection test needs an HTTP probe the offline scorer cannot make. Default:
   * `redirection-to-https` when `https`, else `redirection-missing`.
   */
  readonly redirection?:
    | 'redirection-all-redirects-preloaded'
    | 'redirection-to-https'
    | 'redirection-not-needed-no-http'
    | 'redirection-off-host-from-http'
    | 'redirection-not-to-https-on-initial-redirection'
    | 'redirection-missing'
    | 'redirection-not-to-https'
    | 'redirection-invalid-cert';
  /** Whether the host is on the HSTS preload list (the scorer has no copy of it). Default false. */
  readonly hstsPreloaded?: boolean;
  /** The origin the scan sends in `Origin`, to detect a reflected `Access-Control-Allow-Origin`. */
  readonly probeOrigin?: string;
}

/** One test's outcome. */
export interface ScoreTest {
  readonly result: string;
  readonly modifier: number;
  readonly pass: boolean;
}

/** The outcome of {@link scoreHeaders}. */
export interface HeaderScore {
  /** Final score (≥ 0); A+ at 100 and above. */
  readonly score: number;
  readonly grade: string;
  /** Per test, keyed by the Observatory's test name. */
  readonly tests: Readonly<Record<string, ScoreTest>>;
}

const MODIFIERS: Readonly<Record<string, number>> = {
  'csp-implemented-with-no-unsafe-default-src-none': 10,
  'csp-implemented-with-no-unsafe': 5,
  'csp-implemented-with-unsafe-inline-in-style-src-only': 0,
  'csp-implemented-with-insecure-scheme-in-passive-content-only': -10,
  'csp-implemented-with-unsafe-eval': -10,
  'csp-implemented-with-unsafe-inline': -20,
  'csp-implemented-with-insecure-scheme': -20,
  'csp-implemented-but-duplicate-directives': 0,
  'csp-header-invalid': -25,
  'csp-not-implemented': -25,
  'csp-not-implemented-but-reporting-enabled': -25,
  'cookies-secure-with-httponly-sessions-and-samesite': 5,
  'cookies-secure-with-httponly-sessions': 0,
  'cookies-not-found': 0,
  'cookies-without-secure-flag-but-protected-by-hsts': -5,
  'cookies-session-without-secure-flag-but-protected-by-hsts': -10,
  'cookies-without-secure-flag': -20,
  'cookies-samesite-flag-invalid': -20,
  'cookies-anticsrf-without-samesite-flag': -20,
  'cookies-session-without-httponly-flag': -30,
  'cookies-session-without-secure-flag': -40,
  'cross-origin-resource-sharing-not-implemented': 0,
  'cross-origin-resource-sharing-implemented-with-public-access': 0,
  'cross-origin-resource-sharing-implemented-with-restricted-access': 0,
  'cross-origin-resource-sharing-implemented-with-universal-access': -50,
  'redirection-all-redirects-preloaded': 0,
  'redirection-to-https': 0,
  'redirection-not-needed-no-http': 0,
  'redirection-off-host-from-http': -5,
  'redirection-not-to-https-on-initial-redirection': -10,
  'redirection-not-to-https': -20,
  'redirection-missing': -20,
  'redirection-invalid-cert': -20,
  'referrer-policy-private': 5,
  'referrer-policy-not-implemented': 0,
  'referrer-policy-unsafe': -5,
  'referrer-policy-header-invalid': -5,
  'hsts-preloaded': 5,
  'hsts-implemented-max-age-at-least-six-months': 0,
  'hsts-implemented-max-age-less-than-six-months': -10,
  'hsts-not-implemented': -20,
  'hsts-header-invalid': -20,
  'hsts-not-implemented-no-https': -20,
  'hsts-invalid-cert': -20,
  'sri-not-implemented-response-not-html': 0,
  'sri-not-implemented-but-no-scripts-loaded': 0,
  'x-content-type-options-nosniff': 0,
  'x-content-type-options-not-implemented': -5,
  'x-content-type-options-header-invalid': -5,
  'x-frame-options-implemented-via-csp': 5,
  'x-frame-options-sameorigin-or-deny': 0,
  'x-frame-options-allow-from-origin': 0,
  'x-frame-options-not-implemented': -20,
  'x-frame-options-header-invalid': -20,
  'corp-not-implemented': 0,
  'corp-implemented-with-same-origin': 10,
  'corp-implemented-with-same-site': 10,
  'corp-implemented-with-cross-origin': 0,
  'corp-header-invalid': -5,
};

const GRADES: readonly (readonly [number, string])[] = [
  [100, 'A+'],
  [90, 'A'],
  [85, 'A-'],
  [80, 'B+'],
  [70, 'B'],
  [65, 'B-'],
  [60, 'C+'],
  [50, 'C'],
  [45, 'C-'],
  [40, 'D+'],
  [30, 'D'],
  [25, 'D-'],
  [0, 'F'],
];
const MINIMUM_SCORE_FOR_EXTRA_CREDIT = 90;
const DANGEROUSLY_BROAD = new Set([
  'ftp:',
  'http:',
  'https:',
  '*',
  'http://*',
  'http://*.*',
  'https://*',
  'https://*.*',
]);
const UNSAFE_INLINE = new Set(["'unsafe-inline'", 'data:']);
const BROAD_OR_INLINE = new Set([...DANGEROUSLY_BROAD, ...UNSAFE_INLINE]);
const NONCE_HASH = ["'sha256-", "'sha384-", "'sha512-", "'nonce-"];
const ALLOWED_DUPLICATES = new Set(['report-uri', 'report-to']);

function toMap(input: HeaderInput): Map<string, string[]> {
  const map = new Map<string, string[]>();
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  if (typeof Headers !== 'undefined' && input instanceof Headers) {
    for (const [name, value] of input) if (name !== 'set-cookie') add(name, value);
    for (const cookie of input.getSetCookie()) add('set-cookie', cookie);
  } else if (Symbol.iterator in (input as object)) {
    for (const [name, value] of input as Iterable<readonly [string, string]>) add(name, value);
  } else {
    for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
      if (value === undefined) continue;
      if (Array.isArray(value)) for (const v of value) add(name, String(v));
      else add(name, String(value));
    }
  }
  return map;
}

class InvalidCsp extends Error {}

/** The Observatory's CSP parser, for one policy list (no meta tags offline). */
function parseCsp(policies: readonly string[]): { csp: Map<string, Set<string>>; duplicates: boolean } {
  const csp = new Map<string, Set<string>>();
  let duplicates = false;
  policies.forEach((raw, index) => {
    const policy = raw.replace(/[\r\n]/g, '').trim();
    if (policy.length < 'img-src'.length - 1) throw new InvalidCsp();
    const seen = new Set<string>();
    for (const entry of policy.split(';')) {
      const [rawName, ...values] = entry.trim().split(/\s+/);
      if (!rawName) continue;
      const name = rawName.toLowerCase();
      if (seen.has(name)) {
        // report-uri/report-to may repeat (the later one wins, as in the Observatory); others may not.
        if (ALLOWED_DUPLICATES.has(name)) duplicates = true;
        else throw new InvalidCsp();
      }
      seen.add(name);
      const sources =
        values.length > 0 ? values.map((v) => v.trim().toLowerCase()) : name.endsWith('-src') ? ["'none'"] : [];
      if (index === 0 || !csp.has(name)) {
        if (index === 0) csp.set(name, new Set(sources));
        // A directive only in a later policy restricts on its own.
        else csp.set(name, new Set(sources));
      } else {
        // Several policies: a source must be allowed by every one that names the directive.
        const prev = csp.get(name) as Set<string>;
        const both = [...prev].filter((s) => sources.includes(s));
        csp.set(name, new Set(both.length > 0 ? both : ["'none'"]));
      }
    }
  });
  return { csp, duplicates };
}

function cspTest(h: Map<string, string[]>, https: boolean): { result: string; frameAncestors: boolean } {
  const policies = (h.get('content-security-policy') ?? []).flatMap((v) => v.split(',').map((s) => s.trim()));
  if (policies.length === 0) {
    return {
      result: h.has('content-security-policy-report-only')
        ? 'csp-not-implemented-but-reporting-enabled'
        : 'csp-not-implemented',
      frameAncestors: false,
    };
  }
  let parsed: ReturnType<typeof parseCsp>;
  try {
    parsed = parseCsp(policies);
  } catch {
    return { result: 'csp-header-invalid', frameAncestors: false };
  }
  const { csp } = parsed;
  if (csp.size === 0) return { result: 'csp-not-implemented', frameAncestors: false };
  let result: string | null = null;
  // These alias the parsed sets on purpose: the Observatory edits script-src in place, so with no
  // script-src its 'strict-dynamic' clean-up also changes default-src and everything falling back to it.
  const objectSrc = csp.get('object-src') ?? csp.get('default-src') ?? new Set(['*']);
  const scriptSrc = csp.get('script-src') ?? csp.get('default-src') ?? new Set(['*']);
  const styleSrc = csp.get('style-src') ?? csp.get('default-src') ?? new Set(['*']);
  const hasNonceHash = (s: Set<string>): boolean => [...s].some((src) => NONCE_HASH.some((p) => src.startsWith(p)));
  for (const list of [scriptSrc, styleSrc]) if (hasNonceHash(list)) list.delete("'unsafe-inline'");
  if (hasNonceHash(scriptSrc) && scriptSrc.has("'strict-dynamic'")) {
    for (const src of [...scriptSrc]) {
      if ([...DANGEROUSLY_BROAD].some((b) => src.startsWith(b)) || src === "'self'" || src === "'unsafe-inline'") {
        scriptSrc.delete(src);
      }
    }
  } else if (scriptSrc.has("'strict-dynamic'")) {
    result = 'csp-header-invalid';
  }
  const active = [...csp.entries()]
    .filter(([d]) => d !== 'img-src' && d !== 'media-src' && d !== 'script-src')
    .flatMap(([, s]) => [...s]);
  active.push(...scriptSrc);
  const passive = ['img-src', 'media-src'].flatMap((d) => [...(csp.get(d) ?? csp.get('default-src') ?? [])]);
  const insecure = (s: string): boolean => s.startsWith('http:') || s.startsWith('ftp:');
  if ([...scriptSrc].some((s) => BROAD_OR_INLINE.has(s)) || [...objectSrc].some((s) => DANGEROUSLY_BROAD.has(s))) {
    result ??= 'csp-implemented-with-unsafe-inline';
  }
  if (https && active.some(insecure)) result ??= 'csp-implemented-with-insecure-scheme';
  if (scriptSrc.has("'unsafe-eval'") || styleSrc.has("'unsafe-eval'")) result ??= 'csp-implemented-with-unsafe-eval';
  if (https && passive.some(insecure)) result ??= 'csp-implemented-with-insecure-scheme-in-passive-content-only';
  if ([...styleSrc].some((s) => BROAD_OR_INLINE.has(s)))
    result ??= 'csp-implemented-with-unsafe-inline-in-style-src-only';
  const defaultSrc = csp.get('default-src');
  if (defaultSrc?.has("'none'") && defaultSrc.size === 1) result ??= 'csp-implemented-with-no-unsafe-default-src-none';
  else result ??= 'csp-implemented-with-no-unsafe';
  const passed = [
    'csp-implemented-with-no-unsafe',
    'csp-implemented-with-no-unsafe-default-src-none',
    'csp-implemented-with-unsafe-inline-in-style-src-only',
    'csp-implemented-with-insecure-scheme-in-passive-content-only',
  ].includes(result);
  if (passed && parsed.duplicates) result = 'csp-implemented-but-duplicate-directives';
  return { result, frameAncestors: csp.has('frame-ancestors') };
}

function first(h: Map<string, string[]>, name: string): string | undefined {
  return h.get(name)?.[0];
}

function hstsTest(h: Map<string, string[]>, o: ScoreOptions): { result: string; maxAge: number | null } {
  if (o.https === false) return { result: 'hsts-not-implemented-no-https', maxAge: null };
  let result = 'hsts-not-implemented';
  let maxAge: number | null = null;
  const header = first(h, 'strict-transport-security');
  if (header !== undefined) {
    const data = header.slice(0, 1024);
    if (data.includes(',') || (h.get('strict-transport-security')?.length ?? 0) > 1) result = 'hsts-header-invalid';
    else {
      for (const p of data.split(';').map((i) => i.trim().toLowerCase())) {
        if (p.startsWith('max-age=')) maxAge = Number.parseInt(p.slice(8, 128), 10);
      }
      if (maxAge === null || Number.isNaN(maxAge)) result = 'hsts-header-invalid';
      else
        result =
          maxAge < 15_552_000
            ? 'hsts-implemented-max-age-less-than-six-months'
            : 'hsts-implemented-max-age-at-least-six-months';
    }
  }
  if (o.hstsPreloaded) result = 'hsts-preloaded';
  return { result, maxAge };
}

function referrerTest(h: Map<string, string[]>): string {
  const header = h.get('referrer-policy');
  if (!header) return 'referrer-policy-not-implemented';
  const valid = new Set([
    'no-referrer',
    'same-origin',
    'strict-origin',
    'strict-origin-when-cross-origin',
    'origin',
    'origin-when-cross-origin',
    'unsafe-url',
    'no-referrer-when-downgrade',
  ]);
  // The last recognised token wins, as in browsers.
  const tokens = header
    .join(',')
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => valid.has(t));
  const last = tokens.at(-1);
  if (last === undefined) return 'referrer-policy-header-invalid';
  return ['no-referrer', 'same-origin', 'strict-origin', 'strict-origin-when-cross-origin'].includes(last)
    ? 'referrer-policy-private'
    : 'referrer-policy-unsafe';
}

function cookiesTest(h: Map<string, string[]>, o: ScoreOptions, hstsMaxAge: number | null): string {
  const cookies = h.get('set-cookie') ?? [];
  if (cookies.length === 0) return 'cookies-not-found';
  const hstsProtects = hstsMaxAge !== null && hstsMaxAge >= 15_552_000;
  let worst = 'cookies-secure-with-httponly-sessions-and-samesite';
  let sameSiteEverywhere = true;
  const consider = (result: string): void => {
    if ((MODIFIERS[result] ?? 0) < (MODIFIERS[worst] ?? 0)) worst = result;
  };
  for (const cookie of cookies) {
    const [pair = '', ...attrs] = cookie.split(';').map((p) => p.trim());
    const name = pair.split('=')[0]?.trim().toLowerCase() ?? '';
    const flags = new Map(
      attrs.map((a) => {
        const [k = '', ...v] = a.split('=');
        return [k.trim().toLowerCase(), v.join('=').trim().toLowerCase()] as const;
      }),
    );
    const session = /sess|sid|login|auth|token|jwt/.test(name);
    const secure = flags.has('secure') && o.https !== false;
    const sameSite = flags.get('samesite');
    if (sameSite === undefined) sameSiteEverywhere = false;
    else if (!['strict', 'lax', 'none'].includes(sameSite)) consider('cookies-samesite-flag-invalid');
    if (/csrf|xsrf/.test(name) && sameSite === undefined) consider('cookies-anticsrf-without-samesite-flag');
    if (!secure) {
      if (session)
        consider(
          hstsProtects
            ? 'cookies-session-without-secure-flag-but-protected-by-hsts'
            : 'cookies-session-without-secure-flag',
        );
      else consider(hstsProtects ? 'cookies-without-secure-flag-but-protected-by-hsts' : 'cookies-without-secure-flag');
    }
    if (session && !flags.has('httponly')) consider('cookies-session-without-httponly-flag');
  }
  if (worst === 'cookies-secure-with-httponly-sessions-and-samesite' && !sameSiteEverywhere) {
    worst = 'cookies-secure-with-httponly-sessions';
  }
  return worst;
}

function corsTest(h: Map<string, string[]>, o: ScoreOptions): string {
  const acao = first(h, 'access-control-allow-origin')?.trim();
  if (acao === undefined) return 'cross-origin-resource-sharing-not-implemented';
  if (acao === '*') return 'cross-origin-resource-sharing-implemented-with-public-access';
  const credentials = first(h, 'access-control-allow-credentials')?.trim().toLowerCase() === 'true';
  if (o.probeOrigin !== undefined && acao === o.probeOrigin && credentials) {
    return 'cross-origin-resource-sharing-implemented-with-universal-access';
  }
  return 'cross-origin-resource-sharing-implemented-with-restricted-access';
}

function xctoTest(h: Map<string, string[]>): string {
  const v = first(h, 'x-content-type-options');
  if (v === undefined) return 'x-content-type-options-not-implemented';
  return v.trim().toLowerCase() === 'nosniff'
    ? 'x-content-type-options-nosniff'
    : 'x-content-type-options-header-invalid';
}

function xfoTest(h: Map<string, string[]>, viaCsp: boolean): string {
  if (viaCsp) return 'x-frame-options-implemented-via-csp';
  const v = first(h, 'x-frame-options')?.slice(0, 1024).trim().toLowerCase();
  if (v === undefined) return 'x-frame-options-not-implemented';
  if (v === 'deny' || v === 'sameorigin') return 'x-frame-options-sameorigin-or-deny';
  return v.startsWith('allow-from') ? 'x-frame-options-allow-from-origin' : 'x-frame-options-header-invalid';
}

function corpTest(h: Map<string, string[]>): string {
  const v = first(h, 'cross-origin-resource-policy')?.slice(0, 256).trim().toLowerCase();
  if (!v) return 'corp-not-implemented';
  if (v === 'same-site') return 'corp-implemented-with-same-site';
  if (v === 'same-origin') return 'corp-implemented-with-same-origin';
  if (v === 'cross-origin') return 'corp-implemented-with-cross-origin';
  return 'corp-header-invalid';
}

const FAILING = new Set([
  'csp-header-invalid',
  'csp-not-implemented',
  'csp-not-implemented-but-reporting-enabled',
  'csp-implemented-with-unsafe-inline',
  'csp-implemented-with-unsafe-eval',
  'csp-implemented-with-insecure-scheme',
  'corp-header-invalid',
]);

/**
 * Scores response headers with the MDN HTTP Observatory's rules, offline: CSP, cookies, CORS,
 * redirection (from `options`), Referrer-Policy, HSTS, Subresource Integrity (no HTML body
 * offline, so neutral), X-Content-Type-Options, X-Frame-Options and CORP. Penalties are applied
 * first; bonuses count only when that score is at least 90.
 *
 * @example
 * ```ts
 * import { apiPreset, scoreHeaders } from '@rampart/headers';
 * const headers = Object.fromEntries(apiPreset().headersFor({ secure: true }));
 * scoreHeaders(headers).grade; // 'A+'
 * ```
 */
export function scoreHeaders(headers: HeaderInput, options: ScoreOptions = {}): HeaderScore {
  const h = toMap(headers);
  const https = options.https ?? true;
  const csp = cspTest(h, https);
  const hsts = hstsTest(h, options);
  const contentType = first(h, 'content-type')?.toLowerCase();
  const results: Record<string, string> = {
    'content-security-policy': csp.result,
    cookies: cookiesTest(h, options, hsts.result.startsWith('hsts-implemented') ? hsts.maxAge : null),
    'cross-origin-resource-sharing': corsTest(h, options),
    redirection: options.redirection ?? (https ? 'redirection-to-https' : 'redirection-missing'),
    'referrer-policy': referrerTest(h),
    'strict-transport-security': hsts.result,
    'subresource-integrity':
      contentType !== undefined && !contentType.includes('html')
        ? 'sri-not-implemented-response-not-html'
        : 'sri-not-implemented-but-no-scripts-loaded',
    'x-content-type-options': xctoTest(h),
    'x-frame-options': xfoTest(h, csp.frameAncestors),
    'cross-origin-resource-policy': corpTest(h),
  };
  const tests: Record<string, ScoreTest> = {};
  let penalties = 100;
  let bonuses = 0;
  for (const [test, result] of Object.entries(results)) {
    const modifier = MODIFIERS[result] ?? 0;
    tests[test] = { result, modifier, pass: modifier >= 0 && !FAILING.has(result) };
    if (modifier < 0) penalties += modifier;
    else bonuses += modifier;
  }
  const score = Math.max(0, penalties >= MINIMUM_SCORE_FOR_EXTRA_CREDIT ? penalties + bonuses : penalties);
  const grade = GRADES.find(([min]) => score >= min)?.[1] ?? 'F';
  return { score, grade, tests };
}
