// What a module exports, however it says so: inline (`export function f`), by list, by default,
// by `export =`, or through CommonJS (`module.exports`, `exports.x`).
import { type AstNode, child, children, memberPath, unwrap } from './js-ast.ts';
import { patternIdentifiers } from './js-scope.ts';

/** A module's exports: the module-scope names it exports and the values it exports in place. */
export interface ModuleExports {
  /** Local names exported: `export { a }`, `export default a`, `export = a`, `module.exports = { a }`, `exports.x = a`. */
  readonly names: ReadonlySet<string>;
  /** Functions and classes exported where they are written: `module.exports = function () {}`, `exports.get = () => …`. */
  readonly values: ReadonlySet<AstNode>;
}

const EXPORTS = new WeakMap<AstNode, ModuleExports>();

/** Listed once per parsed module (program node, of `file`); callers share the sets. */
export function moduleExports(program: AstNode, file: string): ModuleExports {
  let exports = EXPORTS.get(program);
  if (exports === undefined) {
    exports = listModuleExports(program, file);
    EXPORTS.set(program, exports);
  }
  return exports;
}

/** One assignment of a chain: what it writes to and with which operator (`=`, `||=`, …). */
export interface AssignmentLink {
  readonly target: AstNode | undefined;
  readonly operator: string;
}

/** An assignment chain: its links, outermost first, and the value the innermost one assigns. */
export interface AssignmentChain {
  readonly links: readonly AssignmentLink[];
  readonly value: AstNode | undefined;
}

/**
 * `a = b = v` as its links (`a`, `b`) and the value `v` every link takes; any other expression is
 * a chain without links whose value is the expression itself. Each step goes one node down the
 * tree, so the walk ends on chains of any length.
 */
export function assignmentChain(expression: AstNode | undefined): AssignmentChain {
  const links: AssignmentLink[] = [];
  let n = unwrap(expression);
  while (n?.type === 'AssignmentExpression') {
    links.push({ target: child(n, 'left'), operator: n.operator as string });
    n = unwrap(child(n, 'right'));
  }
  return { links, value: n };
}

/**
 * Whether one link of a chain writes the value on its right, given whether its target holds a
 * truthy value before (`undefined`: not known). The one rule every reader of chains applies: `=`
 * always writes; `||=` and `??=` do not write to a target known to be truthy (`module.exports`
 * starts as an object, so `module.exports ||= f` never assigns); `&&=` does not write to a target
 * known to be falsy (`exports.x &&= f`, the property starts unset); other compound operators
 * (`+=`) write something else. Where the target is not known, the link is taken to write.
 */
export function linkWrites(operator: string, startsTruthy: boolean | undefined): boolean {
  if (operator === '=') return true;
  if (operator === '||=' || operator === '??=') return startsTruthy !== true;
  if (operator === '&&=') return startsTruthy !== false;
  return false;
}

/** `module.exports` itself. */
const isModuleExports = (path: readonly string[] | undefined): boolean =>
  path?.length === 2 && path[0] === 'module' && path[1] === 'exports';

/** What a target starts as, when known: the export object (truthy) or one of its properties (unset). */
function exportTargetTruthy(path: readonly string[] | undefined): boolean | undefined {
  if (isModuleExports(path) || (path?.length === 1 && path[0] === 'exports')) return true;
  if (path?.length === 3 && isModuleExports(path.slice(0, 2))) return false;
  if (path?.length === 2 && path[0] === 'exports') return false;
  return undefined;
}

/**
 * The value a declared name or an outer assignment receives from a chain, if it is the chain's own
 * value: `const cache = module.exports.cache = new Map()` holds the `Map`; `const api =
 * module.exports ||= {}` holds the module's original export object, no node of the source.
 */
export function chainResult(expression: AstNode | undefined): AstNode | undefined {
  const { links, value } = assignmentChain(expression);
  for (const link of links) {
    if (!linkWrites(link.operator, exportTargetTruthy(memberPath(unwrap(link.target))))) return undefined;
  }
  return value;
}

/** One value a CommonJS module exports: as the module itself (`name` undefined) or as a property. */
export interface CommonJsExport {
  readonly name: string | undefined;
  readonly value: AstNode;
}

const ESM_STATEMENTS = new Set([
  'ImportDeclaration',
  'ExportNamedDeclaration',
  'ExportDefaultDeclaration',
  'ExportAllDeclaration',
]);

/**
 * An import or export declaration TypeScript erases: `import type`, `export type`, or a list whose
 * every name is marked `type` (`import { type A, type B } from 'x'`).
 */
function isTypeOnly(statement: AstNode): boolean {
  if (statement.importKind === 'type' || statement.exportKind === 'type') return true;
  if (statement.type !== 'ImportDeclaration' && statement.type !== 'ExportNamedDeclaration') return false;
  if (child(statement, 'declaration')) return false;
  const specifiers = children(statement, 'specifiers');
  return specifiers.length > 0 && specifiers.every((s) => s.importKind === 'type' || s.exportKind === 'type');
}

/** `module.exports`, `module.exports.x` or `exports.x`: a write only CommonJS gives a meaning. */
const isCommonJsTarget = (path: readonly string[] | undefined): boolean =>
  path !== undefined &&
  ((path.length >= 2 && path[0] === 'module' && path[1] === 'exports') || (path.length >= 2 && path[0] === 'exports'));

/**
 * Whether a top-level statement assigns `module.exports`, `module.exports.x` or `exports.x`, or
 * declares an alias of the export object (`var api = module.exports`, `const api = exports`): a
 * read of either name at the top level fails in an ES module, where neither is defined.
 */
function writesCommonJsExports(program: AstNode): boolean {
  for (const statement of children(program, 'body')) {
    const expressions =
      statement.type === 'ExpressionStatement'
        ? [child(statement, 'expression')]
        : statement.type === 'VariableDeclaration'
          ? children(statement, 'declarations').map((d) => child(d, 'init'))
          : [];
    for (const expression of expressions) {
      if (assignmentChain(expression).links.some((l) => isCommonJsTarget(memberPath(unwrap(l.target))))) return true;
      const path = statement.type === 'VariableDeclaration' ? memberPath(expression) : undefined;
      if (isModuleExports(path) || (path?.length === 1 && path[0] === 'exports')) return true;
    }
  }
  return false;
}

const COMMONJS_NAMES = new Set(['module', 'exports']);

/** The names a top-level statement declares that emit code; `declare` (ambient) declarations emit none. */
function runtimeNames(statement: AstNode): string[] {
  let s = statement;
  if (s.type === 'ExportNamedDeclaration') s = child(s, 'declaration') ?? s;
  if (s.declare === true) return [];
  if (s.type === 'VariableDeclaration') {
    const ids: AstNode[] = [];
    for (const declarator of children(s, 'declarations')) patternIdentifiers(child(declarator, 'id'), ids);
    return ids.map((id) => id.name as string);
  }
  if (s.type === 'ImportDeclaration') {
    if (isTypeOnly(s)) return [];
    return children(s, 'specifiers')
      .filter((specifier) => specifier.importKind !== 'type')
      .map((specifier) => child(specifier, 'local')?.name as string);
  }
  const id = child(s, 'id');
  return id?.type === 'Identifier' ? [id.name as string] : [];
}

/**
 * Whether a file declares `module` or `exports` at its top level by anything but `var` or a
 * function (which reuse the binding Node passes in): `let`, `const`, a class, an enum, a namespace,
 * an import. In a CommonJS module that is a SyntaxError (the names are the module wrapper's
 * parameters), so such a file is no Node module (a browser bundle's shim).
 */
function redeclaresCommonJsNames(program: AstNode): boolean {
  for (const statement of children(program, 'body')) {
    const s = statement.type === 'ExportNamedDeclaration' ? (child(statement, 'declaration') ?? statement) : statement;
    if ((s.type === 'VariableDeclaration' && s.kind === 'var') || s.type === 'FunctionDeclaration') continue;
    if (runtimeNames(statement).some((name) => COMMONJS_NAMES.has(name))) return true;
  }
  return false;
}

/**
 * Whether `module` and `exports` at the top level of a file may be CommonJS's: not in an ES module
 * (`.mjs`/`.mts`, where `module` is never defined: Node, bundlers and TypeScript's output all load
 * them as ES modules; a `.js`/`.jsx`/`.ts`/`.tsx` file with an `import` or `export` declaration
 * other than a type-only one, which is erased, unless it assigns `module.exports`,
 * `module.exports.x` or `exports.x` at its top level or declares an alias of either there
 * (`var api = module.exports`), which works only when it is compiled to
 * CommonJS: by TypeScript, or by Babel for a `.js` file (babel-node, `@babel/register`,
 * babel-jest); a `.cjs`/`.cts` file is CommonJS whatever it imports), and not declared at
 * module scope by `let`, `const`, a class, an enum, a namespace or an import (a SyntaxError in a
 * CommonJS module). Ambient (`declare`) declarations emit no code and do not count. A module-scope
 * `var` or function of either name reuses Node's binding: {@link commonJsExports} follows it.
 */
export function isCommonJsScope(program: AstNode, file: string): boolean {
  if (/\.m[jt]s$/.test(file)) return false;
  if (
    !/\.c[jt]s$/.test(file) &&
    children(program, 'body').some((s) => ESM_STATEMENTS.has(s.type) && !isTypeOnly(s)) &&
    !(/\.[jt]sx?$/.test(file) && writesCommonJsExports(program))
  ) {
    return false;
  }
  return !redeclaresCommonJsNames(program);
}

const COMMONJS = new WeakMap<AstNode, readonly CommonJsExport[]>();
const ALWAYS_TRUTHY: ReadonlySet<string> = new Set([
  'ObjectExpression',
  'ArrayExpression',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'ClassExpression',
]);

/**
 * What a CommonJS module exports by its top-level statements, in order: `module.exports = v`,
 * `exports.x = v`, `module.exports.x = v`, also in chains (`exports = module.exports = f`) and
 * declarations (`var app = module.exports = f`), and properties set through a module-scope alias
 * of the export object (`var env = module.exports = {}; env.read = …`, `const api = exports`).
 * Each link writes by {@link linkWrites}. Bare `exports` and every alias stop being the export
 * object once `module.exports` is given another value, so a property set on them afterwards
 * (`module.exports = f; exports.x = g`), or set by an outer link of the chain that replaced it
 * (`exports.read = module.exports = f`: `exports` is read before the right side runs), exports
 * nothing; a later `module.exports = …` does not take back what was exported before it. A
 * top-level `var exports = v` / `var module = v` (or a function of that name, from the start) is an
 * assignment to Node's binding: `var exports = module.exports = {}` makes `exports` an alias of
 * the new export object; once `module` holds anything but Node's module (`var module = { exports:
 * {} }`), `module.exports` is no export. A `var` in a nested block may not run (a shim behind
 * `typeof module === 'undefined'`) and changes nothing. Nothing where {@link isCommonJsScope} says
 * `module`/`exports` are not CommonJS's. Listed once per program, in one pass over its statements.
 */
export function commonJsExports(program: AstNode, file: string): readonly CommonJsExport[] {
  let out = COMMONJS.get(program);
  if (out === undefined) {
    out = isCommonJsScope(program, file) ? listCommonJsExports(program) : [];
    COMMONJS.set(program, out);
  }
  return out;
}

/** What a chain hands to its next outer link: a node of the source, whether it is the export object or Node's module. */
interface Handed {
  readonly node: AstNode | undefined;
  readonly isExports: boolean;
  readonly isModule: boolean;
}

/** A top-level function named `name` (hoisted: it holds the binding from the start). */
const declaresFunction = (program: AstNode, name: string): boolean =>
  children(program, 'body').some(
    (s) => s.type === 'FunctionDeclaration' && s.declare !== true && child(s, 'id')?.name === name,
  );

function listCommonJsExports(program: AstNode): CommonJsExport[] {
  const out: CommonJsExport[] = [];
  // Names that hold the export object (`module.exports` itself is read as it is now).
  let aliases = new Set(declaresFunction(program, 'exports') ? [] : ['exports']);
  // Whether `module` is Node's module: a top-level `var module = {…}` or `module = …` rebinds it.
  let nodeModule = !declaresFunction(program, 'module');
  /**
   * Whether a value may be Node's module: `module`, `module || shim`, `shim ?? module` (not `{…} ||
   * module`, which is always the literal), `typeof module … && module` (`&&` gives its right side
   * whenever `module` is defined), `typeof module … ? module : shim`. An explicit stack, not one
   * call per operator: a long `a || b || …` is a tree as deep as it has operators.
   */
  const mayBeModule = (node: AstNode | undefined): boolean => {
    const pending = [node];
    while (pending.length > 0) {
      const n = unwrap(pending.pop());
      if (n?.type === 'Identifier') {
        if (n.name === 'module' && nodeModule) return true;
      } else if (n?.type === 'LogicalExpression') {
        if (n.operator === '&&') pending.push(child(n, 'right'));
        else {
          // A literal object, array, function or class is truthy and not nullish: `||`/`??` is it.
          pending.push(child(n, 'left'));
          if (!ALWAYS_TRUTHY.has(unwrap(child(n, 'left'))?.type ?? '')) pending.push(child(n, 'right'));
        }
      } else if (n?.type === 'ConditionalExpression') {
        pending.push(child(n, 'consequent'), child(n, 'alternate'));
      }
    }
    return false;
  };
  /** Whether a value is the export object: `module.exports`, an alias, or `exports || {}` (down `left` in a loop). */
  const isExportObject = (node: AstNode | undefined, wasAlias: (name: string) => boolean): boolean => {
    let n = unwrap(node);
    while (n?.type === 'LogicalExpression' && n.operator !== '&&') n = unwrap(child(n, 'left'));
    const path = memberPath(n);
    return (nodeModule && isModuleExports(path)) || (path?.length === 1 && wasAlias(path[0]!));
  };
  /** Runs one chain; returns what it evaluates to. */
  const run = (expression: AstNode | undefined): Handed => {
    const { links, value } = assignmentChain(expression);
    // Every target's object, and the value, are read before any link writes: what a name this
    // chain rebinds held before is kept aside (a copy of every alias per statement would make a
    // module of n aliases cost n² steps).
    const start = aliases;
    const startModule = nodeModule;
    const held = new Map<string, boolean>();
    const wasAlias = (name: string): boolean => held.get(name) ?? start.has(name);
    const setAlias = (name: string, on: boolean): void => {
      if (aliases === start && !held.has(name)) held.set(name, start.has(name));
      if (on) aliases.add(name);
      else aliases.delete(name);
    };
    let handed: Handed = { node: value, isExports: isExportObject(value, wasAlias), isModule: mayBeModule(value) };
    let replaced = false;
    // The names the links so far bound to the value handed on (`exports` and `self` in
    // `module.exports = exports = self = {}`): when `module.exports` takes that value, they are
    // the aliases of the new export object.
    let bound: string[] = [];
    for (let i = links.length - 1; i >= 0; i--) {
      const link = links[i]!;
      const path = memberPath(unwrap(link.target));
      const whole = startModule && isModuleExports(path);
      const name = unwrap(link.target)?.type === 'Identifier' ? path?.[0] : undefined;
      const object = path?.slice(0, -1);
      const property =
        object !== undefined &&
        object.length >= 1 &&
        ((startModule && isModuleExports(object)) || (object.length === 1 && wasAlias(object[0]!)))
          ? path?.at(-1)
          : undefined;
      const startsTruthy =
        whole || (name !== undefined && (name === 'module' ? nodeModule : aliases.has(name)))
          ? true
          : property
            ? false
            : undefined;
      if (!linkWrites(link.operator, startsTruthy)) {
        // The link's expression is the target's old value (`module ||= shim` keeps Node's module).
        const isModule = name === 'module' && nodeModule;
        handed = { node: undefined, isExports: startsTruthy === true && !isModule, isModule };
        bound = [];
        continue;
      }
      if (whole) {
        if (!handed.isExports) {
          if (handed.node) out.push({ name: undefined, value: handed.node });
          aliases = new Set(bound);
          replaced = true;
          handed = { node: handed.node, isExports: true, isModule: false };
        }
      } else if (name === 'module') {
        nodeModule = handed.isModule;
      } else if (name !== undefined) {
        setAlias(name, handed.isExports);
        bound.push(name);
      } else if (property !== undefined && !replaced && handed.node) {
        out.push({ name: property, value: handed.node });
      }
    }
    return handed;
  };
  for (const statement of children(program, 'body')) {
    if (statement.type === 'ExpressionStatement') run(child(statement, 'expression'));
    else if (statement.type === 'VariableDeclaration' && statement.declare !== true) {
      for (const declarator of children(statement, 'declarations')) {
        const init = child(declarator, 'init');
        const handed = run(init);
        const id = child(declarator, 'id');
        if (id?.type !== 'Identifier') {
          // `var { module } = ctx`, `var [exports] = shims`: a pattern rebinds every name it declares.
          for (const name of patternIdentifiers(id, [])) {
            if (name.name === 'module') nodeModule = false;
            else aliases.delete(name.name as string);
          }
          continue;
        }
        // `var exports;` keeps the value the binding has.
        if (init === undefined && statement.kind === 'var') continue;
        if (id.name === 'module') nodeModule = handed.isModule;
        else if (handed.isExports) aliases.add(id.name as string);
        else aliases.delete(id.name as string);
      }
    }
  }
  return out;
}

function addValue(node: AstNode | undefined, names: Set<string>, values: Set<AstNode>): void {
  const n = unwrap(node);
  if (!n) return;
  if (n.type === 'Identifier') names.add(n.name as string);
  else if (
    n.type === 'FunctionExpression' ||
    n.type === 'ArrowFunctionExpression' ||
    n.type === 'ClassExpression' ||
    n.type === 'FunctionDeclaration' ||
    n.type === 'ClassDeclaration'
  ) {
    values.add(n);
  } else if (n.type === 'ObjectExpression') {
    // `{ a, b: c, d: () => … }`: one level, as a module's export object is written. Functions held
    // as methods are Property values, which handlerKind already counts as handlers.
    for (const property of children(n, 'properties')) {
      const value = unwrap(child(property, 'value'));
      if (property.type === 'Property' && value?.type === 'Identifier') names.add(value.name as string);
    }
  }
}

function listModuleExports(program: AstNode, file: string): ModuleExports {
  const names = new Set<string>();
  const values = new Set<AstNode>();
  for (const statement of children(program, 'body')) {
    if (statement.type === 'ExportNamedDeclaration') {
      // `export { a as b } from 'x'` re-exports another module's binding, not a local one.
      if (child(statement, 'source')) continue;
      for (const specifier of children(statement, 'specifiers')) {
        const local = child(specifier, 'local');
        if (local?.type === 'Identifier') names.add(local.name as string);
      }
    } else if (statement.type === 'ExportDefaultDeclaration') {
      addValue(child(statement, 'declaration'), names, values);
    } else if (statement.type === 'TSExportAssignment') {
      addValue(child(statement, 'expression'), names, values);
    }
  }
  // `exports = module.exports = { … }` (Express's form), `var app = module.exports = f`,
  // `exports.f = f`: see commonJsExports. Rebinding bare `exports` alone exports nothing.
  for (const { value } of commonJsExports(program, file)) addValue(value, names, values);
  return { names, values };
}
