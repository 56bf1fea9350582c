// A thin, loosely typed view over oxc-parser's ESTree output. Rules read a handful of node shapes;
// a full typed visitor would cost more lines than it saves.
import { parseSync, visitorKeys } from 'oxc-parser';

/** An ESTree node as oxc-parser returns it. */
export interface AstNode {
  readonly type: string;
  readonly start: number;
  readonly end: number;
  readonly [key: string]: unknown;
}

/** A comment with its offsets; `value` excludes the `//` or `/* *\/` markers. */
export interface AstComment {
  readonly type: 'Line' | 'Block';
  readonly value: string;
  readonly start: number;
  readonly end: number;
}

/** A parsed JS/TS file. `ancestors` gives the parent chain of any node seen during the walk. */
export interface ParsedModule {
  readonly program: AstNode;
  readonly comments: readonly AstComment[];
  readonly errors: readonly string[];
  readonly nodes: readonly AstNode[];
  readonly parentOf: ReadonlyMap<AstNode, AstNode>;
}

/** File extensions parsed as JavaScript or TypeScript. */
export const JS_EXTENSIONS: readonly string[] = ['.js', '.mjs', '.cjs', '.jsx', '.ts', '.mts', '.cts', '.tsx'];

function langFor(file: string): 'jsx' | 'ts' | 'tsx' | 'dts' {
  if (/\.d\.[cm]?ts$/.test(file)) return 'dts';
  if (file.endsWith('.tsx')) return 'tsx';
  if (/\.[cm]?ts$/.test(file)) return 'ts';
  return 'jsx';
}

export function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

/**
 * How deep the parser may have to recurse. oxc-parser crashes the process (a native stack
 * overflow, no exception) in a worker thread at about 2,050 nested template `${`, 2,900 brackets and
 * 4,200 assignments or ternaries (measured with oxc-parser 0.x in a child process); no hand-written
 * code comes near this limit, which keeps a 2x margin below the cheapest crash.
 */
export const MAX_NESTING = 1000;

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

/** One open bracket of the estimate: its right-nesting operator count since its last `,`/`;`. */
interface Frame {
  /** `(`, `[`, `{`, `${` (inside a template) or `<` (a JSX tag or type arguments: not counted as depth). */
  readonly kind: '(' | '[' | '{' | '${' | '<';
  count: number;
  /** The head of `if (…)`, `while (…)`, `for (…)`, `with (…)`: a statement follows it. */
  readonly head?: boolean;
}

/**
 * A cheap upper estimate of the parser's recursion depth, in one pass over the text: open
 * brackets and template `${`, plus in each bracket the right-nesting operators (`? :`, `=>`, `=`,
 * `**`) since its last `,` or `;` (or a line break that ends a statement), plus runs of prefix
 * `!`/`~`/`-`/`+`. Strings (a `'`/`"` string ends at the end of its line at the latest), template
 * text, regular expression literals (where an operand is expected) and comments are skipped;
 * `<…>` of JSX tags and type arguments are not depth, and what they hold is dropped when they close.
 */
export function nestingDepth(text: string): number {
  const frames: Frame[] = [{ kind: '{', count: 0 }];
  let total = 0;
  let brackets = 0;
  let max = 0;
  let unary = 0;
  let last = '';
  let lastWord = '';
  const top = (): Frame => frames[frames.length - 1]!;
  const measure = (extra = 0): void => {
    if (total + brackets + extra > max) max = total + brackets + extra;
  };
  const bump = (): void => {
    top().count++;
    total++;
    measure();
  };
  const reset = (): void => {
    total -= top().count;
    top().count = 0;
  };
  const push = (kind: Frame['kind'], head = false): void => {
    frames.push({ kind, count: 0, head });
    if (kind !== '<') brackets++;
    measure();
  };
  const pop = (): Frame | undefined => {
    if (frames.length <= 1) return undefined;
    const frame = frames.pop()!;
    total -= frame.count;
    if (frame.kind !== '<') brackets--;
    return frame;
  };
  const popAngles = (): void => {
    while (top().kind === '<' && frames.length > 1) pop();
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
    if (c === '\n') {
      // A line break ends a statement after a complete operand unless the next line continues it.
      if (last !== '' && !OPERATOR_END.test(last)) {
        const rest = /^\s*(.)/.exec(text.slice(i + 1, i + 200));
        const first = rest?.[1];
        const word = text.slice(i + 1, i + 200).trimStart();
        if (first === undefined || (/[\w$@'"{}#]/.test(first) && !CONTINUING_WORD.test(word))) {
          reset();
        }
      }
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') continue;
    if (c === '/' && next === '/') {
      const end = text.indexOf('\n', i);
      i = (end === -1 ? text.length : end) - 1;
      continue;
    }
    if (c === '/' && next === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end === -1 ? text.length : end + 1;
      continue;
    }
    if (c === '/' && (last === '' || REGEX_AFTER.test(last) || REGEX_KEYWORDS.has(lastWord))) {
      // A regular expression literal: to the closing `/` outside a class, within the line.
      let j = i + 1;
      let inClass = false;
      while (j < text.length && text[j] !== '\n') {
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
      while (j < text.length && text[j] !== c && text[j] !== '\n') j += text[j] === '\\' ? 2 : 1;
      // An unterminated quote ends at the end of its line (a quote in JSX text, say).
      i = text[j] === '\n' ? j - 1 : j;
      last = 'a';
      lastWord = '';
      unary = 0;
      continue;
    }
    if (c === '`') {
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
      lastWord = text.slice(i, j + 1);
      i = j;
      last = 'a';
      unary = 0;
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
      push(c, c === '(' && STATEMENT_HEADS.has(word));
    } else if (c === ')' || c === ']' || c === '}') {
      popAngles();
      const frame = pop();
      if (c === '}' && frame?.kind === '${') {
        // Back in the template's text.
        i = template(i + 1);
        last = text[i] === '`' || i >= text.length ? 'a' : '{';
        continue;
      }
      if (frame?.head) {
        // `if (x) /re/.test(s)`: a statement, where a `/` starts a regular expression.
        last = ';';
        continue;
      }
    } else if (c === '<' && next !== undefined && /[A-Za-z_$>/]/.test(next) && (last === 'a' || !/[\w$]/.test(last))) {
      // `<div`, `</div>`, `<>`, `Array<string>`: a tag or type arguments, closed by `>`.
      push('<');
    } else if (c === '>' && top().kind === '<') {
      pop();
      last = 'a';
      continue;
    } else if (c === ',' || c === ';') {
      if (c === ';') popAngles();
      reset();
    } else if (c === '?' && next !== '.' && next !== '?' && next !== ':' && last !== '?') {
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
    }
    last = c;
  }
  return max;
}

/** Parses a JS/TS file; syntax errors are returned, not thrown, with whatever AST could be recovered. */
export function parseModule(file: string, text: string): ParsedModule {
  const lang = langFor(file);
  // Refused before the parser sees it: a native stack overflow would end the whole scan.
  if (nestingDepth(text) > MAX_NESTING) {
    const program: AstNode = { type: 'Program', start: 0, end: text.length, body: [], sourceType: 'module' };
    return indexProgram(program, [], [TOO_DEEP], visitorKeys);
  }
  // Declaration files are modules; other files may be ESM or CommonJS (top-level `return`), so a
  // file that fails as "unambiguous" is tried again as CommonJS.
  let result = parseSync(file, text, {
    lang,
    sourceType: lang === 'dts' ? 'module' : 'unambiguous',
    preserveParens: false,
  });
  if (result.errors.length > 0 && lang !== 'dts') {
    const commonjs = parseSync(file, text, { lang, sourceType: 'commonjs', preserveParens: false });
    if (commonjs.errors.length < result.errors.length) result = commonjs;
  }
  return indexProgram(
    result.program as unknown as AstNode,
    result.comments as unknown as AstComment[],
    result.errors.map((e) => e.message),
    visitorKeys,
  );
}

/**
 * Wraps an ESTree program another parser produced (ESLint's espree or typescript-eslint), so the
 * ESLint plugin runs the rules on the AST ESLint already has instead of parsing the file again.
 * Nodes that carry only `range` (typescript-eslint) get non-enumerable `start`/`end`.
 */
export function moduleFromEstree(
  program: unknown,
  comments: ReadonlyArray<{
    type: string;
    value: string;
    range?: readonly [number, number];
    start?: number;
    end?: number;
  }>,
  keys: Readonly<Record<string, readonly string[]>>,
): ParsedModule {
  const located = (value: object): void => {
    const node = value as { start?: unknown; end?: unknown; range?: readonly [number, number] };
    if (typeof node.start !== 'number' && node.range) {
      Object.defineProperty(node, 'start', { value: node.range[0], enumerable: false, configurable: true });
      Object.defineProperty(node, 'end', { value: node.range[1], enumerable: false, configurable: true });
    }
  };
  const walk = (value: unknown): void => {
    if (!isNode(value) && !(typeof value === 'object' && value !== null && 'range' in value)) return;
    located(value as object);
    if (!isNode(value)) return;
    for (const key of keys[value.type] ?? []) {
      const child = value[key];
      if (Array.isArray(child)) for (const item of child) walk(item);
      else walk(child);
    }
  };
  walk(program);
  const mapped: AstComment[] = comments.map((c) => ({
    type: c.type === 'Block' ? 'Block' : 'Line',
    value: c.value,
    start: c.start ?? c.range?.[0] ?? 0,
    end: c.end ?? c.range?.[1] ?? 0,
  }));
  return indexProgram(program as AstNode, mapped, [], keys);
}

function indexProgram(
  program: AstNode,
  comments: readonly AstComment[],
  errors: readonly string[],
  keysFor: Readonly<Record<string, readonly string[]>>,
): ParsedModule {
  const nodes: AstNode[] = [];
  const parentOf = new Map<AstNode, AstNode>();
  const stack: AstNode[] = [program];
  while (stack.length > 0) {
    const node = stack.pop()!;
    nodes.push(node);
    const keys = keysFor[node.type] ?? Object.keys(node);
    for (let k = keys.length - 1; k >= 0; k--) {
      const child = node[keys[k]!];
      if (Array.isArray(child)) {
        for (let i = child.length - 1; i >= 0; i--) {
          const item: unknown = child[i];
          if (isNode(item)) {
            parentOf.set(item, node);
            stack.push(item);
          }
        }
      } else if (isNode(child)) {
        parentOf.set(child, node);
        stack.push(child);
      }
    }
  }
  nodes.sort((a, b) => a.start - b.start);
  markHonoEnvCalls(program, nodes, parentOf);
  return { program, comments, errors, nodes, parentOf };
}

export function child(node: AstNode, key: string): AstNode | undefined {
  const value = node[key];
  return isNode(value) ? value : undefined;
}

export function children(node: AstNode, key: string): AstNode[] {
  const value = node[key];
  return Array.isArray(value) ? value.filter(isNode) : [];
}

/** Strips TS-only wrappers (`x as T`, `x!`, `<T>x`, `x satisfies T`). */
export function unwrap(node: AstNode | undefined): AstNode | undefined {
  let current = node;
  while (
    current &&
    (current.type === 'TSAsExpression' ||
      current.type === 'TSNonNullExpression' ||
      current.type === 'TSTypeAssertion' ||
      current.type === 'TSSatisfiesExpression' ||
      current.type === 'ParenthesizedExpression' ||
      current.type === 'ChainExpression')
  ) {
    current = child(current, 'expression');
  }
  return current;
}

/** The value of a string literal or of a template literal without `${}`; otherwise `undefined`. */
export function stringValue(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'Literal' && typeof n.value === 'string') return n.value;
  if (n.type === 'TemplateLiteral' && children(n, 'expressions').length === 0) {
    const quasi = children(n, 'quasis')[0];
    const cooked = (quasi?.value as { cooked?: unknown } | undefined)?.cooked;
    return typeof cooked === 'string' ? cooked : undefined;
  }
  return undefined;
}

/** The static name of a property key or member property (`a.b`, `a['b']`, `{ b: 1 }`). */
export function staticName(node: AstNode | undefined, computed: boolean): string | undefined {
  if (!node) return undefined;
  if (!computed && node.type === 'Identifier') return node.name as string;
  if (node.type === 'PrivateIdentifier') return node.name as string;
  return stringValue(node);
}

export function memberPropertyName(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (n?.type !== 'MemberExpression') return undefined;
  return staticName(child(n, 'property'), n.computed === true);
}

/** The static key of an object property, a class field or a class method. */
export function propertyKeyName(node: AstNode): string | undefined {
  if (node.type !== 'Property' && node.type !== 'PropertyDefinition' && node.type !== 'MethodDefinition') {
    return undefined;
  }
  return staticName(child(node, 'key'), node.computed === true);
}

/** `a.b.c` as `['a', 'b', 'c']` when every part is static; `this` is `'this'`. Iterative: chains of any length. */
export function memberPath(node: AstNode | undefined): string[] | undefined {
  const parts: string[] = [];
  let n = unwrap(node);
  while (n?.type === 'MemberExpression') {
    const name = memberPropertyName(n);
    if (name === undefined) return undefined;
    parts.push(name);
    n = unwrap(child(n, 'object'));
  }
  if (!n) return undefined;
  if (n.type === 'Identifier') parts.push(n.name as string);
  else if (n.type === 'ThisExpression') parts.push('this');
  else if (n.type === 'MetaProperty') parts.push('meta', 'import');
  else return undefined;
  return parts.reverse();
}

// `isEnvObject` sees one node, so which calls are Hono's `env(c)` is worked out once per module,
// when it is indexed: calls of a name imported from `hono/adapter` that nothing nearer shadows.
const HONO_ENV_CALLS = new WeakSet<AstNode>();
const HONO_ADAPTER = 'hono/adapter';

/** Marks the calls of `env` imported from `hono/adapter` (also renamed, or through `import * as`). */
function markHonoEnvCalls(program: AstNode, nodes: readonly AstNode[], parentOf: ReadonlyMap<AstNode, AstNode>): void {
  const functions = new Set<string>();
  const namespaces = new Set<string>();
  for (const [local, binding] of importBindings(program)) {
    if (binding.specifier !== HONO_ADAPTER) continue;
    if (binding.name === 'env') functions.add(local);
    else if (binding.name === '*') namespaces.add(local);
  }
  if (functions.size === 0 && namespaces.size === 0) return;
  for (const node of nodes) {
    if (node.type !== 'CallExpression') continue;
    const callee = unwrap(child(node, 'callee'));
    const object = callee?.type === 'MemberExpression' ? unwrap(child(callee, 'object')) : undefined;
    const local =
      callee?.type === 'Identifier' && functions.has(callee.name as string)
        ? callee
        : object?.type === 'Identifier' && namespaces.has(object.name as string) && memberPropertyName(callee) === 'env'
          ? object
          : undefined;
    if (local && !isShadowed(local, local.name as string, parentOf)) HONO_ENV_CALLS.add(node);
  }
}

/**
 * Whether an expression is the environment object itself: `process.env`, `import.meta.env`,
 * `Bun.env`, `ENV`, a bare `env`, any `<object>.env` (Hono's `c.env`, a Worker's `this.env`,
 * SvelteKit's `platform.env`), or a call of `env` imported from `hono/adapter` (`env(c)`, also
 * renamed or through a namespace import).
 */
export function isEnvObject(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (n?.type === 'CallExpression') return HONO_ENV_CALLS.has(n);
  const path = memberPath(n);
  return path !== undefined && (path.at(-1) === 'env' || path.join('.') === 'ENV');
}

/** The variable name an expression reads from the environment, if it does. */
export function envReadName(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'MemberExpression' && isEnvObject(child(n, 'object'))) return memberPropertyName(n);
  if (n.type === 'CallExpression') {
    const callee = memberPath(child(n, 'callee'));
    const arg = stringValue(children(n, 'arguments')[0]);
    if (!callee || arg === undefined) return undefined;
    const joined = callee.join('.');
    // Deno.env.get('X'), env.get('X') (env-var), getEnv('X'), env('X')
    if (joined === 'Deno.env.get' || joined === 'env.get' || joined === 'getEnv' || joined === 'env') return arg;
  }
  return undefined;
}

/** Offsets of every string literal inside a node, for snippet redaction. */
export function stringRanges(node: AstNode, nodes: readonly AstNode[]): Array<readonly [number, number]> {
  const ranges: Array<readonly [number, number]> = [];
  for (const n of nodes) {
    if (n.start < node.start || n.end > node.end) continue;
    if ((n.type === 'Literal' && typeof n.value === 'string') || n.type === 'TemplateLiteral') {
      ranges.push([n.start + 1, n.end - 1]);
    }
  }
  return ranges;
}

/** The innermost enclosing function of a node, or `undefined` at module scope. */
export function enclosingFunction(node: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | undefined {
  let current = parentOf.get(node);
  while (current) {
    if (
      current.type === 'FunctionDeclaration' ||
      current.type === 'FunctionExpression' ||
      current.type === 'ArrowFunctionExpression'
    ) {
      return current;
    }
    current = parentOf.get(current);
  }
  return undefined;
}

/**
 * The identifiers a binding pattern declares (`a`, `{ a, b: c }`, `[d, ...e]`, `f = 1`, a TS
 * parameter property), in source order, into `out`.
 */
function patternIdentifiers(pattern: AstNode | undefined, out: AstNode[]): AstNode[] {
  const p = unwrap(pattern);
  if (!p) return out;
  if (p.type === 'Identifier') out.push(p);
  else if (p.type === 'AssignmentPattern') patternIdentifiers(child(p, 'left'), out);
  else if (p.type === 'RestElement') patternIdentifiers(child(p, 'argument'), out);
  else if (p.type === 'TSParameterProperty') patternIdentifiers(child(p, 'parameter'), out);
  else if (p.type === 'ArrayPattern') for (const part of children(p, 'elements')) patternIdentifiers(part, out);
  else if (p.type === 'ObjectPattern') {
    for (const property of children(p, 'properties')) {
      patternIdentifiers(property.type === 'RestElement' ? property : child(property, 'value'), out);
    }
  }
  return out;
}

/**
 * Whether `name`, used at `node`, is declared by something nearer than module scope: a parameter
 * of an enclosing function, or a declaration in an enclosing block or function body. So a rule
 * that knows a module-scope binding does not mistake a local of the same name for it.
 */
export function isShadowed(node: AstNode, name: string, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  return resolveBinding(node, name, parentOf, { moduleScope: false }) !== undefined;
}

/** The nearest declaration of a name seen from a node: how it was declared and its initializer. */
export interface NearestDeclaration {
  /** `param` for parameters, catch and loop bindings; `other` for functions, classes and destructuring. */
  readonly kind: 'const' | 'let' | 'var' | 'param' | 'other';
  /** The initializer of a plain `const|let|var name = init`. */
  readonly init: AstNode | undefined;
  /** What declares it: a variable declaration, a function parameter, a catch clause, a loop head, a function or class. */
  readonly site: 'variable' | 'parameter' | 'catch' | 'loop' | 'function' | 'class';
  /**
   * The identifier that declares the name, where its type annotation sits; inside a destructuring
   * pattern or a parameter default (`(x: T = d)`) its parent says which.
   */
  readonly id: AstNode;
}

/**
 * The declaration `name` refers to at `node`, searching enclosing blocks, function parameters,
 * catch clauses, loop heads and the module body, or `undefined` for a global.
 */
export function nearestDeclaration(
  node: AstNode,
  name: string,
  parentOf: ReadonlyMap<AstNode, AstNode>,
): NearestDeclaration | undefined {
  return resolveBinding(node, name, parentOf, { moduleScope: true });
}

/** Adds a declaration of each name unless the scope already declares it (the first one wins). */
function declare(
  scope: Map<string, NearestDeclaration>,
  ids: readonly AstNode[],
  declaration: (id: AstNode) => NearestDeclaration,
): void {
  for (const id of ids) if (!scope.has(id.name as string)) scope.set(id.name as string, declaration(id));
}

/** The names the declarators of a `const|let|var` statement bind. */
function declareDeclarators(
  scope: Map<string, NearestDeclaration>,
  statement: AstNode,
  site: 'variable' | 'loop',
): void {
  for (const declarator of children(statement, 'declarations')) {
    const pattern = child(declarator, 'id');
    declare(scope, patternIdentifiers(pattern, []), (id) =>
      site === 'loop'
        ? { kind: 'param', init: undefined, site, id }
        : id === pattern
          ? { kind: statement.kind as 'const' | 'let' | 'var', init: child(declarator, 'init'), site, id }
          : { kind: 'other', init: undefined, site, id },
    );
  }
}

// Name → declaration of each scope, built once per scope node, so that a lookup costs the depth of
// the node, not the size of every scope around it.
const SCOPES = new WeakMap<AstNode, ReadonlyMap<string, NearestDeclaration>>();

/** A name that a function, class, enum, namespace or `import x = require()` declares. */
function declareNamed(scope: Map<string, NearestDeclaration>, node: AstNode, site: 'function' | 'class'): void {
  const id = child(node, 'id');
  if (id?.type === 'Identifier') declare(scope, [id], () => ({ kind: 'other', init: undefined, site, id }));
}

/** What one statement of a block-like scope declares there. */
function declareStatement(scope: Map<string, NearestDeclaration>, node: AstNode): void {
  let statement = node;
  if (statement.type === 'ExportNamedDeclaration' || statement.type === 'ExportDefaultDeclaration') {
    statement = child(statement, 'declaration') ?? statement;
  }
  if (statement.type === 'VariableDeclaration') declareDeclarators(scope, statement, 'variable');
  else if (statement.type === 'FunctionDeclaration') declareNamed(scope, statement, 'function');
  else if (
    statement.type === 'ClassDeclaration' ||
    statement.type === 'TSEnumDeclaration' ||
    statement.type === 'TSModuleDeclaration' ||
    statement.type === 'TSImportEqualsDeclaration'
  ) {
    declareNamed(scope, statement, 'class');
  }
}

// Statements that hold statements of the same function: where a `var` may sit and still belong to it.
const NESTED_STATEMENTS: Readonly<Record<string, readonly string[]>> = {
  BlockStatement: ['body'],
  IfStatement: ['consequent', 'alternate'],
  ForStatement: ['init', 'body'],
  ForInStatement: ['left', 'body'],
  ForOfStatement: ['left', 'body'],
  WhileStatement: ['body'],
  DoWhileStatement: ['body'],
  LabeledStatement: ['body'],
  TryStatement: ['block', 'handler', 'finalizer'],
  CatchClause: ['body'],
  SwitchStatement: ['cases'],
  SwitchCase: ['consequent'],
};

/** The `var`s declared in nested blocks of a function or module body, which belong to all of it. */
function declareHoistedVars(scope: Map<string, NearestDeclaration>, body: AstNode | undefined): void {
  const pending: AstNode[] = body ? [body] : [];
  while (pending.length > 0) {
    const node = pending.pop() as AstNode;
    if (node.type === 'VariableDeclaration') {
      if (node.kind === 'var') declareDeclarators(scope, node, 'variable');
      continue;
    }
    for (const key of NESTED_STATEMENTS[node.type] ?? []) {
      const value = (node as Record<string, unknown>)[key];
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) if (isNode(value[i])) pending.push(value[i] as AstNode);
      } else if (isNode(value)) pending.push(value);
    }
  }
}

/**
 * What a block, switch, namespace body, function (its parameters, its own name and the `var`s of
 * its nested blocks), class expression (its name), catch clause or loop head declares; `undefined`
 * for other nodes.
 */
function scopeDeclarations(scope: AstNode): ReadonlyMap<string, NearestDeclaration> | undefined {
  const known = SCOPES.get(scope);
  if (known) return known;
  const out = new Map<string, NearestDeclaration>();
  if (
    scope.type === 'Program' ||
    scope.type === 'BlockStatement' ||
    scope.type === 'StaticBlock' ||
    scope.type === 'TSModuleBlock'
  ) {
    for (const statement of children(scope, 'body')) declareStatement(out, statement);
    if (scope.type === 'Program') for (const statement of children(scope, 'body')) declareHoistedVars(out, statement);
  } else if (scope.type === 'SwitchStatement') {
    for (const clause of children(scope, 'cases')) {
      for (const statement of children(clause, 'consequent')) declareStatement(out, statement);
    }
  } else if (
    scope.type === 'FunctionDeclaration' ||
    scope.type === 'FunctionExpression' ||
    scope.type === 'ArrowFunctionExpression'
  ) {
    for (const param of children(scope, 'params')) {
      declare(out, patternIdentifiers(param, []), (id) => ({ kind: 'param', init: undefined, site: 'parameter', id }));
    }
    declareHoistedVars(out, child(scope, 'body'));
    // A function expression's own name is visible inside it, behind its parameters.
    if (scope.type === 'FunctionExpression') declareNamed(out, scope, 'function');
  } else if (scope.type === 'ClassExpression') {
    declareNamed(out, scope, 'class');
  } else if (scope.type === 'CatchClause') {
    declare(out, patternIdentifiers(child(scope, 'param'), []), (id) => ({
      kind: 'param',
      init: undefined,
      site: 'catch',
      id,
    }));
  } else if (scope.type === 'ForStatement' || scope.type === 'ForInStatement' || scope.type === 'ForOfStatement') {
    const init = child(scope, scope.type === 'ForStatement' ? 'init' : 'left');
    if (init?.type === 'VariableDeclaration') declareDeclarators(out, init, 'loop');
  } else {
    return undefined;
  }
  SCOPES.set(scope, out);
  return out;
}

/**
 * The one scope walk behind {@link isShadowed} and {@link nearestDeclaration}: from `node` outwards
 * through blocks, function parameters, catch clauses and loop heads, and the module body when
 * `moduleScope` is set, to the nearest declaration of `name`.
 */
export function resolveBinding(
  node: AstNode,
  name: string,
  parentOf: ReadonlyMap<AstNode, AstNode>,
  options: { readonly moduleScope: boolean },
): NearestDeclaration | undefined {
  let current = parentOf.get(node);
  while (current && (options.moduleScope || current.type !== 'Program')) {
    const found = scopeDeclarations(current)?.get(name);
    if (found) return found;
    current = parentOf.get(current);
  }
  return undefined;
}

/** An export or import name: an identifier, or a string (`export { a as 'b-c' }`). */
export function exportedName(node: AstNode | undefined): string | undefined {
  if (node?.type === 'Identifier') return node.name as string;
  return stringValue(node);
}

/** `require('x')` → `'x'`. */
export function requiredModule(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (n?.type !== 'CallExpression') return undefined;
  const callee = unwrap(child(n, 'callee'));
  if (callee?.type !== 'Identifier' || callee.name !== 'require') return undefined;
  const specifier = stringValue(children(n, 'arguments')[0]);
  return specifier === '' ? undefined : specifier;
}

/** Where a module-scope name that a file imports comes from: the module and the export (`*`: the module itself). */
export interface ImportBinding {
  readonly specifier: string;
  readonly name: string;
  /** Bound by a `require()` call (not an `import`), so the whole module may be a function. */
  readonly viaRequire: boolean;
}

/**
 * The module-scope names a file imports: `import { a as b }`, `import d`, `import * as ns`,
 * `const { a: b } = require('x')`, `const ns = require('x')`. Type-only imports are left out.
 */
export function importBindings(program: AstNode): Map<string, ImportBinding> {
  const out = new Map<string, ImportBinding>();
  for (const statement of children(program, 'body')) {
    if (statement.type === 'ImportDeclaration') {
      const specifier = child(statement, 'source')?.value;
      if (typeof specifier !== 'string' || specifier === '' || statement.importKind === 'type') continue;
      for (const s of children(statement, 'specifiers')) {
        const local = exportedName(child(s, 'local'));
        const name =
          s.type === 'ImportDefaultSpecifier'
            ? 'default'
            : s.type === 'ImportNamespaceSpecifier'
              ? '*'
              : exportedName(child(s, 'imported'));
        if (local !== undefined && name !== undefined && s.importKind !== 'type') {
          out.set(local, { specifier, name, viaRequire: false });
        }
      }
    } else if (statement.type === 'VariableDeclaration') {
      for (const declarator of children(statement, 'declarations')) {
        const specifier = requiredModule(child(declarator, 'init'));
        const pattern = child(declarator, 'id');
        if (specifier === undefined) continue;
        if (pattern?.type === 'Identifier') out.set(pattern.name as string, { specifier, name: '*', viaRequire: true });
        if (pattern?.type !== 'ObjectPattern') continue;
        for (const prop of children(pattern, 'properties')) {
          const name = prop.type === 'Property' ? propertyKeyName(prop) : undefined;
          const local = exportedName(child(prop, 'value'));
          if (name !== undefined && local !== undefined) out.set(local, { specifier, name, viaRequire: true });
        }
      }
    }
  }
  return out;
}

/** A module-scope binding of a plain name: `[export] const|let|var name = init` or `[export] function name`. */
export interface ModuleBinding {
  readonly name: string;
  readonly kind: 'const' | 'let' | 'var' | 'function';
  /** The initializer; for a function declaration, the declaration itself. */
  readonly init: AstNode | undefined;
  /** The `VariableDeclaration` or `FunctionDeclaration` statement. */
  readonly declaration: AstNode;
}

/** Every module-scope binding of a plain name, exported ones included (destructuring is skipped). */
export function moduleBindings(program: AstNode): ModuleBinding[] {
  const out: ModuleBinding[] = [];
  for (let statement of children(program, 'body')) {
    if (statement.type === 'ExportNamedDeclaration') statement = child(statement, 'declaration') ?? statement;
    if (statement.type === 'FunctionDeclaration') {
      const id = child(statement, 'id');
      if (id?.type === 'Identifier') {
        out.push({ name: id.name as string, kind: 'function', init: statement, declaration: statement });
      }
    } else if (statement.type === 'VariableDeclaration') {
      const kind = statement.kind as 'const' | 'let' | 'var';
      for (const declarator of children(statement, 'declarations')) {
        const id = child(declarator, 'id');
        if (id?.type === 'Identifier') {
          out.push({ name: id.name as string, kind, init: child(declarator, 'init'), declaration: statement });
        }
      }
    }
  }
  return out;
}
