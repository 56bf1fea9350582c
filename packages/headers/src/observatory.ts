/**
 * An offline implementation of the MDN HTTP Observatory's header tests and grading (scoring
 * methodology v4: `src/analyzer/tests/*.js` and `src/grader/charts.js` of mdn/mdn-http-observatory).
 * It scores headers you already have (a test response, a preset) without a network scan.
 */

import { cspTest } from './observatory-csp.ts';
import {
  cookiesTest,
  corpTest,
  corsTest,
  first,
  hstsTest,
  referrerTest,
  xctoTest,
  xfoTest,
} from './observatory-header-tests.ts';
import { MODIFIERS } from './observatory-modifiers.ts';

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
