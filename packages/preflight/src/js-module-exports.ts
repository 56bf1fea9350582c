// What a module exports, however it says so: inline (`export function f`), by list, by default,
// by `export =`, or through CommonJS (`module.exports`, `exports.x`).
import { type AstNode, child, children, memberPath, unwrap } from './js-ast.ts';

/** A module's exports: the module-scope names it exports and the values it exports in place. */
export interface ModuleExports {
  /** Local names exported: `export { a }`, `export default a`, `export = a`, `module.exports = { a }`, `exports.x = a`. */
  readonly names: ReadonlySet<string>;
  /** Functions and classes exported where they are written: `module.exports = function () {}`, `exports.get = () => …`. */
  readonly values: ReadonlySet<AstNode>;
}

const EXPORTS = new WeakMap<AstNode, ModuleExports>();

/** Listed once per parsed module (program node); callers share the sets. */
export function moduleExports(program: AstNode): ModuleExports {
  let exports = EXPORTS.get(program);
  if (exports === undefined) {
    exports = listModuleExports(program);
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
 * The assignment chains a module-scope statement runs: an assignment statement's (`exports =
 * module.exports = { … }`), and those that initialize a declaration's names (`var app =
 * module.exports = f`, `const x = exports.a = exports.b = f`: the declared name is no link).
 * A statement without any has none.
 */
export function statementAssignments(statement: AstNode): AssignmentChain[] {
  const inits =
    statement.type === 'ExpressionStatement'
      ? [child(statement, 'expression')]
      : statement.type === 'VariableDeclaration'
        ? children(statement, 'declarations').map((d) => child(d, 'init'))
        : [];
  return inits.map(assignmentChain).filter((chain) => chain.links.length > 0);
}

/** `module.exports`, `module.exports.x`, `exports.x`. */
function isExportsTarget(node: AstNode | undefined): boolean {
  const path = memberPath(unwrap(node));
  if (!path) return false;
  return (
    (path[0] === 'module' && path[1] === 'exports' && path.length <= 3) || (path[0] === 'exports' && path.length === 2)
  );
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

function listModuleExports(program: AstNode): ModuleExports {
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
    } else {
      // `exports = module.exports = { … }` (Express's form), `module.exports = exports = f`, `var app
      // = module.exports = f`: every link of the chain takes the innermost value, so one export
      // target anywhere exports it. Bare `exports` is not a target: rebinding it alone exports nothing.
      for (const chain of statementAssignments(statement)) {
        if (chain.links.some((link) => isExportsTarget(link.target))) addValue(chain.value, names, values);
      }
    }
  }
  return { names, values };
}
