import { parseDuration } from './duration.ts';
import { ConfigError } from './errors.ts';
import type { Secret } from './secret.ts';
import { isStandardSchema, type StandardSchemaV1 } from './standard-schema.ts';
import type { SecretEncoding, SecretKind } from './weak-secret.ts';

/** Where a value can come from; `secretSources` policies are written in these terms. */
export type SourceKind = 'env' | 'file' | 'tree' | 'vault';

/** The outcome of parsing one raw value. `reason` is written by us and never quotes the value. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

/** Options that tune how a secret is checked and where it may come from. */
export interface SecretSpecOptions {
  readonly kind: SecretKind;
  readonly encoding: SecretEncoding;
  readonly minBytes: number | undefined;
  readonly denylist: readonly string[];
  /** Sources allowed in production; `undefined` means the load option `secretSources` decides. */
  readonly sources: readonly SourceKind[] | undefined;
}

/**
 * One declared key. Build specs with {@link string}, {@link port}, {@link secret}, ...; a Standard
 * Schema validator (zod, valibot) may stand in for a spec in a schema.
 */
export interface Spec<T, Optional extends boolean = boolean> {
  readonly kind: 'string' | 'number' | 'boolean' | 'port' | 'url' | 'enum' | 'duration' | 'list' | 'json' | 'secret';
  readonly optional: Optional;
  /** Present when the key has a default (never for secrets). */
  readonly default: { readonly value: T } | undefined;
  readonly description: string | undefined;
  /** Present for secrets only. */
  readonly secret: SecretSpecOptions | undefined;
  /** Human description of an acceptable value, for errors and `gen-dev` (never a real value). */
  readonly expects: string;
  /** Parses a raw string. Secrets return the string; loading wraps it in a `Secret`. */
  parse(raw: string): Parsed<T>;
}

/** Anything a schema key may be declared with. */
export type SpecLike = Spec<unknown> | StandardSchemaV1;

/** A configuration schema: key name (the environment variable name) → spec. */
export type Schema = Readonly<Record<string, SpecLike>>;

/** Makes a loaded value deeply read-only at the type level (it is frozen at run time too). */
export type DeepReadonly<T> = T extends Secret
  ? Secret
  : T extends (...args: never[]) => unknown
    ? T
    : T extends readonly (infer U)[]
      ? readonly DeepReadonly<U>[]
      : T extends object
        ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
        : T;

/** The type of one loaded key. */
export type InferValue<S> =
  S extends Spec<infer T, infer O>
    ? O extends true
      ? DeepReadonly<T> | undefined
      : DeepReadonly<T>
    : S extends StandardSchemaV1
      ? DeepReadonly<StandardSchemaV1.InferOutput<S>>
      : never;

/**
 * The type of a loaded config.
 *
 * @example
 * ```ts
 * import { type InferConfig, port, secret } from '@rampart/config';
 * const schema = { PORT: port({ default: 3000 }), JWT_KEY: secret({ kind: 'jwt-hs256' }) };
 * type AppConfig = InferConfig<typeof schema>; // { readonly PORT: number; readonly JWT_KEY: Secret }
 * ```
 */
export type InferConfig<S extends Schema> = { readonly [K in keyof S]: InferValue<S[K]> };

interface CommonOptions<T> {
  /** Used when no source sets the key. Validated when the schema is defined. */
  readonly default?: T;
  /** When true and no source sets the key, the value is `undefined`. */
  readonly optional?: boolean;
  /** Shown by the CLI and in generated dev profiles. */
  readonly description?: string;
}

type IsOptional<O> = O extends { readonly optional: true } ? true : false;

const KNOWN_COMMON = ['default', 'optional', 'description'];

function schemaError(message: string): ConfigError {
  return new ConfigError('ERR_CONFIG_SCHEMA', message);
}

function checkOptions(builder: string, options: object, allowed: readonly string[]): void {
  const unknown = Object.keys(options).filter((key) => !KNOWN_COMMON.includes(key) && !allowed.includes(key));
  if (unknown.length > 0) {
    throw schemaError(`${builder}() does not know the option(s) ${unknown.join(', ')}; check the spelling.`);
  }
}

function build<T, O extends boolean>(
  builder: string,
  kind: Spec<T>['kind'],
  options: CommonOptions<T>,
  expects: string,
  parse: (raw: string) => Parsed<T>,
  checkDefault: (value: T) => string | undefined,
  secretOptions?: SecretSpecOptions,
): Spec<T, O> {
  let defaultValue: { readonly value: T } | undefined;
  if (options.default !== undefined) {
    const problem = checkDefault(options.default);
    if (problem !== undefined) throw schemaError(`${builder}(): the default is invalid: ${problem}.`);
    defaultValue = Object.freeze({ value: deepFreeze(options.default) });
  }
  return Object.freeze({
    kind,
    optional: (options.optional === true) as O,
    default: defaultValue,
    description: options.description,
    secret: secretOptions,
    expects,
    parse,
  });
}

/** Freezes a value and everything reachable from it (arrays, plain objects). */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Reflect.ownKeys(value)) deepFreeze((value as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

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
  const check = (value: string): string | undefined => {
    if (o.minLength !== undefined && value.length < o.minLength) return `must be at least ${o.minLength} characters`;
    if (o.maxLength !== undefined && value.length > o.maxLength) return `must be at most ${o.maxLength} characters`;
    if (o.pattern && !new RegExp(`^(?:${o.pattern.source})$`, o.pattern.flags.replace('g', '')).test(value)) {
      return `must match ${String(o.pattern)}`;
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
  if (!Number.isFinite(value)) return 'must be a finite number';
  if (o.integer && !Number.isInteger(value)) return 'must be an integer';
  if (o.min !== undefined && value < o.min) return `must be at least ${o.min}`;
  if (o.max !== undefined && value > o.max) return `must be at most ${o.max}`;
  return undefined;
}

function parseNumber(raw: string, o: NumberOptions): Parsed<number> {
  const text = raw.trim();
  if (!/^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?$/.test(text)) return fail('must be a decimal number');
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
    () => undefined,
  );
}

/** Options of {@link url}. */
export interface UrlOptions extends CommonOptions<string> {
  /** Allowed protocols with the colon, e.g. `['https:']`. Default: any. */
  readonly protocols?: readonly string[];
  /**
   * A URL with a password in it is a secret in disguise and is refused unless this is true.
   * Prefer a `secret()` key for the password.
   */
  readonly allowCredentials?: boolean;
}

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
  const check = (value: string): string | undefined => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      return 'must be an absolute URL';
    }
    if (o.protocols && !o.protocols.includes(parsed.protocol)) {
      return `must use one of the protocols ${o.protocols.join(', ')}`;
    }
    if (parsed.password !== '' && o.allowCredentials !== true) {
      return 'embeds a password: put the password in a secret() key, or declare the key with secret()';
    }
    return undefined;
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
  if (!Array.isArray(choices) || choices.length === 0 || choices.some((c) => typeof c !== 'string')) {
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

type ItemOf<O> = O extends { readonly of: Spec<infer T, boolean> } ? T : string;

/** Options of {@link list}. */
export interface ListOptions<T> extends CommonOptions<readonly T[]> {
  /** The spec of each item (a synchronous spec, not a secret). Default: {@link string}. */
  readonly of?: Spec<T, false>;
  /** Default `,`. Items are trimmed; empty items are refused. */
  readonly separator?: string;
  readonly minItems?: number;
  readonly maxItems?: number;
}

/**
 * A separated list (`a,b,c`), each item parsed by `of`.
 *
 * @example
 * ```ts
 * import { list, url } from '@rampart/config';
 * const schema = { CORS_ORIGINS: list({ of: url({ protocols: ['https:'] }), minItems: 1 }) };
 * ```
 */
export function list<const O extends ListOptions<unknown> = ListOptions<string>>(
  options?: O,
): Spec<readonly ItemOf<O>[], IsOptional<O>> {
  type T = ItemOf<O>;
  const o = (options ?? {}) as ListOptions<T>;
  checkOptions('list', o, ['of', 'separator', 'minItems', 'maxItems']);
  const item = (o.of ?? string()) as Spec<T, false>;
  if (item.secret) throw schemaError('list(): items cannot be secrets; declare each secret as its own key.');
  const separator = o.separator ?? ',';
  const checkCount = (count: number): string | undefined => {
    if (o.minItems !== undefined && count < o.minItems) return `must have at least ${o.minItems} item(s)`;
    if (o.maxItems !== undefined && count > o.maxItems) return `must have at most ${o.maxItems} item(s)`;
    return undefined;
  };
  return build(
    'list',
    'list',
    o,
    `a list of ${item.expects} separated by "${separator}"`,
    (raw) => {
      const parts = raw.trim() === '' ? [] : raw.split(separator).map((part) => part.trim());
      const values: T[] = [];
      for (const [index, part] of parts.entries()) {
        if (part === '') return fail(`item ${index + 1} is empty`);
        const parsed = item.parse(part);
        if (!parsed.ok) return fail(`item ${index + 1} ${parsed.reason}`);
        values.push(parsed.value);
      }
      const problem = checkCount(values.length);
      return problem === undefined ? ok(values) : fail(problem);
    },
    (v) => checkCount(v.length),
  );
}

/** Options of {@link json}. */
export interface JsonOptions<T> extends CommonOptions<T> {
  /** A synchronous Standard Schema (zod, valibot) the parsed JSON must satisfy. */
  readonly schema?: StandardSchemaV1<unknown, T>;
}

/**
 * A JSON document, parsed, optionally validated by a Standard Schema, and deeply frozen.
 *
 * @example
 * ```ts
 * import { json } from '@rampart/config';
 * import { z } from 'zod';
 * const schema = { RATE_LIMITS: json({ schema: z.object({ perMinute: z.number() }) }) };
 * ```
 */
export function json<T = unknown>(options: JsonOptions<T> & { readonly optional: true }): Spec<T, true>;
export function json<T = unknown>(options?: JsonOptions<T> & { readonly optional?: false }): Spec<T, false>;
export function json(options?: JsonOptions<unknown>): Spec<unknown, boolean> {
  type R = unknown;
  const o = (options ?? {}) as JsonOptions<R>;
  checkOptions('json', o, ['schema']);
  if (o.schema !== undefined && !isStandardSchema(o.schema)) {
    throw schemaError('json(): `schema` must implement Standard Schema v1 (zod, valibot, arktype, ...).');
  }
  return build(
    'json',
    'json',
    o,
    'a JSON document',
    (raw) => {
      let value: unknown;
      try {
        value = JSON.parse(raw);
      } catch {
        return fail('must be valid JSON');
      }
      if (o.schema === undefined) return ok(value as R);
      const result = o.schema['~standard'].validate(value);
      if (result instanceof Promise) return fail('has an asynchronous schema; json() needs a synchronous one');
      if (result.issues) return fail(describeIssues(result.issues, raw));
      return ok(result.value);
    },
    () => undefined,
  );
}

/**
 * Turns Standard Schema issues into text. Validators may quote the input in their messages, so a
 * message that contains any part of the raw value is withheld.
 */
export function describeIssues(issues: ReadonlyArray<StandardSchemaV1.Issue>, raw: string): string {
  const parts = issues.slice(0, 5).map((issue) => {
    const path = (issue.path ?? [])
      .map((segment) => (typeof segment === 'object' && segment !== null ? segment.key : segment))
      .map(String)
      .join('.');
    const text = path ? `${path}: ${issue.message}` : issue.message;
    // Paths can be keys of the user's JSON document, so they are checked like the message.
    return quotesValue(text, raw) ? '(issue withheld: it quotes the value)' : text;
  });
  const more = issues.length > 5 ? ` (+${issues.length - 5} more)` : '';
  return `does not satisfy its schema: ${parts.join('; ')}${more}`;
}

function quotesValue(message: string, raw: string): boolean {
  const value = raw.trim();
  if (value.length === 0) return false;
  if (value.length <= 3) return new RegExp(`(^|[^A-Za-z0-9])${escapeRegExp(value)}($|[^A-Za-z0-9])`).test(message);
  const lower = message.toLowerCase();
  for (let i = 0; i + 4 <= value.length; i++) {
    if (lower.includes(value.slice(i, i + 4).toLowerCase())) return true;
  }
  return false;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Options of {@link secret}. There is deliberately no `default`: secrets come from a source. */
export interface SecretOptions {
  /** What the secret is for; sets the length and entropy floors. Default `'key'`. */
  readonly kind?: SecretKind;
  /** How the value encodes its bytes (for the length floor). Default `'utf8'`. */
  readonly encoding?: SecretEncoding;
  /** Raises the kind's minimum length in bytes. */
  readonly minBytes?: number;
  /** Extra known-bad values for this key, matched like the built-in demo list. */
  readonly denylist?: readonly string[];
  /** Sources allowed in production, overriding the load option `secretSources`. */
  readonly sources?: readonly SourceKind[];
  readonly optional?: boolean;
  readonly description?: string;
  /** Not supported: a secret with a default is a known secret. Use a dev profile (`gen-dev`). */
  readonly default?: never;
  /** Not supported: use a dev profile file (`rampart-config gen-dev`). */
  readonly devDefault?: never;
}

const SECRET_KINDS: readonly SecretKind[] = [
  'hmac-sha256',
  'hmac-sha384',
  'hmac-sha512',
  'jwt-hs256',
  'jwt-hs384',
  'jwt-hs512',
  'key',
  'token',
  'password',
];
const SOURCES: readonly SourceKind[] = ['env', 'file', 'tree', 'vault'];

/**
 * A secret, loaded as a {@link Secret} that redacts itself everywhere. It has no default, at the
 * type level and at run time; development values come from a dev profile file.
 *
 * @example
 * ```ts
 * import { secret } from '@rampart/config';
 * const schema = {
 *   JWT_KEY: secret({ kind: 'jwt-hs256' }),
 *   DB_PASSWORD: secret({ kind: 'password', sources: ['file', 'vault'] }),
 * };
 * ```
 */
export function secret<const O extends SecretOptions>(options?: O): Spec<Secret, IsOptional<O>> {
  const o: SecretOptions = options ?? {};
  const raw = o as Record<string, unknown>;
  for (const forbidden of ['default', 'devDefault', 'testDefault', 'fallback'] as const) {
    if (forbidden in raw) {
      throw schemaError(
        `secret() does not accept \`${forbidden}\`: a secret with a default is a known secret. Set it through a secret file, the config tree or Vault; for development run \`rampart-config gen-dev\` to write a dev profile.`,
      );
    }
  }
  const unknown = Object.keys(raw).filter(
    (key) => !['kind', 'encoding', 'minBytes', 'denylist', 'sources', 'optional', 'description'].includes(key),
  );
  if (unknown.length > 0) throw schemaError(`secret() does not know the option(s) ${unknown.join(', ')}.`);
  const kind = o.kind ?? 'key';
  if (!SECRET_KINDS.includes(kind)) throw schemaError(`secret(): kind must be one of ${SECRET_KINDS.join(', ')}.`);
  const encoding = o.encoding ?? 'utf8';
  if (!['utf8', 'hex', 'base64', 'base64url'].includes(encoding)) {
    throw schemaError('secret(): encoding must be utf8, hex, base64 or base64url.');
  }
  if (o.sources && (o.sources.length === 0 || o.sources.some((s) => !SOURCES.includes(s)))) {
    throw schemaError(`secret(): sources must be a non-empty list of ${SOURCES.join(', ')}.`);
  }
  const secretOptions: SecretSpecOptions = Object.freeze({
    kind,
    encoding,
    minBytes: o.minBytes,
    denylist: Object.freeze([...(o.denylist ?? [])]),
    sources: o.sources ? Object.freeze([...o.sources]) : undefined,
  });
  const common: CommonOptions<string> = {
    ...(o.optional === undefined ? {} : { optional: o.optional }),
    ...(o.description === undefined ? {} : { description: o.description }),
  };
  // The spec parses to the raw string; loading wraps it in a Secret named after the key.
  const spec = build<string, boolean>(
    'secret',
    'secret',
    common,
    `a ${kind} secret`,
    (value) => (value.length === 0 ? fail('is empty') : ok(value)),
    () => undefined,
    secretOptions,
  );
  return spec as unknown as Spec<Secret, IsOptional<O>>;
}

/** Normalises a schema entry: a spec stays a spec, a Standard Schema is kept as is. */
export function isSpec(candidate: unknown): candidate is Spec<unknown> {
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof (candidate as Spec<unknown>).parse === 'function' &&
    typeof (candidate as Spec<unknown>).kind === 'string' &&
    'expects' in candidate
  );
}
