import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuditResult, runAudit } from '../src/audit.ts';
import { createBaseline, writeBaseline } from '../src/baseline.ts';
import { main } from '../src/cli.ts';
import { scan } from '../src/scan.ts';

// A loopback stand-in for the registry: the public registry's advisory endpoint answers 405 here,
// and tests never leave 127.0.0.1.
interface Endpoint {
  readonly url: string;
  readonly requests: Array<{ method: string; path: string; body: string }>;
  close(): Promise<void>;
}

async function endpoint(status: number, body: string): Promise<Endpoint> {
  const requests: Endpoint['requests'] = [];
  const server: Server = createServer((req, res) => {
    let data = '';
    req.on('data', (chunk: Buffer) => (data += chunk.toString()));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', path: req.url ?? '', body: data });
      res.writeHead(status, { 'content-type': 'application/json' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'preflight-audit-'));
  writeFileSync(
    join(project, 'pnpm-lock.yaml'),
    "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      lodash:\n        specifier: ^4.17.20\n        version: 4.17.20\n\npackages:\n\n  lodash@4.17.20:\n    resolution: {integrity: sha512-x}\n\n  '@scope/pkg@1.2.3(peer@1.0.0)':\n    resolution: {integrity: sha512-y}\n\nsnapshots:\n\n  lodash@4.17.20: {}\n",
  );
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

const capture = (): { io: Parameters<typeof main>[1]; out: () => string } => {
  let out = '';
  return { io: { stdout: (t) => (out += t), stderr: (t) => (out += t), env: {}, color: false }, out: () => out };
};

describe('runAudit', () => {
  it('reports "no coverage" when the advisory endpoint answers 405, never zero vulnerabilities', async () => {
    const server = await endpoint(405, '{"error":"Method not allowed"}');
    try {
      const result = await runAudit(project, { registry: server.url });
      expect(result).toEqual({
        status: 'no-coverage',
        reason: "the registry's advisory endpoint answered HTTP 405",
        dependencies: 2,
        lockfile: 'pnpm-lock.yaml',
      });
      expect(server.requests).toEqual([
        {
          method: 'POST',
          path: '/-/npm/v1/security/advisories/bulk',
          body: JSON.stringify({ lodash: ['4.17.20'], '@scope/pkg': ['1.2.3'] }),
        },
      ]);
    } finally {
      await server.close();
    }
  });

  it('counts advisories only when the endpoint really answered', async () => {
    const server = await endpoint(200, JSON.stringify({ lodash: [{ id: 1, severity: 'high' }] }));
    try {
      expect(await runAudit(project, { registry: server.url })).toMatchObject({
        status: 'covered',
        advisories: 1,
        vulnerablePackages: ['lodash'],
      });
    } finally {
      await server.close();
    }
  });

  it('reports "no coverage" when nothing listens', async () => {
    const server = await endpoint(200, '{}');
    await server.close();
    expect(await runAudit(project, { registry: server.url, timeoutMs: 5_000 })).toMatchObject({
      status: 'no-coverage',
      reason: 'the advisory endpoint could not be reached',
    });
  });
});

describe('runAudit on lockfiles it cannot read', () => {
  const lockfiles: Array<[string, string, string, RegExp]> = [
    [
      'an npm 6 lockfile (lockfileVersion 1)',
      'package-lock.json',
      JSON.stringify({
        name: 'app',
        lockfileVersion: 1,
        dependencies: { lodash: { version: '4.17.15', resolved: 'https://r/lodash.tgz' } },
      }),
      /lockfile format not understood: package-lock\.json lockfileVersion 1/,
    ],
    [
      'a pnpm v5 lockfile',
      'pnpm-lock.yaml',
      'lockfileVersion: 5.4\n\nspecifiers:\n  lodash: 4.17.15\n\npackages:\n\n  /lodash/4.17.15:\n    resolution: {integrity: sha512-x}\n',
      /lockfile format not understood: pnpm-lock\.yaml lockfileVersion 5\.4/,
    ],
    [
      'a pnpm lockfile whose packages it cannot parse',
      'pnpm-lock.yaml',
      "lockfileVersion: '9.0'\n\npackages:\n\n  lodash/4.17.15:\n    resolution: {integrity: sha512-x}\n",
      /lockfile format not understood: pnpm-lock\.yaml/,
    ],
    [
      'a package-lock.json that is not JSON',
      'package-lock.json',
      'NPM_TOKEN=npm_s3cr3tT0kenValue\n',
      /package-lock\.json is not valid JSON/,
    ],
    ['a package-lock.json that is JSON null', 'package-lock.json', 'null', /package-lock\.json is not valid JSON/],
  ];

  for (const [what, file, text, reason] of lockfiles) {
    it(`reports "no coverage" without a request for ${what}`, async () => {
      const dir = mkdtempSync(join(tmpdir(), 'preflight-audit-lock-'));
      const server = await endpoint(200, '{}');
      try {
        writeFileSync(join(dir, file), text);
        const result = await runAudit(dir, { registry: server.url });
        expect(result.status).toBe('no-coverage');
        expect(result.status === 'no-coverage' ? result.reason : '').toMatch(reason);
        expect(JSON.stringify(result)).not.toContain('s3cr3t');
        expect(server.requests).toEqual([]);
      } finally {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('reports a broken package-lock.json as no coverage in the CLI without printing its content', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'preflight-audit-lock-'));
    const server = await endpoint(200, '{}');
    try {
      writeFileSync(join(dir, 'package-lock.json'), 'NPM_TOKEN=npm_s3cr3tT0kenValue\n');
      const { io, out } = capture();
      expect(await main(['scan', dir, '--registry', server.url], io)).toBe(1);
      expect(out()).toMatch(/no.coverage/i);
      expect(out()).not.toContain('s3cr3t');
      expect(out()).not.toContain('NPM_TOKEN');
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('runAudit: which lockfile, and which packages', () => {
  const lodash = (version: string): string =>
    JSON.stringify({
      name: 'app',
      lockfileVersion: 3,
      packages: { '': { name: 'app' }, 'node_modules/lodash': { version } },
    });
  const pnpmLock = (indent: string): string =>
    `lockfileVersion: '9.0'\n\npackages:\n\n${indent}lodash@4.17.15:\n${indent}${indent}resolution: {integrity: sha512-x}\n\nsnapshots:\n\n${indent}lodash@4.17.15: {}\n`;

  /** Audits a project of `files` against a loopback endpoint that answers `{}`; the bodies it was sent. */
  const audit = async (files: Record<string, string>): Promise<{ result: AuditResult; bodies: unknown[] }> => {
    const dir = mkdtempSync(join(tmpdir(), 'preflight-audit-which-'));
    const server = await endpoint(200, '{}');
    try {
      for (const [file, text] of Object.entries(files)) writeFileSync(join(dir, file), text);
      const result = await runAudit(dir, { registry: server.url });
      return { result, bodies: server.requests.map((r) => JSON.parse(r.body) as unknown) };
    } finally {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('audits an npm alias under the name of the package it installs', async () => {
    const { result, bodies } = await audit({
      'package-lock.json': JSON.stringify({
        lockfileVersion: 3,
        packages: { '': { name: 'app' }, 'node_modules/safe-utils': { name: 'lodash', version: '4.17.15' } },
      }),
    });
    expect(result.status).toBe('covered');
    expect(bodies).toEqual([{ lodash: ['4.17.15'] }]);
  });

  it('audits a pnpm alias under the name of the package it installs', async () => {
    const { bodies } = await audit({
      'pnpm-lock.yaml':
        "lockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      safe-utils:\n        specifier: npm:lodash@4.17.15\n        version: lodash@4.17.15\n\npackages:\n\n  lodash@4.17.15:\n    resolution: {integrity: sha512-x}\n\nsnapshots:\n\n  lodash@4.17.15: {}\n",
    });
    expect(bodies).toEqual([{ lodash: ['4.17.15'] }]);
  });

  it('audits npm-shrinkwrap.json, which npm installs from, before package-lock.json', async () => {
    const { result, bodies } = await audit({
      'npm-shrinkwrap.json': lodash('4.17.15'),
      'package-lock.json': lodash('4.17.21'),
    });
    expect(result).toMatchObject({ status: 'covered', lockfile: 'npm-shrinkwrap.json' });
    expect(bodies).toEqual([{ lodash: ['4.17.15'] }]);
  });

  it('audits the lockfile of the package manager package.json names when several are present', async () => {
    const { result, bodies } = await audit({
      'package.json': JSON.stringify({ name: 'app', packageManager: 'pnpm@9.12.0' }),
      'pnpm-lock.yaml': pnpmLock('  '),
      'package-lock.json': lodash('4.17.21'),
    });
    expect(result).toMatchObject({ status: 'covered', lockfile: 'pnpm-lock.yaml' });
    expect(bodies).toEqual([{ lodash: ['4.17.15'] }]);
  });

  it('reports no coverage for several lockfiles without packageManager, or a lockfile it does not read', async () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [
        { 'yarn.lock': 'lodash@^4:\n  version "4.17.15"\n', 'package-lock.json': lodash('4.17.21') },
        /several lockfiles/,
      ],
      [
        {
          'package.json': JSON.stringify({ packageManager: 'yarn@4.1.0' }),
          'yarn.lock': 'lodash@^4:\n  version "4.17.15"\n',
          'package-lock.json': lodash('4.17.21'),
        },
        /yarn\.lock/,
      ],
      [{ 'yarn.lock': 'lodash@^4:\n  version "4.17.15"\n' }, /yarn\.lock/],
      [{ 'bun.lockb': 'binary' }, /bun\.lockb/],
    ];
    for (const [files, reason] of cases) {
      const { result, bodies } = await audit(files);
      expect(result.status).toBe('no-coverage');
      expect(result.status === 'no-coverage' ? result.reason : '').toMatch(reason);
      expect(bodies).toEqual([]);
    }
  });

  it('reads a pnpm lockfile indented by four spaces, never as covered with no dependencies', async () => {
    const { result, bodies } = await audit({ 'pnpm-lock.yaml': pnpmLock('    ') });
    expect(result).toMatchObject({ status: 'covered', dependencies: 1 });
    expect(bodies).toEqual([{ lodash: ['4.17.15'] }]);
  });
});

describe('scan --audit with a baseline', () => {
  it('reports new advisories and a later "no coverage" although an older audit finding is baselined', async () => {
    const file = join(project, 'baseline.json');
    const first = await endpoint(200, JSON.stringify({ lodash: [{ id: 1, severity: 'high' }] }));
    const later = await endpoint(
      200,
      JSON.stringify({
        '@scope/pkg': [
          { id: 7, severity: 'critical' },
          { id: 8, severity: 'critical' },
        ],
      }),
    );
    const down = await endpoint(405, '');
    try {
      const before = await scan({ root: project, audit: { registry: first.url } });
      expect(before.findings.map((f) => f.ruleId)).toEqual(['audit-coverage']);
      writeBaseline(file, createBaseline(before.findings));
      expect((await scan({ root: project, baseline: file, audit: { registry: first.url } })).findings).toEqual([]);

      const fresh = await scan({ root: project, baseline: file, audit: { registry: later.url } });
      expect(fresh.findings.map((f) => f.message)).toEqual([expect.stringContaining('2 advisories')]);

      const uncovered = await scan({ root: project, baseline: file, audit: { registry: down.url } });
      expect(uncovered.findings.map((f) => f.message)).toEqual([expect.stringContaining('No dependency coverage')]);
      writeBaseline(file, createBaseline(uncovered.findings));
      const again = await scan({ root: project, baseline: file, audit: { registry: down.url } });
      expect(again.findings.map((f) => f.ruleId)).toEqual(['audit-coverage']);
    } finally {
      await Promise.all([first.close(), later.close(), down.close()]);
      rmSync(file, { force: true });
    }
  });
});

describe('rampart-preflight scan --audit', () => {
  it('fails and says NO COVERAGE in every format when the endpoint answers 405', async () => {
    const server = await endpoint(405, '');
    try {
      for (const format of ['pretty', 'json', 'sarif']) {
        const { io, out } = capture();
        const code = await main(['scan', project, '--registry', server.url, '--format', format], io);
        expect(code, format).toBe(1);
        expect(out(), format).toMatch(/no.coverage/i);
        expect(out(), format).toContain('HTTP 405');
        expect(out(), format).not.toMatch(/\b0 vulnerabilit/i);
      }
    } finally {
      await server.close();
    }
  });

  it('says the audit was not run when it was not requested', async () => {
    const { io, out } = capture();
    expect(await main(['scan', project], io)).toBe(0);
    expect(out()).toContain('dependency audit: not run (no coverage');
  });
});
