// Reads that fail (permissions, a file removed mid-scan) are injected through node:fs: the tests may
// run as root, where chmod 000 does not stop a read.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

const failing = new Set<string>();
const denied = (path: unknown): Error =>
  Object.assign(new Error(`EACCES: permission denied, open '${String(path)}'`), { code: 'EACCES' });

vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    readFileSync: ((path: unknown, ...rest: unknown[]) => {
      if (failing.has(String(path))) throw denied(path);
      return (fs.readFileSync as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readFileSync,
    readdirSync: ((path: unknown, ...rest: unknown[]) => {
      if (failing.has(String(path))) throw denied(path);
      return (fs.readdirSync as (...a: unknown[]) => unknown)(path, ...rest);
    }) as typeof fs.readdirSync,
  };
});

const { scan } = await import('../src/scan.ts');
const { main } = await import('../src/cli.ts');
const { PreflightError } = await import('../src/errors.ts');

let root = '';
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'preflight-unreadable-'));
});
afterEach(() => {
  failing.clear();
  rmSync(root, { recursive: true, force: true });
});

function write(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

const notScanned = (findings: readonly { ruleId: string; file: string }[]): string[] =>
  findings.filter((f) => f.ruleId === 'not-scanned').map((f) => f.file);

describe('scan with unreadable files', () => {
  it('goes on past an unreadable Dockerfile, compose file or .dockerignore and reports each as not scanned', async () => {
    write({
      Dockerfile: 'FROM node:22\nCOPY . .\n',
      '.env': 'X=1\n',
      'api/Dockerfile': 'FROM node:22\n',
      'api/.dockerignore': 'node_modules\n',
      'api/.env': 'X=1\n',
      'web/Dockerfile': 'FROM node:22\n',
      'web/.env': 'X=1\n',
      'compose.yaml': 'services:\n  web:\n    build: ./web\n',
    });
    for (const file of ['Dockerfile', 'api/.dockerignore', 'compose.yaml']) failing.add(join(root, file));
    const result = await scan({ root, rules: ['dotenv-in-build-context'] });
    expect(notScanned(result.findings).sort()).toEqual(['Dockerfile', 'api/.dockerignore', 'compose.yaml']);
    expect(result.skippedReasons).toMatchObject({
      Dockerfile: 'unreadable',
      'api/.dockerignore': 'unreadable',
      'compose.yaml': 'unreadable',
    });
    // The readable build context is still checked.
    expect(result.findings.filter((f) => f.ruleId === 'dotenv-in-build-context').map((f) => f.file)).toEqual([
      'web/Dockerfile',
    ]);
  });

  it('keeps the findings of other seeds when one .sql file of the package cannot be read', async () => {
    write({
      'db/migrations/001.sql': 'CREATE TABLE users (id int PRIMARY KEY, email text, password text);\n',
      'db/migrations/002.sql': 'CREATE TABLE audit (id int);\n',
      'db/seeds/dev.sql': "INSERT INTO users VALUES (1, 'a@example.test', 'pw-1');\n",
    });
    failing.add(join(root, 'db/migrations/002.sql'));
    const result = await scan({ root, rules: ['seed-plaintext-secret'] });
    expect(result.findings.map((f) => `${f.ruleId}:${f.file}`).sort()).toEqual([
      'not-scanned:db/migrations/002.sql',
      'seed-plaintext-secret:db/seeds/dev.sql',
    ]);
    expect(result.skippedReasons['db/migrations/002.sql']).toBe('unreadable');
  });

  it('throws ERR_PREFLIGHT_INVALID_OPTION when the root cannot be listed, without the underlying error text', async () => {
    failing.add(root);
    const error = await scan({ root }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PreflightError);
    expect((error as InstanceType<typeof PreflightError>).code).toBe('ERR_PREFLIGHT_INVALID_OPTION');
    expect((error as Error).message).toMatch(/root: .* could not be listed/);
  });
});

describe('rampart-preflight scan with unreadable files', () => {
  it('exits 1 with not-scanned findings for an unreadable Dockerfile, and 2 for an unlistable root', async () => {
    write({ Dockerfile: 'FROM node:22\n', 'src/app.ts': 'export const a = 1;\n' });
    failing.add(join(root, 'Dockerfile'));
    let out = '';
    let err = '';
    const io = { stdout: (t: string) => (out += t), stderr: (t: string) => (err += t), env: {}, color: false };
    expect(await main(['scan', root], io)).toBe(1);
    expect(out).toContain('Dockerfile');
    failing.add(root);
    err = '';
    expect(await main(['scan', root], io)).toBe(2);
    expect(err).toContain('ERR_PREFLIGHT_INVALID_OPTION');
  });
});
