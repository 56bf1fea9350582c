/**
 * The canonical serializer: turns a verified parse5 tree back into HTML in the form sanitize-html
 * writes (`<br />`, `"` quoting, `&<>` escaped in text and `&<>"` in attributes), so the common
 * case needs no second parse. It escapes `<` and `>` inside attribute values too, which closes the
 * attribute-reparse mXSS class. With a character budget it truncates on a node boundary or inside
 * a text node (never inside a tag or an entity) and closes every open element.
 */
import type { DefaultTreeAdapterTypes } from 'parse5';

type ParentNode = DefaultTreeAdapterTypes.ParentNode;
type ChildNode = DefaultTreeAdapterTypes.ChildNode;
type Element = DefaultTreeAdapterTypes.Element;

/** Void elements: no end tag, written `<br />`. */
export const VOID_ELEMENTS: ReadonlySet<string> = new Set([
  'area',
  'base',
  'basefont',
  'bgsound',
  'br',
  'col',
  'embed',
  'frame',
  'hr',
  'img',
  'input',
  'keygen',
  'link',
  'meta',
  'param',
  'source',
  'track',
  'wbr',
]);

const BOOLEAN_ATTRIBUTES: ReadonlySet<string> = new Set(['open', 'reversed', 'nowrap']);
/** The HTML parser drops one newline right after these start tags; write it back. */
const LEADING_NEWLINE_ELEMENTS: ReadonlySet<string> = new Set(['pre', 'listing', 'textarea']);

/** Escapes text content. */
export function escapeText(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes a double-quoted attribute value. */
export function escapeAttribute(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function startTag(el: Element): string {
  let out = `<${el.tagName}`;
  for (const a of el.attrs) {
    out += a.value === '' && BOOLEAN_ATTRIBUTES.has(a.name) ? ` ${a.name}` : ` ${a.name}="${escapeAttribute(a.value)}"`;
  }
  return VOID_ELEMENTS.has(el.tagName) ? `${out} />` : `${out}>`;
}

/** The serialized HTML and whether the budget cut it short. */
export interface Serialized {
  readonly html: string;
  readonly truncated: boolean;
}

/** Cuts `text` so its escaped form fits `budget`, never inside a surrogate pair. */
function cutText(text: string, budget: number): string {
  let lo = 0;
  let hi = Math.min(text.length, budget);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (escapeText(text.slice(0, mid)).length <= budget) lo = mid;
    else hi = mid - 1;
  }
  let end = lo;
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--;
  return text.slice(0, end);
}

/**
 * Escapes `text` so that the result fits `maxChars`: text whose escaped form fits stays whole,
 * otherwise it is cut on its escaped length (never inside an entity or a surrogate pair) and the
 * escaped marker appended. For the fail-closed output, which has no tree to truncate.
 */
export function escapeTextWithin(
  text: string,
  maxChars: number,
  marker: string,
): { readonly html: string; readonly truncated: boolean } {
  const escaped = escapeText(text);
  if (escaped.length <= maxChars) return { html: escaped, truncated: false };
  const escapedMarker = escapeText(marker);
  return { html: escapeText(cutText(text, maxChars - escapedMarker.length)) + escapedMarker, truncated: true };
}

/**
 * The whole serialization of the children of `root` when it is at most `maxChars` long, else
 * `undefined`. The walk stops once the output passes `maxChars`, so over-long output (the parser
 * clones open formatting elements into every new paragraph: a small input can build a huge tree)
 * is never written out in full.
 */
export function serializeWithin(root: ParentNode, maxChars: number): string | undefined {
  const whole: string[] = [];
  let length = 0;
  const write = (part: string): void => {
    whole.push(part);
    length += part.length;
  };
  const walkWhole = (parent: ParentNode): void => {
    for (const node of parent.childNodes) {
      if (length > maxChars) return;
      writeNode(node, write, walkWhole);
    }
  };
  walkWhole(root);
  return length <= maxChars ? whole.join('') : undefined;
}

/** Calls `visit` for every element below `root`, in document order. */
export function forEachElement(root: ParentNode, visit: (element: Element) => void): void {
  const stack: ChildNode[] = [...root.childNodes].reverse();
  while (stack.length > 0) {
    const node = stack.pop() as ChildNode;
    if (!('tagName' in node)) continue;
    visit(node);
    for (let i = node.childNodes.length - 1; i >= 0; i--) stack.push(node.childNodes[i] as ChildNode);
  }
}

/**
 * Serializes the children of `root`. `maxChars` bounds the output length including the marker
 * and the end tags needed to close what is open. `onWrite` is heard only when the output is cut
 * (`truncated`): then it hears every element whose start tag the cut writes; output that fits
 * calls it for none.
 */
export function serializeChildren(
  root: ParentNode,
  maxChars = Number.POSITIVE_INFINITY,
  marker = '',
  onWrite?: (element: Element) => void,
): Serialized {
  const whole = serializeWithin(root, maxChars);
  // Room for the marker is needed only when something is cut: output that fits stays whole, so a
  // truncated result sanitizes to itself under the same limit.
  if (whole !== undefined) return { html: whole, truncated: false };
  const parts: string[] = [];
  const escapedMarker = escapeText(marker);
  const budget = maxChars - escapedMarker.length;
  let used = 0;
  let reserved = 0;
  let truncated = false;
  const walk = (parent: ParentNode): void => {
    for (const node of parent.childNodes) {
      if (truncated) return;
      if (node.nodeName === '#text') {
        const text = (node as DefaultTreeAdapterTypes.TextNode).value;
        const escaped = escapeText(text);
        if (used + escaped.length + reserved <= budget) {
          parts.push(escaped);
          used += escaped.length;
        } else {
          const kept = escapeText(cutText(text, budget - used - reserved));
          parts.push(kept, escapedMarker);
          used += kept.length + escapedMarker.length;
          truncated = true;
        }
        continue;
      }
      if (!('tagName' in node)) continue;
      const first = node.childNodes[0];
      const lead =
        LEADING_NEWLINE_ELEMENTS.has(node.tagName) &&
        first?.nodeName === '#text' &&
        (first as DefaultTreeAdapterTypes.TextNode).value.startsWith('\n')
          ? '\n'
          : '';
      const open = startTag(node) + lead;
      const close = VOID_ELEMENTS.has(node.tagName) ? '' : `</${node.tagName}>`;
      // A browser hides rp, and the verifier drops an rp holding more than brackets: a cut inside
      // one would take the marker with it. An rp goes whole or not at all.
      const rp =
        node.tagName === 'rp' ? serializeWithin(node, budget - used - reserved - open.length - close.length) : '';
      if (used + open.length + close.length + reserved > budget || rp === undefined) {
        parts.push(escapedMarker);
        used += escapedMarker.length;
        truncated = true;
        return;
      }
      parts.push(open);
      used += open.length;
      onWrite?.(node);
      if (close === '') continue;
      if (node.tagName === 'rp') {
        if (onWrite !== undefined) forEachElement(node, onWrite);
        parts.push(rp, close);
        used += rp.length + close.length;
        continue;
      }
      reserved += close.length;
      walk(node);
      reserved -= close.length;
      parts.push(close);
      used += close.length;
    }
  };
  walk(root);
  return { html: parts.join(''), truncated };
}

function writeNode(node: ChildNode, write: (part: string) => void, walk: (parent: ParentNode) => void): void {
  if (node.nodeName === '#text') {
    write(escapeText((node as DefaultTreeAdapterTypes.TextNode).value));
    return;
  }
  if (!('tagName' in node)) return;
  write(startTag(node));
  if (VOID_ELEMENTS.has(node.tagName)) return;
  const first = node.childNodes[0];
  if (
    LEADING_NEWLINE_ELEMENTS.has(node.tagName) &&
    first?.nodeName === '#text' &&
    (first as DefaultTreeAdapterTypes.TextNode).value.startsWith('\n')
  ) {
    write('\n');
  }
  walk(node);
  write(`</${node.tagName}>`);
}
