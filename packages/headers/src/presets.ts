import type { HelmetOptions } from 'helmet';
import { type CspSource, csp, kebab, NONCE } from './csp.ts';
import { KNOWN_DIRECTIVES } from './csp-rules.ts';
import { HeadersError, throwIfProblems } from './errors.ts';
import { renderWithHelmet } from './helmet-render.ts';
import {
  isDirectivesObject,
  isPlainObject,
  NO_STORE,
  type PermissionAllowlist,
  type PresetOptions,
  presetOptionProblems,
  TWO_YEARS,
} from './preset-options.ts';
import { type HeaderEntry, SecurityHeaders } from './security-headers.ts';

export type { PermissionAllowlist, PresetOptions, PrivateReferrerPolicy } from './preset-options.ts';

type Kind = 'api' | 'web-app';

/**
 * The Permissions-Policy deny-list of the web-app preset (OWASP Secure Headers, limited to features
 * Chromium knows so browsers log no warnings). Override single features with `permissionsPolicy`.
 *
 * @example
 * ```ts
 * import { DEFAULT_PERMISSIONS, webAppPreset } from '@rampart/headers';
 * console.log(DEFAULT_PERMISSIONS.camera); // 'none'
 * webAppPreset({ permissionsPolicy: { camera: 'self' } });
 * ```
 */
export const DEFAULT_PERMISSIONS: Readonly<Record<string, PermissionAllowlist>> = Object.freeze({
  accelerometer: 'none',
  autoplay: 'none',
  camera: 'none',
  'display-capture': 'none',
  'encrypted-media': 'none',
  fullscreen: 'none',
  geolocation: 'none',
  gyroscope: 'none',
  hid: 'none',
  'idle-detection': 'none',
  magnetometer: 'none',
  microphone: 'none',
  midi: 'none',
  payment: 'none',
  'picture-in-picture': 'none',
  'publickey-credentials-get': 'none',
  'screen-wake-lock': 'none',
  serial: 'none',
  'sync-xhr': 'self',
  usb: 'none',
  'xr-spatial-tracking': 'none',
});

// A nonce placeholder nobody writes by accident; split out of helmet's rendering afterwards.
const PLACEHOLDER = `RAMPARTNONCE${process.pid.toString(36)}x${Date.now().toString(36)}`;

function permissionsValue(policy: Readonly<Record<string, PermissionAllowlist>>): string {
  return Object.entries(policy)
    .map(([feature, allow]) => {
      if (allow === '*') return `${feature}=*`;
      if (allow === 'none') return `${feature}=()`;
      if (allow === 'self') return `${feature}=(self)`;
      return `${feature}=(${allow.map((o) => (o === 'self' ? 'self' : `"${o}"`)).join(' ')})`;
    })
    .join(', ');
}

function cspDirectives(kind: Kind, o: PresetOptions, frameAncestors: readonly string[]): [string, CspSource[]][] {
  if (o.variant === 'download') {
    return [
      ['default-src', ["'none'"]],
      ['base-uri', ["'none'"]],
      ['form-action', ["'none'"]],
      ['frame-ancestors', [...frameAncestors]],
      ['sandbox', []],
    ];
  }
  const d: [string, CspSource[]][] =
    kind === 'api'
      ? [
          ['default-src', ["'none'"]],
          ['base-uri', ["'none'"]],
          ['form-action', ["'none'"]],
          ['frame-ancestors', [...frameAncestors]],
        ]
      : [
          ['default-src', ["'self'"]],
          ['script-src', [NONCE, "'strict-dynamic'"]],
          ['style-src', ["'self'", NONCE]],
          ['object-src', ["'none'"]],
          ['base-uri', ["'none'"]],
          ['form-action', ["'self'"]],
          ['frame-ancestors', [...frameAncestors]],
        ];
  const map = new Map(d);
  for (const [raw, sources] of Object.entries(isDirectivesObject(o.directives) ? o.directives : {})) {
    // frame-ancestors is refused in presetOptionProblems(); the frameAncestors option alone decides
    // it, together with X-Frame-Options. A value that is not an array is reported there too, so it
    // is left out here rather than reported twice (and never spread into single characters).
    // An unknown name is listed there too, by its place in `directives`, so it is left out here.
    const name = kebab(raw);
    if (Array.isArray(sources) && name !== 'frame-ancestors' && KNOWN_DIRECTIVES.has(name)) {
      map.set(name, sources as CspSource[]);
    }
  }
  if (kind === 'web-app' && o.upgradeInsecureRequests !== false && !map.has('upgrade-insecure-requests')) {
    map.set('upgrade-insecure-requests', []);
  }
  // Each option below is read only in the shape presetOptionProblems() accepts: anything else is
  // already listed there, and must end up in that list, never as a TypeError from reading it here.
  const tt = o.trustedTypes;
  if (tt) {
    map.set('require-trusted-types-for', ["'script'"]);
    if (typeof tt === 'object' && Array.isArray(tt.policies)) {
      const names = tt.policies.length > 0 ? [...tt.policies] : ["'none'"];
      map.set('trusted-types', tt.allowDuplicates === true ? [...names, "'allow-duplicates'"] : names);
    }
  }
  const reporting = o.reporting;
  if (isPlainObject(reporting) && typeof reporting.endpoint === 'string') {
    map.set('report-uri', [reporting.endpoint]);
    map.set('report-to', [typeof reporting.group === 'string' ? reporting.group : 'csp-endpoint']);
  }
  return [...map];
}

function build(kind: Kind, options: PresetOptions, name: string): SecurityHeaders {
  if (!isPlainObject(options)) {
    throwIfProblems('ERR_HEADERS_INVALID_OPTION', `${name} preset options are invalid`, [
      'options must be an object of preset options',
    ]);
  }
  const problems = presetOptionProblems(options);
  const coop = options.oauthPopups
    ? 'same-origin-allow-popups'
    : (options.coop ?? (kind === 'web-app' ? 'same-origin' : false));
  const fa = options.frameAncestors ?? 'none';
  // A frameAncestors that is not a list is listed by presetOptionProblems(); never spread it here.
  const frameAncestors = fa === 'self' ? ["'self'"] : Array.isArray(fa) ? [...fa] : ["'none'"];
  const xfo = fa === 'none' ? 'deny' : fa === 'self' ? 'sameorigin' : undefined;
  let policy: ReturnType<typeof csp> | undefined;
  try {
    const entries = cspDirectives(kind, options, frameAncestors);
    // `=== true`: a flag of the wrong type is already listed by presetOptionProblems, once.
    policy = csp(Object.fromEntries(entries), {
      reportOnly: options.reportOnly === true,
      dangerouslyAllowUnsafeInlineStyles: options.dangerouslyAllowUnsafeInlineStyles === true,
      dangerouslyAllowUnsafeEval: options.dangerouslyAllowUnsafeEval === true,
    });
  } catch (error) {
    if (!(error instanceof HeadersError)) throw error;
    problems.push(...error.problems.map((p) => `CSP: ${p}`));
  }
  const cacheControl = options.cacheControl ?? 'no-store';
  if (policy?.usesNonce && typeof cacheControl === 'string' && !NO_STORE.test(cacheControl)) {
    problems.push('cacheControl must include no-store on a policy with a nonce: a cached nonce is a reusable nonce');
  }
  throwIfProblems('ERR_HEADERS_INVALID_OPTION', `${name} preset options are invalid`, problems);
  if (!policy) throw new HeadersError('ERR_HEADERS_INVALID_OPTION', `${name} preset produced no CSP`);

  const hsts = options.hsts ?? {};
  const web = kind === 'web-app';
  const helmetOptions: HelmetOptions = {
    contentSecurityPolicy: {
      useDefaults: false,
      reportOnly: policy.headerName === 'Content-Security-Policy-Report-Only',
      directives: policy.toHelmetDirectives(PLACEHOLDER),
    },
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: coop === false ? false : { policy: coop },
    crossOriginResourcePolicy: { policy: options.corp ?? 'same-origin' },
    originAgentCluster: web,
    referrerPolicy: { policy: options.referrerPolicy ?? 'no-referrer' },
    strictTransportSecurity: {
      maxAge: hsts.maxAge ?? TWO_YEARS,
      includeSubDomains: hsts.includeSubDomains ?? true,
      preload: hsts.preload ?? false,
    },
    xContentTypeOptions: true,
    xDnsPrefetchControl: web ? { allow: false } : false,
    xDownloadOptions: options.variant === 'download',
    xFrameOptions: xfo === undefined ? false : { action: xfo },
    xPermittedCrossDomainPolicies: web ? { permittedPolicies: 'none' } : false,
    xPoweredBy: true,
    xXssProtection: web,
  };
  const rendering = renderWithHelmet(helmetOptions);
  const fixed: HeaderEntry[] = [];
  let cspEntry: { name: string; parts: string[] } | undefined;
  let hstsEntry: HeaderEntry | undefined;
  for (const [header, value] of rendering.set) {
    if (header === policy.headerName) cspEntry = { name: header, parts: value.split(PLACEHOLDER) };
    else if (header === 'Strict-Transport-Security') hstsEntry = [header, value];
    else fixed.push([header, value]);
  }
  const added: HeaderEntry[] = [];
  if (xfo === undefined && policy.headerName === 'Content-Security-Policy-Report-Only') {
    // A list of origins has no X-Frame-Options behind it, and Report-Only blocks nothing: without
    // this enforced frame-ancestors, any site could frame the page for the whole rollout. Added next
    // to the app's own enforced CSP (the usual rollout keeps it), never in its place: browsers
    // enforce every policy they receive.
    added.push(['Content-Security-Policy', `frame-ancestors ${frameAncestors.join(' ')}`]);
  }
  fixed.push(['Cache-Control', cacheControl]);
  const permissions = options.permissionsPolicy;
  if (permissions !== false && (web || permissions !== undefined)) {
    const value = permissionsValue({ ...(web ? DEFAULT_PERMISSIONS : {}), ...permissions });
    // An empty allow-list object (API preset) has nothing to say; an empty header would be invalid.
    if (value !== '') fixed.push(['Permissions-Policy', value]);
  }
  if (options.reporting) {
    fixed.push(['Reporting-Endpoints', `${options.reporting.group ?? 'csp-endpoint'}="${options.reporting.endpoint}"`]);
  }
  const remove = [...new Set(['X-Powered-By', 'Server', ...rendering.removed, ...(options.removeHeaders ?? [])])];
  return new SecurityHeaders(
    {
      name,
      fixed: Object.freeze(fixed),
      added: Object.freeze(added),
      hsts: hstsEntry,
      hstsOnlyOverTls: hsts.onlyOverTls ?? false,
      csp: cspEntry && { name: cspEntry.name, parts: Object.freeze(cspEntry.parts) },
      remove: Object.freeze(
        remove.filter((h, i, all) => all.findIndex((x) => x.toLowerCase() === h.toLowerCase()) === i),
      ),
    },
    options,
    (next, variant) => build(kind, next, variant),
  );
}

/**
 * Headers for a JSON API: `Content-Security-Policy: default-src 'none'; base-uri 'none';
 * form-action 'none'; frame-ancestors 'none'`, `Cache-Control: no-store`, HSTS (two years),
 * `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`,
 * `Cross-Origin-Resource-Policy: same-origin`; `X-Powered-By` and `Server` removed. Nothing else.
 * Options are validated now; every problem is listed in one `ERR_HEADERS_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * import { apiPreset } from '@rampart/headers';
 * import { securityHeaders } from '@rampart/headers/express';
 * app.use(securityHeaders(apiPreset()));
 * ```
 */
export function apiPreset(options: PresetOptions = {}): SecurityHeaders {
  return build('api', options, 'api');
}

/**
 * Headers for an HTML application: a strict CSP with a fresh 128-bit nonce per response on
 * `script-src` (with `'strict-dynamic'`) and `style-src`, `object-src 'none'`, `base-uri 'none'`,
 * `frame-ancestors` with a matching `X-Frame-Options`, COOP, CORP, Origin-Agent-Cluster,
 * Permissions-Policy, optional reporting and Trusted Types, `Cache-Control: no-store`.
 *
 * @example
 * ```ts
 * import { getNonce, webAppPreset } from '@rampart/headers';
 * import { securityHeaders } from '@rampart/headers/express';
 * app.use(securityHeaders(webAppPreset({ reporting: { endpoint: '/csp-reports' } })));
 * app.get('/', (req, res) => res.send(`<script nonce="${res.locals.cspNonce}">boot()</script>`));
 * ```
 */
export function webAppPreset(options: PresetOptions = {}): SecurityHeaders {
  return build('web-app', options, 'web-app');
}
