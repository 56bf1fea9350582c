import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../src/cli.ts';
import { PreflightError } from '../src/errors.ts';
import { scan } from '../src/scan.ts';
import { envFallback } from './fixtures/fallback-forms.ts';

const require = createRequire(import.meta.url);
// Both are CommonJS with a `default` export; require keeps their types straight under NodeNext.
const Ajv = require('ajv-draft-04') as typeof import('ajv-draft-04').default;
const addFormats = require('ajv-formats') as typeof import('ajv-formats').default;
const SCHEMA = JSON.parse(
  readFileSync(
    join(dirname(require.resolve('@microsoft/jest-sarif/package.json')), 'lib/schemas/sarif-2.1.0-rtm.5.json'),
    'utf8',
  ),
) as object;

let root: string;
const write = (file: string, text: string): void => {
  mkdirSync(dirname(join(root, file)), { recursive: true });
  writeFileSync(join(root, file), text);
};
const run = async (...args: string[]): Promise<{ code: number; out: string; err: string }> => {
  let out = '';
  let err = '';
  const code = await main(args, { stdout: (t) => (out += t), stderr: (t) => (err += t), env: {}, color: false });
  return { code, out, err };
};

const SECRET = 'Qz7hV2kLmN9pR4tW';

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'preflight-cli-'));
  write(
    'src/config.ts',
    `${envFallback('jwt', 'JWT_SECRET', SECRET)}${envFallback('session', 'SESSION_SECRET', 'keyboard cat', '??')}`,
  );
  write('Dockerfile', 'FROM node:24\nCOPY . .\n');
  write('.env', `JWT_SECRET=${SECRET}\n`);
  write('seeds/001.sql', `INSERT INTO users (email, password) VALUES ('a@example.test', '${SECRET}');\n`);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

describe('rampart-preflight scan', () => {
  it('exits 1 with findings and 0 on a clean tree', async () => {
    expect((await run('scan', root)).code).toBe(1);
    const clean = mkdtempSync(join(tmpdir(), 'preflight-clean-'));
    try {
      writeFileSync(join(clean, 'index.ts'), "export const port = process.env.PORT || '3000';\n");
      expect(await run('scan', clean)).toMatchObject({ code: 0 });
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
  });

  it('writes SARIF 2.1.0 that validates against the official schema', async () => {
    const { out } = await run('scan', root, '--format', 'sarif');
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(SCHEMA);
    const log = JSON.parse(out) as {
      runs: Array<{ results: Array<{ ruleId: string; partialFingerprints: Record<string, string> }> }>;
    };
    expect(validate(log), JSON.stringify(validate.errors)).toBe(true);
    const rules = log.runs[0]!.results.map((r) => r.ruleId).sort();
    expect(rules).toEqual([
      'dotenv-in-build-context',
      'env-fallback-literal',
      'env-fallback-literal',
      'seed-plaintext-secret',
    ]);
    expect(
      log.runs[0]!.results.every((r) => /^[0-9a-f]{32}$/.test(r.partialFingerprints['rampartPreflight/v1'] ?? '')),
    ).toBe(true);
  });

  it('never prints a scanned secret in any format', async () => {
    for (const format of ['pretty', 'json', 'sarif']) {
      const { out } = await run('scan', root, '--format', format);
      expect(out, format).not.toContain(SECRET);
      expect(out, format).not.toContain('keyboard cat');
    }
  });

  it('puts the public demo value first, as the most severe finding', async () => {
    const { out } = await run('scan', root, '--format', 'json');
    const report = JSON.parse(out) as { findings: Array<{ severity: string; message: string }> };
    expect(report.findings[0]).toMatchObject({
      severity: 'critical',
      message: expect.stringContaining('SESSION_SECRET'),
    });
  });

  it('accepts a baseline and fails again only on new findings', async () => {
    const baseline = join(root, 'preflight-baseline.json');
    expect((await run('scan', root, '--write-baseline', baseline)).code).toBe(0);
    expect(readFileSync(baseline, 'utf8')).not.toContain(SECRET);
    expect(await run('scan', root, '--baseline', baseline)).toMatchObject({ code: 0 });
    write('src/more.ts', envFallback('k', 'API_KEY', 'another-dev-key'));
    const again = await run('scan', root, '--baseline', baseline, '--format', 'json');
    expect(again.code).toBe(1);
    expect((JSON.parse(again.out) as { findings: Array<{ file: string }> }).findings.map((f) => f.file)).toEqual([
      'src/more.ts',
    ]);
  });

  it('runs only the rules asked for and skips excluded paths', async () => {
    const { out } = await run('scan', root, '--rule', 'seed-plaintext-secret', '--format', 'json');
    expect((JSON.parse(out) as { findings: Array<{ ruleId: string }> }).findings.map((f) => f.ruleId)).toEqual([
      'seed-plaintext-secret',
    ]);
    const excluded = await run('scan', root, '--exclude', 'src', '--exclude', 'seeds', '--exclude', 'Dockerfile');
    expect(excluded.code).toBe(0);
  });

  it('exits 2 with a typed error naming every bad option at once, without echoing file content', async () => {
    const bad = await run('scan', join(root, 'missing'), '--rule', 'no-such-rule');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain('ERR_PREFLIGHT_INVALID_OPTION');
    expect(bad.err).toContain('does not exist');
    expect(bad.err).toContain('unknown rule "no-such-rule"');
    write('baseline.json', `{"secret":"${SECRET}"}`);
    const baseline = await run('scan', root, '--baseline', join(root, 'baseline.json'));
    expect(baseline).toMatchObject({ code: 2, err: expect.stringContaining('ERR_PREFLIGHT_BASELINE_INVALID') });
    expect(baseline.err).not.toContain(SECRET);
    expect((await run('scan', root, '--format', 'xml')).code).toBe(2);
    expect((await run('frobnicate')).code).toBe(2);
  });

  it('reports an invalid .dockerignore by line without quoting it', async () => {
    write('.dockerignore', `${SECRET}[\n`);
    const { out } = await run('scan', root, '--format', 'json', '--rule', 'dotenv-in-build-context');
    expect(out).toContain('line 1');
    expect(out).not.toContain(SECRET);
  });
});

describe('scan', () => {
  it('lists files it skipped for size as not covered, and fails the scan until they are excluded', async () => {
    const result = await scan({ root, maxFileBytes: 40 });
    expect(result.skipped).toContain('src/config.ts');
    expect(result.findings.filter((f) => f.ruleId === 'not-scanned').map((f) => f.file)).toContain('src/config.ts');
    const { formatPretty, formatSarif } = await import('../src/report.ts');
    expect(formatPretty(result)).toContain('not scanned (over the size limit, no coverage): ');
    const sarif = JSON.parse(formatSarif(result)) as {
      runs: Array<{
        invocations: Array<{
          toolExecutionNotifications: Array<{
            locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }>;
          }>;
        }>;
      }>;
    };
    const notified = sarif.runs[0]!.invocations[0]!.toolExecutionNotifications.map(
      (n) => n.locations[0]!.physicalLocation.artifactLocation.uri,
    );
    expect(notified).toContain('src/config.ts');
    const ajv = new Ajv({ allErrors: true, strict: false, unicodeRegExp: false });
    addFormats(ajv);
    const validate = ajv.compile(SCHEMA);
    expect(validate(sarif), JSON.stringify(validate.errors)).toBe(true);

    // A small clean file passes; the same file over the limit fails; excluded, it passes again.
    const clean = mkdtempSync(join(tmpdir(), 'preflight-size-'));
    try {
      writeFileSync(join(clean, 'big.ts'), `export const port = process.env.PORT || '3000';\n${'// x\n'.repeat(20)}`);
      expect((await scan({ root: clean })).findings).toEqual([]);
      const large = await scan({ root: clean, maxFileBytes: 40 });
      expect(large.findings.map((f) => f.ruleId)).toEqual(['not-scanned']);
      expect((await scan({ root: clean, maxFileBytes: 40, exclude: ['big.ts'] })).findings).toEqual([]);
    } finally {
      rmSync(clean, { recursive: true, force: true });
    }
  });

  it('leaves lockfiles out of the size refusal, and skips large minified or vendored files with a notice', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preflight-vendor-'));
    try {
      const bulk = `export const port = process.env.PORT || '3000';\n${'// x\n'.repeat(20)}`;
      writeFileSync(join(dir, 'pnpm-lock.yaml'), `lockfileVersion: '9.0'\n${'# x\n'.repeat(40)}`);
      writeFileSync(join(dir, 'package-lock.json'), `{${' '.repeat(200)}}`);
      writeFileSync(join(dir, 'app.min.js'), bulk);
      writeFileSync(join(dir, 'app.bundle.mjs'), bulk);
      mkdirSync(join(dir, 'vendor'));
      writeFileSync(join(dir, 'vendor', 'lib.js'), bulk);
      const result = await scan({ root: dir, maxFileBytes: 40 });
      expect(result.findings).toEqual([]);
      expect([...result.skipped].sort()).toEqual(['app.bundle.mjs', 'app.min.js', 'vendor/lib.js']);
      const { formatSarif } = await import('../src/report.ts');
      const sarif = JSON.parse(formatSarif(result)) as {
        runs: Array<{ invocations: Array<{ toolExecutionNotifications: Array<{ level: string }> }> }>;
      };
      const levels = sarif.runs[0]!.invocations[0]!.toolExecutionNotifications.map((n) => n.level);
      expect(levels).toEqual(['warning', 'warning', 'warning']);

      // The nearest negatives: an ordinary source file over the limit, and a YAML file that is no lockfile.
      writeFileSync(join(dir, 'app.js'), bulk);
      writeFileSync(join(dir, 'pnpm-lock.backup.yaml'), `a: b\n${'# x\n'.repeat(40)}`);
      const failing = await scan({ root: dir, maxFileBytes: 40 });
      expect(failing.findings.map((f) => `${f.ruleId} ${f.file}`).sort()).toEqual([
        'not-scanned app.js',
        'not-scanned pnpm-lock.backup.yaml',
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a file whose analysis throws as not scanned and goes on with the others', async () => {
    const { envFallbackLiteral } = await import('../src/rules/env-fallback-literal.ts');
    const original = envFallbackLiteral.check;
    vi.spyOn(envFallbackLiteral, 'check').mockImplementation((context) => {
      if (context.file === 'src/config.ts') throw new RangeError(`Maximum call stack size exceeded ${SECRET}`);
      return original(context);
    });
    write('src/other.ts', envFallback('k', 'API_KEY', 'another-dev-key'));
    const result = await scan({ root, rules: ['env-fallback-literal'] });
    expect(result.findings.map((f) => `${f.ruleId} ${f.file}`).sort()).toEqual([
      'env-fallback-literal src/other.ts',
      'not-scanned src/config.ts',
    ]);
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(result.findings.find((f) => f.ruleId === 'not-scanned')?.message).toContain('RangeError');
  });

  it("reads the package version for deprecations from the nearest package.json, whatever that file's size", async () => {
    const pkg = join(root, 'pkg');
    mkdirSync(join(pkg, 'src'), { recursive: true });
    writeFileSync(
      join(pkg, 'package.json'),
      JSON.stringify({ name: 'p', version: '2.1.0', description: 'x'.repeat(300) }),
    );
    writeFileSync(join(pkg, 'src/a.ts'), '/** @deprecated Use b(). Removal: v2.0.0 */\nexport function a(): void {}\n');
    const result = await scan({ root: pkg, rules: ['deprecated-without-removal'], maxFileBytes: 200 });
    expect(result.findings.map((f) => f.file)).toEqual(['src/a.ts']);
  });

  it('rejects invalid options with PreflightError listing every problem', async () => {
    await expect(scan({ root: join(root, 'nope'), audit: { registry: 'ftp://x' } })).rejects.toSatisfy(
      (error: unknown) =>
        error instanceof PreflightError &&
        error.code === 'ERR_PREFLIGHT_INVALID_OPTION' &&
        error.message.includes('root:') &&
        error.message.includes('audit.registry'),
    );
  });
});

describe('rampart-preflight (the bin)', () => {
  it('runs as a process and exits with the scan result', () => {
    const bin = new URL('../src/bin.ts', import.meta.url).pathname;
    const result = spawnSync(process.execPath, [bin, 'scan', root, '--format', 'json'], { encoding: 'utf8' });
    expect(result.status).toBe(1);
    expect((JSON.parse(result.stdout) as { summary: { findings: number } }).summary.findings).toBe(4);
    expect(result.stdout).not.toContain(SECRET);
  });
});

describe('rampart-preflight rules', () => {
  it('lists every rule', async () => {
    const { out, code } = await run('rules');
    expect(code).toBe(0);
    for (const id of ['env-fallback-literal', 'dotenv-in-build-context', 'audit-coverage']) expect(out).toContain(id);
  });
});
