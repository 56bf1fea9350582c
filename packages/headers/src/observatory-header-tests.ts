// The Observatory's tests of the other headers (`src/analyzer/tests/*.js`), offline.

import type { ScoreOptions } from './observatory.ts';
import { MODIFIERS } from './observatory-modifiers.ts';

/** The scan circumstances the header tests read. */
type ScanContext = Pick<ScoreOptions, 'https' | 'hstsPreloaded' | 'probeOrigin'>;

/**
 * The shortest HSTS max-age the Observatory counts as implemented (six months, in seconds); the
 * presets refuse anything shorter unless `hsts.dangerouslyAllowShortMaxAge` names the deviation.
 */
export const HSTS_MIN_MAX_AGE = 15_552_000;

export function first(h: Map<string, string[]>, name: string): string | undefined {
  return h.get(name)?.[0];
}

export function hstsTest(h: Map<string, string[]>, o: ScanContext): { result: string; maxAge: number | null } {
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
          maxAge < HSTS_MIN_MAX_AGE
            ? 'hsts-implemented-max-age-less-than-six-months'
            : 'hsts-implemented-max-age-at-least-six-months';
    }
  }
  if (o.hstsPreloaded) result = 'hsts-preloaded';
  return { result, maxAge };
}

export function referrerTest(h: Map<string, string[]>): string {
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

export function cookiesTest(h: Map<string, string[]>, o: ScanContext, hstsMaxAge: number | null): string {
  const cookies = h.get('set-cookie') ?? [];
  if (cookies.length === 0) return 'cookies-not-found';
  const hstsProtects = hstsMaxAge !== null && hstsMaxAge >= HSTS_MIN_MAX_AGE;
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

export function corsTest(h: Map<string, string[]>, o: ScanContext): string {
  const acao = first(h, 'access-control-allow-origin')?.trim();
  if (acao === undefined) return 'cross-origin-resource-sharing-not-implemented';
  if (acao === '*') return 'cross-origin-resource-sharing-implemented-with-public-access';
  const credentials = first(h, 'access-control-allow-credentials')?.trim().toLowerCase() === 'true';
  if (o.probeOrigin !== undefined && acao === o.probeOrigin && credentials) {
    return 'cross-origin-resource-sharing-implemented-with-universal-access';
  }
  return 'cross-origin-resource-sharing-implemented-with-restricted-access';
}

export function xctoTest(h: Map<string, string[]>): string {
  const v = first(h, 'x-content-type-options');
  if (v === undefined) return 'x-content-type-options-not-implemented';
  return v.trim().toLowerCase() === 'nosniff'
    ? 'x-content-type-options-nosniff'
    : 'x-content-type-options-header-invalid';
}

export function xfoTest(h: Map<string, string[]>, viaCsp: boolean): string {
  if (viaCsp) return 'x-frame-options-implemented-via-csp';
  const v = first(h, 'x-frame-options')?.slice(0, 1024).trim().toLowerCase();
  if (v === undefined) return 'x-frame-options-not-implemented';
  if (v === 'deny' || v === 'sameorigin') return 'x-frame-options-sameorigin-or-deny';
  return v.startsWith('allow-from') ? 'x-frame-options-allow-from-origin' : 'x-frame-options-header-invalid';
}

export function corpTest(h: Map<string, string[]>): string {
  const v = first(h, 'cross-origin-resource-policy')?.slice(0, 256).trim().toLowerCase();
  if (!v) return 'corp-not-implemented';
  if (v === 'same-site') return 'corp-implemented-with-same-site';
  if (v === 'same-origin') return 'corp-implemented-with-same-origin';
  if (v === 'cross-origin') return 'corp-implemented-with-cross-origin';
  return 'corp-header-invalid';
}
