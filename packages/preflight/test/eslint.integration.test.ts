import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint, type Linter } from 'eslint';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../src/engine.ts';
import plugin from '../src/eslint.ts';
import { envFallback } from './fixtures/fallback-forms.ts';

const eslint = new ESLint({
  overrideConfigFile: true,
  overrideConfig: [plugin.configs.recommended as unknown as Linter.Config],
  cwd: process.cwd(),
});

// The same snippets go through ESLint and through the engine; the plugin must agree with the CLI.
const CASES: ReadonlyArray<readonly [string, string]> = [
  ['src/config.js', envFallback('secret', 'JWT_SECRET', 'keyboard cat')],
  ['src/admin.js', "export const ok = (req) => req.headers['x-admin-key'] === process.env.ADMIN_KEY;\n"],
  ['src/cache.js', 'const seen = new Set();\nexport function handle(req) {\n  seen.add(req.id);\n}\n'],
  ['src/todo.js', '// TODO: check auth\nexport const route = 1;\n'],
  ['src/old.js', '/** @deprecated */\nexport function old() {}\n'],
  ['seeds/users.js', "export const seed = (knex) => knex('users').insert({ password: 'admin123' });\n"],
  ['src/clean.js', "export const port = process.env.PORT || '3000';\n"],
  ['src/suppressed.js', '// preflight-ignore todo-auth until 2099-01-01: tracked in #1\n// TODO: check auth\n'],
  ['src/bad-suppression.js', '// preflight-ignore todo-auth: no date\nexport const x = 1;\n'],
  // Top-level `this` of a Node module is its export object (ESLint's nodes point to their parent).
  [
    'src/lookup.js',
    "const { join } = require('node:path');\nvar cache = new Map();\nthis.lookup = function (key) { if (!cache.has(key)) cache.set(key, join(key)); return cache.get(key); };\n",
  ],
];

describe('@rampart/preflight/eslint', () => {
  it('exposes every file rule and a recommended flat config that enables them', () => {
    expect(Object.keys(plugin.rules).sort()).toEqual(
      [
        'deprecated-without-removal',
        'env-fallback-literal',
        'invalid-suppression',
        'seed-plaintext-secret',
        'static-admin-key',
        'todo-auth',
        'unclassified-module-cache',
      ].sort(),
    );
    expect(Object.values(plugin.configs.recommended.rules).every((level) => level === 'error')).toBe(true);
  });

  it('reports exactly what the CLI engine reports, at the same positions', async () => {
    for (const [file, code] of CASES) {
      const [result] = await eslint.lintText(code, { filePath: file });
      const fromEslint = result!.messages.map((m) => [
        m.ruleId?.replace('@rampart/preflight/', ''),
        m.line,
        m.column + 0,
      ]);
      const fromEngine = analyzeFile(file, code).findings.map((f) => [f.ruleId, f.start.line, f.start.column]);
      expect(fromEslint.sort(), file).toEqual(fromEngine.sort());
    }
  });

  it('agrees with the CLI engine on every JavaScript case of the corpus', async () => {
    const corpus = fileURLToPath(new URL('../corpus', import.meta.url));
    let compared = 0;
    for (const rule of readdirSync(corpus)) {
      for (const label of ['positive', 'negative']) {
        const dir = join(corpus, rule, label);
        if (!existsSync(dir)) continue;
        for (const name of readdirSync(dir).filter((f) => /\.[cm]?js$/.test(f))) {
          const code = readFileSync(join(dir, name), 'utf8');
          const file = rule === 'seed-plaintext-secret' ? `seeds/${name}` : `src/${name}`;
          const [result] = await eslint.lintText(code, { filePath: file });
          const fromEslint = result!.messages.map(
            (m) => `${m.ruleId?.replace('@rampart/preflight/', '')}:${m.line}:${m.column}`,
          );
          const fromEngine = analyzeFile(file, code).findings.map(
            (f) => `${f.ruleId}:${f.start.line}:${f.start.column}`,
          );
          expect(fromEslint.sort(), `${rule}/${label}/${name}`).toEqual(fromEngine.sort());
          compared++;
        }
      }
    }
    expect(compared).toBeGreaterThan(10);
  });

  it('lints TypeScript and JSX files with the recommended config alone, not only .js', async () => {
    const code = envFallback('secret', 'JWT_SECRET', 'keyboard cat');
    for (const file of ['src/config.ts', 'src/config.mts', 'src/config.cts', 'src/config.tsx', 'src/config.jsx']) {
      const [result] = await eslint.lintText(code, { filePath: file });
      expect(
        result!.messages.map((m) => m.ruleId),
        file,
      ).toEqual(['@rampart/preflight/env-fallback-literal']);
    }
    // TypeScript syntax needs a TypeScript parser (typescript-eslint): without one ESLint says so, it does not skip the file.
    const [typed] = await eslint.lintText('export const port: string = "3000";\n', { filePath: 'src/typed.ts' });
    expect(typed!.messages).toMatchObject([{ fatal: true, message: expect.stringContaining('Parsing error') }]);
  });

  it('judges paths relative to the working directory, not the folders above the checkout', async () => {
    const parent = mkdtempSync(join(tmpdir(), 'preflight-eslint-'));
    try {
      for (const [folder, file, code, expected] of [
        ['tests/api', 'src/limiter.js', CASES[2]![1], ['@rampart/preflight/unclassified-module-cache']],
        ['e2e/shop', 'src/limiter.js', CASES[2]![1], ['@rampart/preflight/unclassified-module-cache']],
        [
          'seeds/app',
          'src/users.js',
          "export const u = (knex) => knex('users').insert({ password: 'admin123' });\n",
          [],
        ],
        ['work', 'tests/limiter.test.js', CASES[2]![1], []],
      ] as const) {
        const cwd = join(parent, folder);
        mkdirSync(cwd, { recursive: true });
        const scoped = new ESLint({
          overrideConfigFile: true,
          overrideConfig: [plugin.configs.recommended as unknown as Linter.Config],
          cwd,
        });
        const [result] = await scoped.lintText(code, { filePath: join(cwd, file) });
        expect(
          result!.messages.map((m) => m.ruleId),
          `${folder}/${file}`,
        ).toEqual(expected);
      }
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  });

  it('never puts the secret literal into an ESLint message', async () => {
    const [result] = await eslint.lintText(envFallback('s', 'API_KEY', 'Qz7mY2uV9sLk4', '??'), {
      filePath: 'a.js',
    });
    expect(result!.messages).toHaveLength(1);
    expect(JSON.stringify(result!.messages)).not.toContain('Qz7mY2uV9sLk4');
  });
});
