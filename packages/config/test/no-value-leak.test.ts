import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli/run.ts';
import { ConfigError, checkConfig, loadConfig, type VaultReader } from '../src/index.ts';
import { schema } from './fixtures/schema.ts';

const root = mkdtempSync(join(tmpdir(), 'rampart-leak-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const fixture = join(import.meta.dirname, 'fixtures', 'schema.ts');
const KEYS = Object.keys(schema);
const auditKey = join(root, 'audit-key');
writeFileSync(auditKey, randomBytes(48).toString('base64'));
type Source = 'env' | 'file' | 'tree' | 'dev-profile' | 'vault' | 'both';

/** How a marker is embedded in a key's raw value, so it reaches each parser's interesting paths. */
const shapes = [
  (m: string) => m,
  (m: string) => ` ${m} `,
  (m: string) => `https://${m}.example/`,
  (m: string) => `${m},https://a.example`,
  (m: string) => `{"perMinute":"${m}"}`,
  (m: string) => `{"${m}":"x"}`,
  (m: string) => `${m}s`,
  (m: string) => `<${m}>`,
  (m: string) => `your-${m}-here`,
  (m: string) => `keyboard cat ${m}`,
  (m: string) => `rampart-dev-${m}`,
  (m: string) => m.repeat(4),
  (m: string) => `VAULT:secret/${m}#k`,
  (m: string) => ` Vault : secret/${m}#k`,
  (m: string) => Buffer.from(`super-secret-jwt-token-with-at-least-32-characters-long ${m}`).toString('base64'),
  (m: string) => Buffer.from(`rampart-dev-${m}`).toString('hex'),
  // Measured by their contents: a legacy encrypted PEM key's body, a JSON bundle's values.
  (m: string) =>
    `-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\n${m}\n-----END RSA PRIVATE KEY-----`,
  (m: string) => JSON.stringify({ client_id: m, client_secret: m }),
  (m: string) => Buffer.from(JSON.stringify({ client_id: m, api_key: `${m}${m}` })).toString('hex'),
  // The text a PEM body decodes to, and a bundle's secret-like values read on their own.
  (m: string) =>
    `-----BEGIN PRIVATE KEY-----\n${Buffer.from(`rampart-dev-${m}`).toString('base64')}\n-----END PRIVATE KEY-----`,
  (m: string) => Buffer.from(JSON.stringify({ client_id: m, client_secret: m.slice(0, 7) })).toString('base64'),
  (m: string) =>
    JSON.stringify({
      app_id: m,
      api_key: Buffer.from(`super-secret-jwt-token-with-at-least-32-characters-long${m}`).toString('base64'),
    }),
  (m: string) => `-----BEGIN PUBLIC KEY-----\n${m}\n-----END PUBLIC KEY-----`,
  // Key structures (pattern rules skipped), text behind their header, and the bundle shapes whose
  // key names, nested values, JWK members and Docker auths are read since s17.
  (m: string) =>
    `-----BEGIN OPENSSH PRIVATE KEY-----\n${Buffer.from(`openssh-key-v1\0${m}`).toString('base64')}\n-----END OPENSSH PRIVATE KEY-----`,
  (m: string) =>
    `-----BEGIN ENCRYPTED PRIVATE KEY-----\n${Buffer.concat([Buffer.from([0x30, m.length + 7]), Buffer.from(`secret-${m}`)]).toString('base64')}\n-----END ENCRYPTED PRIVATE KEY-----`,
  (m: string) => JSON.stringify({ client_id: m, SecretAccessKey: m, client_hmac: `\${HMAC_${m}}` }),
  (m: string) => JSON.stringify({ api_key: { value: m }, 'api_k\u0435y_hex': m, client_pw: m.slice(0, 5) }),
  (m: string) => JSON.stringify({ kty: 'oct', kid: m, k: Buffer.from(m).toString('base64url') }),
  (m: string) =>
    JSON.stringify({ auths: { 'registry.acme.io': { auth: Buffer.from(`${m}:${m}`).toString('base64') } } }),
  // Nested values judged by their own names, non-RFC JWK members, JWK text, ACR identity tokens and
  // the private members of a key node:crypto parses (s17 review); a DER body it cannot parse.
  (m: string) =>
    JSON.stringify({ token: { access_token: m, token_type: 'Bearer', expires_in: 3600 }, auth: { client_token: m } }),
  (m: string) =>
    JSON.stringify({ kty: 'RSA', n: m, e: 'AQAB', password: m, k: Buffer.from(`this-is-${m}`).toString('base64url') }),
  (m: string) =>
    JSON.stringify({
      auths: {
        'a.azurecr.io': {
          auth: Buffer.from(`${'0'.repeat(8)}-0000-0000-0000-${'0'.repeat(12)}:`).toString('base64'),
          identitytoken: m,
        },
      },
    }),
  (m: string) =>
    `-----BEGIN PRIVATE KEY-----\n${Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(m.padEnd(32, m).slice(0, 32))]).toString('base64')}\n-----END PRIVATE KEY-----`,
  (m: string) =>
    `-----BEGIN PRIVATE KEY-----\n${Buffer.concat([Buffer.from([0x30, m.length + 5, 0x02, 0x01, 0x00, 0x04, m.length]), Buffer.from(m)]).toString('base64')}\n-----END PRIVATE KEY-----`,
  // Passwords in libpq, JAAS and OLE DB strings, a token URL's username, a JWT (s19).
  (m: string) =>
    JSON.stringify({
      token: `https://${m}:${m}@git.acme.io`,
      dsn: `host=db user=${m} password='${m}\\'x'`,
      jaas: `a.PlainLoginModule required username="${m}" password="${m}" user_${m}="${m.slice(0, 5)}";`,
      ole: `Jet OLEDB:Database Password=${m};`,
      id_token: `eyJhbGciOiJub25lIn0.${Buffer.from(m).toString('base64url')}.`,
    }),
  // A JWT signed with a key's text, a libpq sslpassword, a Kafka config-provider reference (s19 review).
  (m: string) =>
    JSON.stringify({
      id_token: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.${Buffer.from(`ThisIsMySigningKey${m}`).toString('base64url')}`,
      dsn: `host=db sslpassword=${m} password=x`,
      jaas: `a.PlainLoginModule required password="\${file:/etc/${m}:pw}";`,
    }),
  (m: string) => `eyJhbGciOiJub25lIn0.${Buffer.from(m).toString('base64url')}.`,
  // A scheme prefix, a JWT whose signature is short for its alg (the issuer's advice), bundle
  // secrets with surrounding whitespace (s20).
  (m: string) => `Bearer ${m}`,
  (m: string) => `BASIC  ${Buffer.from(`${m}:${m}`).toString('base64')}`,
  (m: string) => `bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.${Buffer.from(m).toString('base64url')}`,
  (m: string) => `eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.${Buffer.from(`${m}${m}`).toString('base64url')}`,
  (m: string) =>
    JSON.stringify({
      client_secret: `${m}\n`,
      token: `Bearer ${m}`,
      authorization: `Basic ${Buffer.from(`${m}:${m}`).toString('base64')}`,
      id_token: `eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.${Buffer.from(m).toString('base64url')}\n`,
    }),
  // A Basic user that is the token, unpadded Basic base64, Basic under a secret-named key, a Bearer
  // token under an Authorization key, the base64 of a Bearer value (s20 review).
  (m: string) => `Basic ${Buffer.from(`${m}:`).toString('base64')}`,
  (m: string) => `basic ${Buffer.from(`${m}:${m}\n`).toString('base64').replace(/=+$/, '')}`,
  (m: string) =>
    JSON.stringify({
      secret: `Basic ${Buffer.from(`${m}:${m}`).toString('base64')}`,
      headers: { Authorization: `Bearer ${m}` },
      token: Buffer.from(`Bearer ${m}`).toString('base64'),
    }),
  (m: string) => Buffer.from(`Bearer ${m}`).toString('hex'),
] as const;

/**
 * Stack frames of dependencies and of Node itself (`at asyncPropertyExecution (…/node_modules/fast-check/…)`,
 * `node:internal/…`): their names are not ours, and an 8-character window of a random marker can
 * spell part of one (`ropertyEnumeraaZ` in fast-check's `asyncPropertyExecution`). Our own frames,
 * messages and reports stay in the output the marker is looked for in.
 */
const FOREIGN_FRAME = /^\s*at (?:.*[\\/]node_modules[\\/]|.*\(node:|node:).*$/gm;

function assertNoMarker(everything: string, marker: string): void {
  const output = everything.replace(FOREIGN_FRAME, '');
  expect(output).not.toContain(marker);
  // Not even part of it: no window of 8 characters of the marker may appear.
  for (let i = 0; i + 8 <= marker.length; i++)
    expect(output, `window ${marker.slice(i, i + 8)}`).not.toContain(marker.slice(i, i + 8));
}

let run = 0;
function scenario(sources: readonly Source[], values: readonly string[], profile: 'production' | 'test') {
  const dir = join(root, String(run++));
  const tree = join(dir, 'tree');
  mkdirSync(tree, { recursive: true });
  const env: Record<string, string> = profile === 'test' ? { NODE_ENV: 'test' } : { NODE_ENV: 'staging' };
  const profileLines: string[] = [];
  const vaultData: Record<string, string> = {};
  KEYS.forEach((key, index) => {
    const value = values[index]!;
    const source = sources[index]!;
    if (source === 'env') env[key] = value;
    if (source === 'both') {
      env[key] = value;
      env[`${key}_FILE`] = join(dir, key);
      writeFileSync(join(dir, key), value);
    }
    if (source === 'file') {
      writeFileSync(join(dir, key), `${value}\n`);
      env[`${key}_FILE`] = join(dir, key);
    }
    if (source === 'tree') writeFileSync(join(tree, key), value);
    if (source === 'dev-profile') profileLines.push(`${key}=${value.replace(/\n/g, ' ')}`);
    if (source === 'vault') {
      env[key] = `vault:secret/app#${key.toLowerCase()}`;
      vaultData[key.toLowerCase()] = value;
    }
  });
  writeFileSync(join(dir, '.env.test'), profileLines.join('\n'));
  const vault: VaultReader = {
    async read(path) {
      if (path !== 'secret/data/app')
        throw Object.assign(new Error(`404 ${JSON.stringify(vaultData)}`), { response: { statusCode: 404 } });
      return { data: { data: vaultData } };
    },
  };
  return { env, options: { env, configTree: tree, devProfile: join(dir, '.env.test'), vault } };
}

async function everyOutput(s: ReturnType<typeof scenario>): Promise<string> {
  const outputs: string[] = [];
  try {
    const config = await loadConfig(schema, s.options);
    outputs.push(JSON.stringify(config), inspect(config, { depth: 10, showHidden: true }));
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const e = error as ConfigError;
    outputs.push(
      e.message,
      String(e.stack),
      JSON.stringify(e),
      JSON.stringify(e.issues),
      inspect(e, { depth: 10, showHidden: true }),
    );
  }
  outputs.push(JSON.stringify(await checkConfig(schema, s.options)));
  const io = {
    stdout: (t: string) => void outputs.push(t),
    stderr: (t: string) => void outputs.push(t),
    env: s.env,
    cwd: root,
  };
  const common = ['--schema', fixture, '--config-tree', s.options.configTree, '--dev-profile', s.options.devProfile];
  await runCli(['check', ...common], io);
  await runCli(['check', ...common, '--json'], io);
  await runCli(['audit', ...common, '--json', '--fingerprint-key-file', auditKey], io);
  await runCli(['audit', ...common, '--fingerprint-key-file', auditKey], io);
  return outputs.join('\n');
}

describe('ConfigError, checkConfig and runCli output', () => {
  it('never shows a marker value put into any key, from any source, in errors, reports or CLI output', async () => {
    const source = fc.constantFrom<Source>('env', 'file', 'tree', 'dev-profile', 'vault', 'both');
    await fc.assert(
      fc.asyncProperty(
        fc.stringMatching(/^[A-Za-z0-9]{16,32}$/),
        fc.array(fc.nat(shapes.length - 1), { minLength: KEYS.length, maxLength: KEYS.length }),
        fc.array(source, { minLength: KEYS.length, maxLength: KEYS.length }),
        fc.constantFrom<'production' | 'test'>('production', 'test'),
        async (marker, shapeIndexes, sources, profile) => {
          const values = shapeIndexes.map((i) => shapes[i]!(marker));
          const output = await everyOutput(scenario(sources, values, profile));
          assertNoMarker(output, marker);
        },
      ),
      { numRuns: 60, seed: 0x5301 },
    );
  });

  it('never shows the marker when every key holds it as-is from the environment', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[A-Za-z0-9]{16,32}$/), async (marker) => {
        const output = await everyOutput(
          scenario(
            KEYS.map(() => 'env'),
            KEYS.map(() => marker),
            'production',
          ),
        );
        assertNoMarker(output, marker);
      }),
      { numRuns: 30, seed: 0x5302 },
    );
  });
});
