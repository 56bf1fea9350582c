/**
 * The four presets. Each lists elements, attributes per element (`*` = every allowed element),
 * class patterns, CSS properties and link behaviour; options can only add to these.
 */

/** Preset names accepted by `createSanitizer({ preset })`. */
export type PresetName = 'ugc' | 'email' | 'minimal' | 'text';

/** What a preset allows. */
export interface Preset {
  readonly tags: readonly string[];
  readonly attributes: Readonly<Record<string, readonly string[]>>;
  readonly classes: Readonly<Record<string, readonly string[]>>;
  readonly cssProperties: readonly string[];
  /** rel tokens every link gets. */
  readonly linkRel: readonly string[];
  readonly targetBlank: 'none' | 'external' | 'all';
  /**
   * Keep relative URLs. Off for email: a message has no base URL, so a relative URL can only
   * point at the application showing it (`<img src="/logout">` is a request with the reader's cookies).
   */
  readonly relativeUrls: boolean;
}

const INLINE = ['b', 'strong', 'i', 'em', 'u', 's', 'strike', 'del', 'ins', 'mark', 'small', 'sub', 'sup', 'code'];
const TABLES = ['table', 'caption', 'colgroup', 'col', 'thead', 'tbody', 'tfoot', 'tr', 'th', 'td'];
const UGC_TAGS = [
  ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p', 'br', 'hr', 'div', 'span', 'blockquote', 'pre'],
  ...INLINE,
  ...['kbd', 'samp', 'var', 'a', 'img', 'abbr', 'q', 'cite', 'dfn', 'time', 'wbr', 'bdi', 'bdo'],
  ...['ul', 'ol', 'li', 'dl', 'dt', 'dd', 'details', 'summary', 'figure', 'figcaption', 'ruby', 'rt', 'rp'],
  ...TABLES,
];
const UGC_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  '*': ['title', 'lang', 'dir', 'id'],
  a: ['href', 'target', 'rel'],
  img: ['src', 'srcset', 'alt', 'width', 'height', 'loading'],
  ol: ['start', 'reversed', 'type'],
  ul: ['type'],
  li: ['value'],
  td: ['colspan', 'rowspan', 'align'],
  th: ['colspan', 'rowspan', 'align', 'scope', 'abbr'],
  col: ['span'],
  colgroup: ['span'],
  blockquote: ['cite'],
  q: ['cite'],
  del: ['cite', 'datetime'],
  ins: ['cite', 'datetime'],
  time: ['datetime'],
  details: ['open'],
};

const EMAIL_CSS = [
  ...['color', 'background-color', 'font-family', 'font-size', 'font-weight', 'font-style', 'font-variant', 'font'],
  ...['text-align', 'text-decoration', 'text-transform', 'text-indent', 'line-height', 'letter-spacing'],
  ...['word-spacing', 'white-space', 'vertical-align', 'word-break', 'overflow-wrap'],
  ...['margin', 'margin-top', 'margin-right', 'margin-bottom', 'margin-left'],
  ...['padding', 'padding-top', 'padding-right', 'padding-bottom', 'padding-left'],
  ...['border', 'border-top', 'border-right', 'border-bottom', 'border-left', 'border-color', 'border-width'],
  ...['border-style', 'border-radius', 'border-collapse', 'border-spacing'],
  ...['width', 'height', 'max-width', 'min-width', 'max-height', 'min-height'],
  ...['display', 'float', 'clear', 'table-layout', 'list-style-type', 'direction'],
  ...['background-image', 'background', 'background-repeat', 'background-position', 'background-size'],
];

const LAYOUT = ['width', 'height', 'align', 'valign', 'bgcolor', 'style'];

/** The preset tables.
 *
 * @example
 * ```ts
 * import { PRESETS } from '@rampart/sanitize';
 * PRESETS.minimal.tags.includes('a'); // true
 * ```
 */
export const PRESETS: Readonly<Record<PresetName, Preset>> = Object.freeze({
  ugc: {
    tags: UGC_TAGS,
    attributes: UGC_ATTRIBUTES,
    classes: { code: ['language-*'], pre: ['language-*'] },
    cssProperties: [],
    linkRel: ['nofollow', 'ugc'],
    targetBlank: 'none',
    relativeUrls: true,
  },
  email: {
    tags: [...UGC_TAGS, 'font', 'center', 'big', 'address'],
    attributes: {
      ...UGC_ATTRIBUTES,
      '*': ['title', 'lang', 'dir', 'id', 'style'],
      img: ['src', 'srcset', 'alt', 'width', 'height', 'align', 'border', 'hspace', 'vspace'],
      table: ['width', 'height', 'align', 'bgcolor', 'border', 'cellpadding', 'cellspacing'],
      td: ['colspan', 'rowspan', 'nowrap', ...LAYOUT],
      th: ['colspan', 'rowspan', 'nowrap', 'scope', ...LAYOUT],
      tr: LAYOUT,
      tbody: LAYOUT,
      thead: LAYOUT,
      tfoot: LAYOUT,
      div: ['align'],
      p: ['align'],
      font: ['color', 'face', 'size'],
      hr: ['width', 'size', 'align'],
    },
    classes: {},
    cssProperties: EMAIL_CSS,
    linkRel: [],
    targetBlank: 'all',
    relativeUrls: false,
  },
  minimal: {
    tags: ['p', 'br', 'strong', 'b', 'em', 'i', 'u', 's', 'del', 'code', 'pre', 'blockquote', 'a', 'ul', 'ol', 'li'],
    attributes: { a: ['href', 'rel'] },
    classes: {},
    cssProperties: [],
    linkRel: ['nofollow', 'ugc'],
    targetBlank: 'none',
    relativeUrls: true,
  },
  text: {
    tags: [],
    attributes: {},
    classes: {},
    cssProperties: [],
    linkRel: [],
    targetBlank: 'none',
    relativeUrls: true,
  },
});
