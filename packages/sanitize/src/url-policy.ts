/**
 * The URL policy: what a URL attribute (or a CSS `url()`) may point to. Every check runs on the
 * value the browser will see (the parser has decoded entities once) and, again, on a value decoded
 * a second time and stripped of every control and whitespace character, so that obfuscations like
 * `jav&#x09;ascript:` or zero-padded `&#0000106;` cannot hide a scheme.
 */

import { escapeAttribute } from './serialize.ts';

/** Which part of a document a URL ends up in; decides the allowed schemes. */
export type UrlKind = 'link' | 'image' | 'cite' | 'css-image';

/** What the `rewriteUrl` hook is told about a URL. */
export interface UrlContext {
  /** Element name, lower case (`a`, `img`, ...). */
  readonly tag: string;
  /** Attribute name (`href`, `src`, `srcset`, `cite`, `style`). */
  readonly attribute: string;
  readonly kind: UrlKind;
}

/**
 * Rewrites an allowed URL, typically to route images through a proxy. Return a string to replace
 * the URL, `null` to drop it, `undefined` to keep it. The returned URL is checked again by the
 * whole policy. Must be idempotent (a URL it already rewrote comes back unchanged), so that
 * sanitizing sanitized output changes nothing.
 */
export type RewriteUrl = (url: string, context: UrlContext) => string | null | undefined;

/** The compiled URL rules of one sanitizer. */
export interface UrlRules {
  /** Schemes allowed on links (`a[href]`), lower case without the colon. */
  readonly linkSchemes: ReadonlySet<string>;
  readonly allowDataImages: boolean;
  /** Absolute image URLs without a hook or a host allowlist (tracking pixels, IP leaks). */
  readonly allowRemoteImages: boolean;
  readonly allowRelative: boolean;
  readonly linkHosts: HostMatcher | undefined;
  readonly imageHosts: HostMatcher | undefined;
  readonly rewriteUrl: RewriteUrl | undefined;
  readonly maxUrlLength: number;
  readonly maxDataUrlLength: number;
}

/**
 * What the `rewriteUrl` hook added to the URLs of one sanitize call, in UTF-16 units (per URL, how
 * much longer it made it, never less than 0): as parsed (attribute characters in the tree, what the
 * attribute limit adds) and as written (escaped, `&` as `&amp;`: what the output limit adds). The
 * amplification limits add it once, not multiplied (the caller's additions are real output, but every
 * URL in the input, however short, would buy that much basis if it were multiplied like the input).
 */
export interface RewriteGrowth {
  parsed: number;
  written: number;
  /**
   * Per kept attribute that holds URLs (see {@link RewrittenAttribute}), when the verification pass
   * is to count only the URLs that survive into its tree.
   */
  readonly attributes?: Map<string, RewrittenAttribute>;
}

/**
 * The kept attributes of one name and value (the value as kept, which is what a parser reads back
 * from the written attribute; keyed by {@link rewrittenAttributeKey}): how many elements
 * sanitize-html wrote with it and the least the hook added to any one of them.
 */
export interface RewrittenAttribute {
  count: number;
  parsed: number;
  written: number;
}

/** The key of an attribute in {@link RewriteGrowth.attributes}. */
export function rewrittenAttributeKey(name: string, value: string): string {
  return `${name}\u0000${value}`;
}

/** Adds `grown`, what the hook added to one kept attribute, to `growth`, and records it per attribute if asked. */
export function addRewriteGrowth(growth: RewriteGrowth, grown: RewriteGrowth, name?: string, value?: string): void {
  growth.parsed += grown.parsed;
  growth.written += grown.written;
  if (growth.attributes === undefined || name === undefined || value === undefined) return;
  const key = rewrittenAttributeKey(name, value);
  const seen = growth.attributes.get(key);
  if (seen === undefined) {
    growth.attributes.set(key, { count: 1, parsed: grown.parsed, written: grown.written });
    return;
  }
  seen.count++;
  seen.parsed = Math.min(seen.parsed, grown.parsed);
  seen.written = Math.min(seen.written, grown.written);
}

/** The outcome of checking one URL. */
export type UrlVerdict =
  | { readonly ok: true; readonly value: string }
  | { readonly ok: false; readonly reason: string };

/** The prefix every id and same-page fragment gets, so user content cannot clobber page globals.
 *
 * @example
 * ```ts
 * import { ID_PREFIX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<h2 id="a">x</h2>'); // `<h2 id="${ID_PREFIX}a">x</h2>`
 * ```
 */
export const ID_PREFIX = 'user-content-';

/** Schemes that no option can allow.
 *
 * @example
 * ```ts
 * import { FORBIDDEN_SCHEMES } from '@rampart/sanitize';
 * FORBIDDEN_SCHEMES.has('javascript'); // true
 * ```
 */
export const FORBIDDEN_SCHEMES: ReadonlySet<string> = new Set([
  'javascript',
  'vbscript',
  'livescript',
  'mocha',
  'data',
  'blob',
  'file',
  'filesystem',
  'about',
  'jar',
  'view-source',
  'chrome',
  'resource',
  'ms-its',
  'mhtml',
  'intent',
]);

const WEB_SCHEMES: ReadonlySet<string> = new Set(['http', 'https']);
const RASTER_DATA_URL = /^data:image\/(?:png|gif|jpeg|webp|avif);base64,[A-Za-z0-9+/]+={0,2}$/i;
const SCHEME = /^([a-zA-Z][a-zA-Z0-9+.-]*):/;
const TAB_NEWLINE = /[\t\n\r]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
// Default-ignorable code points (soft hyphen, U+034F, U+180E, U+115F, tags, variation selectors,
// ...) render as nothing, so `javascript\u00ad:` reads as `javascript:` to a person, a mail client
// or a Markdown renderer that drops them.
const ALL_CONTROL_AND_SPACE =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
  /[\u0000-\u0020\u007f-\u009f\u00a0\u1680\u2000-\u200f\u2028-\u202f\u205f-\u2064\u3000\ufeff\p{Default_Ignorable_Code_Point}]/gu;
const BASE = 'https://rampart.invalid/rampart-base/';
const BASE_HOST = 'rampart.invalid';

const NAMED: Readonly<Record<string, string>> = {
  colon: ':',
  tab: '\t',
  newline: '\n',
  lpar: '(',
  rpar: ')',
  sol: '/',
  bsol: '\\',
  amp: '&',
  quot: '"',
  apos: "'",
  lt: '<',
  gt: '>',
  nbsp: '\u00a0',
  period: '.',
  comma: ',',
  num: '#',
  excl: '!',
  quest: '?',
};

/** Decodes numeric character references (any zero padding, `;` optional) and a few named ones. */
export function decodeEntitiesLoose(value: string): string {
  let current = value;
  // Three rounds catch double and triple encoding; anything deeper is rejected by the caller
  // (see isStillEncodedScheme).
  for (let round = 0; round < 3 && current.includes('&'); round++) {
    const next = current
      .replace(
        /&#(?:[xX]([0-9a-fA-F]{1,16})|([0-9]{1,16}));?/g,
        (_m, hex: string | undefined, dec: string | undefined) => {
          const code = hex === undefined ? Number.parseInt(dec ?? '', 10) : Number.parseInt(hex, 16);
          return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '\ufffd';
        },
      )
      .replace(/&([a-zA-Z]{2,8});?/g, (m, name: string) => NAMED[name.toLowerCase()] ?? m);
    if (next === current) break;
    current = next;
  }
  return current;
}

// An entity of the kind decodeEntitiesLoose decodes: numeric, or one of NAMED.
const ENTITY_TEXT = new RegExp(`&(?:#(?:[xX][0-9a-fA-F]|[0-9])|(?:${Object.keys(NAMED).join('|')})(?![a-zA-Z]))`, 'i');

// Where a scheme can no longer be: a path, query or fragment starts. A `#` right after `&` is a
// numeric entity (`&#106;`), which is exactly what must still be looked at.
const SCHEME_AREA_END = /[/?]|(?<!&)#/;

/**
 * True when `decoded` (after decodeEntitiesLoose's rounds) still holds entity text before its first
 * `/`, `?` or `#` (not the `#` of `&#`), where a scheme would be: four or more levels of encoding,
 * which only hide a scheme. A scheme never comes after any of the three (`page.html#a&amp;lt;` is a
 * fragment).
 */
function isStillEncodedScheme(decoded: string): boolean {
  const end = decoded.search(SCHEME_AREA_END);
  return ENTITY_TEXT.test(end < 0 ? decoded : decoded.slice(0, end));
}

/** Matches hosts against `example.com` / `*.example.com` patterns. */
export interface HostMatcher {
  matches(host: string): boolean;
}

const HOST_PATTERN = /^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*$/;

/** True when `pattern` is a valid host-allowlist entry. */
export function isValidHostPattern(pattern: string): boolean {
  return HOST_PATTERN.test(pattern);
}

/** Compiles a host allowlist; entries must satisfy {@link isValidHostPattern}. */
export function hostMatcher(patterns: readonly string[]): HostMatcher {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const p of patterns) {
    if (p.startsWith('*.')) suffixes.push(p.slice(1));
    else exact.add(p);
  }
  return {
    matches(host: string): boolean {
      return exact.has(host) || suffixes.some((s) => host.endsWith(s) && host.length > s.length);
    },
  };
}

function schemesFor(kind: UrlKind, rules: UrlRules): ReadonlySet<string> {
  return kind === 'link' ? rules.linkSchemes : WEB_SCHEMES;
}

function schemeOf(value: string): string | undefined {
  return SCHEME.exec(value)?.[1]?.toLowerCase();
}

function checkShape(raw: string, ctx: UrlContext, rules: UrlRules, checkHosts: boolean): UrlVerdict {
  const verdict = checkRawShape(raw, ctx, rules, checkHosts);
  // Normalizing can lengthen the value (`new URL()` percent-encodes, fragments get ID_PREFIX); the
  // verifier caps what is kept, so the cap applies to that too, or the whole document fails closed.
  if (verdict.ok && !verdict.value.startsWith('data:') && verdict.value.length > rules.maxUrlLength) {
    return { ok: false, reason: 'URL too long' };
  }
  return verdict;
}

function checkRawShape(raw: string, ctx: UrlContext, rules: UrlRules, checkHosts: boolean): UrlVerdict {
  // The URL parser strips C0 controls and spaces at both ends. Index loops, not a regex:
  // `[\u0000-\u0020]+$` is retried from every blank of a long inner run, which is quadratic.
  let start = 0;
  let end = raw.length;
  while (start < end && raw.charCodeAt(start) <= 0x20) start++;
  while (end > start && raw.charCodeAt(end - 1) <= 0x20) end--;
  // The caps apply to the raw value, before any pass over it: `img src` is exempt from
  // maxAttributeLength, so it can be the whole input.
  const dataUrl = raw.slice(start, start + 5).toLowerCase() === 'data:';
  if (raw.length > (dataUrl ? rules.maxDataUrlLength : rules.maxUrlLength)) {
    return { ok: false, reason: dataUrl ? 'data: URL too long' : 'URL too long' };
  }
  const value = raw.slice(start, end).replace(TAB_NEWLINE, '');
  if (CONTROL.test(value)) return { ok: false, reason: 'control character in URL' };
  // The same value decoded again and with every invisible character removed: if *that* names a
  // forbidden scheme, some consumer down the line (a mail client, a Markdown renderer) may see it.
  const decoded = decodeEntitiesLoose(value).replace(ALL_CONTROL_AND_SPACE, '');
  if (isStillEncodedScheme(decoded)) return { ok: false, reason: 'obfuscated scheme' };
  const hidden = schemeOf(decoded);
  const scheme = schemeOf(value);
  if (hidden !== undefined && hidden !== scheme && !schemesFor(ctx.kind, rules).has(hidden)) {
    return { ok: false, reason: 'obfuscated scheme' };
  }
  if (scheme === 'data') {
    if (ctx.kind !== 'image' || ctx.tag !== 'img' || !rules.allowDataImages) {
      return { ok: false, reason: 'data: URL outside img' };
    }
    if (value.length > rules.maxDataUrlLength) return { ok: false, reason: 'data: URL too long' };
    if (!RASTER_DATA_URL.test(value)) return { ok: false, reason: 'data: URL is not a base64 raster image' };
    return { ok: true, value };
  }
  if (value.length > rules.maxUrlLength) return { ok: false, reason: 'URL too long' };
  if (scheme !== undefined) {
    if (!schemesFor(ctx.kind, rules).has(scheme)) return { ok: false, reason: 'scheme not allowed' };
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      return { ok: false, reason: 'URL does not parse' };
    }
    if (url.protocol !== `${scheme}:`) return { ok: false, reason: 'URL does not parse' };
    if (WEB_SCHEMES.has(scheme)) {
      if (url.hostname === '') return { ok: false, reason: 'URL has no host' };
      if (url.username !== '' || url.password !== '') return { ok: false, reason: 'credentials in URL' };
      const image = ctx.kind === 'image' || ctx.kind === 'css-image';
      if (image && !rules.allowRemoteImages && rules.imageHosts === undefined && rules.rewriteUrl === undefined) {
        return { ok: false, reason: 'remote image needs rewriteUrl, allowedImageHosts or allowRemoteImages' };
      }
      const hosts = image ? rules.imageHosts : rules.linkHosts;
      if (checkHosts && hosts !== undefined && !hosts.matches(url.hostname))
        return { ok: false, reason: 'host not allowed' };
    }
    return { ok: true, value: url.href };
  }
  // Relative URL.
  if (ctx.kind === 'css-image') return { ok: false, reason: 'relative URL in CSS' };
  const fragmentLink = value.startsWith('#') && ctx.kind === 'link';
  if (!rules.allowRelative && !fragmentLink) return { ok: false, reason: 'relative URL not allowed' };
  if (/^[\\/]{2}/.test(value)) return { ok: false, reason: 'protocol-relative URL' };
  let resolved: URL;
  try {
    resolved = new URL(value, BASE);
  } catch {
    return { ok: false, reason: 'URL does not parse' };
  }
  if (resolved.hostname !== BASE_HOST || resolved.protocol !== 'https:') {
    return { ok: false, reason: 'relative URL leaves the page origin' };
  }
  if (fragmentLink) {
    const fragment = value.slice(1);
    if (fragment === '') return { ok: true, value };
    return { ok: true, value: fragment.startsWith(ID_PREFIX) ? value : `#${ID_PREFIX}${fragment}` };
  }
  return { ok: true, value };
}

/**
 * Checks one URL. In `sanitize` mode the `rewriteUrl` hook runs on an allowed URL and its result
 * is checked again; CSS `url()` needs the hook. In `verify` mode the hook does not run: the value
 * must already be a fixpoint of the policy. What the hook added to a URL it kept (never less than
 * 0; as parsed and as written, escaped) is added to `growth`; the caller counts it only for values
 * it keeps.
 */
export function checkUrl(
  raw: string,
  ctx: UrlContext,
  rules: UrlRules,
  mode: 'sanitize' | 'verify',
  growth?: RewriteGrowth,
): UrlVerdict {
  const hooked = mode === 'sanitize' && rules.rewriteUrl !== undefined;
  // Host allowlists apply to the URL the browser will fetch: after the hook when there is one.
  const first = checkShape(raw, ctx, rules, !hooked);
  if (!first.ok || mode === 'verify') return first;
  if (rules.rewriteUrl === undefined) {
    return ctx.kind === 'css-image' ? { ok: false, reason: 'CSS url() needs a rewriteUrl hook' } : first;
  }
  let rewritten: unknown;
  try {
    rewritten = rules.rewriteUrl(first.value, ctx);
  } catch {
    // A failing hook must not let the original URL through, nor crash the request.
    return { ok: false, reason: 'rewriteUrl threw' };
  }
  if (rewritten === null) return { ok: false, reason: 'dropped by rewriteUrl' };
  if (typeof rewritten !== 'string' && rewritten !== undefined) {
    return { ok: false, reason: 'rewriteUrl returned a non-string' };
  }
  const second = checkShape(rewritten ?? first.value, ctx, rules, true);
  if (second.ok && growth !== undefined) {
    // As parsed (attribute characters) and as written (escaped: a `&` the hook adds is 5 written, one
    // it percent-encodes 3 parsed and 5 fewer written), each for the limit it is added to.
    growth.parsed += Math.max(0, second.value.length - first.value.length);
    growth.written += Math.max(0, escapeAttribute(second.value).length - escapeAttribute(first.value).length);
  }
  return second.ok ? second : { ok: false, reason: `rewritten URL rejected: ${second.reason}` };
}

/** One `srcset` image candidate. */
export interface SrcsetCandidate {
  readonly url: string;
  readonly descriptor: string;
}

const DESCRIPTOR = /^(?:[1-9][0-9]{0,4}w|(?:[0-9]{1,2}(?:\.[0-9]{1,3})?|\.[0-9]{1,3})x)?$/;
const SPACE = /[\t\n\f\r ]/;

/**
 * Parses `srcset` the way the HTML standard does (URLs may contain commas, trailing commas end a
 * URL). Returns `undefined` when a descriptor is malformed, so the caller can drop the candidate.
 */
export function parseSrcset(value: string): Array<SrcsetCandidate | undefined> {
  const out: Array<SrcsetCandidate | undefined> = [];
  let i = 0;
  const n = value.length;
  while (i < n) {
    while (i < n && (SPACE.test(value[i] as string) || value[i] === ',')) i++;
    if (i >= n) break;
    let start = i;
    while (i < n && !SPACE.test(value[i] as string)) i++;
    let url = value.slice(start, i);
    let descriptor = '';
    if (url.endsWith(',')) {
      // A loop, not `/,+$/`, which is retried from every comma of a long inner run (quadratic).
      let end = url.length;
      while (end > 0 && url.charCodeAt(end - 1) === 0x2c) end--;
      url = url.slice(0, end);
    } else {
      start = i;
      let depth = 0;
      while (i < n && (value[i] !== ',' || depth > 0)) {
        if (value[i] === '(') depth++;
        else if (value[i] === ')') depth = Math.max(0, depth - 1);
        i++;
      }
      descriptor = value.slice(start, i).trim().replace(/\s+/g, ' ');
      i++;
    }
    out.push(DESCRIPTOR.test(descriptor) ? { url, descriptor } : undefined);
  }
  return out;
}

/** Serializes candidates so that {@link parseSrcset} reads them back unchanged. */
export function serializeSrcset(candidates: readonly SrcsetCandidate[]): string {
  return candidates.map((c) => (c.descriptor === '' ? c.url : `${c.url} ${c.descriptor}`)).join(', ');
}
