// Helpers that wrap an env read, in the file itself or imported from another file of the project:
// `read('JWT_SECRET') || '…'` and `env('JWT_SECRET', '…')` are env fallbacks like
// `process.env.JWT_SECRET || '…'`.
import {
  type AstNode,
  child,
  children,
  isEnvObject,
  isShadowed,
  moduleBindings,
  type ParsedModule,
  propertyKeyName,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import type { ImportResolver } from '../rule.ts';

/**
 * `read`: `(name) => process.env[name]`; its fallback is written at the call site (`read('X') || '…'`).
 * `default`: `(name, fallback) => process.env[name] ?? fallback` (or `||`); the second argument of
 * a call is the fallback (`env('X', '…')`).
 */
export type GetterKind = 'read' | 'default';

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

/** What a function hands back, when it is one expression: an arrow's body or a last `return`. */
function returned(fn: AstNode): AstNode | undefined {
  const body = child(fn, 'body');
  if (body?.type !== 'BlockStatement') return body;
  const last = children(body, 'body').at(-1);
  return last?.type === 'ReturnStatement' ? child(last, 'argument') : undefined;
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
  if (name === undefined) return undefined;
  const result = unwrap(returned(fn));
  if (readsEnvByParam(result, name)) return 'read';
  const fallback = paramName(params[1]);
  if (
    fallback !== undefined &&
    result?.type === 'LogicalExpression' &&
    (result.operator === '||' || result.operator === '??') &&
    readsEnvByParam(child(result, 'left'), name)
  ) {
    const right = unwrap(child(result, 'right'));
    if (right?.type === 'Identifier' && right.name === fallback) return 'default';
  }
  return undefined;
}

/** Module-scope getters: `const read = (name) => process.env[name]`, `function env(key, fallback) {…}`. */
function localGetters(program: AstNode): Map<string, GetterKind> {
  const out = new Map<string, GetterKind>();
  for (const binding of moduleBindings(program)) {
    if (binding.kind !== 'const' && binding.kind !== 'function') continue;
    const kind = envGetterKind(unwrap(binding.init));
    if (kind !== undefined) out.set(binding.name, kind);
  }
  return out;
}

const isRelative = (specifier: unknown): specifier is string =>
  typeof specifier === 'string' && (specifier.startsWith('./') || specifier.startsWith('../'));

function exportedName(node: AstNode | undefined): string | undefined {
  if (node?.type === 'Identifier') return node.name as string;
  return stringValue(node);
}

/** `require('./x')` → './x' */
function requiredSpecifier(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (n?.type !== 'CallExpression') return undefined;
  const callee = unwrap(child(n, 'callee'));
  if (callee?.type !== 'Identifier' || callee.name !== 'require') return undefined;
  const specifier = stringValue(children(n, 'arguments')[0]);
  return isRelative(specifier) ? specifier : undefined;
}

/** How deep re-exports (`export … from`) are followed: a barrel of a barrel of the config module. */
const MAX_REEXPORT_DEPTH = 4;

/**
 * The env getters another module exports, by exported name: `export const env = …`,
 * `export { read as env }`, `export default function (name) {…}`, `module.exports = { env }`,
 * `exports.env = env`, and re-exports from relative paths (`export { env } from './env'`,
 * `export * from './env'`), followed {@link MAX_REEXPORT_DEPTH} files deep.
 */
function exportedGetters(
  file: string,
  module: ParsedModule,
  resolve: ImportResolver,
  depth: number,
  cache: Map<ParsedModule, Map<string, GetterKind>>,
): Map<string, GetterKind> {
  const cached = cache.get(module);
  if (cached) return cached;
  const out = new Map<string, GetterKind>();
  cache.set(module, out); // a cycle of re-exports ends here
  const local = localGetters(module.program);
  const from = (specifier: unknown): Map<string, GetterKind> | undefined => {
    if (!isRelative(specifier) || depth >= MAX_REEXPORT_DEPTH) return undefined;
    const target = resolve(file, specifier);
    return target && exportedGetters(target.file, target.module, resolve, depth + 1, cache);
  };
  const exportLocal = (exported: string | undefined, value: AstNode | undefined): void => {
    const n = unwrap(value);
    if (exported === undefined || n === undefined) return;
    const kind = n.type === 'Identifier' ? local.get(n.name as string) : envGetterKind(n);
    if (kind !== undefined) out.set(exported, kind);
  };
  for (const statement of children(module.program, 'body')) {
    if (statement.type === 'ExportNamedDeclaration') {
      const declaration = child(statement, 'declaration');
      if (declaration?.type === 'FunctionDeclaration') {
        exportLocal(exportedName(child(declaration, 'id')), child(declaration, 'id'));
      } else if (declaration?.type === 'VariableDeclaration') {
        for (const declarator of children(declaration, 'declarations')) {
          exportLocal(exportedName(child(declarator, 'id')), child(declarator, 'id'));
        }
      }
      const source = child(statement, 'source');
      const reexported = source ? from(source.value) : undefined;
      for (const specifier of children(statement, 'specifiers')) {
        const exported = exportedName(child(specifier, 'exported'));
        const name = exportedName(child(specifier, 'local'));
        if (exported === undefined || name === undefined) continue;
        const kind = source ? reexported?.get(name) : local.get(name);
        if (kind !== undefined) out.set(exported, kind);
      }
    } else if (statement.type === 'ExportAllDeclaration' && child(statement, 'exported') === undefined) {
      for (const [name, kind] of from(child(statement, 'source')?.value) ?? []) {
        if (name !== 'default') out.set(name, kind);
      }
    } else if (statement.type === 'ExportDefaultDeclaration') {
      exportLocal('default', child(statement, 'declaration'));
    } else if (statement.type === 'ExpressionStatement') {
      // module.exports = { env, read: getter }; exports.env = env; module.exports.env = env
      const expression = unwrap(child(statement, 'expression'));
      if (expression?.type !== 'AssignmentExpression' || expression.operator !== '=') continue;
      const target = unwrap(child(expression, 'left'));
      const value = unwrap(child(expression, 'right'));
      const path = target?.type === 'MemberExpression' ? memberNames(target) : undefined;
      if (path?.join('.') === 'module.exports' && value?.type === 'ObjectExpression') {
        for (const prop of children(value, 'properties')) {
          if (prop.type === 'Property') exportLocal(propertyKeyName(prop), child(prop, 'value'));
        }
      } else if (path && path.length === 2 && path[0] === 'exports') {
        exportLocal(path[1], value);
      } else if (path && path.length === 3 && path[0] === 'module' && path[1] === 'exports') {
        exportLocal(path[2], value);
      }
    }
  }
  return out;
}

/** `a.b.c` as ['a', 'b', 'c'] for non-computed member chains. */
function memberNames(node: AstNode): string[] | undefined {
  const n = unwrap(node);
  if (n?.type === 'Identifier') return [n.name as string];
  if (n?.type !== 'MemberExpression' || n.computed === true) return undefined;
  const object = memberNames(child(n, 'object') as AstNode);
  const property = child(n, 'property');
  return object && property?.type === 'Identifier' ? [...object, property.name as string] : undefined;
}

/** The getters a file can call: its own, and those it imports from other files of the project. */
export class EnvGetters {
  readonly #local: Map<string, GetterKind>;
  /** Local name → where it comes from and under which exported name (`*` for a namespace). */
  readonly #imported = new Map<string, { readonly specifier: string; readonly name: string }>();
  readonly #file: string;
  readonly #resolve: ImportResolver | undefined;
  readonly #parentOf: ReadonlyMap<AstNode, AstNode>;
  readonly #exports = new Map<string, Map<string, GetterKind> | undefined>();
  readonly #cache = new Map<ParsedModule, Map<string, GetterKind>>();

  constructor(file: string, module: ParsedModule, resolve: ImportResolver | undefined) {
    this.#file = file;
    this.#resolve = resolve;
    this.#parentOf = module.parentOf;
    this.#local = localGetters(module.program);
    if (resolve === undefined) return;
    for (const statement of children(module.program, 'body')) {
      if (statement.type === 'ImportDeclaration' && isRelative(child(statement, 'source')?.value)) {
        if (statement.importKind === 'type') continue;
        const specifier = child(statement, 'source')?.value as string;
        for (const s of children(statement, 'specifiers')) {
          const localName = exportedName(child(s, 'local'));
          if (localName === undefined) continue;
          const name =
            s.type === 'ImportDefaultSpecifier'
              ? 'default'
              : s.type === 'ImportNamespaceSpecifier'
                ? '*'
                : exportedName(child(s, 'imported'));
          if (name !== undefined) this.#imported.set(localName, { specifier, name });
        }
      } else if (statement.type === 'VariableDeclaration') {
        // const { env, read: get } = require('./config')
        for (const declarator of children(statement, 'declarations')) {
          const specifier = requiredSpecifier(child(declarator, 'init'));
          const pattern = child(declarator, 'id');
          if (specifier === undefined) continue;
          if (pattern?.type === 'Identifier') {
            this.#imported.set(pattern.name as string, { specifier, name: '*' });
            continue;
          }
          if (pattern?.type !== 'ObjectPattern') continue;
          for (const prop of children(pattern, 'properties')) {
            const name = prop.type === 'Property' ? propertyKeyName(prop) : undefined;
            const localName = exportedName(child(prop, 'value'));
            if (name !== undefined && localName !== undefined) this.#imported.set(localName, { specifier, name });
          }
        }
      }
    }
  }

  /** Whether any call could be a getter (a fast path for files without any). */
  get any(): boolean {
    return this.#local.size > 0 || this.#imported.size > 0;
  }

  #exportsOf(specifier: string): Map<string, GetterKind> | undefined {
    if (this.#exports.has(specifier)) return this.#exports.get(specifier);
    const target = this.#resolve?.(this.#file, specifier);
    const found = target && exportedGetters(target.file, target.module, this.#resolve!, 0, this.#cache);
    this.#exports.set(specifier, found);
    return found;
  }

  /** The kind of getter a call's callee is (`read(…)`, `config.env(…)` on a namespace import), if any. */
  kindOf(callee: AstNode | undefined): GetterKind | undefined {
    const n = unwrap(callee);
    let localName: string | undefined;
    let member: string | undefined;
    if (n?.type === 'Identifier') localName = n.name as string;
    else if (n?.type === 'MemberExpression' && n.computed !== true) {
      const object = unwrap(child(n, 'object'));
      const property = child(n, 'property');
      if (object?.type !== 'Identifier' || property?.type !== 'Identifier') return undefined;
      localName = object.name as string;
      member = property.name as string;
    }
    if (localName === undefined || !this.any || isShadowed(n as AstNode, localName, this.#parentOf)) return undefined;
    if (member === undefined) {
      const own = this.#local.get(localName);
      if (own !== undefined) return own;
    }
    const imported = this.#imported.get(localName);
    if (imported === undefined) return undefined;
    if ((imported.name === '*') !== (member !== undefined)) return undefined;
    return this.#exportsOf(imported.specifier)?.get(member ?? imported.name);
  }
}
