import type { EnvironmentInfo } from './environment.ts';
import { ConfigError } from './errors.ts';
import { Secret } from './secret.ts';
import type { ProvenanceSource } from './sources.ts';
import { deepFreeze, type InferConfig, isSpec, type Schema } from './spec.ts';

/** Where one key's value came from. Locators only: variable names, file paths, Vault paths. */
export interface Provenance {
  readonly key: string;
  readonly source: ProvenanceSource;
  /** The variable, file, profile or Vault location the value came from. */
  readonly detail: string;
  /** For Vault values: the source that held the reference (`env`, `file`, `tree`, `dev-profile`). */
  readonly via?: 'env' | 'file' | 'tree' | 'dev-profile';
  readonly secret: boolean;
}

interface ConfigMeta {
  readonly schema: Schema;
  readonly values: Readonly<Record<string, unknown>>;
  readonly provenance: readonly Provenance[];
  readonly environment: EnvironmentInfo;
}

const metas = new WeakMap<object, ConfigMeta>();

// Properties runtimes and tools probe on any object (await, JSON.stringify, test matchers,
// React, inspect); reading them must not count as reading an undeclared key.
const PROBED = new Set([
  'then',
  'toJSON',
  'asymmetricMatch',
  '$$typeof',
  'nodeType',
  'inspect',
  '@@__IMMUTABLE_ITERABLE__@@',
]);

function immutable(action: string): never {
  throw new ConfigError(
    'ERR_CONFIG_IMMUTABLE',
    `Configuration is immutable: cannot ${action}. In tests, use withOverrides(config, { ... }) to get a changed copy.`,
  );
}

/** Builds the frozen, strict config object. */
export function createConfigObject<S extends Schema>(meta: ConfigMeta): InferConfig<S> {
  const target: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(meta.values)) {
    Object.defineProperty(target, key, {
      value: deepFreeze(value),
      enumerable: true,
      writable: false,
      configurable: false,
    });
  }
  Object.freeze(target);
  const proxy = new Proxy(target, {
    get(object, property, receiver) {
      if (typeof property === 'symbol' || Object.hasOwn(object, property))
        return Reflect.get(object, property, receiver);
      if (PROBED.has(property) || property in Object.prototype) return Reflect.get(object, property, receiver);
      throw new ConfigError(
        'ERR_CONFIG_UNDECLARED_KEY',
        `Configuration key ${/^[A-Za-z0-9_]{1,64}$/.test(property) ? property : '(unprintable name)'} is not declared in the schema. Declare it, or check the spelling.`,
      );
    },
    set: () => immutable('assign a key'),
    deleteProperty: () => immutable('delete a key'),
    defineProperty: () => immutable('define a key'),
    setPrototypeOf: () => immutable('change its prototype'),
  });
  metas.set(proxy, meta);
  return proxy as InferConfig<S>;
}

function metaOf(config: object, fn: string): ConfigMeta {
  const meta = metas.get(config);
  if (!meta) {
    throw new ConfigError(
      'ERR_CONFIG_OPTIONS',
      `${fn}() expects a config returned by loadConfig() or loadConfigSync().`,
    );
  }
  return meta;
}

/**
 * Where every key's value came from (`env`, `file`, `tree`, `vault`, `dev-profile`, `default`,
 * `override`, `unset`), without values.
 *
 * @example
 * ```ts
 * import { loadConfigSync, provenanceOf, string } from '@rampart/config';
 * const config = loadConfigSync({ REGION: string({ default: 'eu-west-1' }) });
 * provenanceOf(config); // [{ key: 'REGION', source: 'default', detail: 'schema default', secret: false }]
 * ```
 */
export function provenanceOf(config: object): readonly Provenance[] {
  return metaOf(config, 'provenanceOf').provenance;
}

/**
 * The profile a config was loaded under and why.
 *
 * @example
 * ```ts
 * import { environmentOf, loadConfigSync } from '@rampart/config';
 * environmentOf(loadConfigSync({})).profile; // 'production' unless APP_ENV/NODE_ENV say development or test
 * ```
 */
export function environmentOf(config: object): EnvironmentInfo {
  return metaOf(config, 'environmentOf').environment;
}

/** What {@link withOverrides} accepts: typed values, and plain strings for secrets. */
export type Overrides<C> = {
  readonly [K in keyof C]?: NonNullable<C[K]> extends Secret ? string | Secret | Extract<C[K], undefined> : C[K];
};

/**
 * The sanctioned way for tests to change configuration: returns a new frozen config with some keys
 * replaced (provenance `override`). Refused for configs loaded under the production profile.
 *
 * @example
 * ```ts
 * import { loadConfigSync, port, withOverrides } from '@rampart/config';
 * const config = loadConfigSync({ PORT: port({ default: 3000 }) }, { env: { NODE_ENV: 'test' } });
 * const testConfig = withOverrides(config, { PORT: 0 });
 * ```
 */
export function withOverrides<C extends object>(config: C, overrides: Overrides<C>): C {
  const meta = metaOf(config, 'withOverrides');
  if (meta.environment.profile === 'production') {
    throw new ConfigError(
      'ERR_CONFIG_OVERRIDE_IN_PRODUCTION',
      'withOverrides() is for tests: this config was loaded under the production profile. Load it with NODE_ENV=test (or APP_ENV=test).',
    );
  }
  const unknown = Object.keys(overrides).filter((key) => !Object.hasOwn(meta.schema, key));
  if (unknown.length > 0) {
    throw new ConfigError(
      'ERR_CONFIG_UNDECLARED_KEY',
      `withOverrides(): ${unknown.filter((k) => /^[A-Za-z0-9_]{1,64}$/.test(k)).join(', ')} not declared in the schema.`,
    );
  }
  const values: Record<string, unknown> = { ...meta.values };
  const overridden = new Set<string>();
  for (const [key, value] of Object.entries(overrides as Record<string, unknown>)) {
    const spec = meta.schema[key];
    const isSecretKey = isSpec(spec) && spec.secret !== undefined;
    values[key] = isSecretKey && typeof value === 'string' ? Secret.of(key, value) : value;
    overridden.add(key);
  }
  const provenance = meta.provenance.map((entry) =>
    overridden.has(entry.key)
      ? Object.freeze({ key: entry.key, source: 'override' as const, detail: 'withOverrides()', secret: entry.secret })
      : entry,
  );
  return createConfigObject({ ...meta, values, provenance: Object.freeze(provenance) }) as C;
}
