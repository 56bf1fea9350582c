// Files nested too deep for the parser are refused before it sees them: an estimate from the text alone.

/**
 * How deep the parser may have to recurse. oxc-parser crashes the process (a native stack
 * overflow, no exception) in a worker thread at about 2,050 nested template `${`, 2,900 brackets and
 * 4,200 assignments or ternaries (measured with oxc-parser 0.x in a child process), and at 30,000 to
 * 40,000 binary operators in one chain (`a && a && …`, `'x' + 'x' + …`: left-nested, so as deep as
 * it is long; 60,000 to 80,000 on the main thread). On the main thread (the CLI; oxc-parser 0.159,
 * 8 MiB stack) it crashed at 4,150 template `${`, 6,000 parentheses, 6,700 blocks, 6,700 unbraced
 * statement heads (`if (a) if (a) …`, `while`, labels), 5,800 `for (;;)` heads, 6,700 links of an
 * `else if` chain, 3,350 `if (a) { … } else {` levels, 4,400 nested type arguments
 * (`Array<Array<…>>`), 4,350 nested object types, 15,400 nested JSX elements and 17,600 `new`s in
 * a row; and at 8,500 `yield`s, 3,500 `yield (…)` levels, 10,500 `class extends`, 20,000 `readonly`,
 * 27,000 `keyof`/`unique`, 3,375 `[infer U extends …]` levels, 35,000 parts of a `namespace a.b.…`
 * name, 60,000 prefix `++` and 66,000 `in`/`instanceof` in one chain. Each of these counts one level
 * here (a braced `if` two: its head and its block; `in` a binary operator), so a
 * file is refused at a quarter or less of any main-thread crash and half of a worker's; no
 * hand-written code comes near this limit.
 */
export const MAX_NESTING = 1000;

/**
 * Weight of one link of a left-nested chain, in units of which {@link CHAIN_UNITS_PER_LEVEL} make one
 * level of {@link MAX_NESTING}. A binary operator weighs 4 (15 operators a level, 15,000 refuse a
 * file). Postfix links nest the same way, each on the one before: calls `f()()`, element accesses and
 * array types `A[][]`, tagged templates ``f`…``…` ``, casts `x as T as T` and `satisfies` weigh 4 too
 * (15,000 refuse a file), member accesses `x.a.a` and optional chains `x?.a?.a` 2 (30,000). On the
 * main thread (oxc-parser 0.159) a chain crashed at about 70,000 tagged templates, 100,000 `[]`,
 * 200,000 calls and 250,000 member accesses, and between 120,000 and 250,000 optional chains,
 * element accesses, `as`/`satisfies` casts and non-null `!`s (measured in a child process, as
 * above): each limit is 4 to 13 times below its crash. A chain counts the binary operators since the
 * last `,`/`;` plus the postfix run of the current operand: `a.b && c.d` nests as deep as its
 * longest operand plus the operators, not as the sum of every operand.
 */
const CHAIN_UNITS_PER_LEVEL = 60;
const LINK_UNITS = 4;
const MEMBER_UNITS = 2;
// A binary operator starts with one of these after a complete operand (`/` only gets here as a division).
const BINARY_START = /[-+*%&|^<>]|\//;
// The rest of a multi-character operator (`&&`, `>>>`, `===`, `<=`, `??`), skipped after its first character.
const OPERATOR_REST = /[&|<>=?]/;

/** The message of the parse error a file nested deeper than {@link MAX_NESTING} gets (it is not parsed). */
export const TOO_DEEP = `nesting deeper than ${MAX_NESTING} levels`;

const OPERATOR_END = /[=?:&|+\-*/%<>!~^,([{]/;
// After these a `/` starts a regular expression, not a division.
const REGEX_AFTER = /[(,=:[!&|?{};~^%*+\-<>]/;
const REGEX_KEYWORDS = new Set([
  'return',
  'typeof',
  'case',
  'do',
  'else',
  'in',
  'of',
  'new',
  'delete',
  'void',
  'throw',
  'instanceof',
  'yield',
  'await',
]);
// Words that continue an expression on the next line (`a\ninstanceof B`): no statement ends there.
const CONTINUING_WORD = /^(in|instanceof|as|satisfies)\b/;
const WORD = /[\w$\\]/;
const STATEMENT_HEADS = new Set(['if', 'while', 'for', 'with']);
// Words after which `(`, `[` or a template starts something new, not a call, element access or tag.
const NOT_CALLEE = new Set([
  ...STATEMENT_HEADS,
  ...REGEX_KEYWORDS,
  'function',
  'catch',
  'switch',
  'async',
  'const',
  'let',
  'var',
  'export',
  'import',
  'from',
  'extends',
  'implements',
]);
// Prefix words that nest like `!`: `new new X`, `typeof typeof x`, and the TypeScript type
// operators (`keyof keyof T`, `readonly`, `unique`, `infer`).
const UNARY_WORDS = new Set(['new', 'typeof', 'void', 'delete', 'await', 'keyof', 'unique', 'readonly', 'infer']);
// Words that nest what follows them to the end of the expression, like `=`: `yield` (`yield (yield …)`)
// and `extends` (`class extends class extends …`, `infer U extends [infer V extends …]`, conditional types).
const RIGHT_NESTING_WORDS = new Set(['yield', 'extends']);
// Word operators: one more link of a left-nested chain after a complete operand, like `&&`.
const WORD_OPERATORS = new Set(['in', 'instanceof']);
// Words after which a `.` joins a dotted name that nests one level a part (`namespace a.b.c`).
const DOTTED_NAME_HEADS = new Set(['namespace', 'module']);
// A label (`name:`) starts a statement: after one of these (a statement end, a head, another label).
const LABEL_AFTER = new Set(['', ';', '}', ':']);
// Binary operators that cannot stand in type arguments: a `<` before them was a comparison.
const NOT_IN_TYPES = /^(&&|\|\||\?\?|[=!]==?|[-+*%/])$/;
const LINE_END = /[\n\r]/g;

/** Whether `else` comes after `from`, past blanks and comments: the statement before it goes on. */
function elseAhead(text: string, from: number): boolean {
  let i = from;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') i++;
    else if (c === '/' && text[i + 1] === '/') {
      LINE_END.lastIndex = i;
      i = LINE_END.exec(text)?.index ?? text.length;
    } else if (c === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 2;
    } else return text.startsWith('else', i) && !/[\w$]/.test(text[i + 4] ?? '');
  }
  return false;
}

/** One open bracket of the estimate: its right-nesting operator count since its last `,`/`;`. */
interface Frame {
  /**
   * `(`, `[`, `{`, `${` (inside a template), `<` (a JSX tag or type arguments) or `jsx` (the
   * children of a JSX element, from its opening tag's `>` to its closing tag).
   */
  readonly kind: '(' | '[' | '{' | '${' | '<' | 'jsx';
  count: number;
  /** Statements nested in this bracket's current statement: unbraced heads, `else`, `do`, labels. */
  statements: number;
  /** A `<` that opens a JSX tag (`</` for a closing tag), not type arguments. */
  readonly tag?: 'open' | 'close';
  /** Binary operators since its last `,`/`;`, in units: a left-nested chain, {@link CHAIN_UNITS_PER_LEVEL} a level. */
  chain: number;
  /** Postfix links (calls, accesses, tags, casts) of the current operand since its last binary operator, in units. */
  run: number;
  /** The head of `if (…)`, `while (…)`, `for (…)`, `with (…)`: a statement follows it. */
  readonly head?: boolean;
}

/**
 * A cheap upper estimate of the parser's recursion depth, in one pass over the text: open
 * brackets and template `${`, plus in each bracket the right-nesting operators (`? :`, `=>`, `=`,
 * `**`) since its last `,` or `;` (or a line break that ends a statement), plus runs of prefix
 * `!`/`~`/`-`/`+`, plus one level per 15 binary operators or postfix links of a chain ({@link CHAIN_UNITS_PER_LEVEL}). Strings (a `'`/`"` string ends at the end of its line at the latest), template
 * text, regular expression literals (where an operand is expected) and comments are skipped;
 * `<…>` of JSX tags and type arguments are not depth, and what they hold is dropped when they close.
 */
export function nestingDepth(text: string): number {
  const frames: Frame[] = [{ kind: '{', count: 0, chain: 0, run: 0, statements: 0 }];
  let total = 0;
  let brackets = 0;
  let max = 0;
  let unary = 0;
  // Parts of a dotted `namespace a.b.c` name so far; -1 outside one.
  let dotted = -1;
  let last = '';
  let lastWord = '';
  // What came before the last word (a label is a word after a statement end).
  let beforeWord = '';
  // A statement head, `else`, `do` or label was just read: a line break does not end its statement.
  let awaitingStatement = false;
  const top = (): Frame => frames[frames.length - 1]!;
  const measure = (extra = 0): void => {
    if (total + brackets + extra > max) max = total + brackets + extra;
  };
  /** One more binary operator of a left-nested chain; the next operand starts a new postfix run. */
  const operator = (): void => {
    const frame = top();
    frame.chain += LINK_UNITS;
    frame.run = 0;
    measure(Math.floor(frame.chain / CHAIN_UNITS_PER_LEVEL));
  };
  /** One more postfix link (call, access, tag, cast) of the current operand. */
  const link = (units = LINK_UNITS): void => {
    const frame = top();
    frame.run += units;
    measure(Math.floor((frame.chain + frame.run) / CHAIN_UNITS_PER_LEVEL));
  };
  /** Whether what came last ends an operand a postfix `(`, `[` or template applies to. */
  const afterOperand = (word: string): boolean =>
    last === ')' || last === ']' || (last === 'a' && !NOT_CALLEE.has(word));
  const bump = (): void => {
    top().run = 0;
    top().count++;
    total++;
    measure();
  };
  const reset = (): void => {
    total -= top().count;
    top().count = 0;
    top().chain = 0;
    top().run = 0;
  };
  /** One more statement nested in the current one (`if (a) if (a) …`, `else if`, `l1: l2: …`). */
  const nestStatement = (): void => {
    top().statements++;
    total++;
    measure();
    awaitingStatement = true;
  };
  /** A statement ended at `at` (a `;`, a `}` or a line break): its nesting ends unless an `else` follows. */
  const endStatement = (at: number): void => {
    const frame = top();
    if (frame.statements === 0) return;
    if (elseAhead(text, at + 1)) return;
    total -= frame.statements;
    frame.statements = 0;
  };
  const push = (kind: Frame['kind'], head = false, tag?: Frame['tag']): void => {
    frames.push({ kind, count: 0, chain: 0, run: 0, statements: 0, head, ...(tag ? { tag } : {}) });
    brackets++;
    measure();
  };
  const pop = (): Frame | undefined => {
    if (frames.length <= 1) return undefined;
    const frame = frames.pop()!;
    total -= frame.count + frame.statements;
    brackets--;
    return frame;
  };
  // A tag or type arguments left open (a `<` that was a comparison, JSX text) ends with its bracket or statement.
  const popAngles = (): void => {
    while ((top().kind === '<' || top().kind === 'jsx') && frames.length > 1) pop();
  };
  /** Skips template text from `i` (after a backtick or a closing `}`): the index of the closing backtick, or of the `{` of a `${`. */
  const template = (from: number): number => {
    let j = from;
    while (j < text.length) {
      const c = text[j];
      if (c === '\\') j += 2;
      else if (c === '`') return j;
      else if (c === '$' && text[j + 1] === '{') {
        push('${');
        return j + 1;
      } else j++;
    }
    return text.length;
  };
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const next = text[i + 1];
    if (c === '\n' || (c === '\r' && next !== '\n')) {
      // A line break ends a statement after a complete operand unless the next line continues it.
      if (last !== '' && !OPERATOR_END.test(last) && !awaitingStatement) {
        const ahead = text.slice(i + 1, i + 200);
        // Not `word[0]`: on a window of only blanks the regex backtracks and yields a blank, not undefined.
        const first = /^\s*(.)/.exec(ahead)?.[1];
        const word = ahead.trimStart();
        if (first === undefined || (/[\w$@'"{}#]/.test(first) && !CONTINUING_WORD.test(word))) {
          reset();
          endStatement(i);
        }
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    awaitingStatement = false;
    if (c === '/' && next === '/') {
      LINE_END.lastIndex = i;
      const end = LINE_END.exec(text)?.index ?? text.length;
      i = end - 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    if (
      c === '/' &&
      (last === '' || REGEX_AFTER.test(last) || REGEX_KEYWORDS.has(lastWord)) &&
      // `<a b={c}/>` closes a tag, `</a>` opens a closing one.
      !(top().kind === '<' && (next === '>' || last === '<'))
    ) {
      // A regular expression literal: to the closing `/` outside a class, within the line.
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n' && text[j] !== '\r') {
        const d = text[j];
        if (d === '\\') j++;
        else if (d === '[') inClass = true;
        else if (d === ']') inClass = false;
        else if (d === '/' && !inClass) break;
        j++;
      }
      i = text[j] === '/' ? j : j - 1;
      last = 'a';
      lastWord = '';
      unary = 0;
      continue;
    }
    if (c === "'" || c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== c && text[j] !== '\n' && text[j] !== '\r') j += text[j] === '\\' ? 2 : 1;
      // An unterminated quote ends at the end of its line (a quote in JSX text, say).
      i = text[j] === '\n' || text[j] === '\r' ? j - 1 : j;
      last = 'a';
      lastWord = '';
      unary = 0;
      continue;
    }
    if (c === '`') {
      if (afterOperand(lastWord)) link();
      i = template(i + 1);
      if (text[i] === '`' || i >= text.length) last = 'a';
      else last = '{';
      lastWord = '';
      unary = 0;
      continue;
    }
    if (WORD.test(c)) {
      let j = i;
      while (j + 1 < text.length && WORD.test(text[j + 1]!)) j++;
      const previousWord = lastWord;
      lastWord = text.slice(i, j + 1);
      beforeWord = last;
      i = j;
      const operand = last === 'a' || last === ')' || last === ']';
      if ((lastWord === 'as' || lastWord === 'satisfies') && operand) link();
      else if (WORD_OPERATORS.has(lastWord) && operand) operator();
      last = 'a';
      // `namespace a.b`, `declare module a.b`; not `module.exports`.
      if (DOTTED_NAME_HEADS.has(lastWord) && /[ \t]/.test(text[j + 1] ?? '')) dotted = 0;
      else if (dotted !== -1 && previousWord !== '' && !DOTTED_NAME_HEADS.has(previousWord)) dotted = -1;
      if (lastWord === 'yield' && /^\s*\*/.test(text.slice(j + 1, j + 40))) {
        // `yield* yield* x`: the `*` belongs to the `yield`, not a multiplication.
        i = text.indexOf('*', j + 1);
      }
      if (UNARY_WORDS.has(lastWord)) {
        unary++;
        measure(unary);
      } else unary = 0;
      if (RIGHT_NESTING_WORDS.has(lastWord)) bump();
      // `else` nests the statement after it, `do` its body; `else if` counts once, by its `if`.
      if ((lastWord === 'else' && !/^\s*if\b/.test(text.slice(j + 1, j + 40))) || lastWord === 'do') {
        nestStatement();
      }
      continue;
    }
    if ((c === '+' || c === '-') && next === c && (last === 'a' || last === ')' || last === ']')) {
      // Postfix `a++`: the operand is complete (a line break after it may end the statement).
      i++;
      last = 'a';
      lastWord = '';
      continue;
    }
    if ((c === '+' || c === '-') && next === c && OPERATOR_END.test(last || '(')) {
      // Prefix `++x`: nests like `!` (`++ ++ ++x` is no valid code, but the parser recurses on it).
      i++;
      unary++;
      measure(unary);
      last = c;
      lastWord = '';
      continue;
    }
    if (c === '!' || c === '~' || ((c === '-' || c === '+') && next !== c && OPERATOR_END.test(last || '('))) {
      if (c !== '!' || next !== '=') {
        unary++;
        measure(unary);
        last = c;
        lastWord = '';
        continue;
      }
    }
    unary = 0;
    const word = lastWord;
    lastWord = '';
    if (c === '(' || c === '[' || c === '{') {
      if (c !== '{' && afterOperand(word)) link();
      push(c, c === '(' && STATEMENT_HEADS.has(word));
    } else if (c === ')' || c === ']' || c === '}') {
      popAngles();
      const frame = pop();
      // A block ended the statement it belonged to (`if (a) { … }`), unless an `else` follows.
      if (c === '}' && frame?.kind === '{') endStatement(i);
      if (c === '}' && frame?.kind === '${') {
        // Back in the template's text.
        i = template(i + 1);
        last = text[i] === '`' || i >= text.length ? 'a' : '{';
        continue;
      }
      if (frame?.head) {
        // `if (x) /re/.test(s)`: a statement, where a `/` starts a regular expression. The
        // statement after a head nests in it, braced (its block counts too) or not.
        nestStatement();
        last = ';';
        continue;
      }
    } else if (c === '<' && next !== undefined && /[A-Za-z_$>/]/.test(next) && (last === 'a' || !/[\w$]/.test(last))) {
      // `<div`, `</div>`, `<>`, `Array<string>`: a tag or type arguments, closed by `>`. After an
      // operand it is type arguments (or a comparison), unless it is a child of a JSX element.
      const tag = last !== 'a' || top().kind === 'jsx';
      push('<', false, tag ? (next === '/' ? 'close' : 'open') : undefined);
    } else if (c === '>' && top().kind === '<') {
      const frame = pop()!;
      if (frame.tag === 'close') {
        // `</div>`: the element's children end.
        if (top().kind === 'jsx') pop();
      } else if (frame.tag === 'open' && last !== '/') {
        // `<div …>` (not `<br />`): its children nest one level deeper until `</div>`.
        push('jsx');
      } else if (!frame.tag) {
        // Type arguments: `f<T><T>…()` nests each on the one before (the main thread crashed at
        // about 54,000), twice as deep as a call.
        link(2 * LINK_UNITS);
      }
      last = 'a';
      continue;
    } else if (c === ',' || c === ';') {
      if (c === ';') {
        popAngles();
        reset();
        endStatement(i);
      } else reset();
    } else if (c === ':' && next !== ':' && word !== '' && LABEL_AFTER.has(beforeWord) && !REGEX_KEYWORDS.has(word)) {
      // `name: statement`: a label nests the statement it labels.
      nestStatement();
    } else if (c === '?' && next !== '.' && next !== '?' && next !== ':' && last !== '?') {
      if (top().kind === '<' && !top().tag) pop();
      bump();
    } else if (c === '=' && next === '>') {
      bump();
      i++;
      last = '>';
      continue;
    } else if (c === '*' && next === '*') {
      bump();
      i++;
    } else if (c === '=' && next !== '=' && !'=!<>'.includes(last)) {
      bump();
    } else if (
      (last === 'a' || last === ')' || last === ']') &&
      !(c === '/' && next === '>') &&
      (BINARY_START.test(c) || (c === '?' && next === '?') || ((c === '=' || c === '!') && next === '='))
    ) {
      // A binary operator after a complete operand: one more link of a left-nested chain.
      operator();
      // Its other characters (`&&`, `>>>`, `===`, `??`); `/`, `%`, `^`, `*` are one character
      // (`/>` closes a JSX tag).
      const rest = '/%^*'.includes(c) ? /=/ : OPERATOR_REST;
      const from = i;
      while (i + 1 < text.length && rest.test(text[i + 1]!) && !(text[i + 1] === '=' && text[i + 2] === '>')) i++;
      // `a<b && …`: that `<` was a comparison, not type arguments left open.
      if (top().kind === '<' && !top().tag && NOT_IN_TYPES.test(text.slice(from, i + 1))) pop();
      last = text[i]!;
      continue;
    }
    if (c === '.' && dotted !== -1 && word !== '') {
      // `namespace a.b.c`: each part is a namespace nested in the one before.
      dotted++;
      measure(dotted);
      last = c;
      continue;
    }
    dotted = -1;
    // `x.a`, `x?.a` (its `?` was just read), not `...x` nor the `.` of `1.5`.
    if (
      c === '.' &&
      next !== '.' &&
      (last === 'a' || last === ')' || last === ']' || last === '?') &&
      !/^\d/.test(word)
    )
      // In a JSX tag or type arguments (`<a.b.c>`, `Array<a.b.c>`) a part nests deeper than a member access.
      link(top().kind === '<' ? LINK_UNITS : MEMBER_UNITS);
    last = c;
  }
  return max;
}
