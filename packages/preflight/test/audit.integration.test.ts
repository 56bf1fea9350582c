import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAudit } from '../src/audit.ts';
import { main } from '../src/cli.ts';

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
