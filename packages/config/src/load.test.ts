import { isUtf8 } from 'node:buffer';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { errorOf, rejectionOf } from '../test/config-error.ts';
import { provenanceOf } from './config-object.ts';
import { generateDevProfile, generateDevSecret } from './dev-profile.ts';
import { checkConfig, loadConfig, loadConfigSync } from './load.ts';
import { number, port, string, url } from './scalars.ts';
import { Secret } from './secret.ts';
import { secret } from './secret-spec.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'rampart-config-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const strongKey = (): string => randomBytes(32).toString('base64url');
function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
describe('loadConfigSync', () => {
  const schema = { PORT: port({ default: 3000 }), NAME: string(), JWT_KEY: secret({ kind: 'jwt-hs256' }) };

  it('lists every problem at once', () => {
    const error = errorOf(() => loadConfigSync(schema, { env: { PORT: 'eighty' } }));
    expect(error.code).toBe('ERR_CONFIG_INVALID');
    expect(error.retryable).toBe(false);
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['PORT', 'invalid'],
      ['NAME', 'missing'],
      ['JWT_KEY', 'missing'],
    ]);
    expect(error.message).toMatch(/3 problems/);
    expect(error.message).toMatch(/JWT_KEY_FILE/);
  });

  it('reads NAME_FILE: strips one trailing newline and records the file as provenance', () => {
    const key = strongKey();
    const path = file('jwt', `${key}\n`);
    const config = loadConfigSync(schema, { env: { NAME: 'api', JWT_KEY_FILE: path } });
    expect(config.JWT_KEY.reveal()).toBe(key);
    expect(provenanceOf(config)).toEqual([
      { key: 'PORT', source: 'default', detail: 'schema default', secret: false },
      { key: 'NAME', source: 'env', detail: 'NAME', secret: false },
      { key: 'JWT_KEY', source: 'file', detail: path, secret: true },
    ]);
    const twoNewlines = file('jwt2', `${key}\n\n`);
    const error = errorOf(() => loadConfigSync({ K: secret({ kind: 'token' }) }, { env: { K_FILE: twoNewlines } }));
    expect(error.issues[0]).toMatchObject({ code: 'weak-secret', rules: ['surrounding-whitespace'] }); // one newline is stripped
  });

  it('strips a CRLF line ending once', () => {
    const key = strongKey();
    const config = loadConfigSync({ K: secret() }, { env: { K_FILE: file('k', `${key}\r\n`) } });
    expect(config.K.reveal()).toBe(key);
  });

  it('refuses NAME together with NAME_FILE, empty files, unreadable files and paths outside the allowlist', () => {
    const secrets = join(dir, 'run-secrets');
    mkdirSync(secrets);
    const inside = join(secrets, 'b');
    writeFileSync(inside, strongKey());
    const outside = file('c', strongKey());
    symlinkSync(outside, join(secrets, 'link'));
    const error = errorOf(() =>
      loadConfigSync(
        { A: secret(), B: secret(), C: secret(), D: secret(), E: secret(), F: secret(), G: secret() },
        {
          env: {
            A: strongKey(),
            A_FILE: inside,
            B_FILE: inside,
            C_FILE: outside,
            D_FILE: file('d', '\n'),
            E_FILE: join(dir, 'missing'),
            F_FILE: join(secrets, 'link'),
            G_FILE: secrets,
          },
          fileAllowlist: [secrets, dir.replace(/$/, '-elsewhere')],
        },
      ),
    );
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['A', 'ambiguous-source'],
      ['C', 'file-outside-allowlist'],
      ['D', 'file-outside-allowlist'],
      ['E', 'file-unreadable'],
      ['F', 'file-outside-allowlist'],
      ['G', 'file-outside-allowlist'],
    ]);
    const noAllowlist = errorOf(() =>
      loadConfigSync({ D: secret(), G: secret() }, { env: { D_FILE: file('d2', '\n'), G_FILE: secrets } }),
    );
    expect(noAllowlist.issues.map((i) => [i.key, i.code])).toEqual([
      ['D', 'file-empty'],
      ['G', 'file-unreadable'],
    ]);
  });

  it('refuses a FIFO as a secret file at once instead of waiting for a writer', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    execFileSync('mkfifo', [join(tree, 'T')]);
    const error = errorOf(() =>
      loadConfigSync({ K: secret(), T: secret() }, { env: { K_FILE: fifo }, configTree: tree }),
    );
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['K', 'file-unreadable'],
      ['T', 'file-unreadable'],
    ]);
  });

  it('refuses a secret file or config-tree file that is not UTF-8 text instead of replacing its bytes', () => {
    // `openssl rand 32 > key`: most such keys are not UTF-8, and decoding them leniently swaps
    // bytes for U+FFFD, loading a different, weaker key.
    let binary: Buffer;
    do binary = randomBytes(32);
    while (isUtf8(binary));
    const path = join(dir, 'binary-key');
    writeFileSync(path, binary);
    const tree = join(dir, 'tree');
    mkdirSync(tree);
    writeFileSync(join(tree, 'T'), Buffer.concat([Buffer.from('Zx9'), binary]));
    const error = errorOf(() =>
      loadConfigSync({ K: secret(), T: secret() }, { env: { NODE_ENV: 'test', K_FILE: path }, configTree: tree }),
    );
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['K', 'file-not-text'],
      ['T', 'file-not-text'],
    ]);
    for (const issue of error.issues) {
      expect(issue.message).toMatch(/not UTF-8 text/);
      expect(issue.message).toMatch(/base64 or hex/);
      expect(issue.message).toMatch(/encoding/);
      for (const form of [binary.toString('hex'), binary.toString('base64'), binary.toString('latin1')])
        expect(issue.message).not.toContain(form.slice(0, 8));
      expect(issue.message).not.toContain('\uFFFD');
    }
    // The same key stored as base64 with `encoding` declared loads.
    const encoded = file('encoded-key', `${binary.toString('base64')}\n`);
    const config = loadConfigSync({ K: secret({ encoding: 'base64' }) }, { env: { K_FILE: encoded } });
    expect(Buffer.from(config.K.reveal(), 'base64').equals(binary)).toBe(true);
  });

  it('reads schema keys named like Object.prototype members as ordinary variables', () => {
    const schema = { toString: port({ optional: true }), constructor: string({ optional: true }) };
    const config = loadConfigSync(schema, { env: {} });
    expect(config.toString).toBeUndefined();
    expect(config.constructor).toBeUndefined();
    expect(loadConfigSync(schema, { env: { toString: '8080' } }).toString).toBe(8080);
  });

  it('reads a mounted config tree, including Kubernetes-style symlinks', () => {
    const tree = join(dir, 'tree');
    mkdirSync(join(tree, '..data'), { recursive: true });
    const key = strongKey();
    writeFileSync(join(tree, '..data', 'JWT_KEY'), `${key}\n`);
    symlinkSync(join('..data', 'JWT_KEY'), join(tree, 'JWT_KEY'));
    writeFileSync(join(tree, 'NAME'), 'billing');
    const config = loadConfigSync(schema, { env: {}, configTree: tree });
    expect(config.JWT_KEY.reveal()).toBe(key);
    expect(config.NAME).toBe('billing');
    expect(provenanceOf(config).map((p) => p.source)).toEqual(['default', 'tree', 'tree']);
    const error = errorOf(() => loadConfigSync(schema, { env: { NAME: 'x' }, configTree: tree }));
    expect(error.issues).toEqual([expect.objectContaining({ key: 'NAME', code: 'ambiguous-source' })]);
  });

  describe('a Kubernetes config tree swapped while it is read (kubelet AtomicWriter)', () => {
    // kubelet writes a new ..<timestamp> directory, points ..data_tmp at it, renames ..data_tmp over
    // ..data, then removes the old directory. The env getter runs that swap between the reads of
    // USER and PASSWORD: deterministic, not a race.
    function mountTree(): { tree: string; swap: (removeOld: boolean) => void } {
      const tree = join(dir, 'tree');
      const generation = (name: string, user: string, password: string): void => {
        mkdirSync(join(tree, name), { recursive: true });
        writeFileSync(join(tree, name, 'USER'), user);
        writeFileSync(join(tree, name, 'PASSWORD'), password);
      };
      generation('..2026_01_01_00_00_00.1', 'alice', 'pw-of-alice');
      symlinkSync('..2026_01_01_00_00_00.1', join(tree, '..data'));
      for (const key of ['USER', 'PASSWORD']) symlinkSync(join('..data', key), join(tree, key));
      return {
        tree,
        swap: (removeOld) => {
          generation('..2026_01_01_00_01_00.2', 'bob', 'pw-of-bob');
          symlinkSync('..2026_01_01_00_01_00.2', join(tree, '..data_tmp'));
          renameSync(join(tree, '..data_tmp'), join(tree, '..data'));
          if (removeOld) rmSync(join(tree, '..2026_01_01_00_00_00.1'), { recursive: true });
        },
      };
    }
    const pairSchema = { USER: string(), PASSWORD: string() };
    function swappingEnv(swap: () => void): Record<string, string | undefined> {
      let swapped = false;
      const env: Record<string, string | undefined> = {};
      Object.defineProperty(env, 'PASSWORD', {
        enumerable: true,
        get: () => {
          if (!swapped) {
            swapped = true;
            swap();
          }
          return undefined;
        },
      });
      return env;
    }

    it('reads every key from the generation ..data pointed to when loading began', () => {
      const { tree, swap } = mountTree();
      const config = loadConfigSync(pairSchema, { env: swappingEnv(() => swap(false)), configTree: tree });
      expect({ ...config }).toEqual({ USER: 'alice', PASSWORD: 'pw-of-alice' });
    });

    it('reads the whole tree again, from the new generation, when the old one is removed mid-load', () => {
      const { tree, swap } = mountTree();
      const config = loadConfigSync(pairSchema, { env: swappingEnv(() => swap(true)), configTree: tree });
      expect({ ...config }).toEqual({ USER: 'bob', PASSWORD: 'pw-of-bob' });
    });
  });

  it('refuses secrets from plain environment variables in production unless the policy allows it', () => {
    const env = { NAME: 'api', JWT_KEY: strongKey() };
    expect(errorOf(() => loadConfigSync(schema, { env })).issues).toEqual([
      expect.objectContaining({ key: 'JWT_KEY', code: 'source-not-allowed' }),
    ]);
    expect(loadConfigSync(schema, { env, secretSources: ['env', 'file'] }).JWT_KEY).toBeInstanceOf(Secret);
    const perKey = { ...schema, JWT_KEY: secret({ kind: 'jwt-hs256', sources: ['env'] }) };
    expect(loadConfigSync(perKey, { env }).JWT_KEY).toBeInstanceOf(Secret);
    const fileOnly = { ...schema, JWT_KEY: secret({ sources: ['vault'] }) };
    expect(
      errorOf(() => loadConfigSync(fileOnly, { env: { NAME: 'api', JWT_KEY_FILE: file('j', strongKey()) } })).issues[0]
        ?.code,
    ).toBe('source-not-allowed');
  });

  it('rejects weak and demo secrets in production, whatever the source', () => {
    for (const weak of ['keyboard cat', 'your-256-bit-secret', 'changeme', 'dev-secret-change-me-please-0123456789']) {
      const error = errorOf(() => loadConfigSync(schema, { env: { NAME: 'api', JWT_KEY_FILE: file('w', weak) } }));
      expect(error.issues[0]?.code).toBe('weak-secret');
      expect(error.issues[0]?.rules?.length).toBeGreaterThan(0);
    }
  });

  it('refuses a weak secret hidden by lookalike letters or invisible characters, without quoting it', () => {
    const disguised = [
      'my-\u0455\u0435\u0441r\u0435t-Zx81kfP0qL2mVb7TnR4wQ9', // Cyrillic ѕ, е, с
      '\uff43\uff48\uff41\uff4e\uff47\uff45\uff4d\uff45-\uff43\uff48\uff41\uff4e\uff47\uff45\uff4d\uff45-0123', // fullwidth
      'pass\u200bword-Zx81kfP0qL2mVb7TnR4wQ9', // zero-width space
    ];
    for (const weak of disguised) {
      const error = errorOf(() => loadConfigSync(schema, { env: { NAME: 'api', JWT_KEY_FILE: file('w', weak) } }));
      expect(error.issues[0]?.code).toBe('weak-secret');
      const output = `${error.message}${JSON.stringify(error.issues)}`;
      for (const piece of [weak, weak.normalize('NFKC'), weak.replace(/[^\p{ASCII}]/gu, '')]) {
        for (let i = 0; i + 8 <= piece.length; i++) expect(output).not.toContain(piece.slice(i, i + 8));
      }
    }
  });

  it('refuses demo secrets and dev keys stored hex, base64 or base64url with encoding declared', () => {
    const supabase = Buffer.from('super-secret-jwt-token-with-at-least-32-characters-long').toString('base64');
    const dev = Buffer.from(generateDevSecret(32)).toString('base64url');
    const error = errorOf(() =>
      loadConfigSync(
        {
          JWT_KEY: secret({ kind: 'jwt-hs256', encoding: 'base64' }),
          DEV_KEY: secret({ encoding: 'base64url' }),
        },
        { env: { JWT_KEY_FILE: file('jwt', supabase), DEV_KEY_FILE: file('dev', dev) } },
      ),
    );
    expect(error.issues).toEqual([
      expect.objectContaining({ key: 'JWT_KEY', code: 'weak-secret', rules: expect.arrayContaining(['known-demo']) }),
      expect.objectContaining({ key: 'DEV_KEY', code: 'weak-secret', rules: expect.arrayContaining(['dev-marker']) }),
    ]);
    for (const text of [supabase, dev, 'super-secret', 'rampart-dev-'])
      expect(error.message).not.toContain(text.slice(0, 12));
  });

  it('behaves as production for NODE_ENV=staging and unset: no dev profile, weak secrets refused', () => {
    const profile = file('.env.development', 'NAME=dev\nJWT_KEY=keyboard cat\n');
    for (const env of [{}, { NODE_ENV: 'staging' }, { NODE_ENV: 'prod' }, { APP_ENV: 'develop' }]) {
      const error = errorOf(() => loadConfigSync(schema, { env, devProfile: profile }));
      expect(error.issues.map((i) => i.code)).toEqual(['missing', 'missing']);
      expect(error.message).toMatch(/production profile/);
    }
  });

  it('loads a generated dev profile only under development or test', () => {
    const profile = file('.env.development', generateDevProfile(schema).replace('# NAME=', 'NAME=dev-api #'));
    const config = loadConfigSync(schema, { env: { NODE_ENV: 'development' }, devProfile: profile });
    expect(config.JWT_KEY.reveal()).toMatch(/^rampart-dev-/);
    expect(provenanceOf(config).find((p) => p.key === 'JWT_KEY')).toMatchObject({
      source: 'dev-profile',
      detail: profile,
    });
    // The same dev-marked value, copied into production, is refused.
    const leaked = file('leaked', config.JWT_KEY.reveal());
    const error = errorOf(() => loadConfigSync(schema, { env: { NAME: 'api', JWT_KEY_FILE: leaked } }));
    expect(error.issues[0]?.rules).toEqual(['dev-marker']);
  });

  it('lets real sources win over the dev profile and fails clearly when the profile is missing', () => {
    const profile = file('.env.test', 'NAME=from-profile\n');
    const config = loadConfigSync(
      { NAME: string() },
      { env: { NODE_ENV: 'test', NAME: 'from-env' }, devProfile: profile },
    );
    expect(config.NAME).toBe('from-env');
    expect(() =>
      loadConfigSync({ NAME: string() }, { env: { NODE_ENV: 'test' }, devProfile: join(dir, 'nope') }),
    ).toThrow(expect.objectContaining({ code: 'ERR_CONFIG_OPTIONS', message: expect.stringMatching(/gen-dev/) }));
  });

  it('refuses a dev profile that is not UTF-8 text instead of loading altered values', () => {
    const profile = join(dir, '.env.test');
    writeFileSync(profile, Buffer.concat([Buffer.from('NAME=caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
    expect(() => loadConfigSync({ NAME: string() }, { env: { NODE_ENV: 'test' }, devProfile: profile })).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG_OPTIONS',
        message: expect.stringMatching(/^(?![\s\S]*caf)[\s\S]*not UTF-8 text.*gen-dev/),
      }),
    );
  });

  it('treats an empty environment variable as unset', () => {
    expect(errorOf(() => loadConfigSync({ NAME: string() }, { env: { NAME: '' } })).issues[0]?.code).toBe('missing');
    expect(loadConfigSync({ N: number({ default: 2 }) }, { env: { N: '' } }).N).toBe(2);
  });

  it('validates options, listing every problem', () => {
    expect(() =>
      loadConfigSync(
        { 'bad-name': string() } as never,
        {
          fileAllowlist: ['relative/dir'],
          vaultTimeoutMs: 0,
          configTree: join(dir, 'no-such-tree'),
          bogus: 1,
        } as never,
      ),
    ).toThrow(
      expect.objectContaining({
        code: 'ERR_CONFIG_OPTIONS',
        message: expect.stringMatching(/bogus[\s\S]*bad-name[\s\S]*absolute[\s\S]*vaultTimeoutMs[\s\S]*configTree/),
      }),
    );
  });

  it('refuses a vaultTimeoutMs a timer cannot hold instead of failing every Vault read at once', () => {
    for (const vaultTimeoutMs of [Number.POSITIVE_INFINITY, 2 ** 31, 1.5, Number.NaN, -1, '500']) {
      expect(() => loadConfigSync({ NAME: string() }, { env: { NAME: 'x' }, vaultTimeoutMs } as never)).toThrow(
        expect.objectContaining({
          code: 'ERR_CONFIG_OPTIONS',
          message: expect.stringMatching(/vaultTimeoutMs must be an integer from 1 to 2147483647/),
        }),
      );
    }
    for (const vaultTimeoutMs of [1, 2 ** 31 - 1]) {
      expect(loadConfigSync({ NAME: string() }, { env: { NAME: 'x' }, vaultTimeoutMs }).NAME).toBe('x');
    }
  });

  it('runs Standard Schema validators and lets them supply defaults', () => {
    const zschema = {
      MODE: z.enum(['fast', 'safe']).default('safe'),
      WORKERS: z.coerce.number().int().min(1),
    };
    expect(loadConfigSync(zschema, { env: { WORKERS: '4' } })).toEqual({ MODE: 'safe', WORKERS: 4 });
    const optional = loadConfigSync({ HINT: z.string().optional() }, { env: {} });
    expect(optional.HINT).toBeUndefined();
    expect(provenanceOf(optional)[0]?.source).toBe('unset');
    const error = errorOf(() => loadConfigSync(zschema, { env: { MODE: 'turbo' } }));
    expect(error.issues.map((i) => [i.key, i.code])).toEqual([
      ['MODE', 'invalid'],
      ['WORKERS', 'missing'],
    ]);
  });

  it('refuses asynchronous validators and Vault references in the sync variant', async () => {
    const asyncSchema = { N: z.string().refine(async () => true) };
    expect(() => loadConfigSync(asyncSchema, { env: { N: 'x' } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_ASYNC_REQUIRED' }),
    );
    expect(await loadConfig(asyncSchema, { env: { N: 'x' } })).toEqual({ N: 'x' });
    expect(() => loadConfigSync({ K: secret() }, { env: { K: 'vault:secret/app#k' } })).toThrow(
      expect.objectContaining({ code: 'ERR_CONFIG_ASYNC_REQUIRED' }),
    );
  });
});

describe('checkConfig', () => {
  it('reports problems and provenance without throwing and without values', async () => {
    const key = strongKey();
    const report = await checkConfig(
      { URL: url(), K: secret(), P: port() },
      { env: { URL: 'nope', K_FILE: file('k', key), P: '80' } },
    );
    expect(report.ok).toBe(false);
    expect(report.issues).toEqual([expect.objectContaining({ key: 'URL', code: 'invalid' })]);
    expect(report.provenance.map((p) => p.source)).toEqual(['env', 'file', 'env']);
    expect(JSON.stringify(report)).not.toContain(key);
  });

  it('reports a Vault reference without a client', async () => {
    const report = await checkConfig({ K: secret() }, { env: { K: 'vault:secret/app#k' } });
    expect(report.issues).toEqual([expect.objectContaining({ key: 'K', code: 'vault-no-client' })]);
    expect(await rejectionOf(loadConfig({ K: secret() }, { env: { K: 'vault:nope' } }))).toMatchObject({
      issues: [expect.objectContaining({ code: 'vault-ref-malformed' })],
    });
  });
});
