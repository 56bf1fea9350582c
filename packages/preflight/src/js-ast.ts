// A thin, loosely typed view over oxc-parser's ESTree output. Rules read a handful of node shapes;
// a full typed visitor would cost more lines than it saves.

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

/** A parsed JS/TS file: every node in source order (`nodes`) and each node's parent (`parentOf`). */
export interface ParsedModule {
  readonly program: AstNode;
  readonly comments: readonly AstComment[];
  readonly errors: readonly string[];
  readonly nodes: readonly AstNode[];
  readonly parentOf: ReadonlyMap<AstNode, AstNode>;
}

export function isNode(value: unknown): value is AstNode {
  return typeof value === 'object' && value !== null && typeof (value as { type?: unknown }).type === 'string';
}

export function child(node: AstNode, key: string): AstNode | undefined {
  const value = node[key];
  return isNode(value) ? value : undefined;
}

export function children(node: AstNode, key: string): AstNode[] {
  const value = node[key];
  return Array.isArray(value) ? value.filter(isNode) : [];
}

/**
 * Whether a node only wraps the expression inside it (`x as T`, `x!`, `x satisfies T`, `(x)`, `a?.b`):
 * {@link unwrap} goes through it. A walk over every node can skip a node whose parent is one: the
 * parent reads the same expression.
 */
export function isWrapper(node: AstNode | undefined): boolean {
  return (
    node !== undefined &&
    (node.type === 'TSAsExpression' ||
      node.type === 'TSNonNullExpression' ||
      node.type === 'TSTypeAssertion' ||
      node.type === 'TSSatisfiesExpression' ||
      node.type === 'ParenthesizedExpression' ||
      node.type === 'ChainExpression')
  );
}

/** Strips TS-only wrappers (`x as T`, `x!`, `<T>x`, `x satisfies T`). */
export function unwrap(node: AstNode | undefined): AstNode | undefined {
  let current = node;
  while (current && isWrapper(current)) {
    current = child(current, 'expression');
  }
  return current;
}

/** The `return` statement a block (or a lone statement) consists of, if it is only that. */
export function singleReturn(body: AstNode | undefined): AstNode | undefined {
  const list = body?.type === 'BlockStatement' ? children(body, 'body') : body ? [body] : [];
  return list.length === 1 && list[0]?.type === 'ReturnStatement' ? list[0] : undefined;
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

/**
 * Whether a number may be a PIN or a key: an integer of four digits or more. Smaller numbers,
 * fractions and floats are counts, durations, factors and flags (`|| 10`, `attempts: 0`).
 */
export function keyLikeNumber(value: unknown): boolean {
  if (typeof value === 'bigint') return value >= 1000n || value <= -1000n;
  return typeof value === 'number' && Number.isInteger(value) && Math.abs(value) >= 1000;
}

/**
 * The value of a string literal (as {@link stringValue}) or the source text of a key-like number
 * literal (`48291736`, `-48291736`, see {@link keyLikeNumber}): a PIN or key written as a number is a
 * literal secret too; a small number is not.
 */
export function literalText(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  const negative = n?.type === 'UnaryExpression' && (n.operator === '-' || n.operator === '+');
  const number = negative ? unwrap(child(n, 'argument')) : n;
  if (number?.type === 'Literal' && (typeof number.value === 'number' || typeof number.value === 'bigint')) {
    if (!keyLikeNumber(number.value)) return undefined;
    const raw = typeof number.raw === 'string' ? number.raw : String(number.value);
    return negative ? `${n.operator as string}${raw}` : raw;
  }
  return stringValue(n);
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

/** The index of the first node starting at or after `start`, by binary search (`nodes` is sorted by `start`). */
function firstNodeAt(nodes: readonly AstNode[], start: number): number {
  let low = 0;
  let high = nodes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (nodes[middle]!.start < start) low = middle + 1;
    else high = middle;
  }
  return low;
}

/**
 * Every node inside a source span, in source order: the descendants of the node spanning it, and
 * that node itself when it is in `nodes`. `nodes` is sorted by `start`: a binary search finds the
 * first node at the span's start and the walk stops at its end, so a visit costs the span's size,
 * not the file's. Nodes that start inside the span but end past it (ancestors sharing its start)
 * are skipped.
 */
export function* nodesWithin(
  span: { readonly start: number; readonly end: number },
  nodes: readonly AstNode[],
): Generator<AstNode, void, undefined> {
  for (let i = firstNodeAt(nodes, span.start); i < nodes.length && nodes[i]!.start < span.end; i++) {
    const n = nodes[i]!;
    if (n.end <= span.end) yield n;
  }
}

/** Offsets of every string and number literal inside a node, for snippet redaction. */
export function stringRanges(node: AstNode, nodes: readonly AstNode[]): Array<readonly [number, number]> {
  const ranges: Array<readonly [number, number]> = [];
  for (const n of nodesWithin(node, nodes)) {
    if ((n.type === 'Literal' && typeof n.value === 'string') || n.type === 'TemplateLiteral') {
      ranges.push([n.start + 1, n.end - 1]);
    } else if (n.type === 'Literal' && (typeof n.value === 'number' || typeof n.value === 'bigint')) {
      // A number in a finding may be the secret (`password: 48291736`).
      ranges.push([n.start, n.end]);
    }
  }
  return ranges;
}
