// Which expressions are the environment object or read a variable from it.
import {
  type AstNode,
  child,
  children,
  memberPath,
  memberPropertyName,
  propertyKeyName,
  stringValue,
  unwrap,
} from './js-ast.ts';
import { importBindings, requiredModule } from './js-module-bindings.ts';
import { isShadowed, nearestDeclaration, patternIdentifiers } from './js-scope.ts';
import { isSecretName, secretNameCount } from './secret-names.ts';

// `isEnvObject` sees one node, so which calls are Hono's `env(c)` is worked out once per module,
// when it is indexed: calls of a name imported from `hono/adapter` that nothing nearer shadows.
const HONO_ENV_CALLS = new WeakSet<AstNode>();
const HONO_ADAPTER = 'hono/adapter';

/** Marks the calls of `env` imported from `hono/adapter` (also renamed, or through `import * as`). */
export function markHonoEnvCalls(
  program: AstNode,
  nodes: readonly AstNode[],
  parentOf: ReadonlyMap<AstNode, AstNode>,
): void {
  const functions = new Set<string>();
  const namespaces = new Set<string>();
  for (const [local, binding] of importBindings(program)) {
    if (binding.specifier !== HONO_ADAPTER) continue;
    if (binding.name === 'env') functions.add(local);
    else if (binding.name === '*') namespaces.add(local);
  }
  if (functions.size === 0 && namespaces.size === 0) return;
  for (const node of nodes) {
    if (node.type !== 'CallExpression') continue;
    const callee = unwrap(child(node, 'callee'));
    const object = callee?.type === 'MemberExpression' ? unwrap(child(callee, 'object')) : undefined;
    const local =
      callee?.type === 'Identifier' && functions.has(callee.name as string)
        ? callee
        : object?.type === 'Identifier' && namespaces.has(object.name as string) && memberPropertyName(callee) === 'env'
          ? object
          : undefined;
    if (local && !isShadowed(local, local.name as string, parentOf)) HONO_ENV_CALLS.add(node);
  }
}

// Found once per module too: names bound to the environment object under another name
// (`const { env: e } = process`, `import { env as E } from 'node:process'`, `(e = process.env) =>`),
// patterns destructured from it (`const { env: { X = '…' } } = process`) and computed reads through
// a const (`process.env[K]`, `const K = 'X'`). A name written after its declaration is no alias.
const ENV_ALIASES = new WeakSet<AstNode>();
const ENV_PATTERNS = new WeakSet<AstNode>();
const ENV_KEYS = new WeakMap<AstNode, string>();
const PROCESS_MODULES = new Set(['process', 'node:process']);

/** `process`, `globalThis.process`, `require('node:process')`. */
function isProcess(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  const path = memberPath(n)?.join('.');
  if (path === 'process' || path === 'globalThis.process') return true;
  const specifier = requiredModule(n);
  return specifier !== undefined && PROCESS_MODULES.has(specifier);
}

/** How deep `keepsEnv` follows nested `||`, ternaries and spreads before it gives up (drops the alias). */
const KEEPS_ENV_DEPTH = 16;

/**
 * Whether a value written to the alias declared by `declaration` is still the env object: the env
 * object (`process.env`), the alias itself, a `||` / `??` / ternary of those, or an object literal
 * spreading one of those (`{ ...e, ...overrides }`) whose other keys (also those of object
 * literals it spreads) are static names of no secret. Bounded by {@link KEEPS_ENV_DEPTH}.
 */
function keepsEnv(
  value: AstNode | undefined,
  declaration: AstNode,
  parentOf: ReadonlyMap<AstNode, AstNode>,
  depth = 0,
): boolean {
  const n = unwrap(value);
  if (n === undefined || depth > KEEPS_ENV_DEPTH) return false;
  if (n.type === 'Identifier') return nearestDeclaration(n, n.name as string, parentOf)?.id === declaration;
  if (n.type === 'LogicalExpression' && (n.operator === '||' || n.operator === '??')) {
    return (
      keepsEnv(child(n, 'left'), declaration, parentOf, depth + 1) &&
      keepsEnv(child(n, 'right'), declaration, parentOf, depth + 1)
    );
  }
  if (n.type === 'ConditionalExpression') {
    return (
      keepsEnv(child(n, 'consequent'), declaration, parentOf, depth + 1) &&
      keepsEnv(child(n, 'alternate'), declaration, parentOf, depth + 1)
    );
  }
  if (n.type === 'ObjectExpression') return spreadsEnv(n, declaration, parentOf, depth) === true;
  return isEnvObject(n);
}

/**
 * For an object literal: `true` when it spreads the env object (see {@link keepsEnv}) and sets no
 * key that is computed or names a secret, `false` when it sets such a key (here or in an object
 * literal it spreads), `undefined` when it sets none but spreads no env object either.
 */
function spreadsEnv(
  object: AstNode,
  declaration: AstNode,
  parentOf: ReadonlyMap<AstNode, AstNode>,
  depth: number,
): boolean | undefined {
  if (depth > KEEPS_ENV_DEPTH) return false;
  let env: boolean | undefined;
  for (const prop of children(object, 'properties')) {
    if (prop.type === 'SpreadElement') {
      const argument = unwrap(child(prop, 'argument'));
      if (argument?.type === 'ObjectExpression') {
        const nested = spreadsEnv(argument, declaration, parentOf, depth + 1);
        if (nested === false) return false;
        env ||= nested;
      } else if (keepsEnv(argument, declaration, parentOf, depth + 1)) {
        env = true;
      }
      continue;
    }
    const name = propertyKeyName(prop);
    if (name === undefined || secretNameCount(name, 'env') !== undefined || isSecretName(name, 'code')) return false;
  }
  return env;
}

/**
 * Removes the aliases that are written anywhere they are in scope (`src = JSON.parse(…)`,
 * `({ src } = o)`, `src++`, `for (src of …)`, also from a closure): such a name may no longer hold
 * the env object, the rule a `let` bound to an env read follows. A write of a value that is still
 * the env object (`e = e || process.env`, `e = { ...e, ...overrides }`, `e ??= process.env`: see
 * {@link keepsEnv}) keeps the alias. One pass, one scope lookup per write of a name an alias has
 * (and one per identifier of a written value that may keep the env object).
 */
function dropReassigned(
  declared: Set<AstNode>,
  nodes: readonly AstNode[],
  parentOf: ReadonlyMap<AstNode, AstNode>,
): void {
  const names = new Set([...declared].map((id) => id.name as string));
  for (const node of nodes) {
    let target: AstNode | undefined;
    if (node.type === 'AssignmentExpression') target = child(node, 'left');
    else if (node.type === 'UpdateExpression') target = child(node, 'argument');
    else if (node.type === 'ForInStatement' || node.type === 'ForOfStatement') {
      target = child(node, 'left');
      if (target?.type === 'VariableDeclaration') continue;
    } else continue;
    for (const id of patternIdentifiers(target, [])) {
      const name = id.name as string;
      if (!names.has(name)) continue;
      const declaration = nearestDeclaration(id, name, parentOf)?.id;
      if (declaration === undefined || !declared.has(declaration)) continue;
      // `e = …`, `e ||= …`, `e ??= …` of the name itself (not a pattern): the result is the value
      // written or, for the logical forms, the alias itself.
      const keeps =
        node.type === 'AssignmentExpression' &&
        id === unwrap(target) &&
        (node.operator === '=' || node.operator === '||=' || node.operator === '??=') &&
        keepsEnv(child(node, 'right'), declaration, parentOf);
      if (!keeps) declared.delete(declaration);
    }
  }
}

/** Marks the other names of the environment object, the patterns taken from it and reads through a const key. */
export function markEnvAliases(
  program: AstNode,
  nodes: readonly AstNode[],
  parentOf: ReadonlyMap<AstNode, AstNode>,
): void {
  // Identifiers that declare an alias; imported names separately (js-scope does not resolve imports).
  const declared = new Set<AstNode>();
  const imported = new Set<string>();
  for (const [local, binding] of importBindings(program)) {
    if (PROCESS_MODULES.has(binding.specifier) && binding.name === 'env') imported.add(local);
  }
  for (const node of nodes) {
    if (node.type === 'VariableDeclarator' || node.type === 'AssignmentExpression') {
      const pattern = child(node, node.type === 'VariableDeclarator' ? 'id' : 'left');
      if (
        pattern?.type !== 'ObjectPattern' ||
        !isProcess(child(node, node.type === 'VariableDeclarator' ? 'init' : 'right'))
      ) {
        continue;
      }
      for (const prop of children(pattern, 'properties')) {
        if (prop.type !== 'Property' || propertyKeyName(prop) !== 'env') continue;
        let value = child(prop, 'value');
        if (value?.type === 'AssignmentPattern') value = child(value, 'left');
        if (value?.type === 'Identifier' && node.type === 'VariableDeclarator') declared.add(value);
        else if (value?.type === 'ObjectPattern') ENV_PATTERNS.add(value);
      }
    } else if (node.type === 'AssignmentPattern') {
      // A parameter (or destructuring) default: `function cfg(e = process.env)`.
      const left = child(node, 'left');
      if (left?.type === 'Identifier' && isEnvObject(child(node, 'right'))) declared.add(left);
    }
  }
  if (declared.size > 0) dropReassigned(declared, nodes, parentOf);
  if (declared.size > 0 || imported.size > 0) {
    const names = new Set([...declared].map((id) => id.name as string));
    for (const node of nodes) {
      if (node.type !== 'Identifier' || declared.has(node)) continue;
      const name = node.name as string;
      const parent = parentOf.get(node);
      // Only a read of the variable: not `x.e`, `{ e: … }`'s key.
      if (parent?.type === 'MemberExpression' && child(parent, 'property') === node && parent.computed !== true)
        continue;
      if (parent?.type === 'Property' && child(parent, 'key') === node && parent.shorthand !== true) continue;
      if (imported.has(name) && !isShadowed(node, name, parentOf)) ENV_ALIASES.add(node);
      else if (names.has(name)) {
        const id = nearestDeclaration(node, name, parentOf)?.id;
        if (id !== undefined && declared.has(id)) ENV_ALIASES.add(node);
      }
    }
  }
  for (const node of nodes) {
    if (node.type !== 'MemberExpression' || node.computed !== true) continue;
    const key = unwrap(child(node, 'property'));
    if (key?.type !== 'Identifier' || !isEnvObject(child(node, 'object'))) continue;
    const declaration = nearestDeclaration(key, key.name as string, parentOf);
    const value = declaration?.kind === 'const' ? stringValue(declaration.init) : undefined;
    if (value !== undefined) ENV_KEYS.set(node, value);
  }
}

/** Whether an object pattern destructures the environment object: `const { env: { X = '…' } } = process`. */
export function isEnvPattern(pattern: AstNode | undefined): boolean {
  return pattern !== undefined && ENV_PATTERNS.has(pattern);
}

/**
 * Whether an expression is the environment object itself: `process.env`, `import.meta.env`,
 * `Bun.env`, `ENV`, a bare `env`, any `<object>.env` (Hono's `c.env`, a Worker's `this.env`,
 * SvelteKit's `platform.env`), another name bound to one (`const { env: e } = process`,
 * `import { env as E } from 'node:process'`, `(e = process.env) => …`), or a call of `env` imported from `hono/adapter` (`env(c)`, also
 * renamed or through a namespace import).
 */
export function isEnvObject(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (n?.type === 'CallExpression') return HONO_ENV_CALLS.has(n);
  if (n?.type === 'Identifier' && ENV_ALIASES.has(n)) return true;
  const path = memberPath(n);
  return path !== undefined && (path.at(-1) === 'env' || path.join('.') === 'ENV');
}

/** The variable name an expression reads from the environment, if it does. */
export function envReadName(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'MemberExpression' && isEnvObject(child(n, 'object'))) return memberPropertyName(n) ?? ENV_KEYS.get(n);
  if (n.type === 'CallExpression') {
    const callee = memberPath(child(n, 'callee'));
    const arg = stringValue(children(n, 'arguments')[0]);
    if (!callee || arg === undefined) return undefined;
    const joined = callee.join('.');
    // Deno.env.get('X'), env.get('X') (env-var), getEnv('X'), env('X')
    if (joined === 'Deno.env.get' || joined === 'env.get' || joined === 'getEnv' || joined === 'env') return arg;
  }
  return undefined;
}
