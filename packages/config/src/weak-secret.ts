import { credentialAfterScheme } from './auth-scheme.ts';
import {
  hasRepeatedStretch,
  hasSurroundingWhitespace,
  isRepeatedPattern,
  longestSequentialRun,
  shannonBitsPerChar,
} from './character-patterns.ts';
import { jwsSignatureBytes } from './compact-jws.ts';
import { ConfigError } from './errors.ts';
import { KNOWN_DEMO_SECRETS, type KnownDemoSecret } from './known-demo-secrets.ts';
import { foldLookalikes } from './lookalikes.ts';
import { measuredText, type WordReading } from './measured-text.ts';
import { isPlaceholderShape } from './placeholder-shape.ts';
import { decodeSecret, encodedTexts } from './secret-encoding.ts';
import { isListOf } from './spec.ts';

/**
 * What a secret is for; decides its minimum length and entropy floors. HMAC and JWT HS* keys must
 * be at least the size of the hash output (RFC 7518 §3.2).
 */
export type SecretKind =
  | 'hmac-sha256'
  | 'hmac-sha384'
  | 'hmac-sha512'
  | 'jwt-hs256'
  | 'jwt-hs384'
  | 'jwt-hs512'
  | 'key'
  | 'token'
  | 'password';

/** How the value encodes its bytes; decides how the length floor is measured. */
export type SecretEncoding = 'utf8' | 'hex' | 'base64' | 'base64url';

/** Every {@link SecretEncoding}, for checking options. */
export const SECRET_ENCODINGS: readonly SecretEncoding[] = Object.freeze(['utf8', 'hex', 'base64', 'base64url']);

/** A rule a weak secret broke. Rule names, never values, appear in errors. */
export type WeakSecretRule =
  | 'too-short'
  | 'surrounding-whitespace'
  | 'bad-encoding'
  | 'low-entropy'
  | 'few-distinct-characters'
  | 'repeated-pattern'
  | 'sequential'
  | 'placeholder'
  | 'weak-word'
  | 'known-demo'
  | 'dev-marker'
  | 'unsigned-jwt';

interface KindPolicy {
  /** Minimum key bytes (after decoding). */
  readonly minBytes: number;
  /** Minimum Shannon entropy per character. */
  readonly minBitsPerChar: number;
  readonly minDistinct: number;
}

const KIND_POLICIES: Readonly<Record<SecretKind, KindPolicy>> = {
  'hmac-sha256': { minBytes: 32, minBitsPerChar: 3, minDistinct: 10 },
  'hmac-sha384': { minBytes: 48, minBitsPerChar: 3, minDistinct: 10 },
  'hmac-sha512': { minBytes: 64, minBitsPerChar: 3, minDistinct: 10 },
  'jwt-hs256': { minBytes: 32, minBitsPerChar: 3, minDistinct: 10 },
  'jwt-hs384': { minBytes: 48, minBitsPerChar: 3, minDistinct: 10 },
  'jwt-hs512': { minBytes: 64, minBitsPerChar: 3, minDistinct: 10 },
  key: { minBytes: 32, minBitsPerChar: 3, minDistinct: 10 },
  token: { minBytes: 16, minBitsPerChar: 2.5, minDistinct: 8 },
  password: { minBytes: 12, minBitsPerChar: 2.5, minDistinct: 6 },
};

/** Every secret kind, in declaration order (derived from the policy table, so it cannot drift). */
export const SECRET_KINDS: readonly SecretKind[] = Object.freeze(Object.keys(KIND_POLICIES) as SecretKind[]);

/**
 * The minimum length in bytes a secret of this kind must have in production.
 *
 * @example
 * ```ts
 * import { minimumSecretBytes } from '@rampart/config';
 * minimumSecretBytes('jwt-hs512'); // 64
 * ```
 */
export function minimumSecretBytes(kind: SecretKind): number {
  return KIND_POLICIES[kind].minBytes;
}

/**
 * The prefix `gen-dev` puts on every generated development secret, so production can recognise
 * and refuse one that escaped into a deployment (Django marks its generated keys the same way).
 *
 * @example
 * ```ts
 * import { DEV_SECRET_PREFIX } from '@rampart/config';
 * value.startsWith(DEV_SECRET_PREFIX); // true for every gen-dev secret
 * ```
 */
export const DEV_SECRET_PREFIX = 'rampart-dev-';

// Words a generated secret contains with negligible probability but human-made ones often do.
// Matched on the folded (lookalikes.ts), lower-cased, separator-free, de-leeted value. None is
// spelled only with the letters de-leeted hex can produce, so random hex keys cannot match (tested).
const WEAK_WORDS = [
  'secret',
  'password',
  'passwd',
  'changeme',
  'changeit',
  'replaceme',
  'placeholder',
  'insecure',
  'notsecure',
  'unsafe',
  'example',
  'sample',
  'dummy',
  'notforprod',
  'donotuse',
  'dontuse',
  'devonly',
  'localonly',
  'qwerty',
  'letmein',
  // Sentence-like keys people write by hand: `this-is-my-jwt-signing-key`, `ThisIsMySecureKey…`.
  // Not `mykey`: five letters, which random base64 keys spell by chance (`…/5MYkeYKA=`), as often
  // as the longer words together; `thisismykey` still hits `thisis`.
  'thisis',
  'secure',
  'signingkey',
  'jwtkey',
  'encryptionkey',
] as const;

const LEET: Readonly<Record<string, string>> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};

function normalize(value: string): string {
  return value.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function deleet(value: string): string {
  let out = '';
  for (const char of value.toLowerCase()) {
    const mapped = LEET[char] ?? char;
    const code = mapped.charCodeAt(0);
    if ((code >= 97 && code <= 122) || (code >= 48 && code <= 57)) out += mapped;
  }
  return out;
}

interface Forms {
  readonly raw: string;
  readonly lower: string;
  /** `lower` without what a paste brings along: a `NAME=` / `export NAME=` / `"NAME": ` and quotes. */
  readonly unquoted: string;
  readonly flat: string;
  readonly deleeted: string;
}

const PASTED_LEAD = /^\s*(?:export\s+)?(?:["']?[a-z_][a-z0-9_.-]*["']?\s*[=:]\s*)?["'`]?/;

function formsOf(raw: string): Forms {
  const lower = raw.toLowerCase();
  return { raw, lower, unquoted: lower.replace(PASTED_LEAD, ''), flat: normalize(raw), deleeted: deleet(raw) };
}

interface DemoMatcher {
  readonly match: KnownDemoSecret['match'];
  readonly prefix: string;
  /** The entry normalized as written and, when it has non-ASCII characters, also folded. */
  readonly targets: readonly string[];
  readonly targetsDeleeted: readonly string[];
}

function compileDemo(entry: KnownDemoSecret): DemoMatcher {
  // Values are folded before they are compared, so an entry with non-ASCII characters (a leaked
  // password in a denylist) must be folded too to match itself; its unfolded form is kept so a
  // copy with those characters lost or escaped (Flask's `\xec`) is still found.
  const folded = foldLookalikes(entry.value);
  return {
    match: entry.match,
    prefix: folded.toLowerCase(),
    targets: [...new Set([normalize(entry.value), normalize(folded)])],
    targetsDeleeted: [...new Set([deleet(entry.value), deleet(folded)])],
  };
}

const DEMO_MATCHERS: readonly DemoMatcher[] = KNOWN_DEMO_SECRETS.map(compileDemo);
const SEARCHED = DEMO_MATCHERS.filter((m) => m.match !== 'exact');
const EXACT = new Set(
  DEMO_MATCHERS.filter((m) => m.match === 'exact' && !/^\d+$/.test(m.targets[0]!)).flatMap((m) => [
    ...m.targets,
    ...m.targetsDeleeted,
  ]),
);
const EXACT_NUMBERS = DEMO_MATCHERS.filter((m) => m.match === 'exact' && /^\d+$/.test(m.targets[0]!)).flatMap(
  (m) => m.targets,
);

function matchesDemo(forms: Forms, matcher: DemoMatcher): boolean {
  // Both forms: a value like `sk_test_x=` would otherwise lose its prefix as a `NAME=`.
  if (matcher.match === 'prefix')
    return forms.lower.startsWith(matcher.prefix) || forms.unquoted.startsWith(matcher.prefix);
  return (
    matcher.targets.some((target) => target.length > 0 && forms.flat.includes(target)) ||
    matcher.targetsDeleeted.some((target) => target.length > 0 && forms.deleeted.includes(target))
  );
}

/** The longest exact entry: a cut longer than this cannot be one, so no longer cut is tried. */
const LONGEST_EXACT = Math.max(0, ...[...EXACT].map((entry) => entry.length));

function isDigitCode(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** Exact entries also match with digits added at either end: admin123, 2024password, 1234567. */
function matchesExactDemo(forms: Forms): boolean {
  for (const form of [forms.flat, forms.deleeted]) {
    let leading = 0;
    while (leading < form.length && isDigitCode(form.charCodeAt(leading))) leading++;
    if (form.length > 0 && leading === form.length) {
      if (EXACT_NUMBERS.some((n) => form.startsWith(n) || form.endsWith(n))) return true;
      continue;
    }
    // Counted with a loop: `/\d*$/` tries every position and is quadratic on a long run of digits.
    let trailing = form.length;
    while (trailing > 0 && isDigitCode(form.charCodeAt(trailing - 1))) trailing--;
    // Every way of cutting a run of digits off either end (abc1231 → abc123, abc12, ...), only
    // as far as a cut can still be as short as an entry: the loops stay bounded on long values.
    for (let end = trailing; end <= Math.min(form.length, LONGEST_EXACT); end++)
      if (EXACT.has(form.slice(0, end))) return true;
    for (let start = Math.max(0, form.length - LONGEST_EXACT); start <= leading; start++)
      if (EXACT.has(form.slice(start))) return true;
  }
  return false;
}

/**
 * True for a list of strings without holes: what `denylist` must be, for `secret()` and
 * {@link assessSecret} alike. Read as given, a string was one entry per character and a hole or
 * a number threw a TypeError.
 */
export function isDenylist(value: unknown): value is readonly string[] {
  return isListOf(value, (entry) => typeof entry === 'string');
}

/** How to fix a denylist {@link isDenylist} refuses, after the function's name. */
export const DENYLIST_FIX = "denylist must be a list of strings, e.g. `denylist: ['our-old-staging-key']`.";

/** What {@link assessSecret} checks against. */
export interface AssessSecretOptions {
  readonly kind?: SecretKind;
  readonly encoding?: SecretEncoding;
  /** Overrides the kind's minimum length in bytes (may only raise it); a positive safe integer. */
  readonly minBytes?: number;
  /** Extra known-bad values for this key (matched like the built-in `contains` entries). */
  readonly denylist?: readonly string[];
}

/**
 * Checks a would-be production secret and returns the rules it breaks (empty when it is
 * acceptable). Random keys of the kind's length never break a rule; human-made, placeholder,
 * documentation and generated-for-development values do. A `hex`/`base64`/`base64url` value is
 * also checked as the text it decodes to, when that is UTF-8; so is a `utf8` value that strictly
 * parses as hex, base64 or base64url to printable text (an encoded copy), up to two layers deep.
 *
 * @throws ConfigError `ERR_CONFIG_SCHEMA` for a value that is not a string, options that are not an
 * object, an unknown `kind` or `encoding`, a `minBytes` that is not a positive safe integer, or a
 * `denylist` that is not a list of strings.
 *
 * @example
 * ```ts
 * import { assessSecret } from '@rampart/config';
 * assessSecret('keyboard cat', { kind: 'key' }); // ['too-short', 'known-demo', ...]
 * ```
 */
export function assessSecret(value: string, options: AssessSecretOptions = {}): WeakSecretRule[] {
  return weakSecretFindings(value, options).rules;
}

/** The rules a value breaks (as {@link assessSecret} returns them) and where each was found. */
export interface WeakSecretFindings {
  readonly rules: WeakSecretRule[];
  /**
   * Rules broken by a value that is no JWT, or by a bundle's secrets that are not: a new random value
   * fixes them. Also a bundle secret's `surrounding-whitespace`, JWT or not (its advice reads `whitespace`).
   */
  readonly inValue: ReadonlySet<WeakSecretRule>;
  /** Rules broken by a JWT (the value itself, or a bundle's secret): its issuer fixes them, with a stronger key. */
  readonly inJwt: ReadonlySet<WeakSecretRule>;
  /**
   * Rules broken by a JWT on the `denylist` (`known-demo`): a leaked token, which its issuer
   * replaces with a new one (a stronger key is no fix).
   */
  readonly inDeniedJwt: ReadonlySet<WeakSecretRule>;
  /** True when `too-short` is a JWT given alone under a `minBytes` longer than it: lowering `minBytes` fixes it. */
  readonly jwtBelowMinBytes: boolean;
  /**
   * Where `surrounding-whitespace` was found: around the value itself, or around a secret inside
   * the JSON bundle the value is (whose outer text may have none).
   */
  readonly whitespace: { readonly around: boolean; readonly inside: boolean };
}

/** Where a rule was found: in a JWT, in a JWT matching the denylist, in a JWT under `minBytes`, or in anything else. */
type Origin = 'value' | 'jwt' | 'denied-jwt' | 'jwt-length';

/** {@link assessSecret}, also saying where each rule was found, for the advice in errors. */
export function weakSecretFindings(value: string, options: AssessSecretOptions = {}): WeakSecretFindings {
  // Checked here, not left to Node: its TypeError quotes the value it was given.
  if (typeof value !== 'string') {
    throw new ConfigError(
      'ERR_CONFIG_SCHEMA',
      `assessSecret(): the value must be a string (got ${describeType(value)}); pass the secret as text, e.g. buffer.toString('base64') with encoding 'base64'.`,
    );
  }
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new ConfigError(
      'ERR_CONFIG_SCHEMA',
      `assessSecret(): options must be an object such as { kind: 'key' } (got ${describeType(options)}).`,
    );
  }
  const encoding = options.encoding ?? 'utf8';
  const policy = checkedPolicy(options, encoding);
  const found = new Map<WeakSecretRule, Set<Origin>>();
  // `Bearer <token>`, `Basic <base64 of user:password>` (also as the base64 or hex of one): the
  // scheme name is no key material, so the rules measure the token, or the password (see
  // auth-scheme.ts). A declared encoding has no room for one: its bytes are the key.
  const credential = encoding === 'utf8' ? credentialAfterScheme(value) : value;
  const texts = encodedTexts(credential, encoding);
  // A PEM key is measured by its body, a JSON bundle by its values: their armor lines, keys and
  // quotes (and the hex or base64 of them) repeat each other by format.
  const measured = measuredText(credential, texts);
  // A JWT given alone: whatever it breaks, its issuer fixes (a new random value would not do).
  const origin: Origin = measured.jwt === true ? 'jwt' : 'value';
  const add = (rule: WeakSecretRule, where: Origin = origin): void => {
    const origins = found.get(rule) ?? new Set<Origin>();
    origins.add(where);
    found.set(rule, origins);
  };
  const decoded = decodeSecret(credential, encoding);
  // A copy-paste artefact: the service would use a key with a newline the issuer does not have.
  const around = hasSurroundingWhitespace(value);
  if (around) add('surrounding-whitespace');
  // A bundle's secrets, each by the same rule, a JWT's too: its advice reads `whitespace`, not the origin.
  if (measured.padded === true) add('surrounding-whitespace', 'value');
  const floor = Math.max(policy.minBytes, options.minBytes ?? 0);
  // The whole value's length and encoding. A JWT over the kind's floor but under `minBytes` is no
  // weak key: neither a random value nor a stronger signing key makes it longer, a lower `minBytes` does.
  if (decoded === undefined) add('bad-encoding', 'value');
  else if (decoded.bytes < floor)
    add('too-short', measured.jwt === true && decoded.bytes >= policy.minBytes ? 'jwt-length' : 'value');
  const {
    wholes,
    parts,
    lengths,
    carriedLengths,
    carriedWholes,
    signatures,
    unsignedJwt,
    demoSigned,
    readings,
    jwts,
    structured,
    bundle,
  } = measured;
  // A JWT signed with a documented demo key (jwt.io's `your-256-bit-secret`) is a demo token.
  if (demoSigned === true) add('known-demo', 'jwt');
  // An unsigned JWT (`alg: none` in any case, or an empty signature), given alone or as a bundle's
  // secret, is a token anyone can forge, not a secret.
  if (unsignedJwt === true) add('unsigned-jwt', 'jwt');
  // The armor and headers of a PEM key are not key bytes, nor is a bundle's `client_id` part of
  // its `client_secret`. A database URL's password beside it is a password, not the kind's key:
  // judged by a password's minimums, or the kind's when lower.
  const carriedPolicy: KindPolicy = {
    minBytes: Math.min(floor, KIND_POLICIES.password.minBytes),
    minBitsPerChar: Math.min(policy.minBitsPerChar, KIND_POLICIES.password.minBitsPerChar),
    minDistinct: Math.min(policy.minDistinct, KIND_POLICIES.password.minDistinct),
  };
  if (lengths.some((bytes) => bytes < floor) || carriedLengths?.some((bytes) => bytes < carriedPolicy.minBytes))
    add('too-short');
  // A JWT's signature is as long as its algorithm makes it (32 bytes for HS256, whatever key signed
  // it, 256 for RS256 with a 2048-bit key): judged against that size, not a higher floor
  // (`hmac-sha512`, `minBytes: 48`); a shorter one is not that algorithm's. An unknown `alg`: the floor.
  if (signatures?.some(({ alg, bytes }) => bytes < (jwsSignatureBytes(alg) ?? floor))) add('too-short', 'jwt');
  const measure = (whole: string, { minBitsPerChar, minDistinct }: KindPolicy, where: Origin): void => {
    if (whole.length > 0 && shannonBitsPerChar(whole) < minBitsPerChar) add('low-entropy', where);
    if (new Set(whole).size < minDistinct) add('few-distinct-characters', where);
  };
  for (const whole of wholes) measure(whole, policy, origin);
  for (const whole of carriedWholes ?? []) measure(whole, carriedPolicy, origin);
  for (const whole of jwts?.wholes ?? []) measure(whole, policy, 'jwt');
  for (const whole of jwts?.carriedWholes ?? []) measure(whole, carriedPolicy, 'jwt');
  const patterns = (texts: readonly string[], where: Origin): void => {
    if (texts.some((part) => part.length > 1 && (isRepeatedPattern(part) || hasRepeatedStretch(part))))
      add('repeated-pattern', where);
    if (texts.some((part) => longestSequentialRun(part) >= 8)) add('sequential', where);
  };
  patterns(parts, origin);
  patterns(jwts?.parts ?? [], 'jwt');
  const denylist = (options.denylist ?? []).map((extra) =>
    compileDemo({ value: extra, match: 'contains', origin: 'denylist option' }),
  );
  // A PEM block or a bundle is text a tool wrote: over its random base64 (1,700 characters in an
  // RSA key) and its key names (`SecretAccessKey`) a weak word is chance or format. Such a text,
  // and every encoding of it, is read only for known values; a bundle's text for the dev marker
  // only, its values one by one below, by what their key says they are.
  const readingOf = (text: string, sniffed: boolean): WordReading | 'bundle' =>
    text === bundle ? 'bundle' : sniffed || structured ? 'sniffed' : 'as-written';
  // A JWT on the denylist is a leaked token: its fix is a new token, not a stronger key.
  const words = (text: string, reading: WordReading | 'bundle', where: Origin = origin): void =>
    addWordRules(
      text,
      denylist,
      (rule, denied) => add(rule, denied && where === 'jwt' ? 'denied-jwt' : where),
      reading,
    );
  words(credential, readingOf(credential, false));
  // base64 of `super-secret-jwt-token-…` is that documented secret: the bytes a service uses are
  // the decoded ones. When they are text, the word rules read it too (the encoded text as well:
  // the Azurite key is documented in its base64 form). A utf8 value that strictly parses as hex or
  // base64 to printable text is read the same way (a Kubernetes Secret's base64 `data:` pasted into
  // an env var), and so is a second layer. Random bytes are valid UTF-8 too rarely to matter, and
  // the entropy and pattern rules keep measuring the value as written.
  // Sniffed text is often structured (a base64 Docker `config.json` with `"password":`, a JAAS line,
  // a PEM key): only the rules that recognise a known value read it, not the weak words.
  for (const { text, sniffed } of texts) words(text, readingOf(text, sniffed));
  // The text a PEM body decodes to (text in armor is not a key: every rule), and a bundle's values:
  // a secret by its key, on its own, with every rule; any other value for known values and
  // unmistakable placeholders only.
  for (const { text, reading } of readings) words(text, reading);
  for (const { text, reading } of jwts?.readings ?? []) words(text, reading, 'jwt');
  const rules = [...found.keys()];
  const where = (origin: Origin): Set<WeakSecretRule> => new Set(rules.filter((rule) => found.get(rule)?.has(origin)));
  return {
    rules,
    inValue: where('value'),
    inJwt: where('jwt'),
    inDeniedJwt: where('denied-jwt'),
    jwtBelowMinBytes: where('jwt-length').has('too-short'),
    whitespace: { around, inside: measured.padded === true },
  };
}

/** The kind's policy, once the options are known to be sound (direct callers skip `secret()`'s checks). */
function checkedPolicy(options: AssessSecretOptions, encoding: unknown): KindPolicy {
  const kind = options.kind ?? 'key';
  // Own keys only: `toString` must not find Object.prototype's function.
  if (!Object.hasOwn(KIND_POLICIES, kind))
    throw new ConfigError('ERR_CONFIG_SCHEMA', `assessSecret(): kind must be one of ${SECRET_KINDS.join(', ')}.`);
  if (!SECRET_ENCODINGS.includes(encoding as SecretEncoding))
    throw new ConfigError('ERR_CONFIG_SCHEMA', 'assessSecret(): encoding must be utf8, hex, base64 or base64url.');
  // `Math.max(32, NaN)` is NaN and `bytes < NaN` is false: an unchecked minBytes switches the
  // length floor off instead of raising it.
  if (options.minBytes !== undefined && !isPositiveSafeInteger(options.minBytes))
    throw new ConfigError('ERR_CONFIG_SCHEMA', 'assessSecret(): minBytes must be a positive safe integer (bytes).');
  if (options.denylist !== undefined && !isDenylist(options.denylist))
    throw new ConfigError('ERR_CONFIG_SCHEMA', `assessSecret(): ${DENYLIST_FIX}`);
  return KIND_POLICIES[kind];
}

/** True for 1, 2, ... up to `Number.MAX_SAFE_INTEGER`; false for NaN, 0, fractions, strings. */
export function isPositiveSafeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value > 0;
}

// Sniffed text can be long (a PEM key is ~1,700 random base64 characters): a demo entry of six
// letters (`shhhhh`, matched in any case and de-leeted) occurs in it by chance, so sniffed text is
// searched only for longer entries. Exact and prefix entries match the whole text or its start.
const MIN_SNIFFED_DEMO = 8;
const SEARCHED_IN_SNIFFED = SEARCHED.filter(
  (matcher) => matcher.match === 'prefix' || matcher.targets.every((target) => target.length >= MIN_SNIFFED_DEMO),
);
// Above this length sniffed text is not read for the loose `your…here` prompt, which random text
// spells by chance once it is long; short encoded placeholders (`your-key-here`) are still found.
const MAX_SNIFFED_PROMPT = 64;

/**
 * The placeholder, weak-word, demo, denylist and dev-marker rules, which read text as words.
 * `as-written` text gets them all. `sniffed` text (decoded from an encoding nobody declared) gets
 * only the rules that recognise a known value: dev marker, known demo (entries of 8+ characters),
 * denylist and placeholder shapes. A `field` (a bundle value under a key that names no secret) gets
 * the dev marker, long and prefix demo entries, the denylist and the unmistakable placeholder
 * shapes: `postgres`, `localhost` or `dev` is an ordinary `username`, `host` or `env`. A `bundle`
 * text is read for the dev marker only: its keys are its format.
 */
function addWordRules(
  value: string,
  denylist: readonly DemoMatcher[],
  add: (rule: WeakSecretRule, denied: boolean) => void,
  reading: WordReading | 'bundle',
): void {
  // The word and shape rules read the folded value: lookalike letters, fullwidth forms, accents and
  // zero-width characters cannot hide a word. Length, entropy and patterns are measured on the
  // value as it is. ASCII folds to itself.
  const folded = foldLookalikes(value);
  const sniffed = reading !== 'as-written';
  // Anywhere in the value: a gen-dev secret pasted with its quotes or its `.env` line
  // (`"rampart-dev-…"`, `JWT_KEY=rampart-dev-…`) is still one.
  if (folded.toLowerCase().includes(DEV_SECRET_PREFIX)) add('dev-marker', false);
  else if (
    reading !== 'bundle' &&
    isPlaceholderShape(folded, {
      prompts: !sniffed || folded.length <= MAX_SNIFFED_PROMPT,
      words: reading !== 'field',
    })
  )
    add('placeholder', false);
  const isHex = /^[0-9a-f]+$/.test(folded) || /^[0-9A-F]+$/.test(folded);
  const forms = formsOf(folded);
  const words = isHex ? forms.flat : `${forms.flat} ${forms.deleeted}`;
  if (!sniffed && WEAK_WORDS.some((word) => words.includes(word))) add('weak-word', false);
  if (reading === 'bundle') return;
  // A random hex value cannot spell a documented secret once de-leeted, but its digits can be
  // de-leeted into short words; compare hex values literally.
  const demoForms = isHex ? { ...forms, deleeted: forms.flat } : forms;
  const searched = sniffed ? SEARCHED_IN_SNIFFED : SEARCHED;
  if (
    (reading !== 'field' && matchesExactDemo(demoForms)) ||
    searched.some((matcher) => matchesDemo(demoForms, matcher))
  )
    add('known-demo', false);
  if (denylist.some((matcher) => matchesDemo(demoForms, matcher))) add('known-demo', true);
}

/** How a rule is fixed, for error messages. */
export const WEAK_RULE_HINTS: Readonly<Record<WeakSecretRule, string>> = {
  'too-short': 'shorter than this kind of secret needs',
  'surrounding-whitespace': 'starts or ends with whitespace (a copy-paste artefact?)',
  'bad-encoding': 'not valid in the declared encoding',
  'low-entropy': 'too little entropy per character',
  'few-distinct-characters': 'too few distinct characters',
  'repeated-pattern': 'a repeated pattern or a repeated stretch of 8 characters',
  sequential: 'contains a long sequential run',
  placeholder: 'looks like a placeholder',
  'weak-word': 'contains a word generated secrets never contain',
  'known-demo': 'a well-known demo/default secret',
  'dev-marker': 'a generated development secret',
  'unsigned-jwt': 'an unsigned JWT (`alg: none` or an empty signature), which anyone can forge: use a signed token',
};

/**
 * How a rule broken by a JWT (see {@link WeakSecretFindings.inJwt}) is fixed, for error messages:
 * the token's issuer signed it, so a random value of our own is no fix. Rules not listed read as in
 * {@link WEAK_RULE_HINTS}.
 */
export const JWT_RULE_HINTS: Readonly<Partial<Record<WeakSecretRule, string>>> = {
  'too-short':
    "a JWT whose signature is shorter than its `alg` makes it (an RSA key under 2048 bits, or not that algorithm's signature)",
  'low-entropy': 'a JWT whose signature has too little entropy per character for a random key to have made it',
  'few-distinct-characters': 'a JWT whose signature has too few distinct characters for a random key to have made it',
  'repeated-pattern': 'a JWT whose signature repeats a pattern or a stretch of 8 characters',
  sequential: 'a JWT whose signature contains a long sequential run',
  placeholder: 'a JWT that looks like a placeholder',
  'weak-word': 'a JWT whose signature holds a word signatures never contain (typed, not computed)',
  'known-demo': 'a well-known demo JWT, or one signed with a documented demo key',
  'dev-marker': 'a JWT holding a generated development secret',
};

/** The advice closing a weak-secret error when a JWT broke a rule: a new random value is no fix. */
export const JWT_FIX =
  'A JWT is fixed by its issuer: ask for a token signed with a stronger key (RSA of 2048 bits or more, ECDSA, EdDSA, or a random HMAC key at least as long as its hash), and rotate the signing key if it is yours.';

/** How `known-demo` reads for a JWT on the `denylist` (see {@link WeakSecretFindings.inDeniedJwt}). */
export const DENIED_JWT_HINT = 'a JWT on your denylist (a leaked or revoked token)';

/** The advice closing a weak-secret error when a JWT is on the denylist: a stronger key is no fix. */
export const DENIED_JWT_FIX =
  'A denylisted JWT is fixed by a new token, not a stronger key: ask its issuer for a new one and revoke the listed one.';

/** How `too-short` reads for a JWT given alone under a `minBytes` longer than it (see {@link WeakSecretFindings.jwtBelowMinBytes}). */
export const JWT_LENGTH_HINT = 'a JWT shorter than the `minBytes` set for this key, which its issuer decides, not you';

/** The advice closing a weak-secret error when a JWT is under `minBytes`: no new value of ours is a fix. */
export const JWT_LENGTH_FIX =
  'A JWT cannot be replaced by a random value, nor lengthened: lower `minBytes` for this key to at most the length of the tokens its issuer gives.';

/** How `surrounding-whitespace` reads when a secret inside a JSON bundle has it, not the value. */
export const BUNDLE_WHITESPACE_HINT = 'a secret inside the bundle starts or ends with whitespace: remove it there';

/** A value's type for an error message, never the value itself. */
function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (Buffer.isBuffer(value)) return 'a Buffer';
  return typeof value;
}
