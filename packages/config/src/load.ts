import { statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { createConfigObject, type Provenance } from './config-object.ts';
import { type EnvironmentInfo, environmentProblems, VARIABLE_NAME } from './environment.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { provenanceFor, sourceKind } from './key-provenance.ts';
import { type Outcome, validateKey } from './key-validation.ts';
import { type Collected, collectRawValues } from './raw-values.ts';
import {
  type InferConfig,
  isListOf,
  isPlainObject,
  isSourceList,
  isSpec,
  type Schema,
  SOURCE_KINDS,
  type SourceKind,
} from './spec.ts';
import { isStandardSchema } from './standard-schema.ts';
import { resolveVaultRefs, type VaultReader } from './vault.ts';

/** Options of {@link loadConfig}. */
export interface LoadOptions {
  /** The variables to read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Variables that decide the profile: a non-empty array of names. Default `['APP_ENV', 'NODE_ENV']`. */
  readonly environmentVariables?: readonly string[];
  /** Path of the dev profile file, read only under the development or test profile. */
  readonly devProfile?: string;
  /** A mounted config-tree directory: the file named after a key holds its value. */
  readonly configTree?: string;
  /** Absolute directories `NAME_FILE` paths must resolve into (e.g. `['/run/secrets']`). */
  readonly fileAllowlist?: readonly string[];
  /** A node-vault client (or anything with its `read`), for `vault:` references. */
  readonly vault?: VaultReader;
  /**
   * How long a Vault read may take, as a whole, before start-up fails as unavailable and the read's
   * connection is closed. An integer from 1 to 2^31-1. Default 10 000 ms.
   */
  readonly vaultTimeoutMs?: number;
  /**
   * Where secrets may come from under the production profile. Default `['file', 'tree', 'vault']`:
   * a plain environment variable is refused. A non-empty array; per-key `secret({ sources })` wins.
   */
  readonly secretSources?: readonly SourceKind[];
}

/** The outcome of checking a configuration, without any values. */
export interface ConfigReport {
  readonly ok: boolean;
  readonly environment: EnvironmentInfo;
  readonly issues: readonly ConfigIssue[];
  readonly provenance: readonly Provenance[];
}
/** The longest delay a Node timer holds (2^31-1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2_147_483_647;

const OPTION_KEYS = [
  'env',
  'environmentVariables',
  'devProfile',
  'configTree',
  'fileAllowlist',
  'vault',
  'vaultTimeoutMs',
  'secretSources',
];

function isDirectory(path: unknown): boolean {
  try {
    return typeof path === 'string' && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function validateOptions(schema: Schema, options: LoadOptions): void {
  if (!isPlainObject(options)) {
    throw new ConfigError('ERR_CONFIG_OPTIONS', 'Invalid config options: options must be an object (or omitted).');
  }
  const problems: string[] = [];
  const unknown = Object.keys(options).filter((key) => !OPTION_KEYS.includes(key));
  if (unknown.length > 0) problems.push(`unknown option(s) ${unknown.join(', ')}`);
  if (typeof schema !== 'object' || schema === null) problems.push('the schema must be an object of key → spec');
  else {
    for (const [key, spec] of Object.entries(schema)) {
      if (!VARIABLE_NAME.test(key)) problems.push(`key "${key}" is not a valid environment variable name`);
      if (!isSpec(spec) && !isStandardSchema(spec)) problems.push(`${key} is neither a spec nor a Standard Schema`);
    }
  }
  const allowlist: unknown = options.fileAllowlist;
  if (allowlist !== undefined && !isListOf(allowlist, (dir) => typeof dir === 'string' && isAbsolute(dir))) {
    problems.push("fileAllowlist must be a list of absolute directories, e.g. ['/run/secrets']");
  }
  // Node clamps a timer past 2^31-1 ms (Infinity included) to 1 ms: every read would time out at once.
  const timeout = options.vaultTimeoutMs;
  if (timeout !== undefined && !(Number.isSafeInteger(timeout) && timeout >= 1 && timeout <= MAX_TIMER_MS))
    problems.push(`vaultTimeoutMs must be an integer from 1 to ${MAX_TIMER_MS} (milliseconds)`);
  if (options.vault !== undefined && typeof options.vault?.read !== 'function') {
    problems.push('vault must be a node-vault client (an object with read())');
  }
  if (options.configTree !== undefined && !isDirectory(options.configTree)) {
    problems.push('configTree must be an existing directory');
  }
  if (options.devProfile !== undefined && typeof options.devProfile !== 'string')
    problems.push('devProfile must be a path');
  // Each of these was read as given: a null env fell back to process.env, a string
  // environmentVariables threw a TypeError, and `secretSources: 'environment'` allowed env.
  problems.push(...environmentProblems(options.env, options.environmentVariables));
  if (options.secretSources !== undefined && !isSourceList(options.secretSources)) {
    problems.push(
      `secretSources must be a non-empty list of ${SOURCE_KINDS.join(', ')}, e.g. ['file', 'tree', 'vault']`,
    );
  }
  if (problems.length > 0) {
    throw new ConfigError('ERR_CONFIG_OPTIONS', `Invalid config options:\n  - ${problems.join('\n  - ')}`);
  }
}

interface Finished {
  readonly report: ConfigReport;
  readonly values: Record<string, unknown>;
}

function finish(
  schema: Schema,
  options: LoadOptions,
  collected: Collected,
  resolved: ReadonlyMap<string, string>,
  sync: boolean,
): Finished | Promise<Finished> {
  const issues = [...collected.issues];
  const failed = new Set(issues.map((issue) => issue.key));
  const values: Record<string, unknown> = {};
  const provenance: Provenance[] = [];
  const asyncKeys: Promise<void>[] = [];
  for (const [key, spec] of Object.entries(schema)) {
    const entry = collected.raws.get(key);
    if (failed.has(key)) {
      provenance.push(provenanceFor(key, spec, entry, false));
      continue;
    }
    const raw = entry?.vault !== undefined ? resolved.get(key) : entry?.value.raw;
    if (entry?.vault !== undefined && raw === undefined) continue; // its Vault issue is already listed
    const record = (outcome: Outcome): void => {
      if (outcome && 'issue' in outcome) issues.push(outcome.issue);
      else if (outcome && 'issues' in outcome) issues.push(...outcome.issues);
      else values[key] = outcome?.value;
      provenance.push(
        provenanceFor(key, spec, entry, outcome !== undefined && 'value' in outcome && outcome.value !== undefined),
      );
    };
    const outcome = validateKey(key, spec, raw, sourceKind(entry), collected.environment, options);
    if (outcome instanceof Promise) {
      if (sync) {
        throw new ConfigError(
          'ERR_CONFIG_ASYNC_REQUIRED',
          `${key} has an asynchronous Standard Schema validator (zod also answers with a promise when a transform or refinement throws); use await loadConfig() instead of loadConfigSync().`,
        );
      }
      asyncKeys.push(outcome.then(record));
    } else record(outcome);
  }
  const done = (): Finished => {
    const order = Object.keys(schema);
    issues.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
    provenance.sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
    return {
      values,
      report: Object.freeze({
        ok: issues.length === 0,
        environment: collected.environment,
        issues: Object.freeze(issues.map((issue) => Object.freeze(issue))),
        provenance: Object.freeze(provenance),
      }),
    };
  };
  return asyncKeys.length > 0 ? Promise.all(asyncKeys).then(done) : done();
}

async function run(schema: Schema, options: LoadOptions): Promise<Finished> {
  validateOptions(schema, options);
  const collected = collectRawValues(schema, options);
  let resolved: ReadonlyMap<string, string> = new Map();
  if (collected.pending.length > 0) {
    if (!options.vault) {
      for (const { key, via } of collected.pending) {
        collected.issues.push({
          key,
          code: 'vault-no-client',
          message: `${key}: ${via} holds a Vault reference but no Vault client was given; pass { vault: client } to loadConfig().`,
        });
      }
    } else {
      const result = await resolveVaultRefs(collected.pending, options.vault, options.vaultTimeoutMs ?? 10_000);
      resolved = result.values;
      collected.issues.push(...result.issues);
    }
  }
  return finish(schema, options, collected, resolved, false);
}

function runSync(schema: Schema, options: LoadOptions): Finished {
  validateOptions(schema, options);
  const collected = collectRawValues(schema, options);
  if (collected.pending.length > 0) {
    throw new ConfigError(
      'ERR_CONFIG_ASYNC_REQUIRED',
      `${collected.pending.map((p) => p.key).join(', ')} hold Vault references; use await loadConfig(schema, { vault }) instead of loadConfigSync().`,
    );
  }
  return finish(schema, options, collected, new Map(), true) as Finished;
}

function toError(report: ConfigReport): ConfigError {
  const onlyVaultDown = report.issues.every((issue) => issue.code === 'vault-unavailable');
  const header = `Configuration is invalid (${report.issues.length} problem${report.issues.length === 1 ? '' : 's'}; ${report.environment.profile} profile: ${report.environment.reason}):`;
  return new ConfigError(
    onlyVaultDown ? 'ERR_CONFIG_VAULT_UNAVAILABLE' : 'ERR_CONFIG_INVALID',
    `${header}\n${report.issues.map((issue) => `  - ${issue.message}`).join('\n')}`,
    { issues: report.issues, retryable: onlyVaultDown },
  );
}

function build<S extends Schema>(schema: S, finished: Finished): InferConfig<S> {
  if (!finished.report.ok) throw toError(finished.report);
  return createConfigObject<S>({
    schema,
    values: finished.values,
    provenance: finished.report.provenance,
    environment: finished.report.environment,
  });
}

/**
 * Loads and validates configuration, resolving `vault:` references through `options.vault`. Every
 * problem is reported at once in one {@link ConfigError}; the result is deeply frozen and throws
 * on undeclared keys.
 *
 * @example
 * ```ts
 * import vault from 'node-vault';
 * import { loadConfig, port, secret, url } from '@rampart/config';
 *
 * export const config = await loadConfig(
 *   {
 *     PORT: port({ default: 3000 }),
 *     DATABASE_URL: url({ protocols: ['postgres:'] }),
 *     JWT_KEY: secret({ kind: 'jwt-hs256' }),
 *   },
 *   { vault: vault({ endpoint: 'https://vault.internal:8200' }), fileAllowlist: ['/run/secrets'] },
 * );
 * ```
 */
export async function loadConfig<const S extends Schema>(
  schema: S,
  options: LoadOptions = {},
): Promise<InferConfig<S>> {
  return build(schema, await run(schema, options));
}

/**
 * {@link loadConfig} for schemas without Vault references or asynchronous validators.
 *
 * @example
 * ```ts
 * import { loadConfigSync, port, secret } from '@rampart/config';
 * export const config = loadConfigSync({ PORT: port({ default: 3000 }), SESSION_KEY: secret() });
 * ```
 */
export function loadConfigSync<const S extends Schema>(schema: S, options: LoadOptions = {}): InferConfig<S> {
  return build(schema, runSync(schema, options));
}

/**
 * Checks configuration without throwing and without returning values: what `rampart-config check`
 * prints. Option errors (`ERR_CONFIG_OPTIONS`) still throw.
 *
 * @example
 * ```ts
 * import { checkConfig, secret } from '@rampart/config';
 * const report = await checkConfig({ JWT_KEY: secret() });
 * if (!report.ok) console.error(report.issues.map((issue) => issue.message).join('\n'));
 * ```
 */
export async function checkConfig(schema: Schema, options: LoadOptions = {}): Promise<ConfigReport> {
  return (await run(schema, options)).report;
}
