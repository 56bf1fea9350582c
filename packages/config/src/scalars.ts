import { parseDuration } from './duration.ts';
import {
  build,
  type CommonOptions,
  checkOptions,
  fail,
  type IsOptional,
  isListOf,
  ok,
  type Parsed,
  type Spec,
  schemaError,
} from './spec.ts';

/** Options of {@link string}. */
export interface StringOptions extends CommonOptions<string> {
  readonly minLength?: number;
  readonly maxLength?: number;
  /** The whole value must match. */
  readonly pattern?: RegExp;
}

/**
 * A non-secret string. Declare credentials with {@link secret} instead.
 *
 * @example
 * ```ts
 * import { string } from '@rampart/config';
 * const schema = { SERVICE_NAME: string({ default: 'billing', pattern: /^[a-z-]+$/ }) };
 * ```
 */
export function string<const O extends StringOptions>(options?: O): Spec<string, IsOptional<O>> {
  const o: StringOptions = options ?? {};
  checkOptions('string', o, ['minLength', 'maxLength', 'pattern']);
  if (o.pattern !== undefined && !(o.pattern instanceof RegExp)) {
    throw schemaError('string(): pattern must be a RegExp, e.g. `pattern: /^[a-z-]+$/`.');
  }
  // Sticky from index 0 and followed by the end of the input, whatever the flags: `^…$` under
  // the `m` flag would accept a value whose first line matches. `g` is dropped; `lastIndex` is
  // reset before every test, so the answer never depends on the previous one.
  const whole = o.pattern
    ? new RegExp(`(?:${o.pattern.source})(?![\\s\\S])`, `${o.pattern.flags.replace(/[gy]/g, '')}y`)
    : undefined;
  const check = (value: string): string | undefined => {
    if (typeof value !== 'string') return 'must be a string';
    if (o.minLength !== undefined && value.length < o.minLength) return `must be at least ${o.minLength} characters`;
    if (o.maxLength !== undefined && value.length > o.maxLength) return `must be at most ${o.maxLength} characters`;
    if (o.pattern && whole) {
      whole.lastIndex = 0;
      if (!whole.test(value)) return `must match ${String(o.pattern)}`;
    }
    return undefined;
  };
  return build(
    'string',
    'string',
    o,
    'a string',
    (raw) => {
      const problem = check(raw);
      return problem === undefined ? ok(raw) : fail(problem);
    },
    check,
  );
}

/** Options of {@link number}. */
export interface NumberOptions extends CommonOptions<number> {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
}

function checkNumber(value: number, o: NumberOptions): string | undefined {
  if (typeof value !== 'number') return 'must be a number';
  if (!Number.isFinite(value)) return 'must be a finite number';
  if (o.integer && !Number.isInteger(value)) return 'must be an integer';
  // Past 2^53 a decimal integer is rounded to a neighbour (…993 loads as …992): refuse, not round.
  if (o.integer && !Number.isSafeInteger(value)) return 'must be a safe integer (at most 2^53-1 in magnitude)';
  if (o.min !== undefined && value < o.min) return `must be at least ${o.min}`;
  if (o.max !== undefined && value > o.max) return `must be at most ${o.max}`;
  return undefined;
}

/**
 * True when a decimal (already checked against the number syntax) is an integer as written.
 * `Number('4.9999999999999999')` is 5: checking the parsed number would round, not refuse.
 */
function isIntegerAsWritten(text: string): boolean {
  const exponentAt = text.search(/[eE]/);
  const mantissa = exponentAt === -1 ? text : text.slice(0, exponentAt);
  const exponent = exponentAt === -1 ? 0 : Number(text.slice(exponentAt + 1));
  const point = mantissa.indexOf('.');
  const fractionDigits = point === -1 ? 0 : mantissa.length - point - 1;
  const digits = mantissa.replace(/^[-+]/, '').replace('.', '');
  // Trailing zeros of the digits (`5.0`, `100e-2`) do not make a fraction.
  let zeros = 0;
  while (zeros < digits.length && digits.charCodeAt(digits.length - 1 - zeros) === 48) zeros++;
  if (zeros === digits.length) return true;
  return exponent - fractionDigits + zeros >= 0;
}

function parseNumber(raw: string, o: NumberOptions): Parsed<number> {
  const text = raw.trim();
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return fail('must be a decimal number');
  if (o.integer && !isIntegerAsWritten(text)) return fail('must be an integer');
  const value = Number(text);
  const problem = checkNumber(value, o);
  return problem === undefined ? ok(value) : fail(problem);
}

/**
 * A finite decimal number (`42`, `-1.5`, `1e3`); hex, `Infinity` and empty strings are refused.
 *
 * @example
 * ```ts
 * import { number } from '@rampart/config';
 * const schema = { POOL_SIZE: number({ default: 10, integer: true, min: 1, max: 100 }) };
 * ```
 */
export function number<const O extends NumberOptions>(options?: O): Spec<number, IsOptional<O>> {
  const o: NumberOptions = options ?? {};
  checkOptions('number', o, ['min', 'max', 'integer']);
  return build(
    'number',
    'number',
    o,
    o.integer ? 'an integer' : 'a number',
    (raw) => parseNumber(raw, o),
    (v) => checkNumber(v, o),
  );
}

/**
 * A TCP/UDP port, an integer 1–65535.
 *
 * @example
 * ```ts
 * import { port } from '@rampart/config';
 * const schema = { PORT: port({ default: 3000 }) };
 * ```
 */
export function port<const O extends CommonOptions<number>>(options?: O): Spec<number, IsOptional<O>> {
  const o: NumberOptions = { ...(options ?? {}), integer: true, min: 1, max: 65_535 };
  checkOptions('port', options ?? {}, []);
  return build(
    'port',
    'port',
    o,
    'a port (1-65535)',
    (raw) => parseNumber(raw, o),
    (v) => checkNumber(v, o),
  );
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/**
 * A boolean: `true/false`, `1/0`, `yes/no`, `on/off` (any case). Anything else is an error, not false.
 *
 * @example
 * ```ts
 * import { boolean } from '@rampart/config';
 * const schema = { TRUST_PROXY: boolean({ default: false }) };
 * ```
 */
export function boolean<const O extends CommonOptions<boolean>>(options?: O): Spec<boolean, IsOptional<O>> {
  const o = options ?? {};
  checkOptions('boolean', o, []);
  return build(
    'boolean',
    'boolean',
    o,
    'true or false',
    (raw) => {
      const text = raw.trim().toLowerCase();
      if (TRUE.has(text)) return ok(true);
      if (FALSE.has(text)) return ok(false);
      return fail('must be one of true, false, 1, 0, yes, no, on, off');
    },
    (value) => (typeof value === 'boolean' ? undefined : 'must be true or false'),
  );
}

/** Options of {@link url}. */
export interface UrlOptions extends CommonOptions<string> {
  /** Allowed protocols, lowercase and with the colon, e.g. `['https:']`. Default: any. */
  readonly protocols?: readonly string[];
  /**
   * A URL with a password in it (`user:password@`, or a query parameter such as `?password=`,
   * `?api_key=`, `?client_secret=`, `?access_token=`) is a secret in disguise and is refused unless
   * this is true. Prefer a `secret()` key for the credential.
   */
  readonly allowCredentials?: boolean;
}

// Query parameters that hold a credential (`?password=`, `?api_key=`, `?client_secret=`,
// `?access_token=`, Azure SAS `?sig=`, Google `?key=`, Firebase `?auth=`), compared lower-cased
// without `-`, `_` and `.`. `key` and `auth` are whole names only: `monkey`, `sort_key`,
// `authSource` and `author` are not credentials. `secretkey` and `secretaccesskey` are suffixes
// (`aws_secret_access_key`, `aws_secret_key`); `aws_access_key_id` is an identifier, not a secret.
const CREDENTIAL_PARAMETERS = new Set(['pwd', 'passphrase', 'privatekey']);
// Short whole names that are also everyday words elsewhere (`?sort[key]=`, `#key=value`,
// `/report;key=2024`, `sip:…;auth=digest`): read only as a query parameter's own name.
const SHORT_CREDENTIAL_PARAMETERS = new Set(['pass', 'sig', 'key', 'auth']);
const CREDENTIAL_SUFFIXES = [
  'password',
  'passwd',
  'secret',
  'token',
  'apikey',
  'signature',
  'secretkey',
  'secretaccesskey',
];

function flatName(name: string): string {
  return name.toLowerCase().replace(/[-_.]/g, '');
}

/** A name that holds a credential wherever it is written: `password`, `client_secret`, `pwd`. */
function isCredentialName(name: string): boolean {
  const flat = flatName(name);
  return CREDENTIAL_PARAMETERS.has(flat) || CREDENTIAL_SUFFIXES.some((suffix) => flat.endsWith(suffix));
}

// Whitespace and control characters around a name (`?password%20=`, `?password%00=`): servers
// and form parsers trim or cut them, so they cannot hide the name.
const NAME_PADDING = /^[\s\p{Cc}]+|[\s\p{Cc}]+$/gu;

/**
 * True when a parameter name names a credential, also written as a form field (`password[]`,
 * `user[password]`, `auth[token]`, `filter[reset_token]`): each bracketed part is read as a name.
 * `short` (a query parameter's own name) also reads the short names `key`, `auth`, `sig` and `pass`,
 * and only in the part before the first `[`: `?key=` is Google's API key, `?sort[key]=` a column.
 */
function isCredentialParameter(name: string, short: boolean): boolean {
  return name.split(/[[\]]/).some((part, index) => {
    const trimmed = part.replace(NAME_PADDING, '');
    if (trimmed === '') return false;
    return isCredentialName(trimmed) || (short && index === 0 && SHORT_CREDENTIAL_PARAMETERS.has(flatName(trimmed)));
  });
}

/** A parameter name for a message: as written, without the control characters around or in it. */
function shownName(name: string): string {
  return name.replace(/\p{Cc}/gu, '').trim();
}

/**
 * The `name=value` pairs of a query or fragment, decoded as a form is, split on `;` as well as
 * `&` (`?x=1;password=…`: many servers read `;` as a separator). `afterSemicolon` marks a pair that
 * only `;` separated: it may be part of a value (`?style=feature:all;key=1`).
 */
function formPairs(text: string): { name: string; value: string; afterSemicolon: boolean }[] {
  const pairs: { name: string; value: string; afterSemicolon: boolean }[] = [];
  for (const piece of text.split('&'))
    piece.split(';').forEach((part, index) => {
      if (part === '') return;
      for (const [name, value] of new URLSearchParams(part)) pairs.push({ name, value, afterSemicolon: index > 0 });
    });
  return pairs;
}

/**
 * The name of the first parameter in `text` that holds a non-empty credential. In a query
 * (`short`) the short names count for `&`-separated pairs; in a fragment (`#key=value` is an
 * anchor as often as not) and after a `;`, only names that say credential do.
 */
function credentialIn(text: string, short: boolean): string | undefined {
  for (const { name, value, afterSemicolon } of formPairs(text)) {
    if (value.trim() !== '' && isCredentialParameter(name, short && !afterSemicolon)) return shownName(name);
  }
  return undefined;
}

/** `;name=value` parameters of a hierarchical path's segments (`/p;password=…`), names decoded. */
function pathParameterCredential(path: string): string | undefined {
  for (const segment of path.split('/')) {
    for (const parameter of segment.split(';').slice(1)) {
      const at = parameter.indexOf('=');
      if (at <= 0 || parameter.slice(at + 1).trim() === '') continue;
      let name = parameter.slice(0, at);
      try {
        name = decodeURIComponent(name);
      } catch {
        // Not percent-encoded text: read as written.
      }
      if (isCredentialParameter(name, false)) return shownName(name);
    }
  }
  return undefined;
}

const PASSWORD_PROBLEM = 'embeds a password: put the password in a secret() key, or declare the key with secret()';

/** Longest URL `url()` reads; a configured URL is far shorter, and every check stays cheap. */
const MAX_URL_LENGTH = 8192;
/** Most schemes nested inside a URL (`jdbc:tc:mysql://…` nests 2); each is parsed once more. */
const MAX_NESTED_SCHEMES = 8;

// Oracle `jdbc:oracle:thin:user/password@host…` (also `oci`, `kprb`): up to the `/` after the
// user, when a password follows. The `@` after it is found with indexOf: `[^@]+@` in the
// expression would scan the rest of the value from every `oracle:`.
const ORACLE_USER = /(?:^|:)oracle:[a-z0-9]+:[^/@:]*\/(?!@)/i;

/** Why a URL carries a credential (userinfo password, credential parameter), or `undefined`. */
function credentialProblem(outer: URL): string | undefined {
  let parsed = outer;
  // One nested scheme is peeled off per round (`jdbc:tc:mysql://…`); bounded, not recursive.
  for (let nesting = 0; ; nesting++) {
    const problem = ownCredentialProblem(parsed);
    if (problem !== undefined) return problem;
    const nested = nestedUrl(parsed.pathname);
    if (nested === undefined) return undefined;
    if (nested === 'unparsable') {
      // WHATWG cannot parse some driver URLs (host lists `//h1:3306,h2:3306/db`): read the userinfo.
      return /\/\/[^/@:]*:[^/@]+@/.test(addressOf(parsed.pathname)) ? PASSWORD_PROBLEM : undefined;
    }
    if (nesting >= MAX_NESTED_SCHEMES) {
      return `nests more than ${MAX_NESTED_SCHEMES} schemes, so it cannot be checked for a password: write the URL with fewer schemes`;
    }
    parsed = nested;
  }
}

/** The address part of a nested URL: before its first `;name=value` parameter. */
function addressOf(inner: string): string {
  const at = inner.indexOf(';');
  return at === -1 ? inner : inner.slice(0, at);
}

/** The URL nested in an opaque path (`mysql://…` in `jdbc:mysql://…`), if it has one. */
function nestedUrl(inner: string): URL | 'unparsable' | undefined {
  // `(scheme:)+//`: also `jdbc:tc:mysql://…`.
  if (!/^(?:[A-Za-z][A-Za-z0-9+.-]*:)+\/\//.test(inner)) return undefined;
  try {
    return new URL(addressOf(inner));
  } catch {
    return 'unparsable';
  }
}

/** A credential in this URL itself: its userinfo, its query and fragment, its path's `;` and `(…)` parameters. */
function ownCredentialProblem(parsed: URL): string | undefined {
  if (parsed.password !== '') return PASSWORD_PROBLEM;
  const credential = credentialIn(parsed.search.slice(1), true);
  if (credential !== undefined) {
    return `carries a credential in the query parameter ${credential}: put it in a secret() key, or declare the key with secret()`;
  }
  // An OAuth implicit-flow callback (`#access_token=…`) keeps the token in the fragment.
  const inFragment = credentialIn(parsed.hash.slice(1), false);
  if (inFragment !== undefined) {
    return `carries a credential in the fragment parameter ${inFragment}: put it in a secret() key, or declare the key with secret()`;
  }
  // A nested scheme (`jdbc:mysql://app:pw@db/shop`) has an opaque path, so the outer URL sees no
  // password: read the inner URL, and its `;name=value` parameters (`jdbc:sqlserver://db;password=…`).
  const inner = parsed.pathname;
  const oracle = ORACLE_USER.exec(inner);
  if (oracle) {
    const afterSlash = oracle.index + oracle[0].length;
    if (inner.indexOf('@', afterSlash + 1) !== -1) return PASSWORD_PROBLEM;
  }
  if (!/^(?:[A-Za-z][A-Za-z0-9+.-]*:)+\/\//.test(inner)) {
    const inPath = pathParameterCredential(inner);
    return inPath === undefined
      ? undefined
      : `carries a credential in the parameter ${inPath}: put it in a secret() key, or declare the key with secret()`;
  }
  const [address = '', ...parameters] = inner.split(';');
  // `;name=value` (SQL Server) and `(name=value)` (MySQL `address=(host=db)(password=…)`).
  const named = [
    ...parameters.map((parameter) => {
      const at = parameter.indexOf('=');
      return at > 0 ? ([parameter.slice(0, at), parameter.slice(at + 1)] as const) : undefined;
    }),
    // Each `(…)` group may hold several `name=value` pairs (MySQL `(host=db,user=app,password=…)`).
    ...[...address.matchAll(/\(([^()]*)\)/g)].flatMap((match) =>
      (match[1] ?? '').split(',').map((pair) => {
        const at = pair.indexOf('=');
        return at > 0 ? ([pair.slice(0, at), pair.slice(at + 1)] as const) : undefined;
      }),
    ),
  ];
  for (const parameter of named) {
    if (parameter && parameter[1].trim() !== '' && isCredentialParameter(parameter[0], true)) {
      return `carries a credential in the parameter ${shownName(parameter[0])}: put it in a secret() key, or declare the key with secret()`;
    }
  }
  return undefined;
}

/** A scheme as `URL.protocol` gives it (RFC 3986: a letter, then letters, digits, `+`, `.`, `-`), lowercased, with the colon. */
const URL_PROTOCOL = /^[a-z][a-z0-9+.-]*:$/;

/**
 * An absolute URL, returned as the string given (strings cannot be mutated; `URL` objects can).
 *
 * @example
 * ```ts
 * import { url } from '@rampart/config';
 * const schema = { ISSUER_URL: url({ protocols: ['https:'] }) };
 * ```
 */
export function url<const O extends UrlOptions>(options?: O): Spec<string, IsOptional<O>> {
  const o: UrlOptions = options ?? {};
  checkOptions('url', o, ['protocols', 'allowCredentials']);
  // A string was searched as a substring (`'https:'` allowed `s:`) and then threw a TypeError. An
  // entry `URL.protocol` never gives (`'https'`, `'HTTPS:'`) refused every URL at load instead.
  if (
    o.protocols !== undefined &&
    !(isListOf(o.protocols, (p) => typeof p === 'string' && URL_PROTOCOL.test(p)) && o.protocols.length > 0)
  ) {
    throw schemaError(
      "url(): protocols must be a non-empty list of protocols as URL.protocol gives them, lowercase and with the colon, e.g. `protocols: ['https:']`.",
    );
  }
  const check = (value: string): string | undefined => {
    if (typeof value !== 'string') return 'must be a string';
    // The credential check reads nested schemes and parameters: bounded to MAX_URL_LENGTH. A URL
    // that skips it (allowCredentials) may be longer.
    if (o.allowCredentials !== true && value.length > MAX_URL_LENGTH) {
      return `must be at most ${MAX_URL_LENGTH} characters long (or allowCredentials: true, which skips the credential check)`;
    }
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return 'must be an absolute URL';
    }
    if (o.protocols && !o.protocols.includes(parsed.protocol)) {
      return `must use one of the protocols ${o.protocols.join(', ')}`;
    }
    if (o.allowCredentials === true) return undefined;
    return credentialProblem(parsed);
  };
  return build(
    'url',
    'url',
    o,
    o.protocols ? `a ${o.protocols.join('/')} URL` : 'an absolute URL',
    (raw) => {
      const problem = check(raw.trim());
      return problem === undefined ? ok(raw.trim()) : fail(problem);
    },
    check,
  );
}

/**
 * One of a fixed set of strings; the type narrows to the union of the choices.
 *
 * @example
 * ```ts
 * import { oneOf } from '@rampart/config';
 * const schema = { LOG_LEVEL: oneOf(['debug', 'info', 'warn', 'error'], { default: 'info' }) };
 * ```
 */
export function oneOf<const C extends readonly [string, ...string[]], const O extends CommonOptions<C[number]>>(
  choices: C,
  options?: O,
): Spec<C[number], IsOptional<O>> {
  const o = options ?? {};
  checkOptions('oneOf', o, []);
  if (!isListOf(choices, (c) => typeof c === 'string') || choices.length === 0) {
    throw schemaError('oneOf() needs a non-empty array of strings.');
  }
  const allowed = new Set<string>(choices);
  const reason = `must be one of ${choices.join(', ')}`;
  return build(
    'oneOf',
    'enum',
    o,
    `one of ${choices.join(', ')}`,
    (raw) => {
      const text = raw.trim();
      return allowed.has(text) ? ok(text as C[number]) : fail(reason);
    },
    (v) => (allowed.has(v) ? undefined : reason),
  );
}

/** Options of {@link duration}; `default` may be a duration string or milliseconds. */
export interface DurationOptions extends Omit<CommonOptions<number>, 'default'> {
  readonly default?: number | string;
  /** Minimum in milliseconds. */
  readonly min?: number;
  /** Maximum in milliseconds. */
  readonly max?: number;
}

/**
 * A duration (`500ms`, `30s`, `5m`, `1h30m`, `2d`, ISO 8601 `PT1H`) loaded as milliseconds.
 *
 * @example
 * ```ts
 * import { duration } from '@rampart/config';
 * const schema = { SESSION_TTL: duration({ default: '8h', max: 86_400_000 }) };
 * ```
 */
export function duration<const O extends DurationOptions>(options?: O): Spec<number, IsOptional<O>> {
  const o: DurationOptions = options ?? {};
  checkOptions('duration', o, ['min', 'max']);
  const check = (ms: number): string | undefined => {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0)
      return 'must be a finite, non-negative number of milliseconds';
    if (o.min !== undefined && ms < o.min) return `must be at least ${o.min} ms`;
    if (o.max !== undefined && ms > o.max) return `must be at most ${o.max} ms`;
    return undefined;
  };
  let defaultMs: number | undefined;
  if (typeof o.default === 'string') {
    defaultMs = parseDuration(o.default);
    if (defaultMs === undefined) throw schemaError('duration(): the default is not a duration such as 30s or 5m.');
  } else defaultMs = o.default;
  const common: CommonOptions<number> = {
    ...(defaultMs === undefined ? {} : { default: defaultMs }),
    ...(o.optional === undefined ? {} : { optional: o.optional }),
    ...(o.description === undefined ? {} : { description: o.description }),
  };
  return build(
    'duration',
    'duration',
    common,
    'a duration such as 30s, 5m or 1h30m',
    (raw) => {
      const ms = parseDuration(raw);
      if (ms === undefined) return fail('must be a duration such as 500ms, 30s, 5m, 1h30m or PT1H');
      const problem = check(ms);
      return problem === undefined ? ok(ms) : fail(problem);
    },
    check,
  );
}
