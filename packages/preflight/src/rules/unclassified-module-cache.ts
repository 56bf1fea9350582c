import type { RawFinding } from '../finding.ts';
import { type AstNode, child, children, enclosingFunction, memberPath, moduleBindings, unwrap } from '../js-ast.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { requiresSharedStore } from '../secret-names.ts';

const ID = 'unclassified-module-cache';

const CACHE_CLASSES = /^(Map|Set|LRUCache|LRU|QuickLRU|NodeCache|TTLCache|Cache|LruCache|ExpiryMap)$/;
const MUTATORS = new Set(['set', 'add', 'delete', 'clear', 'push', 'unshift', 'splice', 'pop', 'shift']);
const REQUEST_PARAMS = /^(req|request|res|response|reply|ctx|context|c|event|socket|ws|msg|message)$/;
const ROUTE_METHODS =
  /^(get|post|put|patch|delete|all|use|route|handle|on|addHook|register|hook|options|head|middleware)$/;

/** The classification a declaration carries, parsed from its leading or trailing comment. */
export type CacheClassification =
  | { readonly scope: 'per-pod'; readonly reason: string }
  | { readonly scope: 'shared'; readonly store: string }
  | { readonly scope: 'invalid'; readonly problem: string };

/**
 * Parses `@cache-scope per-pod: <reason>` or `@cache-scope shared(redis)` from a comment.
 *
 * @example
 * ```ts
 * parseCacheScope('@cache-scope per-pod: compiled templates, rebuilt from disk'); // { scope: 'per-pod', … }
 * ```
 */
export function parseCacheScope(comment: string): CacheClassification | undefined {
  const match = /@cache-scope\s+([a-z-]+)\s*(?:\(([^)]*)\)|[:\-–]+)?\s*(.*)$/im.exec(comment);
  if (!match) return undefined;
  const scope = (match[1] ?? '').toLowerCase();
  const rest = (match[3] ?? '').replace(/\*\/\s*$/, '').trim();
  if (scope === 'per-pod' || scope === 'per-instance') {
    if (rest.replace(/[^A-Za-z]/g, '').length < 8) {
      return { scope: 'invalid', problem: 'per-pod needs a reason (why one copy per pod is correct)' };
    }
    return { scope: 'per-pod', reason: rest };
  }
  if (scope === 'shared' || scope === 'shared-required') {
    const store = (match[2] ?? rest).trim().toLowerCase();
    if (!/^(redis|valkey)\b/.test(store)) {
      return { scope: 'invalid', problem: 'shared must name its store: @cache-scope shared(redis)' };
    }
    return { scope: 'shared', store };
  }
  return { scope: 'invalid', problem: `unknown scope; use per-pod: <reason> or shared(redis)` };
}

interface Candidate {
  readonly name: string;
  readonly declaration: AstNode;
}

function isCacheInit(init: AstNode | undefined): boolean {
  const n = unwrap(init);
  if (!n) return false;
  if (n.type === 'NewExpression') {
    const callee = memberPath(child(n, 'callee'))?.at(-1) ?? '';
    return CACHE_CLASSES.test(callee);
  }
  if (n.type === 'ObjectExpression') return children(n, 'properties').length === 0;
  if (n.type === 'ArrayExpression') return children(n, 'elements').length === 0;
  if (n.type === 'CallExpression') {
    const callee = memberPath(child(n, 'callee'))?.join('.') ?? '';
    return callee === 'Object.create' || /^(lru|createCache|createLRU|memoize)$/i.test(callee);
  }
  return false;
}

function moduleScopeCandidates(program: AstNode): Candidate[] {
  return moduleBindings(program)
    .filter((b) => b.kind !== 'function' && isCacheInit(b.init))
    .map((b) => ({ name: b.name, declaration: b.declaration }));
}

function isHandler(fn: AstNode, context: FileContext): boolean {
  const { parentOf } = context.module;
  const params = children(fn, 'params').map((p) => (p.type === 'Identifier' ? (p.name as string) : ''));
  if (params.some((p) => REQUEST_PARAMS.test(p))) return true;
  const id = child(fn, 'id');
  if (id?.type === 'Identifier' && /handler|middleware|route|controller|endpoint/i.test(id.name as string)) return true;
  const parent = parentOf.get(fn);
  if (!parent) return false;
  if (parent.type === 'ExportNamedDeclaration' || parent.type === 'ExportDefaultDeclaration') return true;
  if (parent.type === 'CallExpression' && children(parent, 'arguments').includes(fn)) {
    const method = memberPath(child(parent, 'callee'))?.at(-1) ?? '';
    if (ROUTE_METHODS.test(method)) return true;
  }
  if (parent.type === 'VariableDeclarator') {
    const declaration = parentOf.get(parent);
    if (declaration && parentOf.get(declaration)?.type === 'ExportNamedDeclaration') return true;
  }
  if (parent.type === 'Property' || parent.type === 'MethodDefinition') return true;
  return false;
}

/**
 * Handlers, plus the module's own named functions they call (transitively): a helper that fills the
 * cache on a handler's behalf is as much per-request code as the handler.
 */
function handlerReachable(context: FileContext): Set<AstNode> {
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
  }
  const reachable = new Set(functions.filter((fn) => isHandler(fn, context)));
  const queue = [...reachable];
  while (queue.length > 0) {
    const fn = queue.pop()!;
    // `nodes` is sorted by start: visit only the function's own span.
    let lo = 0;
    let hi = nodes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (nodes[mid]!.start < fn.start) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < nodes.length && nodes[i]!.start < fn.end; i++) {
      const node = nodes[i]!;
      if (node.end > fn.end || node.type !== 'CallExpression') continue;
      const callee = unwrap(child(node, 'callee'));
      const target = callee?.type === 'Identifier' ? byName.get(callee.name as string) : undefined;
      if (target && !reachable.has(target)) {
        reachable.add(target);
        queue.push(target);
      }
    }
  }
  return reachable;
}

/** The node if it mutates `name`: `name.set()`, `name[k] = v`, `delete name[k]`, `name.k = v`. */
function mutatedName(node: AstNode): string | undefined {
  if (node.type === 'CallExpression') {
    const callee = unwrap(child(node, 'callee'));
    if (callee?.type !== 'MemberExpression') return undefined;
    const path = memberPath(callee);
    if (path?.length !== 2 || !MUTATORS.has(path[1]!)) return undefined;
    return path[0];
  }
  const target =
    node.type === 'AssignmentExpression'
      ? unwrap(child(node, 'left'))
      : node.type === 'UnaryExpression' && node.operator === 'delete'
        ? unwrap(child(node, 'argument'))
        : node.type === 'UpdateExpression'
          ? unwrap(child(node, 'argument'))
          : undefined;
  if (target?.type !== 'MemberExpression') return undefined;
  const object = unwrap(child(target, 'object'));
  return object?.type === 'Identifier' ? (object.name as string) : undefined;
}

function classificationFor(declaration: AstNode, context: FileContext): CacheClassification | undefined {
  const { source } = context;
  const line = source.position(declaration.start).line;
  for (const comment of context.module.comments) {
    const commentLine = source.position(comment.end).line;
    // The comment ends on the line before the declaration (or two, for a JSDoc block) or on its line.
    if (commentLine === line || (comment.end <= declaration.start && line - commentLine <= 2)) {
      const parsed = parseCacheScope(comment.value);
      if (parsed) return parsed;
    }
  }
  return undefined;
}

function check(context: FileContext): RawFinding[] {
  const { program, nodes } = context.module;
  const candidates = moduleScopeCandidates(program);
  if (candidates.length === 0) return [];
  const byName = new Map(candidates.map((c) => [c.name, c]));
  const reachable = handlerReachable(context);
  const mutatedInHandler = new Set<string>();
  for (const node of nodes) {
    const name = mutatedName(node);
    if (name === undefined || !byName.has(name) || mutatedInHandler.has(name)) continue;
    const fn = enclosingFunction(node, context.module.parentOf);
    // Mutations at module scope fill init-time lookup tables: exempt.
    if (fn && reachable.has(fn)) mutatedInHandler.add(name);
  }
  const out: RawFinding[] = [];
  for (const name of mutatedInHandler) {
    const { declaration } = byName.get(name)!;
    const classification = classificationFor(declaration, context);
    const shared = requiresSharedStore(name);
    let problem: string | undefined;
    if (!classification) {
      problem = shared
        ? `module-scope cache "${name}" holds cross-request state (its name says rate limit/nonce/session/replay) and lives in one pod. Move it to Redis (@rampart/redis) and mark it "@cache-scope shared(redis)".`
        : `module-scope cache "${name}" is mutated from a request handler without a classification. Add "// @cache-scope per-pod: <why one copy per pod is correct>" or move it to Redis and mark it "@cache-scope shared(redis)".`;
    } else if (classification.scope === 'invalid') {
      problem = `module-scope cache "${name}" has an invalid @cache-scope comment: ${classification.problem}.`;
    } else if (classification.scope === 'per-pod' && shared) {
      problem = `module-scope cache "${name}" is classified per-pod, but rate-limit/nonce/session/replay state must be shared: with N pods every limit is N times weaker. Move it to Redis (@rampart/redis).`;
    }
    if (problem) {
      out.push({
        ruleId: ID,
        severity: 'error',
        message: problem,
        start: declaration.start,
        end: declaration.end,
        key: name,
      });
    }
  }
  return out;
}

/** `unclassified-module-cache`: in-process state shared across requests without saying why that is safe. */
export const unclassifiedModuleCache: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A module-scope Map/Set/LRU/object is mutated from request handlers without a @cache-scope classification.',
  fix: 'Add "// @cache-scope per-pod: <reason>" or move the state to Redis and mark it "@cache-scope shared(redis)".',
  // Test files hold per-run state by design (servers to close, spies); they never serve requests.
  appliesTo: (file) =>
    /\.[cm]?[jt]sx?$/.test(file) &&
    !/\.d\.[cm]?ts$/.test(file) &&
    !/(\.|_)(test|spec)\.[cm]?[jt]sx?$|(^|\/)(__tests__|__mocks__)\//.test(file),
  check,
};
