/**
 * Unicode bidi controls left open. An embedding or override (U+202A to U+202E) runs until its PDF
 * (U+202C), an isolate (U+2066 to U+2068) until its PDI (U+2069), or else to the end of the
 * paragraph, and the output has no paragraph end of its own: inserted inline, `thanks U+202E`
 * reverses the page's " - reply by admin" after it, and in `toPlainText()` a link text ending in
 * U+202E reverses the ` (url)` appended to it. The sanitized tree gets the missing closers at the end
 * of every block or isolating element and of the output, which changes nothing a browser shows
 * inside the output (a block ends the paragraph there, an isolate its controls). Controls are paired
 * as a browser pairs them: across inline elements that do not isolate (`<b>`, `<a>`, `<span>`), not
 * into or out of those that do. Where closers cannot be added (truncated output, which must
 * not grow), the unclosed openers are removed instead. A closer that closes nothing where it stands
 * (a PDI with no isolate open, a PDF with no embedding on top) is removed in both cases: a browser
 * reads it as closing the page's own isolation around the output (`<bdi>`, `dir`), and the page's
 * text after the output is then reordered with the user's right-to-left text.
 */
import type { DefaultTreeAdapterTypes } from 'parse5';

type ParentNode = DefaultTreeAdapterTypes.ParentNode;
type TextNode = DefaultTreeAdapterTypes.TextNode;

const PDF = '\u202c';
const PDI = '\u2069';

/** Any embedding, override or isolate control, opening or closing. */
export const BIDI_CONTROL: RegExp = /[\u202a-\u202e\u2066-\u2069]/;

/** Text a bidi algorithm can reorder around it: bidi controls and right-to-left letters. */
export const BIDI_SENSITIVE: RegExp =
  /[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\u061c\u200f\u202a-\u202e\u2066-\u2069\u{10800}-\u{10fff}\u{1e800}-\u{1efff}]/u;

/** One open control: an isolate or an embedding/override, and where its opener is. */
export interface OpenControl {
  readonly isolate: boolean;
  readonly node: TextNode | undefined;
  readonly index: number;
}

/**
 * The controls open so far, outermost first. It counts its isolates so that a PDI with none open
 * is rejected at once: searching the stack for one made many PDIs over many open embeddings
 * quadratic. A PDI that finds an isolate pops everything it searched, so pairing stays linear.
 */
export class BidiStack {
  readonly open: OpenControl[] = [];
  isolates = 0;

  push(control: OpenControl): void {
    this.open.push(control);
    if (control.isolate) this.isolates++;
  }

  /** Appends `inner` (one at a time: spreading a long array into `push` overflows the call stack). */
  append(inner: BidiStack): void {
    for (const control of inner.open) this.open.push(control);
    this.isolates += inner.isolates;
  }

  clear(): void {
    this.open.length = 0;
    this.isolates = 0;
  }
}

/**
 * Applies the control at `text[index]` to `stack` as the bidi algorithm pairs them (rules X5 to X7:
 * a PDF closes the last embedding only if no isolate was opened after it; a PDI closes the last
 * isolate and every embedding opened inside it). Returns `unmatched` for a closer that closes
 * nothing (the algorithm ignores it), `true` for any other control, `false` for other characters.
 */
export function applyControl(stack: BidiStack, text: string, index: number, node?: TextNode): boolean | 'unmatched' {
  const code = text.charCodeAt(index);
  const open = stack.open;
  if ((code >= 0x202a && code <= 0x202e && code !== 0x202c) || (code >= 0x2066 && code <= 0x2068)) {
    stack.push({ isolate: code >= 0x2066, node, index });
    return true;
  }
  if (code === 0x202c) {
    if (open.length === 0 || (open[open.length - 1] as OpenControl).isolate) return 'unmatched';
    open.pop();
    return true;
  }
  if (code === 0x2069) {
    if (stack.isolates === 0) return 'unmatched';
    open.length = open.findLastIndex((c) => c.isolate);
    stack.isolates--;
    return true;
  }
  return false;
}

/** The closers of everything on `stack`, innermost first. */
export function closersOf(stack: readonly OpenControl[]): string {
  let out = '';
  for (let i = stack.length - 1; i >= 0; i--) out += (stack[i] as OpenControl).isolate ? PDI : PDF;
  return out;
}

/** `text` without the openers that nothing closes and the closers that close nothing (it never grows). */
export function stripUnclosedBidi(text: string): string {
  if (!BIDI_CONTROL.test(text)) return text;
  const stack = new BidiStack();
  const drop = new Set<number>();
  for (let i = 0; i < text.length; i++) if (applyControl(stack, text, i) === 'unmatched') drop.add(i);
  for (const c of stack.open) drop.add(c.index);
  if (drop.size === 0) return text;
  return withoutIndexes(text, drop);
}

/** `text` without the code units at `drop` (one pass: linear however many there are). */
function withoutIndexes(text: string, drop: ReadonlySet<number>): string {
  const parts: string[] = [];
  let from = 0;
  for (let i = 0; i < text.length; i++) {
    if (!drop.has(i)) continue;
    if (i > from) parts.push(text.slice(from, i));
    from = i + 1;
  }
  parts.push(text.slice(from));
  return parts.join('');
}

/** Where a bidi control to remove is: its text node and index. */
interface StrayControl {
  readonly node: TextNode;
  readonly index: number;
}

// Elements whose direct text a parser moves elsewhere (a closer appended to a <table> or <tr> would
// be moved before the table by the next parse).
const TEXTLESS_ELEMENTS: ReadonlySet<string> = new Set(['table', 'thead', 'tbody', 'tfoot', 'tr', 'colgroup']);

// Phrasing elements a browser lays out in the line of their parent with `unicode-bidi: normal`:
// their text is read with the text around them, so a closer in `<b>` closes an opener before it.
// Every other element (blocks, table parts, `bdi`, `bdo`, ruby, replaced elements, anything
// unknown) is treated as isolating; that errs towards a closer too many at the end of an element,
// which changes the output's own rendering at most, never the page's around it.
const INLINE_ELEMENTS: ReadonlySet<string> = new Set([
  ...['a', 'abbr', 'b', 'big', 'cite', 'code', 'data', 'del', 'dfn', 'em', 'font', 'i', 'ins', 'kbd'],
  ...['label', 'mark', 'nobr', 'q', 's', 'samp', 'small', 'span', 'strike', 'strong', 'sub', 'sup'],
  ...['time', 'tt', 'u', 'var'],
]);

type Element = DefaultTreeAdapterTypes.Element;

/** Whether a `style` value takes the element out of its parent's line (`display` other than `inline`, a float). */
function styleMakesBox(style: string): boolean {
  for (const declaration of style.split(';')) {
    const colon = declaration.indexOf(':');
    if (colon < 0) continue;
    const name = declaration.slice(0, colon).trim().toLowerCase();
    if (name !== 'display' && name !== 'float') continue;
    let value = declaration.slice(colon + 1);
    const bang = value.indexOf('!');
    if (bang >= 0) value = value.slice(0, bang);
    value = value.trim().toLowerCase();
    if (value !== (name === 'display' ? 'inline' : 'none')) return true;
  }
  return false;
}

/**
 * Whether a bidi control inside `el` is paired on its own, apart from the text around it: a block
 * (a paragraph of its own), an isolate (`bdi`, `bdo`, any `dir`: the UA style sheet's
 * `unicode-bidi: isolate`) or an inline-block. Only the inline elements above, without `dir` and
 * without a `display`/`float` that makes a box, share their parent's controls.
 */
function isolates(el: Element): boolean {
  if (!INLINE_ELEMENTS.has(el.tagName)) return true;
  for (const attr of el.attrs) {
    if (attr.name === 'dir') return true;
    if (attr.name === 'style' && styleMakesBox(attr.value)) return true;
  }
  return false;
}

/**
 * Pairs the controls in `parent`'s content on `stack`, which holds what is open where `parent`
 * starts: an inline element that does not isolate is walked on its parent's stack (no copy), so a
 * closer in it closes an opener before it, as in a browser. An isolating element starts with
 * nothing open, and what it leaves open is closed at its own end (`finish`). A closer that closes
 * nothing where it stands goes to `removals`: left in, it would close an isolate of the page around
 * the output.
 */
function pairControls(parent: ParentNode, stack: BidiStack, mode: 'close' | 'strip', removals: StrayControl[]): void {
  for (const node of parent.childNodes) {
    if (node.nodeName === '#text') {
      const text = node as TextNode;
      if (!BIDI_CONTROL.test(text.value)) continue;
      for (let i = 0; i < text.value.length; i++) {
        if (applyControl(stack, text.value, i, text) === 'unmatched') removals.push({ node: text, index: i });
      }
    } else if ('tagName' in node) {
      if (!isolates(node)) {
        pairControls(node, stack, mode, removals);
        continue;
      }
      const inner = new BidiStack();
      pairControls(node, inner, mode, removals);
      if (inner.open.length === 0) continue;
      // Table parts cannot hold text (a closer there would be moved before the table); their
      // text lives in cells, which are finished on their own, so this is a fallback only.
      if (TEXTLESS_ELEMENTS.has(node.tagName)) stack.append(inner);
      else finish(node, inner.open, mode, removals);
    }
  }
}

function finish(parent: ParentNode, open: OpenControl[], mode: 'close' | 'strip', removals: StrayControl[]): void {
  if (mode === 'strip') {
    for (const control of open) removals.push({ node: control.node as TextNode, index: control.index });
    return;
  }
  const closers = closersOf(open);
  const last = parent.childNodes[parent.childNodes.length - 1];
  if (last?.nodeName === '#text') (last as TextNode).value += closers;
  else {
    const text: TextNode = { nodeName: '#text', value: closers, parentNode: parent };
    parent.childNodes.push(text);
  }
}

/**
 * Closes every embedding, override and isolate the content of `root` leaves open (`close`: appends
 * PDF/PDI at the end of each block and of `root`), or removes their openers (`strip`: the text only
 * gets shorter, for output already cut to a length). Either way it removes every closer that closes
 * nothing at its level. Idempotent: nothing is open or stray afterwards.
 */
export function balanceBidiControls(root: ParentNode, mode: 'close' | 'strip'): void {
  const removals: StrayControl[] = [];
  const stack = new BidiStack();
  pairControls(root, stack, mode, removals);
  const open = stack.open;
  if (open.length > 0) finish(root, open, mode, removals);
  if (removals.length === 0) return;
  // Closers appended by `finish` go after every index recorded, so the indexes still hold.
  const byNode = new Map<TextNode, Set<number>>();
  for (const r of removals) {
    const set = byNode.get(r.node) ?? new Set<number>();
    set.add(r.index);
    byNode.set(r.node, set);
  }
  for (const [node, drop] of byNode) node.value = withoutIndexes(node.value, drop);
}
