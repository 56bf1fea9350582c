// Static API/admin keys: a key header checked against an env value, a literal or a key list,
// and secrets compared with a timing-unsafe operator.
import { envReadName } from '../env-reads.ts';
import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  isWrapper,
  literalText,
  memberPath,
  memberPropertyName,
  stringRanges,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import { importBindings, moduleBindings } from '../js-module-bindings.ts';
import { isShadowed, type NearestDeclaration, nearestDeclaration } from '../js-scope.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { isConstantName } from '../secret-names.ts';
import { type DerivationWalk, derivationWalk, derivedFrom, objectPath, RANDOM_CALL } from './derived-value.ts';
import { isSettingPath, keyLists, type ListLookup } from './key-lists.ts';
import { destructuredKeyReads, prefixStripped, requestKeyRead } from './key-reads.ts';
import { envSecret, labelLiteral, secretOperand, storedSide, trivialOperand } from './secret-operands.ts';

const ID = 'static-admin-key';

/**
 * Names of module-scope `const` bindings: loaded once at start-up, so a secret-named one is the
 * stored key (`const apiKey = loadKey(); … provided === apiKey`).
 */
function moduleConstants(program: AstNode): Map<string, AstNode | undefined> {
  return new Map(moduleBindings(program).flatMap((b) => (b.kind === 'const' ? [[b.name, b.init] as const] : [])));
}

// Where a request carries values: `req.body.x`, `c.req.query('x')`, `request.headers.get('x')`.
const REQUEST_ROOT = /^(req|request|ctx|context|event)$/;
const REQUEST_HOLDER = /^(headers|header|query|body|params|param|cookies|searchParams|getHeader)$/;

// Constant-time compares: timing-safe, but a static key checked with one is still a shared key.
const CONSTANT_TIME_COMPARE =
  /^(timingSafeEqual|timingSafeCompare|safeCompare|secureCompare|constantTimeEqual|tsscmp)$/;

/** Local names bound to what a module imports: `import { timingSafeEqual as tse }` → `tse` → `timingSafeEqual`. */
function importedNames(program: AstNode): Map<string, string> {
  const out = new Map<string, string>();
  for (const [local, binding] of importBindings(program)) if (binding.name !== '*') out.set(local, binding.name);
  return out;
}

function check(context: FileContext): RawFinding[] {
  const { nodes, program, parentOf } = context.module;
  const constants = moduleConstants(program);
  const imported = importedNames(program);
  const isModuleConstant = (n: AstNode): boolean =>
    n.type === 'Identifier' && constants.has(n.name as string) && !isShadowed(n, n.name as string, parentOf);
  /**
   * A module constant bound to a label, not a secret: `const REFRESH_TOKEN = 'refresh_token'` (its
   * own name), a protocol word, a mask (see {@link labelLiteral}).
   */
  const labelConstant = (node: AstNode | undefined): boolean => {
    const n = unwrap(node);
    if (!n || !isModuleConstant(n)) return false;
    const value = stringValue(constants.get(n.name as string));
    return value !== undefined && labelLiteral(n.name as string, value);
  };
  /** A secret-named module-scope constant: the stored side and the secret at once. */
  const storedSecret = (node: AstNode | undefined): string | undefined => {
    const n = unwrap(node);
    return n && isModuleConstant(n) ? secretOperand(n) : undefined;
  };
  // Local aliases: `const key = req.headers['x-admin-key']`, `const { 'x-api-key': key } = req.headers`.
  const aliases = new Map<string, string>();
  // Member paths assigned in the file (`config.api.token = …`), for where a setting comes from.
  const assigned = new Map<string, AstNode[]>();
  // Digests and constant-time compares matter only where the file reads a key header at all.
  let readsKey = false;
  for (const node of nodes) {
    // Inside `x as T as T …` each cast unwraps to the same read as the outermost one: read it once.
    if (!readsKey && !isWrapper(parentOf.get(node)) && requestKeyRead(node) !== undefined) readsKey = true;
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
  if (aliases.size > 0) readsKey = true;
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
    // `authorization.split(' ')[1]`, `.replace(/^Bearer /i, '')`, `.slice(7)`: the key without its scheme.
    const stripped = prefixStripped(n);
    if (stripped !== undefined) return keyInput(stripped, depth + 1);
    for (const input of derivedFrom(n) ?? [localInit(n)]) {
      const header = keyInput(input, depth + 1);
      if (header !== undefined) return header;
    }
    return undefined;
  });
  const { listElement, listLookup, nonKeyElement } = keyLists({ declarationOf, keyInput, nodes, parentOf });
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
    if (literalText(n) !== undefined || envReadName(n) !== undefined) return true;
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
      return isSettingPath(path) && !randomSetting(n, path, depth);
    }
    const from = derivedFrom(n);
    return from !== undefined && from.length > 0 && from.every((input) => staticValue(input, depth + 1));
  });
  /** The key header one side is computed from, when the other side is static. */
  const keyAgainstStatic = (a: AstNode | undefined, b: AstNode | undefined): string | undefined => {
    if (!readsKey) return undefined;
    return (staticValue(b) ? keyInput(a) : undefined) ?? (staticValue(a) ? keyInput(b) : undefined);
  };
  /** A value the request carries (`req.query.api_key`, `c.req.header('x')`, a local bound to one). */
  const requestValue: DerivationWalk<boolean> = derivationWalk(false, (n, depth) => {
    if (headerOf(n) !== undefined) return true;
    const stripped = prefixStripped(n);
    if (stripped !== undefined) return requestValue(stripped, depth + 1);
    const path = memberPath(n.type === 'CallExpression' ? child(n, 'callee') : n);
    const fromRequest = path !== undefined && (REQUEST_ROOT.test(path[0]!) || path.includes('req'));
    // `req.body.key`, `ctx.query.key`, `c.req.query('key')`, express `req.get('x-key')`.
    if (fromRequest && (path.slice(1).some((p) => REQUEST_HOLDER.test(p)) || path.join('.') === 'req.get')) return true;
    return (derivedFrom(n) ?? [localInit(n)]).some((input) => requestValue(input, depth + 1));
  });
  /** A field of a record read at request time (`row.apiKey`, `client.secret`): not a setting, not the request. */
  const recordField: DerivationWalk<string | undefined> = derivationWalk(undefined, (n, depth) => {
    if (n.type === 'MemberExpression') {
      const path = memberPath(n);
      // Not a setting (`config.apiKey`), not an env value, not a constant's (`KEYS.admin`) or this object's field.
      const record =
        path !== undefined &&
        path.length > 1 &&
        path[0] !== 'this' &&
        !isConstantName(path[0]!) &&
        !isSettingPath(path) &&
        envReadName(n) === undefined;
      return record ? path.join('.') : undefined;
    }
    for (const input of derivedFrom(n) ?? [localInit(n)]) {
      const field = recordField(input, depth + 1);
      if (field !== undefined) return field;
    }
    return undefined;
  });
  const out: RawFinding[] = [];
  const headerFinding = (
    header: string,
    how: string,
    node: AstNode,
    kind = 'header',
    advice = 'Authenticate with an OAuth bearer token and a scope (@rampart/bearer).',
  ): RawFinding => ({
    ruleId: ID,
    severity: 'error',
    message: `The "${header}" request value is ${how}. ${advice}`,
    start: node.start,
    end: node.end,
    key: `${kind}:${header}`,
    redact: stringRanges(node, nodes),
  });
  /** `left <operator> right`; `node` locates the finding (the comparison, or the `case`). */
  const compare = (left: AstNode | undefined, right: AstNode | undefined, operator: string, node: AstNode): void => {
    if (trivialOperand(left) || trivialOperand(right)) return;
    // `for (const f of SECRET_FIELDS) if (key === f)`: checked against field names or scopes, not keys.
    if (nonKeyElement(unwrap(left)) || nonKeyElement(unwrap(right))) return;
    const literal = literalText(left) ?? literalText(right);
    const against = literal !== undefined ? 'a literal' : 'a static value';
    const leftHeader = headerOf(left);
    const header = leftHeader ?? headerOf(right);
    if (header !== undefined) {
      const other = leftHeader !== undefined ? right : left;
      // Two values from the request (`x-api-key` header against `api_key` query): a consistency check.
      if (requestValue(other)) return;
      // The message says what the other side is; the key (and so the fingerprint) stays `header:<name>`.
      // `Bearer ${process.env.ADMIN_TOKEN}`: a template of static values is one too.
      const template = unwrap(other);
      const fixed =
        literal !== undefined ||
        staticValue(other) ||
        (template?.type === 'TemplateLiteral' &&
          children(template, 'expressions').every((expression) => staticValue(expression)));
      const field = fixed ? undefined : recordField(other);
      if (field !== undefined) {
        out.push(
          headerFinding(
            header,
            `compared with a per-client record field (${field}) using ${operator}: a timing-unsafe compare of a stored key`,
            node,
            'header',
            'Store only a digest of each key and compare digests with crypto.timingSafeEqual; better, authenticate with an OAuth bearer token and a scope (@rampart/bearer).',
          ),
        );
      } else if (fixed) {
        out.push(
          headerFinding(
            header,
            `compared with ${against} using ${operator}: a shared static key with a timing-unsafe compare`,
            node,
          ),
        );
      } else {
        out.push(
          headerFinding(
            header,
            `compared with another value using ${operator}: a timing-unsafe key compare (and one shared key, if that value is configured once)`,
            node,
          ),
        );
      }
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
    // `grant_type === REFRESH_TOKEN`, `secret === SECRET_MASK`: a protocol word or a mask, no secret.
    if (labelConstant(left) || labelConstant(right)) return;
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
  const lookupFinding = ({ header, method, source }: ListLookup, node: AstNode): RawFinding => {
    if (method === 'startsWith' || method === 'endsWith') {
      return headerFinding(
        header,
        `tested with .${method}() against the secret ${source.name} itself: a prefix or suffix test, so any ${method === 'startsWith' ? 'leading' : 'trailing'} part of the secret passes (even an empty value), and the key is shared`,
        node,
        'substring',
      );
    }
    if (source.kind === 'string') {
      return headerFinding(
        header,
        `tested with .${method}() against the secret ${source.name} itself: a substring test, so any fragment of the secret passes (even an empty value), and the key is shared`,
        node,
        'substring',
      );
    }
    const list =
      source.kind === 'literal'
        ? `keys written in the source (${source.name}), which anyone who can read the code holds`
        : `a list of static keys (${source.name})`;
    return headerFinding(
      header,
      `looked up with .${method}() in ${list}: shared keys with no identity, scope or expiry`,
      node,
      source.kind === 'literal' ? 'literal-list' : 'list',
    );
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
        out.push(lookupFinding(lookup, node));
        continue;
      }
      const pattern = keyPattern(node);
      if (pattern !== undefined) {
        const header = headerOf(children(node, 'arguments')[0]);
        if (header !== undefined) {
          out.push(
            headerFinding(
              header,
              'tested against a regular expression that spells out one key: a shared static key written in the source',
              node,
            ),
          );
          continue;
        }
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

// A pattern that is one literal key (`^sk_live_abc…$`), not a format check (`^sk_live_[A-Za-z0-9]{24}$`).
const ONE_KEY_PATTERN = /^\^?[\w-]{12,}\$?$/;

/** `/^key$/.test(x)`: the pattern, when the regular expression spells out a single key. */
function keyPattern(call: AstNode): string | undefined {
  const callee = unwrap(child(call, 'callee'));
  if (callee?.type !== 'MemberExpression' || memberPropertyName(callee) !== 'test') return undefined;
  const regex = unwrap(child(callee, 'object'))?.regex as { pattern?: unknown } | undefined;
  return typeof regex?.pattern === 'string' && ONE_KEY_PATTERN.test(regex.pattern) ? regex.pattern : undefined;
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
