import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
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

  it('never prints line 1 of a file that does not parse, in any format', async () => {
    const value = 'p@ss-s3cret-Qz7hV2kL';
    write('src/env.js', `DB_PASSWORD=${value}\nAPI_KEY=${value}\n`);
    for (const format of ['pretty', 'json', 'sarif']) {
      const { out, code } = await run('scan', root, '--format', format);
      expect(code).toBe(1);
      expect(out, format).toContain('parse-error');
      expect(out, format).not.toContain('s3cret');
    }
  });

  it('refuses a report or baseline path it cannot write with exit 2, and creates a missing directory', async () => {
    write('a-file', 'x');
    for (const flag of ['--output', '--write-baseline']) {
      const bad = await run('scan', root, flag, join(root, 'a-file', 'report.json'));
      expect(bad.code, flag).toBe(2);
      expect(bad.err, flag).toContain('ERR_PREFLIGHT_INVALID_OPTION');
      expect(bad.err, flag).toContain(`${flag}: cannot create the directory of`);
      expect(bad.err, flag).not.toContain('    at ');
      const dir = await run('scan', root, flag, root);
      expect(dir, flag).toMatchObject({ code: 2, err: expect.stringContaining(`${flag}: ${root} is a directory`) });
    }
    const report = join(root, 'reports', 'nested', 'x.sarif');
    expect((await run('scan', root, '--format', 'sarif', '--output', report)).code).toBe(1);
    expect(JSON.parse(readFileSync(report, 'utf8'))).toMatchObject({ version: '2.1.0' });
    const baseline = join(root, 'baselines', 'b.json');
    expect((await run('scan', root, '--write-baseline', baseline)).code).toBe(0);
    expect(readFileSync(baseline, 'utf8')).not.toContain(SECRET);
  });

  it('refuses with exit 2 a report path below a directory that cannot be created, instead of hanging', () => {
    // In a child process: a mkdir that never returns would block this worker's event loop, and
    // with it every timeout of the test.
    const bin = new URL('../src/bin.ts', import.meta.url).pathname;
    const paths = [join(root, 'src', 'config.ts', 'deeper', 'report.json')];
    // /proc rejects new directories; Node's recursive mkdir used to loop forever on it.
    if (process.platform === 'linux') paths.push('/proc/rampart-preflight-nope/x.json');
    for (const path of paths) {
      for (const flag of ['--output', '--write-baseline']) {
        const result = spawnSync(process.execPath, [bin, 'scan', root, flag, path], {
          encoding: 'utf8',
          timeout: 20_000,
        });
        expect(result.signal, `${flag} ${path}`).toBeNull();
        expect(result.status, `${flag} ${path}`).toBe(2);
        expect(result.stderr, `${flag} ${path}`).toContain(`ERR_PREFLIGHT_INVALID_OPTION`);
        expect(result.stderr, `${flag} ${path}`).toContain(`${flag}: cannot create the directory of ${path}`);
        expect(result.stdout, `${flag} ${path}`).toBe('');
      }
    }
  });

  it('refuses more than one directory instead of scanning only the first', async () => {
    const other = mkdtempSync(join(tmpdir(), 'preflight-second-'));
    try {
      const both = await run('scan', other, root);
      expect(both).toMatchObject({ code: 2, out: '' });
      expect(both.err).toContain('scan takes one directory, got 2');
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('takes --max-file-bytes, and refuses a value that is not a positive whole number', async () => {
    const small = await run('scan', root, '--max-file-bytes', '40', '--format', 'json');
    const report = JSON.parse(small.out) as { summary: { skipped: string[] }; findings: Array<{ message: string }> };
    expect(report.summary.skipped).toContain('src/config.ts');
    expect(report.findings.some((f) => f.message.includes('--max-file-bytes'))).toBe(true);
    for (const bad of ['0', '-1', '1.5', 'abc', '1e3', '']) {
      const result = await run('scan', root, `--max-file-bytes=${bad}`);
      expect(result.code, bad).toBe(2);
      expect(result.err, bad).toContain('--max-file-bytes: must be a positive whole number');
    }
    const both = await run('scan', root, root, '--max-file-bytes', 'x');
    expect(both.err).toContain('scan takes one directory');
    expect(both.err).toContain('--max-file-bytes');
  });

  it('reports a file too deeply nested for the parser as a parse error instead of crashing', () => {
    // Generated code of 8,000 `else if` branches crashed oxc-parser (SIGSEGV) on the main thread.
    const branches = Array.from({ length: 8000 }, (_, i) => ` else if (a === ${i + 1}) { return ${i + 1}; }`);
    write(
      'src/generated.js',
      `export function f(a) {\n  if (a === 0) { return 0; }${branches.join('')}\n  return -1;\n}\n`,
    );
    const bin = new URL('../src/bin.ts', import.meta.url).pathname;
    const result = spawnSync(
      process.execPath,
      [bin, 'scan', root, '--format', 'json', '--rule', 'env-fallback-literal'],
      {
        encoding: 'utf8',
      },
    );
    expect(result.signal).toBe(null);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as { findings: Array<{ ruleId: string; file: string; message: string }> };
    expect(report.findings.find((f) => f.file === 'src/generated.js')).toMatchObject({
      ruleId: 'parse-error',
      message: expect.stringContaining('nest deeper than'),
    });
  });

  it('exits 3 on an unexpected failure, naming the error without its text', async () => {
    let err = '';
    const code = await main(['scan', root], {
      stdout: () => {
        throw new RangeError(`cannot write ${SECRET}`);
      },
      stderr: (t) => (err += t),
      env: {},
      color: false,
    });
    expect(code).toBe(3);
    expect(err).toContain('RangeError');
    expect(err).not.toContain(SECRET);
  });

  it('reports an invalid .dockerignore by line without quoting it', async () => {
    write('.dockerignore', `${SECRET}[\n`);
    const { out } = await run('scan', root, '--format', 'json', '--rule', 'dotenv-in-build-context');
    expect(out).toContain('line 1');
    expect(out).not.toContain(SECRET);
  });
});

describe('scan with a baseline', () => {
  it('never hides a file that was not scanned, even when the baseline lists it', async () => {
    const file = join(root, 'baseline.json');
    const first = await scan({ root, maxFileBytes: 40 });
    expect(first.findings.some((f) => f.ruleId === 'not-scanned')).toBe(true);
    writeFileSync(file, JSON.stringify({ version: 1, findings: first.findings }));
    const again = await scan({ root, maxFileBytes: 40, baseline: file });
    expect(again.findings.filter((f) => f.ruleId === 'not-scanned').map((f) => f.file)).toContain('src/config.ts');
    expect(again.findings.filter((f) => f.ruleId !== 'not-scanned')).toEqual([]);
  });

  it('reports a .env copied into the image although the baseline accepted it being sent to the builder', async () => {
    const file = join(root, 'baseline.json');
    write('Dockerfile', 'FROM node:24\nCOPY package.json ./\n');
    const sent = await scan({ root, rules: ['dotenv-in-build-context'] });
    expect(sent.findings.map((f) => f.message)).toEqual([expect.stringContaining('sent to the builder')]);
    writeFileSync(file, JSON.stringify({ version: 1, findings: sent.findings }));
    write('Dockerfile', 'FROM node:24\nCOPY . .\n');
    const copied = await scan({ root, rules: ['dotenv-in-build-context'], baseline: file });
    expect(copied.findings.map((f) => f.message)).toEqual([expect.stringContaining('copies it into the image')]);
  });
});

describe('scan', () => {
  it('keeps a root-level entry named __proto__ in skippedReasons', async () => {
    symlinkSync(join(root, 'src'), join(root, '__proto__'));
    const result = await scan({ root, rules: ['todo-auth'] });
    expect(Object.keys(result.skippedReasons)).toEqual(['__proto__']);
    expect(Object.entries(result.skippedReasons)).toEqual([['__proto__', 'symlink']]);
  });

  it('lists a file whose name is not valid UTF-8 as unreadable instead of crashing, and still fails the scan', async () => {
    writeFileSync(Buffer.concat([Buffer.from(`${root}/src/`), Buffer.from([0xff]), Buffer.from('.ts')]), 'x\n');
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0xfe])]), 'x\n');
    const result = await scan({ root });
    expect(result.skipped).toEqual(['src/\uFFFD.ts', '\uFFFD']);
    expect(result.skippedReasons).toEqual({ 'src/\uFFFD.ts': 'unreadable', '\uFFFD': 'unreadable' });
    expect(result.findings.filter((f) => f.ruleId === 'not-scanned').map((f) => f.file)).toEqual(['src/\uFFFD.ts']);
    expect(result.filesScanned).toBeGreaterThan(0);
    const cli = await run('scan', root);
    expect(cli.code).toBe(1);
    expect(cli.out).toContain('not scanned (unreadable');
  });

  it('fails the scan for a directory it cannot list, and for unreadable .env files and directories in build output', async () => {
    const path = (...parts: Array<string | number>): Buffer =>
      Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : Buffer.from([p]))));
    mkdirSync(path(`${root}/lib`, 0xff));
    writeFileSync(path(`${root}/lib`, 0xff, '/config.ts'), 'x\n');
    mkdirSync(`${root}/dist`);
    writeFileSync(path(`${root}/dist/.env`, 0xff), 'X=1\n');
    mkdirSync(path(`${root}/dist/sub`, 0xff));
    writeFileSync(path(`${root}/dist/sub`, 0xff, '/.env'), 'X=1\n');
    // Not reported: another unreadable file in build output, and anything under node_modules.
    writeFileSync(path(`${root}/dist/bundle`, 0xff, '.js'), 'x\n');
    mkdirSync(path(`${root}/node_modules/pkg`, 0xff), { recursive: true });
    const result = await scan({ root });
    expect(
      result.findings
        .filter((f) => f.ruleId === 'not-scanned')
        .map((f) => f.file)
        .sort(),
    ).toEqual(['dist/.env\uFFFD', 'dist/sub\uFFFD', 'lib\uFFFD']);
    expect(result.skippedReasons['lib\uFFFD']).toBe('unreadable');
    const cli = await run('scan', root);
    expect(cli.code).toBe(1);
  });

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

  it('lists symbolic links in skipped, with the reason, instead of dropping them silently', async () => {
    const { symlinkSync } = await import('node:fs');
    symlinkSync(join(root, 'src', 'config.ts'), join(root, 'linked.ts'));
    symlinkSync(join(root, 'src'), join(root, 'linked-dir'));
    const result = await scan({ root });
    expect(result.skipped).toEqual(expect.arrayContaining(['linked.ts', 'linked-dir']));
    expect(result.skippedReasons).toMatchObject({ 'linked.ts': 'symlink', 'linked-dir': 'symlink' });
    expect(result.findings.some((f) => f.file.startsWith('linked'))).toBe(false);
    const { formatPretty, formatSarif } = await import('../src/report.ts');
    expect(formatPretty(result)).toContain('not scanned (symbolic links, not followed): linked-dir, linked.ts');
    expect(formatPretty(result)).not.toContain('over the size limit');
    expect(formatSarif(result)).toContain('Not scanned: a symbolic link');
  });

  it('gives lines ended by a lone carriage return their own line numbers', async () => {
    write('src/config.ts', `// one\r// two\r${envFallback('jwt', 'JWT_SECRET', SECRET)}`);
    const result = await scan({ root, rules: ['env-fallback-literal'] });
    expect(result.findings.map((f) => f.start.line)).toEqual([3]);
    expect(result.findings[0]?.snippet).toContain('JWT_SECRET');
    expect(result.findings[0]?.snippet).not.toContain('// one');
  });

  it('rejects invalid options with PreflightError listing every problem', async () => {
    await expect(scan({ root: join(root, 'nope'), audit: { registry: 'ftp://x' } })).rejects.toSatisfy(
      (error: unknown) =>
        error instanceof PreflightError &&
        error.code === 'ERR_PREFLIGHT_INVALID_OPTION' &&
        error.message.includes('root:') &&
        error.message.includes('audit.registry'),
    );
    for (const maxFileBytes of [0, -1, 1.5, Number.NaN]) {
      await expect(scan({ root, maxFileBytes })).rejects.toThrow('maxFileBytes: must be a positive integer');
    }
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
