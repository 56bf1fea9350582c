// What a module exports, however it says so: inline (`export function f`), by list, by default,
// by `export =`, or through CommonJS (`module.exports`, `exports.x`).
import { type AstNode, child, children, memberPath, unwrap } from './js-ast.ts';
import { declaredAtModuleScope } from './js-scope.ts';

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
 * Whether `module` and `exports` at the top level of a file are CommonJS's: not in an ES module
 * (`.mjs`/`.mts`, or a `.js`/`.ts` file with an `import` or `export` declaration other than a
 * type-only one, which is erased; a `.cjs`/`.cts` file is CommonJS whatever it imports), and not
 * declared at module scope (`var module = { exports: {} }`, `const exports = {}`, also a `var` in
 * a block, a function or a class of that name).
 */
export function isCommonJsScope(program: AstNode, file: string): boolean {
  if (/\.m[jt]s$/.test(file)) return false;
  if (
    !/\.c[jt]s$/.test(file) &&
    children(program, 'body').some(
      (s) => ESM_STATEMENTS.has(s.type) && s.importKind !== 'type' && s.exportKind !== 'type',
    )
  ) {
    return false;
  }
  return !declaredAtModuleScope(program, 'module') && !declaredAtModuleScope(program, 'exports');
}

const COMMONJS = new WeakMap<AstNode, readonly CommonJsExport[]>();

/**
 * What a CommonJS module exports by its top-level statements, in order: `module.exports = v`,
 * `exports.x = v`, `module.exports.x = v`, also in chains (`exports = module.exports = f`) and
 * declarations (`var app = module.exports = f`), and properties set through a module-scope alias
 * of the export object (`var env = module.exports = {}; env.read = …`, `const api = exports`).
 * Each link writes by {@link linkWrites}. Bare `exports` and every alias stop being the export
 * object once `module.exports` is given another value, so a property set on them afterwards
 * (`module.exports = f; exports.x = g`), or set by an outer link of the chain that replaced it
 * (`exports.read = module.exports = f`: `exports` is read before the right side runs), exports
 * nothing; a later `module.exports = …` does not take back what was exported before it. Nothing
 * where {@link isCommonJsScope} says `module`/`exports` are not CommonJS's. Listed once per program.
 */
export function commonJsExports(program: AstNode, file: string): readonly CommonJsExport[] {
  let out = COMMONJS.get(program);
  if (out === undefined) {
    out = isCommonJsScope(program, file) ? listCommonJsExports(program) : [];
    COMMONJS.set(program, out);
  }
  return out;
}

/** What a chain hands to its next outer link: a node of the source, and whether it is the export object. */
interface Handed {
  readonly node: AstNode | undefined;
  readonly isExports: boolean;
}

function listCommonJsExports(program: AstNode): CommonJsExport[] {
  const out: CommonJsExport[] = [];
  // Names that hold the export object (`module.exports` itself is always read as it is now).
  let aliases = new Set(['exports']);
  const holdsExports = (path: readonly string[] | undefined, names: ReadonlySet<string>): boolean =>
    isModuleExports(path) || (path?.length === 1 && names.has(path[0]!));
  /** Runs one chain; returns what it evaluates to. */
  const run = (expression: AstNode | undefined): Handed => {
    const { links, value } = assignmentChain(expression);
    // Every target's object, and the value, are read before any link writes.
    const before = new Set(aliases);
    let handed: Handed = { node: value, isExports: holdsExports(memberPath(value), before) };
    let replaced = false;
    for (let i = links.length - 1; i >= 0; i--) {
      const link = links[i]!;
      const path = memberPath(unwrap(link.target));
      const whole = isModuleExports(path);
      const name = unwrap(link.target)?.type === 'Identifier' ? path?.[0] : undefined;
      const property =
        path !== undefined && path.length >= 2 && holdsExports(path.slice(0, -1), before) ? path.at(-1) : undefined;
      const startsTruthy = whole || (name !== undefined && aliases.has(name)) ? true : property ? false : undefined;
      if (!linkWrites(link.operator, startsTruthy)) {
        // The link's expression is the target's old value.
        handed = { node: undefined, isExports: startsTruthy === true };
        continue;
      }
      if (whole) {
        if (!handed.isExports) {
          if (handed.node) out.push({ name: undefined, value: handed.node });
          aliases = new Set();
          replaced = true;
          handed = { node: handed.node, isExports: true };
        }
      } else if (name !== undefined) {
        if (handed.isExports) aliases.add(name);
        else aliases.delete(name);
      } else if (property !== undefined && !replaced && handed.node) {
        out.push({ name: property, value: handed.node });
      }
    }
    return handed;
  };
  for (const statement of children(program, 'body')) {
    if (statement.type === 'ExpressionStatement') run(child(statement, 'expression'));
    else if (statement.type === 'VariableDeclaration') {
      for (const declarator of children(statement, 'declarations')) {
        const handed = run(child(declarator, 'init'));
        const id = child(declarator, 'id');
        if (id?.type !== 'Identifier') continue;
        if (handed.isExports) aliases.add(id.name as string);
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
