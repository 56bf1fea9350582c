// Keys kept in a list and looked up by value: `process.env.API_KEYS.split(',').includes(key)`,
// `keySet.has(key)`, `keys.some((k) => timingSafeEqual(…))`, `for (const k of keys)`, and a
// secret-named list of literals. Also the `.includes` of one secret string, a substring test.
import { envReadName } from '../env-reads.ts';
import {
  type AstNode,
  child,
  children,
  memberPath,
  memberPropertyName,
  nodesWithin,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { enclosingFunction, type NearestDeclaration } from '../js-scope.ts';
import { isConstantName, nameWords, secretNameCount } from '../secret-names.ts';
import { type DerivationWalk, derivationWalk } from './derived-value.ts';

/**
 * Whether a comparison of a lookup's result (its left operand) is true when the key is found
 * (`indexOf(key) !== -1`, `>= 0`, `includes(key) === true`), false (`=== -1`, `< 0`,
 * `includes(key) === false`), or undefined when it says neither.
 */
function trueWhenFound(comparison: AstNode): boolean | undefined {
  const operator = comparison.operator as string;
  const right = unwrap(child(comparison, 'right'));
  let value = right?.type === 'Literal' ? right.value : undefined;
  if (right?.type === 'UnaryExpression' && right.operator === '-') {
    const argument = unwrap(child(right, 'argument'));
    if (argument?.type === 'Literal' && typeof argument.value === 'number') value = -argument.value;
  }
  if (typeof value === 'boolean') {
    if (operator === '===' || operator === '==') return value;
    if (operator === '!==' || operator === '!=') return !value;
    return undefined;
  }
  if (value === -1 && (operator === '===' || operator === '==' || operator === '<=')) return false;
  if (value === 0 && operator === '<') return false;
  // Any other `!==`, `!=`, `>`, `>=`: a position test (`!== -1`, `> -1`, `>= 0`).
  return /^(!==?|>=?)$/.test(operator) ? true : undefined;
}

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
const LIST_LOOKUP = new Set(['includes', 'indexOf', 'lastIndexOf', 'has', 'startsWith', 'endsWith']);
// Of those, the tests of one string's ends: `secret.startsWith(key)` passes an empty key.
const PREFIX_TEST = new Set(['startsWith', 'endsWith']);
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
/** The objects whose properties are settings read at start-up: `config.apiKeys`, `settings.admin.token`. */
const SETTINGS_OBJECT = /^(config|settings|env)$/i;

/** Whether a member path reads a setting: a property of a settings object (`config.apiKeys`, `env.admin.token`). */
export const isSettingPath = (path: readonly string[]): boolean =>
  path.slice(0, -1).some((part) => SETTINGS_OBJECT.test(part));

// Lists of keys that are refused, not accepted: `REVOKED_API_KEYS`, `blockedTokens`, `TOKEN_BLOCK_LIST`,
// `INVALID_TOKENS`, `usedTokens`. Not `old` or `previous`: keys being rotated out are still accepted.
const DENY_WORDS = new Set([
  'revoked',
  'blocked',
  'block',
  'blocklist',
  'black',
  'blacklist',
  'blacklisted',
  'ban',
  'banned',
  'denied',
  'deny',
  'denylist',
  'disabled',
  'expired',
  'invalid',
  'leaked',
  'compromised',
  'used',
  'excluded',
  'rejected',
  'forbidden',
  'stolen',
]);
// Placeholder elements that no real key list holds: a list with one is a list of bad values.
const PLACEHOLDER = /^(|null|undefined|none|nil|nan|false|true|0)$/i;

const denies = (name: string): boolean => nameWords(name).some((w) => DENY_WORDS.has(w));

/**
 * How many secrets a list's name says it holds: `one` (`API_KEY`), `many` (`API_KEYS`, `ADMIN_TOKENS`,
 * `apiTokens`, `API_TOKENS_V2`), or undefined: no secret, or refused keys (`REVOKED_API_KEYS`).
 */
function secretListName(name: string, context: 'env' | 'code'): 'one' | 'many' | undefined {
  return denies(name) ? undefined : secretNameCount(name, context);
}

/**
 * `['a', 'b']` or `new Set(['a', 'b'])`: a list of string literals only; `placeholder` when one of
 * them is empty or `'null'`-like (a list of bad values, not of keys).
 */
function literalList(node: AstNode | undefined): 'keys' | 'placeholder' | undefined {
  let n = unwrap(node);
  if (n?.type === 'NewExpression' && memberPath(child(n, 'callee'))?.join('.') === 'Set') {
    n = unwrap(children(n, 'arguments')[0]);
  }
  if (n?.type !== 'ArrayExpression') return undefined;
  const values = (n.elements as ReadonlyArray<AstNode | null>).map((e) => (e === null ? undefined : stringValue(e)));
  if (values.length === 0 || values.some((v) => v === undefined)) return undefined;
  return values.some((v) => PLACEHOLDER.test(v!.trim())) ? 'placeholder' : 'keys';
}

// Nodes under which a status code is answered only sometimes, or later.
const CONDITIONAL = new Set([
  'ConditionalExpression',
  'LogicalExpression',
  'IfStatement',
  'SwitchStatement',
  'ArrowFunctionExpression',
  'FunctionExpression',
  'FunctionDeclaration',
]);

/** `return next(err)`: Express's error path refuses the request, it does not let it through. */
function passesError(statement: AstNode): boolean {
  let argument = unwrap(child(statement, 'argument'));
  if (argument?.type === 'AwaitExpression') argument = unwrap(child(argument, 'argument'));
  const callee = argument?.type === 'CallExpression' ? unwrap(child(argument, 'callee')) : undefined;
  return callee?.type === 'Identifier' && callee.name === 'next' && children(argument!, 'arguments').length > 0;
}

/** A branch's statements: a block's body, or the one statement. */
function statementsOf(branch: AstNode | undefined): AstNode[] {
  return branch?.type === 'BlockStatement' ? children(branch, 'body') : branch ? [branch] : [];
}

/** What the key-list walks need from the rule: scope lookups and the key-header walk. */
interface KeyListInputs {
  readonly declarationOf: (identifier: AstNode) => NearestDeclaration | undefined;
  readonly keyInput: DerivationWalk<string | undefined>;
  /** The file's nodes in source order. */
  readonly nodes: readonly AstNode[];
  readonly parentOf: ReadonlyMap<AstNode, AstNode>;
}

/** The walks over key lists, sharing one memo per file. */
interface KeyLists {
  /** Whether an identifier is one key of a key list (a callback parameter, a `for…of` binding). */
  readonly listElement: (identifier: AstNode, depth: number) => boolean;
  /** Whether an operand is an element of a named list that holds no keys (scopes, field names). */
  readonly nonKeyElement: (operand: AstNode | undefined) => boolean;
  /** `keys.includes(header)`, `keys.indexOf(header)`, `keySet.has(header)`. */
  readonly listLookup: (call: AstNode) => ListLookup | undefined;
}

/** The key-list walks of one file. */
export function keyLists({ declarationOf, keyInput, nodes, parentOf }: KeyListInputs): KeyLists {
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
    // A setting or an unresolved CONSTANT holds a list only by a plural name or a list-making call:
    // `config.apiKey.includes(key)` tests a substring of one string.
    const named = (name: string): KeySource | undefined => {
      const count = secretListName(name, 'code');
      return count === undefined ? undefined : { name, kind: list || count === 'many' ? 'list' : 'string' };
    };
    const next = (node: AstNode | undefined, asList = list): KeySource | undefined => {
      const source = keySource(node, depth + 1);
      return source?.kind === 'string' && asList ? { name: source.name, kind: 'list' } : source;
    };
    if (n.type === 'Identifier') {
      const name = n.name as string;
      if (denies(name)) return undefined;
      const declaration = declarationOf(n);
      const init = declaration?.kind === 'const' || declaration?.kind === 'let' ? declaration.init : undefined;
      const literal = literalList(init);
      if (literal !== undefined)
        return literal === 'keys' && secretListName(name, 'code') ? { name, kind: 'literal' } : undefined;
      // `const API_KEY = '…'`: one key written in the source, a string like an env value.
      if (stringValue(init) !== undefined) return named(name);
      if (init !== undefined) return next(init);
      return isConstantName(name) ? named(name) : undefined;
    }
    if (n.type === 'MemberExpression') {
      const path = memberPath(n) ?? [];
      const last = path.at(-1);
      const setting = isSettingPath(path);
      return setting && last !== undefined ? named(last) : undefined;
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
  /**
   * `if (list.includes(key)) throw …`, `… return res.status(401)…`, or the same in the `else` of a
   * negated test (`if (!list.includes(key)) next(); else throw …`) or after it, when the negated
   * test's branch returns (`if (!list.includes(key)) return next(); return res.status(401)…`): the
   * key is refused when found, so the list is a denylist whatever its name.
   */
  const refusedWhenFound = (call: AstNode): boolean => {
    let test: AstNode = call;
    let parent = parentOf.get(test);
    let found = true;
    let compared = false;
    for (;;) {
      if (parent?.type === 'UnaryExpression' && parent.operator === '!') found = !found;
      else if (!compared && parent?.type === 'BinaryExpression' && child(parent, 'left') === test) {
        // `list.indexOf(key) !== -1`, `>= 0`, `=== -1`, `list.includes(key) === false`
        const when = trueWhenFound(parent);
        if (when === undefined) break;
        found = found === when;
        compared = true;
      } else if (parent?.type !== 'ParenthesizedExpression') break;
      [test, parent] = [parent, parentOf.get(parent)];
    }
    if ((parent?.type !== 'IfStatement' && parent?.type !== 'ConditionalExpression') || child(parent, 'test') !== test)
      return false;
    const branch = child(parent, found ? 'consequent' : 'alternate');
    return branch ? refuses(statementsOf(branch)) : refusedAfter(parent);
  };
  /** Whether statements refuse the request: a `throw`, or a 401/403 outside a nested `if`. */
  const refuses = (statements: readonly AstNode[]): boolean =>
    statements.some((s) => s.type === 'ThrowStatement' || (s.type !== 'IfStatement' && refusalStatus(s)));
  /**
   * Whether an `if` without `else`, whose branch lets the request through and returns (`return
   * next()`, `return handler(req)`), is followed by a refusal that nothing makes conditional, before
   * anything else returns: `if (!list.includes(key)) return next(); return res.status(401)…`.
   */
  const refusedAfter = (statement: AstNode): boolean => {
    const own = statementsOf(child(statement, 'consequent'));
    const last = own.at(-1);
    if (last?.type !== 'ReturnStatement' || passesError(last) || refuses(own)) return false;
    const block = parentOf.get(statement);
    const body = block?.type === 'BlockStatement' ? children(block, 'body') : [];
    const at = body.indexOf(statement);
    if (at === -1) return false;
    for (const s of body.slice(at + 1)) {
      if (s.type === 'ThrowStatement' || unconditionalStatus(s)) return true;
      if (s.type === 'ReturnStatement') return false;
    }
    return false;
  };
  /** Whether a statement answers 401 or 403 whenever it runs: not in a ternary, a `&&`, an `if` or a callback. */
  const unconditionalStatus = (statement: AstNode): boolean => {
    if (CONDITIONAL.has(statement.type)) return false;
    for (const n of nodesWithin(statement, nodes)) {
      if (n.type !== 'Literal' || (n.value !== 401 && n.value !== 403)) continue;
      let p = parentOf.get(n);
      while (p && p !== statement && !CONDITIONAL.has(p.type)) p = parentOf.get(p);
      if (p === statement) return true;
    }
    return false;
  };
  /** Whether a statement holds a 401 or 403 (`res.status(401)`, `new Response(…, { status: 403 })`). */
  const refusalStatus = (statement: AstNode): boolean => {
    for (const n of nodesWithin(statement, nodes)) {
      if (n.type === 'Literal' && (n.value === 401 || n.value === 403)) return true;
    }
    return false;
  };
  /** A source of several keys: a string's characters are no keys. */
  const keys = (node: AstNode | undefined, depth: number): boolean => {
    const source = keySource(node, depth);
    return source !== undefined && source.kind !== 'string';
  };
  // Per `var` or parameter binding, the function that holds it (undefined: the module).
  const owners = new Map<NearestDeclaration, AstNode | undefined>();
  // Per binding, what the walk up from a node finds above it (`null`: no loop): the uses of one
  // binding share the steps above them, so many uses deep in a function cost the depth once.
  const loopsAbove = new Map<NearestDeclaration, Map<AstNode, AstNode | null>>();
  /**
   * The innermost `for (var k of list)` around a use of `k` whose head writes the binding the use
   * reads. All `var k` of a function are one binding, and a parameter `k` takes in a loop's `var
   * k`, so the declaration that comes first (another loop's head, a `var` in another branch, the
   * parameter) says nothing of the loop the use is in. The walk goes from the use up to the
   * function holding the binding, no further, and stops at a node an earlier use of the binding
   * walked through.
   */
  const varLoopAround = (n: AstNode, declaration: NearestDeclaration): AstNode | undefined => {
    if (!owners.has(declaration)) owners.set(declaration, enclosingFunction(declaration.id, parentOf));
    const owner = owners.get(declaration);
    let above = loopsAbove.get(declaration);
    if (above === undefined) {
      above = new Map();
      loopsAbove.set(declaration, above);
    }
    // Each node walked from, keyed by the node below the one looked at (a loop's body, not its head).
    const walked: AstNode[] = [];
    let found: AstNode | null = null;
    let from = n;
    for (let p = parentOf.get(n); p !== undefined && p !== owner; from = p, p = parentOf.get(p)) {
      const known = above.get(from);
      if (known !== undefined) {
        found = known;
        break;
      }
      walked.push(from);
      const head = p.type === 'ForOfStatement' && child(p, 'body') === from ? child(p, 'left') : undefined;
      if (head?.type !== 'VariableDeclaration' || head.kind !== 'var') continue;
      const [declarator] = children(head, 'declarations');
      const id = declarator && child(declarator, 'id');
      // The innermost such loop writes the binding, unless something nearer declares the name.
      if (id?.type === 'Identifier' && id.name === n.name) {
        found = declarationOf(id) === declaration ? p : null;
        break;
      }
    }
    for (const node of walked) above.set(node, found);
    return found ?? undefined;
  };
  /** Whether a binding may be shared with a loop's `var` head: a `var`, a `var` loop head, a parameter. */
  const sharedWithVar = (declaration: NearestDeclaration): boolean =>
    declaration.kind === 'var' ||
    declaration.site === 'parameter' ||
    (declaration.site === 'loop' && parentOf.get(parentOf.get(declaration.id) ?? declaration.id)?.kind === 'var');
  /**
   * The list an identifier is one element of: the list whose callback gets it as its first
   * parameter (`keys.some((k) => …)`), or the one a `for (const k of keys)` loop binds it from
   * (a `for (var k of keys)` around the use, whatever declares `k` first).
   */
  const elementList = (n: AstNode): AstNode | undefined => {
    const declaration = declarationOf(n);
    const loop = declaration && sharedWithVar(declaration) ? varLoopAround(n, declaration) : undefined;
    if (loop !== undefined) return child(loop, 'right');
    if (declaration?.site === 'parameter') {
      const fn = parentOf.get(declaration.id);
      const call = fn && parentOf.get(fn);
      const callee = call?.type === 'CallExpression' ? unwrap(child(call, 'callee')) : undefined;
      if (!fn || children(fn, 'params')[0] !== declaration.id || children(call!, 'arguments')[0] !== fn)
        return undefined;
      if (callee?.type !== 'MemberExpression' || !LIST_ITERATION.has(memberPropertyName(callee) ?? ''))
        return undefined;
      return child(callee, 'object');
    }
    if (declaration?.site === 'loop') {
      const loop = parentOf.get(parentOf.get(parentOf.get(declaration.id) ?? declaration.id) ?? declaration.id);
      return loop?.type === 'ForOfStatement' ? child(loop, 'right') : undefined;
    }
    return undefined;
  };
  /** Whether an identifier is one key of a static key list (see `elementList`). */
  const listElement = (n: AstNode, depth: number): boolean => {
    const list = elementList(n);
    return list !== undefined && keys(list, depth + 1);
  };
  /**
   * Whether an identifier is an element of a list the file names that holds no keys: a `const`, a
   * CONSTANT, an env variable or a setting (`for (const f of SECRET_FIELDS)`, `TOKEN_SCOPES.some((s) => …)`).
   * A list handed in as a parameter is unknown, not named.
   */
  const nonKeyElement = (n: AstNode | undefined): boolean => {
    const list = n?.type === 'Identifier' ? elementList(n) : undefined;
    if (list === undefined || keySource(list) !== undefined) return false;
    let root = unwrap(list);
    for (;;) {
      const callee = root?.type === 'CallExpression' ? unwrap(child(root, 'callee')) : undefined;
      if (callee?.type !== 'MemberExpression' || !KEY_KEEPING.has(memberPropertyName(callee) ?? '')) break;
      root = unwrap(child(callee, 'object'));
    }
    if (!root || envReadName(root) !== undefined) return root !== undefined;
    if (root.type === 'MemberExpression') return isSettingPath(memberPath(root) ?? []);
    if (root.type !== 'Identifier') return false;
    const kind = declarationOf(root)?.kind;
    return kind === 'const' || kind === 'let' || isConstantName(root.name as string);
  };
  /** `keys.includes(header)`, `keys.indexOf(header)`, `keySet.has(header)`; `secret.includes(header)` too. */
  const listLookup = (call: AstNode): ListLookup | undefined => {
    const callee = unwrap(child(call, 'callee'));
    const method = callee?.type === 'MemberExpression' ? memberPropertyName(callee) : undefined;
    if (method === undefined || !LIST_LOOKUP.has(method)) return undefined;
    const header = keyInput(children(call, 'arguments')[0]);
    const source = header === undefined ? undefined : keySource(child(callee!, 'object'));
    if (header === undefined || source === undefined) return undefined;
    if (source.kind === 'string' ? method === 'has' : PREFIX_TEST.has(method)) return undefined;
    return refusedWhenFound(call) ? undefined : { header, method, source };
  };
  return { listElement, listLookup, nonKeyElement };
}
