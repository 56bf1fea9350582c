/**
 * The hard rules: what no preset and no option can allow. Options that try are refused when the
 * sanitizer is created; the verification pass checks the output against these sets again.
 */

/**
 * Elements that are never kept. Besides script-capable and resource-loading elements this lists
 * every raw-text and RCDATA element (their content is parsed differently by different parsers,
 * the root of most mXSS), foreign-content roots (svg, math: namespace confusion), forms (phishing,
 * `formaction`) and document-level elements.
 
 *
 * @example
 * ```ts
 * import { FORBIDDEN_ELEMENTS } from '@rampart/sanitize';
 * FORBIDDEN_ELEMENTS.has('xmp'); // true
 * ```
 */
export const FORBIDDEN_ELEMENTS: ReadonlySet<string> = new Set([
  'script',
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'param',
  'base',
  'basefont',
  'meta',
  'link',
  'template',
  'slot',
  'noscript',
  'noembed',
  'noframes',
  'xmp',
  'plaintext',
  'listing',
  'textarea',
  'title',
  'svg',
  'math',
  'image',
  'animate',
  'set',
  'use',
  'foreignobject',
  'annotation-xml',
  'form',
  'input',
  'button',
  'select',
  'option',
  'optgroup',
  'datalist',
  'selectedcontent',
  'keygen',
  'isindex',
  'output',
  'portal',
  'fencedframe',
  'dialog',
  'html',
  'head',
  'body',
  'video',
  'audio',
  'source',
  'track',
  'canvas',
  'map',
  'area',
  'marquee',
  'blink',
]);

/**
 * Elements whose text content is dropped with them (a browser never shows it as text, or it is
 * code). The rest of the forbidden elements are unwrapped: their children are kept.
 */
export const DROP_CONTENT_ELEMENTS: readonly string[] = [
  'script',
  'style',
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'template',
  'noscript',
  'noembed',
  'noframes',
  'xmp',
  'plaintext',
  'textarea',
  'title',
  'svg',
  'math',
  'select',
  'option',
  'optgroup',
  'datalist',
  'head',
  'video',
  'audio',
  'canvas',
  'map',
];

/** {@link DROP_CONTENT_ELEMENTS} as a set, for lookups per element. */
export const DROP_CONTENT_SET: ReadonlySet<string> = new Set(DROP_CONTENT_ELEMENTS);

/** Attributes that are never kept on any element (besides every `on*` attribute).
 *
 * @example
 * ```ts
 * import { FORBIDDEN_ATTRIBUTES } from '@rampart/sanitize';
 * FORBIDDEN_ATTRIBUTES.has('srcdoc'); // true
 * ```
 */
export const FORBIDDEN_ATTRIBUTES: ReadonlySet<string> = new Set([
  'srcdoc',
  'formaction',
  'action',
  'name',
  'form',
  'formtarget',
  'is',
  'ping',
  'dynsrc',
  'lowsrc',
  'http-equiv',
  'content',
  'data',
  'codebase',
  'classid',
  'archive',
  'manifest',
  'usemap',
  'autofocus',
  'nonce',
  'attributename',
  'xmlns',
  'shadowrootmode',
  'popovertarget',
  'popovertargetaction',
  'contenteditable',
]);

/** True for any attribute the hard rules forbid, including all event handlers and namespaced names.
 *
 * @example
 * ```ts
 * import { isForbiddenAttribute } from '@rampart/sanitize';
 * isForbiddenAttribute('onclick'); // true
 * ```
 */
export function isForbiddenAttribute(name: string): boolean {
  return name.startsWith('on') || name.includes(':') || FORBIDDEN_ATTRIBUTES.has(name);
}
