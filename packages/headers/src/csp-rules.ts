/**
 * The rules a Content-Security-Policy must pass, checked once when {@link csp} or
 * `ContentSecurityPolicy.parse()` builds it: what browsers would ignore, and what lets injected
 * markup run script, after CSP3 fallback between directives.
 */
import { closestName } from './closest-key.ts';
import type { CspOptions } from './csp.ts';
import { HeadersError } from './errors.ts';

/**
 * Placeholder for the per-request nonce in a source list. The policy renders it as
 * `'nonce-<fresh value>'` on every response.
 *
 * @example
 * ```ts
 * import { csp, NONCE } from '@rampart/headers';
 * csp({ 'default-src': ["'none'"], 'script-src': [NONCE, "'strict-dynamic'"], 'base-uri': ["'none'"] }).usesNonce; // true
 * ```
 */
export const NONCE = "'nonce'" as const;

/** Every directive the builder accepts. Internal, shared with the preset option checks. */
export const KNOWN_DIRECTIVES: ReadonlySet<string> = new Set<string>([
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
/** {@link KNOWN_DIRECTIVES} as a list, for the nearest-name suggestion. */
const DIRECTIVE_NAMES: readonly string[] = [...KNOWN_DIRECTIVES];
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
/** Where worker scripts load from: worker-src, else child-src, else script-src. */
const WORKER_DIRECTIVES = ['worker-src', 'child-src'] as const;

/** `*`, `*.host`, `https://*.host`, or a scheme alone (`https:`, `data:`, `blob:`): any host. */
function isBroad(lower: string): boolean {
  return lower.includes('*') || /^[a-z][a-z0-9+.-]*:$/.test(lower);
}

/** The per-response NONCE placeholder or a hash source (a literal `'nonce-…'` is refused elsewhere). */
function isNonceOrHash(source: string): boolean {
  return source === NONCE || isHash(source);
}

/**
 * A hash source browsers honour: base64 (or base64url) of a full digest. Chromium ignores a
 * malformed one (`'sha256-x'`, `'sha256-=abc'`), and with it the hash's power to turn
 * `'unsafe-inline'` off, so a malformed hash must not count as one.
 */
function isHash(source: string): boolean {
  return /^'(?:sha256-[A-Za-z0-9+/_-]{43}=?|sha384-[A-Za-z0-9+/_-]{64}|sha512-[A-Za-z0-9+/_-]{86}(?:==)?)'$/i.test(
    source,
  );
}

/** Longest nonce value a policy renders; a real one is 22-24 characters (128 bits). */
const MAX_NONCE_LENGTH = 256;

/**
 * A nonce value as the CSP grammar allows it (base64 or base64url, `=` only as trailing padding),
 * non-empty and of sane length. Chromium ignores a malformed `'nonce-…'`, which turns
 * `'unsafe-inline'` back on; quotes or spaces would inject sources into the header.
 */
export function isNonceValue(value: unknown): value is string {
  return typeof value === 'string' && value.length <= MAX_NONCE_LENGTH && /^[A-Za-z0-9+/_-]+={0,2}$/.test(value);
}

/** Thrown (per response) when a nonce policy is rendered without a usable nonce. */
export function invalidNonce(): HeadersError {
  return new HeadersError(
    'ERR_HEADERS_INVALID_CSP',
    `this Content-Security-Policy needs the response's nonce: pass a non-empty base64 or base64url value of at most ${MAX_NONCE_LENGTH} characters, such as generateNonce() returns`,
  );
}

/** A nonce source as the CSP grammar writes it (base64 value, `=` only as trailing padding). */
function isWellFormedNonce(source: string): boolean {
  return /^'nonce-[A-Za-z0-9+/_-]+={0,2}'$/i.test(source);
}

/** Exactly `'none'`, in any case. */
function isOnlyNone(sources: readonly string[]): boolean {
  return sources.length === 1 && hasKeyword(sources, "'none'");
}

/** Browsers match CSP keywords case-insensitively: `'UNSAFE-INLINE'` is `'unsafe-inline'`. */
function hasKeyword(sources: readonly string[], keyword: string): boolean {
  return sources.some((source) => typeof source === 'string' && source.toLowerCase() === keyword);
}

/**
 * The known directive an unknown name is a near-miss of (`script_src`, `scirpt-src`, `SCRIPT-SRC`),
 * if any. Only names of ASCII letters, digits, `-` and `_` can be one, so a name that differs by an
 * invisible or non-ASCII character never is (see {@link closestName}).
 */
export function nearestDirective(name: string): string | undefined {
  return closestName(name, DIRECTIVE_NAMES);
}

/**
 * What a name with a non-ASCII character has, for a directive name or a Permissions-Policy feature
 * that looks right but is not: browsers do not take a non-breaking space or a dotless `ı` for what
 * it looks like. Internal, shared with the preset option checks.
 */
export const NON_ASCII_NAME = 'characters outside a-z, 0-9 and - (a non-breaking or other non-ASCII space, say)';

/**
 * What is wrong with the characters of a directive name outside a-z, 0-9 and `-` that is no
 * near-miss of a known one: characters a browser does not take for what they look like (a
 * non-breaking space, a dotless `ı`), a `_`, or other ASCII (a space, a control character, punctuation).
 */
function nameCharacters(name: unknown): string {
  if (typeof name !== 'string' || /\P{ASCII}/u.test(name)) return NON_ASCII_NAME;
  return name.includes('_')
    ? '_, which no directive name has (words are joined by -, as in script-src)'
    : 'characters outside a-z, 0-9 and - (a space, a control character or punctuation)';
}

/**
 * How to fix a directive name the builder does not know: the known directive it is a near-miss of
 * (never the name itself: anything else could be a pasted token), else what is wrong with it;
 * `match`: that near-miss, when the caller already looked it up.
 */
export function unknownDirectiveFix(name: string, match = nearestDirective(name)): string {
  if (match !== undefined) return `did you mean ${match}?`;
  return /[^a-z0-9-]/.test(name) ? `its name has ${nameCharacters(name)}: retype it` : 'check its spelling';
}

/** Every problem of a policy, as messages that name directives and positions, never sources. */
export function validate(
  entries: readonly (readonly [string, readonly string[]])[],
  options: CspOptions,
  rendered: boolean,
): string[] {
  const nonceOrHash = (source: string): boolean => isNonceOrHash(source) || (rendered && isWellFormedNonce(source));
  const problems: string[] = [];
  // The string 'false' is truthy: it would send Report-Only or name a deviation nobody meant.
  for (const flag of ['reportOnly', 'dangerouslyAllowUnsafeInlineStyles', 'dangerouslyAllowUnsafeEval'] as const) {
    if (options[flag] !== undefined && typeof options[flag] !== 'boolean')
      problems.push(`${flag} must be true or false`);
  }
  const seen = new Set<string>();
  const byName = new Map<string, readonly string[]>();
  entries.forEach(([name, sources], index) => {
    // directive-name = 1*( ALPHA / DIGIT / "-" ): browsers ignore anything else, such as a name
    // behind a non-breaking space, and the policy falls back to its other directives. A near-miss
    // (`script_src`, `SCRIPT_SRC`) is answered below with the directive it was meant to be.
    if (typeof name !== 'string' || (/[^a-z0-9-]/.test(name) && nearestDirective(name) === undefined)) {
      problems.push(
        `directive #${index + 1} has a name with ${nameCharacters(name)}; browsers ignore it: retype the name`,
      );
      return;
    }
    if (!KNOWN_DIRECTIVES.has(name)) {
      // Only a near-miss gets a suggestion, which names the known directive and never this entry:
      // anything else could be a pasted token, so it is named by position alone.
      problems.push(`directive #${index + 1} is not a CSP directive this builder knows; ${unknownDirectiveFix(name)}`);
      return;
    }
    if (seen.has(name)) {
      problems.push(`${name} appears more than once; browsers ignore every repeat, so merge the sources into one`);
      return;
    }
    seen.add(name);
    // The cross-directive checks below read strings only; anything else is reported right here.
    byName.set(name, Array.isArray(sources) ? sources.filter((s): s is string => typeof s === 'string') : []);
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
      // Node refuses to send most non-ASCII header values: every response would fail, not start-up.
      if (/[^\x21-\x7e]/.test(source)) {
        problems.push(
          `${where} contains a non-ASCII character; write hosts in punycode (xn--) and percent-encode paths`,
        );
        return;
      }
      const lower = source.toLowerCase();
      if (KEYWORDS.has(lower) || /^(?:nonce|sha256|sha384|sha512)-/.test(lower)) {
        problems.push(`${where} is a keyword, nonce or hash without single quotes; write it quoted, e.g. 'self'`);
      }
      if (/^'(?:sha256|sha384|sha512)-/i.test(source) && !isHash(source)) {
        problems.push(`${where} is not a well-formed hash (base64 of the whole digest), which browsers ignore`);
      }
      if (rendered && /^'nonce-/i.test(source) && !isWellFormedNonce(source)) {
        problems.push(`${where} is not a well-formed nonce, which browsers ignore`);
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
  // The lists browsers actually consult, after CSP3 fallback: elements use script-src-elem, else
  // script-src, else default-src; event handlers, eval and workers use script-src, else default-src.
  // So with script-src-elem alone, default-src still decides whether an injected onerror= runs.
  const scriptSrc = byName.has('script-src') ? 'script-src' : 'default-src';
  const elemSrc = byName.has('script-src-elem') ? 'script-src-elem' : scriptSrc;
  const scriptLists = [...new Set([scriptSrc, elemSrc])].filter((d) => byName.has(d));
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
      // So is `http:` in Google's published strict policy (for CSP1 browsers).
      const fallback = (lower === 'https:' || lower === 'http:') && strictDynamic && hasNonceOrHash;
      if (!fallback && isBroad(lower)) {
        problems.push(`${name} source #${i + 1} is a wildcard or scheme source that lets any host run script`);
      }
    });
  }
  // 'unsafe-eval' turns any injected string that reaches eval, new Function or a string timer into
  // script. Only the list that decides eval matters: script-src, else default-src. 'wasm-unsafe-eval'
  // is deliberately not refused: it allows compiling WebAssembly, never running strings as JavaScript.
  if (options.dangerouslyAllowUnsafeEval !== true && hasKeyword(byName.get(scriptSrc) ?? [], "'unsafe-eval'")) {
    problems.push(
      `${scriptSrc} allows 'unsafe-eval', which runs injected strings as script; remove it, or set dangerouslyAllowUnsafeEval`,
    );
  }
  // frame-ancestors: a wildcard or scheme source lets any site frame the page (clickjacking).
  (byName.get('frame-ancestors') ?? []).forEach((source, i) => {
    if (isBroad(source.toLowerCase())) {
      problems.push(
        `frame-ancestors source #${i + 1} is a wildcard or scheme source that lets other sites frame the page; list their origins`,
      );
    }
  });
  // Workers run script with the page's origin. `blob:` is the exception: only script already
  // running in the page can mint a blob: URL, and map and editor libraries start workers from one.
  // Only the list that decides workers: worker-src, else child-src (which with worker-src set
  // governs frames only, like frame-src), else the script list checked above.
  const workerList = WORKER_DIRECTIVES.find((d) => byName.has(d));
  for (const name of workerList === undefined ? [] : [workerList]) {
    (byName.get(name) ?? []).forEach((source, i) => {
      const lower = source.toLowerCase();
      if (lower !== 'blob:' && isBroad(lower)) {
        problems.push(`${name} source #${i + 1} is a wildcard or scheme source that lets any host run worker script`);
      }
    });
  }
  // <object> and <embed> load plugins and whole documents; no policy needs them. object-src falls
  // back to default-src, so either names 'none'.
  const objectSrc = byName.get('object-src');
  if (objectSrc !== undefined) {
    if (!isOnlyNone(objectSrc)) {
      problems.push("object-src must be 'none': <object> and <embed> can load plugins and documents that run script");
    }
  } else if (byName.has('default-src') && !isOnlyNone(byName.get('default-src') ?? [])) {
    problems.push(
      "object-src is missing and default-src is not 'none', which lets <object> and <embed> load; add object-src 'none'",
    );
  }
  // base-uri has no fallback. An injected <base href> re-points every relative script URL, and a
  // nonced <script src="/app.js"> then loads from the attacker's host with a valid nonce.
  const baseUri = byName.get('base-uri');
  (baseUri ?? []).forEach((source, i) => {
    if (isBroad(source.toLowerCase())) {
      problems.push(`base-uri source #${i + 1} is a wildcard or scheme source; use 'none' or 'self'`);
    }
  });
  if (baseUri === undefined && scriptLists.some((name) => (byName.get(name) ?? []).some(nonceOrHash))) {
    problems.push(
      "base-uri is missing on a policy that trusts scripts by nonce or hash; an injected <base> would load them from another host: add base-uri 'none'",
    );
  }
  // Event-handler attributes: a nonce never covers them, so 'unsafe-inline' here runs every
  // injected onerror= / onclick= whatever script-src says (only a hash disables it).
  const attr = byName.get('script-src-attr');
  if (attr !== undefined && hasKeyword(attr, "'unsafe-inline'") && !attr.some(isHash)) {
    problems.push(
      "script-src-attr allows 'unsafe-inline', which runs injected event-handler attributes; move handlers to addEventListener",
    );
  }
  if (options.dangerouslyAllowUnsafeInlineStyles !== true) {
    // The lists browsers consult for styles, after CSP3 fallback: <style> elements use
    // style-src-elem, else style-src, else default-src; style= attributes use style-src-attr, else
    // style-src, else default-src. An injected style="position:fixed" is a phishing overlay. In
    // either list a nonce or hash turns 'unsafe-inline' off (CSP3 "allow all inline behavior";
    // Chromium agrees for attributes too), and no nonce matches an attribute, so that list then
    // blocks every style attribute.
    const styleSrc = byName.has('style-src') ? 'style-src' : 'default-src';
    const styleLists = [
      byName.has('style-src-elem') ? 'style-src-elem' : styleSrc,
      byName.has('style-src-attr') ? 'style-src-attr' : styleSrc,
    ];
    for (const name of new Set(styleLists)) {
      const sources = byName.get(name);
      if (sources !== undefined && hasKeyword(sources, "'unsafe-inline'") && !sources.some(nonceOrHash)) {
        problems.push(
          `${name} allows 'unsafe-inline' without a nonce or hash, which applies injected style attributes or elements; use NONCE, or set dangerouslyAllowUnsafeInlineStyles`,
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
  const approx = [...byName].reduce((n, [name, sources]) => n + name.length + 2 + sources.join(' ').length + 40, 0);
  if (approx > max) problems.push(`the policy renders to more than ${max} bytes; proxies may drop it`);
  return problems;
}
