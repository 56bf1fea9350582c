// Which expressions are the environment object or read a variable from it.
import { type AstNode, child, children, memberPath, memberPropertyName, stringValue, unwrap } from './js-ast.ts';
import { importBindings } from './js-module-bindings.ts';
import { isShadowed } from './js-scope.ts';

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

/**
 * Whether an expression is the environment object itself: `process.env`, `import.meta.env`,
 * `Bun.env`, `ENV`, a bare `env`, any `<object>.env` (Hono's `c.env`, a Worker's `this.env`,
 * SvelteKit's `platform.env`), or a call of `env` imported from `hono/adapter` (`env(c)`, also
 * renamed or through a namespace import).
 */
export function isEnvObject(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (n?.type === 'CallExpression') return HONO_ENV_CALLS.has(n);
  const path = memberPath(n);
  return path !== undefined && (path.at(-1) === 'env' || path.join('.') === 'ENV');
}

/** The variable name an expression reads from the environment, if it does. */
export function envReadName(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'MemberExpression' && isEnvObject(child(n, 'object'))) return memberPropertyName(n);
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
