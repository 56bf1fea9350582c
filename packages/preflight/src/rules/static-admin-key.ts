import type { RawFinding } from '../finding.ts';
import {
  type AstNode,
  child,
  children,
  envReadName,
  isShadowed,
  memberPath,
  moduleBindings,
  stringRanges,
  stringValue,
  unwrap,
} from '../js-ast.ts';
import type { FileContext, FileRule } from '../rule.ts';
import { isSecretName, nameWords } from '../secret-names.ts';

const ID = 'static-admin-key';

const KEY_HEADER =
  /^(x-)?(admin|api|internal|service|master|access|auth|secret|app)[-_]?(key|token|secret)$|^(x-api-key|x-admin-token|authorization|x-auth-token|x-access-token)$/i;
const KEY_QUERY = /^(api[_-]?key|apikey|key|token|access[_-]?token|admin[_-]?key|secret)$/i;

/** The header or query parameter name a request read uses, if the node is one. */
function requestKeyRead(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  if (n.type === 'MemberExpression') {
    const path = memberPath(n);
    if (!path || path.length < 2) return undefined;
    const name = path.at(-1)!;
    const holder = path.at(-2)!.toLowerCase();
    if ((holder === 'headers' || holder === 'header') && KEY_HEADER.test(name)) return name;
    if ((holder === 'query' || holder === 'searchparams') && KEY_QUERY.test(name)) return name;
    return undefined;
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
  if (n.type === 'Identifier' && /^[A-Z][A-Z0-9_]*$/.test(n.name as string)) return true;
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

function check(context: FileContext): RawFinding[] {
  const { nodes, program } = context.module;
  const constants = moduleConstants(program);
  /** A secret-named module-scope constant: the stored side and the secret at once. */
  const storedSecret = (node: AstNode | undefined): string | undefined => {
    const n = unwrap(node);
    if (n?.type !== 'Identifier' || !constants.has(n.name as string)) return undefined;
    return isShadowed(n, n.name as string, context.module.parentOf) ? undefined : secretOperand(n);
  };
  // Local aliases: `const key = req.headers['x-admin-key']`.
  const aliases = new Map<string, string>();
  for (const node of nodes) {
    if (node.type !== 'VariableDeclarator') continue;
    const id = child(node, 'id');
    const header = requestKeyRead(child(node, 'init'));
    if (id?.type === 'Identifier' && header !== undefined) aliases.set(id.name as string, header);
  }
  const headerOf = (node: AstNode | undefined): string | undefined => {
    const n = unwrap(node);
    if (n?.type === 'Identifier' && aliases.has(n.name as string)) return aliases.get(n.name as string);
    return requestKeyRead(n);
  };
  const out: RawFinding[] = [];
  for (const node of nodes) {
    if (node.type !== 'BinaryExpression' || !/^[!=]==?$/.test(node.operator as string)) continue;
    const left = child(node, 'left');
    const right = child(node, 'right');
    if (trivialOperand(left) || trivialOperand(right)) continue;
    const header = headerOf(left) ?? headerOf(right);
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
    const literal = stringValue(left) ?? stringValue(right);
    if (header !== undefined) {
      out.push({
        ruleId: ID,
        severity: 'error',
        message: `The "${header}" request value is compared with ${literal !== undefined ? 'a literal' : 'a static value'} using ${node.operator as string}: a shared static key with a timing-unsafe compare. Authenticate with an OAuth bearer token and a scope (@rampart/bearer).`,
        start: node.start,
        end: node.end,
        key: `header:${header}`,
        redact: stringRanges(node, nodes),
      });
    } else if (secret !== undefined) {
      out.push({
        ruleId: ID,
        severity: 'error',
        message: `"${secret}" is compared with ${node.operator as string}, which leaks its length and prefix through timing. Compare digests with crypto.timingSafeEqual, or use @rampart/bearer instead of a static key.`,
        start: node.start,
        end: node.end,
        key: `compare:${secret}`,
        redact: stringRanges(node, nodes),
      });
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
