import { invalidNonce, isNonceValue } from './csp-rules.ts';
import { generateNonce } from './nonce.ts';
import type { PresetOptions } from './presets.ts';

/** One header as sent: canonical name and value. */
export type HeaderEntry = readonly [name: string, value: string];

/** What a preset compiled to; built once at start-up by {@link apiPreset} or {@link webAppPreset}. */
export interface CompiledHeaders {
  readonly name: string;
  /** Sent on every response. */
  readonly fixed: readonly HeaderEntry[];
  /**
   * Sent on every response as an additional value of the header, next to any value the application
   * set: the enforced `frame-ancestors` of a Report-Only rollout must not replace the app's own CSP.
   */
  readonly added: readonly HeaderEntry[];
  /** Strict-Transport-Security, kept apart so it can be limited to TLS. */
  readonly hsts: HeaderEntry | undefined;
  readonly hstsOnlyOverTls: boolean;
  /** CSP header name and its value split around the nonce: `parts.join(nonce)`. */
  readonly csp: { readonly name: string; readonly parts: readonly string[] } | undefined;
  /** Headers that reveal the stack; removed from every response. */
  readonly remove: readonly string[];
}

/** The request facts a policy needs. */
export interface ResponseContext {
  /** Whether the request arrived over TLS (directly or via a trusted proxy). */
  readonly secure: boolean;
  /** The request's nonce; required when {@link SecurityHeaders.usesNonce}. */
  readonly nonce?: string | undefined;
}

/**
 * A compiled, immutable set of security headers. Framework adapters apply it to every response,
 * including error and 404 responses; per-route variants come from {@link SecurityHeaders.forDownload},
 * {@link SecurityHeaders.forEmbedding}, {@link SecurityHeaders.forOAuthPopup} and
 * {@link SecurityHeaders.with}.
 *
 * @example
 * ```ts
 * import { webAppPreset } from '@rampart/headers';
 * const headers = webAppPreset();
 * const nonce = headers.usesNonce ? headers.newNonce() : undefined;
 * for (const [name, value] of headers.headersFor({ secure: true, nonce })) console.log(name, value);
 * ```
 */
export class SecurityHeaders {
  /** `api`, `web-app`, or a variant such as `web-app+download`. */
  readonly name: string;
  /** Whether responses need a fresh nonce (the CSP contains `NONCE`). */
  readonly usesNonce: boolean;
  /** Headers removed from every response (`X-Powered-By`, `Server`, ...). */
  readonly remove: readonly string[];
  /**
   * The entries of {@link headersFor} that go out as one more value of their header
   * (`appendHeader`, `headers.append`), after any value the response already has, instead of
   * replacing it. Empty except during a Report-Only rollout with a list of `frameAncestors`, where it
   * holds the enforced `Content-Security-Policy: frame-ancestors <list>`.
   */
  readonly appended: readonly HeaderEntry[];
  /** The resolved options this policy was built from. */
  readonly options: Readonly<PresetOptions>;
  readonly #compiled: CompiledHeaders;
  readonly #rebuild: (options: PresetOptions, variant: string) => SecurityHeaders;

  /** @internal Built by the presets. */
  constructor(
    compiled: CompiledHeaders,
    options: PresetOptions,
    rebuild: (options: PresetOptions, variant: string) => SecurityHeaders,
  ) {
    this.#compiled = compiled;
    this.name = compiled.name;
    this.usesNonce = compiled.csp !== undefined && compiled.csp.parts.length > 1;
    this.remove = compiled.remove;
    this.appended = Object.freeze(compiled.added.map((entry): HeaderEntry => Object.freeze([entry[0], entry[1]])));
    this.options = Object.freeze({ ...options });
    this.#rebuild = rebuild;
    Object.freeze(this);
  }

  /** A fresh 128-bit nonce (see {@link generateNonce}). */
  newNonce(): string {
    return generateNonce();
  }

  /**
   * Every header to send for one response, in a stable order. During a Report-Only rollout with a
   * list of `frameAncestors`, one entry is an enforced `Content-Security-Policy: frame-ancestors …`
   * that must be added next to a CSP the application sends itself, not replace it: it is the one
   * whose name and value equal an entry of {@link appended} (see also {@link applyTo}).
   */
  headersFor(context: ResponseContext): HeaderEntry[] {
    const out: HeaderEntry[] = [...this.#compiled.fixed, ...this.#compiled.added];
    const csp = this.#compiled.csp;
    if (csp) out.push([csp.name, this.cspValue(context.nonce)]);
    const hsts = this.#compiled.hsts;
    if (hsts && (context.secure || !this.#compiled.hstsOnlyOverTls)) out.push(hsts);
    return out;
  }

  /**
   * Applies the headers through a `set(name, value)` callback without allocating an array: the
   * adapters' hot path. `add(name, value)` receives the headers that go out as an additional value
   * of their header, next to whatever the response already has (the enforced `frame-ancestors` of
   * a Report-Only rollout, which must not replace the application's own enforced CSP: browsers
   * enforce every CSP they get). It should add nothing when the response already has that exact
   * value. Default: `set`, which replaces.
   */
  applyTo(
    set: (name: string, value: string) => unknown,
    context: ResponseContext,
    add: (name: string, value: string) => unknown = set,
  ): void {
    const fixed = this.#compiled.fixed;
    for (let i = 0; i < fixed.length; i++) {
      const entry = fixed[i] as HeaderEntry;
      set(entry[0], entry[1]);
    }
    const added = this.#compiled.added;
    for (let i = 0; i < added.length; i++) {
      const entry = added[i] as HeaderEntry;
      add(entry[0], entry[1]);
    }
    const csp = this.#compiled.csp;
    if (csp) set(csp.name, this.cspValue(context.nonce));
    const hsts = this.#compiled.hsts;
    if (hsts && (context.secure || !this.#compiled.hstsOnlyOverTls)) set(hsts[0], hsts[1]);
  }

  /** The CSP header name, or undefined when the policy sends none. */
  get cspHeaderName(): string | undefined {
    return this.#compiled.csp?.name;
  }

  /**
   * The CSP value for one response. On a policy that {@link usesNonce}, throws
   * `ERR_HEADERS_INVALID_CSP` unless `nonce` is a non-empty base64/base64url value of at most 256
   * characters (use {@link newNonce}): a malformed nonce would be ignored by browsers.
   */
  cspValue(nonce: string | undefined): string {
    const parts = this.#compiled.csp?.parts;
    if (!parts) return '';
    if (parts.length === 1) return parts[0] as string;
    if (!isNonceValue(nonce)) throw invalidNonce();
    return parts.join(nonce);
  }

  /** A variant with some options replaced, compiled and validated now (call it at start-up). */
  with(changes: PresetOptions, variant = 'custom'): SecurityHeaders {
    return this.#rebuild({ ...this.options, ...changes }, `${this.name.split('+')[0]}+${variant}`);
  }

  /**
   * For file downloads: a sandboxed, script-free CSP, `X-Download-Options: noopen`, no caching.
   * A file a user uploaded can then never run script on your origin, even if the browser sniffs it as HTML.
   * The CSP is always enforced and `Cache-Control` is always `no-store`, whatever this policy's
   * `reportOnly` and `cacheControl` are: browsers ignore `sandbox` in a Report-Only policy.
   */
  forDownload(): SecurityHeaders {
    return this.with({ variant: 'download', reportOnly: false, cacheControl: 'no-store' }, 'download');
  }

  /**
   * For a widget that other sites may frame: `frame-ancestors` lists exactly `origins`, the
   * X-Frame-Options header is dropped (it cannot express a list) and CORP becomes `cross-origin`.
   */
  forEmbedding(origins: readonly string[]): SecurityHeaders {
    return this.with({ frameAncestors: origins, corp: 'cross-origin' }, 'embeddable');
  }

  /**
   * For pages that open or return from an OAuth/payment popup: COOP `same-origin-allow-popups`,
   * so the popup keeps its `window.opener`. Apply it to the opener page and the callback page.
   */
  forOAuthPopup(): SecurityHeaders {
    return this.with({ coop: 'same-origin-allow-popups' }, 'oauth-popup');
  }
}
