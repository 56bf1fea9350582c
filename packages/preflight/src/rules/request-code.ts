// Which functions of a module run on a request: handlers (exported functions, route callbacks,
// functions taking a request), the module's own helpers they call, and callbacks they pass on.
import { type AstNode, child, children, memberPath, nodesWithin, propertyKeyName } from '../js-ast.ts';
import { moduleExports } from '../js-module-exports.ts';
import { enclosingFunction } from '../js-scope.ts';
import type { FileContext } from '../rule.ts';

const REQUEST_PARAMS = /^(req|request|res|response|reply|ctx|context|c|event|socket|ws|msg|message)$/;
const ROUTE_METHODS =
  /^(get|post|put|patch|delete|all|use|route|handle|on|addHook|register|hook|options|head|middleware)$/;

// Parameters and registrations that only may mean a request: an event listener (`.on('end', …)`),
// a function taking a `message` or an `event`.
const WEAK_PARAMS = /^(context|c|event|socket|ws|msg|message)$/;

/** Static methods that run while the app is wired: registries, singletons, factories. */
const WIRING_METHODS =
  /^(use|register|configure|init|initialize|setup|plugin|instance|getInstance|for|of|from|create)$/;

/**
 * Whether a class or function (declaration or expression) is exported from its module: inline, or
 * bound at module scope to a name the module exports (`export { f }`, `module.exports = { f }`), or
 * written where it is exported (`exports.get = () => …`).
 */
function isExported(cls: AstNode | undefined, context: FileContext): boolean {
  const { parentOf, program } = context.module;
  const holder = cls && parentOf.get(cls);
  if (!cls || !holder) return false;
  if (holder.type === 'ExportNamedDeclaration' || holder.type === 'ExportDefaultDeclaration') return true;
  const exports = moduleExports(program, context.file, context.project);
  if (exports.values.has(cls)) return true;
  if (holder === program) {
    const id = child(cls, 'id');
    // After a top-level `return` that always runs, a class is never initialised (a function
    // declaration is hoisted: its name has its value).
    if (cls.type === 'ClassDeclaration' && exports.unrun.has(cls)) return false;
    return id?.type === 'Identifier' && exports.names.has(id.name as string);
  }
  if (holder.type !== 'VariableDeclarator') return false;
  const declaration = parentOf.get(holder);
  const scope = declaration && parentOf.get(declaration);
  if (scope?.type === 'ExportNamedDeclaration') return true;
  const id = child(holder, 'id');
  // A `var` after a top-level `return` that always runs never gives the name this value.
  if (declaration !== undefined && exports.unrun.has(declaration)) return false;
  return scope === program && id?.type === 'Identifier' && exports.names.has(id.name as string);
}

/**
 * Whether a function is a request handler, and how sure that is: `registered` for exported
 * functions, route callbacks, functions with `req`/`ctx`-style parameters and instance methods;
 * `maybe` for event listeners and functions whose parameters only may be a request (`message`,
 * `event`, `c`). Constructors, static methods of classes the module does not export and static
 * methods named for wiring (`static use(plugin)`, `static instance()`) run when the app is wired
 * unless their parameters say otherwise; other static methods of an exported class are handlers.
 */
function handlerKind(fn: AstNode, context: FileContext): 'registered' | 'maybe' | undefined {
  const { parentOf } = context.module;
  const params = children(fn, 'params').map((p) => (p.type === 'Identifier' ? (p.name as string) : ''));
  if (params.some((p) => REQUEST_PARAMS.test(p) && !WEAK_PARAMS.test(p))) return 'registered';
  const id = child(fn, 'id');
  if (id?.type === 'Identifier' && /handler|middleware|route|controller|endpoint/i.test(id.name as string)) {
    return 'registered';
  }
  const parent = parentOf.get(fn);
  const weak = params.some((p) => WEAK_PARAMS.test(p)) ? 'maybe' : undefined;
  if (!parent) return weak;
  if (isExported(fn, context)) return 'registered';
  if (parent.type === 'CallExpression' && children(parent, 'arguments').includes(fn)) {
    const method = memberPath(child(parent, 'callee'))?.at(-1) ?? '';
    if (ROUTE_METHODS.test(method)) return method === 'on' ? 'maybe' : 'registered';
  }
  if (parent.type === 'MethodDefinition' || parent.type === 'PropertyDefinition') {
    if (parent.kind === 'constructor') return weak;
    if (parent.static !== true) return 'registered';
    // A static method of an exported class is called from other files as an exported function is
    // (`LoginThrottle.hit(ip)` from a route), unless its name says it wires the app.
    const name = propertyKeyName(parent) ?? '';
    return WIRING_METHODS.test(name) || !isExported(parentOf.get(parentOf.get(parent) as AstNode), context)
      ? weak
      : 'registered';
  }
  return parent.type === 'Property' ? 'registered' : weak;
}

/** The functions that run on a request, and the handlers among them a request is registered to. */
export interface RequestCode {
  /**
   * Handlers, plus the module's own named functions and static methods of its classes they call
   * (transitively, `helper()`, `Store.remember()`): a helper that fills the cache on a handler's
   * behalf is as much per-request code as the handler.
   */
  readonly reachable: ReadonlySet<AstNode>;
  /** Handlers of kind `registered` (see handlerKind). */
  readonly registered: ReadonlySet<AstNode>;
}

export function requestCode(context: FileContext, classes: ReadonlyMap<AstNode, string>): RequestCode {
  const { nodes, parentOf } = context.module;
  const functions = nodes.filter(
    (n) => n.type === 'FunctionDeclaration' || n.type === 'FunctionExpression' || n.type === 'ArrowFunctionExpression',
  );
  const byName = new Map<string, AstNode>();
  for (const fn of functions) {
    const id = child(fn, 'id');
    if (fn.type === 'FunctionDeclaration' && id?.type === 'Identifier') byName.set(id.name as string, fn);
    const parent = parentOf.get(fn);
    const declared = parent?.type === 'VariableDeclarator' ? child(parent, 'id') : undefined;
    if (declared?.type === 'Identifier') byName.set(declared.name as string, fn);
    const member = parent?.type === 'MethodDefinition' || parent?.type === 'PropertyDefinition' ? parent : undefined;
    const className = member?.static === true ? classes.get(parentOf.get(parentOf.get(member)!)!) : undefined;
    const key = member && propertyKeyName(member);
    if (className !== undefined && key !== undefined) byName.set(`${className}.${key}`, fn);
  }
  const kinds = new Map(functions.map((fn) => [fn, handlerKind(fn, context)]));
  const registered = new Set(functions.filter((fn) => kinds.get(fn) === 'registered'));
  const reachable = new Set(functions.filter((fn) => kinds.get(fn) !== undefined));
  const queue = [...reachable];
  while (queue.length > 0) {
    const fn = queue.pop()!;
    for (const node of nodesWithin(fn, nodes)) {
      if (node.type !== 'CallExpression') continue;
      const target = byName.get(memberPath(child(node, 'callee'))?.join('.') ?? '');
      if (target && !reachable.has(target)) {
        reachable.add(target);
        queue.push(target);
      }
    }
  }
  return { reachable, registered };
}

/**
 * Whether a mutation runs on a request: in a handler or a helper it calls, or in a callback that a
 * registered handler passes to a call (`items.forEach((i) => cache.set(i, …))`, `.then(…)`, `new
 * Promise(…)`). A closure a function returns or stores runs later, on whoever calls it; callbacks
 * inside helpers and event listeners are not followed; mutations at module scope fill init-time
 * lookup tables.
 */
export function inHandler(node: AstNode, code: RequestCode, parentOf: ReadonlyMap<AstNode, AstNode>): boolean {
  const own = enclosingFunction(node, parentOf);
  if (own && code.reachable.has(own)) return true;
  for (let fn = own; fn; fn = enclosingFunction(fn, parentOf)) {
    if (code.registered.has(fn)) return true;
    const call = parentOf.get(fn);
    const passed =
      (call?.type === 'CallExpression' || call?.type === 'NewExpression') && children(call, 'arguments').includes(fn);
    if (!passed) return false;
  }
  return false;
}
