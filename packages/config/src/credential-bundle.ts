import { foldLookalikes } from './lookalikes.ts';
import { decodeUtf8 } from './secret-encoding.ts';

/** One value of a JSON credential bundle, and whether its key names it as a secret. */
export interface BundleField {
  /** The string value (a number written as a number as its digits; `null` as an empty value). */
  readonly value: string;
  /**
   * True under a key whose last word (after format words such as `value`, `hex`, `base64`, `pem`,
   * `data`) is `secret`, `password`, `passwd`, `pwd`, `pw`, `pass`, `passphrase`, `token`, `key`,
   * `credential`, `auth` (or their plurals, `apikey`, `privatekey`), not `public`/`publishable`:
   * `client_secret`, `SecretAccessKey`, `api_key_hex`, `token_value`, `client_pw`; not `client_id`,
   * `private_key_id`, `token_uri`, `token_type`, `public_key`. A nested value under such a key is
   * one too (`api_key: { value }`), unless its own key names an id, a type, a user, an address or
   * a time. The private members of a JWK (`k`, `d`, `p`, `q`, `dp`, `dq`, `qi`) are secrets.
   */
  readonly secret: boolean;
  /** The key length in bytes when it is not the value's UTF-8 length: a JWK member's base64url bytes. */
  readonly bytes?: number;
}

const SECRET_WORDS = new Set([
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'pwd',
  'pw',
  'pass',
  'passphrase',
  'token',
  'tokens',
  'key',
  'keys',
  'apikey',
  'privatekey',
  'credential',
  'credentials',
  'auth',
]);
const PUBLIC_WORDS = new Set(['public', 'publishable']);
// Trailing words that say how a value is written, not what it is: `api_key_hex`, `token_value`.
const FORMAT_WORDS = new Set(['value', 'hex', 'b64', 'base64', 'pem', 'data']);
// A nested value under a secret-named key is a secret too, unless its own key names one of these:
// `Credentials: { AccessKeyId, SecretAccessKey, SessionToken, Expiration }`.
const NOT_SECRET_WORDS = new Set([
  'id',
  'ids',
  'type',
  'kind',
  'name',
  'user',
  'username',
  'login',
  'email',
  'url',
  'uri',
  'host',
  'hostname',
  'region',
  'expiration',
  'expires',
  'expiry',
  'created',
  'updated',
  'version',
  'alg',
  'algorithm',
  'use',
  'issuer',
  'scheme',
]);

/** A key's words, lookalikes folded and camelCase split, without trailing format words. */
function nameWords(name: string): string[] {
  // Keys are attacker-sized: only the last 64 characters can hold the words that decide.
  const words = foldLookalikes(name.slice(-64))
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
  while (words.length > 0 && FORMAT_WORDS.has(words.at(-1) as string)) words.pop();
  return words;
}

/** True for a key that names a secret (see {@link BundleField.secret}); read as words, camelCase split. */
export function isSecretName(name: string): boolean {
  return secretUnder(name, false);
}

/** Whether the value under `name` is a secret, when its parent's is (`parent`) or not. */
function secretUnder(name: string, parent: boolean): boolean {
  const words = nameWords(name);
  const last = words.at(-1);
  // Only format words (`value`, `data`): the value is what its parent names.
  if (last === undefined) return parent;
  if (words.some((word) => PUBLIC_WORDS.has(word))) return false;
  return SECRET_WORDS.has(last) || (parent && !NOT_SECRET_WORDS.has(last));
}

// The private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 for OKP).
const JWK_PRIVATE_MEMBERS = new Set(['k', 'd', 'p', 'q', 'dp', 'dq', 'qi']);

/** A JWK member's key bytes: its base64url decoded, or undefined when it is not base64url. */
function base64urlBytes(value: string): number | undefined {
  return /^[A-Za-z0-9_-]*$/.test(value) && value.length % 4 !== 1 ? Buffer.from(value, 'base64url').length : undefined;
}

/** A Docker `auth` (base64 of `user:password`) split in its two parts; undefined for any other value. */
function basicCredentials(value: string): { readonly user: string; readonly password: string } | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const bytes = Buffer.from(value, 'base64');
  const text = bytes.toString('base64') === value ? decodeUtf8(bytes) : undefined;
  const colon = text?.indexOf(':') ?? -1;
  if (text === undefined || colon <= 0 || /[\p{Cc}]/u.test(text)) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

// Bounds on the walk: a credential bundle is small and shallow.
const MAX_BUNDLE_DEPTH = 8;
const MAX_BUNDLE_VALUES = 1000;

/**
 * The values of a JSON object (a GCP service-account key, an OAuth client, a Docker `config.json`,
 * a JWK), nested ones included, each marked by whether its key names a secret; undefined for any
 * other text, one nested deeper than 8 levels or with more than 1,000 values, or one with no value
 * at all. Read as `JSON.parse` reads it, as the service will: of duplicate keys the last one counts.
 *
 * Under a secret-like key a number counts as its digits, `null` and `""` as an empty secret (which
 * is too short), and each string or number of an array as a secret too; a boolean is a flag, not a
 * secret (`use_token: true`). Elsewhere only non-empty strings count. A Docker `auth` that is
 * base64 of `user:password` counts as its password (a secret) and its user (not one).
 */
export function bundleFields(text: string): BundleField[] | undefined {
  const trimmed = text.trim();
  if (!trimmed.startsWith('{') || !trimmed.endsWith('}')) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const fields: BundleField[] = [];
  const add = (field: BundleField): boolean => {
    if (fields.length >= MAX_BUNDLE_VALUES) return false;
    fields.push(field);
    return true;
  };
  const walk = (node: unknown, secret: boolean, depth: number, name: string): boolean => {
    if (typeof node === 'string') {
      const basic = secret && nameWords(name).at(-1) === 'auth' ? basicCredentials(node) : undefined;
      if (basic !== undefined)
        return add({ value: basic.user, secret: false }) && add({ value: basic.password, secret: true });
      return secret || node.length > 0 ? add({ value: node, secret }) : true;
    }
    if (secret && typeof node === 'number') return add({ value: String(node), secret: true });
    if (secret && node === null) return add({ value: '', secret: true });
    if (typeof node !== 'object' || node === null) return true;
    if (depth >= MAX_BUNDLE_DEPTH) return false;
    // An array's items are named by the array's key; an object's children by their own.
    if (Array.isArray(node)) return node.every((child) => walk(child, secret, depth + 1, name));
    // A JWK names its members by the RFCs, not by words: `k` is the key, `n` and `e` are public.
    if (typeof (node as { kty?: unknown }).kty === 'string') return walkJwk(node, depth);
    return Object.entries(node).every(([key, child]) => walk(child, secretUnder(key, secret), depth + 1, key));
  };
  const walkJwk = (jwk: object, depth: number): boolean =>
    Object.entries(jwk).every(([member, child]) => {
      if (!JWK_PRIVATE_MEMBERS.has(member)) return walk(child, false, depth + 1, member);
      if (typeof child !== 'string') return walk(child, true, depth + 1, member);
      const bytes = base64urlBytes(child);
      return add(bytes === undefined ? { value: child, secret: true } : { value: child, secret: true, bytes });
    });
  return walk(parsed, false, 0, '') && fields.length > 0 ? fields : undefined;
}
