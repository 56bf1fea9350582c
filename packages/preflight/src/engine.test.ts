import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyBaseline, createBaseline } from './baseline.ts';
import { analyzeFile } from './engine.ts';
import type { Finding } from './finding.ts';
import { formatJson, formatPretty, formatSarif } from './report.ts';
import type { ScanResult } from './scan.ts';

const NOW = new Date('2026-11-22T12:00:00Z');

const result = (findings: Finding[]): ScanResult => ({
  root: '/x',
  findings,
  filesScanned: 1,
  suppressed: 0,
  baselined: 0,
  staleBaseline: 0,
  skipped: [],
  audit: { status: 'not-requested' },
});

// Every form a secret literal can take in a finding's file, keyed by the file name it needs.
const FORMS: ReadonlyArray<readonly [string, (v: string) => string]> = [
  ['a.ts', (v) => `export const s = process.env.JWT_SECRET || '${v}';`],
  ['a.ts', (v) => `export const s = process.env.API_KEY ?? "${v}";`],
  ['a.ts', (v) => `export const s = process.env.NODE_ENV === 'production' ? process.env.APP_SECRET : \`${v}\`;`],
  ['a.ts', (v) => `const { SESSION_SECRET = '${v}' } = process.env;`],
  ['a.ts', (v) => `cleanEnv(process.env, { JWT_SECRET: str({ devDefault: '${v}' }) });`],
  ['a.ts', (v) => `z.object({ AUTH_SECRET: z.string().default('${v}') });`],
  ['a.ts', (v) => `if (req.headers['x-admin-key'] === '${v}') next();`],
  ['docker-compose.yml', (v) => `      DB_PASSWORD: \${DB_PASSWORD:-${v}}`],
  ['run.sh', (v) => `: \${ADMIN_TOKEN:=${v}}`],
  ['Dockerfile', (v) => `ENV APP_SECRET=\${APP_SECRET:-${v}} OTHER_VALUE=${v}`],
  ['Dockerfile', (v) => `ENV DB_PASSWORD ${v}`],
  ['Dockerfile', (v) => `ARG NPM_TOKEN="${v}"`],
  ['application.yml', (v) => `  secret: \${JWT_SECRET:${v}}`],
  ['seed.sql', (v) => `INSERT INTO users (email, password) VALUES ('a@example.test', '${v}');`],
  ['seeds/users.ts', (v) => `await knex('users').insert({ email: 'a@example.test', password: '${v}' });`],
];

describe('redaction', () => {
  it('never prints a secret literal in pretty, JSON or SARIF output, whatever the form', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{10,24}$/), (body) => {
        const secret = `Qz7${body}`;
        for (const [file, form] of FORMS) {
          const { findings } = analyzeFile(file, `${form(secret)}\n`, { now: NOW });
          expect(findings.length, `${file}: ${form('…')}`).toBeGreaterThan(0);
          for (const output of [
            formatPretty(result(findings)),
            formatJson(result(findings)),
            formatSarif(result(findings)),
          ]) {
            expect(output).not.toContain(secret);
            expect(output).not.toContain(secret.slice(0, 8));
          }
        }
      }),
      { numRuns: 25 },
    );
  });
});

describe('fingerprint', () => {
  const source =
    "export const a = process.env.JWT_SECRET || 'x-dev';\nexport const b = process.env.API_KEY || 'y-dev';\n";

  it('survives lines moving and unrelated edits', () => {
    const before = analyzeFile('src/config.ts', source, { now: NOW }).findings.map((f) => f.fingerprint);
    const moved = analyzeFile('src/config.ts', `// a new header\n\n${source.replace("'x-dev'", "'x-dev-2'")}`, {
      now: NOW,
    });
    expect(moved.findings.map((f) => f.fingerprint)).toEqual(before);
    expect(moved.findings.map((f) => f.start.line)).toEqual([3, 4]);
  });

  it('differs per file, per variable and per repeated occurrence', () => {
    const twice = `${source}${source.replaceAll('export const ', 'export const z')}`;
    const prints = analyzeFile('src/config.ts', twice, { now: NOW }).findings.map((f) => f.fingerprint);
    const elsewhere = analyzeFile('src/other.ts', source, { now: NOW }).findings.map((f) => f.fingerprint);
    expect(new Set([...prints, ...elsewhere]).size).toBe(prints.length + elsewhere.length);
  });
});

describe('applyBaseline', () => {
  it('reports only findings that are not in the baseline, and counts stale entries', () => {
    const old = analyzeFile('a.ts', "export const a = process.env.JWT_SECRET || 'x-dev';\n", { now: NOW }).findings;
    const baseline = createBaseline(old);
    const now = analyzeFile(
      'a.ts',
      "export const a = process.env.JWT_SECRET || 'x-dev';\nexport const b = process.env.API_KEY || 'y-dev';\n",
      { now: NOW },
    ).findings;
    const applied = applyBaseline(now, baseline);
    expect(applied.fresh.map((f) => f.message)).toEqual([expect.stringContaining('API_KEY')]);
    expect(applied.baselined).toBe(1);
    expect(applyBaseline([], baseline).stale).toBe(1);
  });
});

describe('analyzeFile', () => {
  it('makes a public demo value the most severe finding', () => {
    const { findings } = analyzeFile(
      'a.ts',
      "export const a = process.env.SESSION_SECRET || 'keyboard cat';\nexport const b = process.env.JWT_SECRET || 'k8Vq2LmZ0rT5';\n",
      { now: NOW },
    );
    expect(findings.map((f) => f.severity)).toEqual(['critical', 'error']);
  });

  it('reports a file it cannot parse as uncovered instead of passing it', () => {
    const { findings } = analyzeFile('broken.ts', 'export const = ;', { now: NOW });
    expect(findings.map((f) => f.ruleId)).toEqual(['parse-error']);
  });

  it('flags a removal version the package has already reached', () => {
    const code = '/** @deprecated Use b(). Removal: v1.2.0 */\nexport function a(): void {}\n';
    expect(analyzeFile('a.ts', code, { now: NOW, packageVersion: '1.2.0' }).findings).toHaveLength(1);
    expect(analyzeFile('a.ts', code, { now: NOW, packageVersion: '1.1.9' }).findings).toHaveLength(0);
  });
});
