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

const INTERPOLATION_START = /\$\{(?:[A-Z_][A-Z0-9_]{4,}|[a-z_][a-z0-9_.]{4,})[:}]/;

/**
 * `${JWT_SECRET}` or `${JWT_SECRET:default}`. The regular expression `\$\{NAME(?::[^}]*)?\}` scans
 * the rest of the value from every `${NAME:`, quadratic in their number; `[^}]*\}` only asks
 * that a `}` follows, and the first such start is the one most likely to have one.
 */
function isInterpolation(value: string): boolean {
  const start = INTERPOLATION_START.exec(value);
  if (!start) return false;
  const end = start.index + start[0].length;
  return start[0].endsWith('}') || value.indexOf('}', end) !== -1;
}

// A whole value that is a config-provider reference, resolved by the program that reads it:
// Kafka's `${file:/etc/kafka/secrets.properties:password}`, `${env:KAFKA_PASSWORD}`,
// `${directory:/mnt/secrets:pw}`. Anchored: a random password does not begin with `${` and end with `}`.
const PROVIDER_REFERENCE = /^\$\{[A-Za-z][\w.-]{0,31}:[^{}]{1,512}\}$/;

const PROMPTS = ['your', 'insert', 'enter', 'paste'] as const;

/**
 * `your…here`, `paste…here`: `/(your|insert|enter|paste).*here/` in linear time (the expression
 * scans the rest of the value from every `your`). The earliest-ending prompt word leaves the most
 * room for a `here` after it.
 */
function hasWordBeforeHere(flat: string): boolean {
  let earliestEnd = Number.POSITIVE_INFINITY;
  for (const word of PROMPTS) {
    const at = flat.indexOf(word);
    if (at !== -1) earliestEnd = Math.min(earliestEnd, at + word.length);
  }
  return earliestEnd !== Number.POSITIVE_INFINITY && flat.indexOf('here', earliestEnd) !== -1;
}

/** What {@link isPlaceholderShape} reads. */
export interface PlaceholderShapeOptions {
  /**
   * Read the loose `your…here` / `insert…here` prompt anywhere in the value (default true). Long
   * text decoded from an undeclared encoding spells it by chance, so it is not read there.
   */
  readonly prompts?: boolean;
  /**
   * Read placeholder words (default true): prompts (`your-key`, `enter…value`), `change me` inside
   * a word, and tokens such as `dev`, `test`, `localhost`. A bundle field that names no secret
   * holds such words as ordinary values (`"env": "dev"`, a host `exchangemedia.io`), so only the
   * unmistakable shapes are read there: `${NAME}`, `{{ name }}`, `<your-…>`, `$NAME`, `xxxx`,
   * `******`, and `change-me` / `replace-me` as whole words.
   */
  readonly words?: boolean;
}

/**
 * True when a value is a placeholder rather than a secret: `<your-api-key>`, `${JWT_SECRET}`,
 * `${env:KAFKA_PASSWORD}`, `changeme`, `xxxx`, `TODO`. Reads the folded value (lookalikes.ts).
 */
export function isPlaceholderShape(value: string, options: PlaceholderShapeOptions = {}): boolean {
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
  if (isInterpolation(value) || PROVIDER_REFERENCE.test(value) || /\{\{\s*[A-Za-z_][\w.]{2,}\s*\}\}/.test(value))
    return true;
  if (/^\$(?:[A-Z_][A-Z0-9_]*|[a-z_][a-z0-9_]*)$|^%[A-Z_][A-Z0-9_]*%$|^__[A-Z][A-Z0-9_]*__$/.test(value)) return true;
  const tokens = value.split(/[^A-Za-z0-9*#?.]+/).filter((token) => token.length > 0);
  if (tokens.some((token) => /^(x{4,}|X{4,}|\*{6,}|#{6,}|\?{6,}|\.{6,})$/.test(token))) return true;
  if (options.words === false)
    return /(?:^|[^a-z])(?:change|replace)[-_ ]?(?:me|this)(?:$|[^a-z])/.test(value.toLowerCase());
  const flat = value.toLowerCase().replace(/[^a-z0-9]/g, '');
  if (/^(your|insert|enter|paste).*(key|secret|token|password|pass|value|here)/.test(flat)) return true;
  if (options.prompts !== false && hasWordBeforeHere(flat)) return true;
  if (/change.?me|changethis|replace.?me|replacethis/.test(value.toLowerCase())) return true;
  // Only written-by-a-person values (words and numbers between separators) are checked for
  // placeholder words: short tokens occur by chance between the separators of random base64.
  const wordLike =
    tokens.length > 0 &&
    tokens.every((token) => /^(?:[a-z]+|[A-Z]+|[A-Z][a-z]+|[0-9]+)$/.test(token)) &&
    tokens.reduce((sum, token) => sum + token.length, 0) >= 3 * tokens.length;
  return wordLike && tokens.some((token) => PLACEHOLDER_TOKENS.has(token.toLowerCase()));
}
