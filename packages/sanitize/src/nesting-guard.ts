/**
 * The nesting guard in front of sanitize-html. htmlparser2 keeps its open element stack with
 * `unshift` and looks every end tag up with `indexOf`, so both deep nesting and end tags that match
 * nothing (`<div></x>` repeated) cost time proportional to the depth: quadratic over the input.
 *
 * Two lines of defence:
 * 1. {@link preParseRefusal}, a linear pre-scan that replays htmlparser2's stack (per-name counts;
 *    end tags pop only down to an open element of that name, as htmlparser2 does; void elements and
 *    the common implied closes as in htmlparser2's `openImpliesClose`). It refuses input whose
 *    replayed depth passes {@link PRE_PARSE_DEPTH_LIMIT} or whose replayed stack work (the depth at
 *    every start tag and every unmatched end tag) passes {@link PRE_PARSE_WORK_LIMIT}.
 * 2. The parse itself counts htmlparser2's real open and close events and aborts above the same
 *    depth (see the sanitizer's `onOpenTag`). The pre-scan's tokenizer is simpler than
 *    htmlparser2's, so only this count is exact; it bounds the cost to input size × limit.
 */

/**
 * Above this nesting depth the input is not parsed to the end by sanitize-html: it fails closed to
 * text (parse5, which is linear, extracts it). Checked by a linear pre-scan before parsing and, as
 * an exact bound, on htmlparser2's own open/close events during the parse.
 *
 * @example
 * ```ts
 * import { createSanitizer, PRE_PARSE_DEPTH_LIMIT } from '@rampart/sanitize';
 * const r = createSanitizer().sanitize('<div>'.repeat(PRE_PARSE_DEPTH_LIMIT + 1) + 'x');
 * r.failedClosed; // true, r.html === 'x'
 * ```
 */
export const PRE_PARSE_DEPTH_LIMIT = 1024;

/**
 * The most parser stack work (the sum of the open-element depth at every start tag and at every end
 * tag that matches no open element) the pre-scan lets through. Ordinary mail stays under 10⁶;
 * above the limit the input fails closed to text like over-deep input.
 *
 * @example
 * ```ts
 * import { createSanitizer, PRE_PARSE_WORK_LIMIT } from '@rampart/sanitize';
 * const soup = '<div>'.repeat(1000) + '</x>'.repeat(Math.ceil(PRE_PARSE_WORK_LIMIT / 1000));
 * createSanitizer().sanitize(soup).failedClosed; // true
 * ```
 */
export const PRE_PARSE_WORK_LIMIT = 2 ** 25;

/** The `failure` of a result refused for depth. */
export const DEPTH_FAILURE = `nesting deeper than ${PRE_PARSE_DEPTH_LIMIT} levels`;
const WORK_FAILURE = 'too many tags inside deep nesting (parser work limit)';

// htmlparser2's own void set: anything else is pushed on its stack (`<bgsound>` is not void there).
const VOID: ReadonlySet<string> = new Set([
  ...['area', 'base', 'basefont', 'br', 'col', 'command', 'embed', 'frame', 'hr', 'img', 'input'],
  ...['isindex', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr'],
]);

// htmlparser2's openImpliesClose: opening the key pops the top of the stack while it is in the set.
const P = ['p'];
const HEADINGS = ['h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'p'];
const FORM = ['input', 'option', 'optgroup', 'select', 'button', 'datalist', 'textarea'];
const IMPLIES_CLOSE: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  (
    [
      ['tr', ['tr', 'th', 'td']],
      ['th', ['th']],
      ['td', ['thead', 'th', 'td']],
      ['body', ['head', 'link', 'script']],
      ['a', ['a']],
      ['li', ['li']],
      ['option', ['option']],
      ['optgroup', ['optgroup', 'option']],
      ['dd', ['dd', 'dt']],
      ['dt', ['dd', 'dt']],
      ['rt', ['rt', 'rp']],
      ['rp', ['rt', 'rp']],
      ['tbody', ['thead', 'tbody']],
      ['tfoot', ['thead', 'tbody']],
      ...['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => [h, HEADINGS] as const),
      ...['select', 'input', 'output', 'button', 'datalist', 'textarea'].map((f) => [f, FORM] as const),
      ...[
        ...['p', 'address', 'article', 'aside', 'blockquote', 'details', 'div', 'dl', 'fieldset', 'figcaption'],
        ...['figure', 'footer', 'form', 'header', 'hr', 'main', 'nav', 'ol', 'pre', 'section', 'table', 'ul'],
      ].map((b) => [b, P] as const),
    ] as ReadonlyArray<readonly [string, readonly string[]]>
  ).map(([k, v]) => [k, new Set(v)]),
);

// Elements whose content htmlparser2 reads as text up to their end tag; `plaintext` never ends.
const RAW_TEXT: ReadonlySet<string> = new Set([
  ...['script', 'style', 'title', 'textarea', 'xmp', 'iframe', 'noembed', 'noframes', 'plaintext'],
]);

const MARKUP = /<(?:(!--)|[!?]|(\/?)([a-zA-Z][^\t\n\f\r />]*))/g;
const GT = 0x3e;
const EQ = 0x3d;

/** Index after the `>` closing a tag whose name ends at `from` (quoted values skipped); -1 if none. */
function endOfTag(html: string, from: number): number {
  for (let i = from; i < html.length; i++) {
    const c = html.charCodeAt(i);
    if (c === GT) return i + 1;
    if (c !== EQ) continue;
    let j = i + 1;
    while (j < html.length && /[\t\n\f\r ]/.test(html[j] as string)) j++;
    const quote = html[j];
    if (quote === '"' || quote === "'") {
      const close = html.indexOf(quote, j + 1);
      if (close === -1) return -1;
      i = close;
    } else i = j - 1;
  }
  return -1;
}

/**
 * Why the input must not reach sanitize-html, or `undefined`. Linear in the input: every element
 * is pushed and popped at most once.
 */
export function preParseRefusal(html: string): string | undefined {
  const stack: string[] = [];
  const open = new Map<string, number>();
  let work = 0;
  const pop = (): void => {
    const name = stack.pop() as string;
    open.set(name, (open.get(name) as number) - 1);
  };
  MARKUP.lastIndex = 0;
  for (let m = MARKUP.exec(html); m !== null; m = MARKUP.exec(html)) {
    const name = m[3]?.toLowerCase();
    if (name === undefined) {
      // A comment, doctype or processing instruction: no tag inside counts.
      const end = m[1] === undefined ? html.indexOf('>', MARKUP.lastIndex) : html.indexOf('-->', MARKUP.lastIndex);
      if (end === -1) break;
      MARKUP.lastIndex = end + 1;
      continue;
    }
    const end = endOfTag(html, MARKUP.lastIndex);
    if (end === -1) break;
    MARKUP.lastIndex = end;
    if (m[2] === '/') {
      if (VOID.has(name)) continue;
      if ((open.get(name) ?? 0) > 0) {
        while (stack[stack.length - 1] !== name) pop();
        pop();
      } else {
        work += stack.length;
        if (work > PRE_PARSE_WORK_LIMIT) return WORK_FAILURE;
      }
      continue;
    }
    const implied = IMPLIES_CLOSE.get(name);
    if (implied !== undefined) while (stack.length > 0 && implied.has(stack[stack.length - 1] as string)) pop();
    if (VOID.has(name)) continue;
    work += stack.length;
    stack.push(name);
    open.set(name, (open.get(name) ?? 0) + 1);
    if (stack.length > PRE_PARSE_DEPTH_LIMIT) return DEPTH_FAILURE;
    if (work > PRE_PARSE_WORK_LIMIT) return WORK_FAILURE;
    if (RAW_TEXT.has(name)) {
      if (name === 'plaintext') break;
      const close = indexOfEndTag(html, name, MARKUP.lastIndex);
      if (close === -1) break;
      MARKUP.lastIndex = close;
    }
  }
  return undefined;
}

const END_TAG_SEARCH = new Map<string, RegExp>([...RAW_TEXT].map((n) => [n, new RegExp(`</${n}`, 'gi')]));

function indexOfEndTag(html: string, name: string, from: number): number {
  const search = END_TAG_SEARCH.get(name) as RegExp;
  search.lastIndex = from;
  return search.exec(html)?.index ?? -1;
}
