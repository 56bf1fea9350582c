// What a function is, read from its own body: an env getter (it hands back the variable its first
// parameter names) and how it falls back. Only common getter shapes are read, not data flow.
import { isEnvObject } from '../env-reads.ts';
import { type AstNode, child, children, stringValue, unwrap } from '../js-ast.ts';

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

/** The variable an unset test looks at: `!v`, `v == null`, `v === undefined`, `v === ''` (either side). */
function unsetTested(test: AstNode | undefined): AstNode | undefined {
  const t = unwrap(test);
  if (t?.type === 'UnaryExpression' && t.operator === '!') return unwrap(child(t, 'argument'));
  if (t?.type !== 'BinaryExpression' || (t.operator !== '==' && t.operator !== '===')) return undefined;
  const [left, right] = [unwrap(child(t, 'left')), unwrap(child(t, 'right'))];
  const empty = (n: AstNode | undefined): boolean =>
    (n?.type === 'Literal' && n.value === null) ||
    (n?.type === 'Identifier' && n.name === 'undefined') ||
    stringValue(n) === '';
  return empty(right) ? left : empty(left) ? right : undefined;
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

/** What a function hands back: the value, and what it hands back instead when that is unset. */
interface Returned {
  readonly value: AstNode | undefined;
  readonly fallback: AstNode | undefined;
}

/** `v ?? fallback`, `v || fallback`, or a plain `v`. */
function withFallback(node: AstNode | undefined): Returned {
  const n = unwrap(node);
  if (n?.type === 'LogicalExpression' && (n.operator === '||' || n.operator === '??')) {
    return { value: child(n, 'left'), fallback: child(n, 'right') };
  }
  return { value: n, fallback: undefined };
}

/**
 * What a function hands back, when that is one expression: an arrow's body, or a block's last
 * `return`, read through `const|let v = …` bindings before it and at most one unset guard on the
 * returned variable (`if (!v) return fallback`). Any other statement (a throw, a loop, a call)
 * ends the search: this is a reading of common getter shapes, not a data-flow analysis.
 */
function returned(fn: AstNode): Returned | undefined {
  const body = child(fn, 'body');
  if (body?.type !== 'BlockStatement') return withFallback(body);
  const statements = children(body, 'body');
  const last = statements.at(-1);
  if (last?.type !== 'ReturnStatement') return undefined;
  const bound = new Map<string, AstNode | undefined>();
  let guard: UnsetGuard | undefined;
  for (const statement of statements.slice(0, -1)) {
    if (statement.type === 'VariableDeclaration' && statement.kind !== 'var') {
      for (const declarator of children(statement, 'declarations')) {
        const id = child(declarator, 'id');
        if (id?.type !== 'Identifier') return undefined;
        bound.set(id.name as string, child(declarator, 'init'));
      }
      continue;
    }
    if (guard !== undefined || child(statement, 'alternate')) return undefined;
    guard = unsetGuard(statement);
    if (guard === undefined) return undefined;
  }
  const through = (node: AstNode | undefined): AstNode | undefined => {
    const n = unwrap(node);
    return n?.type === 'Identifier' && bound.has(n.name as string) ? bound.get(n.name as string) : n;
  };
  const result = withFallback(child(last, 'argument'));
  if (guard === undefined) return { value: through(result.value), fallback: result.fallback };
  const value = unwrap(result.value);
  if (result.fallback !== undefined || value?.type !== 'Identifier' || value.name !== guard.tested) return undefined;
  return { value: through(value), fallback: guard.fallback };
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
