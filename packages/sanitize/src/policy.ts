/**
 * Options → a frozen, compiled policy. Validation runs once, when the sanitizer is created, and
 * lists every problem at once. Options extend the chosen preset; anything a hard rule forbids is
 * refused, never silently ignored.
 */
import { CSS_PROPERTIES, FORBIDDEN_CSS_PROPERTIES } from './css-policy.ts';
import { SanitizeError } from './errors.ts';
import { FORBIDDEN_ELEMENTS, isForbiddenAttribute } from './hard-rules.ts';
import { LIMIT_KEYS, OPTION_KEYS, unknownKeyProblems } from './option-keys.ts';
import { PRESETS, type PresetName } from './presets.ts';
import { escapeText } from './serialize.ts';
import { FORBIDDEN_SCHEMES, hostMatcher, isValidHostPattern, type RewriteUrl, type UrlRules } from './url-policy.ts';

/** Size and depth limits; see the README's options table for defaults. */
export interface SanitizeLimits {
  /** Inputs larger than this (UTF-8 bytes) are refused before parsing. Default 1 MiB. */
  readonly maxInputBytes?: number;
  /** Elements nested deeper than this are unwrapped (text kept). Default 64, at most 200 (Chromium flattens trees deeper than 512). */
  readonly nestingLimit?: number;
  /** Output longer than this is truncated without breaking a tag or an entity. Default: none. */
  readonly maxOutputChars?: number;
  /** Longer attribute values are dropped. Default 4096. */
  readonly maxAttributeLength?: number;
  /** Attributes after this many on one element are dropped. Default 32. */
  readonly maxAttributesPerElement?: number;
  /** Longer URLs are dropped. Default 4096. */
  readonly maxUrlLength?: number;
  /** Longer `data:` image URLs are dropped. Default 262144. */
  readonly maxDataUrlLength?: number;
}

/** Options of `createSanitizer()`. Everything extends the preset; nothing relaxes a hard rule. */
export interface SanitizeOptions {
  /** Default `ugc`. */
  readonly preset?: PresetName;
  /** Extra elements to keep. Hard-rule elements (script, svg, textarea, ...) are refused. */
  readonly allowTags?: readonly string[];
  /** Extra attributes per element (`*` for all), from the known attribute table or `data-*`. */
  readonly allowAttributes?: Readonly<Record<string, readonly string[]>>;
  /** Class names (or `prefix-*` patterns) to keep per element (`*` for all). */
  readonly allowClasses?: Readonly<Record<string, readonly string[]>>;
  /** Extra CSS properties for `style` (from the package's CSS table; never `position`, `z-index`). */
  readonly allowCssProperties?: readonly string[];
  /** Extra link schemes besides http, https, mailto, tel (never javascript, data, ...). */
  readonly allowSchemes?: readonly string[];
  /** Keep `data:image/(png|gif|jpeg|webp|avif);base64` on `img`. Default true. */
  readonly allowDataImages?: boolean;
  /**
   * Keep absolute image URLs even without `rewriteUrl` or `allowedImageHosts`. Default false:
   * a remote image is a request from every reader's browser (tracking pixels, IP leaks).
   */
  readonly allowRemoteImages?: boolean;
  /**
   * Keep relative URLs (never protocol-relative `//host`). Default true, false for `email`.
   * Same-page `#fragment` links are kept either way.
   */
  readonly allowRelativeUrls?: boolean;
  /** When set, absolute link URLs must point to one of these hosts (`example.com`, `*.example.com`). */
  readonly allowedLinkHosts?: readonly string[];
  /** When set, absolute image URLs (after `rewriteUrl`) must point to one of these hosts. */
  readonly allowedImageHosts?: readonly string[];
  /** Rewrites allowed URLs (image proxy); its result is checked again. Required for CSS `url()`. */
  readonly rewriteUrl?: RewriteUrl;
  /** Extra rel tokens on every link (added to the preset's; `nofollow ugc` stay on UGC presets). */
  readonly linkRel?: readonly string[];
  /** Force `target="_blank"` (and so `rel="noopener noreferrer"`) on `external` or `all` links. */
  readonly targetBlank?: 'none' | 'external' | 'all';
  readonly limits?: SanitizeLimits;
  /** `standard`: re-parse and re-check every output. `strict`: also sanitize the output again and require no change. */
  readonly verify?: 'standard' | 'strict';
  /** Appended to truncated output (as text). Default `…`. */
  readonly truncationMarker?: string;
}

/** How the value of one attribute is checked. */
export type AttributeRule =
  | 'url-link'
  | 'url-image'
  | 'url-cite'
  | 'srcset'
  | 'style'
  | 'id'
  | 'class'
  | 'rel'
  | 'target'
  | 'text'
  | 'boolean'
  | RegExp;

const COLOR = /^(?:#[0-9a-fA-F]{3,8}|[a-zA-Z]{3,20})$/;
// 0 to 50 (MAX_BORDER_PX): cellpadding, cellspacing, border, hspace and vspace in mail are 0 to 20;
// `<table cellpadding="999">` sets the cell's text 1000 px in, out of a pane that clips its overflow.
const SMALL_INT = /^(?:[1-4]?[0-9]|50)$/;
// 0 to 1000 px (MAX_BOX_SIZE_PX) or 0 to 100 %: `<table width="9999">` with a right-aligned cell sets
// the text out of the pane, as CSS `width: 99999px` would.
const DIMENSION = /^(?:(?:[0-9]{1,3}|1000)(?:px)?|(?:[0-9]{1,2}|100)%)$/;

/** Every attribute the package knows how to check; options may only add from this table or `data-*`.
 *
 * @example
 * ```ts
 * import { ATTRIBUTE_RULES } from '@rampart/sanitize';
 * Object.keys(ATTRIBUTE_RULES).includes('colspan'); // true
 * ```
 */
export const ATTRIBUTE_RULES: Readonly<Record<string, AttributeRule>> = Object.freeze({
  href: 'url-link',
  src: 'url-image',
  srcset: 'srcset',
  cite: 'url-cite',
  style: 'style',
  id: 'id',
  class: 'class',
  rel: 'rel',
  target: 'target',
  title: 'text',
  alt: 'text',
  abbr: 'text',
  summary: 'text',
  lang: /^[a-zA-Z]{1,8}(?:-[a-zA-Z0-9]{1,8})*$/,
  dir: /^(?:ltr|rtl|auto)$/,
  translate: /^(?:yes|no)$/,
  width: DIMENSION,
  height: DIMENSION,
  colspan: /^[0-9]{1,4}$/,
  rowspan: /^[0-9]{1,4}$/,
  span: /^[0-9]{1,4}$/,
  start: /^-?[0-9]{1,6}$/,
  value: /^-?[0-9]{1,6}$/,
  align: /^(?:left|right|center|justify|top|middle|bottom)$/,
  valign: /^(?:top|middle|bottom|baseline)$/,
  type: /^(?:1|a|A|i|I|disc|circle|square)$/,
  reversed: 'boolean',
  open: 'boolean',
  nowrap: 'boolean',
  loading: /^(?:lazy|eager)$/,
  scope: /^(?:row|col|rowgroup|colgroup)$/,
  datetime: /^[0-9TZ:+\-. ]{1,40}$/,
  bgcolor: COLOR,
  color: COLOR,
  border: SMALL_INT,
  cellpadding: SMALL_INT,
  cellspacing: SMALL_INT,
  hspace: SMALL_INT,
  vspace: SMALL_INT,
  face: /^[\w ,'"-]{1,100}$/,
  // font size 1–7 (or ±n); hr height in px: at most 99, so an hr cannot push text out of view.
  size: /^[+-]?[0-9]{1,2}$/,
});

/** The compiled policy a sanitizer runs with. */
export interface Policy {
  readonly preset: PresetName;
  readonly tags: ReadonlySet<string>;
  /** tag → attribute → rule; `*` holds the global attributes. */
  readonly attributes: ReadonlyMap<string, ReadonlyMap<string, AttributeRule>>;
  readonly classes: ReadonlyMap<string, RegExp>;
  readonly cssProperties: ReadonlySet<string>;
  readonly urls: UrlRules;
  readonly linkRel: readonly string[];
  readonly targetBlank: 'none' | 'external' | 'all';
  readonly maxInputBytes: number;
  readonly nestingLimit: number;
  readonly maxOutputChars: number;
  readonly maxAttributeLength: number;
  readonly maxAttributesPerElement: number;
  readonly verify: 'standard' | 'strict';
  readonly truncationMarker: string;
}

/** rel tokens a user may write; the policy adds its own on top. */
export const USER_REL_TOKENS: ReadonlySet<string> = new Set([
  'nofollow',
  'ugc',
  'sponsored',
  'noopener',
  'noreferrer',
  'external',
]);

/** Table parts → the elements the HTML parser inserts around them when the input leaves them out. */
const IMPLIED_TABLE_PARENTS: ReadonlyMap<string, readonly string[]> = new Map([
  ['td', ['tr', 'tbody']],
  ['th', ['tr', 'tbody']],
  ['tr', ['tbody']],
  ['col', ['colgroup']],
]);

const NAME = /^[a-z][a-z0-9-]*$/;

/** An `allowAttributes` / `allowClasses` key: `'*'`, or the name of an element the hard rules do not forbid. */
const isElementKey = (tag: string): boolean => tag === '*' || (NAME.test(tag) && !FORBIDDEN_ELEMENTS.has(tag));
const CLASS_PATTERN = /^[A-Za-z0-9_-]+(?:-\*)?$|^\*$/;

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

function isPositiveInt(v: unknown, max: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= max;
}

/** Builds the policy, or throws `ERR_SANITIZE_INVALID_OPTIONS` listing every problem. */
export function resolvePolicy(options: SanitizeOptions = {}): Policy {
  // Checked first: every check below reads its keys.
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    const problem = "options must be an object such as { preset: 'ugc' } (or nothing, for ugc's defaults).";
    throw new SanitizeError('ERR_SANITIZE_INVALID_OPTIONS', `Invalid sanitizer options:\n- ${problem}`, {
      problems: [problem],
    });
  }
  const problems: string[] = [];
  const presetName = options.preset ?? 'ugc';
  const preset = Object.hasOwn(PRESETS, presetName) ? PRESETS[presetName] : undefined;
  if (preset === undefined) problems.push('options.preset must be one of ugc, email, minimal, text.');
  const base = preset ?? PRESETS.text;

  const tags = new Set(base.tags);
  (options.allowTags ?? []).forEach((tag, i) => {
    if (typeof tag !== 'string' || !NAME.test(tag)) {
      problems.push(`options.allowTags[${i}] must be a lower-case element name.`);
    } else if (FORBIDDEN_ELEMENTS.has(tag)) {
      problems.push(`options.allowTags[${i}] names an element a hard rule forbids; remove it.`);
    } else if (presetName === 'text') {
      problems.push('options.allowTags cannot be used with the text preset; pick ugc, email or minimal.');
    } else tags.add(tag);
  });

  // The parser implies these around table parts (`<table><tr>` gets a tbody, `<col>` a colgroup, a
  // bare `<td>` a tr): an allowlist with the part but not its implied parent would fail every table.
  for (const [part, implied] of IMPLIED_TABLE_PARENTS) if (tags.has(part)) for (const t of implied) tags.add(t);

  const attributes = new Map<string, Map<string, AttributeRule>>();
  const addAttributes = (source: Readonly<Record<string, readonly string[]>>, path: string | undefined): void => {
    for (const [tag, names] of Object.entries(source)) {
      if (path !== undefined && !isElementKey(tag)) {
        problems.push(`${path} has a key that is not an allowed element name; use an element name or '*'.`);
        continue;
      }
      const map = attributes.get(tag) ?? new Map<string, AttributeRule>();
      attributes.set(tag, map);
      (Array.isArray(names) ? names : []).forEach((name: unknown, i) => {
        const where = `${path}.${tag}[${i}]`;
        if (typeof name !== 'string' || !NAME.test(name)) {
          problems.push(`${where} must be a lower-case attribute name.`);
        } else if (isForbiddenAttribute(name)) {
          problems.push(
            `${where} names an attribute a hard rule forbids (event handlers, srcdoc, formaction, name, ...).`,
          );
        } else if (name.startsWith('data-')) {
          map.set(name, 'text');
        } else {
          const rule = ATTRIBUTE_RULES[name];
          if (rule === undefined) problems.push(`${where} is not in the attribute table; see ATTRIBUTE_RULES.`);
          else map.set(name, rule);
        }
      });
      if (path !== undefined && !Array.isArray(names)) problems.push(`${path}.${tag} must be an array.`);
    }
  };
  addAttributes(base.attributes, undefined);
  addAttributes(options.allowAttributes ?? {}, 'options.allowAttributes');

  const classSources = new Map<string, string[]>();
  let badClassKeys = false;
  for (const source of [base.classes, options.allowClasses ?? {}]) {
    for (const [tag, names] of Object.entries(source)) {
      if (source !== base.classes && !isElementKey(tag)) {
        badClassKeys = true;
        continue;
      }
      const list = classSources.get(tag) ?? [];
      (Array.isArray(names) ? names : []).forEach((name: unknown, i) => {
        if (typeof name !== 'string' || !CLASS_PATTERN.test(name)) {
          problems.push(`options.allowClasses.${tag}[${i}] must be a class name or a 'prefix-*' pattern.`);
        } else list.push(name);
      });
      classSources.set(tag, list);
    }
  }
  if (badClassKeys) {
    problems.push("options.allowClasses has a key that is not an allowed element name; use an element name or '*'.");
  }
  const classes = new Map<string, RegExp>();
  for (const [tag, names] of classSources) {
    if (names.length === 0) continue;
    const alternatives = names.map((n) =>
      n === '*' ? '[A-Za-z0-9_-]+' : escapeRegExp(n).replace(/\\\*$/, '[A-Za-z0-9_-]+'),
    );
    classes.set(tag, new RegExp(`^(?:${alternatives.join('|')})$`));
  }

  const cssProperties = new Set(base.cssProperties);
  (options.allowCssProperties ?? []).forEach((prop, i) => {
    if (typeof prop !== 'string' || CSS_PROPERTIES[prop] === undefined || FORBIDDEN_CSS_PROPERTIES.has(prop)) {
      problems.push(
        `options.allowCssProperties[${i}] is not in the CSS property table (position, z-index and friends never are).`,
      );
    } else cssProperties.add(prop);
  });

  const linkSchemes = new Set(['http', 'https', 'mailto', 'tel']);
  (options.allowSchemes ?? []).forEach((scheme, i) => {
    if (typeof scheme !== 'string' || !/^[a-z][a-z0-9+.-]*$/.test(scheme)) {
      problems.push(`options.allowSchemes[${i}] must be a lower-case scheme without the colon.`);
    } else if (FORBIDDEN_SCHEMES.has(scheme)) {
      problems.push(
        `options.allowSchemes[${i}] names a scheme a hard rule forbids (javascript, data, blob, file, ...).`,
      );
    } else linkSchemes.add(scheme);
  });

  const hosts = (list: readonly string[] | undefined, path: string): ReturnType<typeof hostMatcher> | undefined => {
    if (list === undefined) return undefined;
    list.forEach((h, i) => {
      if (typeof h !== 'string' || !isValidHostPattern(h)) {
        problems.push(`${path}[${i}] must be a lower-case host name or '*.' followed by one.`);
      }
    });
    return hostMatcher(list);
  };
  const linkHosts = hosts(options.allowedLinkHosts, 'options.allowedLinkHosts');
  const imageHosts = hosts(options.allowedImageHosts, 'options.allowedImageHosts');

  if (options.rewriteUrl !== undefined && typeof options.rewriteUrl !== 'function') {
    problems.push('options.rewriteUrl must be a function.');
  }
  const linkRel = [...base.linkRel];
  (options.linkRel ?? []).forEach((token, i) => {
    if (typeof token !== 'string' || !USER_REL_TOKENS.has(token)) {
      problems.push(`options.linkRel[${i}] must be one of ${[...USER_REL_TOKENS].join(', ')}.`);
    } else if (!linkRel.includes(token)) linkRel.push(token);
  });
  const targetBlank = options.targetBlank ?? base.targetBlank;
  if (!['none', 'external', 'all'].includes(targetBlank)) {
    problems.push("options.targetBlank must be 'none', 'external' or 'all'.");
  }
  const verify = options.verify ?? 'standard';
  if (verify !== 'standard' && verify !== 'strict') problems.push("options.verify must be 'standard' or 'strict'.");

  const limitsOption: unknown = options.limits ?? {};
  const limitsIsObject = typeof limitsOption === 'object' && limitsOption !== null && !Array.isArray(limitsOption);
  if (!limitsIsObject) problems.push('options.limits must be an object of limits.');
  const limits: SanitizeLimits = limitsIsObject ? (limitsOption as SanitizeLimits) : {};
  const limit = (key: keyof SanitizeLimits, fallback: number, max: number): number => {
    const value = limits[key];
    if (value === undefined) return fallback;
    if (!isPositiveInt(value, max)) {
      problems.push(`options.limits.${key} must be a positive integer no larger than ${max}.`);
      return fallback;
    }
    return value;
  };
  const truncationMarker = options.truncationMarker ?? '…';
  if (typeof truncationMarker !== 'string' || truncationMarker.length > 64) {
    problems.push('options.truncationMarker must be a string of at most 64 characters.');
  }

  // The marker is written escaped (`<` as `&lt;`, 4 characters), and it is the escaped form that must fit.
  if (
    limits.maxOutputChars !== undefined &&
    typeof truncationMarker === 'string' &&
    limits.maxOutputChars < escapeText(truncationMarker).length + 8
  ) {
    problems.push(
      'options.limits.maxOutputChars must leave room for the truncation marker as written out (escaped: & is 5 characters, < and > 4) and some text: escaped marker length + 8; raise limits.maxOutputChars or shorten truncationMarker.',
    );
  }
  const policy: Policy = {
    preset: presetName,
    tags,
    attributes,
    classes,
    cssProperties,
    urls: {
      linkSchemes,
      allowDataImages: options.allowDataImages ?? true,
      allowRemoteImages: options.allowRemoteImages ?? false,
      allowRelative: options.allowRelativeUrls ?? base.relativeUrls,
      linkHosts,
      imageHosts,
      rewriteUrl: typeof options.rewriteUrl === 'function' ? options.rewriteUrl : undefined,
      maxUrlLength: limit('maxUrlLength', 4096, 1 << 20),
      maxDataUrlLength: limit('maxDataUrlLength', 256 * 1024, 16 << 20),
    },
    linkRel,
    targetBlank,
    maxInputBytes: limit('maxInputBytes', 1 << 20, 64 << 20),
    nestingLimit: limit('nestingLimit', 64, 200),
    maxOutputChars: limit('maxOutputChars', Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
    maxAttributeLength: limit('maxAttributeLength', 4096, 1 << 20),
    maxAttributesPerElement: limit('maxAttributesPerElement', 32, 1024),
    verify,
    truncationMarker: typeof truncationMarker === 'string' ? truncationMarker : '…',
  };
  // Last, so a typo is listed after what the options it names got wrong: `allowedLinkHost` would
  // otherwise leave the host allowlist off without a word.
  problems.push(...unknownKeyProblems(options, OPTION_KEYS, 'options', 'an option'));
  if (limitsIsObject) problems.push(...unknownKeyProblems(limits, LIMIT_KEYS, 'options.limits', 'a limit'));
  if (problems.length > 0) {
    throw new SanitizeError('ERR_SANITIZE_INVALID_OPTIONS', `Invalid sanitizer options:\n- ${problems.join('\n- ')}`, {
      problems,
    });
  }
  return policy;
}
