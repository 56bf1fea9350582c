import { KNOWN_DEMO_SECRETS, type KnownDemoSecret } from './known-demo-secrets.ts';
import { foldLookalikes } from './lookalikes.ts';

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
  | 'dev-marker';

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
] as const;

// Whole tokens (between separators) that mark a placeholder or a non-production value.
const PLACEHOLDER_TOKENS = new Set([
  'todo',
  'tbd',
  'fixme',
  'test',
  'dev',
  'demo',
  'fake',
  'mock',
  'stub',
  'foo',
  'bar',
  'baz',
  'none',
  'null',
  'undefined',
  'empty',
  'unset',
  'local',
  'localhost',
]);

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

function shannonBitsPerChar(value: string): number {
  const counts = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.codePointAt(i)!;
    if (code > 0xffff) i++;
    counts.set(code, (counts.get(code) ?? 0) + 1);
    total++;
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / total;
    bits -= p * Math.log2(p);
  }
  return bits;
}

function isRepeatedPattern(value: string): boolean {
  const n = value.length;
  for (let period = 1; period <= n / 2; period++) {
    if (n % period !== 0) continue;
    if (value.slice(0, period).repeat(n / period) === value) return true;
  }
  return false;
}

/** True when some 8-character stretch occurs twice: `Ab3kx9Qz…Ab3kx9Qz`, a key pasted twice. */
function hasRepeatedStretch(value: string): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + 8 <= value.length; i++) {
    const stretch = value.slice(i, i + 8);
    if (seen.has(stretch)) return true;
    seen.add(stretch);
  }
  return false;
}

function longestSequentialRun(value: string): number {
  let longest = 1;
  let run = 1;
  let direction = 0;
  for (let i = 1; i < value.length; i++) {
    const step = value.charCodeAt(i) - value.charCodeAt(i - 1);
    if ((step === 1 || step === -1) && (run === 1 || step === direction)) {
      run++;
      direction = step;
    } else if (step === 1 || step === -1) {
      run = 2;
      direction = step;
    } else {
      run = 1;
      direction = 0;
    }
    longest = Math.max(longest, run);
  }
  return longest;
}

function isPlaceholderShape(value: string): boolean {
  // Shapes are anchored or need word-like content: generated passwords contain <, >, $ and {
  // by chance, but not `<your-api-key>` or `${JWT_SECRET}`.
  if (/^\s*<[A-Za-z][\w .-]*>\s*$/.test(value)) return true;
  // An embedded `<YOUR_API_KEY>` counts only when it is a large part of the value or sits in plain
  // text (`sk_live_<KEY>`, `postgres://u:<PASSWORD_HERE>@db`): a long random password contains a
  // bracketed run of capitals now and then.
  const embedded = /<[a-z]{3,}(?:[-_ ][a-z]{2,})+>|<[A-Z]{3,}(?:[-_ ][A-Z]{2,})+>/.exec(value);
  if (embedded) {
    const outside = value.slice(0, embedded.index) + value.slice(embedded.index + embedded[0].length);
    if (embedded[0].length * 3 >= value.length || /^[\w.:/@+-]*$/.test(outside)) return true;
  }
  if (/\$\{(?:[A-Z_][A-Z0-9_]{4,}|[a-z_][a-z0-9_.]{4,})(?::[^}]*)?\}|\{\{\s*[A-Za-z_][\w.]{2,}\s*\}\}/.test(value))
    return true;
  if (/^\$(?:[A-Z_][A-Z0-9_]*|[a-z_][a-z0-9_]*)$|^%[A-Z_][A-Z0-9_]*%$|^__[A-Z][A-Z0-9_]*__$/.test(value)) return true;
  const flat = normalize(value);
  if (/^(your|insert|enter|paste).*(key|secret|token|password|pass|value|here)/.test(flat)) return true;
  if (/(your|insert|enter|paste).*here/.test(flat)) return true;
  if (/change.?me|changethis|replace.?me|replacethis/.test(value.toLowerCase())) return true;
  const tokens = value.split(/[^A-Za-z0-9*#?.]+/).filter((token) => token.length > 0);
  if (tokens.some((token) => /^(x{4,}|X{4,}|\*{6,}|#{6,}|\?{6,}|\.{6,})$/.test(token))) return true;
  // Only written-by-a-person values (words and numbers between separators) are checked for
  // placeholder words: short tokens occur by chance between the separators of random base64.
  const wordLike =
    tokens.length > 0 &&
    tokens.every((token) => /^(?:[a-z]+|[A-Z]+|[A-Z][a-z]+|[0-9]+)$/.test(token)) &&
    tokens.reduce((sum, token) => sum + token.length, 0) >= 3 * tokens.length;
  return wordLike && tokens.some((token) => PLACEHOLDER_TOKENS.has(token.toLowerCase()));
}

interface Forms {
  readonly raw: string;
  readonly lower: string;
  readonly flat: string;
  readonly deleeted: string;
}

function formsOf(raw: string): Forms {
  return { raw, lower: raw.toLowerCase(), flat: normalize(raw), deleeted: deleet(raw) };
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
  if (matcher.match === 'prefix') return forms.lower.startsWith(matcher.prefix);
  return (
    matcher.targets.some((target) => target.length > 0 && forms.flat.includes(target)) ||
    matcher.targetsDeleeted.some((target) => target.length > 0 && forms.deleeted.includes(target))
  );
}

/** Exact entries also match with digits added at either end: admin123, 2024password, 1234567. */
function matchesExactDemo(forms: Forms): boolean {
  for (const form of [forms.flat, forms.deleeted]) {
    if (/^\d+$/.test(form)) {
      if (EXACT_NUMBERS.some((n) => form.startsWith(n) || form.endsWith(n))) return true;
      continue;
    }
    // Every way of cutting a run of digits off either end: abc1231 → abc123, abc12, ...
    const trailing = form.length - (/\d*$/.exec(form)?.[0].length ?? 0);
    for (let end = trailing; end <= form.length; end++) if (EXACT.has(form.slice(0, end))) return true;
    const leading = /^\d*/.exec(form)?.[0].length ?? 0;
    for (let start = 0; start <= leading; start++) if (EXACT.has(form.slice(start))) return true;
  }
  return false;
}

function decodedLength(value: string, encoding: SecretEncoding): number | undefined {
  switch (encoding) {
    case 'utf8':
      return Buffer.byteLength(value, 'utf8');
    case 'hex':
      return /^(?:[0-9a-fA-F]{2})+$/.test(value) ? value.length / 2 : undefined;
    case 'base64':
      return /^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0
        ? Buffer.from(value, 'base64').length
        : undefined;
    case 'base64url':
      return /^[A-Za-z0-9_-]+$/.test(value) && value.length % 4 !== 1
        ? Buffer.from(value, 'base64url').length
        : undefined;
  }
}

/** What {@link assessSecret} checks against. */
export interface AssessSecretOptions {
  readonly kind?: SecretKind;
  readonly encoding?: SecretEncoding;
  /** Overrides the kind's minimum length in bytes (may only raise it). */
  readonly minBytes?: number;
  /** Extra known-bad values for this key (matched like the built-in `contains` entries). */
  readonly denylist?: readonly string[];
}

/**
 * Checks a would-be production secret and returns the rules it breaks (empty when it is
 * acceptable). Random keys of the kind's length never break a rule; human-made, placeholder,
 * documentation and generated-for-development values do.
 *
 * @example
 * ```ts
 * import { assessSecret } from '@rampart/config';
 * assessSecret('keyboard cat', { kind: 'key' }); // ['too-short', 'known-demo', ...]
 * ```
 */
export function assessSecret(value: string, options: AssessSecretOptions = {}): WeakSecretRule[] {
  const kind = options.kind ?? 'key';
  const policy = KIND_POLICIES[kind];
  const encoding = options.encoding ?? 'utf8';
  const rules = new Set<WeakSecretRule>();
  const bytes = decodedLength(value, encoding);
  // A copy-paste artefact: the service would use a key with a newline the issuer does not have.
  if (/^\s|\s$/.test(value)) rules.add('surrounding-whitespace');
  if (bytes === undefined) rules.add('bad-encoding');
  else if (bytes < Math.max(policy.minBytes, options.minBytes ?? 0)) rules.add('too-short');
  if (value.length > 0 && shannonBitsPerChar(value) < policy.minBitsPerChar) rules.add('low-entropy');
  if (new Set(value).size < policy.minDistinct) rules.add('few-distinct-characters');
  if (value.length > 1 && (isRepeatedPattern(value) || hasRepeatedStretch(value))) rules.add('repeated-pattern');
  if (longestSequentialRun(value) >= 8) rules.add('sequential');
  // The word and shape rules read the folded value: lookalike letters, fullwidth forms, accents and
  // zero-width characters cannot hide a word. Length, entropy and patterns are measured on the
  // value as it is. ASCII folds to itself.
  const folded = foldLookalikes(value);
  // Anywhere in the value: a gen-dev secret pasted with its quotes or its `.env` line
  // (`"rampart-dev-…"`, `JWT_KEY=rampart-dev-…`) is still one.
  if (folded.toLowerCase().includes(DEV_SECRET_PREFIX)) rules.add('dev-marker');
  else if (isPlaceholderShape(folded)) rules.add('placeholder');
  const isHex = /^[0-9a-f]+$/.test(folded) || /^[0-9A-F]+$/.test(folded);
  const forms = formsOf(folded);
  const words = isHex ? forms.flat : `${forms.flat} ${forms.deleeted}`;
  if (WEAK_WORDS.some((word) => words.includes(word))) rules.add('weak-word');
  // A random hex value cannot spell a documented secret once de-leeted, but its digits can be
  // de-leeted into short words; compare hex values literally.
  const demoForms = isHex ? { ...forms, deleeted: forms.flat } : forms;
  if (matchesExactDemo(demoForms) || SEARCHED.some((matcher) => matchesDemo(demoForms, matcher)))
    rules.add('known-demo');
  for (const extra of options.denylist ?? []) {
    if (matchesDemo(demoForms, compileDemo({ value: extra, match: 'contains', origin: 'denylist option' })))
      rules.add('known-demo');
  }
  return [...rules];
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
};
