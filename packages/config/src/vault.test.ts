import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { provenanceOf } from './config-object.ts';
import { ConfigError } from './errors.ts';
import { loadConfig } from './load.ts';
import { string } from './scalars.ts';
import { secret } from './secret-spec.ts';
import { parseVaultRef, type VaultReader } from './vault.ts';

/** A stand-in for node-vault's `read` against a KV v2 mount: the integration test uses the real server. */
function fakeVault(store: Record<string, Record<string, unknown>>, reads: string[] = []): VaultReader {
  return {
    async read(path: string) {
      reads.push(path);
      const data = store[path];
      if (!data) throw Object.assign(new Error('Status 404'), { response: { statusCode: 404 } });
      return { data: { data, metadata: { version: 1 } } };
    },
  };
}

const key = (): string => randomBytes(32).toString('base64url');

/** Loads each of `refs` as a secret; expects every one refused as a malformed ref, and nothing read. */
async function malformedRefs(refs: readonly string[]) {
  const reads: string[] = [];
  const vault = fakeVault({ 'secret/data/billing': { jwt_signing_key_2024: key() } }, reads);
  const schema = Object.fromEntries(refs.map((_, i) => [`K${i}`, secret()]));
  const env: Record<string, string> = { NODE_ENV: 'test' };
  refs.forEach((ref, i) => {
    env[`K${i}`] = ref;
  });
  const error = await loadConfig(schema, { env, vault }).catch((e: unknown) => e);
  expect(error).toBeInstanceOf(ConfigError);
  const issues = (error as ConfigError).issues;
  expect(issues.map((i) => [i.key, i.code])).toEqual(refs.map((_, i) => [`K${i}`, 'vault-ref-malformed']));
  expect(reads).toEqual([]);
  return { issues, vault };
}

describe('parseVaultRef', () => {
  it('parses mount, path, field and version', () => {
    expect(parseVaultRef('vault:secret/billing/jwt#key')).toEqual({
      mount: 'secret',
      path: 'billing/jwt',
      field: 'key',
      version: undefined,
    });
    expect(parseVaultRef('vault:kv/app?version=3#db_password')).toEqual({
      mount: 'kv',
      path: 'app',
      field: 'db_password',
      version: 3,
    });
  });

  it('refuses malformed references', () => {
    for (const bad of [
      'vault:',
      'vault:secret#k',
      'vault:secret/app',
      'vault:secret/../app#k',
      'vault:secret/app#',
      'vault:secret/app?version=0#k',
      'vault:secret/a b#k',
    ]) {
      expect(parseVaultRef(bad), bad).toBeUndefined();
    }
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        parseVaultRef(`vault:${text}`);
      }),
    );
  });
});

describe('loadConfig with vault references', () => {
  it('resolves KV v2 references before returning, reading each secret path once', async () => {
    const jwt = key();
    const db = key();
    const reads: string[] = [];
    const vault = fakeVault({ 'secret/data/billing': { jwt, db } }, reads);
    const config = await loadConfig(
      { JWT_KEY: secret(), DB_PASSWORD: secret({ kind: 'password' }), REGION: string() },
      { env: { JWT_KEY: 'vault:secret/billing#jwt', DB_PASSWORD: 'vault:secret/billing#db', REGION: 'eu' }, vault },
    );
    expect(config.JWT_KEY.reveal()).toBe(jwt);
    expect(config.DB_PASSWORD.reveal()).toBe(db);
    expect(reads).toEqual(['secret/data/billing']);
    expect(provenanceOf(config)[0]).toEqual({
      key: 'JWT_KEY',
      source: 'vault',
      detail: 'secret/billing#jwt',
      via: 'env',
      secret: true,
    });
  });

  it('accepts a reference held in a secret file and applies weak-secret rules to the resolved value', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rampart-vault-'));
    try {
      writeFileSync(join(dir, 'ref'), 'vault:secret/app#k\n');
      const vault = fakeVault({ 'secret/data/app': { k: 'keyboard cat' } });
      const error = await loadConfig({ K: secret() }, { env: { K_FILE: join(dir, 'ref') }, vault }).catch(
        (e: unknown) => e,
      );
      expect(error).toMatchObject({
        code: 'ERR_CONFIG_INVALID',
        issues: [expect.objectContaining({ code: 'weak-secret' })],
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a reference whose vault: prefix has another case or spaces instead of loading it as the secret', async () => {
    const refs = [
      'VAULT:secret/billing#jwt_signing_key_2024',
      'Vault:secret/billing#jwt_signing_key_2024',
      ' vault:secret/billing#jwt_signing_key_2024',
      'vault :secret/billing#jwt_signing_key_2024',
      '\tVaUlT : secret/billing#jwt_signing_key_2024',
    ];
    const { issues, vault } = await malformedRefs(refs);
    for (const issue of issues) {
      expect(issue.message).toMatch(/lowercase `vault:`/);
      expect(issue.message).not.toMatch(/billing|jwt_signing|VAULT:|Vault:/);
    }
    // In production too, from a secret file, where a literal would have passed the weak-secret rules.
    const dir = mkdtempSync(join(tmpdir(), 'rampart-vault-'));
    try {
      writeFileSync(join(dir, 'ref'), `${refs[0]}\n`);
      const prod = await loadConfig({ K: secret() }, { env: { K_FILE: join(dir, 'ref') }, vault }).catch(
        (e: unknown) => e,
      );
      expect(prod).toMatchObject({ issues: [expect.objectContaining({ key: 'K', code: 'vault-ref-malformed' })] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses a reference hidden behind an invisible character or a lookalike colon instead of loading it as the secret', async () => {
    const refs = [
      '\u200bvault:secret/billing#jwt_signing_key_2024', // zero-width space
      '\u2060vault:secret/billing#jwt_signing_key_2024', // word joiner
      '\ufeffvault:secret/billing#jwt_signing_key_2024', // byte order mark
      'vault\uff1asecret/billing#jwt_signing_key_2024', // fullwidth colon
      'va\u200bult:secret/billing#jwt_signing_key_2024',
      '\uff56\uff41\uff55\uff4c\uff54:secret/billing#jwt_signing_key_2024', // fullwidth letters
      'v\u0430ult:secret/billing#jwt_signing_key_2024', // Cyrillic а
    ];
    const { issues } = await malformedRefs(refs);
    for (const issue of issues) {
      expect(issue.message).toMatch(/lowercase `vault:`/);
      expect(issue.message).not.toMatch(/billing|jwt_signing/);
    }
  });

  it('lists not-found, denied, missing-field and unavailable problems together', async () => {
    const vault: VaultReader = {
      async read(path) {
        if (path === 'secret/data/denied')
          throw Object.assign(new Error('permission denied'), { response: { statusCode: 403 } });
        if (path === 'secret/data/app') return { data: { data: { other: 'x' } } };
        if (path === 'secret/data/down')
          throw Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });
        throw Object.assign(new Error('Status 404'), { response: { statusCode: 404 } });
      },
    };
    const error = (await loadConfig(
      { A: secret(), B: secret(), C: secret(), D: secret() },
      {
        env: {
          A: 'vault:secret/missing#k',
          B: 'vault:secret/denied#k',
          C: 'vault:secret/app#k',
          D: 'vault:secret/down#k',
        },
        vault,
      },
    ).catch((e: unknown) => e)) as ConfigError;
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['A', 'vault-not-found'],
      ['B', 'vault-denied'],
      ['C', 'vault-field-missing'],
      ['D', 'vault-unavailable'],
    ]);
    expect(error.message).toContain('ECONNREFUSED');
  });

  it('fails as retryable ERR_CONFIG_VAULT_UNAVAILABLE when Vault does not answer in time', async () => {
    const vault: VaultReader = { read: () => new Promise(() => {}) };
    const error = (await loadConfig(
      { K: secret() },
      { env: { K: 'vault:secret/app#k' }, vault, vaultTimeoutMs: 50 },
    ).catch((e: unknown) => e)) as ConfigError;
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.code).toBe('ERR_CONFIG_VAULT_UNAVAILABLE');
    expect(error.retryable).toBe(true);
  });

  it('aborts the signal it passes to the client once vaultTimeoutMs have passed', async () => {
    const signals: (AbortSignal | undefined)[] = [];
    const vault: VaultReader = {
      read: (_path, options) => {
        signals.push(options?.signal);
        return new Promise(() => {});
      },
    };
    const error = await loadConfig(
      { K: secret() },
      { env: { K: 'vault:secret/app#k' }, vault, vaultTimeoutMs: 50 },
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ERR_CONFIG_VAULT_UNAVAILABLE' });
    expect(signals).toHaveLength(1);
    expect(signals[0]?.aborted).toBe(true);
  });

  it('never puts the client error (which can carry the Vault token) into the ConfigError', async () => {
    const token = `hvs.${key()}`;
    const vault: VaultReader = {
      async read() {
        throw Object.assign(new Error(`request failed with X-Vault-Token ${token}`), {
          config: { headers: { 'X-Vault-Token': token } },
          response: { statusCode: 500 },
        });
      },
    };
    const error = (await loadConfig({ K: secret() }, { env: { K: 'vault:secret/app#k' }, vault }).catch(
      (e: unknown) => e,
    )) as ConfigError;
    expect(error.cause).toBeUndefined();
    expect(JSON.stringify(error)).not.toContain(token);
    expect(`${error.message}${error.stack}`).not.toContain(token);
  });
});
