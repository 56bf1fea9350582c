// Which side of a comparison holds a secret, and which holds the stored value it is checked
// against: names (`apiSecret`, `expectedToken`), env reads and constants.
import { envReadName } from '../env-reads.ts';
import { type AstNode, keyLikeNumber, memberPath, stringValue, unwrap } from '../js-ast.ts';
import { isConstantName, isSecretName, nameWords } from '../secret-names.ts';

/**
 * An operand that carries no secret: `null`, a boolean, a small number (a count, a flag: `=== 0`),
 * `''`, `undefined`, a `typeof`, a `.length`. A number of four digits or more may be a PIN or a key.
 */
export function trivialOperand(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (!n) return true;
  if (n.type === 'Literal')
    return (
      n.value === null ||
      (typeof n.value === 'number' && !keyLikeNumber(n.value)) ||
      typeof n.value === 'boolean' ||
      n.value === ''
    );
  if (n.type === 'Identifier') return n.name === 'undefined';
  if (n.type === 'UnaryExpression') return n.operator === 'typeof' || n.operator === 'void';
  if (n.type === 'MemberExpression') return /^(length|size|type|kind)$/.test(memberPath(n)?.at(-1) ?? '');
  return false;
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

/** The secret name a compared operand carries: env secret, or an identifier/member with a secret name. */
export function secretOperand(node: AstNode | undefined): string | undefined {
  const n = unwrap(node);
  if (!n) return undefined;
  // An env read is named by its variable, under the env naming rules, never by the code ones below.
  if (envReadName(n) !== undefined) return envSecret(n);
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

/** An env read of a secret-looking variable (`process.env.API_TOKEN`). */
export function envSecret(node: AstNode | undefined): string | undefined {
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
export function storedSide(node: AstNode | undefined): boolean {
  const n = unwrap(node);
  if (!n || trivialOperand(n)) return false;
  if (envReadName(n) !== undefined || stringValue(n) !== undefined || n.type === 'TemplateLiteral') return true;
  if (n.type === 'Identifier' && isConstantName(n.name as string)) return true;
  const path = memberPath(n) ?? [];
  return path.some((part) => nameWords(part).some((w) => STORED_WORDS.has(w)));
}

// OAuth 2.0 / OIDC protocol words: grant types, token type hints, response types, client
// authentication methods. A constant holding one names a protocol value, not a secret.
const PROTOCOL_WORD =
  /^(authorization_code|refresh_token|access_token|id_token|client_credentials|device_code|implicit|client_secret_basic|client_secret_post|client_secret_jwt|private_key_jwt|(?:self_signed_)?tls_client_auth|(?:code|token|id_token)(?: (?:code|token|id_token))+|urn:ietf:params:oauth:(?:grant-type|token-type|client-assertion-type):[\w.:-]+|urn:openid:params:[\w.:-]+)$/;

/**
 * Whether the literal a secret-named constant holds is a label, not a secret: its own name in
 * another case or separator (`REFRESH_TOKEN = 'refresh_token'`, `PASSWORD = 'password'`), an OAuth
 * or OIDC protocol word (`'refresh_token'`, `'client_credentials'`), or a mask of one repeated
 * character (`'********'`).
 */
export function labelLiteral(name: string, value: string): boolean {
  const squash = (text: string): string => text.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (squash(value).length > 0 && squash(value) === squash(name)) return true;
  if (PROTOCOL_WORD.test(value)) return true;
  return /^([^\p{L}\p{N}\s])\1{2,}$/u.test(value);
}
