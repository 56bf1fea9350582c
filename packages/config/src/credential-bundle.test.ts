import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { armor, everyForm, random } from '../test/secret-forms.ts';
import { bundleFields } from './credential-bundle.ts';
import { assessSecret } from './weak-secret.ts';

// A kubeadm-style CA and the admin's client certificate it signed (`openssl req -x509 -subj
// /CN=kubernetes`, then `openssl x509 -req`): public test certificates. node:crypto cannot write
// one. A self-signed certificate holds its name twice (issuer, subject) and its key identifier
// twice (subject and authority key identifiers): its base64 repeats 8-character stretches.
const CA_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIDGzCCAgOgAwIBAgIUGWZSszF9JoSmGo0dP7H5H3WdTZUwDQYJKoZIhvcNAQEL
BQAwFTETMBEGA1UEAwwKa3ViZXJuZXRlczAeFw0yNjExMjQwMDE5MTJaFw0zNjEx
MjEwMDE5MTJaMBUxEzARBgNVBAMMCmt1YmVybmV0ZXMwggEiMA0GCSqGSIb3DQEB
AQUAA4IBDwAwggEKAoIBAQDDzGnowd2OXsEc3a9fhmiv3Dyw2VHO+Aq6jniQ4MuA
9mrpRgvi5dUxhamaEcKK5mp5UONZpLdO//XsIiwplcVlBvAL2aE8mViH0etIII+F
PrZ2tk+kLV7WNImnjuuhe5g2JEYmUMQOB6zwfqV0yM3WYgZ5+NZiCb62gIwcinFn
TWA350nFeAc+Nu0pzL68QPCTtzy1dsfTE/Is6nlAQGzNY1BmLYFTFOdhQ/bZkN+i
ubqUGVkTqqWvlayCHnNe4DhMsgTXUFBd39UwR+hM2zSqY9sSE2tcZJ85Vdg2eHdV
lGzNfwt2dx945G3X9byKeOt0E2I7gGRKUmyVMaPWj/uVAgMBAAGjYzBhMB0GA1Ud
DgQWBBQ6XpXV4IdvlDwR0IY/YjwB/1p9BjAfBgNVHSMEGDAWgBQ6XpXV4IdvlDwR
0IY/YjwB/1p9BjAPBgNVHRMBAf8EBTADAQH/MA4GA1UdDwEB/wQEAwICpDANBgkq
hkiG9w0BAQsFAAOCAQEASXSMZ8QpSSXl6VIHadflT9TFSTnh8QKTDCy2qARDGAyt
mTrDQyhrctztITs4bN+ZHCd7FS5AYxn8VYYbtxBz6jNl2piIHfinG1/zf8M5MEx4
99P+iQc+l5rJzUoWapXLTBPP2/f5yRqyXNGMiXOyisSIrLw0BCj/FKaLpIqyVhp5
/y9wJQUkfdK19yyFE+f/gQ5I04SABeePV8nFFNp47immw/OOPPsHMTK/0go3jwSI
NThr0rjMe2l36h1RhccDhHRuz/Jlug1lcVEnBNyQUGg+k7vALzA/efQiDG1LbkWI
6aJXBd2Myt1VS1bPGWj6Oxqzez6y7Jbg1iUG8mSPDw==
-----END CERTIFICATE-----
`;
const CLIENT_CERTIFICATE = `-----BEGIN CERTIFICATE-----
MIIDPjCCAiagAwIBAgIUEMybZUDZbJ8ZvVQX3S9juhhQhcwwDQYJKoZIhvcNAQEL
BQAwFTETMBEGA1UEAwwKa3ViZXJuZXRlczAeFw0yNjExMjQwMDE5MTJaFw0zNjEx
MjEwMDE5MTJaMDQxFzAVBgNVBAoMDnN5c3RlbTptYXN0ZXJzMRkwFwYDVQQDDBBr
dWJlcm5ldGVzLWFkbWluMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
5xjDPbCJ9Nd9RDXIBgM+9mDSZ/ofHxm78tVY7wBlZ+lcK2rG3OGp+4NSkOtweT9L
XwVRX8/Q72FrEIFw2Ad8ndgEnd0+8kqFCwjavGVz1zJV/ONkhPJav6ltX1jApbVN
+YXTik/MTS+trFpt4C7q7Z+ns9Td5BMHVZkKGe5I29fce+6XPk4cvBTgNANESNIC
7QVcZ3BKdmu/19Vd3Eafw0dUaWOiTt+aXxcDmjXzwJTm+bmLeeArGbMtdQApR49a
g02sF2cgTdatEdjYQNBEU6/9bybL5N6n3/cPv1YePv/04gmHh1+HmaLhEKMTO9C9
l9JiHyu5JFyHrlveSUo24QIDAQABo2cwZTAOBgNVHQ8BAf8EBAMCBaAwEwYDVR0l
BAwwCgYIKwYBBQUHAwIwHQYDVR0OBBYEFN14icYkLFlvcZ+n7jupvu0crc54MB8G
A1UdIwQYMBaAFDpeldXgh2+UPBHQhj9iPAH/Wn0GMA0GCSqGSIb3DQEBCwUAA4IB
AQA+Hr40W+rVdmBS44li58u41dk/Q5fNBbhgWGps16o6te1uQOfon5rJUOwFvZzh
1ilZvDZeLGhBqodlDN4lTecxB/gyQfITMKUSaTPqLniwp5uGGAur4DuDe/Abk2/U
FWIt6KoknNEWb7co27rkSS+5XHrDRO0L/ztCsH7NNv9qqpWnnsAbFbrdYlizV/Yj
mcH6aKTa1MWWXgM8/AbT91PbJJxlPLer/KemQmwSdn+6MouMLz8PCofLJFNa1UMS
6S4YKq2x1vcFp7wWkS3SBpAzSA7jYoRoHVS/+V/qDrbwiQgabAvT+xoqmEwZlckv
wC6XYmkWXOBO0PJlDImZ3f/O
-----END CERTIFICATE-----
`;

const b64 = (text: string): string => Buffer.from(text).toString('base64');

/** Each form of `bundle` (as written, then hex/base64/base64url sniffed and declared) and what it is judged. */
const judged = (bundle: unknown): [string, ReturnType<typeof assessSecret>][] =>
  everyForm(JSON.stringify(bundle)).map(([value, options]) => [
    `${JSON.stringify(bundle).slice(0, 160)} ${options.encoding}`,
    assessSecret(value, options),
  ]);

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
  const S = random(30);

  it('accepts a kubeconfig, OAuth token responses and a kubectl Secret with strong secrets, in every form', () => {
    const clientKey = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs1', format: 'pem' },
    }).privateKey;
    for (const bundle of [
      kubeconfig({ 'client-certificate-data': b64(CLIENT_CERTIFICATE), 'client-key-data': b64(clientKey) }),
      kubeconfig({ token: S }),
      // Google's token endpoint
      {
        access_token: `ya29.${random(120)}`,
        expires_in: 3599,
        refresh_token: `1//${random(70)}`,
        scope: 'https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email openid',
        token_type: 'Bearer',
      },
      // GitHub's OAuth app token endpoint
      {
        access_token: `gho_${random(27)}`,
        token_type: 'bearer',
        scope: 'repo read:org workflow write:packages read:packages',
      },
      kubectlSecret(random(24)),
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
      { credentials: { project: 'acme', tags: [], jwk: { kty: 'oct', k: random(32) } } },
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
      `jdbc:mysql://app:${random(24)}@db:3306/app`,
      `jdbc:postgresql://db:5432/app?user=app&password=${random(24)}&ssl=true`,
      `https://acme.blob.core.windows.net/backups?sv=2022-11-02&ss=b&sp=rl&sig=${encodeURIComponent(randomBytes(32).toString('base64'))}`,
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
      { secrets: { DATABASE_URL: `postgresql://app:${random(24)}@postgresql.prod.svc.cluster.local:5432/app` } },
      {
        secrets: {
          AzureWebJobsStorage: `DefaultEndpointsProtocol=https;AccountName=acmeprod;AccountKey=${randomBytes(64).toString('base64')};EndpointSuffix=core.windows.net`,
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
    for (const [label, rules] of judged({ api_key: S, odbc: odbc(`{ab;${random(30)}}`) }))
      expect(rules, label).toEqual([]);
    // 11 characters in braces (13 with them, over a password's 12-byte floor); 10 and a `}}`, which is one `}`.
    for (const pwd of [`{${random(11).slice(0, 11)}}`, `{${random(10).slice(0, 10)}}}}`, '{hunter2}'])
      for (const [label, rules] of judged({ api_key: S, odbc: odbc(pwd) })) expect(rules, label).toContain('too-short');
  });
});

describe('assessSecret (credential bundles: review of the bundle-field rework)', () => {
  const S = random(30);
  /** `length` random letters and digits: a password as a generator writes one. */
  const alnum = (length: number): string =>
    Array.from(
      randomBytes(length),
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
    const chunk = randomBytes(48).toString('base64');
    for (const bundle of [
      { hmac_key: armor('HMAC KEY', chunk.repeat(6)) },
      { api_key: b64(armor('HMAC KEY', chunk.repeat(6))) },
      { private_key: armor('CERTIFICATE', chunk.repeat(6)) },
      { api_key: S, secrets: { signer: armor('PUBLIC KEY', chunk.repeat(6)) } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('repeated-pattern');
    const { publicKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    for (const bundle of [
      { secrets: { ca: CA_CERTIFICATE, api: S } },
      { secrets: { client: CLIENT_CERTIFICATE, signer: publicKey, api: S } },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
  });

  it('reads the token a URL carries as its username (an empty or x-oauth-basic password)', () => {
    for (const bundle of [
      { token: `https://ghp_${alnum(36)}:x-oauth-basic@github.com/acme/app.git` },
      { api_key: `https://sk_live_${alnum(99)}:@api.stripe.com/v1` },
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
      { database_url: `postgres://app:${alnum(24)}@db/app` },
      { api_key: S, database_url: `postgres://app:${alnum(24)}@db/app` },
      { token: `https://oauth2:glpat-${alnum(20)}@gitlab.com/acme/app.git` },
      { api_key: S, connection_string: `Server=db;User Id=app;Password=${alnum(16)};` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toEqual([]);
    // 11 bytes: under the 12-byte floor of a password.
    for (const bundle of [
      { database_url: `postgres://app:${alnum(11)}@db/app` },
      { api_key: S, connection_string: `Server=db;User Id=app;Password=${alnum(11)};` },
    ])
      for (const [label, rules] of judged(bundle)) expect(rules, label).toContain('too-short');
  });

  it('scans a long quoted connection-string value without running out of stack', () => {
    // 8 MiB: a backtrack slot per character overflowed the stack (a RangeError out of assessSecret).
    for (const quote of ['"', "'"])
      expect(bundleFields(JSON.stringify({ a: `;pwd=${quote}${'a'.repeat(8 * 2 ** 20 + 10)}` }))).toHaveLength(1);
    // Up to 256 characters in quotes, a `;` inside.
    const quoted = `${random(24)};${random(24)}`;
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
