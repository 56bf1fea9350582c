/**
 * The names `removed[]` reports. Element, attribute and CSS property names come from the input,
 * so an attacker picks them: control characters, terminal escapes, 50 000 characters, a token.
 * Only names from the package's own tables (and the HTML standard's) are reported as they are;
 * every other name becomes a fixed placeholder, so a removal is always safe to log.
 */
import { html as htmlSpec } from 'parse5';
import { CSS_PROPERTIES, FORBIDDEN_CSS_PROPERTIES } from './css-policy.ts';
import { DROP_CONTENT_ELEMENTS, FORBIDDEN_ATTRIBUTES, FORBIDDEN_ELEMENTS } from './hard-rules.ts';
import { ATTRIBUTE_RULES, type Policy } from './policy.ts';
import { PRESETS } from './presets.ts';

/** What an element, attribute or property name outside the known tables is reported as. */
const UNKNOWN_NAME = '(unknown)';

/** Every name `removed[].name` can hold: known lower-case names, placeholders, `tag[attribute]`. */
export const SAFE_REMOVAL_NAME: RegExp = /^(?:#comment|[a-z(-][a-z0-9()*:-]{0,30}(?:\[[a-z(][a-z0-9()*:-]{0,30}\])?)$/;

const KNOWN_ELEMENTS: ReadonlySet<string> = new Set([
  ...Object.values(htmlSpec.TAG_NAMES).map((name) => name.toLowerCase()),
  ...FORBIDDEN_ELEMENTS,
  ...DROP_CONTENT_ELEMENTS,
  ...Object.values(PRESETS).flatMap((preset) => preset.tags),
  ...['abbr', 'bdi', 'bdo', 'cite', 'data', 'dfn', 'figcaption', 'figure', 'ins', 'kbd', 'mark', 'picture', 'q'],
  ...['samp', 'small', 'time', 'var', 'wbr', 'blink', 'acronym', 'tt', 'strike', 'hgroup', 'search'],
]);

// The event handler attributes of the HTML standard most often seen in attacks and in mail.
const EVENT_HANDLERS = [
  ...['onabort', 'onafterprint', 'onanimationend', 'onanimationiteration', 'onanimationstart'],
  ...['onauxclick', 'onbeforeinput', 'onbeforeprint', 'onbeforetoggle', 'onbeforeunload', 'onbegin'],
  ...['onblur', 'oncancel', 'oncanplay', 'oncanplaythrough', 'onchange', 'onclick', 'onclose'],
  ...['oncontextmenu', 'oncopy', 'oncuechange', 'oncut', 'ondblclick', 'ondrag', 'ondragend'],
  ...['ondragenter', 'ondragleave', 'ondragover', 'ondragstart', 'ondrop', 'ondurationchange'],
  ...['onemptied', 'onend', 'onended', 'onerror', 'onfocus', 'onfocusin', 'onfocusout', 'onformdata'],
  ...['onhashchange', 'oninput', 'oninvalid', 'onkeydown', 'onkeypress', 'onkeyup', 'onload'],
  ...['onloadeddata', 'onloadedmetadata', 'onloadstart', 'onmessage', 'onmousedown', 'onmouseenter'],
  ...['onmouseleave', 'onmousemove', 'onmouseout', 'onmouseover', 'onmouseup', 'onmousewheel'],
  ...['onoffline', 'ononline', 'onpagehide', 'onpageshow', 'onpaste', 'onpause', 'onplay', 'onplaying'],
  ...['onpointercancel', 'onpointerdown', 'onpointerenter', 'onpointerleave', 'onpointermove'],
  ...['onpointerout', 'onpointerover', 'onpointerup', 'onpopstate', 'onprogress', 'onratechange'],
  ...['onrepeat', 'onreset', 'onresize', 'onscroll', 'onscrollend', 'onsearch', 'onseeked', 'onseeking'],
  ...['onselect', 'onselectionchange', 'onselectstart', 'onshow', 'onstalled', 'onstorage', 'onsubmit'],
  ...['onsuspend', 'ontimeupdate', 'ontoggle', 'ontouchcancel', 'ontouchend', 'ontouchmove'],
  ...['ontouchstart', 'ontransitioncancel', 'ontransitionend', 'ontransitionrun', 'ontransitionstart'],
  ...['onunload', 'onvolumechange', 'onwaiting', 'onwheel'],
];

const KNOWN_ATTRIBUTES: ReadonlySet<string> = new Set([
  ...Object.keys(ATTRIBUTE_RULES),
  ...FORBIDDEN_ATTRIBUTES,
  ...EVENT_HANDLERS,
  ...['xlink:href', 'xml:base', 'xmlns:xlink', 'background', 'hidden', 'popover', 'slot', 'tabindex'],
  ...['accesskey', 'draggable', 'spellcheck', 'inert', 'role', 'headers', 'sizes', 'referrerpolicy'],
  ...['crossorigin', 'decoding', 'fetchpriority', 'longdesc', 'hreflang', 'download', 'media', 'coords'],
  ...['shape', 'marginwidth', 'marginheight', 'leftmargin', 'topmargin', 'link', 'vlink', 'alink', 'text'],
]);

const KNOWN_CSS: ReadonlySet<string> = new Set([
  ...Object.keys(CSS_PROPERTIES),
  ...FORBIDDEN_CSS_PROPERTIES,
  // filterStyle's name for the whole attribute, and postcss node types other than declarations.
  ...['style', 'rule', 'atrule'],
  ...['opacity', 'visibility', 'overflow', 'clip', 'expression', '-webkit-text-fill-color', 'mask-image'],
]);

/** The element name to report: a known element name, or {@link UNKNOWN_NAME}. */
export function reportedElement(name: string, policy: Policy): string {
  const lower = name.toLowerCase();
  return KNOWN_ELEMENTS.has(lower) || policy.tags.has(lower) ? lower : UNKNOWN_NAME;
}

/**
 * The attribute to report as `tag[attribute]`: a known attribute name, `on*` for any other event
 * handler, `data-*` for any other data attribute, or {@link UNKNOWN_NAME}.
 */
export function reportedAttribute(tag: string, name: string, policy: Policy): string {
  const lower = name.toLowerCase();
  const known =
    KNOWN_ATTRIBUTES.has(lower) ||
    policy.attributes.get(tag)?.has(lower) === true ||
    policy.attributes.get('*')?.has(lower) === true;
  let attribute = UNKNOWN_NAME;
  if (known) attribute = lower;
  else if (lower.startsWith('on')) attribute = 'on*';
  else if (lower.startsWith('data-')) attribute = 'data-*';
  return `${reportedElement(tag, policy)}[${attribute}]`;
}

/** The CSS property to report: a property from the CSS tables, or {@link UNKNOWN_NAME}. */
export function reportedCssProperty(name: string): string {
  const lower = name.toLowerCase();
  return KNOWN_CSS.has(lower) ? lower : UNKNOWN_NAME;
}
