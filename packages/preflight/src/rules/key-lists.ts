// Keys kept in a list and looked up by value: `process.env.API_KEYS.split(',').includes(key)`,
// `keySet.has(key)`, `keys.some((k) => timingSafeEqual(…))`, `for (const k of keys)`, and a
// secret-named list of literals. Also the `.includes` of one secret string, a substring test.
import { envReadName } from '../env-reads.ts';
import { type AstNode, child, children, memberPath, memberPropertyName, stringValue, unwrap } from '../js-ast.ts';
import type { NearestDeclaration } from '../js-scope.ts';
import { isConstantName, isSecretName, nameWords } from '../secret-names.ts';
import { type DerivationWalk, derivationWalk } from './derived-value.ts';

/**
 * Where the keys come from: `list` a list of keys (split, parsed, a setting), `string` one secret
 * string (an env value never split), `literal` keys written in the source.
 */
interface KeySource {
  readonly name: string;
  readonly kind: 'list' | 'string' | 'literal';
}

/** A key header looked up in keys from a secret-named source, with the method that looks it up. */
export interface ListLookup {
  readonly header: string;
  readonly method: string;
  readonly source: KeySource;
}

// Lookups of a value in a list or set: `keys.includes(k)`, `keys.indexOf(k) !== -1`, `set.has(k)`.
const LIST_LOOKUP = new Set(['includes', 'indexOf', 'lastIndexOf', 'has']);
// Methods that hand each element of a list to a callback: `keys.some((k) => timingSafeEqual(…))`.
const LIST_ITERATION = new Set([
  'some',
  'every',
  'find',
  'findIndex',
  'findLast',
  'findLastIndex',
  'filter',
  'forEach',
]);
// Calls that keep the keys a value holds: `process.env.API_KEYS.split(',').map(trim).filter(Boolean)`.
const KEY_KEEPING = new Set(['split', 'map', 'filter', 'slice', 'trim', 'toString']);
// Of those, the ones whose result is a list, not the string itself.
const LIST_MAKING = new Set(['split', 'map', 'filter']);
const SETTINGS_OBJECT = /^(config|settings|env)$/i;
// Lists of keys that are refused, not accepted: `REVOKED_API_KEYS`, `blockedTokens`.
const DENY_WORDS = new Set([
  'revoked',
  'blocked',
  'blocklist',
  'blacklist',
  'blacklisted',
  'denied',
  'deny',
  'denylist',
  'disabled',
  'expired',
  'banned',
]);

const denies = (name: string): boolean => nameWords(name).some((w) => DENY_WORDS.has(w));

/**
 * Whether a list's name says it holds secrets: `API_KEYS`, and `ADMIN_TOKENS` or `apiTokens` read
 * as their singular (a trailing plural word), unless it names refused keys (`REVOKED_API_KEYS`).
 */
function secretListName(name: string, context: 'env' | 'code'): boolean {
  if (denies(name)) return false;
  return isSecretName(name, context) || (/[^sS][sS]$/.test(name) && isSecretName(name.slice(0, -1), context));
}

/** `['a', 'b']` or `new Set(['a', 'b'])`: a list of string literals only. */
function literalList(node: AstNode | undefined): boolean {
  let n = unwrap(node);
  if (n?.type === 'NewExpression' && memberPath(child(n, 'callee'))?.join('.') === 'Set') {
    n = unwrap(children(n, 'arguments')[0]);
  }
  if (n?.type !== 'ArrayExpression') return false;
  const elements = n.elements as ReadonlyArray<AstNode | null>;
  return elements.length > 0 && elements.every((e) => e !== null && stringValue(e) !== undefined);
}

/** What the key-list walks need from the rule: scope lookups and the key-header walk. */
interface KeyListInputs {
  readonly declarationOf: (identifier: AstNode) => NearestDeclaration | undefined;
  readonly keyInput: DerivationWalk<string | undefined>;
  readonly parentOf: ReadonlyMap<AstNode, AstNode>;
}

/** The walks over key lists, sharing one memo per file. */
interface KeyLists {
  /** The secret-named source a value holding one or more keys is read from. */
  readonly keySource: DerivationWalk<KeySource | undefined>;
  /** Whether an identifier is one key of a key list (a callback parameter, a `for…of` binding). */
  readonly listElement: (identifier: AstNode, depth: number) => boolean;
  /** `keys.includes(header)`, `keys.indexOf(header)`, `keySet.has(header)`. */
  readonly listLookup: (call: AstNode) => ListLookup | undefined;
}

/** The key-list walks of one file. */
export function keyLists({ declarationOf, keyInput, parentOf }: KeyListInputs): KeyLists {
  /**
   * A secret-named env variable (`process.env.API_KEYS`), CONSTANT, setting (`config.adminKeys`) or
   * list of literals, through `?? ''`, `.split(',')`, `.map(…)`, `.filter(…)`, `JSON.parse`,
   * `Array.from`, `new Set(…)`, `[...list]` and local `const`/`let` bindings. A list of origins or
   * hosts (`ALLOWED_ORIGINS`) has no secret-named source.
   */
  const keySource: DerivationWalk<KeySource | undefined> = derivationWalk(undefined, (start, depth) => {
    let n: AstNode | undefined = start;
    let list = false;
    // Chains of key-keeping calls and fallbacks are stripped in one loop: their length costs no depth.
    for (;;) {
      const callee = n?.type === 'CallExpression' ? unwrap(child(n, 'callee')) : undefined;
      const method = memberPropertyName(callee) ?? '';
      if (callee?.type === 'MemberExpression' && KEY_KEEPING.has(method)) {
        list ||= LIST_MAKING.has(method);
        n = unwrap(child(callee, 'object'));
      } else if (n?.type === 'LogicalExpression') n = unwrap(child(n, 'left'));
      else break;
    }
    if (!n) return undefined;
    const env = envReadName(n);
    if (env !== undefined)
      return secretListName(env, 'env') ? { name: env, kind: list ? 'list' : 'string' } : undefined;
    const next = (node: AstNode | undefined, asList = list): KeySource | undefined => {
      const source = keySource(node, depth + 1);
      return source?.kind === 'string' && asList ? { name: source.name, kind: 'list' } : source;
    };
    if (n.type === 'Identifier') {
      const name = n.name as string;
      if (denies(name)) return undefined;
      const declaration = declarationOf(n);
      const init = declaration?.kind === 'const' || declaration?.kind === 'let' ? declaration.init : undefined;
      if (literalList(init)) return secretListName(name, 'code') ? { name, kind: 'literal' } : undefined;
      if (init !== undefined) return next(init);
      return isConstantName(name) && secretListName(name, 'code') ? { name, kind: 'list' } : undefined;
    }
    if (n.type === 'MemberExpression') {
      const path = memberPath(n) ?? [];
      const last = path.at(-1);
      const setting = path.slice(0, -1).some((part) => SETTINGS_OBJECT.test(part));
      return setting && last !== undefined && secretListName(last, 'code') ? { name: last, kind: 'list' } : undefined;
    }
    const first = children(n, 'arguments')[0];
    if (n.type === 'NewExpression')
      return memberPath(child(n, 'callee'))?.join('.') === 'Set' ? next(first, true) : undefined;
    if (n.type === 'CallExpression') {
      const callee = memberPath(child(n, 'callee'))?.join('.');
      return callee === 'JSON.parse' || callee === 'Array.from' ? next(first, true) : undefined;
    }
    const elements = n.type === 'ArrayExpression' ? children(n, 'elements') : [];
    return elements.length === 1 && elements[0]?.type === 'SpreadElement'
      ? next(child(elements[0], 'argument'), true)
      : undefined;
  });
  /** A source of several keys: a string's characters are no keys. */
  const keys = (node: AstNode | undefined, depth: number): boolean => {
    const source = keySource(node, depth);
    return source !== undefined && source.kind !== 'string';
  };
  /**
   * Whether an identifier is one key of a static key list: the first parameter of a callback
   * handed each element (`keys.some((k) => …)`) or the binding of a `for (const k of keys)` loop.
   */
  const listElement = (n: AstNode, depth: number): boolean => {
    const declaration = declarationOf(n);
    if (declaration?.site === 'parameter') {
      const fn = parentOf.get(declaration.id);
      const call = fn && parentOf.get(fn);
      const callee = call?.type === 'CallExpression' ? unwrap(child(call, 'callee')) : undefined;
      if (!fn || children(fn, 'params')[0] !== declaration.id || children(call!, 'arguments')[0] !== fn) return false;
      if (callee?.type !== 'MemberExpression' || !LIST_ITERATION.has(memberPropertyName(callee) ?? '')) return false;
      return keys(child(callee, 'object'), depth + 1);
    }
    if (declaration?.site === 'loop') {
      const loop = parentOf.get(parentOf.get(parentOf.get(declaration.id) ?? declaration.id) ?? declaration.id);
      return loop?.type === 'ForOfStatement' && keys(child(loop, 'right'), depth + 1);
    }
    return false;
  };
  /** `keys.includes(header)`, `keys.indexOf(header)`, `keySet.has(header)`; `secret.includes(header)` too. */
  const listLookup = (call: AstNode): ListLookup | undefined => {
    const callee = unwrap(child(call, 'callee'));
    const method = callee?.type === 'MemberExpression' ? memberPropertyName(callee) : undefined;
    if (method === undefined || !LIST_LOOKUP.has(method)) return undefined;
    const header = keyInput(children(call, 'arguments')[0]);
    const source = header === undefined ? undefined : keySource(child(callee!, 'object'));
    if (header === undefined || source === undefined || (source.kind === 'string' && method === 'has'))
      return undefined;
    return { header, method, source };
  };
  return { keySource, listElement, listLookup };
}
