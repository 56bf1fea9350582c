import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../test/config-error.ts';
import { CA_CERTIFICATE, CLIENT_CERTIFICATE } from '../test/fixtures/certificates.ts';
import { EC_P256_PUBLIC_KEY, RSA_PKCS1_PRIVATE_KEY, RSA_PKCS8_PRIVATE_KEY } from '../test/fixtures/keys.ts';
import { armor, everyForm, gcpServiceAccount, judged, seeded, seededBytes } from '../test/secret-forms.ts';
import { bundleFields } from './credential-bundle.ts';
import { JWT_DEMO_KEYS } from './known-demo-secrets.ts';
import { loadConfigSync } from './load.ts';
import { secret } from './secret-spec.ts';
import { assessSecret } from './weak-secret.ts';

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** `bytes` random-looking bytes in base64url, a strong value, the same every run for its `seed`. */
const random = (bytes: number, seed: number): string => seededBytes(seeded(seed), bytes).toString('base64url');

/** A strong secret beside the values under test. */
const S = random(30, 0x5240);

/** `kubectl config view --raw -o json` of a kubeadm cluster, with `user` as the credential. */
const kubeconfig = (user: Record<string, unknown>): Record<string, unknown> => ({
  kind: 'Config',
  apiVersion: 'v1',
  preferences: {},
  clusters: [
    {
      name: 'kubernetes',
      cluster: { server: 'https://10.0.0.10:6443', 'certificate-authority-data': b64(CA_CERTIFICATE) },
    },
  ],
  users: [{ name: 'kubernetes-admin', user }],
  contexts: [{ name: 'kubernetes-admin@kubernetes', context: { cluster: 'kubernetes', user: 'kubernetes-admin' } }],
  'current-context': 'kubernetes-admin@kubernetes',
});

/** `kubectl get secret db -o json` of a Secret created by `kubectl apply` (its annotation repeats the manifest). */
const kubectlSecret = (password: string): Record<string, unknown> => {
  const data = { password: b64(password), username: b64('app') };
  const manifest = {
    apiVersion: 'v1',
    data,
    kind: 'Secret',
    metadata: { name: 'db', namespace: 'prod' },
    type: 'Opaque',
  };
  return {
    apiVersion: 'v1',
    data,
    kind: 'Secret',
    metadata: {
      annotations: { 'kubectl.kubernetes.io/last-applied-configuration': `${JSON.stringify(manifest)}\n` },
      creationTimestamp: '2026-11-24T00:19:12Z',
      name: 'db',
      namespace: 'prod',
      resourceVersion: '48213',
      uid: crypto.randomUUID(),
    },
    type: 'Opaque',
  };
};

describe('assessSecret (credential bundles: values beside the secret)', () => {
  it('accepts a kubeconfig, OAuth token responses and a kubectl Secret with strong secrets, in every form', () => {
    const clientKey = RSA_PKCS1_PRIVATE_KEY;
    for (const bundle of [
      kubeconfig({ 'client-certificate-data': b64(CLIENT_CERTIFICATE), 'client-key-data': b64(clientKey) }),
      kubeconfig({ token: S }),
      // Google's token endpoint
      {
        access_token: `ya29.${random(120, 0x5300)}`,
        expires_in: 3599,
        refresh_token: `1//${random(70, 0x5301)}`,
        scope: 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid',
        token_type: 'Bearer',
      },
      // GitHub's OAuth app token endpoint
      {
        access_token: `gho_${random(27, 0x5302)}`,
        token_type: 'bearer',
        scope: 'repo read:org workflow write:packages read:packages',
      },
      kubectlSecret(random(24, 0x5303)),
      // A certificate is never read by the pattern rules, not even where it counts as a secret.
      { secrets: { ca: CA_CERTIFICATE, api: S } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('still judges the secrets of those bundles, and a seed as a secret', () => {
    for (const bundle of [
      kubeconfig({ token: 'hunter2' }),
      kubectlSecret('hunter2'),
      { access_token: 'hunter2', token_type: 'bearer', scope: 'repo read:org workflow write:packages read:packages' },
      { api_key: S, seed: 'hunter2' },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it('does not count an empty object or array as the sibling that holds the secret', () => {
    for (const bundle of [
      { tokens: { user: 'hunter2', meta: {}, group: S } },
      { tokens: { user: 'hunter2', tags: [], group: S } },
      { tokens: { github: { id: 'hunter2', scopes: [], meta: {} }, gitlab: S } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    for (const bundle of [
      { tokens: { github: { id: 12345678, meta: {}, value: S } } },
      { credentials: { project: 'acme', tags: [], jwk: { kty: 'oct', k: random(32, 0x5304) } } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('judges a password in a JDBC URL, a URL query or a Pass= part as a secret', () => {
    for (const database_url of [
      'jdbc:mysql://app:hunter2@db:3306/app',
      'jdbc:postgresql://db:5432/app?user=app&password=hunter2',
      'postgresql://db/app?user=app&password=hunter2',
      'mongodb://db/?authSource=admin&password=hunter2',
      'mongodb://db/?authSource=admin&PWD=hunt%65r2',
      'https://acme.blob.core.windows.net/backups?sv=2022-11-02&ss=b&sp=rl&sig=hunter2',
      `postgresql://app:${S}@db/app?password=hunter2`,
      `postgresql://app:${S}@db/app?sslmode=require&password=hunter2#primary`,
    ])
      for (const [label, rules] of judged({ api_key: S, database_url })) expect(rules, label).toContain('too-short');
    for (const connection_string of ['Server=db;User=app;Pass=hunter2;', 'Server=db;User=app;Passwd=hunter2;'])
      for (const [label, rules] of judged({ api_key: S, connection_string }))
        expect(rules, label).toContain('too-short');
    for (const database_url of [
      `jdbc:mysql://app:${random(24, 0x5305)}@db:3306/app`,
      `jdbc:postgresql://db:5432/app?user=app&password=${random(24, 0x5306)}&ssl=true`,
      `https://acme.blob.core.windows.net/backups?sv=2022-11-02&ss=b&sp=rl&sig=${encodeURIComponent(seededBytes(seeded(0x5320), 32).toString('base64'))}`,
    ])
      for (const [label, rules] of judged({ api_key: S, database_url })) expect(rules, label).toEqual([]);
  });

  it('judges every password of a connection string that gives more than one', () => {
    for (const connection_string of [
      `Server=db;Password=${S};Password=hunter2;`,
      `Server=db;Pwd=${S};Password=hunter2;`,
      `Server=db;Password=hunter2;Pwd=${S}`,
    ])
      for (const [label, rules] of judged({ api_key: S, connection_string }))
        expect(rules, label).toContain('too-short');
  });

  it('reads a URL or connection string under a secret-named key as its password and a public rest', () => {
    for (const bundle of [
      {
        secrets: { DATABASE_URL: `postgresql://app:${random(24, 0x5307)}@postgresql.prod.svc.cluster.local:5432/app` },
      },
      {
        secrets: {
          AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=${seededBytes(seeded(0x5321), 64).toString('base64')};EndpointSuffix=core.windows.net`,
        },
      },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const bundle of [
      { secrets: { DATABASE_URL: 'postgresql://app:hunter2@postgresql.prod.svc.cluster.local:5432/app' } },
      { secrets: { AzureWebJobsStorage: 'DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=hunter2' } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it("reads a secret_id beside Vault's secret_id_accessor, _ttl or _num_uses as an AppRole secret", () => {
    const response = (secretId: string): Record<string, unknown> => ({
      request_id: crypto.randomUUID(),
      data: {
        secret_id: secretId,
        secret_id_accessor: crypto.randomUUID(),
        secret_id_num_uses: 0,
        secret_id_ttl: 0,
      },
    });
    for (const [label, rules] of judged(response('hunter2'))) expect(rules, label).toContain('too-short');
    for (const [label, rules] of judged({ secret_id: 'hunter2', secret_id_ttl: 3600 }))
      expect(rules, label).toContain('too-short');
    for (const [label, rules] of judged(response(crypto.randomUUID()))) expect(rules, label).toEqual([]);
  });

  it('reads an ODBC password in braces without them, a doubled } as one', () => {
    const odbc = (pwd: string): string =>
      `Driver={ODBC Driver 18 for SQL Server};Server=tcp:db.acme.io,1433;Database=app;Uid=app;PWD=${pwd};Encrypt=yes;`;
    for (const [label, rules] of judged({ api_key: S, odbc: odbc(`{ab;${random(30, 0x5308)}}`) }))
      expect(rules, label).toEqual([]);
    // 11 characters in braces (13 with them, over a password's 12-byte floor); 10 and a `}}`, which is one `}`.
    for (const pwd of [`{${random(11, 0x5309).slice(0, 11)}}`, `{${random(10, 0x530a).slice(0, 10)}}}}`, '{hunter2}'])
      for (const [label, rules] of judged({ api_key: S, odbc: odbc(pwd) })) expect(rules, label).toContain('too-short');
  });
});

describe('assessSecret (credential bundles: review of the bundle-field rework)', () => {
  /** `length` random letters and digits: a password as a generator writes one, the same every run for its `seed`. */
  const alnum = (length: number, seed: number): string =>
    Array.from(
      seededBytes(seeded(seed), length),
      (byte) => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[byte % 62],
    ).join('');

  it('judges an identifier-named value of a map of secrets as a secret, even beside an object holding one', () => {
    for (const bundle of [
      { tokens: { project: 'hunter2hunter2', deploy: { username: 'gitlab+deploy-token-1', token: S } } },
      { passwords: { admin_user: 'Password1', db: { value: S } } },
      { secrets: { account: 'hunter2', prod: { value: S } } },
      { api_keys: { user: 'hunter2', admin: [S] } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    // One token object of an array, and the credentials of one account, still have metadata.
    for (const bundle of [
      { tokens: [{ id: 'ci', name: 'deploy', value: S }] },
      { credentials: { project: 'acme', account: 'ci', service_account: { private_key_id: 'k1', client_secret: S } } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('reads a PEM block that is no certificate or public key with the pattern rules, under any label', () => {
    const chunk = seededBytes(seeded(0x5322), 48).toString('base64');
    for (const bundle of [
      { hmac_key: armor('HMAC KEY', chunk.repeat(6)) },
      { api_key: b64(armor('HMAC KEY', chunk.repeat(6))) },
      { private_key: armor('CERTIFICATE', chunk.repeat(6)) },
      { api_key: S, secrets: { signer: armor('PUBLIC KEY', chunk.repeat(6)) } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('repeated-pattern');
    const publicKey = EC_P256_PUBLIC_KEY;
    for (const bundle of [
      { secrets: { ca: CA_CERTIFICATE, api: S } },
      { secrets: { client: CLIENT_CERTIFICATE, signer: publicKey, api: S } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('reads the token a URL carries as its username (an empty or x-oauth-basic password)', () => {
    for (const bundle of [
      { token: `https://ghp_${alnum(36, 0x5327)}:x-oauth-basic@github.com/acme/app.git` },
      { api_key: `https://sk_live_${alnum(99, 0x5328)}:@api.stripe.com/v1` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const bundle of [
      { token: 'https://hunter2:x-oauth-basic@github.com/acme/app.git' },
      { api_key: 'https://hunter2:@api.stripe.com/v1' },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it("judges a password a URL or connection string carries by a password's length floor, not the bundle kind's", () => {
    for (const bundle of [
      { database_url: `postgres://app:${alnum(24, 0x5329)}@db/app` },
      { api_key: S, database_url: `postgres://app:${alnum(24, 0x532a)}@db/app` },
      { token: `https://oauth2:glpat-${alnum(20, 0x532b)}@gitlab.com/acme/app.git` },
      { api_key: S, connection_string: `Server=db;User Id=app;Password=${alnum(16, 0x532c)};` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    // 11 bytes: under the 12-byte floor of a password.
    for (const bundle of [
      { database_url: `postgres://app:${alnum(11, 0x532d)}@db/app` },
      { api_key: S, connection_string: `Server=db;User Id=app;Password=${alnum(11, 0x532e)};` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it('does not scan a value over 4 KiB for a password', () => {
    const value = (length: number): string => {
      const start = 'Server=db;Password=hunter2;Application Name=';
      return start + 'x'.repeat(length - start.length);
    };
    expect(bundleFields(JSON.stringify({ a: value(4096) }))?.map(({ secret }) => secret)).toEqual([true, false]);
    expect(bundleFields(JSON.stringify({ a: value(4097) }))?.map(({ secret }) => secret)).toEqual([false]);
  });

  it('reads unclosed quotes and braces in a value up to 4 KiB, quoted values up to 256 characters', () => {
    // The worst cases under the 4 KiB guard: each unclosed `{` or quote is read at most 256
    // characters on (else from every later `Pwd={` to the end), then to its `;`.
    const braces = bundleFields(JSON.stringify({ a: ';pwd={'.repeat(682) }));
    expect(braces).toHaveLength(683);
    expect(braces?.slice(0, -1).every(({ value, secret }) => secret && value === '{')).toBe(true);
    for (const quote of ['"', "'"]) {
      const unclosed = `;pwd=${quote}${'a'.repeat(4090)}`;
      expect(bundleFields(JSON.stringify({ a: unclosed }))?.map(({ value, secret }) => [value, secret])).toEqual([
        [unclosed.slice(5), true],
        [unclosed, false],
      ]);
    }
    // Up to 256 characters in quotes, a `;` inside.
    const quoted = `${random(24, 0x530b)};${random(24, 0x530c)}`;
    for (const quote of ['"', "'"])
      for (const [label, rules] of judged({
        api_key: S,
        connection_string: `Server=db;Password=${quote}${quoted}${quote};`,
      }))
        expect(rules, label).toEqual([]);
  });

  it('reads a numeric seed as a setting, a string seed as a secret', () => {
    for (const [label, rules] of judged({ api_key: S, seed: 42 })) expect(rules, label).toEqual([]);
    for (const [label, rules] of judged({ api_key: S, seed: 'hunter2' })) expect(rules, label).toContain('too-short');
  });

  it('reads null under a secret-named key as no value, as Vault answers auth and wrap_info', () => {
    const vault = (data: unknown): Record<string, unknown> => ({
      request_id: crypto.randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data,
      wrap_info: null,
      warnings: null,
      auth: null,
      mount_type: 'approle',
    });
    const secretId = (id: string) => ({
      secret_id: id,
      secret_id_accessor: crypto.randomUUID(),
      secret_id_num_uses: 0,
      secret_id_ttl: 0,
    });
    const kv = (apiKey: string) => ({
      data: { api_key: apiKey },
      metadata: {
        created_time: '2026-11-24T00:19:12Z',
        custom_metadata: null,
        deletion_time: '',
        destroyed: false,
        version: 1,
      },
    });
    for (const bundle of [
      vault(secretId(crypto.randomUUID())),
      vault(kv(S)),
      { access_token: S, refresh_token: null, token_type: 'bearer' },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const bundle of [
      vault(secretId('hunter2')),
      vault(kv('hunter2')),
      { password: null },
      { access_token: null, refresh_token: null },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });
});

describe('assessSecret (bundle values that are not secrets)', () => {
  it('reads an auth scheme name (basic, bearer) as a scheme, not a secret', () => {
    for (const bundle of [
      { auth: 'basic', username: 'deploy', password: random(24, 0x530d) },
      { auth: 'Bearer', token: random(32, 0x530e) },
      { http: { auth: 'digest', username: 'deploy', password: random(24, 0x530f) } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const bundle of [{ auth: 'basic', password: 'hunter2' }, { auth: 'hunter2' }, { auth: 'basic' }])
      for (const [label, rules] of judged(bundle)) expect(rules, label).not.toEqual([]);
  });

  it('reads ids, names and projects under a secret-named object as identifiers, and a Vault secret_id as a secret', () => {
    for (const bundle of [
      { credentials: { project: 'acme', service_account: gcpServiceAccount(RSA_PKCS8_PRIVATE_KEY) } },
      { credentials: { project: 'acme', jwk: { kty: 'oct', k: random(32, 0x5310) } } },
      { tokens: { github: { id: 12345678, name: 'ci', value: random(32, 0x5311) } } },
      { auth: { role_id: crypto.randomUUID(), secret_id: crypto.randomUUID() } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const bundle of [
      { credentials: { project: 'acme', jwk: { kty: 'oct', k: random(8, 0x5312) } } },
      { tokens: { github: { id: 'ci', value: 'hunter2' } } },
      { password: { id: 'v2', current: 'hunter2' } },
      { role_id: crypto.randomUUID(), secret_id: 'hunter2' },
      { auth: { role_id: crypto.randomUUID(), secret_id: 'hunter2' } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it('does not read ids, emails and URLs beside a secret with the pattern rules', () => {
    for (const bundle of [
      { client_id: '1234567890', client_secret: random(32, 0x5313) },
      { client_id: 1234567890, client_secret: random(32, 0x5314) },
      { client_email: 'aaaaaaaaaaaa@acme.io', url: 'https://abcdefghij.acme.io', token: random(32, 0x5315) },
      {
        Credentials: {
          AccessKeyId: `ASIA${seededBytes(seeded(0x5323), 8).toString('hex').toUpperCase()}`,
          SecretAccessKey: random(30, 0x5316),
        },
        AssumedRoleUser: { Arn: 'arn:aws:sts::123456789012:assumed-role/deploy/ci' },
      },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const [label, rules] of judged({
      client_id: '1234567890',
      client_secret: `abcdefghijklmnop${random(24, 0x5317)}`,
    }))
      expect(rules, label).toContain('sequential');
  });
});

describe('assessSecret (bundle values that are not secrets: what they must not hide)', () => {
  it('judges an identifier-named value of a map of secrets as a secret, unless a sibling holds the secret', () => {
    for (const bundle of [
      { tokens: { group: S, project: 'hunter2' } },
      { api_tokens: { zone: S, account: 'hunter2' } },
      { passwords: { admin: S, user: 'hunter2' } },
      { credentials: { account: { current: 'hunter2', previous: S } } },
      { keys: { user: ['hunter2'], admin: [S] } },
      { secrets: { REDIS_URI: 'redis://:hunter2@redis:6379/0' } },
      // Alone in a secret-named object, a name and a URL are its secrets (the name too short).
      { password: { name: 'deploy-bot', url: 'https://vault.acme-prod.io/v1/kv/db' } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    for (const bundle of [
      { passwords: { user1: 'Password-For-Acme-Prod-2024!', user2: 'hunter2' } },
      { credentials: { service_account: 'Acme-Prod-Password-2024!' } },
      { secrets: { DATABASE_URL: 'postgres://app:password@db.internal.acme.io:5432/app' } },
      { password: { name: 'Winter-Password-2024!acme-prod' } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('weak-word');
  });

  it('refuses a bundle whose secret-named keys hold no secret, however long its other values', () => {
    for (const bundle of [
      { auth: 'basic', username: 'deploy-bot@acme-prod.iam', url: 'https://registry.acme-prod.io/v2' },
      { http: { auth: 'bearer', endpoint: 'https://api.acme-prod.io/v2/hooks', user: 'svc-deploy-7' } },
      { host: 'redis-prod-7.internal.acme.io', auth: 'none' },
      { auth: { user: 'hunter2', role_id: crypto.randomUUID() } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it('reads the password of a connection string or URL, and a seed, with the pattern rules beside a secret', () => {
    for (const [label, rules] of judged({
      api_key: S,
      connection_string: 'Server=db;User Id=sa;Password=abcdefgh1234;',
    }))
      expect(rules, label).toContain('sequential');
    for (const bundle of [
      { api_key: S, database_url: 'postgres://app:xyzxyzxyzxyzxyz@db/app' },
      { api_key: S, seed: 'abcabcabcabcabcabc' },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('repeated-pattern');
  });

  it('judges the password of a URL or a connection string as a secret, whatever its key', () => {
    for (const bundle of [
      { secret: { url: 'postgres://app:hunter2@db' } },
      { secret: { url: 'postgres://app:hunter2@db.internal.acme-prod.io:5432/app' } },
      { api_key: S, database_url: 'postgres://app:hunter2@db/app' },
      { database_url: 'postgres://app:hunter2@db.internal.acme-prod.io:5432/app', host: 'db.internal.acme-prod.io' },
      { client_secret: S, connection_string: 'Server=db;User Id=sa;Password=hunter2;' },
      { client_secret: S, connection_string: "Server=db;User Id=sa;Password='hun;ter2';" },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
    for (const bundle of [
      { api_key: S, database_url: `postgres://app:${random(30, 0x5318)}@db/app` },
      {
        database_url: `postgres://app:${encodeURIComponent(seededBytes(seeded(0x5324), 30).toString('base64'))}@db.internal/app`,
      },
      {
        api_key: S,
        connection_string: `DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=${seededBytes(seeded(0x5325), 64).toString('base64')};EndpointSuffix=core.windows.net`,
      },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('reads a secret_id as Vault AppRole secret only beside a role_id', () => {
    for (const bundle of [
      { SecretId: 'arn:aws:secretsmanager:us-east-1:538402917465:secret:prod/db-AbCdEf', api_key: S },
      {
        tenant_id: crypto.randomUUID(),
        client_id: crypto.randomUUID(),
        client_secret: S,
        keyVaultSecretId: `https://kv-acme.vault.azure.net/secrets/gw-cert/${seededBytes(seeded(0x5326), 16).toString('hex')}`,
      },
      { secret_id: 'db-password', client_secret: S },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    for (const bundle of [
      { role_id: crypto.randomUUID(), secretId: 'hunter2' },
      { approle: { RoleId: crypto.randomUUID(), SECRET_ID: 'hunter2' } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });
});

describe('assessSecret (credential bundles: passwords in libpq, JAAS and OLE DB strings)', () => {
  /** A random-looking alphanumeric password, the same every run for its `seed`. */
  const alnum = (length: number, seed: number): string => {
    const next = seeded(seed);
    return Array.from(
      { length },
      () => 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'[next(62)],
    ).join('');
  };
  /** Each way of writing `password` as the value of one bundle key, beside a strong api_key. */
  const carriers = (password: string, quotable: string = password): Record<string, string>[] => [
    { dsn: `host=db.internal port=5432 user=app password=${password} dbname=app sslmode=require` },
    { dsn: `password = ${password} host=db user=app` },
    { dsn: `host=db user=app password='${quotable.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}' dbname=app` },
    {
      jaas: `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="${quotable.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}";`,
    },
    {
      jaas: `org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="${quotable.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}";`,
    },
    {
      oledb: `Provider=Microsoft.Jet.OLEDB.4.0;Data Source=C:\\data\\app.mdb;Jet OLEDB:Database Password=${password};`,
    },
  ];

  it('judges the password of a libpq keyword string, a Kafka JAAS line and an OLE DB Jet password', () => {
    for (const carrier of [...carriers('hunter2'), ...carriers('hunter2', 'hun\'ter"2')])
      for (const [label, rules] of judged({ api_key: S, ...carrier })) expect(rules, label).toContain('too-short');
    for (const carrier of carriers('Password1234', 'Password 1234'))
      for (const [label, rules] of judged({ api_key: S, ...carrier })) expect(rules, label).toContain('weak-word');
    const strong = alnum(24, 0x5200);
    for (const carrier of carriers(strong, `${alnum(12, 0x5201)} '"\\ ${alnum(12, 0x5202)}`))
      for (const [label, rules] of judged({ api_key: S, ...carrier })) expect(rules, label).toEqual([]);
  });

  it("gives those passwords a password's length floor, and does not scan them over 4 KiB", () => {
    for (const carrier of carriers(alnum(11, 0x5203)))
      for (const [label, rules] of judged({ api_key: S, ...carrier })) expect(rules, label).toContain('too-short');
    const limits: [string, string][] = [
      ['host=db password=hunter2 application_name=', ''],
      ['x.PlainLoginModule required password="hunter2" a="', '";'],
    ];
    for (const [prefix, suffix] of limits) {
      const value = (length: number): string => prefix + 'x'.repeat(length - prefix.length - suffix.length) + suffix;
      expect(bundleFields(JSON.stringify({ a: value(4096) }))?.map(({ secret }) => secret)).toEqual([true, false]);
      expect(bundleFields(JSON.stringify({ a: value(4097) }))?.map(({ secret }) => secret)).toEqual([false]);
    }
  });

  it("judges those passwords by a password's distinct-character and entropy minimums too, not the kind's", () => {
    // Random 12-character passwords that have fewer than the `key` kind's 10 distinct characters or
    // 3 bits of entropy a character (about 1 in 20 do), and are still strong passwords.
    for (const password of ['0GTUpGJYTz77', 'HMZUcqkUHMc5', 'GVviCdhhv4Ov'])
      for (const carrier of carriers(password))
        for (const [label, rules] of judged({ api_key: S, ...carrier })) expect(rules, label).toEqual([]);
    // Below a password's minimums (5 distinct characters) it is still refused.
    for (const carrier of carriers('Qk7Qk7Pm7QkP'))
      for (const [label, rules] of judged({ api_key: S, ...carrier }))
        expect(rules, label).toContain('few-distinct-characters');
  });

  it('accepts every random alphanumeric password of 12 characters or more in each carrier (seeded)', () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    fc.assert(
      fc.property(fc.integer(), fc.integer({ min: 12, max: 20 }), (seed, length) => {
        const next = seeded(seed);
        const password = Array.from({ length }, () => alphabet[next(alphabet.length)]).join('');
        for (const carrier of carriers(password))
          expect(assessSecret(JSON.stringify({ api_key: S, ...carrier }), { kind: 'key' }), password).toEqual([]);
      }),
      { seed: 0x5190, numRuns: 400 },
    );
  });

  it("does not read a URL's username beside a password for weak words: it names an account", () => {
    for (const bundle of [
      { token: `https://secure-deploy:${alnum(24, 0x5204)}@git.acme.io/acme/app.git` },
      { token: `https://sample-bot:${alnum(24, 0x5205)}@git.acme.io/acme/app.git` },
      { url: `https://ops%40secureworks.com:${alnum(24, 0x5206)}@grafana.acme.io` },
      { token: `https://x-access-token:ghs_${alnum(36, 0x5207)}@github.com/acme/app.git` },
      { token: `https://gitlab-ci-token:glcbt-${alnum(24, 0x5208)}@gitlab.com/acme/app.git` },
      { database_url: `postgres://secret_rotator:${alnum(24, 0x5209)}@db/app` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    // The username is the token when the password is empty or `x-oauth-basic`: judged as a secret.
    for (const bundle of [{ token: 'https://Password1:@git.acme.io' }, { token: 'https://Password1:x-oauth-basic@h' }])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('weak-word');
  });

  it("judges a libpq string's sslpassword (the client key's passphrase) as a password", () => {
    for (const [label, rules] of judged({
      api_key: S,
      dsn: 'host=db user=app sslcert=/etc/pg/client.crt sslkey=/etc/pg/client.key sslpassword=hunter2',
    }))
      expect(rules, label).toContain('too-short');
    for (const [label, rules] of judged({
      api_key: S,
      dsn: `host=db sslpassword='${alnum(24, 0x520a)}' password=${alnum(24, 0x520b)}`,
    }))
      expect(rules, label).toEqual([]);
  });

  it('does not read a libpq string whose unquoted value ends in `;` (documented limit)', () => {
    expect(bundleFields(JSON.stringify({ dsn: 'host=db user=app password=hunter2;' }))).toEqual([
      { value: 'host=db user=app password=hunter2;', secret: false },
    ]);
  });

  it('refuses a Kafka config-provider reference in a JAAS password as a placeholder, like an interpolated name in a URL', () => {
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the reference shapes under test
    const references = ['${file:/etc/kafka/secrets.properties:pw}', '${env:KAFKA_PASSWORD}', '${vault:kafka:pw}'];
    for (const reference of references)
      for (const [label, rules] of judged({
        api_key: S,
        jaas: `org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="${reference}";`,
      }))
        expect(rules, label).toContain('placeholder');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: the reference shape under test
    const url = 'postgres://app:${env:DB_PASSWORD}@db/app';
    for (const [label, rules] of judged({ api_key: S, url })) expect(rules, label).toContain('placeholder');
  });
});

describe('assessSecret (credential bundles: JWTs and field selectors)', () => {
  const part = (json: unknown): string => Buffer.from(JSON.stringify(json)).toString('base64url');
  /** `length` random-looking bytes in base64url, the same every run for its `seed`. */
  const sig = (length: number, seed: number): string => seededBytes(seeded(seed), length).toString('base64url');
  const clientId = `${seededBytes(seeded(0x5210), 6).readUIntBE(0, 6)}-${seededBytes(seeded(0x5211), 16).toString('hex')}.apps.googleusercontent.com`;
  const kid = seededBytes(seeded(0x5212), 20).toString('hex');
  /** A Google id_token: RS256, its payload repeating the client id as `azp` and `aud`. */
  const idToken = (signature: string): string =>
    `${part({ alg: 'RS256', kid, typ: 'JWT' })}.${part({
      iss: 'https://accounts.google.com',
      azp: clientId,
      aud: clientId,
      sub: '104857203948571029384',
      email: 'deployer@acme.io',
      email_verified: true,
      at_hash: sig(16, 0x5213),
      iat: 1764000000,
      exp: 1764003600,
    })}.${signature}`;
  const tokenResponse = (id_token: string): Record<string, unknown> => ({
    access_token: `ya29.${sig(120, 0x5214)}`,
    expires_in: 3599,
    refresh_token: `1//${sig(70, 0x5215)}`,
    scope: 'openid https://www.googleapis.com/auth/userinfo.email',
    token_type: 'Bearer',
    id_token,
  });

  it('measures an id_token by its signature: its claims repeat by format', () => {
    for (const [label, rules] of judged(tokenResponse(idToken(sig(256, 0x5216))))) expect(rules, label).toEqual([]);
    // The oidc auth-provider of an old kubeconfig stores one too.
    for (const [label, rules] of judged(
      kubeconfig({
        'auth-provider': {
          name: 'oidc',
          config: {
            'client-id': clientId,
            'id-token': idToken(sig(256, 0x5217)),
            'idp-issuer-url': 'https://accounts.google.com',
          },
        },
      }),
    ))
      expect(rules, label).toEqual([]);
  });

  it('refuses an unsigned JWT as unsigned-jwt, in a bundle or alone, and says so without the value', () => {
    for (const [label, rules] of judged(tokenResponse(idToken('')))) {
      expect(rules, label).toContain('unsigned-jwt');
      expect(rules, label).not.toContain('too-short');
    }
    const unsigned = `${part({ alg: 'none' })}.${part({ sub: 'deployer', iat: 1764000000 })}.`;
    expect(assessSecret(unsigned, { kind: 'token' })).toEqual(['unsigned-jwt']);
    const error = errorOf(() =>
      loadConfigSync({ T: secret({ kind: 'token' }) }, { env: { T: unsigned }, secretSources: ['env'] }),
    );
    expect(error.message).toContain('T: refused as a weak token secret (unsigned-jwt: an unsigned JWT');
    expect(error.message).not.toContain(unsigned.slice(0, 12));
  });

  it("refuses a weakly signed JWT: a repeated signature, or one whose bytes are a key's text or a pattern", () => {
    for (const [label, rules] of judged(tokenResponse(idToken(sig(16, 0x5218).repeat(8)))))
      expect(rules, label).toContain('repeated-pattern');
    const hs256 = (signature: Buffer): string =>
      `eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.${part({ sub: '1234567890', iat: 1764000000 })}.${signature.toString('base64url')}`;
    const text = Buffer.from('ThisIsMySuperSecureSigningKeyForProduction');
    for (const [label, rules] of judged({ id_token: hs256(text) })) expect(rules, label).toContain('weak-word');
    for (const [label, rules] of judged({ id_token: hs256(Buffer.from(Array.from({ length: 32 }, (_, i) => i))) }))
      expect(rules, label).toContain('sequential');
    const half = seededBytes(seeded(0x5219), 16);
    for (const [label, rules] of judged({ id_token: hs256(Buffer.concat([half, half])) }))
      expect(rules, label).toContain('repeated-pattern');
  });

  it('never refuses a JWT for its random HS256 or ES256 signature (seeded)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom(['HS256', 32] as const, ['ES256', 64] as const),
        (seed, [alg, size]) => {
          const next = seeded(seed);
          const signature = Buffer.from(Array.from({ length: size }, () => next(256)));
          const jwt = `${part({ alg, typ: 'JWT' })}.${part({ sub: 'deployer', iat: 1764000000 })}.${signature.toString('base64url')}`;
          expect(assessSecret(JSON.stringify({ access_token: jwt }), { kind: 'token' }), jwt).toEqual([]);
        },
      ),
      { seed: 0x5191, numRuns: 1000 },
    );
  });

  /** A random-looking UUID from `next`. */
  const uuid = (next: (below: number) => number): string =>
    seededBytes(next, 16)
      .toString('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');
  /** A projected Kubernetes service-account token's claims: `iss` and `aud` repeat the API server's URL. */
  const serviceAccountClaims = (next: (below: number) => number): Record<string, unknown> => ({
    aud: ['https://kubernetes.default.svc.cluster.local'],
    exp: 1795536000,
    iat: 1764000000,
    iss: 'https://kubernetes.default.svc.cluster.local',
    jti: uuid(next),
    'kubernetes.io': {
      namespace: 'payments',
      node: { name: 'ip-10-0-12-34.eu-west-1.compute.internal', uid: uuid(next) },
      pod: { name: 'api-7d9f8b6c5d-x2k4q', uid: uuid(next) },
      serviceaccount: { name: 'api', uid: uuid(next) },
      warnafter: 1764003607,
    },
    nbf: 1764000000,
    sub: 'system:serviceaccount:payments:api',
  });
  /** A Google id_token's claims: `azp` and `aud` repeat the client id. */
  const googleClaims = (next: (below: number) => number): Record<string, unknown> => {
    const client = `${seededBytes(next, 6).readUIntBE(0, 6)}-${seededBytes(next, 16).toString('hex')}.apps.googleusercontent.com`;
    return {
      iss: 'https://accounts.google.com',
      azp: client,
      aud: client,
      sub: String(seededBytes(next, 6).readUIntBE(0, 6)),
      email: 'deployer@acme.io',
      email_verified: true,
      at_hash: seededBytes(next, 16).toString('base64url'),
      iat: 1764000000,
      exp: 1764003600,
    };
  };

  it('measures a JWT given alone by its signature too: a service-account token or an id_token is accepted (seeded)', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom(serviceAccountClaims, googleClaims),
        fc.constantFrom(['RS256', 256] as const, ['ES256', 64] as const, ['HS256', 32] as const),
        fc.constantFrom('token', 'key', 'password') as fc.Arbitrary<'token' | 'key' | 'password'>,
        (seed, claims, [alg, size], kind) => {
          const next = seeded(seed);
          const header = part({ alg, kid: seededBytes(next, 20).toString('base64url'), typ: 'JWT' });
          const jwt = `${header}.${part(claims(next))}.${seededBytes(next, size).toString('base64url')}`;
          expect(assessSecret(jwt, { kind }), jwt).toEqual([]);
        },
      ),
      { seed: 0x5230, numRuns: 600 },
    );
    // As a secret: what `secret({ kind: 'token' })` loads from K8S_TOKEN.
    const next = seeded(0x5231);
    const token = `${part({ alg: 'RS256', kid: sig(20, 0x5232) })}.${part(serviceAccountClaims(next))}.${sig(256, 0x5233)}`;
    expect(
      loadConfigSync(
        { K8S_TOKEN: secret({ kind: 'token' }) },
        { env: { K8S_TOKEN: token }, secretSources: ['env'] },
      ).K8S_TOKEN.reveal(),
    ).toBe(token);
  });

  it('still refuses a JWT given alone that is weakly signed, or a known demo token', () => {
    const claims = part(serviceAccountClaims(seeded(0x5234)));
    const jwt = (signature: Buffer): string =>
      `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}.${signature.toString('base64url')}`;
    const half = seededBytes(seeded(0x5235), 16);
    expect(assessSecret(jwt(Buffer.concat([half, half])), { kind: 'token' })).toContain('repeated-pattern');
    expect(assessSecret(jwt(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), { kind: 'token' })).toContain(
      'sequential',
    );
    expect(assessSecret(jwt(Buffer.from('ThisIsMySuperSecureSigningKeyForProduction')), { kind: 'token' })).toContain(
      'weak-word',
    );
    expect(assessSecret(jwt(seededBytes(seeded(0x5236), 12)), { kind: 'token' })).toContain('too-short');
    // Supabase's demo anon key is read whole: a known value, whatever its signature measures.
    const anon =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJzdXBhYmFzZS1kZW1vIiwicm9sZSI6ImFub24iLCJleHAiOjE5ODM4MTI5OTZ9.CRXP1A7WOeoJeXxjNni43kdQwgnWNReilDMblYTn_I0';
    expect(assessSecret(anon, { kind: 'token' })).toEqual(['known-demo']);
    for (const [label, rules] of judged({ anon_key: anon })) expect(rules, label).toContain('known-demo');
  });

  it('refuses `alg: none` in any case as unsigned-jwt, even with a signature after it', () => {
    const claims = part({ sub: 'deployer', iat: 1764000000 });
    for (const alg of ['none', 'None', 'NONE', 'nOnE'])
      for (const signature of ['', sig(32, 0x5237), sig(256, 0x5238)]) {
        const token = `${part({ alg, typ: 'JWT' })}.${claims}.${signature}`;
        expect(assessSecret(token, { kind: 'token' }), token).toContain('unsigned-jwt');
        for (const [label, rules] of judged(tokenResponse(token))) expect(rules, label).toContain('unsigned-jwt');
      }
  });

  it("judges a JWT signature's length against a token's minimum when the kind or minBytes asks more", () => {
    // An HS256 signature is 32 bytes whatever key signed it: not too short for hmac-sha512 or minBytes 48.
    const hs256 = (signature: string): string =>
      `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'deployer', iat: 1764000000 })}.${signature}`;
    const token = hs256(sig(32, 0x5239));
    for (const options of [{ kind: 'hmac-sha512' }, { kind: 'key', minBytes: 48 }] as const) {
      expect(assessSecret(token, options), JSON.stringify(options)).toEqual([]);
      for (const [value, form] of everyForm(JSON.stringify({ id_token: token }), options))
        expect(assessSecret(value, form), `${JSON.stringify(form)} ${value.slice(0, 40)}`).toEqual([]);
    }
    // Shorter than HS256's 32 bytes, a signature is too short whatever the kind: no HMAC-SHA256.
    for (const kind of ['hmac-sha512', 'token', 'password'] as const) {
      expect(assessSecret(hs256(sig(16, 0x523a)), { kind }), kind).toContain('too-short');
      expect(assessSecret(JSON.stringify({ id_token: hs256(sig(16, 0x523a)) }), { kind }), kind).toContain('too-short');
    }
  });

  it("judges a JWT signature's length by its alg's size, never below it, and an unknown alg by the floor", () => {
    const token = (alg: string, bytes: number, seed: number): string =>
      `${part({ alg, typ: 'JWT' })}.${part({ sub: 'deployer', iat: 1764000000 })}.${sig(bytes, seed)}`;
    const refused: [string, number, { kind?: 'key' | 'token' | 'hmac-sha512'; minBytes?: number }][] = [
      ['HS384', 40, { kind: 'key', minBytes: 48 }],
      ['HS512', 48, { kind: 'hmac-sha512' }],
      ['HS512', 40, { kind: 'token' }],
      ['ES256', 40, { kind: 'token' }],
      ['ES512', 96, { kind: 'hmac-sha512' }],
      ['RS256', 128, { kind: 'token' }],
      ['PS512', 200, { kind: 'key' }],
      ['EdDSA', 32, { kind: 'token' }],
      ['XS256', 24, { kind: 'key' }],
    ];
    for (const [alg, bytes, options] of refused) {
      const jwt = token(alg, bytes, 0x5241);
      expect(assessSecret(jwt, options), `${alg} ${bytes}`).toContain('too-short');
      expect(assessSecret(JSON.stringify({ id_token: jwt }), options), `${alg} ${bytes}`).toContain('too-short');
    }
    const accepted: [string, number, { kind?: 'key' | 'token' | 'hmac-sha512'; minBytes?: number }][] = [
      ['HS384', 48, { kind: 'key', minBytes: 64 }],
      ['HS512', 64, { kind: 'hmac-sha512' }],
      ['ES512', 132, { kind: 'hmac-sha512', minBytes: 256 }],
      ['RS256', 256, { kind: 'hmac-sha512' }],
      ['RS256', 512, { kind: 'token' }],
      ['EdDSA', 64, { kind: 'key' }],
      ['XS256', 32, { kind: 'key' }],
    ];
    for (const [alg, bytes, options] of accepted) {
      const jwt = token(alg, bytes, 0x5242);
      expect(assessSecret(jwt, options), `${alg} ${bytes}`).toEqual([]);
      expect(assessSecret(JSON.stringify({ id_token: jwt }), options), `${alg} ${bytes}`).toEqual([]);
    }
  });

  it('reads the signature of a JWT given alone with every word rule when a person could have typed it', () => {
    for (const signature of [
      'dummy-signature-do-not-use-in-prod',
      'insecure_test_signature_1234abcd',
      'this-is-my-jwt-signing-key-for-prod',
    ]) {
      const hs256 = `${part({ alg: 'HS256', typ: 'JWT' })}.${part({ sub: 'deployer', iat: 1764000000 })}.${signature}`;
      for (const kind of ['token', 'jwt-hs256'] as const) {
        expect(assessSecret(hs256, { kind }), `${kind} ${signature}`).toContain('weak-word');
        expect(assessSecret(JSON.stringify({ id_token: hs256 }), { kind }), signature).toContain('weak-word');
      }
      // In a bundle, a token too long to be read whole with every word rule: its signature still is.
      for (const [label, rules] of judged(tokenResponse(idToken(signature))))
        expect(rules, label).toContain('weak-word');
    }
  });

  it('measures an encoded JWT given alone (base64 or hex, sniffed or declared) by its signature', () => {
    for (let run = 0; run < 50; run++) {
      const next = seeded(0x5243 + run);
      const header = part({ alg: 'RS256', kid: seededBytes(next, 20).toString('base64url') });
      const token = `${header}.${part(serviceAccountClaims(next))}.${seededBytes(next, 256).toString('base64url')}`;
      for (const encoding of ['base64', 'hex'] as const) {
        const encoded = Buffer.from(token).toString(encoding);
        expect(assessSecret(encoded, { kind: 'token' }), `${encoding} ${run}`).toEqual([]);
        expect(assessSecret(encoded, { kind: 'token', encoding }), `${encoding} ${run} declared`).toEqual([]);
      }
    }
    // Still measured by its signature there: a repeated one is refused.
    const next = seeded(0x5280);
    const half = seededBytes(next, 128).toString('base64url');
    const weak = `${part({ alg: 'RS256' })}.${part(serviceAccountClaims(next))}.${half}${half}`;
    for (const encoding of ['base64', 'hex'] as const)
      expect(assessSecret(Buffer.from(weak).toString(encoding), { kind: 'token', encoding }), encoding).toContain(
        'repeated-pattern',
      );
  });

  it('measures a JWT pasted with a line break by its signature, reporting only the line break', () => {
    const next = seeded(0x5281);
    const token = `${part({ alg: 'RS256', kid: sig(20, 0x5282) })}.${part(serviceAccountClaims(next))}.${sig(256, 0x5283)}`;
    for (const pasted of [`${token}\n`, `${token}\r\n`, ` ${token}`])
      expect(assessSecret(pasted, { kind: 'token' }), JSON.stringify(pasted.slice(-2))).toEqual([
        'surrounding-whitespace',
      ]);
  });

  it('measures an encoded or newline-ended JWT in a bundle by its signature, reporting only the line break, as one given alone', () => {
    for (let run = 0; run < 20; run++) {
      const next = seeded(0x5290 + run);
      const header = part({ alg: 'RS256', kid: seededBytes(next, 20).toString('base64url') });
      const token = `${header}.${part(serviceAccountClaims(next))}.${seededBytes(next, 256).toString('base64url')}`;
      // `kubectl get secret <sa-token> -o json`: `data.token` is the base64 of the token.
      const saSecret = {
        apiVersion: 'v1',
        data: { 'ca.crt': b64(CA_CERTIFICATE), namespace: b64('prod'), token: b64(token) },
        kind: 'Secret',
        metadata: { annotations: { 'kubernetes.io/service-account.name': 'deployer' }, name: 'deployer-token' },
        type: 'kubernetes.io/service-account-token',
      };
      for (const bundle of [{ token: b64(token) }, { token: Buffer.from(token).toString('hex') }, saSecret])
        for (const [label, rules] of judged(bundle)) expect(rules, `${run} ${label}`).toEqual([]);
      for (const bundle of [{ id_token: `${token}\n` }, { id_token: `${token}\r\n` }])
        for (const [label, rules] of judged(bundle))
          expect(rules, `${run} ${label}`).toEqual(['surrounding-whitespace']);
    }
    // Still measured by its signature there: a repeated one, an unsigned one or a demo-signed one is refused.
    const next = seeded(0x52a0);
    const half = seededBytes(next, 128).toString('base64url');
    const claims = part(serviceAccountClaims(next));
    const input = `${part({ alg: 'HS256', typ: 'JWT' })}.${claims}`;
    for (const [token, rule] of [
      [`${part({ alg: 'RS256' })}.${claims}.${half}${half}`, 'repeated-pattern'],
      [`${part({ alg: 'none' })}.${claims}.`, 'unsigned-jwt'],
      [`${input}.${createHmac('sha256', 'secret').update(input).digest('base64url')}`, 'known-demo'],
    ] as const)
      for (const bundle of [{ token: b64(token) }, { id_token: `${token}\n` }])
        for (const [label, rules] of judged(bundle)) expect(rules, `${rule} ${label}`).toContain(rule);
  });

  it('refuses an HS256/384/512 JWT signed with a documented demo key as known-demo, alone or in a bundle', () => {
    // jwt.io's default token, signed with `your-256-bit-secret`.
    const jwtIo =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    // jwt.io's classic default token (`"admin": true`), signed with `secret`.
    const classic =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWV9.TJVA95OrM7E2cBab30RMHrHDcEfxjoYZgeFONFh7HgQ';
    for (const token of [jwtIo, classic]) {
      expect(assessSecret(token, { kind: 'token' })).toEqual(['known-demo']);
      for (const [label, rules] of judged({ id_token: token })) expect(rules, label).toContain('known-demo');
    }
    const claims = part(serviceAccountClaims(seeded(0x5284)));
    for (const key of JWT_DEMO_KEYS) {
      // Each key is itself refused as a known value.
      expect(assessSecret(key, { kind: 'token' }), key).toContain('known-demo');
      for (const [alg, hash] of [
        ['HS256', 'sha256'],
        ['HS384', 'sha384'],
        ['HS512', 'sha512'],
      ] as const) {
        const input = `${part({ alg, typ: 'JWT' })}.${claims}`;
        const token = `${input}.${createHmac(hash, key).update(input).digest('base64url')}`;
        expect(assessSecret(token, { kind: 'token' }), `${alg} ${key}`).toEqual(['known-demo']);
        expect(assessSecret(JSON.stringify(tokenResponse(token)), { kind: 'token' }), `${alg} ${key}`).toContain(
          'known-demo',
        );
        // Signed with another key, the same claims are a token like any other.
        const other = `${input}.${createHmac(hash, `${key}!`).update(input).digest('base64url')}`;
        expect(assessSecret(other, { kind: 'token' }), `${alg} ${key}!`).toEqual([]);
      }
    }
  });

  it("reads a GKE auth-provider's token-key and expiry-key as field selectors, not secrets", () => {
    const gcp = (config: Record<string, unknown>): Record<string, unknown> =>
      kubeconfig({
        'auth-provider': {
          name: 'gcp',
          config: {
            'cmd-args': 'config config-helper --format=json',
            'cmd-path': '/usr/lib/google-cloud-sdk/bin/gcloud',
            expiry: '2026-11-24T01:19:12Z',
            'expiry-key': '{.credential.token_expiry}',
            'token-key': '{.credential.access_token}',
            ...config,
          },
        },
      });
    for (const [label, rules] of judged(gcp({ 'access-token': `ya29.${sig(120, 0x521a)}` })))
      expect(rules, label).toEqual([]);
    for (const bundle of [gcp({ 'access-token': 'hunter2' }), gcp({}), { 'token-key': 'hunter2' }])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });
});

describe('assessSecret (credential bundles: whitespace around a secret)', () => {
  it('refuses a secret value with a trailing newline or surrounding whitespace, as a secret given alone', () => {
    for (const bundle of [
      { client_id: 'acme-web', client_secret: `${S}\n` },
      { client_secret: `${S}\r\n` },
      { api_key: ` ${S}` },
      { secrets: { prod: `${S}\t` } },
      { auths: { 'registry.acme.io': { auth: b64(`deploy:${S} `) } } },
      { database_url: `postgres://app:${encodeURIComponent(`${S} `)}@db/app` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual(['surrounding-whitespace']);
  });

  it('leaves whitespace around a value that is no secret, and a PEM key ending with its line break', () => {
    for (const bundle of [
      { client_id: 'acme-web\n', client_secret: S },
      { scope: ' openid email ', token: S },
      gcpServiceAccount(RSA_PKCS8_PRIVATE_KEY),
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });
});
