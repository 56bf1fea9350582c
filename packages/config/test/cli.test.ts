import { isUtf8 } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type CliIo, runCli } from '../src/cli/run.ts';
import { loadConfigSync, parseDevProfile } from '../src/index.ts';
import { schema } from './fixtures/schema.ts';

const fixture = join(import.meta.dirname, 'fixtures', 'schema.ts');
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rampart-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function io(env: Record<string, string>): CliIo & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: (t) => void out.push(t),
    stderr: (t) => void err.push(t),
    env,
    cwd: dir,
    out: () => out.join(''),
    err: () => err.join(''),
  };
}

function secretFile(name: string, value: string): string {
  const path = join(dir, name);
  writeFileSync(path, `${value}\n`);
  return path;
}

function validEnv(): Record<string, string> {
  return {
    APP_NAME: 'billing',
    WORKERS: '4',
    PORT: '8080',
    TRUST_PROXY: 'true',
    ISSUER_URL: 'https://issuer.example/',
    LOG_LEVEL: 'info',
    SESSION_TTL: '8h',
    CORS_ORIGINS: 'https://a.example,https://b.example',
    LIMITS: '{"perMinute":60}',
    REGION: 'eu-west-1',
    TENANT: 'acme',
    QUOTAS: '{"a":1}',
    RETRIES: '3',
    MODE: 'safe',
    JWT_KEY_FILE: secretFile('jwt', randomBytes(32).toString('base64url')),
    DB_PASSWORD_FILE: secretFile('db', randomBytes(18).toString('base64')),
    API_TOKEN_FILE: secretFile('api', randomBytes(16).toString('hex')),
    WEBHOOK_KEY: `vault:secret/billing#webhook`,
  };
}

describe('runCli check', () => {
  it('exits 0 for a valid environment and lists provenance', async () => {
    const env: Record<string, string> = {
      ...validEnv(),
      WEBHOOK_KEY_FILE: secretFile('wh', randomBytes(64).toString('hex')),
    };
    delete (env as Record<string, string | undefined>).WEBHOOK_KEY;
    const cli = io(env);
    expect(await runCli(['check', '--schema', fixture], cli)).toBe(0);
    expect(cli.out()).toMatch(/check: OK/);
    expect(cli.out()).toMatch(/JWT_KEY\s+file/);
  });

  it('exits 1 with every problem, in human and JSON form', async () => {
    const cli = io({ NODE_ENV: 'staging', PORT: '99999', JWT_KEY: 'keyboard cat' });
    expect(await runCli(['check', '--schema', fixture, '--json'], cli)).toBe(1);
    const report = JSON.parse(cli.out());
    expect(report.ok).toBe(false);
    expect(report.environment.profile).toBe('production');
    expect(report.issues).toHaveLength(19);
    const jwt = report.issues.filter((i: { key: string }) => i.key === 'JWT_KEY');
    expect(jwt.map((i: { code: string }) => i.code)).toEqual(['source-not-allowed', 'weak-secret']);
  });

  it('exits 2 on usage errors', async () => {
    expect(await runCli([], io({}))).toBe(2);
    expect(await runCli(['check'], io({}))).toBe(2);
    expect(await runCli(['frobnicate', '--schema', fixture], io({}))).toBe(2);
    const cli = io({});
    expect(await runCli(['check', '--schema', join(dir, 'missing.ts')], cli)).toBe(2);
    expect(await runCli(['--help'], io({}))).toBe(0);
  });

  it('names a schema module that cannot be found but never echoes what a module threw', async () => {
    const missing = io({});
    expect(await runCli(['check', '--schema', 'nope/missing-schema.ts'], missing)).toBe(2);
    expect(missing.err()).toMatch(/cannot load the schema module: .*missing-schema/);
    const throwing = io({});
    expect(
      await runCli(['check', '--schema', join(import.meta.dirname, 'fixtures', 'throwing-schema.ts')], throwing),
    ).toBe(2);
    expect(throwing.err()).toMatch(/the schema module threw Error/);
    expect(throwing.err()).not.toContain('Zq8vLm3nPx7Rt2Kw');
  });

  it('echoes a not-found error only in the form node writes it, naming the missing file only', async () => {
    const module = join(dir, 'fake-not-found.mjs');
    writeFileSync(
      module,
      `throw Object.assign(new Error('bad token sk_live_9fQ2mZ7xR4tW8vB1'), { code: 'ERR_MODULE_NOT_FOUND' });\nexport const schema = {};\n`,
    );
    const cli = io({});
    expect(await runCli(['check', '--schema', module], cli)).toBe(2);
    expect(cli.err()).toMatch(/the schema module threw Error \(ERR_MODULE_NOT_FOUND\)/);
    expect(cli.err()).not.toMatch(/sk_live|9fQ2|bad token/);
    const missing = io({});
    expect(await runCli(['check', '--schema', 'nope/missing-schema.ts'], missing)).toBe(2);
    expect(missing.err()).toMatch(/cannot load the schema module: cannot find '[^']*nope\/missing-schema\.ts'\n/);
    expect(missing.err()).not.toMatch(/imported from/);
  });

  it('refuses an empty --file-allowlist entry (an unset variable) instead of allowing the current directory', async () => {
    for (const entry of ['', '  ']) {
      const cli = io(validEnv());
      expect(await runCli(['check', '--schema', fixture, '--file-allowlist', entry], cli), JSON.stringify(entry)).toBe(
        2,
      );
      expect(cli.err()).toMatch(/--file-allowlist/);
    }
  });

  it('refuses extra arguments and never echoes an unknown command; usage goes to stderr', async () => {
    const extra = io({});
    expect(await runCli(['check', 'JUNK', '--schema', fixture], extra)).toBe(2);
    expect(extra.err()).toMatch(/unexpected argument/);
    expect(extra.err()).not.toContain('JUNK');
    const unknown = io({});
    expect(await runCli(['sk_live_9fQ2mZ7xR4tW8vB1', '--schema', fixture], unknown)).toBe(2);
    expect(unknown.err()).toMatch(/unknown command; the commands are check, audit, gen-dev/);
    expect(unknown.err() + unknown.out()).not.toContain('sk_live');
    const bare = io({});
    expect(await runCli([], bare)).toBe(2);
    expect(bare.out()).toBe('');
    expect(bare.err()).toContain('Usage: rampart-config');
    const help = io({});
    expect(await runCli(['--help'], help)).toBe(0);
    expect(help.out()).toContain('Usage: rampart-config');
  });

  it('exits 2 when the schema module or its loadOptions throws something that is not an Error', async () => {
    const thrown = [
      'null',
      'undefined',
      '{ code: 500 }',
      '{ code: { startsWith: 1 } }',
      "'sk_live_9fQ2mZ7xR4tW8vB1'",
      "Object.assign(new Error('x'), { name: 'sk_live_9fQ2mZ7xR4tW8vB1' })",
      '{ name: { toString() { throw new Error("boom"); } } }',
    ];
    for (const [index, value] of thrown.entries()) {
      for (const [where, source] of [
        ['module', `throw ${value};\nexport const schema = {};\n`],
        ['loadOptions', `export const schema = {};\nexport const loadOptions = () => { throw ${value}; };\n`],
      ] as const) {
        const module = join(dir, `throws-${where}-${index}.mjs`);
        writeFileSync(module, source);
        const cli = io({});
        expect(await runCli(['check', '--schema', module], cli), `${where}: ${value}`).toBe(2);
        expect(cli.err(), `${where}: ${value}`).toMatch(/the schema module threw/);
        expect(cli.err()).not.toMatch(/sk_live|9fQ2|boom/);
      }
    }
  });

  it('never echoes a SyntaxError, whose message can quote a secret (JSON.parse of a credentials value)', async () => {
    const module = join(dir, 'json-schema.mjs');
    writeFileSync(
      module,
      // A credentials file that holds a raw token where JSON was expected.
      `export const schema = {};\nexport const loadOptions = () => JSON.parse(${JSON.stringify('sk_live_9fQ2mZ7xR4tW8vB1')});\n`,
    );
    const cli = io({});
    expect(await runCli(['check', '--schema', module], cli)).toBe(2);
    expect(cli.err()).toMatch(/the schema module threw SyntaxError/);
    expect(cli.err()).not.toMatch(/sk_live|9fQ2/);
  });
});

describe('runCli audit', () => {
  it('prints provenance and keyed fingerprints that change exactly when a value changes', async () => {
    const auditKey = secretFile('audit-key', randomBytes(48).toString('base64'));
    const env: Record<string, string> = {
      ...validEnv(),
      WEBHOOK_KEY_FILE: secretFile('wh', randomBytes(64).toString('hex')),
    };
    delete (env as Record<string, string | undefined>).WEBHOOK_KEY;
    const run = async (e: Record<string, string>) => {
      const cli = io(e);
      expect(await runCli(['audit', '--schema', fixture, '--json', '--fingerprint-key-file', auditKey], cli)).toBe(0);
      return JSON.parse(cli.out()) as { key: string; source: string; fingerprint?: string }[];
    };
    const first = await run(env);
    const again = await run(env);
    const jwt = readFileSync(env.JWT_KEY_FILE!, 'utf8');
    const rotated = await run({ ...env, JWT_KEY_FILE: secretFile('jwt2', randomBytes(32).toString('base64url')) });
    const fp = (rows: typeof first, key: string) => rows.find((r) => r.key === key)?.fingerprint;
    expect(fp(first, 'JWT_KEY')).toMatch(/^hmac-sha256:[0-9a-f]{32}$/);
    expect(fp(again, 'JWT_KEY')).toBe(fp(first, 'JWT_KEY'));
    expect(fp(rotated, 'JWT_KEY')).not.toBe(fp(first, 'JWT_KEY'));
    expect(fp(rotated, 'DB_PASSWORD')).toBe(fp(first, 'DB_PASSWORD'));
    expect(fp(first, 'PORT')).toBeUndefined();
    expect(JSON.stringify(first)).not.toContain(jwt.trim());
  });

  it('needs a fingerprint key of at least 32 bytes', async () => {
    const env = validEnv();
    expect(await runCli(['audit', '--schema', fixture], io(env))).toBe(2);
    const cli = io(env);
    expect(
      await runCli(['audit', '--schema', fixture, '--fingerprint-key-file', secretFile('short', 'short')], cli),
    ).toBe(2);
  });

  it('refuses a fingerprint key file that is not UTF-8 text instead of fingerprinting under a weaker key', async () => {
    let binary: Buffer;
    do binary = randomBytes(48);
    while (isUtf8(binary));
    const keyFile = secretFile('binary-audit-key', '');
    writeFileSync(keyFile, binary);
    const cli = io(validEnv());
    expect(await runCli(['audit', '--schema', fixture, '--fingerprint-key-file', keyFile], cli)).toBe(2);
    expect(cli.err()).toMatch(/not UTF-8 text.*base64/);
    for (const form of [binary.toString('hex'), binary.toString('base64'), binary.toString('latin1')])
      expect(cli.err()).not.toContain(form.slice(0, 8));
    expect(cli.out()).toBe('');
  });
});

describe('runCli gen-dev', () => {
  it('writes a private dev profile with fresh dev-marked secrets, and refuses to overwrite', async () => {
    const cli = io({});
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', '.env.development'], cli)).toBe(0);
    const path = join(dir, '.env.development');
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const values = parseDevProfile(readFileSync(path, 'utf8'));
    expect([...values.keys()]).toEqual(['JWT_KEY', 'DB_PASSWORD', 'API_TOKEN', 'WEBHOOK_KEY']);
    for (const [key, value] of values) {
      // API_TOKEN is declared hex: its value is the hex of a dev-marked text of the token length.
      const text = key === 'API_TOKEN' ? Buffer.from(value, 'hex').toString('utf8') : value;
      expect(text).toMatch(/^rampart-dev-[A-Za-z0-9_-]{16,}$/);
    }
    expect(values.get('API_TOKEN')).toMatch(/^(?:[0-9a-f]{2})+$/);
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', '.env.development'], io({}))).toBe(2);
    chmodSync(path, 0o644); // an existing file with looser permissions is made private again
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', '.env.development', '--force'], io({}))).toBe(0);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const again = parseDevProfile(readFileSync(path, 'utf8'));
    expect(again.get('JWT_KEY')).not.toBe(values.get('JWT_KEY'));
    // The profile works under development and is refused in production.
    const env = { ...validEnv(), NODE_ENV: 'development' };
    for (const key of ['JWT_KEY_FILE', 'DB_PASSWORD_FILE', 'API_TOKEN_FILE', 'WEBHOOK_KEY'])
      delete (env as Record<string, string | undefined>)[key];
    const config = loadConfigSync(schema, { env, devProfile: path });
    expect(config.JWT_KEY.reveal()).toBe(again.get('JWT_KEY'));
  });
});

describe('runCli gen-dev (writing safely)', () => {
  it('refuses to write through a symlink at --out, dangling or not, even with --force', async () => {
    const target = join(dir, 'elsewhere');
    symlinkSync(target, join(dir, '.env.development'));
    const cli = io({});
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', '.env.development'], cli)).toBe(2);
    expect(existsSync(target)).toBe(false);
    expect(cli.err()).toMatch(/is a symbolic link/);
    writeFileSync(target, 'KEEP=1\n');
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', '.env.development', '--force'], io({}))).toBe(2);
    expect(readFileSync(target, 'utf8')).toBe('KEEP=1\n');
  });

  it('replaces an existing file with a new private one instead of writing the secrets into it', async () => {
    const path = join(dir, '.env.development');
    writeFileSync(path, 'OLD=1\n', { mode: 0o644 });
    const before = statSync(path).ino;
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', '.env.development', '--force'], io({}))).toBe(0);
    expect(statSync(path).ino).not.toBe(before);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual(['.env.development']);
  });

  it('reports a file it cannot write as such, not as an error of the schema module', async () => {
    const cli = io({});
    expect(await runCli(['gen-dev', '--schema', fixture, '--out', 'missing-dir/.env.development'], cli)).toBe(2);
    expect(cli.err()).toMatch(/cannot write missing-dir\/\.env\.development \(ENOENT\)/);
    expect(cli.err()).not.toMatch(/schema module/);
  });
});

describe('rampart-config bin', () => {
  it('runs as a process and sets the exit code', () => {
    const result = spawnSync(
      process.execPath,
      [join(import.meta.dirname, '..', 'src', 'cli', 'bin.ts'), 'check', '--schema', fixture],
      {
        env: { PATH: process.env.PATH, NODE_ENV: 'production', JWT_KEY: 'your-256-bit-secret' },
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    expect(result.status).toBe(1);
    expect(result.stdout).toMatch(/FAILED \(19 problems\)/);
    expect(result.stdout + result.stderr).not.toContain('your-256-bit-secret');
  });
});
