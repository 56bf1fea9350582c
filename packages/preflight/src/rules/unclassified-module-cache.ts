import type { RawFinding } from '../finding.ts';
import { chainResult } from '../js-assignment-chain.ts';
import {
  type AstNode,
  child,
  children,
  memberPath,
  nodesWithin,
  propertyKeyName,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { moduleBindings } from '../js-module-bindings.ts';
import { enclosingFunction, isShadowed } from '../js-scope.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { requiresSharedStore } from '../secret-names.ts';
import { inHandler, requestCode } from './request-code.ts';

const ID = 'unclassified-module-cache';

const CACHE_CLASSES = /^(Map|Set|LRUCache|LRU|QuickLRU|NodeCache|TTLCache|Cache|LruCache|ExpiryMap)$/;
const MUTATORS = new Set(['set', 'add', 'delete', 'clear', 'push', 'unshift', 'splice', 'pop', 'shift']);

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
  /** How mutations name it: `cache`, `caches.users`, `Store.tokens` (a `#` field without its `#`). */
  readonly name: string;
  /** How findings name it: `Store.#tokens` for a private field. */
  readonly label: string;
  readonly declaration: AstNode;
  /** The value it is created with (`new Map()`, `{}`, `createCache({ store: redisStore(…) })`). */
  readonly init: AstNode | undefined;
  /** The object or class declaration holding it, whose classification applies when it has none. */
  readonly container?: AstNode;
}

// Collections that hold their entries in this process, whatever they are given.
const IN_PROCESS_CLASSES = /^(Map|Set|WeakMap|WeakSet|LRUCache|LRU|QuickLRU|NodeCache|TTLCache|LruCache|ExpiryMap)$/;

// What a store backed by Redis is built from: `createCache({ store: redisStore(client) })`, `'redis://…'`.
const REDIS_WORD = /redis|valkey|upstash/i;

/**
 * Whether a cache's value lives in this process: a collection or object created here, not a client
 * of a Redis-backed store. A `shared(redis)` classification cannot make a `new Map()` shared.
 */
function inProcess(init: AstNode | undefined, nodes: readonly AstNode[]): boolean {
  const n = unwrap(init);
  if (!n || n.type === 'ObjectExpression' || n.type === 'ArrayExpression') return true;
  // `new Map<string, RedisSession>()`, `new LRUCache({ max: REDIS_MAX_KEYS })`: whatever the options
  // or type arguments say, these collections live in this process (`new Cache(redisClient)` may not).
  if (n.type === 'NewExpression' && IN_PROCESS_CLASSES.test(memberPath(child(n, 'callee'))?.at(-1) ?? '')) return true;
  const within = [...nodesWithin(n, nodes)];
  // Types say nothing about where a value lives: `Map<string, RedisSession>`.
  const types = within.filter((x) => x.type.startsWith('TS') && !x.type.endsWith('Expression'));
  for (const x of within) {
    if (types.some((t) => x.start >= t.start && x.end <= t.end)) continue;
    const word = x.type === 'Identifier' ? (x.name as string) : stringValue(x);
    if (word !== undefined && REDIS_WORD.test(word)) return false;
  }
  return true;
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

/** A cache object itself (`new Map()`, `lru()`), not an empty `{}`/`[]` that an object literal may hold as a default. */
function isCacheInstance(init: AstNode | undefined): boolean {
  const n = unwrap(init);
  return (n?.type === 'NewExpression' || n?.type === 'CallExpression') && isCacheInit(n);
}

/** Caches an object literal holds, at any depth: `{ users: new Map(), byTenant: { tokens: lru() } }`. */
function objectMembers(name: string, object: AstNode, container: AstNode, out: Candidate[]): void {
  for (const property of children(object, 'properties')) {
    const key = propertyKeyName(property);
    const value = unwrap(child(property, 'value'));
    if (key === undefined || !value) continue;
    const path = `${name}.${key}`;
    if (isCacheInstance(value)) out.push({ name: path, label: path, declaration: property, init: value, container });
    else if (value.type === 'ObjectExpression') objectMembers(path, value, container, out);
  }
}

/** Module-scope classes by name: `[export [default]] class X {}` and `const X = class {}`. */
function moduleClasses(program: AstNode): Map<AstNode, string> {
  const classes = new Map<AstNode, string>();
  for (let statement of children(program, 'body')) {
    if (statement.type === 'ExportNamedDeclaration' || statement.type === 'ExportDefaultDeclaration') {
      statement = child(statement, 'declaration') ?? statement;
    }
    const id = child(statement, 'id');
    if (statement.type === 'ClassDeclaration' && id?.type === 'Identifier') classes.set(statement, id.name as string);
    // `export default class { static cache = new Map() }`: reachable only through `this`.
    else if (statement.type === 'ClassDeclaration' || statement.type === 'ClassExpression')
      classes.set(statement, 'default');
  }
  for (const binding of moduleBindings(program)) {
    // `const Store = module.exports = class {}`: the name is bound to the chain's value.
    const init = chainResult(binding.init);
    if (init?.type === 'ClassExpression') classes.set(init, binding.name);
  }
  return classes;
}

function moduleScopeCandidates(program: AstNode, classes: ReadonlyMap<AstNode, string>): Candidate[] {
  const out: Candidate[] = [];
  for (const b of moduleBindings(program)) {
    if (b.kind === 'function') continue;
    // `const cache = module.exports.cache = new Map()`: the name holds the chain's value
    // (`const api = module.exports ||= {}` holds the original export object, no node of the source).
    const init = chainResult(b.init);
    if (isCacheInit(init)) out.push({ name: b.name, label: b.name, declaration: b.declaration, init });
    else if (init?.type === 'ObjectExpression') objectMembers(b.name, init, b.declaration, out);
  }
  // Static fields live once per class, so a module-scope class's static cache is module state.
  for (const [cls, className] of classes) {
    for (const member of children(child(cls, 'body') ?? cls, 'body')) {
      const key = propertyKeyName(member);
      if (member.type !== 'PropertyDefinition' || member.static !== true || key === undefined) continue;
      const init = child(member, 'value');
      if (!isCacheInit(init)) continue;
      const isPrivate = child(member, 'key')?.type === 'PrivateIdentifier';
      out.push({
        name: `${className}.${key}`,
        label: `${className}.${isPrivate ? '#' : ''}${key}`,
        declaration: member,
        init,
        container: cls,
      });
    }
  }
  return out;
}

/** The class `this` is inside a static method or static field initializer (arrow functions keep the outer `this`). */
function staticThisClass(node: AstNode, parentOf: ReadonlyMap<AstNode, AstNode>): AstNode | undefined {
  let fn = enclosingFunction(node, parentOf);
  while (fn?.type === 'ArrowFunctionExpression' && parentOf.get(fn)?.type !== 'PropertyDefinition') {
    fn = enclosingFunction(fn, parentOf);
  }
  const holder = fn && parentOf.get(fn);
  if ((holder?.type !== 'MethodDefinition' && holder?.type !== 'PropertyDefinition') || holder.static !== true) {
    return undefined;
  }
  const body = parentOf.get(holder);
  return body && parentOf.get(body);
}

/**
 * The path the node mutates: `name.set()`, `name[k] = v`, `delete name[k]`, `name.k = v`, also for
 * paths (`caches.users.set()`, `Store.cache.set()`; `this.cache` reads as `this.cache`).
 */
function mutatedName(node: AstNode): string | undefined {
  if (node.type === 'CallExpression') {
    const callee = unwrap(child(node, 'callee'));
    if (callee?.type !== 'MemberExpression') return undefined;
    const path = memberPath(callee);
    if (!path || path.length < 2 || !MUTATORS.has(path.at(-1)!)) return undefined;
    return path.slice(0, -1).join('.');
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
  return memberPath(child(target, 'object'))?.join('.');
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
  const { program, nodes, parentOf } = context.module;
  const classes = moduleClasses(program);
  const candidates = moduleScopeCandidates(program, classes);
  if (candidates.length === 0) return [];
  const byName = new Map(candidates.map((c) => [c.name, c]));
  const code = requestCode(context, classes);
  const mutatedInHandler = new Set<string>();
  for (const node of nodes) {
    let name = mutatedName(node);
    if (name === 'this' || name?.startsWith('this.')) {
      const cls = staticThisClass(node, parentOf);
      const className = cls && classes.get(cls);
      name = className === undefined ? undefined : `${className}${name.slice('this'.length)}`;
    }
    if (name === undefined || !byName.has(name) || mutatedInHandler.has(name)) continue;
    // A local of the same name (`const caches = { users: new Map() }` in a function) is not the module's.
    const root = name.split('.')[0]!;
    if (root !== 'this' && root !== 'default' && isShadowed(node, root, parentOf)) continue;
    if (inHandler(node, code, parentOf)) mutatedInHandler.add(name);
  }
  const out: RawFinding[] = [];
  for (const key of mutatedInHandler) {
    const { label: name, declaration, init, container } = byName.get(key)!;
    const classification =
      classificationFor(declaration, context) ?? (container && classificationFor(container, context));
    const shared = requiresSharedStore(name);
    let problem: string | undefined;
    if (!classification) {
      problem = shared
        ? `module-scope cache "${name}" holds cross-request state (its name says rate limit/nonce/session/replay) and lives in one pod. Move it to Redis (@rampart/redis) and mark it "@cache-scope shared(redis)".`
        : `module-scope cache "${name}" is mutated from a request handler without a classification. Add "// @cache-scope per-pod: <why one copy per pod is correct>" or move it to Redis and mark it "@cache-scope shared(redis)".`;
    } else if (classification.scope === 'invalid') {
      problem = `module-scope cache "${name}" has an invalid @cache-scope comment: ${classification.problem}.`;
    } else if (classification.scope === 'shared' && inProcess(init, nodes)) {
      problem = `module-scope cache "${name}" is marked "@cache-scope shared(redis)", but its value lives in this process (a Map, Set, LRU or object created here): every pod holds its own copy. Shared state must be a Redis-backed store (@rampart/redis); a per-pod copy of Redis data is "@cache-scope per-pod: <reason>".`;
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

const TEST_SUPPORT =
  /(\.|_)(test|spec)\.[cm]?[jt]sx?$|\.stories\.[cm]?[jt]sx?$|(^|\/)(__tests__|__mocks__|test|tests|e2e|playwright|cypress)\/|(^|\/)(vitest|jest)\.setup(\.[\w-]+)?\.[cm]?[jt]sx?$/;

/** `unclassified-module-cache`: in-process state shared across requests without saying why that is safe. */
export const unclassifiedModuleCache: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A module-scope Map/Set/LRU/object is mutated from request handlers without a @cache-scope classification.',
  fix: 'Add "// @cache-scope per-pod: <reason>" or move the state to Redis and mark it "@cache-scope shared(redis)".',
  // Test files and test support (setup files, e2e suites, stories) hold per-run state by design
  // (servers to close, spies); they never serve requests.
  appliesTo: (file) => /\.[cm]?[jt]sx?$/.test(file) && !/\.d\.[cm]?ts$/.test(file) && !TEST_SUPPORT.test(file),
  check,
};
