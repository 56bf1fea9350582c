/** One value of a JSON credential bundle, and whether its key names it as a secret. */
export interface BundleField {
  /** The string value (a number written as a number as its digits; `null` as an empty value). */
  readonly value: string;
  /**
   * True under a key whose last word is `secret`, `password`, `passwd`, `pwd`, `pass`,
   * `passphrase`, `token`, `key` (or their plurals, `apikey`, `privatekey`), not `public`/
   * `publishable`: `client_secret`, `clientSecret`, `SecretAccessKey`, `api_key`, `private_key`,
   * `access_token`; not `client_id`, `private_key_id`, `token_uri`, `token_type`, `public_key`.
   */
  readonly secret: boolean;
}

const SECRET_WORDS = new Set([
  'secret',
  'secrets',
  'password',
  'passwords',
  'passwd',
  'pwd',
  'pass',
  'passphrase',
  'token',
  'tokens',
  'key',
  'keys',
  'apikey',
  'privatekey',
]);
const PUBLIC_WORDS = new Set(['public', 'publishable']);

/** True for a key that names a secret (see {@link BundleField.secret}); read as words, camelCase split. */
export function isSecretName(name: string): boolean {
  // Keys are attacker-sized: only the last 64 characters can hold the words that decide.
  const words = name
    .slice(-64)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word.length > 0);
  const last = words.at(-1);
  return last !== undefined && SECRET_WORDS.has(last) && !words.some((word) => PUBLIC_WORDS.has(word));
}

// Bounds on the walk: a credential bundle is small and shallow.
const MAX_BUNDLE_DEPTH = 8;
const MAX_BUNDLE_VALUES = 1000;

/**
 * The values of a JSON object (a GCP service-account key, an OAuth client, a Docker `config.json`),
 * nested ones included, each marked by whether its key names a secret; undefined for any other
 * text, one nested deeper than 8 levels or with more than 1,000 values, or one with no value at
 * all. Read as `JSON.parse` reads it, as the service will: of duplicate keys the last one counts.
 *
 * Under a secret-like key a number counts as its digits, `null` and `""` as an empty secret (which
 * is too short), and each string or number of an array as a secret too; a boolean is a flag, not a
 * secret (`use_token: true`). Elsewhere only non-empty strings count.
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
  const add = (value: string, secret: boolean): boolean => {
    if (fields.length >= MAX_BUNDLE_VALUES) return false;
    fields.push({ value, secret });
    return true;
  };
  const walk = (node: unknown, secret: boolean, depth: number): boolean => {
    if (typeof node === 'string') return secret || node.length > 0 ? add(node, secret) : true;
    if (secret && typeof node === 'number') return add(String(node), true);
    if (secret && node === null) return add('', true);
    if (typeof node !== 'object' || node === null) return true;
    if (depth >= MAX_BUNDLE_DEPTH) return false;
    // An array's items are named by the array's key; an object's children by their own.
    if (Array.isArray(node)) return node.every((child) => walk(child, secret, depth + 1));
    return Object.entries(node).every(([name, child]) => walk(child, isSecretName(name), depth + 1));
  };
  return walk(parsed, false, 0) && fields.length > 0 ? fields : undefined;
}
