// Whether `module` and `exports` at the top level of a file are CommonJS's: the file is no ES
// module and does not declare either name itself.

import { assignmentChain, isModuleExports } from './js-assignment-chain.ts';
import { type AstNode, child, children, isNode, memberPath, unwrap } from './js-ast.ts';
import { patternIdentifiers } from './js-scope.ts';
import { importSyntaxKind } from './workspace-packages.ts';

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

export const COMMONJS_NAMES: ReadonlySet<string> = new Set(['module', 'exports']);

/** The names a top-level statement declares that emit code; `declare` (ambient) declarations emit none. */
export function runtimeNames(statement: AstNode): string[] {
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

// Nodes whose inside is not the file's top level (functions, classes), or no code (types).
const NOT_TOP_LEVEL: ReadonlySet<string> = new Set([
  'FunctionDeclaration',
  'FunctionExpression',
  'ArrowFunctionExpression',
  'ClassBody',
  'TSTypeAnnotation',
  'TSTypeParameterInstantiation',
  'TSTypeParameterDeclaration',
  'TSInterfaceDeclaration',
  'TSTypeAliasDeclaration',
  'TSModuleDeclaration',
  'TSDeclareFunction',
]);

/**
 * Whether the top level of a file (outside functions and classes) reads `require`, `module` or
 * `exports` without declaring that name there, or returns (a `return` there is a SyntaxError in a
 * browser script, allowed in Node's module wrapper): code that runs only as a Node module (a
 * browser script has none of them). One walk over the top-level code.
 */
export function showsNodeModule(program: AstNode): boolean {
  const read = new Set<string>();
  const declared = new Set<string>();
  const pending: AstNode[] = [program];
  while (pending.length > 0) {
    const node = pending.pop() as AstNode;
    if (NOT_TOP_LEVEL.has(node.type)) {
      const id = node.type === 'FunctionDeclaration' ? child(node, 'id') : undefined;
      if (id?.type === 'Identifier') declared.add(id.name as string);
      continue;
    }
    if (node.type === 'ReturnStatement') return true;
    if (node.type === 'Identifier') {
      if (node.name === 'require' || COMMONJS_NAMES.has(node.name as string)) read.add(node.name as string);
      continue;
    }
    if (node.type === 'VariableDeclarator' || node.type === 'CatchClause' || node.type === 'ClassDeclaration') {
      const id = child(node, node.type === 'CatchClause' ? 'param' : 'id');
      for (const name of patternIdentifiers(id, [])) declared.add(name.name as string);
    } else if (node.type === 'ImportDeclaration') {
      for (const name of runtimeNames(node)) declared.add(name);
      continue;
    }
    for (const [key, value] of Object.entries(node)) {
      // Names that are no reads: a declared pattern (above), a property or member name, a label.
      if (key === 'id' || key === 'param' || key === 'label') continue;
      // Not the tree: ESLint's nodes point to their `parent`, its Program holds `tokens` and `comments`.
      if (key === 'parent' || key === 'tokens' || key === 'comments') continue;
      if ((key === 'property' || key === 'key') && node.computed !== true) continue;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) if (isNode(value[i])) pending.push(value[i] as AstNode);
      } else if (isNode(value)) pending.push(value);
    }
  }
  for (const name of read) if (!declared.has(name)) return true;
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
 * babel-jest); a `.cjs`/`.cts` file is CommonJS whatever it imports; with `packageType` (the
 * `type` of the file's package.json, when known) `"module"`, a `.js`/`.jsx`/`.ts`/`.tsx` file is an
 * ES module, as Node loads it), and not declared at
 * module scope by `let`, `const`, a class, an enum, a namespace or an import (a SyntaxError in a
 * CommonJS module). Ambient (`declare`) declarations emit no code and do not count. A module-scope
 * `var` or function of either name reuses Node's binding: `commonJsExports` (js-module-exports.ts) follows it.
 */
export function isCommonJsScope(program: AstNode, file: string, packageType?: unknown): boolean {
  // As its import declarations load (importSyntaxKind): 'either' is a .js/.jsx/.ts/.tsx file
  // outside a `"type": "module"` package (`file` is one of JS_EXTENSIONS).
  const kind = importSyntaxKind(file, packageType);
  if (kind === 'import') return false;
  if (
    kind === 'either' &&
    children(program, 'body').some((s) => ESM_STATEMENTS.has(s.type) && !isTypeOnly(s)) &&
    !writesCommonJsExports(program)
  ) {
    return false;
  }
  return !redeclaresCommonJsNames(program);
}
