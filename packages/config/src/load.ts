import { readFileSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { createConfigObject, type Provenance } from './config-object.ts';
import { parseDevProfile } from './dev-profile.ts';
import { DEFAULT_ENVIRONMENT_VARIABLES, type EnvironmentInfo, resolveEnvironment } from './environment.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import { Secret } from './secret.ts';
import { lookupKey, type RawValue, type SourceContext } from './sources.ts';
import { type InferConfig, isSpec, type Schema, type SourceKind, type Spec } from './spec.ts';
import {
  describeIssues,
  isStandardSchema,
  runValidator,
  type StandardSchemaV1,
  type ValidatorOutcome,
} from './standard-schema.ts';
import {
  describeVaultRef,
  type PendingRef,
  parseVaultRef,
  resolveVaultRefs,
  VAULT_PREFIX,
  type VaultReader,
} from './vault.ts';
import { assessSecret, minimumSecretBytes, WEAK_RULE_HINTS } from './weak-secret.ts';

/** Options of {@link loadConfig}. */
export interface LoadOptions {
  /** The variables to read. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Variables that decide the profile. Default `['APP_ENV', 'NODE_ENV']`. */
  readonly environmentVariables?: readonly string[];
  /** Path of the dev profile file, read only under the development or test profile. */
  readonly devProfile?: string;
  /** A mounted config-tree directory: the file named after a key holds its value. */
  readonly configTree?: string;
  /** Absolute directories `NAME_FILE` paths must resolve into (e.g. `['/run/secrets']`). */
  readonly fileAllowlist?: readonly string[];
  /** A node-vault client (or anything with its `read`), for `vault:` references. */
  readonly vault?: VaultReader;
  /** How long a Vault read may take before start-up fails as unavailable. Default 10 000 ms. */
  readonly vaultTimeoutMs?: number;
  /**
   * Where secrets may come from under the production profile. Default `['file', 'tree', 'vault']`:
   * a plain environment variable is refused. Per-key `secret({ sources })` wins.
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

const DEFAULT_SECRET_SOURCES: readonly SourceKind[] = ['file', 'tree', 'vault'];
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

interface Collected {
  readonly environment: EnvironmentInfo;
  readonly raws: Map<string, { value: RawValue; vault?: string }>;
  readonly pending: PendingRef[];
  readonly issues: ConfigIssue[];
}

function isDirectory(path: unknown): boolean {
  try {
    return typeof path === 'string' && statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function validateOptions(schema: Schema, options: LoadOptions): void {
  const problems: string[] = [];
  const unknown = Object.keys(options).filter((key) => !OPTION_KEYS.includes(key));
  if (unknown.length > 0) problems.push(`unknown option(s) ${unknown.join(', ')}`);
  if (typeof schema !== 'object' || schema === null) problems.push('the schema must be an object of key → spec');
  else {
    for (const [key, spec] of Object.entries(schema)) {
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) problems.push(`key "${key}" is not a valid environment variable name`);
      if (!isSpec(spec) && !isStandardSchema(spec)) problems.push(`${key} is neither a spec nor a Standard Schema`);
    }
  }
  for (const dir of options.fileAllowlist ?? []) {
    if (!isAbsolute(dir)) problems.push('fileAllowlist entries must be absolute directories');
  }
  if (options.vaultTimeoutMs !== undefined && !(options.vaultTimeoutMs > 0))
    problems.push('vaultTimeoutMs must be > 0');
  if (options.vault !== undefined && typeof options.vault?.read !== 'function') {
    problems.push('vault must be a node-vault client (an object with read())');
  }
  if (options.configTree !== undefined && !isDirectory(options.configTree)) {
    problems.push('configTree must be an existing directory');
  }
  if (options.devProfile !== undefined && typeof options.devProfile !== 'string')
    problems.push('devProfile must be a path');
  if (problems.length > 0) {
    throw new ConfigError('ERR_CONFIG_OPTIONS', `Invalid config options:\n  - ${problems.join('\n  - ')}`);
  }
}

function collect(schema: Schema, options: LoadOptions): Collected {
  validateOptions(schema, options);
  const env = options.env ?? process.env;
  const environment = resolveEnvironment(env, options.environmentVariables ?? DEFAULT_ENVIRONMENT_VARIABLES);
  const issues: ConfigIssue[] = [];
  let devProfile: SourceContext['devProfile'];
  if (options.devProfile !== undefined && environment.profile !== 'production') {
    let text: string;
    try {
      text = readFileSync(options.devProfile, 'utf8');
    } catch {
      throw new ConfigError(
        'ERR_CONFIG_OPTIONS',
        `The dev profile ${options.devProfile} cannot be read. Create it with \`rampart-config gen-dev --out ${options.devProfile}\`.`,
      );
    }
    devProfile = { path: options.devProfile, values: parseDevProfile(text) };
  }
  const ctx: SourceContext = {
    env,
    configTree: options.configTree,
    fileAllowlist: options.fileAllowlist,
    devProfile,
  };
  const raws = new Map<string, { value: RawValue; vault?: string }>();
  const pending: PendingRef[] = [];
  for (const key of Object.keys(schema)) {
    const lookup = lookupKey(key, ctx);
    issues.push(...lookup.issues);
    if (!lookup.value) continue;
    raws.set(key, { value: lookup.value });
    if (lookup.value.raw.startsWith(VAULT_PREFIX)) {
      const via =
        lookup.value.source === 'env'
          ? key
          : lookup.value.source === 'file'
            ? `${key}_FILE`
            : `the ${lookup.value.source} entry ${key}`;
      const ref = parseVaultRef(lookup.value.raw);
      if (!ref) {
        issues.push({
          key,
          code: 'vault-ref-malformed',
          message: `${key}: the Vault reference in ${via} is malformed; write vault:<mount>/<path>#<field> (optionally ?version=<n> before #).`,
        });
        raws.delete(key);
        continue;
      }
      pending.push({ key, ref, via });
      raws.set(key, { value: lookup.value, vault: describeVaultRef(ref) });
    }
  }
  return { environment, raws, pending, issues };
}

type Outcome = { value: unknown } | { issue: ConfigIssue } | { issues: ConfigIssue[] } | undefined;

function validateKey(
  key: string,
  spec: Spec<unknown> | StandardSchemaV1,
  raw: string | undefined,
  source: SourceKind | 'dev-profile' | undefined,
  environment: EnvironmentInfo,
  options: LoadOptions,
): Outcome | Promise<Outcome> {
  if (isStandardSchema(spec)) {
    const finish = (result: ValidatorOutcome<unknown>): Outcome => {
      if ('broken' in result) {
        return {
          issue: {
            key,
            code: 'invalid',
            message: `${key}: its Standard Schema validator ${result.broken}; the error is not shown because it may quote the value. Make the validator report bad input as issues.`,
          },
        };
      }
      if (!result.issues) return { value: result.value };
      if (raw === undefined) return { issue: missing(key, 'a value accepted by its schema', false, environment) };
      return { issue: { key, code: 'invalid', message: `${key}: ${describeIssues(result.issues, raw)}.` } };
    };
    const result = runValidator(spec, raw, raw);
    return result instanceof Promise ? result.then(finish) : finish(result);
  }
  if (raw === undefined) {
    if (spec.default) return { value: spec.default.value };
    if (spec.optional) return undefined;
    return { issue: missing(key, spec.expects, spec.secret !== undefined, environment) };
  }
  const parsed = spec.parse(raw);
  if (!parsed.ok)
    return { issue: { key, code: 'invalid', message: `${key}: ${parsed.reason}; expected ${spec.expects}.` } };
  if (!spec.secret) return { value: parsed.value };
  if (environment.profile === 'production') {
    const problems: ConfigIssue[] = [];
    const allowed = spec.secret.sources ?? options.secretSources ?? DEFAULT_SECRET_SOURCES;
    if (source !== undefined && source !== 'dev-profile' && !allowed.includes(source)) {
      problems.push({
        key,
        code: 'source-not-allowed',
        message: `${key}: in production this secret must come from ${allowed.join(' or ')}, not ${source === 'env' ? 'a plain environment variable' : source}. Mount it and set ${key}_FILE, use the config tree, or set ${key}=vault:<mount>/<path>#<field>.`,
      });
    }
    const rules = assessSecret(raw, {
      kind: spec.secret.kind,
      encoding: spec.secret.encoding,
      ...(spec.secret.minBytes === undefined ? {} : { minBytes: spec.secret.minBytes }),
      denylist: spec.secret.denylist,
    });
    if (rules.length > 0) {
      const bytes = Math.max(minimumSecretBytes(spec.secret.kind), spec.secret.minBytes ?? 0);
      problems.push({
        key,
        code: 'weak-secret',
        rules,
        message: `${key}: refused as a weak ${spec.secret.kind} secret (${rules.map((r) => `${r}: ${WEAK_RULE_HINTS[r]}`).join('; ')}). Generate a random one, e.g. \`openssl rand -base64 ${bytes}\`.`,
      });
    }
    if (problems.length > 0) return { issues: problems };
  }
  return { value: Secret.of(key, parsed.value as string) };
}

function missing(key: string, expects: string, isSecret: boolean, environment: EnvironmentInfo): ConfigIssue {
  const how = !isSecret
    ? `set ${key}`
    : environment.profile === 'production'
      ? `mount it and set ${key}_FILE, add it to the config tree, or set ${key}=vault:<mount>/<path>#<field>`
      : 'run `rampart-config gen-dev` and pass the file as the devProfile option, or set it in the environment';
  return { key, code: 'missing', message: `${key}: missing; ${how} (expected ${expects}).` };
}

function sourceKind(entry: { value: RawValue; vault?: string } | undefined): SourceKind | 'dev-profile' | undefined {
  if (!entry) return undefined;
  if (entry.vault !== undefined) return 'vault';
  return entry.value.source;
}

function provenanceFor(
  key: string,
  spec: Spec<unknown> | StandardSchemaV1,
  entry: { value: RawValue; vault?: string } | undefined,
  hasValue: boolean,
): Provenance {
  const secret = isSpec(spec) && spec.secret !== undefined;
  if (entry?.vault !== undefined) {
    return Object.freeze({ key, source: 'vault', detail: entry.vault, via: entry.value.source, secret });
  }
  if (entry) return Object.freeze({ key, source: entry.value.source, detail: entry.value.detail, secret });
  return Object.freeze({
    key,
    source: hasValue ? 'default' : 'unset',
    detail: hasValue ? 'schema default' : '-',
    secret,
  });
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
  const collected = collect(schema, options);
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
  const collected = collect(schema, options);
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
