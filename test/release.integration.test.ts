// The release pipeline, end to end: version with changesets, build, publish every public package
// to a local verdaccio on 127.0.0.1 with the maintainers' own release command, then install each
// one with npm into a fresh project outside the workspace and import every export. Each published
// tarball passes publint --strict and attw (esm-only).
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getFreePort, waitFor } from '../packages/testkit/src/index.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'rampart-release-'));
const repo = join(work, 'repo');
const bin = (name: string): string => join(root, 'node_modules/.bin', name);

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
  exports?: Record<string, unknown>;
}

function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}): string {
  try {
    return execFileSync(command, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(' ')} failed in ${cwd}:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`, {
      cause: error,
    });
  }
}

function workspaceManifests(dir: string, folder: string): Manifest[] {
  const base = join(dir, folder);
  if (!existsSync(base)) return [];
  return readdirSync(base)
    .filter((name) => existsSync(join(base, name, 'package.json')))
    .map((name) => JSON.parse(readFileSync(join(base, name, 'package.json'), 'utf8')) as Manifest);
}

const publicPackages = workspaceManifests(root, 'packages').filter((m) => m.private !== true);
let registry = '';
let verdaccio: ChildProcess | undefined;
let version = '';

beforeAll(async () => {
  // 1. A copy of the repository as committed (plus untracked, not ignored files), as its own git repo.
  const files = sh('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], root)
    .split('\0')
    .filter((f) => f && existsSync(join(root, f)));
  for (const file of files) {
    mkdirSync(join(repo, file, '..'), { recursive: true });
    cpSync(join(root, file), join(repo, file));
  }
  sh('git', ['init', '-q', '-b', 'main'], repo);
  sh('git', ['add', '-A'], repo);
  sh(
    'git',
    ['-c', 'user.name=release-test', '-c', 'user.email=release-test@rampart.invalid', 'commit', '-qm', 'snapshot'],
    repo,
  );
  sh('pnpm', ['install', '--offline', '--frozen-lockfile', '--reporter=silent'], repo);

  // 2. Version: one changeset bumps the fixed group together.
  writeFileSync(join(repo, '.changeset/release-test.md'), "---\n'@rampart/testkit': patch\n---\n\nRelease test.\n");
  sh(bin('changeset'), ['version'], repo);
  version = (JSON.parse(readFileSync(join(repo, 'packages/testkit/package.json'), 'utf8')) as Manifest).version;

  // 3. A local registry on loopback that proxies nothing.
  const port = await getFreePort();
  registry = `http://127.0.0.1:${port}/`;
  const storage = join(work, 'verdaccio');
  mkdirSync(storage, { recursive: true });
  writeFileSync(
    join(storage, 'config.yaml'),
    [
      `storage: ${join(storage, 'storage')}`,
      'auth:',
      '  htpasswd:',
      `    file: ${join(storage, 'htpasswd')}`,
      '    max_users: 10',
      'uplinks: {}',
      'packages:',
      "  '@rampart/*':",
      '    access: $all',
      '    publish: $authenticated',
      "  '**':",
      '    access: $all',
      '    publish: $authenticated',
      'web:',
      '  enable: false',
      // The suite's fetches reuse keep-alive sockets across the minute-long release step; a
      // server closing an idle socket under undici reads as "other side closed".
      'server:',
      '  keepAliveTimeout: 900',
      'log: { type: stdout, format: pretty, level: warn }',
      'max_body_size: 100mb',
      '',
    ].join('\n'),
  );
  verdaccio = spawn(bin('verdaccio'), ['--config', join(storage, 'config.yaml'), '--listen', `127.0.0.1:${port}`], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_ENV: 'test' },
  });
  await waitFor(
    async () => {
      const res = await fetch(`${registry}-/ping`).catch(() => undefined);
      return res?.ok === true;
    },
    { timeoutMs: 60_000, what: 'verdaccio to answer /-/ping' },
  );
  const user = await fetch(`${registry}-/user/org.couchdb.user:release`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'release', password: `pw-${Math.random().toString(36).slice(2)}` }),
  });
  const { token } = (await user.json()) as { token: string };
  writeFileSync(join(repo, '.npmrc'), `registry=${registry}\n//127.0.0.1:${port}/:_authToken=${token}\n`);

  // 4. The maintainers' release command.
  sh('node', ['scripts/release.ts'], repo, { npm_config_registry: registry, CI: 'true' });
}, 600_000);

afterAll(async () => {
  if (verdaccio && verdaccio.exitCode === null) {
    const exited = new Promise((resolve) => verdaccio?.once('exit', resolve));
    verdaccio.kill('SIGTERM');
    await exited;
  }
  rmSync(work, { recursive: true, force: true });
});

describe('the release pipeline', () => {
  it('versions every public package together (one fixed group) and leaves examples alone', () => {
    const before = (JSON.parse(readFileSync(join(root, 'packages/testkit/package.json'), 'utf8')) as Manifest).version;
    expect(version).toMatch(/^\d+\.\d+\.\d+$/);
    expect(version).not.toBe(before);
    for (const manifest of workspaceManifests(repo, 'packages').filter((m) => m.private !== true)) {
      expect(manifest.version, manifest.name).toBe(version);
    }
    for (const example of workspaceManifests(repo, 'examples')) {
      expect(example.private, example.name).toBe(true);
    }
  });

  it.each(publicPackages.map((m) => m.name))('publishes %s to the local registry', async (name) => {
    const url = `${registry}${name.replace('/', '%2f')}`;
    // One retry: a pooled socket the server has just closed fails the first attempt only.
    const res = await fetch(url).catch(() => fetch(url));
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { versions: Record<string, unknown> };
    expect(Object.keys(doc.versions)).toContain(version);
  });

  it.each(publicPackages.map((m) => m.name))(
    'installs %s with npm into a fresh project and imports every export',
    (name) => {
      const project = mkdtempSync(join(tmpdir(), 'rampart-consumer-'));
      try {
        writeFileSync(
          join(project, 'package.json'),
          JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }),
        );
        writeFileSync(join(project, '.npmrc'), `@rampart:registry=${registry}\n`);
        sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `${name}@${version}`], project);
        const installed = JSON.parse(
          readFileSync(join(project, 'node_modules', name, 'package.json'), 'utf8'),
        ) as Manifest;
        expect(installed.version).toBe(version);
        const subpaths = Object.keys(installed.exports ?? { '.': '' }).filter((p) => !p.endsWith('.json'));
        for (const subpath of subpaths) {
          const specifier = subpath === '.' ? name : `${name}${subpath.slice(1)}`;
          const keys = sh(
            'node',
            [
              '--input-type=module',
              '-e',
              `const m = await import(${JSON.stringify(specifier)}); console.log(JSON.stringify(Object.keys(m)));`,
            ],
            project,
            { NODE_ENV: 'test' },
          );
          expect((JSON.parse(keys) as string[]).length, `${specifier} exports nothing`).toBeGreaterThan(0);
        }
      } finally {
        rmSync(project, { recursive: true, force: true });
      }
    },
    300_000,
  );

  it.each(publicPackages.map((m) => m.name))(
    'the published tarball of %s passes publint --strict and attw',
    (name) => {
      const dir = mkdtempSync(join(work, 'tarball-'));
      const file =
        sh('npm', ['pack', `${name}@${version}`, '--registry', registry, '--silent'], dir)
          .trim()
          .split('\n')
          .pop() ?? '';
      const tarball = join(dir, file);
      expect(existsSync(tarball)).toBe(true);
      sh(bin('publint'), ['run', tarball, '--strict'], dir);
      sh(bin('attw'), [tarball, '--profile', 'esm-only', '--format', 'table-flipped'], dir);
    },
    120_000,
  );
});
