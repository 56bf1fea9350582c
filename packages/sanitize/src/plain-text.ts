/**
 * Plain text from a verified tree: blocks become paragraphs, `br` a newline, list items `- ` or
 * `1. `, links `text (url)`, images their alt text, table cells tab-separated rows; entities are
 * decoded and whitespace collapsed except in `pre`. For previews, notifications and search.
 * What a browser never shows is left out too (`rp`, hidden inside ruby), and bidi controls cannot
 * reach the URL of a link: they are closed before it, and it is isolated once the text has any.
 */
import type { DefaultTreeAdapterTypes } from 'parse5';
import { applyControl, BIDI_SENSITIVE, BidiStack, closersOf } from './bidi-controls.ts';
import { DROP_CONTENT_ELEMENTS, DROP_CONTENT_SET } from './hard-rules.ts';
import { replayParser } from './parser-replay.ts';

type ParentNode = DefaultTreeAdapterTypes.ParentNode;
type Element = DefaultTreeAdapterTypes.Element;

const BLOCKS: ReadonlySet<string> = new Set([
  ...['p', 'div', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'pre', 'ul', 'ol', 'dl', 'table'],
  ...['figure', 'figcaption', 'details', 'summary', 'center', 'address', 'section', 'article', 'header'],
  ...['footer', 'nav', 'aside', 'main', 'caption', 'hr', 'body', 'html'],
]);

class Writer {
  private readonly parts: string[] = [];
  private pendingNewlines = 0;
  private atLineStart = true;
  private readonly bidi = new BidiStack();
  /** Whether the text so far has bidi controls or right-to-left letters. */
  bidiSeen = false;

  text(s: string, pre: boolean): void {
    let value = pre ? s : s.replace(/[\t\n\f\r ]+/g, ' ');
    if (value === '') return;
    if (this.pendingNewlines > 0) {
      if (this.parts.length > 0) this.parts.push('\n'.repeat(this.pendingNewlines));
      this.pendingNewlines = 0;
      this.atLineStart = true;
    }
    if (this.atLineStart && !pre) value = value.replace(/^ /, '');
    if (BIDI_SENSITIVE.test(value)) {
      this.bidiSeen = true;
      // A closer that closes nothing here (the tree's closers are placed per element) is dropped.
      let kept = '';
      for (let i = 0; i < value.length; i++) if (applyControl(this.bidi, value, i) !== 'unmatched') kept += value[i];
      value = kept;
    }
    if (value === '') return;
    this.parts.push(value);
    this.atLineStart = value.endsWith('\n');
  }

  /** Closes every bidi control still open, so that what follows is not reordered by it. */
  closeBidi(): void {
    if (this.bidi.open.length === 0) return;
    this.parts.push(closersOf(this.bidi.open));
    this.bidi.clear();
  }

  newline(count: number): void {
    this.pendingNewlines = Math.max(this.pendingNewlines, count);
  }

  toString(): string {
    this.closeBidi();
    return stripBlanksBeforeNewlines(this.parts.join(''))
      .replace(/\n{3,}/g, '\n\n')
      .trim();
  }
}

/**
 * Removes the spaces and tabs before every newline. A loop per line, not `/[ \t]+\n/g`, which is
 * retried from every blank of a long run that no newline ends (quadratic on `<pre>` content).
 */
function stripBlanksBeforeNewlines(text: string): string {
  const lines = text.split('\n');
  // The last line ends no line; the final trim() takes care of it.
  for (let i = 0; i < lines.length - 1; i++) {
    const line = lines[i] as string;
    let end = line.length;
    while (end > 0 && (line.charCodeAt(end - 1) === 0x20 || line.charCodeAt(end - 1) === 0x09)) end--;
    if (end < line.length) lines[i] = line.slice(0, end);
  }
  return lines.join('\n');
}

function attr(el: Element, name: string): string | undefined {
  return el.attrs.find((a) => a.name === name)?.value;
}

function textOf(el: ParentNode): string {
  let out = '';
  for (const n of el.childNodes) {
    if (n.nodeName === '#text') out += (n as DefaultTreeAdapterTypes.TextNode).value;
    else if ('tagName' in n && !DROP_CONTENT_SET.has(n.tagName) && n.tagName !== 'rp') out += textOf(n);
  }
  return out;
}

// A list number as a browser parses it (leading blanks, a sign, digits; what follows ignored), or
// undefined when it is not one or not a safe integer.
function listInteger(value: string | undefined): number | undefined {
  const m = value === undefined ? null : /^[\t\n\f\r ]*([+-]?[0-9]{1,16})/.exec(value);
  const n = m === null ? Number.NaN : Number(m[1]);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** The first number of an ordered list: `start`, else 1, or the item count when `reversed`. */
function listStart(list: Element, reversed: boolean): number {
  const start = listInteger(attr(list, 'start'));
  if (start !== undefined) return start;
  if (!reversed) return 1;
  let items = 0;
  for (const child of list.childNodes) if ('tagName' in child && child.tagName === 'li') items++;
  return items;
}

function walk(parent: ParentNode, w: Writer, pre: boolean, listDepth: number): void {
  // The number the next li of an ordered list gets (computed at the first one).
  let next: number | undefined;
  for (const node of parent.childNodes) {
    if (node.nodeName === '#text') {
      w.text((node as DefaultTreeAdapterTypes.TextNode).value, pre);
      continue;
    }
    if (!('tagName' in node)) continue;
    const tag = node.tagName;
    // rp is hidden in a browser (only ruby-less browsers show it), so the reader never sees it.
    if (DROP_CONTENT_SET.has(tag) || tag === 'rp') continue;
    switch (tag) {
      case 'br':
        w.text('\n', true);
        continue;
      case 'hr':
        w.newline(2);
        w.text('---', true);
        w.newline(2);
        continue;
      case 'img': {
        const alt = attr(node, 'alt');
        if (alt) w.text(alt, false);
        continue;
      }
      case 'li': {
        let label = '-';
        if ('tagName' in parent && (parent as Element).tagName === 'ol') {
          // As a browser numbers it: `reversed` counts down, `li value` sets this number and the next.
          const reversed = attr(parent as Element, 'reversed') !== undefined;
          next ??= listStart(parent as Element, reversed);
          const number = listInteger(attr(node, 'value')) ?? next;
          // Bounded: safe integers stay safe (a list has far fewer items than 2^53 - 2^50).
          next = Math.min(Math.max(number + (reversed ? -1 : 1), -(2 ** 52)), 2 ** 52);
          label = `${number}.`;
        }
        w.newline(1);
        w.text(`${'  '.repeat(Math.max(0, listDepth - 1))}${label} `, true);
        walk(node, w, pre, listDepth);
        w.newline(1);
        continue;
      }
      case 'ul':
      case 'ol':
        w.newline(listDepth > 0 ? 1 : 2);
        walk(node, w, pre, listDepth + 1);
        w.newline(listDepth > 0 ? 1 : 2);
        continue;
      case 'tr':
      case 'dt':
      case 'dd':
        w.newline(1);
        walk(node, w, pre, listDepth);
        w.newline(1);
        continue;
      case 'td':
      case 'th':
        walk(node, w, pre, listDepth);
        w.text('\t', true);
        continue;
      case 'a': {
        walk(node, w, pre, listDepth);
        const href = attr(node, 'href');
        if (href !== undefined && /^(?:https?|mailto|tel):/i.test(href)) {
          const shown = href.replace(/^mailto:/i, '');
          if (textOf(node).trim() !== shown && textOf(node).trim() !== href) {
            // Link text like `Reset your password U+202E` must not reverse the URL shown after it.
            w.closeBidi();
            const url = w.bidiSeen || BIDI_SENSITIVE.test(shown) ? `\u2068${shown}\u2069` : shown;
            w.text(` (${url})`, true);
          }
        }
        continue;
      }
      default:
        if (BLOCKS.has(tag)) {
          w.newline(2);
          walk(node, w, pre || tag === 'pre', listDepth);
          w.newline(2);
        } else {
          walk(node, w, pre, listDepth);
        }
    }
  }
}

/** Renders a (verified) parse5 tree as plain text. */
export function treeToPlainText(root: ParentNode): string {
  const w = new Writer();
  walk(root, w, false, 0);
  return w.toString();
}

/**
 * The text of untrusted HTML, without the content of {@link DROP_CONTENT_ELEMENTS}, in document
 * order and with entities decoded. Used when sanitizing fails closed, so it never builds a tree:
 * parse5's tree builder is quadratic in time and memory on some soups (`<b id=1><p>x` repeated
 * reconstructs every open formatting element at each `<p>`). htmlparser2's tokenizer and a linear
 * replay of its stack (the structure sanitize-html itself sees) decide what is text.
 */
export function untrustedText(html: string): string {
  const parts: string[] = [];
  replayParser(html, { onText: (text) => parts.push(text) });
  // What a WHATWG parser does to text: CR LF and lone CR become LF; NUL in body text is dropped.
  return parts.join('').replace(/\r\n?/g, '\n').replace(/\0/g, '');
}
