// What a compared value is computed from: the inputs of a hash, an HMAC, an encoding or a wrapping
// call, followed a bounded number of steps with a memo, so that shared inputs keep it linear.
import { type AstNode, child, children, memberPath, memberPropertyName, propertyKeyName, unwrap } from '../js-ast.ts';
import { nameWords } from '../secret-names.ts';

// Calls named for a hash (`sha256(v)`, `hashKey(v)`, `crypto.hash('sha256', v)`, `subtle.digest(…)`).
const DIGEST_WORDS = new Set(['hash', 'hmac', 'digest', 'sha', 'sha1', 'sha256', 'sha384', 'sha512', 'md5', 'blake3']);
// How many local constants and wrapping calls a value is followed through.
const MAX_DERIVATION = 6;

/**
 * The values a hash, HMAC or encoding of a value is computed from: the `update()` data of
 * `createHash(…)`/`createHmac(…)` chains (not the HMAC key), the arguments of a call named for a hash,
 * and the value `Buffer.from`, `String`, `.toString()`, `.trim()`, `encode()` or `await` wraps.
 * `undefined` when the node is none of these.
 */
export function derivedFrom(n: AstNode): AstNode[] | undefined {
  if (n.type === 'AwaitExpression') return [child(n, 'argument')].filter((a) => a !== undefined);
  if (n.type === 'LogicalExpression') return [child(n, 'left'), child(n, 'right')].filter((a) => a !== undefined);
  if (n.type !== 'CallExpression') return undefined;
  const callee = unwrap(child(n, 'callee'));
  const args = children(n, 'arguments');
  const method =
    callee?.type === 'MemberExpression'
      ? memberPropertyName(callee)
      : callee?.type === 'Identifier'
        ? (callee.name as string)
        : undefined;
  if (method === undefined) return undefined;
  const object = callee?.type === 'MemberExpression' ? unwrap(child(callee, 'object')) : undefined;
  if (method === 'digest' && object?.type === 'CallExpression') {
    const data: AstNode[] = [];
    for (let link: AstNode | undefined = object; link?.type === 'CallExpression'; ) {
      const linkCallee = unwrap(child(link, 'callee'));
      if (linkCallee?.type !== 'MemberExpression' || memberPropertyName(linkCallee) !== 'update') break;
      data.push(...children(link, 'arguments').slice(0, 1));
      link = unwrap(child(linkCallee, 'object'));
    }
    return data.length > 0 ? data : undefined;
  }
  if ((method === 'toString' || method === 'trim') && object) return [object];
  if (method === 'String' || method === 'encode' || memberPath(callee)?.join('.') === 'Buffer.from') {
    return args.slice(0, 1);
  }
  if (args.length > 0 && nameWords(method).some((w) => DIGEST_WORDS.has(w))) return args;
  return undefined;
}

/** A walk from a value back through what it is derived from; see {@link derivationWalk}. */
export type DerivationWalk<T> = (node: AstNode | undefined, depth?: number) => T;

/**
 * A walk that `step`s through derived values up to {@link MAX_DERIVATION} levels (TS wrappers
 * stripped; `beyond` for no node or past the limit), memoised per depth: a walk through shared
 * nodes (`sha256(a, a, a)` three levels deep) computes each node once per depth instead of once per
 * path, so it stays linear in the file.
 */
export function derivationWalk<T>(beyond: T, step: (node: AstNode, depth: number) => T): DerivationWalk<T> {
  const tables: Array<WeakMap<AstNode, T>> = [];
  return (node, depth = 0) => {
    const n = unwrap(node);
    if (!n || depth > MAX_DERIVATION) return beyond;
    tables[depth] ??= new WeakMap();
    const table = tables[depth];
    if (table.has(n)) return table.get(n) as T;
    const value = step(n, depth);
    table.set(n, value);
    return value;
  };
}

// Values generated once per process: a key header checked against one is no key shared across
// deployments (a local dev server's session token), whatever it is called.
export const RANDOM_CALL = /^(randomBytes|randomUUID|getRandomValues|randomInt|randomFillSync|nanoid|uuid|uuidv4|v4)$/;

/** `{ a: { b: v } }` and `['a', 'b']`: `v`. */
export function objectPath(object: AstNode | undefined, keys: readonly string[]): AstNode | undefined {
  let value = unwrap(object);
  for (const key of keys) {
    if (value?.type !== 'ObjectExpression') return undefined;
    const property = children(value, 'properties').find((p) => propertyKeyName(p) === key);
    value = property && unwrap(child(property, 'value'));
  }
  return value;
}
