/**
 * htmlparser2's element stack, replayed in linear time on htmlparser2's own `Tokenizer`.
 *
 * sanitize-html parses with htmlparser2's `Parser`, which keeps its stack with `unshift`/`shift`
 * and looks end tags up with `indexOf`: time proportional to the depth per tag. This module feeds
 * the very same tokenizer (so `<!-->`, `<a b=c=">`, `</x a=">`, `<svg><style>` and every other
 * tokenizing quirk are read exactly as sanitize-html reads them) into a copy of the Parser's tree
 * rules (void elements, `openImpliesClose`, nested `<form>` ignored, `<image>` as `img`, `/>`
 * closing in svg and math, svg name case, end tags closing down to an open element of their name)
 * kept with per-name counts, so every tag costs O(1) amortized. It also counts the stack steps the
 * real Parser would take, and yields the text outside dropped elements for the fail-closed result.
 */
import { Tokenizer, type TokenizerCallbacks } from 'htmlparser2';
import { DROP_CONTENT_ELEMENTS, DROP_CONTENT_SET } from './hard-rules.ts';

/** The Parser's `voidElements`: anything else is pushed on its stack (`<bgsound>` is not void). */
const VOID: ReadonlySet<string> = new Set([
  ...['area', 'base', 'basefont', 'br', 'col', 'command', 'embed', 'frame', 'hr', 'img', 'input'],
  ...['isindex', 'keygen', 'link', 'meta', 'param', 'source', 'track', 'wbr'],
]);

// The Parser's openImpliesClose: opening the key pops the top of the stack while it is in the set.
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

// The Parser's htmlIntegrationElements (HTML inside foreign content) and svgTagNameAdjustments.
const INTEGRATION: ReadonlySet<string> = new Set([
  ...['mi', 'mo', 'mn', 'ms', 'mtext', 'annotation-xml', 'foreignObject', 'desc', 'title'],
]);
const SVG_CASE: ReadonlyMap<string, string> = new Map(
  [
    ...['altGlyph', 'altGlyphDef', 'altGlyphItem', 'animateColor', 'animateMotion', 'animateTransform'],
    ...['clipPath', 'feBlend', 'feColorMatrix', 'feComponentTransfer', 'feComposite', 'feConvolveMatrix'],
    ...['feDiffuseLighting', 'feDisplacementMap', 'feDistantLight', 'feDropShadow', 'feFlood', 'feFuncA'],
    ...['feFuncB', 'feFuncG', 'feFuncR', 'feGaussianBlur', 'feImage', 'feMerge', 'feMergeNode'],
    ...['feMorphology', 'feOffset', 'fePointLight', 'feSpecularLighting', 'feSpotLight', 'feTile'],
    ...['feTurbulence', 'foreignObject', 'glyphRef', 'linearGradient', 'radialGradient', 'textPath'],
  ].map((name) => [name.toLowerCase(), name]),
);

const NONE = 0;
const SVG = 1;
const MATHML = 2;

/** Where to stop the replay, and what to do with text. */
export interface ReplayOptions {
  /** Stop once the stack is deeper than this. */
  readonly depthLimit?: number;
  /** Stop once the Parser's stack steps pass this. */
  readonly workLimit?: number;
  /** Receives decoded text that is not inside a {@link DROP_CONTENT_ELEMENTS} element. */
  readonly onText?: (text: string) => void;
}

/** What the replay saw. */
export interface Replayed {
  /** The deepest the Parser's stack got. */
  readonly maxDepth: number;
  /** Why the replay stopped early, if it did. */
  readonly stopped: 'depth' | 'work' | undefined;
  /** The stack at the end (bottom first), as the Parser holds it before `onend`. */
  readonly stack: readonly string[];
}

class StackReplay implements TokenizerCallbacks {
  readonly stack: string[] = [];
  maxDepth = 0;
  work = 0;
  stopped: 'depth' | 'work' | undefined;
  readonly tokenizer: Tokenizer;
  private readonly open = new Map<string, number>();
  private readonly foreign: number[] = [NONE];
  private tagname = '';
  private droppedOpen = 0;

  private readonly html: string;
  private readonly options: ReplayOptions;

  constructor(html: string, options: ReplayOptions) {
    this.html = html;
    this.options = options;
    // sanitize-html's parser options: decodeEntities only (HTML mode, `/>` honoured in foreign content).
    this.tokenizer = new Tokenizer({ decodeEntities: true }, this);
  }

  isInForeignContext(): boolean {
    return this.foreign[this.foreign.length - 1] !== NONE;
  }

  private isOpen(name: string): boolean {
    return (this.open.get(name) ?? 0) > 0;
  }

  private addWork(steps: number): void {
    this.work += steps;
    const limit = this.options.workLimit;
    if (limit !== undefined && this.work > limit && this.stopped === undefined) this.stop('work');
  }

  private stop(reason: 'depth' | 'work'): void {
    this.stopped = reason;
    this.tokenizer.pause();
  }

  private readTagName(start: number, end: number): string {
    const name = this.html.slice(start, end).toLowerCase();
    const context = this.foreign[this.foreign.length - 1];
    if (context === SVG) return SVG_CASE.get(name) ?? name;
    if (this.foreign.length > 1) {
      const adjusted = SVG_CASE.get(name);
      if (adjusted !== undefined) {
        this.addWork(this.stack.length); // the Parser's stack.includes
        if (this.isOpen(adjusted)) return adjusted;
      }
    }
    return context === NONE && name === 'image' ? 'img' : name;
  }

  private push(name: string): void {
    this.addWork(this.stack.length); // the Parser's stack.unshift
    this.stack.push(name);
    this.open.set(name, (this.open.get(name) ?? 0) + 1);
    if (DROP_CONTENT_SET.has(name)) this.droppedOpen++;
    if (name === 'svg') this.foreign.push(SVG);
    else if (name === 'math') this.foreign.push(MATHML);
    else if (INTEGRATION.has(name)) this.foreign.push(NONE);
    if (this.stack.length > this.maxDepth) {
      this.maxDepth = this.stack.length;
      const limit = this.options.depthLimit;
      if (limit !== undefined && this.maxDepth > limit && this.stopped === undefined) this.stop('depth');
    }
  }

  private pop(): void {
    const name = this.stack.pop() as string;
    this.open.set(name, (this.open.get(name) as number) - 1);
    if (DROP_CONTENT_SET.has(name)) this.droppedOpen--;
    if (name === 'svg' || name === 'math' || INTEGRATION.has(name)) this.foreign.pop();
  }

  private emitOpenTag(name: string): void {
    this.tagname = name;
    if (name === 'form') {
      this.addWork(this.stack.length); // the Parser's stack.includes('form')
      if (this.isOpen('form')) {
        this.tagname = '';
        return;
      }
    }
    const implied = IMPLIES_CLOSE.get(name);
    if (implied !== undefined) {
      while (this.stack.length > 0 && implied.has(this.stack[this.stack.length - 1] as string)) this.pop();
    }
    if (!VOID.has(name)) this.push(name);
  }

  private closeCurrentTag(): void {
    const name = this.tagname;
    this.tagname = '';
    if (name !== '' && this.stack[this.stack.length - 1] === name) this.pop();
  }

  onopentagname(start: number, end: number): void {
    this.emitOpenTag(this.readTagName(start, end));
  }

  onopentagend(): void {
    this.tagname = '';
  }

  onselfclosingtag(): void {
    if (this.isInForeignContext()) this.closeCurrentTag();
    else this.tagname = '';
  }

  onclosetag(start: number, end: number): void {
    const name = this.readTagName(start, end);
    if (VOID.has(name)) return;
    if (this.isOpen(name)) {
      while (this.stack[this.stack.length - 1] !== name) this.pop();
      this.pop();
      return;
    }
    this.addWork(this.stack.length); // the Parser's failed stack.indexOf
    if (name === 'p') {
      this.emitOpenTag('p');
      this.closeCurrentTag();
    }
  }

  ontext(start: number, end: number): void {
    if (this.droppedOpen === 0) this.options.onText?.(this.html.slice(start, end));
  }

  ontextentity(codePoint: number): void {
    if (this.droppedOpen === 0) this.options.onText?.(String.fromCodePoint(codePoint));
  }

  // Attributes, comments, CDATA (text only inside svg or math, whose content is dropped anyway),
  // doctypes and processing instructions change neither the stack nor the text.
  onattribdata(): void {}
  onattribentity(): void {}
  onattribend(): void {}
  onattribname(): void {}
  oncdata(): void {}
  oncomment(): void {}
  ondeclaration(): void {}
  onprocessinginstruction(): void {}
  onend(): void {}
}

/** Replays htmlparser2's parse of `html`; linear in its length. */
export function replayParser(html: string, options: ReplayOptions = {}): Replayed {
  const replay = new StackReplay(html, options);
  replay.tokenizer.write(html);
  if (replay.stopped === undefined) replay.tokenizer.end();
  return { maxDepth: replay.maxDepth, stopped: replay.stopped, stack: replay.stack };
}
