// UMD wrappers (github.com/umdjs/umd, Rollup's and webpack's `umd` output): a function called at
// the top level with a factory, whose CommonJS branch exports what the factory returns
// (`module.exports = factory(require('b'))`) or what it writes on the export object it is handed
// (`factory(exports)`). Recognised by shape, never evaluated.
import { type AstNode, child, children, isNode, propertyKeyName, unwrap } from './js-ast.ts';
import { propertyValue } from './js-commonjs-forms.ts';
import { COMMONJS_NAMES } from './js-commonjs-scope.ts';
import { requiredModule } from './js-module-bindings.ts';
import type { CommonJsExport } from './js-module-exports.ts';
import { patternIdentifiers } from './js-scope.ts';

const FUNCTION_LITERALS: ReadonlySet<string> = new Set(['FunctionExpression', 'ArrowFunctionExpression']);

/** A plain function (not async, not a generator: those return a promise or an iterator). */
function isPlainFunction(node: AstNode | undefined): node is AstNode {
  return (
    node !== undefined &&
    (FUNCTION_LITERALS.has(node.type) || node.type === 'FunctionDeclaration') &&
    node.async !== true &&
    node.generator !== true
  );
}

/** A UMD wrapper called at the top level: the wrapper, its arguments, and its factories by parameter name. */
export interface UmdWrapper {
  readonly wrapper: AstNode;
  readonly call: AstNode;
  readonly factories: ReadonlyMap<string, AstNode>;
}

/** A parameter's name: `x`, also `x = v` (a default applies only when the argument is `undefined`). */
export function parameterName(param: AstNode | undefined): string | undefined {
  const id = param?.type === 'AssignmentPattern' ? unwrap(child(param, 'left')) : param;
  return id?.type === 'Identifier' ? (id.name as string) : undefined;
}

/**
 * `(function (root, factory) { … })(this, function () { … })`, also `!function (…) { … }(…)` (as
 * minifiers write it) and with an arrow (block or expression body): a function literal called in
 * place, with a function literal (or a name `topLevelFunction` binds to one) for at least one
 * parameter, its factory, which the wrapper neither assigns nor declares again (`factory = function
 * () { return {}; }` makes it another function; see {@link reboundNames}). Not `.call(this, …)`, not
 * a wrapper bound to a name.
 */
export function umdWrapper(
  expression: AstNode | undefined,
  topLevelFunction: (name: string) => AstNode | undefined,
): UmdWrapper | undefined {
  let call = unwrap(expression);
  // `!function () {}()`, `void function () {}()`: the operator only makes the function an expression.
  while (call?.type === 'UnaryExpression' && call.operator !== 'delete' && call.operator !== 'typeof') {
    call = unwrap(child(call, 'argument'));
  }
  if (call?.type !== 'CallExpression') return undefined;
  const wrapper = unwrap(child(call, 'callee'));
  if (!isPlainFunction(wrapper) || child(wrapper, 'body') === undefined) return undefined;
  const args = children(call, 'arguments');
  const candidates = new Map<string, AstNode>();
  const params = new Map<string, number>();
  children(wrapper, 'params').forEach((param, i) => {
    for (const id of patternIdentifiers(param, []))
      params.set(id.name as string, (params.get(id.name as string) ?? 0) + 1);
    const arg = unwrap(args[i]);
    const factory = arg?.type === 'Identifier' ? topLevelFunction(arg.name as string) : arg;
    if (param.type === 'Identifier' && isPlainFunction(factory)) candidates.set(param.name as string, factory);
  });
  if (candidates.size === 0) return undefined;
  const rebound = reboundNames(wrapper, new Set(candidates.keys()));
  const factories = new Map<string, AstNode>();
  for (const [name, factory] of candidates) {
    if (params.get(name) === 1 && !rebound.has(name)) factories.set(name, factory);
  }
  return factories.size > 0 ? { wrapper, call, factories } : undefined;
}

/** Each child node of `node`. */
function* childNodes(node: AstNode): Generator<AstNode> {
  for (const [key, value] of Object.entries(node)) {
    if (key === 'parent') continue;
    if (Array.isArray(value)) {
      for (const item of value) if (isNode(item)) yield item;
    } else if (isNode(value)) yield value;
  }
}

/**
 * Which of `names` a function's scope declares for itself: its parameters, a function
 * expression's or class expression's own name, and what its body declares (`var`, `let`, `const`,
 * functions, classes, `catch`) short of nested functions. Any declaration in a nested block counts
 * for the whole function: a name it may shadow is taken as shadowed.
 */
function ownDeclarations(fn: AstNode, names: ReadonlySet<string>): Set<string> {
  const own = new Set<string>();
  const add = (ids: readonly AstNode[]): void => {
    for (const id of ids) if (names.has(id.name as string)) own.add(id.name as string);
  };
  for (const param of children(fn, 'params')) add(patternIdentifiers(param, []));
  if (fn.type === 'FunctionExpression' || fn.type === 'ClassExpression') {
    const id = child(fn, 'id');
    if (id?.type === 'Identifier') add([id]);
  }
  const pending: AstNode[] =
    fn.type === 'ClassExpression' ? [] : [...childNodes(fn)].filter((n) => n.type === 'BlockStatement');
  while (pending.length > 0) {
    const node = pending.pop() as AstNode;
    if (node.type === 'VariableDeclarator') add(patternIdentifiers(child(node, 'id'), []));
    else if (node.type === 'CatchClause') add(patternIdentifiers(child(node, 'param'), []));
    else if (node.type === 'FunctionDeclaration' || node.type === 'ClassDeclaration') {
      const id = child(node, 'id');
      if (id?.type === 'Identifier') add([id]);
    }
    if (FUNCTION_LITERALS.has(node.type) || node.type === 'FunctionDeclaration') continue;
    for (const next of childNodes(node)) pending.push(next);
  }
  return own;
}

/**
 * Which of a wrapper's parameter `names` it binds to another value: declared again in its own
 * scope (a function or class of that name, `let`, a `var` with a value; `var factory;` keeps the
 * parameter's value), or assigned (`x = …`, `x++`, `[x] = …`, `for (x in …)`) where the name is
 * the wrapper's: also in a parameter's default and in a nested function, unless that function
 * declares the name for itself (umdjs/umd's AMD branch `define(['b'], function (factory) { … })`).
 */
function reboundNames(wrapper: AstNode, names: ReadonlySet<string>): Set<string> {
  const rebound = new Set<string>();
  const target = (node: AstNode | undefined, shadowed: ReadonlySet<string>): void => {
    for (const id of patternIdentifiers(unwrap(node), [])) {
      if (names.has(id.name as string) && !shadowed.has(id.name as string)) rebound.add(id.name as string);
    }
  };
  // The wrapper's body and its parameters' defaults (`x = (factory = g)` runs in the wrapper's
  // scope when `x` is given nothing); a parameter itself assigns nothing.
  const pending: [AstNode, ReadonlySet<string>][] = [
    [child(wrapper, 'body') as AstNode, new Set()],
    ...children(wrapper, 'params').map((param): [AstNode, ReadonlySet<string>] => [param, new Set()]),
  ];
  while (pending.length > 0) {
    let [node, shadowed] = pending.pop()!;
    if (FUNCTION_LITERALS.has(node.type) || node.type === 'FunctionDeclaration' || node.type === 'ClassExpression') {
      // A function declaration's name belongs to the scope around it.
      if (node.type === 'FunctionDeclaration') target(child(node, 'id'), shadowed);
      const own = ownDeclarations(node, names);
      if (own.size > 0) shadowed = new Set([...shadowed, ...own]);
      if ([...names].every((name) => shadowed.has(name))) continue;
    } else if (node.type === 'VariableDeclaration') {
      // `let`, `const`, and `var` with a value bind the name; `var x;` alone keeps its value.
      for (const declarator of children(node, 'declarations')) {
        if (node.kind !== 'var' || child(declarator, 'init') !== undefined) target(child(declarator, 'id'), shadowed);
      }
    } else if (node.type === 'ClassDeclaration' || node.type === 'CatchClause') {
      target(child(node, node.type === 'CatchClause' ? 'param' : 'id'), shadowed);
    } else if (node.type === 'AssignmentExpression') target(child(node, 'left'), shadowed);
    else if (node.type === 'UpdateExpression') target(child(node, 'argument'), shadowed);
    else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
      // `for (x in o)` and `for (var x in o)` both assign `x` each round.
      const left = child(node, 'left');
      if (left?.type === 'VariableDeclaration') {
        for (const declarator of children(left, 'declarations')) target(child(declarator, 'id'), shadowed);
      } else target(left, shadowed);
    }
    for (const next of childNodes(node)) pending.push([next, shadowed]);
  }
  return rebound;
}

// A number per function literal handed to a factory, for call signatures.
const FUNCTION_IDS = new WeakMap<AstNode, number>();
let functionCount = 0;
function functionId(fn: AstNode): number {
  let id = FUNCTION_IDS.get(fn);
  if (id === undefined) {
    id = functionCount++;
    FUNCTION_IDS.set(fn, id);
  }
  return id;
}

/** What a name resolves to in a function: a node, or its parameter at an index (given by the call). */
type Target = { readonly param: number; readonly node?: undefined } | { readonly node: AstNode } | undefined;

const NAMED: ReadonlySet<string> = new Set([
  'FunctionDeclaration',
  'FunctionExpression',
  'ClassDeclaration',
  'ClassExpression',
]);

/** How many times each name is declared anywhere in a function (parameters, `var`, functions, classes, catch). */
function declarationCounts(fn: AstNode): Map<string, number> {
  const counts = new Map<string, number>();
  const count = (ids: readonly AstNode[]): void => {
    for (const id of ids) counts.set(id.name as string, (counts.get(id.name as string) ?? 0) + 1);
  };
  const pending: AstNode[] = [fn];
  while (pending.length > 0) {
    const node = pending.pop() as AstNode;
    if (FUNCTION_LITERALS.has(node.type) || node.type === 'FunctionDeclaration') {
      for (const param of children(node, 'params')) count(patternIdentifiers(param, []));
    }
    if (node.type === 'VariableDeclarator') count(patternIdentifiers(child(node, 'id'), []));
    else if (node.type === 'CatchClause') count(patternIdentifiers(child(node, 'param'), []));
    else if (NAMED.has(node.type)) {
      // A function's or class's own name (`function read() {}`, `class Api {}`).
      const id = child(node, 'id');
      if (id?.type === 'Identifier') count([id]);
    }
    for (const next of childNodes(node)) pending.push(next);
  }
  return counts;
}

/**
 * The scope of a wrapper or factory: which names it declares anywhere in it (a name it declares is
 * never the module's), and what a name declared once at its top holds, so that what it exports can
 * be handed on as nodes the module's readers understand: a function or class, `require('x')`, or a
 * module-scope name; anything else of the function's own is no value they can follow.
 */
export class FunctionScope {
  readonly fn: AstNode;
  readonly #counts: Map<string, number>;
  readonly #params = new Map<string, number>();
  /** The function's parameters, in order. */
  readonly params: readonly AstNode[];
  // Per parameter position, whether a name is bound there ({@link resolve} follows it).
  readonly #named: boolean[] = [];
  // The last call's arguments {@link positional} counted, and that count.
  #positionalOf: { readonly args: readonly AstNode[]; readonly count: number } | undefined;
  readonly #locals = new Map<string, AstNode>();
  // What `returned()` found, and what each node resolves to short of the call's arguments: both
  // asked once per export a wrapper makes of a call (`exports.x = factory()`, many times).
  #returned: { readonly value: AstNode | undefined } | undefined;
  readonly #targets = new Map<AstNode, Target>();
  #own: ReadonlySet<string> | undefined;

  constructor(fn: AstNode) {
    this.fn = fn;
    this.#counts = declarationCounts(fn);
    this.params = children(fn, 'params');
    this.params.forEach((param, i) => {
      const name = parameterName(param);
      if (name !== undefined) this.#params.set(name, i);
    });
    // A name given twice (sloppy `function (a, a)`) is bound at its last position.
    for (const index of this.#params.values()) this.#named[index] = true;
    const body = child(fn, 'body');
    // After the first top-level `return` only a function declaration (hoisted) holds its value: a
    // `var` there is never given its value, and a class is never initialised (reading it throws).
    let returned = false;
    for (const statement of body?.type === 'BlockStatement' ? children(body, 'body') : []) {
      const id = child(statement, 'id');
      if (statement.type === 'ReturnStatement') returned = true;
      else if (statement.type === 'FunctionDeclaration' || (statement.type === 'ClassDeclaration' && !returned)) {
        if (id?.type === 'Identifier') this.#locals.set(id.name as string, statement);
      } else if (statement.type === 'VariableDeclaration' && !returned) {
        for (const declarator of children(statement, 'declarations')) {
          const name = child(declarator, 'id');
          const init = child(declarator, 'init');
          if (name?.type === 'Identifier' && init !== undefined) this.#locals.set(name.name as string, init);
        }
      }
    }
  }

  /** Whether the function declares `name` anywhere in it (nested functions too): for {@link resolve}. */
  declares(name: string): boolean {
    return this.#counts.has(name);
  }

  /**
   * Whether the function's own scope declares `exports` or `module` (see {@link ownDeclarations}):
   * a nested function's parameter of that name (umdjs/umd's AMD branch `define(['exports'],
   * function (exports) { … })`) leaves the name the module's in the function's body.
   */
  declaresOwn(name: 'exports' | 'module'): boolean {
    this.#own ??= ownDeclarations(this.fn, COMMONJS_NAMES);
    return this.#own.has(name);
  }

  /**
   * The value `returned` (the body's first top-level `return`, or an arrow's expression) and what
   * a name stands for when the function is called with `args`: a parameter given `require('x')` or
   * a function literal, a local function, class or initialised variable declared once; `undefined`
   * where it is the function's own and none of those.
   */
  resolve(node: AstNode | undefined, args: readonly AstNode[]): AstNode | undefined {
    if (node === undefined) return undefined;
    let target = this.#targets.get(node);
    if (target === undefined && !this.#targets.has(node)) {
      target = this.#target(node);
      this.#targets.set(node, target);
    }
    if (target === undefined || !('param' in target)) return target?.node;
    const arg = target.param < this.positional(args) ? unwrap(args[target.param]) : undefined;
    return arg !== undefined && (requiredModule(arg) !== undefined || isPlainFunction(arg)) ? arg : undefined;
  }

  /** What {@link resolve} finds for `node` whatever the arguments: a node, or which parameter it is. */
  #target(node: AstNode): Target {
    const seen = new Set<string>();
    let n = unwrap(node);
    while (n?.type === 'Identifier' && this.declares(n.name as string)) {
      const name = n.name as string;
      if (seen.has(name) || this.#counts.get(name) !== 1) return undefined;
      seen.add(name);
      const index = this.#params.get(name);
      if (index !== undefined) return { param: index };
      const local = this.#locals.get(name);
      if (local?.type === 'FunctionDeclaration' || local?.type === 'ClassDeclaration') return { node: local };
      n = unwrap(local);
    }
    if (n === undefined) return undefined;
    // `b.read` where `b` is the function's own: no module-scope name the readers could look up.
    let root = n;
    while (root.type === 'MemberExpression') root = unwrap(child(root, 'object')) ?? root;
    if (root !== n && root.type === 'Identifier' && this.declares(root.name as string)) return undefined;
    if (requiredModule(n) !== undefined && this.declares('require')) return undefined;
    return { node: n };
  }

  /**
   * How many of a call's first parameters are known to get its arguments in order: those with an
   * argument before its first spread argument (`factory(...list, exports)` hands `exports` to a
   * parameter only the list's length tells). A parameter at or after it gets a value of unknown kind.
   * Counted over the call's own arguments, never over every parameter of the function.
   */
  positional(args: readonly AstNode[]): number {
    if (this.#positionalOf?.args !== args) {
      let count = 0;
      const limit = Math.min(args.length, this.params.length);
      while (count < limit && args[count]!.type !== 'SpreadElement') count++;
      this.#positionalOf = { args, count };
    }
    return this.#positionalOf.count;
  }

  /**
   * What of a call's arguments {@link resolve} can give: per {@link positional} parameter, the
   * module a `require('x')` loads or which function literal it is, `-` for any other value (and
   * for every parameter after them, left out). Calls with one signature resolve every node alike;
   * it takes time in the call's arguments, not in the function's parameters.
   */
  signature(args: readonly AstNode[]): string {
    const parts: string[] = [];
    let length = 0;
    for (let index = 0; index < this.positional(args); index++) {
      const arg = this.#named[index] === true ? unwrap(args[index]) : undefined;
      const specifier = requiredModule(arg);
      const part =
        specifier !== undefined ? `r${JSON.stringify(specifier)}` : isPlainFunction(arg) ? `f${functionId(arg)}` : '-';
      parts.push(part);
      if (part !== '-') length = parts.length;
    }
    // Trailing `-` parts say nothing: `factory(a)` and `factory(a, 1)` are alike.
    return parts.slice(0, length).join(',');
  }

  /** What the function returns: its body's first top-level `return` value, or an arrow's expression. */
  returned(): AstNode | undefined {
    if (this.#returned === undefined) {
      const body = child(this.fn, 'body');
      const statement =
        body?.type === 'BlockStatement' ? children(body, 'body').find((s) => s.type === 'ReturnStatement') : undefined;
      this.#returned = { value: body?.type !== 'BlockStatement' ? body : statement && child(statement, 'argument') };
    }
    return this.#returned.value;
  }

  /**
   * An export the function's body writes (or returns, `name` undefined), as exports the module's
   * readers follow: an object is read as its properties (a spread of `require('x')` as every name
   * of `x`), each value resolved ({@link resolve}); what cannot be resolved is `opaque` (the call
   * of the factory: a value no reader takes for a function or a module).
   */
  entries(entry: CommonJsExport, args: readonly AstNode[], opaque: AstNode): CommonJsExport[] {
    if (entry.reexportsAll) {
      return requiredModule(entry.value) !== undefined && !this.declares('require') ? [entry] : [];
    }
    const value = this.resolve(entry.value, args);
    if (value?.type !== 'ObjectExpression') return [{ name: entry.name, value: value ?? opaque }];
    if (entry.name !== undefined) return [{ name: entry.name, value: opaque }];
    const out: CommonJsExport[] = [];
    for (const property of children(value, 'properties')) {
      if (property.type === 'SpreadElement') {
        const spread = unwrap(child(property, 'argument'));
        if (spread !== undefined && requiredModule(spread) !== undefined && !this.declares('require')) {
          out.push({ name: undefined, value: spread, reexportsAll: true, withDefault: true });
        }
        continue;
      }
      const name = property.type === 'Property' ? propertyKeyName(property) : undefined;
      if (name === undefined || property.kind === 'set') continue;
      const given = propertyValue(property);
      const resolved = given && this.resolve(given, args);
      out.push({ name, value: resolved === undefined || resolved.type === 'ObjectExpression' ? opaque : resolved });
    }
    return out;
  }
}

/**
 * How many calls with other arguments a factory is read for (real UMD files make 1 to 3): past it a
 * call's `module.exports = factory(…)` exports the call, a value of unknown kind, and what a call
 * writes on the export object it hands in is not read, so that many wrappers sharing one factory
 * with other arguments each take time linear in their number, not in their number squared.
 */
export const FACTORY_READS = 8;

/** A UMD wrapper's factory: its scope, and which of its calls have been read (by any wrapper of the module). */
export interface Factory {
  readonly scope: FunctionScope;
  /**
   * The calls its body was read for: by which parameters (and free `exports`, `module`) it was
   * handed the export object or Node's module, and its {@link FunctionScope.signature}. A call
   * like one read writes the same exports again; one with other arguments may write others (up
   * to {@link FACTORY_READS} of them).
   */
  readonly read: Set<string>;
  /** The signatures of the calls whose returned value was exported as `module.exports` (up to {@link FACTORY_READS}). */
  readonly returned: Set<string>;
}

/**
 * Where a reader reads: the file's top level (`program`), whose expression statements may call a
 * UMD wrapper, or a wrapper's body (`factories`, by the wrapper's parameter names), whose `a ? b :
 * c` and `a && b` statements run as `if` statements do; a factory's body is neither.
 */
export interface Reading {
  readonly program?: AstNode;
  /**
   * At the top level: whether the file is a Node module, whose top-level `this` is the export
   * object (asked only when a statement reads `this` so; the answer walks the file).
   */
  readonly thisIsExports?: () => boolean;
  /** At the top level: receives the statements Node never runs, after a `return` that always runs. */
  readonly unrun?: Set<AstNode>;
  readonly factories?: ReadonlyMap<string, Factory>;
}

/** A top-level function bound to `name` once, for a UMD wrapper's factory passed by name. */
export function topLevelFunctions(program: AstNode): (name: string) => AstNode | undefined {
  let bound: Map<string, AstNode | null> | undefined;
  return (name) => {
    if (bound === undefined) {
      bound = new Map();
      for (const statement of children(program, 'body')) {
        const bind = (id: AstNode | undefined, value: AstNode | undefined): void => {
          if (id?.type !== 'Identifier') return;
          const known = bound!.has(id.name as string);
          bound!.set(id.name as string, !known && isPlainFunction(value) ? value : null);
        };
        if (statement.type === 'FunctionDeclaration') bind(child(statement, 'id'), statement);
        for (const declarator of statement.type === 'VariableDeclaration' ? children(statement, 'declarations') : []) {
          bind(child(declarator, 'id'), unwrap(child(declarator, 'init')));
        }
      }
    }
    return bound.get(name) ?? undefined;
  };
}

/** An expression as a statement of its own: a wrapper's `a ? b : c` read as `if (a) b; else c;`, an arrow wrapper's body. */
export const asStatement = (expression: AstNode | undefined): AstNode | undefined =>
  expression && { type: 'ExpressionStatement', start: expression.start, end: expression.end, expression };
