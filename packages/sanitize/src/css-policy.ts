/**
 * The CSS policy for `style` attributes (email preset). PostCSS splits declarations; each value is
 * then re-tokenized against a small grammar: numbers and lengths, colours, identifiers, quoted font
 * names, commas, and `url()` only through the `rewriteUrl` hook. No other function (so no
 * `expression()`, `image-set()`, `element()`, `var()`), no escapes, no comments, no at-rules, and
 * no property that can position content over the page (`position`, `z-index`, negative margins).
 *
 * Text must stay where layout puts it and stay visible: no negative length (negative
 * `text-indent` moves text off the box, as negative margins do; `letter-spacing` and `word-spacing`
 * may tighten by at most {@link MAX_NEGATIVE_SPACING_PX} and widen by at most
 * {@link MAX_POSITIVE_SPACING_PX}), no indent, margin or padding over {@link MAX_OFFSET_PX}, no border
 * over {@link MAX_BORDER_PX}, no box size over {@link MAX_BOX_SIZE_PX}, no line height over
 * {@link MAX_LINE_HEIGHT_FACTOR} times the font size (or {@link MAX_OFFSET_PX}), no font size under
 * {@link MIN_FONT_SIZE_PX} or over {@link MAX_FONT_SIZE_PX}, no `vertical-align` but its keywords or
 * up to 16 px (`1em`, `100%`), no transparent or nearly transparent text colour, only `display` values that render their content, no text-decoration
 * thickness. These are the cheap
 * ways to show a reader something other than what a filter or `toPlainText()` reads.
 */
import postcss from 'postcss';
import { addRewriteGrowth, checkUrl, type RewriteGrowth, type UrlRules } from './url-policy.ts';

/** Value grammars a CSS property can have. */
type CssValueKind =
  | 'color'
  | 'text-color'
  | 'lengths'
  | 'border'
  | 'border-lengths'
  | 'size'
  | 'line-height'
  | 'vertical-align'
  | 'offset'
  | 'spacing'
  | 'font-size'
  | 'font'
  | 'decoration'
  | 'display'
  | 'keywords'
  | 'font-family'
  | 'mixed'
  | 'image';

/**
 * The smallest font size kept, in CSS pixels (Chromium's minimum logical font size). Absolute sizes
 * are converted exactly; relative ones (`em`, `%`, `vw`, ...) are estimated against a 16 px parent
 * and a 320 px wide viewport, and unitless numbers count as pixels (the quirks-mode reading).
 *
 * @example
 * ```ts
 * import { MIN_FONT_SIZE_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="font-size: 0">hidden</p>', 'email'); // '<p>hidden</p>'
 * MIN_FONT_SIZE_PX; // 6
 * ```
 */
export const MIN_FONT_SIZE_PX = 6;

/**
 * The most negative `letter-spacing` / `word-spacing` kept, in CSS pixels (`em` counted as 16 px):
 * typographic tightening like `-0.02em` or `-1px` stays, overlap and hiding do not.
 *
 * @example
 * ```ts
 * import { MAX_NEGATIVE_SPACING_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<h1 style="letter-spacing: -0.5em">x</h1>', 'email'); // '<h1>x</h1>'
 * MAX_NEGATIVE_SPACING_PX; // 2
 * ```
 */
export const MAX_NEGATIVE_SPACING_PX = 2;

/**
 * The largest `letter-spacing` / `word-spacing` kept, in CSS pixels (`em`/`rem` count as 16 px,
 * `%` and `vw` as 1 % of a 1280 px pane, as for {@link MAX_OFFSET_PX}). Spaced-out capitals in
 * email headings and buttons use 0.05em to 0.3em (1 to 5 px), rarely more than 10 px; 1em is
 * already a letter's width of air. Above that, `letter-spacing: 9999px` pushes all but the first
 * letter of each word out of a reading pane that clips its overflow, while a filter or
 * `toPlainText()` still reads the whole sentence.
 *
 * @example
 * ```ts
 * import { MAX_POSITIVE_SPACING_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="letter-spacing: 9999px">spaced</p>', 'email'); // '<p>spaced</p>'
 * MAX_POSITIVE_SPACING_PX; // 16
 * ```
 */
export const MAX_POSITIVE_SPACING_PX = 16;

/**
 * Text colours with an alpha below this are dropped (`transparent`, `rgba(0, 0, 0, 0)`, `#0000`):
 * the text would be there for a filter and invisible to the reader.
 *
 * @example
 * ```ts
 * import { MIN_TEXT_ALPHA } from '@rampart/sanitize';
 * MIN_TEXT_ALPHA; // 0.25
 * ```
 */
export const MIN_TEXT_ALPHA = 0.25;

/**
 * The largest `text-indent`, `margin` or `padding` kept, in CSS pixels: a wide email layout needs
 * less, while `text-indent: 9999px` or `padding-left: 9999px` pushes text out of a reading pane that
 * clips its overflow. Absolute units are converted exactly; `em`/`rem` count as 16 px (`ex`/`ch` 8),
 * `%` and `vw` as 1 % of a 1280 px wide pane, `vh` as 1 % of 1080 px. A large `font-size` still
 * multiplies `em` offsets: see the README's hidden-text notes.
 *
 * @example
 * ```ts
 * import { MAX_OFFSET_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="text-indent: 9999px">moved</p>', 'email'); // '<p>moved</p>'
 * MAX_OFFSET_PX; // 600
 * ```
 */
export const MAX_OFFSET_PX = 600;

/**
 * The widest border (any side, `border-width`, the `border*` shorthands) and `border-spacing` kept,
 * in CSS pixels (`em` counted as 16 px). Mail draws rules and frames of 1 to 10 px and bulletproof
 * buttons of up to about 20 px; a wider border is not a line but a block of colour, and
 * `border-left: 9999px solid #fff` moves the text beside it out of a reading pane that clips its
 * overflow, as `padding-left: 9999px` would.
 *
 * @example
 * ```ts
 * import { MAX_BORDER_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="border-left: 9999px solid #fff">moved</p>', 'email'); // '<p>moved</p>'
 * MAX_BORDER_PX; // 50
 * ```
 */
export const MAX_BORDER_PX = 50;

/**
 * The largest `width`, `height`, `min-`/`max-width` and `min-`/`max-height` kept, in CSS pixels, and
 * the largest `width`/`height` attribute: mail is laid out 600 to 800 px wide. `%` is read against
 * the containing box, so up to `100%` is kept; `em`/`rem` count as 16 px, `vw` and `vh` as 1 % of a
 * 1280 x 1080 pane. Above that, `width: 99999px; text-align: right` (or `<table width="9999">`) sets
 * the text out of a reading pane that clips its overflow.
 *
 * @example
 * ```ts
 * import { MAX_BOX_SIZE_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="width: 99999px">wide</p>', 'email'); // '<p>wide</p>'
 * MAX_BOX_SIZE_PX; // 1000
 * ```
 */
export const MAX_BOX_SIZE_PX = 1000;

/**
 * The largest font size kept, in CSS pixels (72 pt, the top of common type scales; relative sizes
 * estimated as for {@link MIN_FONT_SIZE_PX}, `vw` and `vh` against a 1280 x 1080 pane). A larger
 * glyph box paints its background far over the lines around it (`line-height: 0` does not shrink
 * it) and a single word of it runs out of the pane.
 *
 * @example
 * ```ts
 * import { MAX_FONT_SIZE_PX, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="font-size: 9999px">huge</p>', 'email'); // '<p>huge</p>'
 * MAX_FONT_SIZE_PX; // 96
 * ```
 */
export const MAX_FONT_SIZE_PX = 96;

/**
 * The largest relative `line-height` kept (unitless, `em` or `%` / 100), also after the slash of the
 * `font` shorthand; absolute line heights are capped at {@link MAX_OFFSET_PX}. Body text is set at 1.2
 * to 2; `line-height: 9999` puts the line's text some 80 000 px down, out of any pane.
 *
 * @example
 * ```ts
 * import { MAX_LINE_HEIGHT_FACTOR, sanitizeHtml } from '@rampart/sanitize';
 * sanitizeHtml('<p style="line-height: 9999">low</p>', 'email'); // '<p>low</p>'
 * MAX_LINE_HEIGHT_FACTOR; // 4
 * ```
 */
export const MAX_LINE_HEIGHT_FACTOR = 4;

/** Every property the policy knows; a preset allows a subset, options may add from this table.
 *
 * @example
 * ```ts
 * import { CSS_PROPERTIES } from '@rampart/sanitize';
 * 'color' in CSS_PROPERTIES; // true
 * ```
 */
export const CSS_PROPERTIES: Readonly<Record<string, CssValueKind>> = Object.freeze({
  color: 'text-color',
  'background-color': 'color',
  'border-color': 'mixed',
  'font-family': 'font-family',
  'font-size': 'font-size',
  'font-weight': 'keywords',
  'font-style': 'keywords',
  'font-variant': 'keywords',
  font: 'font',
  'text-align': 'keywords',
  'text-decoration': 'decoration',
  'text-transform': 'keywords',
  'text-indent': 'offset',
  'line-height': 'line-height',
  'letter-spacing': 'spacing',
  'word-spacing': 'spacing',
  'white-space': 'keywords',
  'vertical-align': 'vertical-align',
  'word-break': 'keywords',
  'overflow-wrap': 'keywords',
  margin: 'offset',
  'margin-top': 'offset',
  'margin-right': 'offset',
  'margin-bottom': 'offset',
  'margin-left': 'offset',
  padding: 'offset',
  'padding-top': 'offset',
  'padding-right': 'offset',
  'padding-bottom': 'offset',
  'padding-left': 'offset',
  border: 'border',
  'border-top': 'border',
  'border-right': 'border',
  'border-bottom': 'border',
  'border-left': 'border',
  'border-width': 'border-lengths',
  'border-style': 'keywords',
  'border-radius': 'lengths',
  'border-collapse': 'keywords',
  'border-spacing': 'border-lengths',
  width: 'size',
  height: 'size',
  'max-width': 'size',
  'min-width': 'size',
  'max-height': 'size',
  'min-height': 'size',
  display: 'display',
  float: 'keywords',
  clear: 'keywords',
  'table-layout': 'keywords',
  'list-style-type': 'keywords',
  direction: 'keywords',
  'background-image': 'image',
  background: 'mixed',
  'background-repeat': 'keywords',
  'background-position': 'mixed',
  'background-size': 'mixed',
});

/** Properties that never pass, whatever the options say.
 *
 * @example
 * ```ts
 * import { FORBIDDEN_CSS_PROPERTIES } from '@rampart/sanitize';
 * FORBIDDEN_CSS_PROPERTIES.has('position'); // true
 * ```
 */
export const FORBIDDEN_CSS_PROPERTIES: ReadonlySet<string> = new Set([
  'position',
  'z-index',
  'behavior',
  '-moz-binding',
  'content',
  'cursor',
  'pointer-events',
  'filter',
  'transform',
  'clip-path',
  'mask',
  'inset',
  'top',
  'left',
  'right',
  'bottom',
]);

const TOKEN =
  /[\t\n\f\r ]*(?:(#[0-9a-fA-F]{3,8})(?![\w-])|((?:rgb|rgba|hsl|hsla)\([-+0-9.%\t\n\f\r ,/]{1,80}\))|(url\([\t\n\f\r ]*(?:"[^"\\\n]*"|'[^'\\\n]*'|[^)'"\\\s]*)[\t\n\f\r ]*\))|([-+]?(?:[0-9]{1,6}(?:\.[0-9]{1,4})?|\.[0-9]{1,4})(?:[pP][xXtTcC]|[eE][mMxX]|[rR][eE][mM]|%|[cC][mMhH]|[mM][mM]|[iI][nN]|[vV][wWhH])?)(?![\w.%-])|([a-zA-Z][a-zA-Z0-9-]{0,40})(?![\w(-])|("[^"\\<>\n]{0,100}"|'[^'\\<>\n]{0,100}')|(,)|(\/))[\t\n\f\r ]*/y;

// Units are ASCII case-insensitive (`6PX` is `6px`): the unit group spells both cases out rather than
// flagging the whole pattern, and the number token is lower-cased before any cap reads its unit.
type Token =
  | { readonly type: 'hash' | 'colorfn' | 'number' | 'ident' | 'string' | 'comma' | 'slash'; readonly text: string }
  | { readonly type: 'url'; readonly text: string; readonly url: string };

function tokenize(value: string): Token[] | undefined {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  while (TOKEN.lastIndex < value.length) {
    const start = TOKEN.lastIndex;
    const m = TOKEN.exec(value);
    if (m === null || TOKEN.lastIndex === start) return undefined;
    if (m[1] !== undefined) tokens.push({ type: 'hash', text: m[1].toLowerCase() });
    else if (m[2] !== undefined) tokens.push({ type: 'colorfn', text: m[2].toLowerCase().replace(/\s+/g, ' ') });
    else if (m[3] !== undefined) {
      const inner = m[3].slice(4, -1).trim();
      const url = inner.startsWith('"') || inner.startsWith("'") ? inner.slice(1, -1) : inner;
      tokens.push({ type: 'url', text: m[3], url });
    } else if (m[4] !== undefined) tokens.push({ type: 'number', text: m[4].toLowerCase() });
    else if (m[5] !== undefined) tokens.push({ type: 'ident', text: m[5].toLowerCase() });
    else if (m[6] !== undefined) tokens.push({ type: 'string', text: `"${m[6].slice(1, -1).replace(/"/g, '')}"` });
    else if (m[7] !== undefined) tokens.push({ type: 'comma', text: ',' });
    else if (m[8] !== undefined) tokens.push({ type: 'slash', text: '/' });
  }
  return tokens;
}

const RENDERING_DISPLAYS: ReadonlySet<string> = new Set([
  ...['block', 'inline', 'inline-block', 'flex', 'inline-flex', 'grid', 'inline-grid', 'flow-root', 'list-item'],
  ...['table', 'inline-table', 'table-row', 'table-cell', 'table-row-group', 'table-header-group'],
  ...['table-footer-group', 'table-caption'],
]);

const BANNED_IDENTS = new Set(['expression', 'javascript', 'vbscript', 'fixed', 'sticky']);

// CSS px per unit. Relative units assume a 16 px parent font and a 320 x 480 viewport (the
// smallest common phone), so an estimate errs towards "too small" and the value is dropped.
const PX_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  px: 1,
  pt: 4 / 3,
  pc: 16,
  in: 96,
  cm: 96 / 2.54,
  mm: 96 / 25.4,
  em: 16,
  rem: 16,
  ex: 8,
  ch: 8,
  '%': 0.16,
  vw: 3.2,
  vh: 4.8,
};

// Offsets are capped, so relative units are read against a large pane: an estimate errs towards
// "too far" and the value is dropped.
const OFFSET_PX_PER_UNIT: Readonly<Record<string, number>> = {
  ...PX_PER_UNIT,
  '%': 12.8,
  vw: 12.8,
  vh: 10.8,
};

// Box sizes: `%` is of the containing box, so 100 % is as wide as the box that holds it.
const SIZE_PX_PER_UNIT: Readonly<Record<string, number>> = {
  ...OFFSET_PX_PER_UNIT,
  '%': MAX_BOX_SIZE_PX / 100,
};

// The upper estimate of a font size: `em` and `%` of a 16 px parent, viewport units of a large pane.
const FONT_MAX_PX_PER_UNIT: Readonly<Record<string, number>> = { ...PX_PER_UNIT, vw: 12.8, vh: 10.8 };

// Line heights in these units multiply the element's own font size.
const LINE_HEIGHT_FACTOR_PER_UNIT: Readonly<Record<string, number>> = { '': 1, em: 1, '%': 0.01, ex: 0.5, ch: 0.5 };

function estimatedPx(number: string, perUnit: Readonly<Record<string, number>> = PX_PER_UNIT): number {
  const m = /^([-+]?[0-9.]+)([a-z%]*)$/.exec(number);
  const factor = m === null ? undefined : perUnit[m[2] as string];
  return factor === undefined ? Number.NaN : Number.parseFloat(m?.[1] as string) * factor;
}

function isLegibleSize(number: string): boolean {
  return estimatedPx(number) >= MIN_FONT_SIZE_PX && estimatedPx(number, FONT_MAX_PX_PER_UNIT) <= MAX_FONT_SIZE_PX;
}

function fitsLineHeight(number: string): boolean {
  if (number.startsWith('-')) return false;
  const unit = /[a-z%]*$/.exec(number)?.[0] ?? '';
  const factor = LINE_HEIGHT_FACTOR_PER_UNIT[unit];
  if (factor !== undefined) return Number.parseFloat(number) * factor <= MAX_LINE_HEIGHT_FACTOR;
  return estimatedPx(number, OFFSET_PX_PER_UNIT) <= MAX_OFFSET_PX;
}

// `vertical-align` lifts or lowers the line box's content by up to this much (16 px, `1em`, `100%`
// of the line height): aligning an icon or a superscript needs less, while `vertical-align: 9999px`
// on one character pushes the rest of the line some 10 000 px down, out of any pane.
const MAX_VERTICAL_ALIGN_PX = 16;
const VERTICAL_ALIGN_KEYWORDS: ReadonlySet<string> = new Set([
  'baseline',
  'top',
  'middle',
  'bottom',
  'sub',
  'super',
  'text-top',
  'text-bottom',
  // CSS-wide keywords: the parent's (itself capped) or the initial value.
  'inherit',
  'initial',
  'unset',
  'revert',
]);
// `%` is of the line height; counted against a 16 px line so that `100%` is the cap.
const VERTICAL_ALIGN_PX_PER_UNIT: Readonly<Record<string, number>> = { ...OFFSET_PX_PER_UNIT, '%': 0.16 };

/** Every number token is at most `max` px, estimated with `perUnit` (NaN, an unknown unit, fails). */
function numbersAtMost(tokens: readonly Token[], max: number, perUnit: Readonly<Record<string, number>>): boolean {
  return tokens.every((t) => t.type !== 'number' || estimatedPx(t.text, perUnit) <= max);
}

function parseAlpha(text: string): number {
  const value = Number.parseFloat(text);
  return text.endsWith('%') ? value / 100 : value;
}

/** Alpha of a colour token (1 when it has none); NaN when it cannot be read. */
function alphaOf(token: Token): number {
  if (token.type === 'ident') return token.text === 'transparent' ? 0 : 1;
  if (token.type === 'hash') {
    const hex = token.text.slice(1);
    if (hex.length === 4) return Number.parseInt(hex.slice(3), 16) / 15;
    if (hex.length === 8) return Number.parseInt(hex.slice(6), 16) / 255;
    return 1;
  }
  if (token.type === 'colorfn') {
    const inner = token.text.slice(token.text.indexOf('(') + 1, -1);
    const slash = inner.split('/');
    if (slash.length === 2) return parseAlpha((slash[1] as string).trim());
    if (slash.length > 2) return Number.NaN;
    const parts = inner.split(',');
    if (parts.length === 4) return parseAlpha((parts[3] as string).trim());
    return parts.length === 3 || inner.trim().split(' ').length === 3 ? 1 : Number.NaN;
  }
  return Number.NaN;
}

/**
 * `font`: sizes (every number not after a slash, weights included) must be legible, sizes with a
 * unit no larger than {@link MAX_FONT_SIZE_PX} (a unitless number is a weight: the shorthand has no
 * unitless size, not even in quirks mode), and the line height after a slash as `line-height`.
 */
function fitsFont(tokens: readonly Token[]): boolean {
  return tokens.every((t, i) => {
    if (!['ident', 'string', 'comma', 'slash', 'number'].includes(t.type)) return false;
    if (t.type !== 'number') return true;
    if (tokens[i - 1]?.type === 'slash') return fitsLineHeight(t.text);
    if (/^[0-9.]+$/.test(t.text)) return estimatedPx(t.text) >= MIN_FONT_SIZE_PX;
    return isLegibleSize(t.text);
  });
}

function fits(kind: CssValueKind, tokens: readonly Token[]): boolean {
  if (tokens.length === 0 || tokens.length > 12) return false;
  if (tokens.some((t) => t.type === 'ident' && BANNED_IDENTS.has(t.text))) return false;
  const only = (...types: Token['type'][]): boolean => tokens.every((t) => types.includes(t.type));
  const noNegative = (): boolean => tokens.every((t) => t.type !== 'number' || !t.text.startsWith('-'));
  switch (kind) {
    case 'color':
      return tokens.length === 1 && only('hash', 'colorfn', 'ident');
    case 'text-color':
      return tokens.length === 1 && only('hash', 'colorfn', 'ident') && alphaOf(tokens[0] as Token) >= MIN_TEXT_ALPHA;
    case 'lengths':
      return tokens.length <= 4 && only('number', 'ident', 'slash') && noNegative();
    case 'border-lengths':
      // A border or cell gap wider than MAX_BORDER_PX pushes the text beside it out of the pane.
      return (
        tokens.length <= 4 &&
        only('number', 'ident') &&
        noNegative() &&
        numbersAtMost(tokens, MAX_BORDER_PX, OFFSET_PX_PER_UNIT)
      );
    case 'border':
      return (
        only('hash', 'colorfn', 'number', 'ident') &&
        noNegative() &&
        numbersAtMost(tokens, MAX_BORDER_PX, OFFSET_PX_PER_UNIT)
      );
    case 'size':
      // A box far wider than the pane sets right-aligned or centred text out of it.
      return (
        tokens.length <= 4 &&
        only('number', 'ident') &&
        noNegative() &&
        numbersAtMost(tokens, MAX_BOX_SIZE_PX, SIZE_PX_PER_UNIT)
      );
    case 'line-height':
      return tokens.length === 1 && (only('ident') || (only('number') && fitsLineHeight((tokens[0] as Token).text)));
    case 'vertical-align': {
      if (tokens.length !== 1) return false;
      const token = tokens[0] as Token;
      if (token.type === 'ident') return VERTICAL_ALIGN_KEYWORDS.has(token.text);
      return (
        token.type === 'number' &&
        noNegative() &&
        estimatedPx(token.text, VERTICAL_ALIGN_PX_PER_UNIT) <= MAX_VERTICAL_ALIGN_PX
      );
    }
    case 'offset':
      return (
        tokens.length <= 4 &&
        only('number', 'ident') &&
        noNegative() &&
        tokens.every((t) => t.type !== 'number' || estimatedPx(t.text, OFFSET_PX_PER_UNIT) <= MAX_OFFSET_PX)
      );
    case 'spacing': {
      // Headings are often set a little tight (`letter-spacing: -0.02em`); anything tighter than
      // MAX_NEGATIVE_SPACING_PX pulls letters or words over each other, anything wider than
      // MAX_POSITIVE_SPACING_PX pushes them out of the pane (estimated against a large pane, as
      // offsets are, so that the estimate errs towards "too wide").
      if (tokens.length !== 1) return false;
      if (only('ident')) return true;
      const text = (tokens[0] as Token).text;
      return (
        only('number') &&
        estimatedPx(text) >= -MAX_NEGATIVE_SPACING_PX &&
        estimatedPx(text, OFFSET_PX_PER_UNIT) <= MAX_POSITIVE_SPACING_PX
      );
    }
    case 'font-size':
      return tokens.length === 1 && (only('ident') || (only('number') && isLegibleSize((tokens[0] as Token).text)));
    case 'font':
      return noNegative() && fitsFont(tokens);
    case 'decoration':
      // No thickness: a 40px white overline is a box painted over the line above.
      return tokens.length <= 4 && only('ident', 'hash', 'colorfn');
    case 'display':
      // Only values whose content renders in a box: `none`, `table-column(-group)` (Chromium lays
      // out no content in a column), `contents` (no box of its own), `ruby-text`, global keywords
      // (`inherit` copies the parent's) and anything unknown are dropped.
      return tokens.length === 1 && RENDERING_DISPLAYS.has((tokens[0] as Token).text);
    case 'keywords':
      return tokens.length <= 3 && only('ident', 'number') && noNegative();
    case 'font-family':
      return only('ident', 'string', 'comma');
    case 'mixed':
      return only('hash', 'colorfn', 'number', 'ident', 'string', 'comma', 'slash', 'url') && noNegative();
    case 'image':
      return tokens.length === 1 && only('url', 'ident');
  }
}

function join(tokens: readonly Token[]): string {
  let out = '';
  for (const t of tokens) {
    if (t.type === 'comma') out += ',';
    else out += out === '' ? t.text : ` ${t.text}`;
  }
  return out.replace(/,(?=\S)/g, ', ');
}

/** What {@link filterStyle} removed, for the result's `removed` list. */
export interface CssRemoval {
  readonly name: string;
  readonly reason: string;
}

/**
 * Filters a `style` attribute value. Returns the kept declarations as `prop: value; prop: value`
 * (empty when nothing is kept). The output is a fixpoint: filtering it again changes nothing.
 * What the rewriteUrl hook added to the `url()`s of kept declarations is added to `growth`.
 */
export function filterStyle(
  style: string,
  tag: string,
  allowed: ReadonlySet<string>,
  urls: UrlRules,
  mode: 'sanitize' | 'verify',
  removed?: (removal: CssRemoval) => void,
  growth?: RewriteGrowth,
): string {
  if (/[\\<>]|\/\*|@/.test(style)) {
    removed?.({ name: 'style', reason: 'escapes, comments, at-rules or angle brackets in CSS' });
    return '';
  }
  let root: postcss.Root;
  try {
    root = postcss.parse(style);
  } catch {
    removed?.({ name: 'style', reason: 'CSS does not parse' });
    return '';
  }
  const kept: string[] = [];
  for (const node of root.nodes) {
    if (node.type !== 'decl') {
      if (node.type !== 'comment') removed?.({ name: node.type, reason: 'only declarations are allowed in style' });
      continue;
    }
    const prop = node.prop.toLowerCase();
    const kind = CSS_PROPERTIES[prop];
    if (kind === undefined || FORBIDDEN_CSS_PROPERTIES.has(prop) || !allowed.has(prop)) {
      removed?.({ name: prop, reason: 'CSS property not allowed' });
      continue;
    }
    const tokens = tokenize(node.value);
    if (tokens === undefined || !fits(kind, tokens)) {
      removed?.({ name: prop, reason: 'CSS value not allowed' });
      continue;
    }
    let ok = true;
    const grown: RewriteGrowth = { parsed: 0, written: 0 };
    const final = tokens.map((t): Token => {
      if (t.type !== 'url') return t;
      const verdict = checkUrl(t.url, { tag, attribute: 'style', kind: 'css-image' }, urls, mode, grown);
      if (!verdict.ok || /["'()\s]/.test(verdict.value)) {
        ok = false;
        removed?.({ name: prop, reason: verdict.ok ? 'CSS url() has unsafe characters' : verdict.reason });
        return t;
      }
      return { type: 'url', text: `url("${verdict.value}")`, url: verdict.value };
    });
    if (!ok) continue;
    kept.push(`${prop}: ${join(final)}`);
    if (growth !== undefined) addRewriteGrowth(growth, grown);
  }
  return kept.join('; ');
}
