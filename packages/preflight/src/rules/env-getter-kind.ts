// What a function is, read from its own body: an env getter (it hands back the variable its first
// parameter names) and how it falls back. Only common getter shapes are read, not data flow.
import { envReadName, isEnvObject } from '../env-reads.ts';
import { type AstNode, child, children, memberPropertyName, singleReturn, stringValue, unwrap } from '../js-ast.ts';

/**
 * `read`: `(name) => process.env[name]`; its fallback is written at the call site (`read('X') || '…'`).
 * `default`: `(name, fallback) => process.env[name] ?? fallback` (or `||`); the second argument of
 * a call is the fallback (`env('X', '…')`).
 * `{ fallback }`: `(name) => process.env[name] ?? '…'`; the getter falls back to its own literal, so
 * a call (`env('X')`) is the shortcut.
 */
export type GetterKind = 'read' | 'default' | { readonly fallback: string };

/** `process.env[name]` (or another env object) read with the parameter `param`. */
function readsEnvByParam(node: AstNode | undefined, param: string): boolean {
  const n = unwrap(node);
  if (n?.type !== 'MemberExpression' || n.computed !== true || !isEnvObject(child(n, 'object'))) return false;
  const property = unwrap(child(n, 'property'));
  return property?.type === 'Identifier' && property.name === param;
}

function paramName(param: AstNode | undefined): string | undefined {
  if (param?.type === 'Identifier') return param.name as string;
  // `(name, fallback = '')`: the default of the default changes nothing.
  if (param?.type === 'AssignmentPattern') {
    const left = child(param, 'left');
    if (left?.type === 'Identifier') return left.name as string;
  }
  return undefined;
}

const isUndefinedString = (n: AstNode | undefined): boolean => stringValue(n) === 'undefined';

/** `typeof v` compared with `'undefined'` (either side) under `operators`: `v`. */
function typeofUndefined(t: AstNode, operators: readonly string[]): AstNode | undefined {
  if (t.type !== 'BinaryExpression' || !operators.includes(t.operator as string)) return undefined;
  const [left, right] = [unwrap(child(t, 'left')), unwrap(child(t, 'right'))];
  const typeOf = (n: AstNode | undefined): AstNode | undefined =>
    n?.type === 'UnaryExpression' && n.operator === 'typeof' ? unwrap(child(n, 'argument')) : undefined;
  if (isUndefinedString(right)) return typeOf(left);
  return isUndefinedString(left) ? typeOf(right) : undefined;
}

/** `null`, `undefined` or `''`: what an unset variable is compared with. */
const unsetValue = (n: AstNode | undefined): boolean =>
  (n?.type === 'Literal' && n.value === null) ||
  (n?.type === 'Identifier' && n.name === 'undefined') ||
  stringValue(n) === '';

/** The side of `a <op> b` compared with an unset value under one of `operators`. */
function comparedWithUnset(t: AstNode, operators: readonly string[]): AstNode | undefined {
  if (t.type !== 'BinaryExpression' || !operators.includes(t.operator as string)) return undefined;
  const [left, right] = [unwrap(child(t, 'left')), unwrap(child(t, 'right'))];
  return unsetValue(right) ? left : unsetValue(left) ? right : undefined;
}

/**
 * The variable an unset test looks at: `!v`, `v == null`, `v === undefined`, `v === ''` (either
 * side), `typeof v === 'undefined'`.
 */
function unsetTested(test: AstNode | undefined): AstNode | undefined {
  const t = unwrap(test);
  if (!t) return undefined;
  if (t.type === 'UnaryExpression' && t.operator === '!') return unwrap(child(t, 'argument'));
  return typeofUndefined(t, ['==', '===']) ?? comparedWithUnset(t, ['==', '===']);
}

/**
 * The variable a set test looks at: `v`, `!!v`, `v != null`, `v !== undefined`, `v !== ''`,
 * `typeof v !== 'undefined'`, `v && v.length`.
 */
function setTested(test: AstNode | undefined): AstNode | undefined {
  const t = unwrap(test);
  if (!t) return undefined;
  if (t.type === 'Identifier' || t.type === 'MemberExpression') return t;
  // `v && v.length`, `v && v.length > 0`: set and not empty.
  if (t.type === 'LogicalExpression' && t.operator === '&&') {
    // One level only: a long `&&` chain is no set test, and is not walked down recursively.
    const first = unwrap(child(t, 'left'));
    const left = first?.type === 'LogicalExpression' ? undefined : setTested(first);
    const right = unwrap(child(t, 'right'));
    const length = right?.type === 'BinaryExpression' ? unwrap(child(right, 'left')) : right;
    const measured = length?.type === 'MemberExpression' && memberPropertyName(length) === 'length';
    return left !== undefined && measured && sameValue(child(length, 'object'), left) ? left : undefined;
  }
  if (t.type === 'UnaryExpression' && t.operator === '!') {
    const inner = unwrap(child(t, 'argument'));
    return inner?.type === 'UnaryExpression' && inner.operator === '!' ? unwrap(child(inner, 'argument')) : undefined;
  }
  return typeofUndefined(t, ['!=', '!==']) ?? comparedWithUnset(t, ['!=', '!==']);
}

/**
 * Whether two expressions name the same value: the same identifier, or the same member chain of
 * identifiers and static keys (`process.env[name]`). Iterative: as long as the shorter chain.
 */
function sameValue(a: AstNode | undefined, b: AstNode | undefined): boolean {
  let [x, y] = [unwrap(a), unwrap(b)];
  while (x?.type === 'MemberExpression' && y?.type === 'MemberExpression') {
    if (x.computed !== y.computed) return false;
    const [p, q] = [unwrap(child(x, 'property')), unwrap(child(y, 'property'))];
    const key = (n: AstNode | undefined): string | undefined =>
      n?.type === 'Identifier' ? `#${n.name as string}` : stringValue(n);
    if (key(p) === undefined || key(p) !== key(q)) return false;
    [x, y] = [unwrap(child(x, 'object')), unwrap(child(y, 'object'))];
  }
  return x?.type === 'Identifier' && y?.type === 'Identifier' && x.name === y.name;
}

/** An `if` that replaces an unset variable: the variable, its replacement, and the assignment if it is one. */
export interface UnsetGuard {
  readonly tested: string;
  readonly fallback: AstNode | undefined;
  /** `if (!v) v = fallback`: the assignment; `undefined` for `if (!v) return fallback`. */
  readonly assignment: AstNode | undefined;
}

/**
 * `if (!v) return fallback;` or `if (!v) v = fallback;` (also `v == null`, `v === undefined`,
 * `v === ''`; a block may log first). A guard that throws replaces nothing.
 */
export function unsetGuard(statement: AstNode): UnsetGuard | undefined {
  const tested = statement.type === 'IfStatement' ? unsetTested(child(statement, 'test')) : undefined;
  if (tested?.type !== 'Identifier') return undefined;
  const name = tested.name as string;
  const body = child(statement, 'consequent');
  const list = body?.type === 'BlockStatement' ? children(body, 'body') : body ? [body] : [];
  const last = list.at(-1);
  const calls = list.slice(0, -1);
  if (!last || !calls.every((s) => unwrap(child(s, 'expression'))?.type === 'CallExpression')) return undefined;
  if (last.type === 'ReturnStatement')
    return { tested: name, fallback: child(last, 'argument'), assignment: undefined };
  const assignment = last.type === 'ExpressionStatement' ? unwrap(child(last, 'expression')) : undefined;
  const target = assignment?.type === 'AssignmentExpression' ? unwrap(child(assignment, 'left')) : undefined;
  return assignment?.operator === '=' && target?.type === 'Identifier' && target.name === name
    ? { tested: name, fallback: child(assignment, 'right'), assignment }
    : undefined;
}

/**
 * `if (!process.env.X) process.env.X = fallback;` (also `=== undefined`, `== null`, `=== ''`; a block
 * may log first): the assignment and the variable's name, when the test and the target read the same one.
 */
export function envUnsetGuard(statement: AstNode): { readonly name: string; readonly assignment: AstNode } | undefined {
  if (statement.type !== 'IfStatement') return undefined;
  const name = envReadName(unsetTested(child(statement, 'test')));
  if (name === undefined) return undefined;
  const body = child(statement, 'consequent');
  const list = body?.type === 'BlockStatement' ? children(body, 'body') : body ? [body] : [];
  const last = list.at(-1);
  if (!last || !list.slice(0, -1).every((s) => unwrap(child(s, 'expression'))?.type === 'CallExpression'))
    return undefined;
  const assignment = last.type === 'ExpressionStatement' ? unwrap(child(last, 'expression')) : undefined;
  return assignment?.type === 'AssignmentExpression' &&
    assignment.operator === '=' &&
    envReadName(child(assignment, 'left')) === name
    ? { name, assignment }
    : undefined;
}

/** What a function hands back: the value, and what it hands back instead when that is unset. */
export interface Returned {
  readonly value: AstNode | undefined;
  readonly fallback: AstNode | undefined;
  /**
   * Whether a statement falls back, not the returned expression: `if (!v) return fallback; return
   * v` or `if (v) return v; return fallback` (an expression's `||`, `??` or ternary is read where it
   * stands; an `if (!v) v = fallback` assignment too).
   */
  readonly guarded: boolean;
}

/**
 * `v ?? fallback`, `v || fallback`, `v ? v : fallback` (also `v !== undefined ? v : …`,
 * `typeof v !== 'undefined' ? v : …`), `!v ? fallback : v` (also `v === undefined ? …`), or a plain `v`.
 */
function withFallback(node: AstNode | undefined): Returned {
  const n = unwrap(node);
  if (n?.type === 'LogicalExpression' && (n.operator === '||' || n.operator === '??')) {
    return { value: child(n, 'left'), fallback: child(n, 'right'), guarded: false };
  }
  if (n?.type === 'ConditionalExpression') {
    const [test, consequent, alternate] = [child(n, 'test'), child(n, 'consequent'), child(n, 'alternate')];
    const set = setTested(test);
    if (set !== undefined && sameValue(set, consequent))
      return { value: consequent, fallback: alternate, guarded: false };
    const unset = unsetTested(test);
    if (unset !== undefined && sameValue(unset, alternate))
      return { value: alternate, fallback: consequent, guarded: false };
  }
  return { value: n, fallback: undefined, guarded: false };
}

/**
 * `if (v) return v;` (also `if (v !== undefined) { return v; }`): the returned value. With
 * `withElse`, the `if` has an `else` (`if (v) { return v; } else { … }`), without it none.
 */
function setGuard(statement: AstNode, withElse = false): AstNode | undefined {
  if (statement.type !== 'IfStatement' || (child(statement, 'alternate') !== undefined) !== withElse) return undefined;
  const tested = setTested(child(statement, 'test'));
  const only = singleReturn(child(statement, 'consequent'));
  const value = only && child(only, 'argument');
  return tested !== undefined && sameValue(tested, value) ? value : undefined;
}

/**
 * What a function hands back, when that is one expression: an arrow's body, or a block's last
 * `return`, read through `const|let v = …` bindings before it and at most one guard on the
 * returned variable: an unset guard (`if (!v) return fallback`) or a set guard before a last
 * `return fallback` (`if (v) return v; return fallback`, or its `else`). Any other statement (a throw, a loop, a
 * call) ends the search: this is a reading of common getter shapes, not a data-flow analysis.
 */
export function returned(fn: AstNode): Returned | undefined {
  const body = child(fn, 'body');
  if (body?.type !== 'BlockStatement') return withFallback(body);
  const statements = children(body, 'body');
  let last = statements.at(-1);
  const bound = new Map<string, AstNode | undefined>();
  let guard: UnsetGuard | undefined;
  let setValue: AstNode | undefined;
  // `if (v) { return v; } else { return fallback; }`: a set guard whose `else` is the last return.
  if (last?.type === 'IfStatement') {
    setValue = setGuard(last, true);
    last = setValue === undefined ? undefined : singleReturn(child(last, 'alternate'));
  }
  if (last?.type !== 'ReturnStatement') return undefined;
  for (const statement of statements.slice(0, -1)) {
    if (statement.type === 'VariableDeclaration' && statement.kind !== 'var') {
      for (const declarator of children(statement, 'declarations')) {
        const id = child(declarator, 'id');
        if (id?.type !== 'Identifier') return undefined;
        bound.set(id.name as string, child(declarator, 'init'));
      }
      continue;
    }
    if (guard !== undefined || setValue !== undefined || child(statement, 'alternate')) return undefined;
    guard = unsetGuard(statement);
    if (guard === undefined) setValue = setGuard(statement);
    if (guard === undefined && setValue === undefined) return undefined;
  }
  const through = (node: AstNode | undefined): AstNode | undefined => {
    const n = unwrap(node);
    return n?.type === 'Identifier' && bound.has(n.name as string) ? bound.get(n.name as string) : n;
  };
  if (setValue !== undefined) return { value: through(setValue), fallback: child(last, 'argument'), guarded: true };
  const result = withFallback(child(last, 'argument'));
  if (guard === undefined) return { value: through(result.value), fallback: result.fallback, guarded: false };
  const value = unwrap(result.value);
  if (result.fallback !== undefined || value?.type !== 'Identifier' || value.name !== guard.tested) return undefined;
  return { value: through(value), fallback: guard.fallback, guarded: guard.assignment === undefined };
}

/** Whether a function hands back the env variable its first parameter names, and how. */
export function envGetterKind(fn: AstNode | undefined): GetterKind | undefined {
  if (
    fn?.type !== 'ArrowFunctionExpression' &&
    fn?.type !== 'FunctionExpression' &&
    fn?.type !== 'FunctionDeclaration'
  ) {
    return undefined;
  }
  const params = children(fn, 'params');
  const name = params[0]?.type === 'Identifier' ? (params[0].name as string) : undefined;
  const result = name === undefined ? undefined : returned(fn);
  if (name === undefined || result === undefined || !readsEnvByParam(result.value, name)) return undefined;
  if (result.fallback === undefined) return 'read';
  const fallback = unwrap(result.fallback);
  if (fallback?.type === 'Identifier' && fallback.name === paramName(params[1])) return 'default';
  const literal = stringValue(fallback);
  return literal === undefined ? undefined : { fallback: literal };
}
