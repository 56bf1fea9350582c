// What a module imports and binds at its top level.
import { type AstNode, child, children, propertyKeyName, stringValue, unwrap } from './js-ast.ts';

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

// Program node → its module bindings: four rules, and env getters read across files, ask for the
// same module's bindings, so each parsed module's are listed once and dropped with its tree.
const BINDINGS = new WeakMap<AstNode, readonly ModuleBinding[]>();

/**
 * Every module-scope binding of a plain name, exported ones included (destructuring is skipped).
 * Listed once per parsed module: callers share the array, so it is read-only.
 */
export function moduleBindings(program: AstNode): readonly ModuleBinding[] {
  let bindings = BINDINGS.get(program);
  if (bindings === undefined) {
    bindings = listModuleBindings(program);
    BINDINGS.set(program, bindings);
  }
  return bindings;
}

function listModuleBindings(program: AstNode): ModuleBinding[] {
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
