import { ConfigError } from './errors.ts';
import type { Secret } from './secret.ts';
import type { StandardSchemaV1 } from './standard-schema.ts';
import type { SecretEncoding, SecretKind } from './weak-secret.ts';

/** Where a value can come from; `secretSources` policies are written in these terms. */
export type SourceKind = 'env' | 'file' | 'tree' | 'vault';

/** Every {@link SourceKind}, in the order messages list them. */
export const SOURCE_KINDS: readonly SourceKind[] = Object.freeze(['env', 'file', 'tree', 'vault']);

/**
 * True for an array whose every slot holds an item passing `test`. Unlike `every()`, which skips
 * them, a hole fails: `[, 'env']` and `new Array(2)` are not lists of anything.
 */
export function isListOf(value: unknown, test: (item: unknown) => boolean): value is readonly unknown[] {
  if (!Array.isArray(value)) return false;
  for (let i = 0; i < value.length; i++) if (!(Object.hasOwn(value, i) && test(value[i]))) return false;
  return true;
}

/** True for an object that is neither null nor an array: what an options or variables object must be. */
export function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * True for a non-empty array of source kinds, without holes: what `secret({ sources })` and the
 * load option `secretSources` take. A string is refused, not read: `'environment'.includes('env')` is true.
 */
export function isSourceList(value: unknown): value is readonly SourceKind[] {
  return isListOf(value, (s) => SOURCE_KINDS.includes(s as SourceKind)) && value.length > 0;
}

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

/** Options every builder accepts. */
export interface CommonOptions<T> {
  /** Used when no source sets the key. Validated when the schema is defined. */
  readonly default?: T;
  /** When true and no source sets the key, the value is `undefined`. */
  readonly optional?: boolean;
  /** Shown by the CLI and in generated dev profiles. */
  readonly description?: string;
}

/** `true` when the options say `optional: true`. */
export type IsOptional<O> = O extends { readonly optional: true } ? true : false;

const KNOWN_COMMON = ['default', 'optional', 'description'];

export function schemaError(message: string): ConfigError {
  return new ConfigError('ERR_CONFIG_SCHEMA', message);
}

export function checkOptions(builder: string, options: object, allowed: readonly string[]): void {
  const unknown = Object.keys(options).filter((key) => !KNOWN_COMMON.includes(key) && !allowed.includes(key));
  if (unknown.length > 0) {
    throw schemaError(`${builder}() does not know the option(s) ${unknown.join(', ')}; check the spelling.`);
  }
}

// The value check of every spec `build` made, so `list()` can validate its items' defaults.
const valueChecks = new WeakMap<object, (value: unknown) => string | undefined>();

/** Why `value` is not a valid value of `spec` (the reason never quotes it), or `undefined`. */
export function checkSpecValue(spec: Spec<unknown>, value: unknown): string | undefined {
  return valueChecks.get(spec)?.(value);
}

/** Builds a frozen spec; validates the default with `checkDefault` first. */
export function build<T, O extends boolean>(
  builder: string,
  kind: Spec<T>['kind'],
  options: CommonOptions<T>,
  expects: string,
  parse: (raw: string) => Parsed<T>,
  /** Receives the default as given: it checks the type too (a schema in plain JS can pass anything). */
  checkDefault: (value: T) => string | undefined,
  secretOptions?: SecretSpecOptions,
): Spec<T, O> {
  let defaultValue: { readonly value: T } | undefined;
  if (options.default !== undefined) {
    const problem = checkDefault(options.default);
    if (problem !== undefined) throw schemaError(`${builder}(): the default is invalid: ${problem}.`);
    defaultValue = Object.freeze({ value: deepFreeze(options.default) });
  }
  const spec: Spec<T, O> = Object.freeze({
    kind,
    optional: (options.optional === true) as O,
    default: defaultValue,
    description: options.description,
    secret: secretOptions,
    expects,
    parse,
  });
  valueChecks.set(spec, checkDefault as (value: unknown) => string | undefined);
  return spec;
}

/**
 * Freezes a value and everything reachable from it (arrays, plain objects). Iterative: a value
 * nested thousands of levels deep (a validator's output) must not overflow the call stack.
 */
export function deepFreeze<T>(value: T): T {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const next = pending.pop();
    if (typeof next !== 'object' || next === null || Object.isFrozen(next)) continue;
    Object.freeze(next);
    for (const key of Reflect.ownKeys(next)) pending.push((next as Record<PropertyKey, unknown>)[key]);
  }
  return value;
}

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const fail = (reason: string): Parsed<never> => ({ ok: false, reason });

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
