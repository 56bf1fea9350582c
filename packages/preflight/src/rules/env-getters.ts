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
import type { ProjectLookup } from '../rule.ts';

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
  typeof specifier === 'string' &&
  (specifier === '.' || specifier === '..' || specifier.startsWith('./') || specifier.startsWith('../'));

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

/** Where an imported local name comes from: a relative specifier and the exported name (`*`: the module). */
interface ImportedName {
  readonly specifier: string;
  readonly name: string;
}

/**
 * The module-scope names a file imports from relative paths: `import { a as b }`, `import d`,
 * `import * as ns`, `const { a: b } = require('./x')`, `const ns = require('./x')`. Type-only
 * imports are left out.
 */
function relativeImports(program: AstNode): Map<string, ImportedName> {
  const out = new Map<string, ImportedName>();
  for (const statement of children(program, 'body')) {
    if (statement.type === 'ImportDeclaration') {
      const specifier = child(statement, 'source')?.value;
      if (!isRelative(specifier) || statement.importKind === 'type') continue;
      for (const s of children(statement, 'specifiers')) {
        const local = exportedName(child(s, 'local'));
        const name =
          s.type === 'ImportDefaultSpecifier'
            ? 'default'
            : s.type === 'ImportNamespaceSpecifier'
              ? '*'
              : exportedName(child(s, 'imported'));
        if (local !== undefined && name !== undefined && s.importKind !== 'type') out.set(local, { specifier, name });
      }
    } else if (statement.type === 'VariableDeclaration') {
      for (const declarator of children(statement, 'declarations')) {
        const specifier = requiredSpecifier(child(declarator, 'init'));
        const pattern = child(declarator, 'id');
        if (specifier === undefined) continue;
        if (pattern?.type === 'Identifier') out.set(pattern.name as string, { specifier, name: '*' });
        if (pattern?.type !== 'ObjectPattern') continue;
        for (const prop of children(pattern, 'properties')) {
          const name = prop.type === 'Property' ? propertyKeyName(prop) : undefined;
          const local = exportedName(child(prop, 'value'));
          if (name !== undefined && local !== undefined) out.set(local, { specifier, name });
        }
      }
    }
  }
  return out;
}

/** `a.b.c` as ['a', 'b', 'c'] for non-computed member chains. */
function memberNames(node: AstNode | undefined): string[] | undefined {
  const n = unwrap(node);
  if (n?.type === 'Identifier') return [n.name as string];
  if (n?.type !== 'MemberExpression' || n.computed === true) return undefined;
  const object = memberNames(child(n, 'object'));
  const property = child(n, 'property');
  return object && property?.type === 'Identifier' ? [...object, property.name as string] : undefined;
}

/**
 * How many files deep imports and re-exports are followed (barrels of barrels of the config
 * module); only a bound for the stack, far beyond real layouts.
 */
const MAX_DEPTH = 32;

/** The getters a module exports, by exported name; `complete` is false when a cycle or the depth cut it short. */
interface ModuleExports {
  readonly getters: Map<string, GetterKind>;
  readonly complete: boolean;
}

/** Where complete results live in the scan's cache: a barrel a thousand files import is read once. */
const cacheKey = (file: string): string => `env-fallback-literal:exports:${file}`;

/** Only a file that mentions `env`, or exports something it may have imported, can export a getter. */
const MAY_EXPORT_GETTER = /\benv\b|\bexport\b[^;]*\bfrom\b|\bexport\s*(?:\{|default\b)|\bmodule\.exports\b/;

/**
 * The state of one lookup: files on the current path, and results a cycle cut short, which are
 * kept for this lookup only, so each lookup starts afresh and the scan order changes nothing.
 */
interface Walk {
  readonly visiting: Set<string>;
  readonly seen: Map<string, ModuleExports>;
}

/**
 * The env getters a module exports: `export const env = …`, `export { read as env }`,
 * `export default read`, `module.exports = { env }` (spreads of `require('./x')` included),
 * `module.exports = require('./x')`, `module.exports = (name) => …` (as `default`),
 * `exports.env = env`, re-exports (`export { env } from './env'`, `export * from './env'`) and
 * names the module imports and exports again, followed {@link MAX_DEPTH} files deep.
 */
function exportedGetters(file: string, project: ProjectLookup, depth: number, walk: Walk): ModuleExports {
  const cached = project.cache.get(cacheKey(file)) as Map<string, GetterKind> | undefined;
  if (cached) return { getters: cached, complete: true };
  const seen = walk.seen.get(file);
  if (seen) return seen;
  if (walk.visiting.has(file) || depth > MAX_DEPTH) return { getters: new Map(), complete: false };
  const out = new Map<string, GetterKind>();
  const text = project.read(file);
  const module = text !== undefined && MAY_EXPORT_GETTER.test(text) ? project.parse(file) : undefined;
  if (module === undefined) {
    project.cache.set(cacheKey(file), out);
    return { getters: out, complete: true };
  }
  walk.visiting.add(file);
  let complete = true;
  const local = localGetters(module.program);
  const imports = relativeImports(module.program);
  const from = (specifier: unknown): Map<string, GetterKind> | undefined => {
    if (!isRelative(specifier)) return undefined;
    const target = project.resolveImport(file, specifier);
    if (target === undefined) return undefined;
    const result = exportedGetters(target, project, depth + 1, walk);
    if (!result.complete) complete = false;
    return result.getters;
  };
  /** The kind of a local name: a getter of this module, or one it imports. */
  const kindOfName = (name: string): GetterKind | undefined => {
    const own = local.get(name);
    if (own !== undefined) return own;
    const imported = imports.get(name);
    return imported && imported.name !== '*' ? from(imported.specifier)?.get(imported.name) : undefined;
  };
  const exportValue = (exported: string | undefined, value: AstNode | undefined): void => {
    const n = unwrap(value);
    if (exported === undefined || n === undefined) return;
    const kind = n.type === 'Identifier' ? kindOfName(n.name as string) : envGetterKind(n);
    if (kind !== undefined) out.set(exported, kind);
  };
  const exportAll = (getters: Map<string, GetterKind> | undefined, withDefault: boolean): void => {
    for (const [name, kind] of getters ?? []) if (withDefault || name !== 'default') out.set(name, kind);
  };
  for (const statement of children(module.program, 'body')) {
    if (statement.type === 'ExportNamedDeclaration') {
      const declaration = child(statement, 'declaration');
      const ids =
        declaration?.type === 'FunctionDeclaration'
          ? [child(declaration, 'id')]
          : children(declaration ?? statement, 'declarations').map((d) => child(d, 'id'));
      for (const id of ids) exportValue(exportedName(id), id);
      const source = child(statement, 'source');
      const reexported = source ? from(source.value) : undefined;
      for (const specifier of children(statement, 'specifiers')) {
        const exported = exportedName(child(specifier, 'exported'));
        const name = exportedName(child(specifier, 'local'));
        if (exported === undefined || name === undefined) continue;
        const kind = source ? reexported?.get(name) : kindOfName(name);
        if (kind !== undefined) out.set(exported, kind);
      }
    } else if (statement.type === 'ExportAllDeclaration' && child(statement, 'exported') === undefined) {
      exportAll(from(child(statement, 'source')?.value), false);
    } else if (statement.type === 'ExportDefaultDeclaration') {
      exportValue('default', child(statement, 'declaration'));
    } else if (statement.type === 'ExpressionStatement') {
      const expression = unwrap(child(statement, 'expression'));
      if (expression?.type !== 'AssignmentExpression' || expression.operator !== '=') continue;
      const path = memberNames(child(expression, 'left'))?.join('.');
      const value = unwrap(child(expression, 'right'));
      if (path === 'module.exports') {
        const required = requiredSpecifier(value);
        if (required !== undefined) exportAll(from(required), true);
        else if (value?.type === 'ObjectExpression') {
          for (const prop of children(value, 'properties')) {
            if (prop.type === 'Property') exportValue(propertyKeyName(prop), child(prop, 'value'));
            else if (prop.type === 'SpreadElement') {
              const spread = requiredSpecifier(child(prop, 'argument'));
              if (spread !== undefined) exportAll(from(spread), false);
            }
          }
        } else exportValue('default', value);
      } else if (path?.startsWith('exports.') || path?.startsWith('module.exports.')) {
        exportValue(path.split('.').at(-1), value);
      }
    }
  }
  walk.visiting.delete(file);
  if (complete) project.cache.set(cacheKey(file), out);
  else walk.seen.set(file, { getters: out, complete });
  return { getters: out, complete };
}

/** The getters a file can call: its own, and those it imports from other files of the project. */
export class EnvGetters {
  readonly #local: Map<string, GetterKind>;
  readonly #imported: Map<string, ImportedName>;
  readonly #file: string;
  readonly #project: ProjectLookup | undefined;
  readonly #parentOf: ReadonlyMap<AstNode, AstNode>;
  readonly #exports = new Map<string, Map<string, GetterKind> | undefined>();

  constructor(file: string, module: ParsedModule, project: ProjectLookup | undefined) {
    this.#file = file;
    this.#project = project;
    this.#parentOf = module.parentOf;
    this.#local = localGetters(module.program);
    this.#imported = project === undefined ? new Map() : relativeImports(module.program);
  }

  /** Whether any call could be a getter (a fast path for files without any). */
  get any(): boolean {
    return this.#local.size > 0 || this.#imported.size > 0;
  }

  #exportsOf(specifier: string): Map<string, GetterKind> | undefined {
    if (this.#exports.has(specifier)) return this.#exports.get(specifier);
    const project = this.#project;
    const target = project?.resolveImport(this.#file, specifier);
    const found =
      target === undefined || project === undefined
        ? undefined
        : exportedGetters(target, project, 1, { visiting: new Set(), seen: new Map() }).getters;
    this.#exports.set(specifier, found);
    return found;
  }

  /**
   * The kind of getter a call's callee is, if any: `read(…)`, `config.read(…)` on a namespace
   * import or required module, `env(…)` for a required module that is itself the getter.
   */
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
    // A member of a named import (`logger.info(…)`) is no getter this rule knows: nothing to read.
    if (imported === undefined || (imported.name !== '*' && member !== undefined)) return undefined;
    return this.#exportsOf(imported.specifier)?.get(imported.name === '*' ? (member ?? 'default') : imported.name);
  }
}
