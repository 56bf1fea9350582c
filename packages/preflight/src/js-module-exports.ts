// What a module exports, however it says so: inline (`export function f`), by list, by default,
// by `export =`, or through CommonJS (`module.exports`, `exports.x`).
import { assignmentChain, linkWrites } from './js-assignment-chain.ts';
import { type AstNode, child, children, memberPath, propertyKeyName, stringValue, unwrap } from './js-ast.ts';
import {
  alwaysFalse,
  declaresLocally,
  exportNamesHint,
  exportStarArguments,
  isToCommonJs,
  nodeTakesThis,
  objectAssignArguments,
  objectCallArguments,
  propertyValue,
  resultOf,
  returnedBy,
} from './js-commonjs-forms.ts';
import { COMMONJS_NAMES, isCommonJsScope, runtimeNames, showsNodeModule } from './js-commonjs-scope.ts';
import { requiredModule } from './js-module-bindings.ts';
import { NameSet } from './js-name-set.ts';
import { patternIdentifiers } from './js-scope.ts';
import {
  asStatement,
  FACTORY_READS,
  type Factory,
  FunctionScope,
  parameterName,
  type Reading,
  topLevelFunctions,
  type UmdWrapper,
  umdWrapper,
} from './js-umd-wrapper.ts';
import type { ProjectLookup } from './rule.ts';
import { isCommonJsFile } from './workspace-packages.ts';

// Exports already made of nodes the module's readers follow (read in a UMD factory's scope).
const RESOLVED = new WeakSet<CommonJsExport>();

/** A module's exports: the module-scope names it exports and the values it exports in place. */
export interface ModuleExports {
  /** Local names exported: `export { a }`, `export default a`, `export = a`, `module.exports = { a }`, `exports.x = a`. */
  readonly names: ReadonlySet<string>;
  /** Functions and classes exported where they are written: `module.exports = function () {}`, `exports.get = () => …`. */
  readonly values: ReadonlySet<AstNode>;
  /**
   * Statements Node never runs, after a top-level `return` that always runs: a `var` or class
   * declared there gives its name no value (a function declaration is hoisted and still does).
   */
  readonly unrun: ReadonlySet<AstNode>;
}

const EXPORTS = new WeakMap<AstNode, ModuleExports>();

/**
 * Where the `type` of a file's package.json is looked up (a project scan's; without one, as in the
 * ESLint plugin, the type is unknown): asked only when a module is first listed.
 */
type Manifests = Pick<ProjectLookup, 'packageManifest'>;

/**
 * Listed once per parsed module (program node, of `file`, its package's `type` looked up in
 * `project` when known); callers share the sets. The cache is keyed by the program alone: the
 * first call's `file` and `project` decide, so every caller must pass the program's file.
 */
export function moduleExports(program: AstNode, file: string, project?: Manifests): ModuleExports {
  let exports = EXPORTS.get(program);
  if (exports === undefined) {
    exports = listModuleExports(program, file, project);
    EXPORTS.set(program, exports);
  }
  return exports;
}

/**
 * One value a CommonJS module exports: as the module itself (`name` undefined) or as a property;
 * or, with `reexportsAll`, every export but `default` of the module `value` loads
 * (`__exportStar(require('./x'), exports)`), `default` too with `withDefault`
 * (`Object.assign(exports, require('./x'))`, which copies every property).
 */
export interface CommonJsExport {
  readonly name: string | undefined;
  readonly value: AstNode;
  readonly reexportsAll?: true;
  readonly withDefault?: true;
}

/**
 * What {@link commonJsExports} lists of a program, cached together: its exports, and the statements
 * Node never runs, after a top-level `return` that always runs ({@link ModuleExports.unrun}).
 */
interface CommonJsListing {
  readonly exports: readonly CommonJsExport[];
  readonly unrun: ReadonlySet<AstNode>;
}

const COMMONJS = new WeakMap<AstNode, CommonJsListing>();
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
 * {} }`, `({ module } = ctx)`), `module.exports` is no export, while a name bound to Node's module
 * (`var m = module`) exports through `m.exports`, and `exports` destructured from it (`var { exports }
 * = module`, `const { exports: e } = module`) is an alias. Top-level `this` is the first export
 * object, like `exports` (and detached like it), in a file that shows it is a Node module: a
 * `.cjs`/`.cts` file, or one whose top level reads `require`, `module` or `exports` without
 * declaring it or returns (in a browser script `this` is the window). `Object.assign(module.exports, { read })` exports
 * each property of its literal objects, and every export of a required module, `default` included
 * (`Object.assign(exports, require('./x'))`); `module.exports = Object.assign({}, require('./x'),
 * { read })` exports what the new object holds. `Object.defineProperty(exports, 'x', { value | get })`
 * exports its value, esbuild's `0 && (module.exports = { x })` notes its names. Statements in a top-level `if`,
 * `else`, `try` or block may run: what they export counts; inside the block they run in order, and
 * after a branch or `try`/`catch` block they take nothing away (a `var module = …` shim behind
 * `typeof module === 'undefined'` changes nothing after it). A `return` outside any block that may
 * not run ends the reading: Node runs nothing after it, at the top level of the file as in a UMD
 * wrapper's or factory's body. Any `return` ends its own block, and its value is read where it
 * stands; what follows an `if` runs only after a branch that did not return. Nothing where {@link isCommonJsScope} says
 * `module`/`exports` are not CommonJS's (with `project`, where the `type` of the file's package.json
 * is looked up: nor in a `.js`/`.ts` file of a `"type": "module"` package). A UMD wrapper called at the top level
 * exports what its factory returns or writes on the export object there (see js-umd-wrapper.ts and
 * the README). Listed once per program, in one pass
 * over its statements; cached by the program alone, like {@link moduleExports}: callers pass the
 * program's `file` and the `project` it is scanned in.
 */
export function commonJsExports(program: AstNode, file: string, project?: Manifests): readonly CommonJsExport[] {
  return commonJsListing(program, file, project).exports;
}

/** The program's {@link CommonJsListing}, listed once (see {@link commonJsExports}). */
function commonJsListing(program: AstNode, file: string, project: Manifests | undefined): CommonJsListing {
  let listing = COMMONJS.get(program);
  if (listing === undefined) {
    const packageType = project?.packageManifest(file)?.type;
    // Each program its own empty listing: nothing a caller does to one reaches another's.
    listing = isCommonJsScope(program, file, packageType)
      ? listCommonJsExports(program, file)
      : { exports: [], unrun: new Set() };
    COMMONJS.set(program, listing);
  }
  return listing;
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

/**
 * A top-level statement to read, or where a block that may not run (a branch of an `if`, a `try` or
 * `catch` block) begins or ends; `exit-branch` ends a branch of an `if` with an `else`, and `join`
 * ends that `if`.
 */
type Pending = AstNode | 'enter' | 'exit' | 'exit-branch' | 'join';

function listCommonJsExports(program: AstNode, file: string): CommonJsListing {
  const unrun = new Set<AstNode>();
  // Whether the file is a Node module, whose top-level `this` is the export object: a walk of its
  // top-level code, made only when a statement reads `this` as the export object (most files never do).
  let nodeModule: boolean | undefined;
  const thisIsExports = (): boolean => (nodeModule ??= isCommonJsFile(file) || showsNodeModule(program));
  // `exports` and `this`, which is the export object at the top level of a CommonJS module (and
  // is never rebound); `module`, unless a top-level function of that name takes the binding.
  const exports = readCommonJs(
    program,
    [...(declaresFunction(program, 'exports') ? [] : ['exports']), 'this'],
    declaresFunction(program, 'module') ? [] : ['module'],
    { program, thisIsExports, unrun },
  );
  return { exports, unrun };
}

/**
 * Reads the statements of `body` (see {@link commonJsExports}), where `aliasSeeds` hold the export
 * object and `moduleSeeds` Node's module when they start.
 */
function readCommonJs(
  body: AstNode,
  aliasSeeds: readonly string[],
  moduleSeeds: readonly string[],
  reading: Reading,
): CommonJsExport[] {
  const out: CommonJsExport[] = [];
  const program = body;
  // Names that hold the export object (`module.exports` itself is read through `modules`).
  const aliases = new NameSet(aliasSeeds);
  // Names that hold Node's module: `module`, until a top-level `var module = {…}` or `module = …`
  // rebinds it, and names bound to it (`var m = module`).
  const modules = new NameSet(moduleSeeds);
  /** Whether the file is a Node module, whose top-level `this` is the export object. */
  const nodeModule = (): boolean => reading.thisIsExports?.() === true;
  /** Whether top-level `this` is the export object now: seeded, not yet detached, and the file a Node module. */
  const holdsThis = (): boolean => aliases.has('this') && nodeModule();
  /** Whether `name` held the export object when the statement started (`this` only in a Node module). */
  const heldExports = (name: string): boolean => aliases.had(name) && (name !== 'this' || nodeModule());
  const topLevelFunction = reading.program && topLevelFunctions(reading.program);
  // The names the file declares at its top level (`var self = …` makes `self` no browser global).
  let topLevelNames: Set<string> | undefined;
  const declared = (name: string): boolean => {
    topLevelNames ??= new Set(children(reading.program ?? program, 'body').flatMap(runtimeNames));
    return topLevelNames.has(name);
  };
  // One record per factory for the whole module: a factory passed by name to many wrappers is
  // scoped, and its body read, once, not once per wrapper.
  const factoryRecords = new WeakMap<AstNode, Factory>();
  // Whether `module.exports` was last given esbuild's `__toCommonJS(…)`.
  let toCommonJs = false;
  /** `x.exports` where `x` held Node's module when the statement started. */
  const isModuleExportsPath = (path: readonly string[] | undefined): boolean =>
    path?.length === 2 && path[1] === 'exports' && modules.had(path[0]!);
  /**
   * Whether a value may be what `holds` says of a name: the name itself, `a || b`, `a ??
   * b` (not `{…} || a`, which is always the literal), `typeof a … && a` (`&&` gives its right side
   * whenever `a` is defined), `test ? a : b`, `(0, a)`. An explicit stack, not one call per
   * operator: a long `a || b || …` is a tree as deep as it has operators.
   */
  const mayBe = (node: AstNode | undefined, holds: (n: AstNode) => boolean): boolean => {
    const pending = [node];
    while (pending.length > 0) {
      const n = resultOf(pending.pop());
      if (n?.type === 'Identifier') {
        if (holds(n)) return true;
      } else if (n?.type === 'LogicalExpression') {
        if (n.operator === '&&') pending.push(child(n, 'right'));
        else {
          // A literal object, array, function or class is truthy and not nullish: `||`/`??` is it.
          pending.push(child(n, 'left'));
          if (!ALWAYS_TRUTHY.has(resultOf(child(n, 'left'))?.type ?? '')) pending.push(child(n, 'right'));
        }
      } else if (n?.type === 'ConditionalExpression') {
        pending.push(child(n, 'consequent'), child(n, 'alternate'));
      }
    }
    return false;
  };
  /** Whether a value may be Node's module: `module` (or a name bound to it), `module || shim`, `typeof module … ? module : shim` ({@link mayBe}). */
  const mayBeModule = (node: AstNode | undefined): boolean =>
    mayBe(node, (n) => n.type === 'Identifier' && modules.had(n.name as string));
  /**
   * Whether a value is the export object: `module.exports`, an alias, `exports || {}`, or
   * `Object.assign(exports, …)` (which returns its target). Down the tree in a loop.
   */
  const isExportObject = (node: AstNode | undefined): boolean => {
    let n = resultOf(node);
    for (;;) {
      const assigned = objectAssignArguments(n);
      if (n?.type === 'LogicalExpression' && n.operator !== '&&') n = resultOf(child(n, 'left'));
      else if (assigned !== undefined) n = resultOf(assigned[0]);
      else break;
    }
    const path = memberPath(n);
    return isModuleExportsPath(path) || (path?.length === 1 && heldExports(path[0]!));
  };
  /**
   * What `Object.assign` copies onto the export object: each property of a literal object, and
   * every export of a required module (`default` too).
   */
  const copied = (sources: readonly AstNode[]): void => {
    for (const source of sources.map(unwrap)) {
      if (source?.type === 'ObjectExpression') properties(source);
      else if (source && requiredModule(source) !== undefined) {
        out.push({ name: undefined, value: source, reexportsAll: true, withDefault: true });
      }
    }
  };
  /** `Object.assign(exports, { read }, require('./x'), …)`: what it copies onto the export object. */
  const assignedProperties = (node: AstNode | undefined): void => {
    const args = objectAssignArguments(node);
    if (args !== undefined && isExportObject(args[0])) copied(args.slice(1));
  };
  /** Each property of an object literal, exported under its name (`{ read }`, `{ get read() { return r; } }`). */
  const properties = (object: AstNode): void => {
    for (const property of children(object, 'properties')) {
      const name = propertyKeyName(property);
      const value = property.type === 'Property' ? propertyValue(property) : undefined;
      if (name !== undefined && value !== undefined) out.push({ name, value });
    }
  };
  /**
   * `Object.defineProperty(exports, 'read', { value: read })`, or with a getter returning the value
   * (`get: function () { return read_1.read; }`, TypeScript's re-export): exports that value.
   */
  const definedProperty = (node: AstNode | undefined): void => {
    const [target, key, descriptor] = objectCallArguments(node, 'defineProperty') ?? [];
    const name = stringValue(key);
    const fields = unwrap(descriptor);
    if (name === undefined || fields?.type !== 'ObjectExpression' || !isExportObject(target)) return;
    for (const field of children(fields, 'properties')) {
      if (field.type !== 'Property') continue;
      const which = propertyKeyName(field);
      const value =
        which === 'value' ? child(field, 'value') : which === 'get' ? returnedBy(child(field, 'value')) : undefined;
      if (value !== undefined) out.push({ name, value });
    }
  };
  /** `__exportStar(require('./x'), exports)`: every export of `./x` but `default`, copied onto the export object. */
  const reexportedAll = (node: AstNode | undefined): void => {
    const [module, target] = exportStarArguments(node) ?? [];
    if (module !== undefined && isExportObject(target))
      out.push({ name: undefined, value: module, reexportsAll: true });
  };
  /** A name given a new value: it holds the export object or Node's module only if the value does. */
  const rebind = (name: string, handed: Handed): void => {
    aliases.set(name, handed.isExports);
    modules.set(name, handed.isModule);
  };
  /**
   * Every name a destructuring pattern writes is given a value that is neither (`({ module } =
   * ctx)`), but the `exports` of Node's module (`var { exports } = module`, `const { exports: e } =
   * module`) holds the export object.
   */
  const rebindPattern = (pattern: AstNode | undefined, from: Handed): void => {
    const none: Handed = { node: undefined, isExports: false, isModule: false };
    const exportObject: Handed = { node: undefined, isExports: true, isModule: false };
    const p = unwrap(pattern);
    // Every name the pattern gives Node's module's `exports` (`{ exports: e, exports: f }`), with a
    // default or not (`{ exports = {} }`: module.exports is always an object, the default never applies).
    const fromModule = new Set<AstNode | undefined>();
    if (from.isModule && p?.type === 'ObjectPattern') {
      for (const property of children(p, 'properties')) {
        if (property.type !== 'Property' || propertyKeyName(property) !== 'exports') continue;
        const value = unwrap(child(property, 'value'));
        fromModule.add(value?.type === 'AssignmentPattern' ? unwrap(child(value, 'left')) : value);
      }
    }
    for (const id of patternIdentifiers(pattern, [])) {
      rebind(id.name as string, fromModule.has(id) ? exportObject : none);
    }
  };
  /** The wrapper's factory a call calls (`factory(exports)`), in a UMD wrapper's body. */
  const calledFactory = (node: AstNode | undefined): Factory | undefined => {
    const callee = node?.type === 'CallExpression' ? unwrap(child(node, 'callee')) : undefined;
    return callee?.type === 'Identifier' ? reading.factories?.get(callee.name as string) : undefined;
  };
  /** Exports read in a factory's scope, in order with the others. */
  const pushResolved = (entries: readonly CommonJsExport[]): void => {
    for (const entry of entries) {
      RESOLVED.add(entry);
      out.push(entry);
    }
  };
  /**
   * A call of a factory runs its body: its parameters given the export object (`factory(exports)`)
   * or Node's module hold them there, as do `exports` and `module` where it declares neither. The
   * body is read once per kind of call: what it is handed those in, and what its other arguments
   * give (`require('./a')` or `require('./b')`, which function); a call like one read (each
   * wrapper of many sharing the factory) writes the same exports again. Past
   * {@link FACTORY_READS} kinds of call, a call of another kind is not read.
   */
  const callFactory = (call: AstNode, factory: Factory): void => {
    const body = child(factory.scope.fn, 'body');
    if (body?.type !== 'BlockStatement') return;
    const args = children(call, 'arguments');
    const aliasSeeds: string[] = [];
    const moduleSeeds: string[] = [];
    // Only the parameters given an argument before any spread one (`factory(...list, exports)`
    // hands the export object to a parameter only the list's length tells).
    const positional = factory.scope.positional(args);
    for (let i = 0; i < positional; i++) {
      const arg = args[i]!;
      // `function (exports = {})` given the export object: the default never applies.
      const name = parameterName(factory.scope.params[i]);
      if (name === undefined) continue;
      if (isExportObject(arg)) aliasSeeds.push(name);
      if (mayBeModule(arg)) moduleSeeds.push(name);
    }
    if (!factory.scope.declaresOwn('exports') && aliases.has('exports')) aliasSeeds.push('exports');
    if (!factory.scope.declaresOwn('module') && modules.has('module')) moduleSeeds.push('module');
    const key = `${aliasSeeds.join(',')}|${moduleSeeds.join(',')}|${factory.scope.signature(args)}`;
    if (factory.read.has(key) || factory.read.size >= FACTORY_READS) return;
    factory.read.add(key);
    for (const entry of readCommonJs(body, aliasSeeds, moduleSeeds, {})) {
      pushResolved(factory.scope.entries(entry, args, call));
    }
  };
  /**
   * What `module.exports = v` exports: `v`, or what a factory `v` calls returns (`module.exports =
   * factory(require('b'))`), once per factory and call signature (a later call with other
   * arguments exports what it returns for those: Node keeps the last write). Past
   * {@link FACTORY_READS} signatures, a call of another one exports the call, a value of unknown kind.
   */
  const exportWhole = (node: AstNode): void => {
    const factory = calledFactory(node);
    if (factory === undefined) {
      out.push({ name: undefined, value: node });
      return;
    }
    const args = children(node, 'arguments');
    const signature = factory.scope.signature(args);
    if (factory.returned.has(signature)) return;
    if (factory.returned.size >= FACTORY_READS) {
      pushResolved([{ name: undefined, value: node }]);
      return;
    }
    factory.returned.add(signature);
    const value = factory.scope.returned() ?? node;
    pushResolved(factory.scope.entries({ name: undefined, value }, args, node));
  };
  /** What `exports.x = v` exports: `v`, or what a factory `v` calls returns, when that is no object. */
  const exportProperty = (name: string, node: AstNode): void => {
    const factory = calledFactory(node);
    if (factory === undefined) out.push({ name, value: node });
    else {
      const value = factory.scope.returned();
      pushResolved(factory.scope.entries({ name, value: value ?? node }, children(node, 'arguments'), node));
    }
  };
  /**
   * A UMD wrapper's body, read with the wrapper's factories. A parameter given top-level `this`
   * (`typeof self !== 'undefined' ? self : this`) holds the export object where `this` does (a
   * Node module: umdjs/umd's amdWeb `root.X = factory()` exports `X`); its other parameters
   * (`root` given `self` or `window`) hold neither object.
   */
  const readWrapper = ({ wrapper, call, factories }: UmdWrapper): void => {
    const scope = new FunctionScope(wrapper);
    const records = new Map<string, Factory>();
    for (const [name, fn] of factories) {
      let record = factoryRecords.get(fn);
      if (record === undefined) {
        record = { scope: new FunctionScope(fn), read: new Set(), returned: new Set() };
        factoryRecords.set(fn, record);
      }
      records.set(name, record);
    }
    const args = children(call, 'arguments');
    const aliasSeeds = !scope.declaresOwn('exports') && aliases.has('exports') ? ['exports'] : [];
    children(wrapper, 'params').forEach((param, i) => {
      if (
        param.type === 'Identifier' &&
        !factories.has(param.name as string) &&
        nodeTakesThis(args[i], declared) &&
        holdsThis()
      ) {
        aliasSeeds.push(param.name as string);
      }
    });
    // An arrow's expression body runs as a statement of its own.
    const body = child(wrapper, 'body') as AstNode;
    const block =
      body.type === 'BlockStatement'
        ? body
        : { type: 'BlockStatement', start: body.start, end: body.end, body: [asStatement(body)] };
    const entries = readCommonJs(
      block,
      aliasSeeds,
      !scope.declaresOwn('module') && modules.has('module') ? ['module'] : [],
      { factories: records },
    );
    for (const entry of entries) {
      if (RESOLVED.has(entry)) out.push(entry);
      else pushResolved(scope.entries(entry, args, call));
    }
  };
  /** Runs one chain; returns what it evaluates to. */
  const run = (expression: AstNode | undefined): Handed => {
    // Every target's object, and the value, are read before any link writes.
    aliases.begin();
    modules.begin();
    const { links, value } = assignmentChain(expression);
    const result = resultOf(value);
    const factory = calledFactory(result);
    if (factory !== undefined) callFactory(result as AstNode, factory);
    assignedProperties(result);
    definedProperty(result);
    reexportedAll(result);
    let handed: Handed = { node: result, isExports: isExportObject(result), isModule: mayBeModule(result) };
    let replaced = false;
    // The names the links so far bound to the value handed on (`exports` and `self` in
    // `module.exports = exports = self = {}`): when `module.exports` takes that value, they are
    // the aliases of the new export object.
    let bound: string[] = [];
    for (let i = links.length - 1; i >= 0; i--) {
      const link = links[i]!;
      const target = unwrap(link.target);
      if (target?.type === 'ObjectPattern' || target?.type === 'ArrayPattern') {
        // `x = { module } = ctx`: the pattern rebinds its names; the chain hands on the value.
        rebindPattern(target, handed);
        continue;
      }
      const path = memberPath(target);
      const whole = isModuleExportsPath(path);
      const name = target?.type === 'Identifier' ? path?.[0] : undefined;
      const object = path?.slice(0, -1);
      const property =
        object !== undefined &&
        object.length >= 1 &&
        (isModuleExportsPath(object) || (object.length === 1 && heldExports(object[0]!)))
          ? path?.at(-1)
          : undefined;
      const startsTruthy =
        whole || (name !== undefined && (modules.has(name) || aliases.has(name))) ? true : property ? false : undefined;
      if (!linkWrites(link.operator, startsTruthy)) {
        // The link's expression is the target's old value (`module ||= shim` keeps Node's module).
        const isModule = name !== undefined && modules.has(name);
        handed = { node: undefined, isExports: startsTruthy === true && !isModule, isModule };
        bound = [];
        continue;
      }
      if (whole) {
        if (!handed.isExports) {
          const assigned = objectAssignArguments(handed.node);
          // `module.exports = Object.assign({ read }, require('./x'))`: a new object holding the
          // literal's properties and what is copied onto it, as `{ read, ...require('./x') }`.
          if (assigned !== undefined && unwrap(assigned[0])?.type === 'ObjectExpression') copied(assigned);
          else if (handed.node) exportWhole(handed.node);
          aliases.replace(bound);
          toCommonJs = isToCommonJs(handed.node);
          replaced = true;
          handed = { node: handed.node, isExports: true, isModule: false };
        }
      } else if (name !== undefined) {
        rebind(name, handed);
        bound.push(name);
      } else if (property !== undefined && !replaced && handed.node) {
        exportProperty(property, handed.node);
      }
    }
    return handed;
  };
  // Top-level statements in order, and those of a top-level block, `if`, `else` or `try` (an
  // export there may run: `if (require.main !== module) module.exports = …`), on a stack so that
  // an `else if` chain of any length ends. Loops and functions are not read. A branch of an `if`
  // and a `try` or `catch` block may not run, or stop part-way: between 'enter' and 'exit' its
  // statements change the names in order, and after it what they held before still may hold. A
  // `return` ends its block; one that always runs (not in such a block) ends the reading.
  const pending: Pending[] = children(program, 'body').reverse();
  // Per `if` with an `else` being read, what each ended branch bound to a new export object it
  // gave `module.exports` (`undefined`: the branch replaced none).
  const branches: (readonly string[] | undefined)[] = [];
  // How many blocks that may not run are open: a `return` outside all of them always runs (in a
  // plain block or a `finally` too), and ends the body.
  let open = 0;
  // Per open block, whether a `return` ended it (nothing after it there runs); per ended `if`
  // branch waiting for its `join`, the same.
  const ended: boolean[] = [];
  const branchEnded: boolean[] = [];
  /**
   * A `return` that runs where it stands: outside every block that may not run it ends the body
   * (the statements dropped never run: at the top level they are noted in `reading.unrun`);
   * inside one it ends that block, whose statements after it are dropped.
   */
  const endBlock = (): void => {
    if (open === 0) {
      for (const dropped of pending) if (typeof dropped !== 'string') reading.unrun?.add(dropped);
      pending.length = 0;
      return;
    }
    ended[ended.length - 1] = true;
    // Up to the block's own 'exit' or 'exit-branch', only its remaining statements are pending.
    while (pending.length > 0 && typeof pending.at(-1) !== 'string') pending.pop();
  };
  /** Statements to read next, in order; `mayNotRun`: as a block that may not run. */
  const push = (statements: readonly (AstNode | undefined)[], mayNotRun: boolean): void => {
    for (let i = statements.length - 1; i >= 0; i--) {
      const statement = statements[i];
      if (statement === undefined) continue;
      if (mayNotRun) pending.push('exit', statement, 'enter');
      else pending.push(statement);
    }
  };
  while (pending.length > 0) {
    const statement = pending.pop()!;
    if (statement === 'enter' || statement === 'exit') {
      for (const names of [aliases, modules]) names[statement]();
      open += statement === 'enter' ? 1 : -1;
      if (statement === 'enter') ended.push(false);
      else ended.pop();
    } else if (statement === 'exit-branch') {
      open--;
      branchEnded.push(ended.pop() === true);
      branches.push(aliases.exit(true));
      modules.exit();
    } else if (statement === 'join') {
      // One branch runs, and what follows runs only after one that did not return: when each
      // such branch replaced `module.exports`, only what it bound to its new export object holds
      // it afterwards (`exports` and older aliases are detached). When both return, so does the `if`.
      const [second, secondEnded] = [branches.pop(), branchEnded.pop()];
      const [first, firstEnded] = [branches.pop(), branchEnded.pop()];
      if (firstEnded && secondEnded) endBlock();
      else if ((first !== undefined || firstEnded) && (second !== undefined || secondEnded)) {
        // A branch that returned hands nothing on: its new export object's names never run after.
        aliases.replace([...(firstEnded ? [] : (first ?? [])), ...(secondEnded ? [] : (second ?? []))]);
      }
    } else if (
      reading.factories !== undefined &&
      statement.type === 'ExpressionStatement' &&
      ['ConditionalExpression', 'LogicalExpression'].includes(unwrap(child(statement, 'expression'))?.type ?? '')
    ) {
      // A wrapper's `typeof module === 'object' ? module.exports = factory() : root.X = factory()`
      // (Rollup, minifiers): the test runs, then one branch, as in an `if`; `a && b` runs `b` maybe.
      const n = unwrap(child(statement, 'expression')) as AstNode;
      const test = child(n, n.type === 'LogicalExpression' ? 'left' : 'test');
      if (n.type === 'LogicalExpression') {
        if (!(n.operator === '&&' && alwaysFalse(test))) push([asStatement(child(n, 'right'))], true);
      } else if (alwaysFalse(test)) push([asStatement(child(n, 'alternate'))], false);
      else {
        const [consequent, alternate] = [asStatement(child(n, 'consequent')), asStatement(child(n, 'alternate'))];
        pending.push('join', 'exit-branch', alternate!, 'enter', 'exit-branch', consequent!, 'enter');
      }
      push([asStatement(test)], false);
    } else if (statement.type === 'ExpressionStatement') {
      const expression = unwrap(child(statement, 'expression'));
      // `a(), module.exports = f`: each element runs in order.
      const parts = expression?.type === 'SequenceExpression' ? children(expression, 'expressions') : [expression];
      for (const part of parts) {
        // A UMD wrapper called at the top level: its CommonJS branch and factory are read.
        const umd = topLevelFunction && umdWrapper(part, topLevelFunction);
        if (umd) readWrapper(umd);
        else run(part);
      }
      const hint = exportNamesHint(expression);
      // The names Node itself reads from the hint, where `module` is Node's there.
      if (hint !== undefined && modules.has('module') && toCommonJs) properties(hint);
    } else if (statement.type === 'VariableDeclaration' && statement.declare !== true) {
      for (const declarator of children(statement, 'declarations')) {
        const init = child(declarator, 'init');
        const handed = run(init);
        const id = child(declarator, 'id');
        // `var { module } = ctx`, `var [exports] = shims`: a pattern rebinds every name it declares.
        if (id?.type !== 'Identifier') rebindPattern(id, handed);
        // `var exports;` keeps the value the binding has.
        else if (init !== undefined || statement.kind !== 'var') rebind(id.name as string, handed);
      }
    } else if (statement.type === 'IfStatement') {
      const consequent = child(statement, 'consequent') as AstNode;
      const alternate = child(statement, 'alternate');
      // A branch behind a literal false test never runs; its `else` always does.
      if (alwaysFalse(child(statement, 'test'))) push([alternate], false);
      else if (alternate === undefined) push([consequent], true);
      else pending.push('join', 'exit-branch', alternate, 'enter', 'exit-branch', consequent, 'enter');
    } else if (statement.type === 'ForStatement') {
      // The head's `var` declaration runs once, as a statement of its own (the loop is not read).
      const init = child(statement, 'init');
      if (init?.type === 'VariableDeclaration' && init.kind === 'var') push([init], false);
    } else if (statement.type === 'TryStatement') {
      const handler = child(statement, 'handler');
      const param: AstNode[] = patternIdentifiers(handler && child(handler, 'param'), []);
      // `finally` runs whenever the `try` statement does (pushed first: the stack reads it last).
      push([child(statement, 'finalizer')], false);
      push(
        [
          child(statement, 'block'),
          param.some((id) => COMMONJS_NAMES.has(id.name as string)) ? undefined : handler && child(handler, 'body'),
        ],
        true,
      );
    } else if (statement.type === 'ReturnStatement') {
      // Node runs nothing after it in its block, nor after the body when no block that may not run
      // holds it (a CommonJS file may return at its top level). Its value is read where it stands:
      // `if (require.main !== module) return module.exports = { … }` exports as Node runs it.
      endBlock();
      push([asStatement(child(statement, 'argument'))], false);
    } else if (statement.type === 'BlockStatement') {
      // A block that declares its own `module` or `exports` writes to those, not Node's: it is not
      // read, but a `return` directly in it ends the reading there as any other (its value unread).
      const body = children(statement, 'body');
      // A plain block runs whenever the statement around it does.
      if (!declaresLocally(body)) push(body, false);
      else if (body.some((s) => s.type === 'ReturnStatement')) endBlock();
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

function listModuleExports(program: AstNode, file: string, project: Manifests | undefined): ModuleExports {
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
  const { exports, unrun } = commonJsListing(program, file, project);
  for (const { value } of exports) addValue(value, names, values);
  return { names, values, unrun };
}
