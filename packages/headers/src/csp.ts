import { throwIfProblems } from './errors.ts';

/**
 * Placeholder for the per-request nonce in a source list. The policy renders it as
 * `'nonce-<fresh value>'` on every response.
 *
 * @example
 * ```ts
 * import { csp, NONCE } from '@rampart/headers';
 * csp({ 'default-src': ["'self'"], 'script-src': [NONCE, "'strict-dynamic'"] }).usesNonce; // true
 * ```
 */
export const NONCE = "'nonce'" as const;

/**
 * CSP Level 3 directive names the builder accepts (kebab-case, as they appear in the header).
 *
 * @example
 * ```ts
 * import type { CspDirectiveName } from '@rampart/headers';
 * const name: CspDirectiveName = 'frame-ancestors';
 * ```
 */
export type CspDirectiveName =
  | 'default-src'
  | 'script-src'
  | 'script-src-elem'
  | 'script-src-attr'
  | 'style-src'
  | 'style-src-elem'
  | 'style-src-attr'
  | 'img-src'
  | 'font-src'
  | 'connect-src'
  | 'media-src'
  | 'object-src'
  | 'frame-src'
  | 'child-src'
  | 'worker-src'
  | 'manifest-src'
  | 'base-uri'
  | 'form-action'
  | 'frame-ancestors'
  | 'sandbox'
  | 'upgrade-insecure-requests'
  | 'report-uri'
  | 'report-to'
  | 'require-trusted-types-for'
  | 'trusted-types'
  | 'webrtc'
  | 'fenced-frame-src';

/** A source expression. Keywords must be quoted; {@link NONCE} stands for the request's nonce. */
export type CspSource =
  | "'self'"
  | "'none'"
  | "'strict-dynamic'"
  | "'unsafe-inline'"
  | "'unsafe-eval'"
  | "'unsafe-hashes'"
  | "'wasm-unsafe-eval'"
  | "'report-sample'"
  | "'script'"
  | typeof NONCE
  | `'sha256-${string}'`
  | `'sha384-${string}'`
  | `'sha512-${string}'`
  | (string & {});

/** Directives as an object: kebab-case names (`'script-src'`) or camelCase (`scriptSrc`), like helmet. */
export type CspDirectives = {
  readonly [K in CspDirectiveName]?: readonly CspSource[];
} & { readonly [camelCase: string]: readonly CspSource[] | undefined };

/** Options of {@link csp}. */
export interface CspOptions {
  /** Send as `Content-Security-Policy-Report-Only` (rollout mode). Default false. */
  readonly reportOnly?: boolean;
  /**
   * Accept `'unsafe-inline'` in `style-src` without a nonce. A named, visible deviation for
   * legacy CSS-in-JS; the Observatory then gives CSP 0 instead of a bonus. Default false.
   */
  readonly dangerouslyAllowUnsafeInlineStyles?: boolean;
  /** Largest header the policy may render to, in bytes. Default 4096 (proxies cut at 4–8 KiB). */
  readonly maxHeaderBytes?: number;
}

const KNOWN = new Set<string>([
  'default-src',
  'script-src',
  'script-src-elem',
  'script-src-attr',
  'style-src',
  'style-src-elem',
  'style-src-attr',
  'img-src',
  'font-src',
  'connect-src',
  'media-src',
  'object-src',
  'frame-src',
  'child-src',
  'worker-src',
  'manifest-src',
  'base-uri',
  'form-action',
  'frame-ancestors',
  'sandbox',
  'upgrade-insecure-requests',
  'report-uri',
  'report-to',
  'require-trusted-types-for',
  'trusted-types',
  'webrtc',
  'fenced-frame-src',
]);
const VALUELESS = new Set(['upgrade-insecure-requests']);
const NOT_SOURCE_LISTS = new Set([
  'sandbox',
  'report-uri',
  'report-to',
  'require-trusted-types-for',
  'trusted-types',
  'webrtc',
]);
const KEYWORDS = new Set([
  'self',
  'none',
  'strict-dynamic',
  'unsafe-inline',
  'unsafe-eval',
  'unsafe-hashes',
  'wasm-unsafe-eval',
  'report-sample',
  'unsafe-allow-redirects',
  'inline-speculation-rules',
  'script',
  'allow-duplicates',
]);
const SCRIPT_DIRECTIVES = ['script-src', 'script-src-elem'] as const;
const STYLE_DIRECTIVES = ['style-src', 'style-src-elem'] as const;
const SCRIPT_WILDCARDS = new Set(['*', 'http:', 'https:', 'data:', 'blob:', 'filesystem:', 'ws:', 'wss:']);

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** The per-response NONCE placeholder or a hash source (a literal `'nonce-…'` is refused elsewhere). */
function isNonceOrHash(source: string): boolean {
  return source === NONCE || isHash(source);
}

function isHash(source: string): boolean {
  return /^'(?:sha256|sha384|sha512)-[A-Za-z0-9+/_=-]+'$/i.test(source);
}

/** Browsers match CSP keywords case-insensitively: `'UNSAFE-INLINE'` is `'unsafe-inline'`. */
function hasKeyword(sources: readonly string[], keyword: string): boolean {
  return sources.some((source) => typeof source === 'string' && source.toLowerCase() === keyword);
}

/**
 * A validated Content-Security-Policy. Build it with {@link csp} or {@link ContentSecurityPolicy.parse};
 * both check every rule at construction and throw one `ERR_HEADERS_INVALID_CSP` listing every problem.
 *
 * @example
 * ```ts
 * import { csp, NONCE } from '@rampart/headers';
 * const policy = csp({
 *   'default-src': ["'self'"],
 *   'script-src': [NONCE, "'strict-dynamic'"],
 *   'object-src': ["'none'"],
 *   'base-uri': ["'none'"],
 * });
 * policy.render('r4nd0m'); // "default-src 'self';script-src 'nonce-r4nd0m' 'strict-dynamic';..."
 * ```
 */
export class ContentSecurityPolicy {
  /** Directive name → sources, in insertion order, frozen. */
  readonly directives: ReadonlyMap<string, readonly string[]>;
  /** Whether the policy contains {@link NONCE} and so needs a fresh nonce per response. */
  readonly usesNonce: boolean;
  /** `Content-Security-Policy` or `Content-Security-Policy-Report-Only`. */
  readonly headerName: 'Content-Security-Policy' | 'Content-Security-Policy-Report-Only';
  readonly #options: CspOptions;
  /** Parsed from a header as sent, whose nonces are real ones (see {@link parse}). */
  readonly #rendered: boolean;

  private constructor(
    entries: readonly (readonly [string, readonly string[]])[],
    options: CspOptions,
    rendered = false,
  ) {
    const problems = validate(entries, options, rendered);
    throwIfProblems('ERR_HEADERS_INVALID_CSP', 'Content-Security-Policy is invalid', problems);
    this.directives = new Map(entries.map(([name, sources]) => [name, Object.freeze([...sources])]));
    this.usesNonce = entries.some(([, sources]) => sources.includes(NONCE));
    this.headerName = options.reportOnly ? 'Content-Security-Policy-Report-Only' : 'Content-Security-Policy';
    this.#options = options;
    this.#rendered = rendered;
    Object.freeze(this);
  }

  /** @internal Used by {@link csp}. */
  static fromEntries(
    entries: readonly (readonly [string, readonly string[]])[],
    options: CspOptions = {},
  ): ContentSecurityPolicy {
    return new ContentSecurityPolicy(entries, options);
  }

  /**
   * Parses and validates a policy string (`;`-separated directives). Duplicate directives, which
   * browsers silently ignore after the first, are reported. The string may be a header as sent:
   * its `'nonce-…'` sources count as nonces (a policy built with {@link csp} must use
   * {@link NONCE} instead, which is new for each response).
   *
   * @example
   * ```ts
   * import { ContentSecurityPolicy } from '@rampart/headers';
   * ContentSecurityPolicy.parse("default-src 'none'; frame-ancestors 'none'");
   * ```
   */
  static parse(policy: string, options: CspOptions = {}): ContentSecurityPolicy {
    const entries: [string, string[]][] = [];
    for (const part of policy.split(';')) {
      const tokens = part
        .trim()
        .split(/[ \t]+/)
        .filter(Boolean);
      const [name, ...sources] = tokens;
      if (name === undefined) continue;
      entries.push([name.toLowerCase(), sources]);
    }
    return new ContentSecurityPolicy(entries, options, true);
  }

  /** A copy with directives replaced (a directive set to `null` is removed), validated again. */
  with(
    changes: { readonly [name: string]: readonly CspSource[] | null | undefined },
    options?: CspOptions,
  ): ContentSecurityPolicy {
    const next = new Map(this.directives);
    for (const [raw, sources] of Object.entries(changes)) {
      if (sources === undefined) continue;
      const name = kebab(raw);
      if (sources === null) next.delete(name);
      else next.set(name, sources);
    }
    return new ContentSecurityPolicy([...next], { ...this.#options, ...options }, this.#rendered);
  }

  /** The header value, with `nonce` in place of {@link NONCE} (required when {@link usesNonce}). */
  render(nonce?: string): string {
    const parts: string[] = [];
    for (const [name, sources] of this.directives) {
      const rendered = sources.map((s) => (s === NONCE ? `'nonce-${nonce ?? ''}'` : s));
      parts.push(rendered.length > 0 ? `${name} ${rendered.join(' ')}` : name);
    }
    return parts.join(';');
  }

  /** helmet `contentSecurityPolicy.directives`, with the nonce replaced by `placeholder`. */
  toHelmetDirectives(placeholder: string): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [name, sources] of this.directives) {
      out[name] = sources.map((s) => (s === NONCE ? `'nonce-${placeholder}'` : s));
    }
    return out;
  }
}

/**
 * Builds a validated {@link ContentSecurityPolicy}. Every problem is reported at once: unknown or
 * duplicate directives, unquoted keywords, `'unsafe-inline'` without a nonce or hash,
 * `'strict-dynamic'` without a nonce or hash, wildcards and scheme sources in `script-src`,
 * `'none'` mixed with other sources, characters that would split the header, and an oversized header.
 *
 * @example
 * ```ts
 * import { csp, NONCE } from '@rampart/headers';
 * const policy = csp({ defaultSrc: ["'none'"], scriptSrc: [NONCE, "'strict-dynamic'"] });
 * ```
 */
export function csp(directives: CspDirectives, options: CspOptions = {}): ContentSecurityPolicy {
  const entries: [string, readonly string[]][] = [];
  for (const [raw, sources] of Object.entries(directives)) {
    if (sources === undefined) continue;
    entries.push([kebab(raw), sources]);
  }
  return ContentSecurityPolicy.fromEntries(entries, options);
}

function validate(
  entries: readonly (readonly [string, readonly string[]])[],
  options: CspOptions,
  rendered: boolean,
): string[] {
  const nonceOrHash = (source: string): boolean =>
    isNonceOrHash(source) || (rendered && /^'nonce-[A-Za-z0-9+/_=-]+'$/.test(source));
  const problems: string[] = [];
  const seen = new Set<string>();
  const byName = new Map<string, readonly string[]>();
  entries.forEach(([name, sources], index) => {
    if (!KNOWN.has(name)) {
      problems.push(`directive #${index + 1} is not a CSP directive this builder knows; check its spelling`);
      return;
    }
    if (seen.has(name)) {
      problems.push(`${name} appears more than once; browsers ignore every repeat, so merge the sources into one`);
      return;
    }
    seen.add(name);
    byName.set(name, sources);
    if (!Array.isArray(sources)) {
      problems.push(`${name} must be an array of sources`);
      return;
    }
    if (VALUELESS.has(name) && sources.length > 0) problems.push(`${name} takes no sources; pass []`);
    sources.forEach((source, i) => {
      const where = `${name} source #${i + 1}`;
      if (typeof source !== 'string' || source.length === 0) {
        problems.push(`${where} must be a non-empty string`);
        return;
      }
      // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
      if (/[;,\s\u0000-\u001f\u007f]/.test(source)) {
        problems.push(`${where} contains a separator, whitespace or control character that would split the header`);
        return;
      }
      const lower = source.toLowerCase();
      if (KEYWORDS.has(lower) || /^(?:nonce|sha256|sha384|sha512)-/.test(lower)) {
        problems.push(`${where} is a keyword, nonce or hash without single quotes; write it quoted, e.g. 'self'`);
      }
      if (!rendered && /^'nonce-/i.test(source)) {
        problems.push(
          `${where} is a fixed nonce, sent unchanged on every response; use NONCE, which is new for each response`,
        );
      }
      if (lower === "'none'" && sources.length > 1) {
        problems.push(`${name} combines 'none' with other sources; 'none' must stand alone`);
      }
    });
  });
  if (!byName.has('default-src')) {
    problems.push("default-src is missing; every policy needs a fallback (use 'none' for APIs, 'self' for apps)");
  }
  const scriptLike = SCRIPT_DIRECTIVES.filter((d) => byName.has(d));
  const scriptLists = scriptLike.length > 0 ? scriptLike : (['default-src'] as const);
  for (const name of scriptLists) {
    const sources = byName.get(name) ?? [];
    const hasNonceOrHash = sources.some(nonceOrHash);
    const strictDynamic = hasKeyword(sources, "'strict-dynamic'");
    if (strictDynamic && !hasNonceOrHash) {
      problems.push(`${name} uses 'strict-dynamic' without a nonce or hash, which blocks every script; add NONCE`);
    }
    if (hasKeyword(sources, "'unsafe-inline'") && !hasNonceOrHash) {
      problems.push(
        `${name} allows 'unsafe-inline' without a nonce or hash, which permits injected scripts; use NONCE`,
      );
    }
    sources.forEach((source, i) => {
      const lower = source.toLowerCase();
      // `https:` next to a nonce and 'strict-dynamic' is the documented fallback for CSP2
      // browsers; CSP3 browsers ignore it. Anything else broad is an injection path.
      const fallback = lower === 'https:' && strictDynamic && hasNonceOrHash;
      if (!fallback && (SCRIPT_WILDCARDS.has(lower) || lower.includes('*'))) {
        problems.push(`${name} source #${i + 1} is a wildcard or scheme source that lets any host run script`);
      }
    });
  }
  // Event-handler attributes: a nonce never covers them, so 'unsafe-inline' here runs every
  // injected onerror= / onclick= whatever script-src says (only a hash disables it).
  const attr = byName.get('script-src-attr');
  if (Array.isArray(attr) && hasKeyword(attr, "'unsafe-inline'") && !attr.some(isHash)) {
    problems.push(
      "script-src-attr allows 'unsafe-inline', which runs injected event-handler attributes; move handlers to addEventListener",
    );
  }
  if (!options.dangerouslyAllowUnsafeInlineStyles) {
    const styleLike = STYLE_DIRECTIVES.filter((d) => byName.has(d));
    for (const name of styleLike.length > 0 ? styleLike : (['default-src'] as const)) {
      const sources = byName.get(name) ?? [];
      if (hasKeyword(sources, "'unsafe-inline'") && !sources.some(nonceOrHash)) {
        problems.push(
          `${name} allows 'unsafe-inline' without a nonce or hash; use NONCE, or set dangerouslyAllowUnsafeInlineStyles`,
        );
      }
    }
  }
  for (const name of NOT_SOURCE_LISTS) {
    const sources = byName.get(name);
    if (name === 'require-trusted-types-for' && sources && (sources.length !== 1 || sources[0] !== "'script'")) {
      problems.push("require-trusted-types-for accepts exactly one source, 'script'");
    }
  }
  const max = options.maxHeaderBytes ?? 4096;
  const approx = entries.reduce((n, [name, sources]) => n + name.length + 2 + sources.join(' ').length + 40, 0);
  if (approx > max) problems.push(`the policy renders to more than ${max} bytes; proxies may drop it`);
  return problems;
}
