import { envReadName } from '../env-reads.ts';
import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  memberPath,
  memberPropertyName,
  propertyKeyName,
  stringRanges,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { importBindings, moduleBindings } from '../js-module-bindings.ts';
import { isShadowed, type NearestDeclaration, nearestDeclaration } from '../js-scope.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { isConstantName, isSecretName, nameWords } from '../secret-names.ts';
import { type DerivationWalk, derivationWalk, derivedFrom, objectPath, RANDOM_CALL } from './derived-value.ts';

const ID = 'static-admin-key';

const KEY_HEADER =
  /^(x-)?(admin|api|internal|service|master|access|auth|secret|app)[-_]?(key|token|secret)$|^(x-api-key|x-admin-token|authorization|x-auth-token|x-access-token)$/i;
const KEY_QUERY = /^(api[_-]?key|apikey|key|token|access[_-]?token|admin[_-]?key|secret)$/i;

/** The header or query parameter name a request read uses, if the node is one. */
function requestKeyRead(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'MemberExpression') {
    // The last two parts decide; the whole path (a walk down the chain) is read only where they match,
    // so that every link of a long `a.b.b…` chain is not walked again.
    const name = memberPropertyName(n);
    const object = unwrap(child(n, 'object'));
    const holder = (
      object?.type === 'Identifier' ? (object.name as string) : memberPropertyName(object)
    )?.toLowerCase();
    if (name === undefined) return undefined;
    const read =
      ((holder === 'headers' || holder === 'header') && KEY_HEADER.test(name)) ||
      ((holder === 'query' || holder === 'searchparams') && KEY_QUERY.test(name));
    return read && memberPath(n) !== undefined ? name : undefined;
  }
  if (n.type === 'CallExpression') {
    const method = memberPath(child(n, 'callee'));
    const arg = stringValue(children(n, 'arguments')[0]);
    if (!method || arg === undefined) return undefined;
    const last = method.at(-1)!;
    if ((last === 'get' || last === 'header' || last === 'getHeader') && KEY_HEADER.test(arg)) return arg;
    if ((last === 'get' || last === 'query') && method.at(-2)?.toLowerCase().includes('search') && KEY_QUERY.test(arg))
      return arg;
    if (last === 'query' && KEY_QUERY.test(arg)) return arg;
  }
  return undefined;
}

function trivialOperand(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (!n) return true;
  if (n.type === 'Literal')
    return n.value === null || typeof n.value === 'number' || typeof n.value === 'boolean' || n.value === '';
  if (n.type === 'Identifier') return n.name === 'undefined';
  if (n.type === 'UnaryExpression') return n.operator === 'typeof' || n.operator === 'void';
  if (n.type === 'MemberExpression') return /^(length|size|type|kind)$/.test(memberPath(n)?.at(-1) ?? '');
  return false;
}

/** The secret name a compared operand carries: env secret, or an identifier/member with a secret name. */
function secretOperand(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  const env = envReadName(n);
  if (env !== undefined) return isSecretName(env, 'env') ? env : undefined;
  const last = memberPath(n)?.at(-1);
  if (last === undefined) return undefined;
  const words = nameWords(last);
  // Bare `key` in code is too often a keyboard key or a map key.
  if (words.length === 1 && words[0] === 'key') return undefined;
  // Parsers are full of `token`, `prevToken`, `lastToken`: a token is a secret only when qualified.
  if (words.includes('token') && !words.some((w) => TOKEN_QUALIFIERS.has(w))) return undefined;
  if (words.includes('credentials') || words.includes('credential')) return undefined;
  // A salt is public by design (hash libraries compare salt sentinels): no timing secret.
  if (words.includes('salt')) return undefined;
  return isSecretName(last, 'code') ? last : undefined;
}

const TOKEN_QUALIFIERS = new Set([
  'access',
  'refresh',
  'auth',
  'api',
  'bearer',
  'csrf',
  'xsrf',
  'session',
  'reset',
  'id',
  'admin',
  'service',
  'secret',
  'webhook',
  'verification',
  'invite',
  'magic',
  'jwt',
]);

/** An env read of a secret-looking variable (`process.env.API_TOKEN`). */
function envSecret(node: AstNode | undefined): string | undefined {
  const env = envReadName(unwrap(node));
  return env !== undefined && isSecretName(env, 'env') ? env : undefined;
}

const STORED_WORDS = new Set([
  'expected',
  'computed',
  'stored',
  'valid',
  'configured',
  'server',
  'session',
  'config',
  'settings',
  'env',
  'known',
  'correct',
  'saved',
  'db',
  'user',
  'account',
  'record',
  'row',
  'client',
]);

/** Whether an operand holds the secret the other side is checked against. */
function storedSide(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (!n || trivialOperand(n)) return false;
  if (envReadName(n) !== undefined || stringValue(n) !== undefined || n.type === 'TemplateLiteral') return true;
  if (n.type === 'Identifier' && isConstantName(n.name as string)) return true;
  const path = memberPath(n) ?? [];
  return path.some((part) => nameWords(part).some((w) => STORED_WORDS.has(w)));
}

/**
 * Names of module-scope `const` bindings: loaded once at start-up, so a secret-named one is the
 * stored key (`const apiKey = loadKey(); … provided === apiKey`).
 */
function moduleConstants(program: AstNode): Set<string> {
  return new Set(moduleBindings(program).flatMap((b) => (b.kind === 'const' ? [b.name] : [])));
}

// Constant-time compares: timing-safe, but a static key checked with one is still a shared key.
const CONSTANT_TIME_COMPARE =
  /^(timingSafeEqual|timingSafeCompare|safeCompare|secureCompare|constantTimeEqual|tsscmp)$/;
const SETTINGS_OBJECT = /^(config|settings|env)$/i;

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

/** Local names bound to what a module imports: `import { timingSafeEqual as tse }` → `tse` → `timingSafeEqual`. */
function importedNames(program: AstNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const [local, binding] of importBindings(program)) if (binding.name !== '*') out.set(local, binding.name);
  return out;
}

/** `const { 'x-api-key': key } = req.headers`: the locals bound to key headers or query values. */
function destructuredKeyReads(declarator: AstNode): Array<readonly [string, string]> {
  const pattern = child(declarator, 'id');
  const holder = memberPath(child(declarator, 'init'))?.at(-1)?.toLowerCase();
  if (pattern?.type !== 'ObjectPattern' || holder === undefined) return [];
  const key =
    holder === 'headers' ? KEY_HEADER : holder === 'query' || holder === 'searchparams' ? KEY_QUERY : undefined;
  const out: Array<readonly [string, string]> = [];
  for (const property of children(pattern, 'properties')) {
    const name = propertyKeyName(property);
    let value = child(property, 'value');
    if (value?.type === 'AssignmentPattern') value = child(value, 'left');
    if (key && name !== undefined && key.test(name) && value?.type === 'Identifier')
      out.push([value.name as string, name]);
  }
  return out;
}

function check(context: FileContext): RawFinding[] {
  const { nodes, program, parentOf } = context.module;
  const constants = moduleConstants(program);
  const imported = importedNames(program);
  const isModuleConstant = (n: AstNode): boolean =>
    n.type === 'Identifier' && constants.has(n.name as string) && !isShadowed(n, n.name as string, parentOf);
  /** A secret-named module-scope constant: the stored side and the secret at once. */
  const storedSecret = (node: AstNode | undefined): string | undefined => {
    const n = unwrap(node);
    return n && isModuleConstant(n) ? secretOperand(n) : undefined;
  };
  // Local aliases: `const key = req.headers['x-admin-key']`, `const { 'x-api-key': key } = req.headers`.
  const aliases = new Map<string, string>();
  // Member paths assigned in the file (`config.api.token = …`), for where a setting comes from.
  const assigned = new Map<string, AstNode[]>();
  for (const node of nodes) {
    if (node.type === 'AssignmentExpression' && node.operator === '=') {
      const target = memberPath(child(node, 'left'))?.join('.');
      const value = child(node, 'right');
      if (target !== undefined && value) {
        const values = assigned.get(target);
        if (values) values.push(value);
        else assigned.set(target, [value]);
      }
    }
    if (node.type !== 'VariableDeclarator') continue;
    const id = child(node, 'id');
    const header = requestKeyRead(child(node, 'init'));
    if (id?.type === 'Identifier' && header !== undefined) aliases.set(id.name as string, header);
    for (const [local, name] of destructuredKeyReads(node)) aliases.set(local, name);
  }
  // Digests and constant-time compares matter only where the file reads a key header at all.
  const readsKey = aliases.size > 0 || nodes.some((node) => requestKeyRead(node) !== undefined);
  const headerOf = (node: AstNode | undefined): string | undefined => {
    const n = unwrap(node);
    if (n?.type === 'Identifier' && aliases.has(n.name as string)) return aliases.get(n.name as string);
    return requestKeyRead(n);
  };
  const declarations = new WeakMap<AstNode, NearestDeclaration | undefined>();
  /** The declaration an identifier refers to, looked up once per identifier. */
  const declarationOf = (n: AstNode): NearestDeclaration | undefined => {
    if (!declarations.has(n)) declarations.set(n, nearestDeclaration(n, n.name as string, parentOf));
    return declarations.get(n);
  };
  /** The local constant's initializer an identifier stands for (`const digest = sha256(key)`). */
  const localInit = (n: AstNode): AstNode | undefined => {
    if (n.type !== 'Identifier') return undefined;
    const declaration = declarationOf(n);
    return declaration?.kind === 'const' ? declaration.init : undefined;
  };
  /** The key header an operand is computed from: read directly, or hashed, encoded, or held in a local. */
  const keyInput: DerivationWalk<string | undefined> = derivationWalk(undefined, (n, depth) => {
    const direct = headerOf(n);
    if (direct !== undefined) return direct;
    for (const input of derivedFrom(n) ?? [localInit(n)]) {
      const header = keyInput(input, depth + 1);
      if (header !== undefined) return header;
    }
    return undefined;
  });
  /**
   * The secret-named source a value holding one or more keys is read from: a secret-named env
   * variable (`process.env.API_KEYS`), CONSTANT or setting (`config.adminKeys`), through `?? ''`,
   * `.split(',')`, `.map(…)`, `.filter(…)`, `JSON.parse`, `Array.from`, `new Set(…)`, `[...list]`
   * and local constants. A list of origins or hosts (`ALLOWED_ORIGINS`) has no secret-named source.
   */
  const keySource: DerivationWalk<string | undefined> = derivationWalk(undefined, (start, depth) => {
    let n: AstNode | undefined = start;
    // Chains of key-keeping calls and fallbacks are stripped in one loop: their length costs no depth.
    for (;;) {
      const callee = n?.type === 'CallExpression' ? unwrap(child(n, 'callee')) : undefined;
      if (callee?.type === 'MemberExpression' && KEY_KEEPING.has(memberPropertyName(callee) ?? '')) {
        n = unwrap(child(callee, 'object'));
      } else if (n?.type === 'LogicalExpression') n = unwrap(child(n, 'left'));
      else break;
    }
    if (!n) return undefined;
    const env = envSecret(n);
    if (env !== undefined) return env;
    const next = (node: AstNode | undefined): string | undefined => keySource(node, depth + 1);
    if (n.type === 'Identifier') {
      const init = localInit(n);
      const name = n.name as string;
      if (init !== undefined) return next(init);
      return isConstantName(name) && isSecretName(name, 'code') ? name : undefined;
    }
    if (n.type === 'MemberExpression') {
      const path = memberPath(n) ?? [];
      const last = path.at(-1);
      const setting = path.slice(0, -1).some((part) => SETTINGS_OBJECT.test(part));
      return setting && last !== undefined && isSecretName(last, 'code') ? last : undefined;
    }
    const first = children(n, 'arguments')[0];
    if (n.type === 'NewExpression')
      return memberPath(child(n, 'callee'))?.join('.') === 'Set' ? next(first) : undefined;
    if (n.type === 'CallExpression') {
      const callee = memberPath(child(n, 'callee'))?.join('.');
      return callee === 'JSON.parse' || callee === 'Array.from' ? next(first) : undefined;
    }
    const elements = n.type === 'ArrayExpression' ? children(n, 'elements') : [];
    return elements.length === 1 && elements[0]?.type === 'SpreadElement'
      ? next(child(elements[0], 'argument'))
      : undefined;
  });
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
      return keySource(child(callee, 'object'), depth + 1) !== undefined;
    }
    if (declaration?.site === 'loop') {
      const loop = parentOf.get(parentOf.get(parentOf.get(declaration.id) ?? declaration.id) ?? declaration.id);
      return loop?.type === 'ForOfStatement' && keySource(child(loop, 'right'), depth + 1) !== undefined;
    }
    return false;
  };
  /** Whether a value is generated at random (`randomBytes(32).toString('hex')`, a local bound to one). */
  const random: DerivationWalk<boolean> = derivationWalk(false, (n, depth) => {
    const callee = n.type === 'CallExpression' ? memberPath(child(n, 'callee'))?.at(-1) : undefined;
    if (callee !== undefined && RANDOM_CALL.test(callee)) return true;
    return (derivedFrom(n) ?? [localInit(n)]).some((input) => random(input, depth + 1));
  });
  // Per depth and path: every read of one setting shares the answer instead of rescanning its assignments.
  const assignedRandom = new Map<string, boolean>();
  /** Whether an assignment to a setting's path, or to an object holding it, gives it a random value. */
  const randomAssignment = (path: readonly string[], depth: number): boolean => {
    const key = `${depth}:${path.join('.')}`;
    let value = assignedRandom.get(key);
    if (value === undefined) {
      value = false;
      for (let i = 1; i <= path.length && !value; i++) {
        const values = assigned.get(path.slice(0, i).join('.')) ?? [];
        value = values.some((assignment) => random(objectPath(assignment, path.slice(i)), depth + 1));
      }
      assignedRandom.set(key, value);
    }
    return value;
  };
  /**
   * A `config.…` setting set in this file to a random value: in the object literal bound to its
   * root, or by an assignment to it or to an object holding it (`config.api = { token: … }`).
   */
  const randomSetting = (n: AstNode, path: readonly string[], depth: number): boolean => {
    let root = unwrap(child(n, 'object'));
    while (root?.type === 'MemberExpression') root = unwrap(child(root, 'object'));
    const bound = root?.type === 'Identifier' ? objectPath(localInit(root), path.slice(1)) : undefined;
    return random(bound, depth + 1) || randomAssignment(path, depth);
  };
  /**
   * Whether an operand is fixed at start-up, not computed from the request: a literal, an env value,
   * a CONSTANT, a `const` bound to such a value, a `config.…`/`settings.…` value, or a hash of only
   * such values (an HMAC of a request body with a static secret is not: its data comes from the
   * request). Another object's property (`repo.current.keyHash`) is state, and a value generated at
   * random once per process is no shared key.
   */
  const staticValue: DerivationWalk<boolean> = derivationWalk(false, (n, depth) => {
    if (stringValue(n) !== undefined || envReadName(n) !== undefined) return true;
    if (n.type === 'Identifier') {
      const init = localInit(n);
      if (init && random(init, depth + 1)) return false;
      return (
        isConstantName(n.name as string) ||
        (init !== undefined && staticValue(init, depth + 1)) ||
        listElement(n, depth)
      );
    }
    if (n.type === 'MemberExpression') {
      const path = memberPath(n) ?? [];
      return path.slice(0, -1).some((part) => SETTINGS_OBJECT.test(part)) && !randomSetting(n, path, depth);
    }
    const from = derivedFrom(n);
    return from !== undefined && from.length > 0 && from.every((input) => staticValue(input, depth + 1));
  });
  /** The key header one side is computed from, when the other side is static. */
  const keyAgainstStatic = (a: AstNode | undefined, b: AstNode | undefined): string | undefined => {
    if (!readsKey) return undefined;
    return (staticValue(b) ? keyInput(a) : undefined) ?? (staticValue(a) ? keyInput(b) : undefined);
  };
  const out: RawFinding[] = [];
  const headerFinding = (header: string, how: string, node: AstNode): RawFinding => ({
    ruleId: ID,
    severity: 'error',
    message: `The "${header}" request value is ${how}. Authenticate with an OAuth bearer token and a scope (@rampart/bearer).`,
    start: node.start,
    end: node.end,
    key: `header:${header}`,
    redact: stringRanges(node, nodes),
  });
  /** `left <operator> right`; `node` locates the finding (the comparison, or the `case`). */
  const compare = (left: AstNode | undefined, right: AstNode | undefined, operator: string, node: AstNode): void => {
    if (trivialOperand(left) || trivialOperand(right)) return;
    const literal = stringValue(left) ?? stringValue(right);
    const against = literal !== undefined ? 'a literal' : 'a static value';
    const header = headerOf(left) ?? headerOf(right);
    if (header !== undefined) {
      out.push(
        headerFinding(
          header,
          `compared with ${against} using ${operator}: a shared static key with a timing-unsafe compare`,
          node,
        ),
      );
      return;
    }
    // A digest of the key compared with a stored digest is still the one static key.
    const digested = keyAgainstStatic(left, right);
    if (digested !== undefined) {
      out.push(
        headerFinding(
          digested,
          `compared with ${against} using ${operator} through a hash, an encoding or a local: a shared static key`,
          node,
        ),
      );
      return;
    }
    // A timing leak needs a known secret on one side: an env value, a literal, a constant, or a value
    // named as the stored/expected one. Two request-side values (`token !== headerToken`,
    // `password !== confirmPassword`) are an identity check.
    const secret =
      envSecret(left) ??
      envSecret(right) ??
      (storedSide(right) ? secretOperand(left) : undefined) ??
      (storedSide(left) ? secretOperand(right) : undefined) ??
      storedSecret(left) ??
      storedSecret(right);
    if (secret === undefined) return;
    out.push({
      ruleId: ID,
      severity: 'error',
      message: `"${secret}" is compared with ${operator}, which leaks its length and prefix through timing. Compare digests with crypto.timingSafeEqual, or use @rampart/bearer instead of a static key.`,
      start: node.start,
      end: node.end,
      key: `compare:${secret}`,
      redact: stringRanges(node, nodes),
    });
  };
  /** `keys.includes(header)`, `keys.indexOf(header)`, `keySet.has(header)` with keys from a secret-named source. */
  const listLookup = (call: AstNode): { header: string; method: string; source: string } | undefined => {
    const callee = unwrap(child(call, 'callee'));
    const method = callee?.type === 'MemberExpression' ? memberPropertyName(callee) : undefined;
    if (method === undefined || !LIST_LOOKUP.has(method)) return undefined;
    const header = keyInput(children(call, 'arguments')[0]);
    const source = header === undefined ? undefined : keySource(child(callee!, 'object'));
    return header !== undefined && source !== undefined ? { header, method, source } : undefined;
  };
  for (const node of nodes) {
    if (node.type === 'BinaryExpression' && /^[!=]==?$/.test(node.operator as string)) {
      compare(child(node, 'left'), child(node, 'right'), node.operator as string, node);
    } else if (node.type === 'SwitchStatement') {
      // `switch (key) { case ADMIN_KEY: … }` compares with ===.
      for (const branch of children(node, 'cases')) {
        const test = child(branch, 'test');
        if (test) compare(child(node, 'discriminant'), test, 'switch/case (===)', test);
      }
    } else if (node.type === 'CallExpression') {
      const lookup = readsKey ? listLookup(node) : undefined;
      if (lookup !== undefined) {
        out.push(
          headerFinding(
            lookup.header,
            `looked up with .${lookup.method}() in a list of static keys (${lookup.source}): shared keys with no identity, scope or expiry`,
            node,
          ),
        );
        continue;
      }
      const callee = memberPath(child(node, 'callee'));
      // `import { timingSafeEqual as tse }`: the imported name.
      const name = callee?.length === 1 ? (imported.get(callee[0]!) ?? callee[0]) : callee?.at(-1);
      const [a, b] = children(node, 'arguments');
      if (name === undefined || !CONSTANT_TIME_COMPARE.test(name) || !a || !b) continue;
      // Only a key header against a static value: a webhook HMAC of the body against its signature header passes.
      const header = keyAgainstStatic(a, b);
      if (header !== undefined) {
        out.push(
          headerFinding(
            header,
            `checked against a static key with ${name}: timing-safe, but still one shared key for every caller (no identity, no scope, no expiry)`,
            node,
          ),
        );
      }
    }
  }
  return out;
}

/** `static-admin-key`: static key headers compared to env or literals, and timing-unsafe secret compares. */
export const staticAdminKey: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A static API/admin key header is compared to an env value or literal, or a secret is compared with ===.',
  fix: 'Use OAuth bearer + scope (@rampart/bearer); where a secret compare remains, use crypto.timingSafeEqual on digests.',
  appliesTo: (file) => /\.[cm]?[jt]sx?$/.test(file) && !/\.d\.[cm]?ts$/.test(file),
  check,
};
