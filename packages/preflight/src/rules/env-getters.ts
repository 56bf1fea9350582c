// Helpers that wrap an env read, in the file itself or imported from another file of the project:
// a call of such a helper with a literal fallback, written after it or passed as its second
// argument, is the same shortcut as a direct env read with one.
import {
  type AstNode,
  child,
  children,
  memberPropertyName,
  type ParsedModule,
  propertyKeyName,
  unwrap,
} from '../js-ast.ts';
import {
  exportedName,
  type ImportBinding,
  importBindings,
  moduleBindings,
  requiredModule,
} from '../js-module-bindings.ts';
import { commonJsExports } from '../js-module-exports.ts';
import { NodeRequire } from '../js-node-require.ts';
import { isShadowed } from '../js-scope.ts';
import type { ProjectLookup } from '../rule.ts';
import { type ImportKind, importSyntaxKind } from '../workspace-packages.ts';
import { envGetterKind, type GetterKind } from './env-getter-kind.ts';

/** Module-scope getters: `const read = (name) => process.env[name]`, `function env(key, fallback) {…}`. */
function localGetters(program: AstNode): Map<string, GetterKind> {
  const out = new Map<string, GetterKind>();
  // ModuleExports.unrun is not consulted: a function after the return is hoisted; a const's calls never run or throw.
  for (const binding of moduleBindings(program)) {
    if (binding.kind !== 'const' && binding.kind !== 'function') continue;
    const kind = envGetterKind(unwrap(binding.init));
    if (kind !== undefined) out.set(binding.name, kind);
  }
  return out;
}

/**
 * A specifier the project may hold: relative (`./env`, `..`) or a package name, which the lookup
 * finds among the scanned workspace packages (`@acme/config`). Node built-ins never are.
 */
const isModuleSpecifier = (specifier: unknown): specifier is string =>
  typeof specifier === 'string' && specifier !== '' && !specifier.startsWith('node:');

/** `require('./x')` → './x' (a module the project may hold). */
function requiredSpecifier(node: AstNode | undefined): string | undefined {
  const specifier = requiredModule(node);
  return isModuleSpecifier(specifier) ? specifier : undefined;
}

/** Where an imported local name comes from, and how its module is loaded. */
interface ImportedName extends ImportBinding {
  /** How the module is loaded: picks the `exports` condition of a package (see importSyntaxKind). */
  readonly kind: ImportKind | 'either';
}

/** How the `import` declarations of `file` load (see importSyntaxKind). */
const esmKind = (file: string, project: ProjectLookup): ImportKind | 'either' =>
  importSyntaxKind(file, project.packageManifest(file)?.type);

/** The module-scope names a file imports from modules the project may hold (see importBindings). */
function moduleImports(program: AstNode, esm: ImportKind | 'either'): Map<string, ImportedName> {
  const out = new Map<string, ImportedName>();
  for (const [local, binding] of importBindings(program)) {
    if (isModuleSpecifier(binding.specifier)) {
      out.set(local, { ...binding, kind: binding.viaRequire ? 'require' : esm });
    }
  }
  return out;
}

/**
 * Where one exported name of a module comes from: a getter of the module itself, a name of another
 * module, or another module as a whole (`export * as ns from`, `import * as ns` exported again).
 */
type ExportSource =
  | { readonly kind: GetterKind }
  | { readonly file: string; readonly name: string }
  | ExportedNamespace;

/**
 * A module exported as a whole. `required`: it is the value of a `require()` (CommonJS), which may
 * itself be a function (`module.exports = (name) => …`), so calling it calls its `default`.
 */
interface ExportedNamespace {
  readonly namespace: string;
  readonly required: boolean;
}

/** What an exported name finally is, for this rule: a getter, or a namespace whose members may be. */
type ExportTarget = { readonly kind: GetterKind } | ExportedNamespace;

/**
 * What a module exports, as far as getters go: its exported names with their sources (`null`: a
 * name that is no getter, which still hides the same name of an `export *`), and the
 * modules it re-exports whole (`export * from`, `module.exports = require(…)`), with or without
 * their `default`. Worked out once per file and scan, from the file alone.
 */
interface ExportTable {
  readonly names: Map<string, ExportSource | null>;
  readonly all: { readonly file: string; readonly withDefault: boolean }[];
}

const NO_EXPORTS: ExportTable = { names: new Map(), all: [] };

/**
 * Only a file that mentions `env`, re-exports, or may export (the word `export`, `exports` or
 * `this` anywhere: a plain search cannot tell a top-level `this`, the export object, from one in a
 * function) and imports something can export a getter; other files are not parsed for it. (Plain
 * searches: linear on any text.)
 */
function mayExportGetter(text: string): boolean {
  if (/\benv\b|\bexport\s*(?:\*|\{|default\b)|\bmodule\.exports\b/.test(text)) return true;
  const exports = /\bexport\b|\bexports\b|\bthis\b|\b__exportStar\b/.test(text);
  return exports && /\bfrom\s*['"\x60]|\brequire\s*\(/.test(text);
}

/**
 * The export table of `file`: `export const env = …`, `export { read as env }`, `export default
 * read`, `module.exports = { env }` (spreads of `require('./x')` included), `module.exports =
 * require('./x')`, `module.exports = (name) => …` (as `default`), `exports.env = env`, re-exports
 * (`export { env } from './env'`, `export * from './env'`) and names it imports and exports again.
 */
function exportTable(file: string, project: ProjectLookup): ExportTable {
  const key = `env-fallback-literal:exports:${file}`;
  const cached = project.cache.get(key) as ExportTable | undefined;
  if (cached) return cached;
  const text = project.read(file);
  const module = text !== undefined && mayExportGetter(text) ? project.parse(file) : undefined;
  const table: ExportTable = module === undefined ? NO_EXPORTS : { names: new Map(), all: [] };
  project.cache.set(key, table);
  if (module === undefined) return table;
  const local = localGetters(module.program);
  const esm = esmKind(file, project);
  const imports = moduleImports(module.program, esm);
  const target = (specifier: unknown, kind: ImportKind | 'either'): string | undefined =>
    isModuleSpecifier(specifier) ? project.resolveImport(file, specifier, kind) : undefined;
  /** Where a local name comes from: a getter of this module, or a name it imports. */
  const sourceOfName = (name: string): ExportSource | undefined => {
    const own = local.get(name);
    if (own !== undefined) return { kind: own };
    const imported = imports.get(name);
    const from = imported && target(imported.specifier, imported.kind);
    if (from === undefined) return undefined;
    if (imported!.name !== '*') return { file: from, name: imported!.name };
    return { namespace: from, required: imported!.viaRequire };
  };
  const exportValue = (exported: string | undefined, value: AstNode | undefined): void => {
    if (exported === undefined) return;
    // `exports.env = require('./env')`, `module.exports = { env: require('./env') }`
    const required = requiredSpecifier(value);
    if (required !== undefined) {
      const from = target(required, 'require');
      table.names.set(exported, from === undefined ? null : { namespace: from, required: true });
      return;
    }
    const n = unwrap(value);
    if (n?.type === 'MemberExpression') {
      // `exports.read = read_1.read` (TypeScript's re-export) where `read_1` is a required or
      // namespace-imported module: that module's export.
      const object = unwrap(child(n, 'object'));
      const whole = object?.type === 'Identifier' ? sourceOfName(object.name as string) : undefined;
      const member = memberPropertyName(n);
      const from = whole !== undefined && 'namespace' in whole ? whole.namespace : undefined;
      table.names.set(exported, from !== undefined && member !== undefined ? { file: from, name: member } : null);
      return;
    }
    const kind = n === undefined || n.type === 'Identifier' ? undefined : envGetterKind(n);
    const source = n?.type === 'Identifier' ? sourceOfName(n.name as string) : kind && { kind };
    table.names.set(exported, source ?? null);
  };
  const exportAll = (specifier: unknown, withDefault: boolean, kind: ImportKind | 'either'): void => {
    const from = target(specifier, kind);
    if (from !== undefined) table.all.push({ file: from, withDefault });
  };
  /** One `module.exports = value` (`name` undefined) or `exports.x = value`. */
  const exportAssignment = (name: string | undefined, value: AstNode): void => {
    if (name !== undefined) exportValue(name, value);
    else {
      const required = requiredSpecifier(value);
      if (required !== undefined) exportAll(required, true, 'require');
      else if (value.type === 'ObjectExpression') {
        for (const prop of children(value, 'properties')) {
          if (prop.type === 'Property') exportValue(propertyKeyName(prop), child(prop, 'value'));
          else if (prop.type === 'SpreadElement') {
            // A spread copies every own enumerable property, `default` included, as Object.assign does.
            const spread = requiredSpecifier(child(prop, 'argument'));
            if (spread !== undefined) exportAll(spread, true, 'require');
          }
        }
      } else if (value.type === 'Identifier' && imports.get(value.name as string)?.name === '*') {
        // `const env = require('./env'); module.exports = env;`: as `module.exports = require('./env')`.
        const whole = imports.get(value.name as string)!;
        exportAll(whole.specifier, true, whole.kind);
      } else exportValue('default', value);
    }
  };
  for (const statement of children(module.program, 'body')) {
    if (statement.type === 'ExportNamedDeclaration') {
      const declaration = child(statement, 'declaration');
      if (declaration?.type === 'FunctionDeclaration') {
        exportValue(exportedName(child(declaration, 'id')), declaration);
      }
      // `export const env = (name) => …`, `export const get = read` (read imported), `export let x`
      for (const declarator of children(declaration ?? statement, 'declarations')) {
        exportValue(exportedName(child(declarator, 'id')), child(declarator, 'init'));
      }
      const from = child(statement, 'source') ? target(child(statement, 'source')?.value, esm) : undefined;
      const reexports = child(statement, 'source') !== undefined;
      for (const specifier of children(statement, 'specifiers')) {
        const exported = exportedName(child(specifier, 'exported'));
        const name = exportedName(child(specifier, 'local'));
        if (exported === undefined || name === undefined) continue;
        // `export type { x }`, `export { type x }`: no value to call.
        const typeOnly = statement.exportKind === 'type' || specifier.exportKind === 'type';
        const source = reexports ? (from === undefined ? undefined : { file: from, name }) : sourceOfName(name);
        table.names.set(exported, typeOnly ? null : (source ?? null));
      }
    } else if (statement.type === 'ExportAllDeclaration') {
      const exported = child(statement, 'exported');
      if (exported === undefined) exportAll(child(statement, 'source')?.value, false, esm);
      else {
        // `export * as ns from './env'`: `ns` is that module as a whole.
        const name = exportedName(exported);
        const from = target(child(statement, 'source')?.value, esm);
        const typeOnly = statement.exportKind === 'type';
        if (name !== undefined) {
          table.names.set(name, from === undefined || typeOnly ? null : { namespace: from, required: false });
        }
      }
    } else if (statement.type === 'ExportDefaultDeclaration') {
      exportValue('default', child(statement, 'declaration'));
    }
  }
  // `module.exports = …`, `exports.x = …`, in chains, declarations and through an alias of the
  // export object, as commonJsExports reads them (nothing in an ES module).
  const exported = commonJsExports(module.program, file, project);
  for (const { name, value, reexportsAll, withDefault } of exported) {
    // `__exportStar(require('./read'), exports)`: as `export * from './read'`; Object.assign also copies `default`.
    if (reexportsAll) exportAll(requiredSpecifier(value), withDefault === true, 'require');
    else exportAssignment(name, value);
  }
  return table;
}

/**
 * What `name` of `file` is, if it is a getter or a module namespace: a search over the export
 * tables of the project, each (file, name) visited once, so cycles end, any chain length works and
 * the answer does not depend on the order of statements or of files. Answers are kept for the scan.
 */
function exportTarget(file: string, name: string, project: ProjectLookup): ExportTarget | undefined {
  const key = `env-fallback-literal:export:${file}\0${name}`;
  if (project.cache.has(key)) return project.cache.get(key) as ExportTarget | undefined;
  const seen = new Set<string>();
  const stack: [string, string][] = [[file, name]];
  let found: ExportTarget | undefined;
  // An ambiguous `export *` name (invalid, but seen) that is a getter one way and a namespace
  // another: the getter wins, and of namespaces the first by path, whatever the search order.
  let namespace: ExportedNamespace | undefined;
  while (stack.length > 0 && found === undefined) {
    const [f, n] = stack.pop()!;
    const id = `${f}\0${n}`;
    if (seen.has(id)) continue;
    seen.add(id);
    const table = exportTable(f, project);
    const source = table.names.get(n);
    if (source !== undefined) {
      // A name the module exports itself hides the same name of an `export *`, getter or not.
      if (source === null) continue;
      if ('file' in source) stack.push([source.file, source.name]);
      else if ('kind' in source) found = source;
      else if (namespace === undefined || source.namespace < namespace.namespace) namespace = source;
      continue;
    }
    for (const all of table.all) if (all.withDefault || n !== 'default') stack.push([all.file, n]);
  }
  found ??= namespace;
  project.cache.set(key, found);
  return found;
}

/** The kind of getter `name` of `file` is, if any (see {@link exportTarget}). */
function exportedGetter(file: string, name: string, project: ProjectLookup): GetterKind | undefined {
  const found = exportTarget(file, name, project);
  return found !== undefined && 'kind' in found ? found.kind : undefined;
}

/** The getters a file can call: its own, and those it imports from other files of the project. */
export class EnvGetters {
  readonly #local: Map<string, GetterKind>;
  readonly #imported: Map<string, ImportedName>;
  readonly #file: string;
  readonly #project: ProjectLookup | undefined;
  readonly #parentOf: ReadonlyMap<AstNode, AstNode>;
  /** Whether the file loads a module of the project where it uses it (`require('./env').read(…)`). */
  readonly #loadsInline: boolean;
  readonly #nodeRequire: NodeRequire;

  constructor(file: string, module: ParsedModule, project: ProjectLookup | undefined) {
    this.#file = file;
    this.#project = project;
    this.#parentOf = module.parentOf;
    this.#nodeRequire = new NodeRequire(module);
    this.#local = localGetters(module.program);
    this.#imported = project === undefined ? new Map() : moduleImports(module.program, esmKind(file, project));
    this.#loadsInline =
      project !== undefined &&
      module.nodes.some(
        (n) =>
          (n.type === 'CallExpression' && requiredSpecifier(n) !== undefined) ||
          (n.type === 'ImportExpression' && isModuleSpecifier(child(n, 'source')?.value)),
      );
  }

  /** Whether any call could be a getter (a fast path for files without any). */
  get any(): boolean {
    return this.#local.size > 0 || this.#imported.size > 0 || this.#loadsInline;
  }

  /**
   * The module a callee's object loads where it is used: `require('./env')` through Node's `require`
   * (see {@link NodeRequire}; not another function of that name), `await import('./env')`.
   */
  #loaded(node: AstNode | undefined): { specifier: string; kind: ImportKind } | undefined {
    const n = unwrap(node);
    if (n?.type === 'CallExpression') {
      const specifier = requiredSpecifier(n);
      const callee = child(n, 'callee') as AstNode;
      return specifier !== undefined && this.#nodeRequire.is(callee) ? { specifier, kind: 'require' } : undefined;
    }
    const imported = n?.type === 'AwaitExpression' ? unwrap(child(n, 'argument')) : undefined;
    const specifier = imported?.type === 'ImportExpression' ? child(imported, 'source')?.value : undefined;
    return isModuleSpecifier(specifier) ? { specifier, kind: 'import' } : undefined;
  }

  /**
   * `require('./env')('X')`, `require('./env').read('X')`, `(await import('./env')).read('X')`:
   * the getter an export of a module loaded in place is (a namespace from `import()` is no function).
   */
  #inlineKind(callee: AstNode): GetterKind | undefined {
    const project = this.#project;
    if (project === undefined || !this.#loadsInline) return undefined;
    const n = unwrap(callee);
    let member: string | undefined;
    let object = n;
    if (n?.type === 'MemberExpression' && n.computed !== true) {
      const property = child(n, 'property');
      if (property?.type !== 'Identifier') return undefined;
      member = property.name as string;
      object = child(n, 'object');
    }
    const loaded = this.#loaded(object);
    if (loaded === undefined || (loaded.kind === 'import' && member === undefined)) return undefined;
    const target = project.resolveImport(this.#file, loaded.specifier, loaded.kind);
    return target === undefined ? undefined : exportedGetter(target, member ?? 'default', project);
  }

  /**
   * The kind of getter a call's callee is, if any: `read(…)`, `config.read(…)` on a namespace
   * import or required module, `env(…)` for a required module that is itself the getter, and the
   * same on a module loaded in place (`require('./env').read(…)`).
   */
  kindOf(callee: AstNode | undefined): GetterKind | undefined {
    const n = unwrap(callee);
    let localName: string | undefined;
    let member: string | undefined;
    if (n?.type === 'Identifier') localName = n.name as string;
    else if (n?.type === 'CallExpression') return this.#inlineKind(n);
    else if (n?.type === 'MemberExpression' && n.computed !== true) {
      const object = unwrap(child(n, 'object'));
      const property = child(n, 'property');
      if (object?.type !== 'Identifier') return property?.type === 'Identifier' ? this.#inlineKind(n) : undefined;
      if (property?.type !== 'Identifier') return undefined;
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
    const project = this.#project;
    const target = project?.resolveImport(this.#file, imported.specifier, imported.kind);
    if (project === undefined || target === undefined) return undefined;
    if (imported.name === '*') return exportedGetter(target, member ?? 'default', project);
    // `ns.read(…)` where `ns` is a module exported whole (`export * as ns from './env'`), or `fn(…)`
    // where it is a required module that is itself the getter; a member of any other named import
    // (`logger.info(…)`) is no getter this rule knows.
    const found = exportTarget(target, imported.name, project);
    if (found === undefined) return undefined;
    if ('kind' in found) return member === undefined ? found.kind : undefined;
    if (member !== undefined) return exportedGetter(found.namespace, member, project);
    return found.required ? exportedGetter(found.namespace, 'default', project) : undefined;
  }
}
