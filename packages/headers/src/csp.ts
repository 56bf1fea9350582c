import { invalidNonce, isNonceValue, KNOWN_DIRECTIVES, NONCE, validate } from './csp-rules.ts';
import { throwIfProblems } from './errors.ts';

export { NONCE } from './csp-rules.ts';

/** Tab, LF, FF, CR and space: the whitespace CSP parsing splits on (Infra "ASCII whitespace"). */
const ASCII_WHITESPACE = /[\t\n\f\r ]+/;

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
   * Accept `'unsafe-inline'` without a nonce or hash in the lists that decide styles: for `<style>`
   * elements `style-src-elem`, else `style-src`, else `default-src`; for `style=` attributes
   * `style-src-attr`, else `style-src`, else `default-src`. A named, visible deviation for legacy
   * CSS-in-JS; the Observatory then gives CSP 0 instead of a bonus. Default false.
   */
  readonly dangerouslyAllowUnsafeInlineStyles?: boolean;
  /**
   * Accept `'unsafe-eval'` in the script list that decides `eval` (`script-src`, else `default-src`).
   * A named, visible deviation for legacy templating and sandboxes that compile strings; it lets any
   * injected string reach `eval`, `new Function` and string timers, and the Observatory then gives CSP
   * −10. `'wasm-unsafe-eval'` needs no opt-out: it allows compiling WebAssembly, never running strings
   * as JavaScript. Default false.
   */
  readonly dangerouslyAllowUnsafeEval?: boolean;
  /** Largest header the policy may render to, in bytes. Default 4096 (proxies cut at 4–8 KiB). */
  readonly maxHeaderBytes?: number;
}

/** A directive name as the header spells it: `scriptSrc` → `script-src`. */
export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * Problems for keys of one directives object that name the same directive (`scriptSrc` and
 * `'script-src'`): merged into a map, the last would silently win.
 */
export function sameDirectiveTwice(directives: object): string[] {
  const byName = new Map<string, string[]>();
  for (const raw of Object.keys(directives)) {
    // Only a directive is named: two spellings of an unknown key (which could be a pasted token) are
    // left to the rules, which report an unknown directive by its position.
    if ((directives as Record<string, unknown>)[raw] === undefined || !KNOWN_DIRECTIVES.has(kebab(raw))) continue;
    const keys = byName.get(kebab(raw)) ?? [];
    byName.set(kebab(raw), [...keys, raw]);
  }
  return [...byName]
    .filter(([, keys]) => keys.length > 1)
    .map(([name, keys]) => `${keys.map((k) => `'${k}'`).join(' and ')} both set ${name}: keep one`);
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
    this.headerName = options.reportOnly === true ? 'Content-Security-Policy-Report-Only' : 'Content-Security-Policy';
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
      // ASCII whitespace only, as browsers split (CSP3 §2.2.1): trim() would also strip U+00A0 and
      // the like, accepting a name that browsers read as an unknown directive and ignore.
      const tokens = part.split(ASCII_WHITESPACE).filter(Boolean);
      const [name, ...sources] = tokens;
      if (name === undefined) continue;
      // ASCII lower-casing, as browsers do: toLowerCase() maps the Kelvin sign to k, so
      // "wor\u212Aer-src" would pass as worker-src while browsers ignore it.
      entries.push([name.replace(/[A-Z]/g, (c) => c.toLowerCase()), sources]);
    }
    return new ContentSecurityPolicy(entries, options, true);
  }

  /** A copy with directives replaced (a directive set to `null` is removed), validated again. */
  with(
    changes: { readonly [name: string]: readonly CspSource[] | null | undefined },
    options?: CspOptions,
  ): ContentSecurityPolicy {
    throwIfProblems('ERR_HEADERS_INVALID_CSP', 'Content-Security-Policy is invalid', sameDirectiveTwice(changes));
    const next = new Map(this.directives);
    for (const [raw, sources] of Object.entries(changes)) {
      if (sources === undefined) continue;
      const name = kebab(raw);
      if (sources === null) next.delete(name);
      else next.set(name, sources);
    }
    return new ContentSecurityPolicy([...next], { ...this.#options, ...options }, this.#rendered);
  }

  /**
   * The header value, with `nonce` in place of {@link NONCE}. When {@link usesNonce}, `nonce` must be
   * a non-empty base64/base64url value of at most 256 characters, or this throws
   * `ERR_HEADERS_INVALID_CSP`: browsers ignore a malformed `'nonce-…'`, which would switch a CSP2
   * fallback `'unsafe-inline'` back on.
   */
  render(nonce?: string): string {
    if (this.usesNonce && !isNonceValue(nonce)) throw invalidNonce();
    const parts: string[] = [];
    for (const [name, sources] of this.directives) {
      const rendered = sources.map((s) => (s === NONCE ? `'nonce-${nonce}'` : s));
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
 * duplicate directives, unquoted keywords, `'unsafe-inline'` without a nonce or hash, `'unsafe-eval'`
 * (unless {@link CspOptions.dangerouslyAllowUnsafeEval}), wildcards and scheme sources in `frame-ancestors`,
 * `'strict-dynamic'` without a nonce or hash, wildcards and scheme sources in `script-src`,
 * `worker-src`/`child-src` (`blob:` allowed there) and `base-uri`, an effective `object-src` other
 * than `'none'`, a missing `base-uri` on a nonce or hash policy, `'none'` mixed with other sources,
 * characters that would split the header, and an oversized header.
 *
 * @example
 * ```ts
 * import { csp, NONCE } from '@rampart/headers';
 * const policy = csp({ defaultSrc: ["'none'"], scriptSrc: [NONCE, "'strict-dynamic'"], baseUri: ["'none'"] });
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
