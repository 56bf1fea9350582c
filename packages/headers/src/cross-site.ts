import { HeadersError, throwIfProblems } from './errors.ts';
import { unknownKeyProblems } from './preset-options.ts';

/** The request facts cross-site protection reads; adapters fill it from their framework's request. */
export interface CrossSiteRequest {
  readonly method: string;
  /** Header lookup by lower-case name. */
  readonly header: (name: string) => string | undefined;
  /** Scheme and host the server was reached at, e.g. `https://app.example`, when known. */
  readonly selfOrigin?: string | undefined;
}

/** Options of {@link crossSiteProtection}. */
export interface CrossSiteOptions {
  /**
   * Origins allowed to send state-changing requests (`https://app.example`, exact match).
   * Required in production: without it every state-changing request is rejected (fail closed).
   */
  readonly allowedOrigins?: readonly string[];
  /**
   * The deployment environment. Default `process.env.NODE_ENV`. Only `development` and `test`
   * count as non-production; an unset or unknown value counts as production.
   */
  readonly environment?: string | undefined;
  /**
   * Reject state-changing requests that carry neither `Sec-Fetch-Site` nor `Origin` (non-browser
   * clients). Default false: such clients cannot be driven cross-site by a victim's browser.
   */
  readonly requireBrowserSignals?: boolean;
  /**
   * Methods that never change state and are not checked. Default GET, HEAD, OPTIONS. Only a subset
   * of GET, HEAD, OPTIONS and TRACE (any case) is accepted: POST, PUT, PATCH, DELETE and other
   * methods are exactly what the protection checks.
   */
  readonly safeMethods?: readonly string[];
}

/** The outcome of a check. */
export type CrossSiteDecision =
  | {
      readonly allowed: true;
      readonly reason: 'safe-method' | 'same-origin' | 'allowed-origin' | 'no-browser-signals' | 'user-initiated';
    }
  | { readonly allowed: false; readonly error: HeadersError };

/** Cross-site request protection built by {@link crossSiteProtection}. */
export interface CrossSiteProtection {
  /** True when production runs without allowed origins: every state-changing request is rejected. */
  readonly failsClosed: boolean;
  /** Decides without throwing. */
  check(request: CrossSiteRequest): CrossSiteDecision;
  /** Throws `ERR_HEADERS_CROSS_SITE_REQUEST` / `ERR_HEADERS_NO_ALLOWED_ORIGINS` when rejected. */
  assert(request: CrossSiteRequest): void;
}

/**
 * Whether an environment name counts as production: anything but `development` or `test`,
 * including an unset or misspelt value, so a forgotten NODE_ENV fails closed.
 *
 * @example
 * ```ts
 * import { isProductionEnvironment } from '@rampart/headers';
 * isProductionEnvironment(undefined); // true
 * isProductionEnvironment('development'); // false
 * ```
 */
export function isProductionEnvironment(environment: string | undefined): boolean {
  const value = environment?.trim().toLowerCase();
  return value !== 'development' && value !== 'test';
}

/** RFC 9110 §9.2.1 safe methods: the only ones that may skip the check. */
const SAFE_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE']);
const DEFAULT_SAFE_METHODS = ['GET', 'HEAD', 'OPTIONS'] as const;

function originOf(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    return url.origin;
  } catch {
    return undefined;
  }
}

/** Every key of {@link CrossSiteOptions}: any other is a misspelling that would be ignored. Internal. */
export const OPTION_KEYS: readonly string[] = ['allowedOrigins', 'environment', 'requireBrowserSignals', 'safeMethods'];
/** A suggested origin longer than this is not shown: no real host name is. */
const MAX_SUGGESTED_ORIGIN = 200;

/** What a value that cannot hold options is told; crossSiteUpgradeGuard passes non-objects through to get it. */
const NOT_AN_OPTIONS_OBJECT = 'options must be an object';

/**
 * Whether `value` can hold options: an object, not `null`, an array or a function (an array has no
 * option keys, so every setting would silently take its default). Internal, shared with the adapters.
 */
export function isOptionsObject(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Whether `value` is a prebuilt protection (it has a `check` function) rather than options. Internal. */
export function isCrossSiteProtection(value: unknown): value is CrossSiteProtection {
  return isOptionsObject(value) && typeof value.check === 'function';
}

/**
 * What every adapter's `crossSiteGuard` does with its argument: a prebuilt protection is used as
 * it is; anything else is validated as options, so `null` or a misspelt option fails at start-up
 * with `ERR_HEADERS_INVALID_OPTION` rather than a TypeError per request. Internal.
 */
export function resolveCrossSiteProtection(options: unknown): CrossSiteProtection {
  return isCrossSiteProtection(options) ? options : crossSiteProtection(options as CrossSiteOptions);
}

/**
 * Whether `entry` is written as `scheme://host…` (any case, surrounding spaces, credentials before
 * the host allowed) with the scheme and host that `url`, its parse, has: then the origin only
 * normalizes what the entry says (case, punycode, default port, path dropped). The URL parser also
 * finds an origin in `https:sk_live_…` or `https:/…`, but a suggestion there would repeat a value
 * that was never written as a host, such as a pasted secret.
 */
function writtenAsOrigin(entry: string, url: URL): boolean {
  const written = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/(?:[^@/?#\\]*@)?(\[[^\]/?#\\]*\]|[^:@/?#\\[\]]*)(?=[:/?#]|$)/.exec(
    entry.trim(),
  );
  if (written === null) return false;
  const [, scheme = '', host = ''] = written;
  if (`${scheme.toLowerCase()}:` !== url.protocol || host === '') return false;
  try {
    return new URL(`${url.protocol}//${host}`).hostname === url.hostname;
  } catch {
    return false;
  }
}

/** A DNS label as RFC 1123 writes one: letters, digits and inner hyphens, 1 to 63 characters. */
const LDH_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
/** A label of 16 or more hex digits with a digit among them: what a hash or an API key looks like. */
const HEX_TOKEN_LABEL = /^(?=[a-f]*[0-9])[0-9a-f]{16,}$/;

/**
 * Whether `hostname` (as the URL parser leaves it: lower case, punycode) is one a suggestion may
 * repeat: an IPv4 or IPv6 literal, or a DNS name of LDH labels none of which looks like a token. The
 * WHATWG parser accepts far more (`sk_live_…` is a valid host), but such a host is not a site, and
 * repeating it could show a pasted secret.
 */
function isDnsLikeHost(hostname: string): boolean {
  if (hostname.startsWith('[') && hostname.endsWith(']')) return true;
  if (/^\d{1,3}(?:\.\d{1,3}){3}$/.test(hostname)) return true;
  const labels = hostname.split('.');
  return labels.every((label) => LDH_LABEL.test(label) && !HEX_TOKEN_LABEL.test(label));
}

/** The problem with one `allowedOrigins` entry, or undefined when it is a bare origin. */
function allowedOriginProblem(origin: unknown, position: number): string | undefined {
  const entry = `allowedOrigins entry #${position}`;
  if (typeof origin !== 'string') return `${entry} must be a string such as https://app.example`;
  if (origin.includes('*')) {
    // `https://*.example` even parses as an origin, but no browser ever sends it.
    return `${entry} contains a wildcard (*), which never matches: browsers send one exact origin; list each origin`;
  }
  const parsed = originOf(origin);
  if (parsed === origin) return undefined;
  const problem = `${entry} must be a bare origin such as https://app.example (http or https, host and optional port, no path or trailing slash), exactly as browsers send it in the Origin header`;
  // Only the parsed origin is named, and only when the entry was written as one: origins are not
  // secret, but credentials, paths and queries can be, and so can whatever the parser took for a host.
  // And only for a DNS-like host: `https://sk_live_…` is written as an origin, but its host is a token.
  if (parsed === undefined || parsed.length > MAX_SUGGESTED_ORIGIN) return problem;
  const url = new URL(origin);
  return writtenAsOrigin(origin, url) && isDnsLikeHost(url.hostname) ? `${problem}; did you mean ${parsed}?` : problem;
}

/**
 * Rejects cross-site state-changing requests to cookie-authenticated routes, the way browsers
 * let a server tell them apart today: `Sec-Fetch-Site` first (`same-origin` and user-initiated
 * `none` pass), then `Origin` against `allowedOrigins`. In production without allowed origins it
 * fails closed. Options are validated now; every problem is listed at once.
 *
 * @example
 * ```ts
 * import { crossSiteProtection } from '@rampart/headers';
 * const protection = crossSiteProtection({ allowedOrigins: ['https://app.example'] });
 * protection.check({ method: 'POST', header: (n) => ({ 'sec-fetch-site': 'cross-site' })[n] }).allowed; // false
 * ```
 */
export function crossSiteProtection(options: CrossSiteOptions = {}): CrossSiteProtection {
  return buildCrossSiteProtection(options, OPTION_KEYS);
}

/**
 * {@link crossSiteProtection} taking only the option keys in `optionKeys`: an unknown key is refused,
 * and named only as a near-miss of one of these, so no option that is not taken gets suggested.
 * Without `safeMethods` among them, no method is safe: crossSiteUpgradeGuard checks every handshake.
 * Internal, shared with the adapters.
 */
export function buildCrossSiteProtection(
  options: CrossSiteOptions,
  optionKeys: readonly string[],
): CrossSiteProtection {
  if (!isOptionsObject(options)) {
    throwIfProblems('ERR_HEADERS_INVALID_OPTION', 'crossSiteProtection options are invalid', [NOT_AN_OPTIONS_OBJECT]);
  }
  const problems: string[] = [];
  unknownKeyProblems(options, optionKeys, '', problems);
  const takesSafeMethods = optionKeys.includes('safeMethods');
  const allowed = new Set<string>();
  // Types first: a string or object here must become a listed problem, not a TypeError from forEach.
  if (options.allowedOrigins !== undefined && !Array.isArray(options.allowedOrigins)) {
    problems.push('allowedOrigins must be an array of origins');
  } else {
    (options.allowedOrigins ?? []).forEach((origin: unknown, i) => {
      const problem = allowedOriginProblem(origin, i + 1);
      if (problem === undefined) allowed.add(origin as string);
      else problems.push(problem);
    });
  }
  const safe = new Set<string>();
  if (!takesSafeMethods) {
    // Not an option here: refused above as an unknown key when present; nothing is safe.
  } else if (options.safeMethods !== undefined && !Array.isArray(options.safeMethods)) {
    problems.push('safeMethods must be an array of method names');
  } else {
    (options.safeMethods ?? DEFAULT_SAFE_METHODS).forEach((method, i) => {
      const upper = typeof method === 'string' ? method.toUpperCase() : undefined;
      if (upper === undefined || !SAFE_METHODS.has(upper)) {
        problems.push(
          `safeMethods entry #${i + 1} is not GET, HEAD, OPTIONS or TRACE: unsafe methods are what the protection is for, and a listed one would pass every cross-site request unchecked`,
        );
      } else safe.add(upper);
    });
  }
  if (options.requireBrowserSignals !== undefined && typeof options.requireBrowserSignals !== 'boolean') {
    problems.push('requireBrowserSignals must be true or false');
  }
  if (options.environment !== undefined && typeof options.environment !== 'string') {
    problems.push('environment must be a string such as production or development, or undefined to read NODE_ENV');
  }
  throwIfProblems('ERR_HEADERS_INVALID_OPTION', 'crossSiteProtection options are invalid', problems);
  // `??`, not `'environment' in options`: an explicit undefined reads NODE_ENV, as documented.
  const environment = options.environment ?? process.env.NODE_ENV;
  const failsClosed = allowed.size === 0 && isProductionEnvironment(environment);
  const requireSignals = options.requireBrowserSignals ?? false;

  const reject = (): CrossSiteDecision => ({
    allowed: false,
    error: new HeadersError(
      'ERR_HEADERS_CROSS_SITE_REQUEST',
      'cross-site state-changing request rejected: its Sec-Fetch-Site/Origin is not this site or an allowed origin; add the origin to allowedOrigins if it is yours',
    ),
  });

  const check = (request: CrossSiteRequest): CrossSiteDecision => {
    if (safe.has(request.method.toUpperCase())) return { allowed: true, reason: 'safe-method' };
    if (failsClosed) {
      return {
        allowed: false,
        error: new HeadersError(
          'ERR_HEADERS_NO_ALLOWED_ORIGINS',
          'cross-site protection has no allowedOrigins in production, so it rejects every state-changing request; set allowedOrigins (or NODE_ENV=development for local work)',
        ),
      };
    }
    const originHeader = request.header('origin');
    const origin = originHeader !== undefined && originHeader !== 'null' ? originOf(originHeader) : undefined;
    if (origin !== undefined && allowed.has(origin)) return { allowed: true, reason: 'allowed-origin' };
    const site = request.header('sec-fetch-site')?.trim().toLowerCase();
    if (site !== undefined) {
      if (site === 'same-origin') return { allowed: true, reason: 'same-origin' };
      // `none`: the user typed the URL or used a bookmark; no page made the request.
      if (site === 'none') return { allowed: true, reason: 'user-initiated' };
      return reject();
    }
    if (originHeader !== undefined) {
      // Older browsers: no Fetch Metadata, so the Origin header must name this server or an allowed origin.
      if (origin !== undefined && request.selfOrigin !== undefined && origin === originOf(request.selfOrigin)) {
        return { allowed: true, reason: 'same-origin' };
      }
      return reject();
    }
    if (requireSignals) return reject();
    return { allowed: true, reason: 'no-browser-signals' };
  };

  return Object.freeze({
    failsClosed,
    check,
    assert(request: CrossSiteRequest) {
      const decision = check(request);
      if (!decision.allowed) throw decision.error;
    },
  });
}
