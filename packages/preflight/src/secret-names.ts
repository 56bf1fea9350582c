// Decides whether a name (env var, column, property, header) names a secret. The decision is made on
// words, not substrings, so `TOKEN_TTL` or `tokenType` is not a secret while `AUTH_TOKEN` is.

const SECRET_WORDS = new Set([
  'secret',
  'secrets',
  'password',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'credential',
  'credentials',
  'token',
  'apikey',
  'privatekey',
  'salt',
  'pepper',
  'hmac',
  'signature',
]);

// A `key` is a secret only with one of these qualifiers (`API_KEY`, `signingKey`), or as the last word
// of an environment variable name (`STRIPE_KEY`), where bare words are rarer than in code.
const KEY_QUALIFIERS = new Set([
  'api',
  'private',
  'signing',
  'encryption',
  'master',
  'admin',
  'access',
  'secret',
  'session',
  'jwt',
  'hmac',
  'app',
  'service',
  'client',
  'auth',
  'webhook',
  'license',
  'cookie',
  'crypto',
  'aes',
  'root',
]);

// Words that turn a secret-looking name into metadata about a secret.
const NEGATING_WORDS = new Set([
  'ttl',
  'expiry',
  'expires',
  'expiration',
  'expire',
  'lifetime',
  'age',
  'length',
  'len',
  'min',
  'max',
  'size',
  'path',
  'file',
  'dir',
  'name',
  'names',
  'header',
  'prefix',
  'id',
  'ids',
  'endpoint',
  'type',
  'types',
  'algorithm',
  'alg',
  'count',
  'enabled',
  'public',
  'issuer',
  'audience',
  'rounds',
  'policy',
  'version',
  'hint',
  'label',
  'field',
  'column',
  'mode',
  'format',
  'strategy',
  'ref',
  'reset',
  'required',
  'regex',
  'pattern',
  'placeholder',
  'strength',
  'changed',
  'at',
  'uri',
  'url',
  'provider',
  'kind',
  'scheme',
  'location',
  'env',
  'var',
  'source',
  'disabled',
  'scope',
  'status',
]);

// Settings about a secret, not the secret (`TOKEN_BYTES`, `HMAC_ALGO`, `DB_SECRET_ARN`,
// `DB_PASSWORD_SSM_PARAM`, `SECRET_ROTATION_DAYS`, `PASSWORD_HASHER`), in env names only and only after the secret word: before it they
// qualify the secret (`MS_CLIENT_SECRET`, `SSM_DB_PASSWORD`, `EU_REGION_SECRET`).
const SETTING_WORDS = new Set([
  'bytes',
  'bits',
  'algo',
  'encoding',
  'region',
  'arn',
  'ssm',
  'param',
  'params',
  'parameter',
  'interval',
  'ms',
  'timeout',
  // Durations (`SECRET_ROTATION_DAYS`) and the scheme that hashes or encrypts it (`PASSWORD_HASHER`).
  'seconds',
  'secs',
  'minutes',
  'mins',
  'hours',
  'days',
  'weeks',
  'hasher',
  'hashing',
  'kdf',
  'cipher',
  'iterations',
]);

// Switches about a secret when they open the name: `ENABLE_TOKEN_AUTH`, `DISABLE_PASSWORD_LOGIN`.
const SWITCH_WORDS = new Set(['enable', 'disable']);

// A one-word compound whose head is one of these is a flag or a pager, not a secret:
// `NOPASSWORD`, `USEPASSWORD`, `MAXTOKEN`, `NEXTTOKEN`, `PAGETOKEN`, `CANCELTOKEN`, `SHOWSECRET`.
const COMPOUND_HEAD_DENYLIST = [
  'no',
  'use',
  'max',
  'min',
  'next',
  'prev',
  'page',
  'cancel',
  'show',
  'hide',
  'has',
  'is',
  'skip',
  'allow',
  'require',
  'need',
  'ask',
  'reset',
  'change',
  'forgot',
  'set',
  'get',
  'check',
];

// Secret words found inside one SCREAMING word (`PGPASSWORD`, `JWTSECRET`), at its end only: a
// prefix is the service (`PG`, `JWT`), and anything after the secret word (`PASSWORDLESS`,
// `TOKENIZER`) makes it something else. Short words (`pass`, `pwd`, `salt`) are left out:
// `BYPASS`, `OLDPWD`, `BASALT`.
const COMPOUND_SUFFIXES = [
  'password',
  'passwd',
  'passphrase',
  'secret',
  'token',
  'credentials',
  'apikey',
  'privatekey',
];

const HASH_WORDS = new Set(['hash', 'hashed', 'digest', 'bcrypt', 'argon2', 'scrypt', 'encrypted', 'ciphertext']);

/** Splits `JWT_SECRET`, `jwtSecret`, `x-admin-key`, `APIKey` into lower-case words. */
export function nameWords(name: string): string[] {
  // SCREAMING_CASE has no case boundaries to split on (`OAUTH2CLIENT` is one word).
  const camel = /[a-z]/.test(name) && /[A-Z]/.test(name);
  return (camel ? name : name.toLowerCase())
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1 $2')
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w.length > 0)
    .map((w) => w.toLowerCase());
}

const CONSTANT_NAME = /^[A-Z][A-Z0-9_]*$/;

/** A SCREAMING_CASE name (`ADMIN_KEY`): a constant in code, a variable in an env schema. */
export function isConstantName(name: string): boolean {
  return CONSTANT_NAME.test(name);
}

/** How sure the caller wants to be: `env` names are specific, identifiers in code are not. */
export type NameContext = 'env' | 'code';

/**
 * Whether `name` names a secret value (not metadata about one, not a hash of one).
 *
 * @example
 * ```ts
 * isSecretName('JWT_SECRET', 'env'); // true
 * isSecretName('TOKEN_TTL', 'env'); // false
 * ```
 */
export function isSecretName(name: string, context: NameContext): boolean {
  const words = nameWords(name);
  if (words.length === 0) return false;
  // Plurals too: a list of fields, endpoints or audiences is no more a secret than one of them.
  if (words.some((w) => singularForms(w).some((s) => NEGATING_WORDS.has(s) || HASH_WORDS.has(s)))) return false;
  if (SWITCH_WORDS.has(words[0]!)) return false;
  const screaming = !/[a-z]/.test(name);
  let secretAt = -1;
  for (let i = 0; i < words.length && secretAt === -1; i++) {
    const word = words[i]!;
    if (SECRET_WORDS.has(word)) {
      // `pass` alone is too common in code (`pass: true`); keep it for env names.
      if (word === 'pass' && context === 'code') continue;
      secretAt = i;
    } else if (word === 'key' || word === 'keys') {
      const previous = words[i - 1];
      if (previous !== undefined && KEY_QUALIFIERS.has(previous)) secretAt = i;
      else if (context === 'env' && i === words.length - 1 && words.length > 1) secretAt = i;
    } else if (screaming && compoundSecret(word)) {
      secretAt = i;
    }
  }
  // `DATABASE_URL`-style connection strings are handled by value (credentials in the URL), not name.
  if (secretAt === -1) return false;
  // `TOKEN_BYTES`, `JWT_SECRET_ENCODING`, `TOKEN_REFRESH_INTERVAL_MS`: an env name closing with a
  // setting word after the secret word (`JWT_SECRET_MS_AUTH` is still a secret).
  const last = words.length - 1;
  return !(context === 'env' && last > secretAt && SETTING_WORDS.has(words[last]!));
}

/** A word and what it would be in the singular: `fields` → `field`, `prefixes` → `prefix`, `policies` → `policy`. */
function singularForms(word: string): string[] {
  if (word.length < 4 || !word.endsWith('s') || word.endsWith('ss')) return [word];
  const forms = [word, word.slice(0, -1)];
  if (word.endsWith('ies')) forms.push(`${word.slice(0, -3)}y`);
  else if (/(s|x|z|ch|sh)es$/.test(word)) forms.push(word.slice(0, -2));
  return forms;
}

/** `tokens`, `SECRETS`, `APITOKENS`: a secret word in the plural (`credentials` names one secret). */
function pluralSecretWord(word: string, screaming: boolean): boolean {
  if (!word.endsWith('s') || word.endsWith('ss') || word === 'credentials') return false;
  const singular = word.slice(0, -1);
  return SECRET_WORDS.has(singular) || singular === 'key' || (screaming && compoundSecret(singular));
}

/**
 * How many secrets a name says it holds: `many` for a plural secret word anywhere in it (`API_KEYS`,
 * `apiTokens`, `API_TOKENS_V2`, read as their singular), `one` for a secret name, else undefined.
 *
 * @example
 * ```ts
 * secretNameCount('ADMIN_TOKENS', 'env'); // 'many'
 * secretNameCount('TOKEN_AUDIENCES', 'env'); // undefined
 * ```
 */
export function secretNameCount(name: string, context: NameContext): 'one' | 'many' | undefined {
  const screaming = !/[a-z]/.test(name);
  const words = nameWords(name);
  const singular = words.map((w) => (pluralSecretWord(w, screaming) ? w.slice(0, -1) : w));
  if (!singular.some((w, i) => w !== words[i])) return isSecretName(name, context) ? 'one' : undefined;
  const joined = singular.join('_');
  return isSecretName(screaming ? joined.toUpperCase() : joined, context) ? 'many' : undefined;
}

/** Whether the last word of `name` is a secret word (`DB_PASSWORD`, `STRIPE_API_KEY`, `PGPASSWORD`). */
export function endsWithSecretWord(name: string): boolean {
  const words = nameWords(name);
  const last = words.at(-1);
  if (last === undefined) return false;
  if (SECRET_WORDS.has(last)) return true;
  if (last === 'key' || last === 'keys') return words.length > 1;
  return !/[a-z]/.test(name) && compoundSecret(last);
}

/** `PGPASSWORD`, `JWTSECRET`, `SECRETKEY`: a secret word (or a qualified `key`) closing a longer word. */
function compoundSecret(word: string): boolean {
  for (const suffix of COMPOUND_SUFFIXES) {
    if (word.length > suffix.length && word.endsWith(suffix)) {
      const head = word.slice(0, -suffix.length);
      return !COMPOUND_HEAD_DENYLIST.includes(head);
    }
  }
  if (word.endsWith('key') && word.length > 3) {
    const head = word.slice(0, -3);
    for (const qualifier of KEY_QUALIFIERS) if (head.endsWith(qualifier)) return true;
  }
  return false;
}

/** Whether a column/property name says it stores a hash (`password_hash`, `apiKeyDigest`). */
export function isHashColumnName(name: string): boolean {
  const words = nameWords(name);
  return words.some((w) => HASH_WORDS.has(w)) && words.some((w) => SECRET_WORDS.has(w) || w === 'key');
}

/** Names of cross-request state that must live in a shared store (Redis), never in one pod. */
export function requiresSharedStore(name: string): boolean {
  return /rate.?limit|throttl|nonce|session|replay|jti|lockout|attempt|otp|idempot|revoked|revocation|blocklist|denylist|blacklist|used.?token/i.test(
    name,
  );
}
