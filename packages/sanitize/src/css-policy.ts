/**
 * The CSS policy for `style` attributes (email preset). PostCSS splits declarations; each value is
 * then re-tokenized against a small grammar: numbers and lengths, colours, identifiers, quoted font
 * names, commas, and `url()` only through the `rewriteUrl` hook. No other function (so no
 * `expression()`, `image-set()`, `element()`, `var()`), no escapes, no comments, no at-rules, and
 * no property that can position content over the page (`position`, `z-index`, negative margins).
 */
import postcss from 'postcss';
import { checkUrl, type UrlRules } from './url-policy.ts';

/** Value grammars a CSS property can have. */
type CssValueKind = 'color' | 'lengths' | 'signed-lengths' | 'keywords' | 'font-family' | 'mixed' | 'image';

/** Every property the policy knows; a preset allows a subset, options may add from this table.
 *
 * @example
 * ```ts
 * import { CSS_PROPERTIES } from '@rampart/sanitize';
 * 'color' in CSS_PROPERTIES; // true
 * ```
 */
export const CSS_PROPERTIES: Readonly<Record<string, CssValueKind>> = Object.freeze({
  color: 'color',
  'background-color': 'color',
  'border-color': 'mixed',
  'font-family': 'font-family',
  'font-size': 'lengths',
  'font-weight': 'keywords',
  'font-style': 'keywords',
  'font-variant': 'keywords',
  font: 'mixed',
  'text-align': 'keywords',
  'text-decoration': 'mixed',
  'text-transform': 'keywords',
  'text-indent': 'signed-lengths',
  'line-height': 'lengths',
  'letter-spacing': 'signed-lengths',
  'word-spacing': 'signed-lengths',
  'white-space': 'keywords',
  'vertical-align': 'keywords',
  'word-break': 'keywords',
  'overflow-wrap': 'keywords',
  margin: 'lengths',
  'margin-top': 'lengths',
  'margin-right': 'lengths',
  'margin-bottom': 'lengths',
  'margin-left': 'lengths',
  padding: 'lengths',
  'padding-top': 'lengths',
  'padding-right': 'lengths',
  'padding-bottom': 'lengths',
  'padding-left': 'lengths',
  border: 'mixed',
  'border-top': 'mixed',
  'border-right': 'mixed',
  'border-bottom': 'mixed',
  'border-left': 'mixed',
  'border-width': 'lengths',
  'border-style': 'keywords',
  'border-radius': 'lengths',
  'border-collapse': 'keywords',
  'border-spacing': 'lengths',
  width: 'lengths',
  height: 'lengths',
  'max-width': 'lengths',
  'min-width': 'lengths',
  'max-height': 'lengths',
  'min-height': 'lengths',
  display: 'keywords',
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
  /[\t\n\f\r ]*(?:(#[0-9a-fA-F]{3,8})(?![\w-])|((?:rgb|rgba|hsl|hsla)\([-+0-9.%\t\n\f\r ,/]{1,80}\))|(url\([\t\n\f\r ]*(?:"[^"\\\n]*"|'[^'\\\n]*'|[^)'"\\\s]*)[\t\n\f\r ]*\))|([-+]?(?:[0-9]{1,6}(?:\.[0-9]{1,4})?|\.[0-9]{1,4})(?:px|em|rem|%|pt|pc|cm|mm|in|ex|ch|vw|vh)?)(?![\w.%-])|([a-zA-Z][a-zA-Z0-9-]{0,40})(?![\w(-])|("[^"\\<>\n]{0,100}"|'[^'\\<>\n]{0,100}')|(,)|(\/))[\t\n\f\r ]*/y;

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

const BANNED_IDENTS = new Set(['expression', 'javascript', 'vbscript', 'fixed', 'sticky']);

function fits(kind: CssValueKind, tokens: readonly Token[]): boolean {
  if (tokens.length === 0 || tokens.length > 12) return false;
  if (tokens.some((t) => t.type === 'ident' && BANNED_IDENTS.has(t.text))) return false;
  const only = (...types: Token['type'][]): boolean => tokens.every((t) => types.includes(t.type));
  const noNegative = (): boolean => tokens.every((t) => t.type !== 'number' || !t.text.startsWith('-'));
  switch (kind) {
    case 'color':
      return tokens.length === 1 && only('hash', 'colorfn', 'ident');
    case 'lengths':
      return tokens.length <= 4 && only('number', 'ident', 'slash') && noNegative();
    case 'signed-lengths':
      return tokens.length <= 4 && only('number', 'ident');
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
 */
export function filterStyle(
  style: string,
  tag: string,
  allowed: ReadonlySet<string>,
  urls: UrlRules,
  mode: 'sanitize' | 'verify',
  removed?: (removal: CssRemoval) => void,
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
    const final = tokens.map((t): Token => {
      if (t.type !== 'url') return t;
      const verdict = checkUrl(t.url, { tag, attribute: 'style', kind: 'css-image' }, urls, mode);
      if (!verdict.ok || /["'()\s]/.test(verdict.value)) {
        ok = false;
        removed?.({ name: prop, reason: verdict.ok ? 'CSS url() has unsafe characters' : verdict.reason });
        return t;
      }
      return { type: 'url', text: `url("${verdict.value}")`, url: verdict.value };
    });
    if (ok) kept.push(`${prop}: ${join(final)}`);
  }
  return kept.join('; ');
}
