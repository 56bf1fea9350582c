// The shapes of CommonJS export code the module-exports reader recognises (js-module-exports.ts):
// esbuild's, TypeScript's and Node's own forms, each read by shape, never evaluated.
import { isModuleExports } from './js-assignment-chain.ts';
import { type AstNode, child, children, memberPath, memberPropertyName, singleReturn, unwrap } from './js-ast.ts';
import { COMMONJS_NAMES, runtimeNames } from './js-commonjs-scope.ts';

/**
 * The value an expression evaluates to, through wrappers and sequences: `(0, x)` is `x`. Down the
 * last element in a loop, so nesting of any depth ends.
 */
export function resultOf(node: AstNode | undefined): AstNode | undefined {
  let n = unwrap(node);
  while (n?.type === 'SequenceExpression') n = unwrap(children(n, 'expressions').at(-1));
  return n;
}

/** `Object.<method>(target, …)`: its arguments, the target first. */
export function objectCallArguments(
  node: AstNode | undefined,
  method: 'assign' | 'defineProperty',
): AstNode[] | undefined {
  if (node?.type !== 'CallExpression') return undefined;
  const path = memberPath(child(node, 'callee'));
  return path?.length === 2 && path[0] === 'Object' && path[1] === method ? children(node, 'arguments') : undefined;
}

/** `Object.assign(target, …)`: its arguments (the target first), which it copies onto the target it returns. */
export const objectAssignArguments = (node: AstNode | undefined): AstNode[] | undefined =>
  objectCallArguments(node, 'assign');

/**
 * What a getter returns when its body is one `return v` or an arrow's expression: `() => read`,
 * `function () { return read_1.read; }` (TypeScript's re-export), `get() { return read; }`.
 */
export function returnedBy(getter: AstNode | undefined): AstNode | undefined {
  const fn = unwrap(getter);
  // A generator or async getter returns an iterator or a promise, not the value.
  if (fn?.generator === true || fn?.async === true) return undefined;
  if (fn?.type === 'ArrowFunctionExpression' && fn.expression === true) return child(fn, 'body');
  if (fn?.type !== 'ArrowFunctionExpression' && fn?.type !== 'FunctionExpression') return undefined;
  const only = singleReturn(child(fn, 'body'));
  return only && child(only, 'argument');
}

/**
 * The value an object literal's property gives when copied (`Object.assign`) or read: its value,
 * or what its getter returns; a setter gives nothing.
 */
export function propertyValue(property: AstNode): AstNode | undefined {
  if (property.kind === 'set') return undefined;
  const value = child(property, 'value');
  return property.kind === 'get' ? returnedBy(value) : value;
}

/**
 * esbuild's note of a module's export names for Node's CommonJS named-export detection
 * (cjs-module-lexer), which never runs: `0 && (module.exports = { read, write })`. Its object.
 */
export function exportNamesHint(expression: AstNode | undefined): AstNode | undefined {
  const n = unwrap(expression);
  if (n?.type !== 'LogicalExpression' || n.operator !== '&&') return undefined;
  const left = unwrap(child(n, 'left'));
  const right = unwrap(child(n, 'right'));
  if (left?.type !== 'Literal' || left.value !== 0 || right?.type !== 'AssignmentExpression') return undefined;
  if (right.operator !== '=' || !isModuleExports(memberPath(unwrap(child(right, 'left'))))) return undefined;
  const object = unwrap(child(right, 'right'));
  return object?.type === 'ObjectExpression' ? object : undefined;
}

/** `__toCommonJS(…)`: esbuild's export object, after which its `0 && (module.exports = { … })` note names the exports. */
export function isToCommonJs(node: AstNode | undefined): boolean {
  const callee = node?.type === 'CallExpression' ? unwrap(child(node, 'callee')) : undefined;
  return callee?.type === 'Identifier' && callee.name === '__toCommonJS';
}

/**
 * The compiled `export * from './x'`: TypeScript's `__exportStar(require('./x'), exports)` (also
 * `tslib_1.__exportStar`) and esbuild's `__reExport(x_exports, require('./x'), module.exports)`.
 * The module loaded and the object its exports are copied onto.
 */
export function exportStarArguments(node: AstNode | undefined): [AstNode | undefined, AstNode | undefined] | undefined {
  if (node?.type !== 'CallExpression') return undefined;
  const callee = unwrap(child(node, 'callee'));
  const name =
    callee?.type === 'Identifier'
      ? callee.name
      : callee?.type === 'MemberExpression'
        ? memberPropertyName(callee)
        : undefined;
  const args = children(node, 'arguments');
  if (name === '__exportStar' && args.length === 2) return [args[0], args[1]];
  if (name === '__reExport' && args.length === 3) return [args[1], args[2]];
  return undefined;
}

/** A literal test that is always false: `false`, `0`, `''`, `null`, `undefined`, `void 0`. */
export function alwaysFalse(test: AstNode | undefined): boolean {
  const n = unwrap(test);
  if (n?.type === 'Literal') return n.value === false || n.value === 0 || n.value === '' || n.raw === 'null';
  if (n?.type === 'Identifier') return n.name === 'undefined';
  return n?.type === 'UnaryExpression' && n.operator === 'void' && unwrap(child(n, 'argument'))?.type === 'Literal';
}

/** Whether a block declares `module` or `exports` for itself (`let`, `const`, a class or function in it). */
export function declaresLocally(statements: readonly AstNode[]): boolean {
  return statements.some(
    (s) =>
      !(s.type === 'VariableDeclaration' && s.kind === 'var') && runtimeNames(s).some((n) => COMMONJS_NAMES.has(n)),
  );
}

// Browser globals Node does not define: `typeof self` is 'undefined' there.
const BROWSER_ONLY: ReadonlySet<string> = new Set(['self', 'window']);

/**
 * `typeof self !== 'undefined'` (`!=`, either side, `window` too): `true` where the test says a
 * browser-only global the file does not declare is defined, `false` where it says it is not, so
 * that in Node its value is `!holds`; `undefined` for any other test.
 */
function browserGlobalTest(test: AstNode | undefined, declared: (name: string) => boolean): boolean | undefined {
  const n = unwrap(test);
  if (n?.type !== 'BinaryExpression') return undefined;
  const equal = n.operator === '===' || n.operator === '==';
  if (!equal && n.operator !== '!==' && n.operator !== '!=') return undefined;
  const [left, right] = [unwrap(child(n, 'left')), unwrap(child(n, 'right'))];
  const [typeOf, literal] = left?.type === 'UnaryExpression' ? [left, right] : [right, left];
  if (typeOf?.type !== 'UnaryExpression' || typeOf.operator !== 'typeof') return undefined;
  if (literal?.type !== 'Literal' || literal.value !== 'undefined') return undefined;
  const name = unwrap(child(typeOf, 'argument'));
  if (name?.type !== 'Identifier' || !BROWSER_ONLY.has(name.name as string) || declared(name.name as string)) {
    return undefined;
  }
  return !equal;
}

/**
 * Whether Node evaluates an expression to top-level `this` (a UMD wrapper's root argument): `this`,
 * `this || x` and `this ?? x` (`this` is truthy there), `typeof self !== 'undefined' ? self : this`
 * and the branch Node takes of any such test (`self` and `window` are undefined in Node unless the
 * file declares them). Not `self || this` nor `window ?? this`: reading an undeclared `self` throws
 * in Node, only a `typeof` test is safe. Not `typeof globalThis !== 'undefined' ? globalThis :
 * this` nor `global || this`: Node defines both. Down the branch Node takes, in a loop.
 */
export function nodeTakesThis(node: AstNode | undefined, declared: (name: string) => boolean): boolean {
  let n = resultOf(node);
  for (;;) {
    if (n?.type === 'ThisExpression') return true;
    if (n?.type === 'LogicalExpression' && (n.operator === '||' || n.operator === '??')) {
      return resultOf(child(n, 'left'))?.type === 'ThisExpression';
    }
    if (n?.type !== 'ConditionalExpression') return false;
    const defined = browserGlobalTest(child(n, 'test'), declared);
    if (defined === undefined) return false;
    n = resultOf(child(n, defined ? 'alternate' : 'consequent'));
  }
}
