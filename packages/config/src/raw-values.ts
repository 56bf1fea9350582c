import { readFileSync } from 'node:fs';
import { parseDevProfile } from './dev-profile.ts';
import { DEFAULT_ENVIRONMENT_VARIABLES, type EnvironmentInfo, resolveEnvironment } from './environment.ts';
import { ConfigError, type ConfigIssue } from './errors.ts';
import type { LoadOptions } from './load.ts';
import { decodeUtf8 } from './secret-encoding.ts';
import { lookupKey, type RawValue, type SourceContext, snapshotConfigTree } from './sources.ts';
import type { Schema } from './spec.ts';
import { describeVaultRef, looksLikeVaultRef, type PendingRef, parseVaultRef, VAULT_PREFIX } from './vault.ts';

/** The load options the sources are read with. */
type SourceOptions = Pick<LoadOptions, 'env' | 'environmentVariables' | 'devProfile' | 'configTree' | 'fileAllowlist'>;

/** A key's raw value; `vault` describes the reference when the value is one. */
export interface RawEntry {
  readonly value: RawValue;
  readonly vault?: string;
}

/** What the sources hold for a schema, before Vault references are resolved and values validated. */
export interface Collected {
  readonly environment: EnvironmentInfo;
  readonly raws: Map<string, RawEntry>;
  readonly pending: PendingRef[];
  readonly issues: ConfigIssue[];
}

/** Reads every key of the schema from its sources and queues the `vault:` references found. */
export function collectRawValues(schema: Schema, options: SourceOptions): Collected {
  const env = options.env ?? process.env;
  const environment = resolveEnvironment(env, options.environmentVariables ?? DEFAULT_ENVIRONMENT_VARIABLES);
  const issues: ConfigIssue[] = [];
  let devProfile: SourceContext['devProfile'];
  if (options.devProfile !== undefined && environment.profile !== 'production') {
    let bytes: Buffer;
    try {
      bytes = readFileSync(options.devProfile);
    } catch {
      throw new ConfigError(
        'ERR_CONFIG_OPTIONS',
        `The dev profile ${options.devProfile} cannot be read. Create it with \`rampart-config gen-dev --out ${options.devProfile}\`.`,
      );
    }
    // Strict, like secret files: lenient decoding would load altered values without a word.
    const text = decodeUtf8(bytes);
    if (text === undefined) {
      throw new ConfigError(
        'ERR_CONFIG_OPTIONS',
        `The dev profile ${options.devProfile} is not UTF-8 text. Regenerate it with \`rampart-config gen-dev --out ${options.devProfile} --force\`.`,
      );
    }
    devProfile = { path: options.devProfile, values: parseDevProfile(text) };
  }
  const context = (): SourceContext => ({
    env,
    configTree: options.configTree,
    fileAllowlist: options.fileAllowlist,
    devProfile,
    treeSnapshot: options.configTree === undefined ? undefined : snapshotConfigTree(options.configTree),
  });
  const first = context();
  const keys = collectKeys(schema, first);
  // kubelet removed the generation this load began with: read every key again from the new one,
  // rather than mix generations (a user from one, its password from the other). Once: a tree
  // swapped twice during one load is reported as unreadable.
  const { raws, pending, issues: keyIssues } = first.treeSnapshot?.stale ? collectKeys(schema, context()) : keys;
  issues.push(...keyIssues);
  return { environment, raws, pending, issues };
}

function collectKeys(schema: Schema, ctx: SourceContext): Pick<Collected, 'raws' | 'pending' | 'issues'> {
  const issues: ConfigIssue[] = [];
  const raws = new Map<string, RawEntry>();
  const pending: PendingRef[] = [];
  for (const key of Object.keys(schema)) {
    const lookup = lookupKey(key, ctx);
    issues.push(...lookup.issues);
    if (!lookup.value) continue;
    raws.set(key, { value: lookup.value });
    if (looksLikeVaultRef(lookup.value.raw)) {
      const via =
        lookup.value.source === 'env'
          ? key
          : lookup.value.source === 'file'
            ? `${key}_FILE`
            : `the ${lookup.value.source} entry ${key}`;
      const exactPrefix = lookup.value.raw.startsWith(VAULT_PREFIX);
      const ref = exactPrefix ? parseVaultRef(lookup.value.raw) : undefined;
      if (!ref) {
        issues.push({
          key,
          code: 'vault-ref-malformed',
          message: exactPrefix
            ? `${key}: the Vault reference in ${via} is malformed; write vault:<mount>/<path>#<field> (optionally ?version=<n> before #).`
            : `${key}: ${via} looks like a Vault reference, but the prefix must be lowercase \`vault:\` in plain ASCII at the very start, without spaces or invisible characters; write vault:<mount>/<path>#<field>.`,
        });
        raws.delete(key);
        continue;
      }
      pending.push({ key, ref, via });
      raws.set(key, { value: lookup.value, vault: describeVaultRef(ref) });
    }
  }
  return { raws, pending, issues };
}
