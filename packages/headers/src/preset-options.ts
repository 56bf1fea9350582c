import { closestKey, closestName, featureEdits } from './closest-key.ts';
import { type CspDirectives, kebab, sameDirectiveTwice } from './csp.ts';
import { KNOWN_DIRECTIVES, NON_ASCII_NAME, nearestDirective, unknownDirectiveFix } from './csp-rules.ts';
import { HSTS_MIN_MAX_AGE } from './observatory-header-tests.ts';

/** Referrer policies that leak no path or query cross-origin (the Observatory's "private" set). */
export type PrivateReferrerPolicy = 'no-referrer' | 'same-origin' | 'strict-origin' | 'strict-origin-when-cross-origin';

/** A Permissions-Policy allowlist: nobody, this origin, everyone, or this origin plus listed origins. */
export type PermissionAllowlist = 'none' | 'self' | '*' | readonly string[];

/** Options shared by {@link apiPreset} and {@link webAppPreset}; each preset has its own defaults. */
export interface PresetOptions {
  /** HSTS. Default: two years, includeSubDomains, no preload, sent on every response (like helmet). */
  readonly hsts?: {
    /** Seconds; at least 15552000 (six months, the HTTP Observatory's minimum) unless named below. */
    readonly maxAge?: number;
    /**
     * Accept a `maxAge` under six months. A named deviation: `{ maxAge: 0, dangerouslyAllowShortMaxAge: true }`
     * is the way to switch HSTS off, telling browsers to forget the host (RFC 6797 §6.1.1). Default false.
     */
    readonly dangerouslyAllowShortMaxAge?: boolean;
    readonly includeSubDomains?: boolean;
    readonly preload?: boolean;
    /** Send HSTS only on requests that arrived over TLS (Spring Security's behaviour). Default false. */
    readonly onlyOverTls?: boolean;
  };
  /** Default `no-referrer`. Only the Observatory's private policies are accepted. */
  readonly referrerPolicy?: PrivateReferrerPolicy;
  /** Cross-Origin-Resource-Policy. Default `same-origin`. */
  readonly corp?: 'same-origin' | 'same-site' | 'cross-origin';
  /**
   * Cross-Origin-Opener-Policy. Web app default `same-origin`; API default `false` (not sent).
   * Use `same-origin-allow-popups` (or {@link SecurityHeaders.forOAuthPopup}) for OAuth/payment popups.
   */
  readonly coop?: 'same-origin' | 'same-origin-allow-popups' | 'noopener-allow-popups' | 'unsafe-none' | false;
  /** Sugar for `coop: 'same-origin-allow-popups'`. */
  readonly oauthPopups?: boolean;
  /**
   * Who may frame the page: CSP `frame-ancestors` and a matching `X-Frame-Options`
   * (`'none'` → DENY, `'self'` → SAMEORIGIN, a list of origins → no XFO, which cannot express one). Default `'none'`.
   * With `reportOnly`, a list is also sent as an enforced `Content-Security-Policy: frame-ancestors …`.
   */
  readonly frameAncestors?: 'none' | 'self' | readonly string[];
  /** Cache-Control. Default `no-store`. A policy with a nonce only accepts values with `no-store`. */
  readonly cacheControl?: string;
  /**
   * Features merged over the default deny-list (web app); `false` sends no Permissions-Policy. A
   * near-miss of a known feature (`Geolocation`, `camra`) is refused with that feature suggested.
   */
  readonly permissionsPolicy?: Readonly<Record<string, PermissionAllowlist>> | false;
  /**
   * Where browsers send CSP violation reports: `Reporting-Endpoints` + `report-to`, with
   * `report-uri` as the fallback for browsers without the Reporting API. An https URL or a path.
   * `group` (default `csp-endpoint`) is a structured-field key: a lower-case letter, then up to 63
   * lower-case letters, digits, `_` or `-`.
   */
  readonly reporting?: { readonly endpoint: string; readonly group?: string };
  /** `require-trusted-types-for 'script'`, optionally limiting policy names. Default false. */
  readonly trustedTypes?: boolean | { readonly policies: readonly string[]; readonly allowDuplicates?: boolean };
  /**
   * Send the CSP as `Content-Security-Policy-Report-Only` (rollout mode). Requires `reporting`: a
   * Report-Only policy blocks nothing, so without an endpoint it would do nothing at all. Default false.
   * The download variant always enforces its CSP. Framing stays enforced: by X-Frame-Options for
   * `'none'`/`'self'`, and for a list of origins by a separate enforced `frame-ancestors` policy.
   */
  readonly reportOnly?: boolean;
  /**
   * CSP directives that replace the preset's (e.g. `'connect-src': ["'self'", 'https://api.example']`).
   * `frame-ancestors` is refused here (use `frameAncestors`), and so are `report-uri`/`report-to`
   * next to the `reporting` option, which sets them.
   */
  readonly directives?: CspDirectives;
  /** Add `upgrade-insecure-requests` to the web-app CSP. Default true. */
  readonly upgradeInsecureRequests?: boolean;
  /** More response headers to remove, besides `X-Powered-By` and `Server`. */
  readonly removeHeaders?: readonly string[];
  /** See {@link CspOptions.dangerouslyAllowUnsafeInlineStyles}. */
  readonly dangerouslyAllowUnsafeInlineStyles?: boolean;
  /** See {@link CspOptions.dangerouslyAllowUnsafeEval}. */
  readonly dangerouslyAllowUnsafeEval?: boolean;
  /** Set by {@link SecurityHeaders.forDownload}. */
  readonly variant?: 'download';
}

/** The HSTS max-age the presets send unless told otherwise. */
export const TWO_YEARS = 63_072_000;
const PRIVATE_REFERRER = new Set(['no-referrer', 'same-origin', 'strict-origin', 'strict-origin-when-cross-origin']);
const CORP = new Set(['same-origin', 'same-site', 'cross-origin']);
const COOP = new Set(['same-origin', 'same-origin-allow-popups', 'noopener-allow-popups', 'unsafe-none']);
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** A Cache-Control value that includes `no-store`. */
export const NO_STORE = /(^|[\s,])no-store($|[\s,])/i;

/**
 * Permissions-Policy features browsers know (Chromium's list, from the DevTools protocol's
 * `PermissionsPolicyFeature` without its test feature, and Privacy Sandbox features it has dropped),
 * to name them in messages. A near-miss of one (`Geolocation`, `publickey_credentials_get`, `camra`:
 * see {@link featureEdits}) is refused with that feature suggested: sent as written, it would
 * restrict nothing. Any other lower-case-kebab feature is accepted (browsers add features often),
 * but a message names it only by position: a key that is no feature could be a pasted token.
 */
const PERMISSIONS_FEATURES: readonly string[] = [
  'accelerometer',
  'all-screens-capture',
  'ambient-light-sensor',
  'aria-notify',
  'attribution-reporting',
  'autofill',
  'autoplay',
  'battery',
  'bluetooth',
  'browsing-topics',
  'camera',
  'captured-surface-control',
  'ch-device-memory',
  'ch-downlink',
  'ch-dpr',
  'ch-ect',
  'ch-prefers-color-scheme',
  'ch-prefers-reduced-motion',
  'ch-prefers-reduced-transparency',
  'ch-rtt',
  'ch-save-data',
  'ch-ua',
  'ch-ua-arch',
  'ch-ua-bitness',
  'ch-ua-form-factors',
  'ch-ua-full-version',
  'ch-ua-full-version-list',
  'ch-ua-high-entropy-values',
  'ch-ua-mobile',
  'ch-ua-model',
  'ch-ua-platform',
  'ch-ua-platform-version',
  'ch-ua-wow64',
  'ch-viewport-height',
  'ch-viewport-width',
  'ch-width',
  'clipboard-read',
  'clipboard-write',
  'compute-pressure',
  'controlled-frame',
  'cross-origin-isolated',
  'deferred-fetch',
  'deferred-fetch-minimal',
  'device-attributes',
  'digital-credentials-create',
  'digital-credentials-get',
  'direct-sockets',
  'direct-sockets-multicast',
  'display-capture',
  'document-domain',
  'encrypted-media',
  'execution-while-not-rendered',
  'execution-while-out-of-viewport',
  'focus-without-user-activation',
  'fullscreen',
  'gamepad',
  'geolocation',
  'gyroscope',
  'haptics',
  'hid',
  'identity-credentials-get',
  'idle-detection',
  'interest-cohort',
  'join-ad-interest-group',
  'keyboard-map',
  'language-detector',
  'language-model',
  'local-fonts',
  'local-network',
  'local-network-access',
  'loopback-network',
  'magnetometer',
  'manual-text',
  'media-playback-while-not-visible',
  'microphone',
  'midi',
  'on-device-speech-recognition',
  'otp-credentials',
  'payment',
  'picture-in-picture',
  'private-state-token-issuance',
  'private-state-token-redemption',
  'publickey-credentials-create',
  'publickey-credentials-get',
  'publickey-credentials-remote-client-data-json',
  'rewriter',
  'run-ad-auction',
  'screen-wake-lock',
  'semantic-embedder',
  'serial',
  'shared-storage',
  'shared-storage-select-url',
  'smart-card',
  'speaker-selection',
  'storage-access',
  'sub-apps',
  'summarizer',
  'sync-xhr',
  'tools',
  'translator',
  'unbounded-element',
  'unload',
  'usb',
  'usb-unrestricted',
  'vertical-scroll',
  'web-app-installation',
  'web-printing',
  'web-share',
  'webnn',
  'window-management',
  'writer',
  'xr-spatial-tracking',
];

/**
 * The problems with the name of the `permissionsPolicy` entry `feature` (#`position`), and how
 * messages about its allowlist name it: by its name when it is a known feature; as written when it
 * is a near-miss of one (in case, `_` for `-`, or one typo: {@link featureEdits}), which is refused
 * with that feature suggested; else only by position, since it could be a pasted token.
 */
function featureName(
  feature: string,
  position: number,
  known: { has(name: string): boolean },
  problems: string[],
): string {
  if (known.has(feature)) return `permissionsPolicy.${feature}`;
  // A kebab name is sent unless it is clearly a misspelling: it may be a feature newer than this
  // list. Any other name is refused anyway, but it is told the feature it meant only when it is one
  // in another case or with `_`, or one typo from one.
  const match = closestName(feature, PERMISSIONS_FEATURES, featureEdits);
  if (match !== undefined) {
    problems.push(
      `permissionsPolicy.${feature} is not a Permissions-Policy feature; did you mean permissionsPolicy.${match}?`,
    );
    return `permissionsPolicy.${feature}`;
  }
  // A structured-field dictionary key: browsers drop the whole header over one that is not lower case.
  if (/\P{ASCII}/u.test(feature)) {
    problems.push(`permissionsPolicy entry #${position} has a feature name with ${NON_ASCII_NAME}: retype it`);
  } else if (!/^[a-z][a-z0-9-]*$/.test(feature)) {
    problems.push(`permissionsPolicy entry #${position} has a feature name that is not lower-case-kebab`);
  }
  return `permissionsPolicy entry #${position}`;
}

/** Every key of {@link PresetOptions} and of the option objects inside it, to catch misspellings. */
const KNOWN_KEYS = {
  '': [
    'hsts',
    'referrerPolicy',
    'corp',
    'coop',
    'oauthPopups',
    'frameAncestors',
    'cacheControl',
    'permissionsPolicy',
    'reporting',
    'trustedTypes',
    'reportOnly',
    'directives',
    'upgradeInsecureRequests',
    'removeHeaders',
    'dangerouslyAllowUnsafeInlineStyles',
    'dangerouslyAllowUnsafeEval',
    'variant',
  ],
  'hsts.': ['maxAge', 'dangerouslyAllowShortMaxAge', 'includeSubDomains', 'preload', 'onlyOverTls'],
  'reporting.': ['endpoint', 'group'],
  'trustedTypes.': ['policies', 'allowDuplicates'],
} as const;

/** Misspelt keys named one by one in an options object; the rest are counted with the other unknown keys. */
const MAX_REPORTED_KEYS = 20;

/** `a`, `a and b`, `a, b and c`. */
function listed(names: readonly string[]): string {
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names.at(-1)}`;
}

/**
 * The problems with keys of `value` that are not in `known`: a misspelt option would otherwise be
 * ignored, and its default would silently apply instead of what was meant.
 * A key is named only as a near-miss of a known one (differing in case, kebab-case, or by up to two
 * characters), with that key suggested. Any other is not shown, plain name or not, since it can be a
 * pasted token (`ghp_…`, `sk_live_…`): one problem counts those keys and lists the options.
 * `prefix` names the object (`hsts.`, or `''` for the top level). Shared with crossSiteProtection.
 */
export function unknownKeyProblems(value: object, known: readonly string[], prefix: string, problems: string[]): void {
  let named = 0;
  let unnamed = 0;
  for (const key of Object.keys(value)) {
    if (known.includes(key)) continue;
    // Only so many are matched and named: thousands of stray keys are counted, not listed.
    const match = named < MAX_REPORTED_KEYS ? closestKey(key, known) : undefined;
    if (match === undefined) {
      unnamed++;
      continue;
    }
    named++;
    problems.push(`${prefix}${key} is not an option; did you mean ${prefix}${match}?`);
  }
  if (unnamed === 0) return;
  const where = prefix === '' ? 'options' : prefix.slice(0, -1);
  const keys = unnamed === 1 ? 'a key that is not an option' : `${unnamed} keys that are not options`;
  problems.push(`${where}: ${keys}; the options are ${listed(known.map((k) => `${prefix}${k}`))}`);
}

function isOrigin(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'https:' || url.protocol === 'http:') && url.origin === value;
  } catch {
    return false;
  }
}

/**
 * Every problem with `options`, one message each for `ERR_HEADERS_INVALID_OPTION`; empty when they
 * are valid. Called when a preset is built, not per request.
 */
export function presetOptionProblems(options: PresetOptions): string[] {
  const problems: string[] = [];
  unknownKeyProblems(options, KNOWN_KEYS[''], '', problems);
  // Type first: the string 'false' is truthy, so it would silently turn on what it seems to turn off.
  const flag = (value: unknown, name: string): void => {
    if (value !== undefined && typeof value !== 'boolean') problems.push(`${name} must be true or false`);
  };
  let hsts: NonNullable<PresetOptions['hsts']> = {};
  if (options.hsts !== undefined && !isPlainObject(options.hsts)) {
    problems.push(
      'hsts must be an object of HSTS settings; HSTS cannot be left out: to switch it off use { maxAge: 0, dangerouslyAllowShortMaxAge: true }, or { onlyOverTls: true } to send it only over TLS',
    );
  } else if (options.hsts !== undefined) {
    hsts = options.hsts;
    unknownKeyProblems(hsts, KNOWN_KEYS['hsts.'], 'hsts.', problems);
    flag(hsts.dangerouslyAllowShortMaxAge, 'hsts.dangerouslyAllowShortMaxAge');
    flag(hsts.includeSubDomains, 'hsts.includeSubDomains');
    flag(hsts.preload, 'hsts.preload');
    flag(hsts.onlyOverTls, 'hsts.onlyOverTls');
  }
  flag(options.oauthPopups, 'oauthPopups');
  flag(options.reportOnly, 'reportOnly');
  flag(options.upgradeInsecureRequests, 'upgradeInsecureRequests');
  flag(options.dangerouslyAllowUnsafeInlineStyles, 'dangerouslyAllowUnsafeInlineStyles');
  flag(options.dangerouslyAllowUnsafeEval, 'dangerouslyAllowUnsafeEval');
  // Past 2^53 numbers print in exponent form (`max-age=1e+21`), which browsers reject with the header.
  if (hsts.maxAge !== undefined && (!Number.isSafeInteger(hsts.maxAge) || hsts.maxAge < 0)) {
    problems.push('hsts.maxAge must be a non-negative integer of seconds, at most Number.MAX_SAFE_INTEGER');
  } else if (hsts.maxAge !== undefined && hsts.maxAge < HSTS_MIN_MAX_AGE && hsts.dangerouslyAllowShortMaxAge !== true) {
    // Shorter protects too briefly to matter (and scoreHeaders fails it); 0 is how HSTS is switched off.
    problems.push(
      `hsts.maxAge must be at least ${HSTS_MIN_MAX_AGE} seconds (six months); for a shorter one, such as 0 to switch HSTS off, also set hsts.dangerouslyAllowShortMaxAge`,
    );
  }
  if (hsts.preload && (hsts.includeSubDomains === false || (hsts.maxAge ?? TWO_YEARS) < 31_536_000)) {
    problems.push('hsts.preload needs includeSubDomains and a maxAge of at least one year (hstspreload.org rules)');
  }
  if (options.referrerPolicy !== undefined && !PRIVATE_REFERRER.has(options.referrerPolicy)) {
    problems.push('referrerPolicy must be no-referrer, same-origin, strict-origin or strict-origin-when-cross-origin');
  }
  if (options.corp !== undefined && !CORP.has(options.corp)) {
    problems.push('corp must be same-origin, same-site or cross-origin');
  }
  if (options.coop !== undefined && options.coop !== false && !COOP.has(options.coop)) {
    problems.push('coop must be same-origin, same-origin-allow-popups, noopener-allow-popups, unsafe-none or false');
  }
  if (options.oauthPopups && options.coop !== undefined && options.coop !== 'same-origin-allow-popups') {
    problems.push("oauthPopups sets coop to 'same-origin-allow-popups'; remove the conflicting coop option");
  }
  const fa = options.frameAncestors;
  if (fa !== undefined && fa !== 'none' && fa !== 'self') {
    if (!Array.isArray(fa) || fa.length === 0) {
      problems.push("frameAncestors must be 'none', 'self' or a non-empty list of origins");
    } else {
      fa.forEach((origin, i) => {
        if (origin !== "'self'" && !isOrigin(origin)) {
          problems.push(`frameAncestors entry #${i + 1} must be an origin such as https://partner.example (no path)`);
        }
      });
    }
  }
  const cacheControl = options.cacheControl;
  if (
    cacheControl !== undefined &&
    (typeof cacheControl !== 'string' || !/^[\x21-\x7e][\x20-\x7e]*$/.test(cacheControl))
  ) {
    problems.push('cacheControl must be a printable ASCII header value');
  }
  if (
    options.permissionsPolicy !== undefined &&
    options.permissionsPolicy !== false &&
    !isPlainObject(options.permissionsPolicy)
  ) {
    problems.push('permissionsPolicy must be an object of features to allowlists, or false');
  } else if (options.permissionsPolicy) {
    const features = new Set(PERMISSIONS_FEATURES);
    Object.entries(options.permissionsPolicy).forEach(([feature, allow], i) => {
      const name = featureName(feature, i + 1, features, problems);
      if (Array.isArray(allow)) {
        if (allow.some((o) => o !== 'self' && (typeof o !== 'string' || !isOrigin(o)))) {
          problems.push(`${name} lists something that is neither 'self' nor an origin`);
        }
      } else if (allow !== 'none' && allow !== 'self' && allow !== '*') {
        problems.push(`${name} must be 'none', 'self', '*' or a list of origins`);
      }
    });
  }
  if (options.reporting) {
    if (isPlainObject(options.reporting))
      unknownKeyProblems(options.reporting, KNOWN_KEYS['reporting.'], 'reporting.', problems);
    const { endpoint, group } = options.reporting;
    const path = typeof endpoint === 'string' && /^\/(?!\/)[\x21-\x7e]*$/.test(endpoint);
    let https = false;
    try {
      https = typeof endpoint === 'string' && new URL(endpoint).protocol === 'https:';
    } catch {}
    // Reporting-Endpoints carries it as a structured-field string, where a stray backslash voids the header.
    if ((!path && !https) || /["',;\s\\]|[^\x21-\x7e]/.test(endpoint as string)) {
      problems.push(
        'reporting.endpoint must be an https URL or an absolute path in printable ASCII, without quotes, commas, backslashes or spaces',
      );
    }
    // A key of the Reporting-Endpoints dictionary (RFC 8941 §3.1.2): upper case or a leading digit,
    // _ or - would make browsers drop the whole header.
    if (group !== undefined && (typeof group !== 'string' || !/^[a-z][a-z0-9_-]{0,63}$/.test(group))) {
      problems.push(
        'reporting.group must start with a lower-case letter, followed by up to 63 lower-case letters, digits, _ or -',
      );
    }
  }
  const tt = options.trustedTypes;
  if (tt !== undefined && typeof tt !== 'boolean' && !isPlainObject(tt)) {
    problems.push('trustedTypes must be true, false or { policies, allowDuplicates? }');
  } else if (tt && typeof tt === 'object') {
    unknownKeyProblems(tt, KNOWN_KEYS['trustedTypes.'], 'trustedTypes.', problems);
    flag(tt.allowDuplicates, 'trustedTypes.allowDuplicates');
    if (!Array.isArray(tt.policies)) problems.push('trustedTypes.policies must be an array of policy names');
    else if (tt.policies.some((p) => !/^[A-Za-z0-9\-#=_/@.%]+$/.test(p))) {
      problems.push('a trustedTypes policy name has characters outside A-Z a-z 0-9 - # = _ / @ . %');
    }
  }
  if (options.removeHeaders !== undefined && !Array.isArray(options.removeHeaders)) {
    problems.push('removeHeaders must be an array of header names');
  } else {
    for (const [i, name] of (options.removeHeaders ?? []).entries()) {
      if (typeof name !== 'string' || !HEADER_NAME.test(name)) {
        problems.push(`removeHeaders entry #${i + 1} is not a header name`);
      }
    }
  }
  if (options.variant !== undefined && options.variant !== 'download') {
    problems.push("variant must be 'download' or left out; use forDownload()");
  }
  if (options.variant === 'download') {
    // Browsers ignore `sandbox` in a Report-Only policy, and a cached file keeps whatever it was served with.
    if (options.reportOnly) {
      problems.push(
        'reportOnly cannot be set on the download variant: browsers ignore sandbox in a Report-Only policy, so its CSP is always enforced',
      );
    }
    if (typeof cacheControl === 'string' && !NO_STORE.test(cacheControl)) {
      problems.push('cacheControl on the download variant must be no-store; leave it unset');
    }
  } else if (options.reportOnly && !options.reporting) {
    problems.push(
      'reportOnly needs the reporting option: a Report-Only policy blocks nothing, so without a reporting endpoint it does nothing; set reporting: { endpoint }',
    );
  }
  const directives = options.directives;
  if (directives !== undefined && !isDirectivesObject(directives)) {
    problems.push('directives must be an object of directive names to arrays of sources');
    return problems;
  }
  Object.entries(directives ?? {}).forEach(([raw, sources], i) => {
    if (sources === undefined) return;
    const name = kebab(raw);
    const known = KNOWN_DIRECTIVES.has(name);
    const match = known ? undefined : nearestDirective(name);
    // Named as the directive, by its place in `directives` (the built policy has the preset's own
    // directives first, so its position there would point nowhere the user wrote), or as the
    // near-miss you wrote: any other key could be a pasted token.
    const label = known
      ? `directives: ${name}`
      : match === undefined
        ? `directives entry #${i + 1}`
        : `directives: ${raw}`;
    // Checked here, before anything spreads it: a string would become one source per character.
    if (!Array.isArray(sources)) {
      problems.push(`${label} must be an array of sources${match === undefined ? '' : `; did you mean ${match}?`}`);
    } else if (!known) {
      problems.push(`${label} is not a CSP directive this builder knows; ${unknownDirectiveFix(name, match)}`);
    } else if (name === 'frame-ancestors') {
      problems.push(
        'directives: frame-ancestors is not accepted here; use the frameAncestors option, which checks the origins and keeps X-Frame-Options consistent',
      );
    } else if ((name === 'report-uri' || name === 'report-to') && options.reporting) {
      problems.push(
        `directives: ${name} conflicts with the reporting option, which sets report-uri and report-to itself; remove it from directives`,
      );
    }
  });
  for (const problem of sameDirectiveTwice(directives ?? {})) problems.push(`directives: ${problem}`);
  return problems;
}

/** A plain object (not null, not an array): what `directives` must be. */
export function isDirectivesObject(value: unknown): value is CspDirectives {
  return isPlainObject(value);
}

/** Not null, not an array: what every options object must be. Internal. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
