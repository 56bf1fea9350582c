import { basicCredentials, schemeCredentialIn, userinfoSecret } from './auth-scheme.ts';
import { carriedPasswords } from './carried-passwords.ts';
import { foldLookalikes } from './lookalikes.ts';
import { decodeSecret, printableText } from './secret-encoding.ts';

/** One value of a JSON credential bundle, and what its key names it. */
export interface BundleField {
  /** The string value (a number written as a number as its digits). */
  readonly value: string;
  /**
   * True under a key whose last word (after format words such as `value`, `hex`, `base64`, `pem`,
   * `data`) is `secret`, `password`, `passwd`, `pwd`, `pw`, `pass`, `passphrase`, `token`, `key`,
   * `credential`, `auth`, `seed` (or their plurals, `apikey`, `privatekey`), not `public` or
   * `publishable`: `client_secret`, `SecretAccessKey`, `api_key_hex`, `token_value`, `client_pw`;
   * not `client_id`, `private_key_id`, `token_uri`, `token_type`, `public_key`. Digits on the last
   * word do not change it (`key1`, `secret_1`, `dbPassword1`), nor does `base` (`secret_key_base`); `jwt` and
   * Docker's `identitytoken` are secret words too, and Vault AppRole's `secret_id` (beside a
   * `role_id`, `secret_id_accessor`, `secret_id_ttl` or `secret_id_num_uses`) a secret; an `auth`
   * whose value is a scheme name (`basic`, `bearer`) is not. The children of a secret-named object
   * are secrets too (`password: { current, previous }`, `api_key: { value }`, `keys: [...]`), but not
   * a scalar named as an identifier (`id`, `name`, `project`, `email`, `url`) beside a sibling that
   * holds a non-empty secret (`value`, or an object or array: `service_account: {…}`) outside a map
   * of secrets (`passwords`, `tokens`, `keys`, `secrets`: every child is a secret), and unless
   * one of them names the secret itself: then each is judged by its own key. The private members
   * of a JWK (`k`, `d`, `p`, `q`, `dp`, `dq`, `qi`) are secrets; its other RFC members are not, and
   * any other member is read by its name. The password
   * of a URL's userinfo (its username when the password is empty or GitHub's `x-oauth-basic`) or
   * query (`password`, `pwd`, `pass`, `passwd`, `sig`), of a connection string's `Password=` parts
   * (every one), of a libpq string's `password=` / `sslpassword=`, a JAAS line's `password="…"` or a
   * `Basic` value (see {@link carriedPasswords}) is a secret, whatever the key, and the rest of the
   * value (a username beside a password included) not; so is the token of a `Bearer` value under a
   * secret-named or `…authorization` key. A
   * kubectl JSONPath selector under a `…key` (GKE's `token-key: '{.credential.access_token}'`) is not. A bundle with a
   * secret-named key but no secret value in it has one empty secret (too short). Any other value
   * (an identifier, a public key, the rest of a URL) is not read by the pattern rules beside a secret.
   */
  readonly secret: boolean;
  /**
   * True for a password a URL, connection string or `Basic` value carries (not under a secret-named
   * key, where the kind's minimums apply): its length, distinct-character and
   * entropy minimums are a password's (or the kind's when lower), as the kind describes the
   * bundle's main secret, not a database password.
   */
  readonly carried?: boolean;
  /** The key length in bytes when it is not the value's UTF-8 length: a JWK member's base64url bytes. */
  readonly bytes?: number;
  /**
   * The printable text a JWK private member's base64url decodes to: its encoding is declared by the
   * RFC, so the text is read with every word rule, as a value given with `encoding: 'base64url'`.
   */
  readonly text?: string;
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
  'jwt',
  // A TOTP seed, an Ed25519 or wallet seed: the secret the keys are derived from.
  'seed',
  // Docker `config.json`'s token for registries that log in with one (Azure ACR), beside an `auth`
  // whose password is empty.
  'identitytoken',
]);
const PUBLIC_WORDS = new Set(['public', 'publishable']);
// Last words of a map of secrets, one per name (`passwords: { admin, user }`, `tokens: { project,
// deploy: {…} }`): no child of one is metadata. Not `credentials`, which holds one account's
// (`credentials: { project, service_account: {…} }`).
const SECRET_MAPS = new Set(['secrets', 'passwords', 'tokens', 'keys']);
// Last words that name what identifies a credential, not the credential: a `project` or an `id` beside
// the `value` of a token is not one of its secrets.
const IDENTIFIER_WORDS = new Set([
  'id',
  'arn',
  'ids',
  'uuid',
  'name',
  'username',
  'user',
  'email',
  'project',
  'account',
  'tenant',
  'region',
  'env',
  'environment',
  'url',
  'uri',
  'endpoint',
  'host',
  'type',
  'kind',
  'version',
]);
// Values of an `auth` key that name how to authenticate, not a credential: `"auth": "basic"` beside a
// `password`. HTTP schemes (the IANA registry's common ones) and mechanism names configs use.
const AUTH_SCHEMES = new Set([
  'basic',
  'bearer',
  'digest',
  'negotiate',
  'ntlm',
  'kerberos',
  'oauth',
  'oauth2',
  'oidc',
  'jwt',
  'hmac',
  'apikey',
  'token',
  'mtls',
  'tls',
  'iam',
  'ldap',
  'saml',
  'none',
  'anonymous',
]);
// Trailing words that say how a value is written, not what it is: `api_key_hex`, `token_value`,
// Rails' `secret_key_base`.
const FORMAT_WORDS = new Set(['value', 'hex', 'b64', 'base64', 'pem', 'data', 'base']);

/**
 * A key's words, lookalikes folded and camelCase split, without trailing format words, numbers
 * (`secret_1`) or digits on the last word (`key1`, `dbPassword1`).
 */
function nameWords(name: string): string[] {
  // Keys are attacker-sized: only the last 64 characters can hold the words that decide.
  const words = foldLookalikes(name.slice(-64))
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
  while (words.length > 0) {
    const last = words.at(-1) as string;
    // `base64` is a format word as it is; `value2` once its digits are off.
    const bare = last.replace(/[0-9]+$/, '');
    if (FORMAT_WORDS.has(last) || bare.length === 0 || FORMAT_WORDS.has(bare)) words.pop();
    else {
      words[words.length - 1] = bare;
      break;
    }
  }
  return words;
}

/**
 * What a key's words (see {@link nameWords}) say of its value: `secret` when the last word is a
 * secret word (or the key is Vault AppRole's `secret_id`: `approle`, a `role_id` beside it),
 * `public` when a word says so (`public_key`), `identifier` when the last word names one
 * (`client_id`, `project`, `name`, `email`, `url`; AWS's `SecretId`, Azure's `keyVaultSecretId`),
 * `format` when only format words are left (`value`: the value is whatever its parent is), `other`
 * for anything else.
 */
type KeyKind = 'secret' | 'public' | 'identifier' | 'format' | 'other';

function keyKind(words: readonly string[], approle = false): KeyKind {
  const last = words.at(-1);
  if (last === undefined) return 'format';
  if (words.some((word) => PUBLIC_WORDS.has(word))) return 'public';
  if (SECRET_WORDS.has(last) || (approle && isWords(words, 'secret', 'id'))) return 'secret';
  return IDENTIFIER_WORDS.has(last) ? 'identifier' : 'other';
}

// The keys beside which a `secret_id` is Vault AppRole's secret: a login's `role_id`, the
// metadata of `vault write auth/approle/role/<name>/secret-id`.
const APPROLE_SIBLINGS = [
  ['role', 'id'],
  ['secret', 'id', 'accessor'],
  ['secret', 'id', 'ttl'],
  ['secret', 'id', 'num', 'uses'],
];

/** True when a key's words are exactly `expected` (`secret_id`, `secretId`, `SECRET_ID`). */
function isWords(words: readonly string[], ...expected: string[]): boolean {
  return words.length === expected.length && words.every((word, i) => word === expected[i]);
}

// A kubectl JSONPath template selecting a field (`{.credential.token_expiry}`).
const FIELD_SELECTOR = /^\{\.[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+){0,15}\}$/;

// The key types of RFC 7518 §6.1 and RFC 8037: an object with another `kty` is read by its names.
const JWK_TYPES = new Set(['oct', 'RSA', 'EC', 'OKP']);
// The members the JWK RFCs define (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2); any other member of a
// JWK (`password`, `client_secret`) is read by its name like any bundle value.
const JWK_MEMBERS = new Set([
  'kty',
  'use',
  'key_ops',
  'alg',
  'kid',
  'x5u',
  'x5c',
  'x5t',
  'x5t#S256',
  'crv',
  'x',
  'y',
  'n',
  'e',
  'oth',
]);
// The private members of a JWK (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037 for OKP).
const JWK_PRIVATE_MEMBERS = new Set(['k', 'd', 'p', 'q', 'dp', 'dq', 'qi']);

// Bounds on the walk: a credential bundle is small and shallow.
const MAX_BUNDLE_DEPTH = 8;
const MAX_BUNDLE_VALUES = 1000;

/**
 * The values of a JSON object (a GCP service-account key, an OAuth client, a Docker `config.json`,
 * a JWK), nested ones included, each marked by whether it is a secret; undefined for any other
 * text, one nested deeper than 8 levels or with more than 1,000 values, or one with no value at
 * all. Read as `JSON.parse` reads it, as the service will: of duplicate keys the last one counts.
 *
 * Under a secret-like key a number counts as its digits (not a `seed`'s: a setting), `""` as an empty
 * secret (which is too short), and each string or number of an array as a secret too; a boolean is
 * a flag, not a secret (`use_token: true`), and `null` is no value (Vault answers `"auth": null`).
 * Elsewhere only non-empty strings count. A Docker `auth` that is base64 of `user:password` counts
 * as its password (a secret) and its user (not one); one with an empty password beside an
 * `identitytoken` (Azure ACR's `00000000-…:`) is format, and the identity token is the secret. A
 * secret written `Bearer <token>` or `Basic <base64 of user:password>` counts as its token or its
 * password (the user when the password is empty or `x-oauth-basic`: see auth-scheme.ts), judged as
 * that secret. Under an `authorization` key a Bearer token counts as a secret, and under any key
 * a Basic value carries its password (see {@link carriedPasswords}).
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
  // How many non-empty secrets the walk has found so far: whether a sibling holds a secret.
  let secretCount = 0;
  const add = (field: BundleField): boolean => {
    if (fields.length >= MAX_BUNDLE_VALUES) return false;
    fields.push(field);
    if (field.secret && field.value.length > 0) secretCount += 1;
    return true;
  };
  // Whether a key names a secret: a bundle that has one but no secret value in it is refused.
  let namesSecret = false;
  /**
   * `secret`: whether `node` is a secret; `lastWord`: the last word of the key it is under; `map`:
   * whether it is an object under a key naming a map of secrets (see {@link SECRET_MAPS}).
   */
  const walk = (node: unknown, secret: boolean, depth: number, lastWord: string | undefined, map = false): boolean => {
    if (typeof node === 'string') {
      const basic = secret && lastWord === 'auth' ? basicCredentials(node) : undefined;
      if (basic !== undefined) {
        // The token as the user with GitHub's fixed password (`ghp_…:x-oauth-basic`), as in a URL or
        // after `Basic`. An empty password is judged as one: no registry takes a token as the user
        // alone, so `deploy-bot:` is a login without a secret.
        const judged = basic.password.length > 0 ? userinfoSecret(basic.user, basic.password) : basic.password;
        return judged === basic.password
          ? add({ value: basic.user, secret: false }) && add({ value: basic.password, secret: true })
          : add({ value: judged, secret: true });
      }
      if (secret && lastWord === 'auth' && AUTH_SCHEMES.has(node.toLowerCase()))
        return add({ value: node, secret: false });
      // `Bearer <token>`, `Basic <base64 of user:password>`, also as the base64 or hex of one: the
      // scheme name is no part of the secret (see auth-scheme.ts). Under a secret-named key the
      // credential is that secret, judged by the kind's minimums as a value given alone; under an
      // `Authorization` key (`authorization`, `headers.Authorization`) a Bearer token is the
      // bundle's secret too, and a Basic password one it carries, judged by a password's minimums.
      const scheme = secret || lastWord === 'authorization' ? schemeCredentialIn(node) : undefined;
      if (scheme !== undefined) {
        if (scheme.user !== undefined && !add({ value: scheme.user, secret: false })) return false;
        return add({
          value: scheme.secret,
          secret: true,
          ...(secret || scheme.scheme === 'bearer' ? {} : { carried: true }),
        });
      }
      // A password in a URL or a connection string is a secret of its own, whatever the key (a
      // `database_url` beside an `api_key`, a `url` of a `secret`); the rest of the value is its
      // format, whose names repeat (`BlobEndpoint=…;QueueEndpoint=…`), even under a secret-named key.
      const passwords = carriedPasswords(node);
      if (!passwords.every((password) => add({ value: password, secret: true, carried: true }))) return false;
      if (passwords.length > 0) return add({ value: node, secret: false });
      // kubectl's JSONPath selectors of a GKE `auth-provider` (`token-key: '{.credential.access_token}'`)
      // name where the token is in gcloud's output: a field path, not a key.
      if (secret && lastWord === 'key' && FIELD_SELECTOR.test(node)) return add({ value: node, secret: false });
      if (secret) return add({ value: node, secret: true });
      return node.length > 0 ? add({ value: node, secret: false }) : true;
    }
    if (secret && typeof node === 'number' && lastWord !== 'seed') return add({ value: String(node), secret: true });
    if (typeof node !== 'object' || node === null) return true;
    if (depth >= MAX_BUNDLE_DEPTH) return false;
    // An array's items are named by the array's key; an object's children by their own.
    if (Array.isArray(node)) return node.every((child) => walk(child, secret, depth + 1, lastWord));
    // A JWK names its members by the RFCs, not by words: `k` is the key, `n` and `e` are public.
    const kty = (node as { kty?: unknown }).kty;
    if (typeof kty === 'string' && JWK_TYPES.has(kty)) return walkJwk(node, depth);
    // Azure ACR: `auth` is base64 of `00000000-0000-0000-0000-000000000000:`, the token is beside it.
    const identityToken = (node as { identitytoken?: unknown }).identitytoken;
    const tokenInstead = typeof identityToken === 'string' && identityToken.length > 0;
    const keys = Object.entries(node).map(([key, child]) => ({ child, words: nameWords(key) }));
    // Vault AppRole: a `secret_id` is the secret beside a `role_id`, or beside the `secret_id_accessor`,
    // `secret_id_ttl` or `secret_id_num_uses` Vault returns with it (elsewhere it names one: AWS's `SecretId`).
    const approle = keys.some(({ words }) => APPROLE_SIBLINGS.some((sibling) => isWords(words, ...sibling)));
    const entries = keys.map(({ child, words }) => ({ child, kind: keyKind(words, approle), last: words.at(-1) }));
    if (entries.some(({ kind }) => kind === 'secret')) namesSecret = true;
    // Who inherits: the children of a secret are secrets too (`password: { current, previous }`,
    // `secrets: { prod }`), unless one of them names the secret itself: then the others are its
    // metadata (a Vault `auth` holds `client_token` beside `accessor` and `num_uses`; an OAuth `token`
    // holds `access_token` beside `token_type`, `expires_in` and `scope`) and each is judged by its
    // own name. Nor is a scalar named as an identifier a secret when a sibling holds one: a `value`
    // (`github: { id, name, value }`) or a credential inside (`project` beside `service_account: {…}`
    // or `jwk: {…}`), with a non-empty secret in it (not `meta: {}`, `tags: []`). In a map of secrets
    // (`passwords: { admin, user }`, `tokens: { project, deploy: {…} }`), or alone (`password:
    // { name }`), it is one of the secrets, and so is an identifier-named object. The holders are
    // walked first, to know.
    const inherits = secret && !entries.some(({ kind }) => kind === 'secret');
    const holds = ({ child, kind }: { child: unknown; kind: KeyKind }): boolean =>
      kind === 'format' || (kind !== 'public' && typeof child === 'object' && child !== null);
    const visit =
      (held: boolean) =>
      ({ child, kind, last }: { child: unknown; kind: KeyKind; last: string | undefined }): boolean => {
        if (tokenInstead && typeof child === 'string' && last === 'auth') {
          const basic = basicCredentials(child);
          if (basic !== undefined && basic.password.length === 0) return true;
        }
        const metadata = !map && kind === 'identifier' && held && (typeof child !== 'object' || child === null);
        const inherited = kind === 'other' || (kind === 'identifier' && !metadata);
        const childSecret = kind === 'secret' || (secret && (kind === 'format' || (inherited && inherits)));
        return walk(child, childSecret, depth + 1, last, kind === 'secret' && SECRET_MAPS.has(last as string));
      };
    const found = secretCount;
    if (!entries.filter(holds).every(visit(false))) return false;
    return entries.filter((entry) => !holds(entry)).every(visit(secretCount > found));
  };
  const walkJwk = (jwk: object, depth: number): boolean =>
    Object.entries(jwk).every(([member, child]) => {
      if (JWK_MEMBERS.has(member)) return walk(child, false, depth + 1, undefined);
      if (!JWK_PRIVATE_MEMBERS.has(member)) {
        const words = nameWords(member);
        const kind = keyKind(words);
        if (kind === 'secret') namesSecret = true;
        return walk(child, kind === 'secret', depth + 1, words.at(-1));
      }
      if (typeof child !== 'string') return walk(child, true, depth + 1, undefined);
      // A JWK member's key bytes: its base64url decoded (undefined when it is not base64url).
      const bytes = decodeSecret(child, 'base64url')?.bytes;
      const text = bytes === undefined ? undefined : printableText(Buffer.from(child, 'base64url'));
      return add({
        value: child,
        secret: true,
        ...(bytes === undefined ? {} : { bytes }),
        ...(text === undefined ? {} : { text }),
      });
    });
  if (!walk(parsed, false, 0, undefined)) return undefined;
  // A key names a secret but holds none (`"auth": "none"` beside a long `host`): the bundle is no
  // credential, and its other values are not measured as one. It has an empty secret, too short.
  if (namesSecret && !fields.some(({ secret }) => secret)) fields.push({ value: '', secret: true });
  return fields.length > 0 ? fields : undefined;
}
