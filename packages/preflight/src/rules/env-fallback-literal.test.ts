// Inputs are string literals, which the rule (working on the AST) does not read as code: this
// file passes the repository's own preflight.
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../engine.ts';
import { memberPath, nestingDepth, parseModule } from '../js-ast.ts';

const reported = (file: string, ...lines: string[]): number[] =>
  analyzeFile(file, `${lines.join('\n')}\n`, { rules: ['env-fallback-literal'] }).findings.map((f) => f.start.line);

describe('env-fallback-literal: logical assignment', () => {
  it('reports `||=` and `??=` on an env read or a variable initialised from one', () => {
    expect(
      reported(
        'a.ts',
        "process.env.SESSION_SECRET ||= 'x';",
        "process.env.SESSION_SECRET ??= 'x';",
        "let s = process.env.JWT_SECRET; s ??= 'x';",
      ),
    ).toEqual([1, 2, 3]);
  });

  it('does not report settings, non-literals or unrelated variables', () => {
    expect(
      reported(
        'a.ts',
        "process.env.PORT ||= '3000';",
        'process.env.JWT_SECRET ||= readSecretFile();',
        "let s = load(); s ||= 'x';",
        "process.env.JWT_SECRET &&= 'x';",
      ),
    ).toEqual([]);
  });
});

describe('env-fallback-literal: bindings and calls', () => {
  it('follows a const bound to an env read in the same scope, value-keeping calls and an if-unset assignment', () => {
    expect(
      reported(
        'a.ts',
        "const k = process.env.JWT_SECRET; export const s = k || 'x';",
        "export const t = process.env.JWT_SECRET?.trim() || 'x';",
        "export function f() { const local = process.env.API_TOKEN!; return local ?? 'x'; }",
        "let u = process.env.JWT_SECRET; if (!u) u = 'x';",
        "let v = process.env.JWT_SECRET; if (v === undefined) { v = 'x'; }",
      ),
    ).toEqual([1, 2, 3, 4, 5]);
  });

  it('does not follow a shadowing parameter, a let that is not tested, or other calls', () => {
    expect(
      reported(
        'a.ts',
        'const k = process.env.JWT_SECRET;',
        "export function f(k: string) { return k || 'x'; }",
        "const port = process.env.PORT; export const p = port || '3000';",
        "export const h = hash(process.env.JWT_SECRET) || 'x';",
        'let w = process.env.JWT_SECRET; if (!w) w = compute();',
        "let z = process.env.JWT_SECRET; if (ready) z = 'x';",
      ),
    ).toEqual([]);
  });
});

describe('env-fallback-literal: fail-closed checks', () => {
  it('does not report an empty default that only feeds a presence check', () => {
    expect(
      reported(
        'a.ts',
        "if ((process.env.JWT_SECRET ?? '').trim() === '') throw new Error('JWT_SECRET is required');",
        "if (!(process.env.JWT_SECRET || '').length) process.exit(1);",
      ),
    ).toEqual([]);
    expect(reported('run.sh', `if [ -z "\${JWT_SECRET:-}" ]; then exit 1; fi`, `: "\${API_TOKEN:=}"`)).toEqual([]);
  });

  it('still reports an empty default that is used as the secret, and a non-empty shell default', () => {
    expect(reported('a.ts', "export const s = (process.env.JWT_SECRET ?? '').trim();")).toEqual([1]);
    // An empty token in the request matches the empty fallback: an auth bypass.
    expect(
      reported(
        'a.ts',
        "if (req.body.token !== (process.env.API_TOKEN || '')) deny();",
        "if ((process.env.API_TOKEN ?? '').trim() === req.headers.token) allow();",
        "if ((process.env.API_TOKEN ?? '').length === req.body.token.length) allow();",
        "if ((process.env.API_TOKEN ?? '').slice(0, 4) === 'abcd') allow();",
      ),
    ).toEqual([1, 2, 3, 4]);
    expect(
      reported(
        'a.ts',
        "if ((process.env.API_TOKEN || '') === '') deny();",
        "if ((process.env.API_TOKEN ?? '').length < 32) deny();",
        "if ('' !== (process.env.API_TOKEN ?? '').trim()) start();",
      ),
    ).toEqual([]);
    expect(reported('run.sh', `JWT="\${JWT_SECRET:-x}"`)).toEqual([1]);
    // The empty-default exemption is for shell presence tests only.
    expect(reported('docker-compose.yml', `    JWT_SECRET: \${JWT_SECRET:-}`, `    A: "\${API_TOKEN:-}"`)).toEqual([
      1, 2,
    ]);
    expect(
      reported('run.sh', `TOKEN="\${API_TOKEN:-}dev-token"`, `if [ -z "\${API_TOKEN:-}" ]; then exit 1; fi`),
    ).toEqual([1]);
  });
});

describe('env-fallback-literal: names that hold settings', () => {
  it('does not report switches, sizes, algorithms and pointers to a secret', () => {
    expect(
      reported(
        'a.ts',
        "export const a = process.env.ENABLE_TOKEN_AUTH || 'false';",
        "export const b = process.env.TOKEN_BYTES || '32';",
        "export const c = process.env.HMAC_ALGO || 'sha256';",
        "export const d = process.env.JWT_SECRET_ENCODING || 'base64';",
        "export const e = process.env.SECRETS_MANAGER_REGION || 'eu-west-1';",
        "export const f = process.env.DB_SECRET_ARN || 'arn:aws:secretsmanager:x';",
        "export const g = process.env.DB_PASSWORD_SSM_PARAM || '/prod/db';",
        "export const h = process.env.TOKEN_REFRESH_INTERVAL_MS || '60000';",
        "export const i = process.env.TOKEN_AUTH || 'false';",
      ),
    ).toEqual([]);
  });

  it("reports a `'true'`/`'false'` fallback when the name closes with the secret word", () => {
    expect(
      reported(
        'a.ts',
        "export const a = process.env.DB_PASSWORD || 'false';",
        "export const b = process.env.API_TOKEN ?? 'true';",
        "export const c = process.env.TOKEN_AUTH || 'false';",
      ),
    ).toEqual([1, 2]);
  });

  it('reports setting words that come before the secret word, and flag words inside one-word names are not secrets', () => {
    expect(
      reported(
        'a.ts',
        "export const a = process.env.MS_CLIENT_SECRET || 'x';",
        "export const b = process.env.SSM_DB_PASSWORD || 'x';",
        "export const c = process.env.EU_REGION_SECRET || 'x';",
        "export const d = process.env.JWT_SECRET_MS_AUTH || 'x';",
        "export const e = process.env.NOPASSWORD || 'x';",
        "export const f = process.env.PAGETOKEN || 'x';",
        "export const g = process.env.TOKEN_BYTES || '32';",
      ),
    ).toEqual([1, 2, 3, 4]);
  });

  it('keeps a numeric PIN for a password, and one-word secret names', () => {
    expect(
      reported(
        'a.ts',
        "export const a = process.env.DB_PASSWORD || '1234';",
        "export const b = process.env.PGPASSWORD || 'postgres';",
        "export const c = process.env.JWTSECRET ?? 'x';",
        "export const d = process.env.SECRETKEY || 'x';",
      ),
    ).toEqual([1, 2, 3, 4]);
  });
});

describe('env-fallback-literal: inputs that used to crash or hang the scan', () => {
  it('refuses expressions nested deeper than the parser can take, as a parse error', () => {
    for (const text of [`export const x = ${'x ? 1 : '.repeat(10_000)}0;`, `export const x = ${'['.repeat(10_000)};`]) {
      const findings = analyzeFile('deep.ts', text).findings;
      expect(findings.map((f) => f.ruleId)).toEqual(['parse-error']);
      expect(findings[0]?.message).toContain('nest deeper than 1000 levels');
    }
  });

  it('parses ordinary code, and long flat chains, without counting them as nesting', () => {
    const flat = [
      ...Array.from({ length: 3000 }, (_, i) => `export const v${i} = a ? b : c`),
      `export const list = [${'1, '.repeat(5000)}];`,
      `export const m = a${'.b'.repeat(10_000)};`,
    ].join('\n');
    expect(nestingDepth(flat)).toBeLessThan(10);
    expect(parseModule('flat.ts', flat).errors).toEqual([]);
    const chain = parseModule('m.ts', `a${'.b'.repeat(10_000)};`).nodes.find((n) => n.type === 'MemberExpression');
    expect(memberPath(chain)?.length).toBe(10_001);
  });

  it('reads a 10,000-term `||` chain and a 10,000-part member chain without a stack overflow', () => {
    const terms = Array.from({ length: 10_000 }, (_, i) => `process.env.V${i}`).join(' || ');
    expect(reported('a.ts', `export const a = ${terms} || process.env.JWT_SECRET || 'x';`)).toEqual([1]);
    expect(reported('a.ts', `export const b = a${'.b'.repeat(10_000)} || 'x';`)).toEqual([]);
  });

  it('finds shell defaults in linear time, only within one line', () => {
    const started = performance.now();
    expect(reported('run.sh', `\${A:-`.repeat(20_000))).toEqual([]);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(reported('run.sh', `X="\${JWT_SECRET:-a`, 'b}"')).toEqual([]);
    expect(reported('run.sh', `X="\${JWT_SECRET:-x}"`, `Y="\${A:-\${JWT_SECRET:-x}}"`)).toEqual([1, 2]);
  });
});
