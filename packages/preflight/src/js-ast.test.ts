import { parseSync, visitorKeys } from 'oxc-parser';
import { describe, expect, it } from 'vitest';
import { envFallback } from '../test/fixtures/fallback-forms.ts';
import { analyzeFile } from './engine.ts';
import { isEnvObject } from './env-reads.ts';
import { type AstNode, nodesWithin, stringRanges } from './js-ast.ts';
import { moduleFromEstree, parseModule } from './js-parse.ts';
import { isShadowed, nearestDeclaration } from './js-scope.ts';

const CODE = [
  '// TODO: check auth here',
  envFallback('secret', 'JWT_SECRET', 'keyboard cat').trimEnd(),
  'const seen = new Set();',
  'export function handle(req) {',
  '  seen.add(req.id);',
  "  return req.headers['x-admin-key'] === process.env.ADMIN_KEY;",
  '}',
  '',
].join('\n');

/** Rebuilds a program the way typescript-eslint shapes it: `range` only, no `start`/`end`. */
function rangeOnly(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rangeOnly);
  if (typeof value !== 'object' || value === null) return value;
  const out: Record<string, unknown> = {};
  for (const [key, inner] of Object.entries(value)) if (key !== 'start' && key !== 'end') out[key] = rangeOnly(inner);
  const { start, end } = value as { start?: number; end?: number };
  if (typeof start === 'number' && typeof end === 'number') out.range = [start, end];
  return out;
}

describe('moduleFromEstree', () => {
  it('gives the same findings on a foreign ESTree program as on its own parse', () => {
    const parsed = parseSync('a.js', CODE, { lang: 'jsx', sourceType: 'module' });
    const program = rangeOnly(JSON.parse(JSON.stringify(parsed.program)));
    const comments = rangeOnly(JSON.parse(JSON.stringify(parsed.comments))) as Array<{
      type: string;
      value: string;
      range: [number, number];
    }>;
    const module = moduleFromEstree(program, comments, visitorKeys);
    const summary = (findings: ReturnType<typeof analyzeFile>['findings']): string[] =>
      findings.map((f) => `${f.ruleId}:${f.start.line}:${f.start.column}:${f.fingerprint}`);
    const own = summary(analyzeFile('src/a.js', CODE).findings);
    expect(own.length).toBe(4);
    expect(summary(analyzeFile('src/a.js', CODE, { module }).findings)).toEqual(own);
  });
});

describe('nodesWithin', () => {
  it('visits a node and its descendants in source order, not an ancestor sharing its start nor what follows', () => {
    const code = "f('a'); g(x, h('d')); i('e');";
    const { nodes } = parseModule('a.ts', code);
    const call = nodes.find((n) => n.type === 'CallExpression' && code.slice(n.start, n.end).startsWith('g('))!;
    const visited = [...nodesWithin(call, nodes)];
    expect(visited[0]).toBe(call);
    expect(visited.map((n) => code.slice(n.start, n.end))).toEqual(["g(x, h('d'))", 'g', 'x', "h('d')", 'h', "'d'"]);
    expect(visited.some((n) => n.type === 'ExpressionStatement')).toBe(false);
    expect([...nodesWithin({ start: code.length, end: code.length }, nodes)]).toEqual([]);
  });
});

describe('stringRanges', () => {
  it('returns the strings inside a node and none before or after it, whatever shares its start', () => {
    const code = "f('a'); g('b', `c`, h('d')); i('e');";
    const { nodes } = parseModule('a.ts', code);
    const call = nodes.find((n) => n.type === 'CallExpression' && code.slice(n.start, n.end).startsWith('g('))!;
    const texts = stringRanges(call, nodes).map(([start, end]) => code.slice(start, end));
    expect(texts).toEqual(['b', 'c', 'd']);
    const callee = nodes.find((n) => n.type === 'Identifier' && n.name === 'g')!;
    expect(stringRanges(callee, nodes)).toEqual([]);
  });

  // Each finding scanned every node of the file (40,000 findings took minutes); the test timeout is the assertion.
  it('redacts 40,000 findings of one file in linear time', () => {
    const code = "if (req.headers['x-api-key'] === 'k') ok();\n".repeat(40_000);
    expect(analyzeFile('src/a.ts', code, { rules: ['static-admin-key'] }).findings).toHaveLength(40_000);
  });
});

describe('nearestDeclaration and isShadowed', () => {
  it('finds module and local declarations; isShadowed looks only below module scope', () => {
    const module = parseModule('a.ts', 'const k = 1;\nexport function f(p) { const l = 2; return [k, p, l, g]; }\n');
    const use = (name: string) =>
      module.nodes.find((n) => n.type === 'Identifier' && n.name === name && n.start > 40) as AstNode;
    expect(nearestDeclaration(use('k'), 'k', module.parentOf)?.kind).toBe('const');
    expect(isShadowed(use('k'), 'k', module.parentOf)).toBe(false);
    expect(nearestDeclaration(use('p'), 'p', module.parentOf)?.kind).toBe('param');
    expect(isShadowed(use('p'), 'p', module.parentOf)).toBe(true);
    expect(nearestDeclaration(use('l'), 'l', module.parentOf)?.kind).toBe('const');
    expect(isShadowed(use('l'), 'l', module.parentOf)).toBe(true);
    expect(nearestDeclaration(use('g'), 'g', module.parentOf)).toBeUndefined();
  });

  it('finds a `var` of a nested block or loop head in a class static block, a namespace and a with body', () => {
    for (const [file, code] of [
      ['a.ts', "const k = 'mod';\nclass A { static { if (c) { var k = 'local'; USE(k); } } }\n"],
      ['a.ts', "const k = 'mod';\nnamespace N { if (c) { var k = 'local'; USE(k); } }\n"],
      ['a.ts', "const k = 'mod';\nclass A { static { for (var k of xs) { USE(k); } } }\n"],
      ['a.cjs', "const k = 'mod';\nfunction f() { with (o) { var k = 'local'; USE(k); } }\n"],
    ] as const) {
      const module = parseModule(file, code);
      const use = module.nodes.find(
        (n) => n.type === 'Identifier' && n.name === 'k' && n.start > code.indexOf('USE'),
      ) as AstNode;
      const found = nearestDeclaration(use, 'k', module.parentOf);
      expect(found?.kind === 'var' || found?.site === 'loop', code).toBe(true);
      expect(isShadowed(use, 'k', module.parentOf), code).toBe(true);
    }
  });

  it('hoists a `var` of a switch case out of the switch, and takes the first of several `var`s in source order', () => {
    const at = (code: string) => {
      const module = parseModule('a.cjs', code);
      const use = module.nodes.find(
        (n) => n.type === 'Identifier' && n.name === 'k' && n.start > code.indexOf('USE'),
      ) as AstNode;
      return { found: nearestDeclaration(use, 'k', module.parentOf), shadowed: isShadowed(use, 'k', module.parentOf) };
    };
    // A module-scope `var` in a switch is no local: it shadows nothing.
    const inSwitch = at("switch (x) { case 1: var k = 'mod'; USE(k); }\n");
    expect([inSwitch.found?.kind, inSwitch.shadowed]).toEqual(['var', false]);
    for (const code of [
      "function f() { if (c) { var k = 'first'; } else { var k = 'second'; } USE(k); }\n",
      "function f() { try { var k = 'first'; } finally { var k = 'second'; } USE(k); }\n",
      // The module and a class static block are `var` scopes too.
      "if (c) { var k = 'first'; } var k = 'second'; USE(k);\n",
      "switch (x) { case 1: var k = 'first'; } var k = 'second'; USE(k);\n",
      "class C { static { if (c) { var k = 'first'; } var k = 'second'; USE(k); } }\n",
    ]) {
      const { found } = at(code);
      expect(found && code.slice(found.id.start, found.id.end + 10), code).toBe("k = 'first'");
    }
  });

  it('returns the identifier that declares the name, with its type annotation, and what declares it', () => {
    const code = [
      'const a: Map<string, string> = load();',
      'const { b } = load();',
      'export function f(c: T = d, { e }) {',
      '  for (const g of []) {',
      '    try {} catch (h) {',
      '      return [a, b, c, e, g, h];',
      '    }',
      '  }',
      '}',
    ].join('\n');
    const module = parseModule('a.ts', code);
    const use = (name: string) =>
      module.nodes.find(
        (n) => n.type === 'Identifier' && n.name === name && n.start > code.indexOf('return'),
      ) as AstNode;
    const seen = (name: string) => {
      const declaration = nearestDeclaration(use(name), name, module.parentOf)!;
      const parent = module.parentOf.get(declaration.id)!.type;
      return [declaration.kind, declaration.site, parent, Boolean(declaration.id.typeAnnotation)];
    };
    expect(seen('a')).toEqual(['const', 'variable', 'VariableDeclarator', true]);
    expect(seen('b')).toEqual(['other', 'variable', 'Property', false]);
    expect(seen('c')).toEqual(['param', 'parameter', 'AssignmentPattern', true]);
    expect(seen('e')).toEqual(['param', 'parameter', 'Property', false]);
    expect(seen('g')).toEqual(['param', 'loop', 'VariableDeclarator', false]);
    expect(seen('h')).toEqual(['param', 'catch', 'CatchClause', false]);
  });

  it('sees the declarations that shadow a module binding: hoisted vars, switch cases, own names, TS declarations', () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ['export function f(c) { if (c) { var k = load(); } return k; }', 'var'],
      ['switch (m) { case 1: const k = load(); use(k); }', 'const'],
      ['export const h = function k() { return k; };', 'function'],
      ['export const h = class k { m() { return k; } };', 'class'],
      ['namespace N { const k = load(); export const v = k; }', 'const'],
      ['{ enum k { A } use(k); }', 'class'],
      ['export const h = function k(k) { return k; };', 'parameter'],
    ];
    for (const [body, expected] of cases) {
      const code = `const k = 1;\n${body}\n`;
      const module = parseModule('a.ts', code);
      const last = module.nodes.filter((n) => n.type === 'Identifier' && n.name === 'k').at(-1) as AstNode;
      const declaration = nearestDeclaration(last, 'k', module.parentOf);
      const seen = declaration?.kind === 'var' || declaration?.kind === 'const' ? declaration.kind : declaration?.site;
      expect([body, seen]).toEqual([body, expected]);
    }
  });
});

describe('isEnvObject', () => {
  /** The expression of the last statement of a module. */
  const last = (code: string): AstNode =>
    (parseModule('a.ts', code).program.body as AstNode[]).at(-1)!.expression as AstNode;

  it('recognises runtime env objects and any `<object>.env`, not an env getter called with a name', () => {
    for (const code of ['process.env', 'import.meta.env', 'Bun.env', 'env', 'ENV', 'c.env', 'this.env', 'a.b.env']) {
      expect(isEnvObject(last(`(${code});`)), code).toBe(true);
    }
    for (const code of ['c', 'c.environment', "env('X')", 'env()', 'env(c)', 'getEnv(c)']) {
      expect(isEnvObject(last(`(${code});`)), code).toBe(false);
    }
  });

  it('counts `env(c)` only when `env` is bound to an import from hono/adapter that nothing shadows', () => {
    for (const code of [
      "import { env } from 'hono/adapter';\nenv(c);",
      "import { env as getEnv } from 'hono/adapter';\ngetEnv(c);",
      "import * as adapter from 'hono/adapter';\nadapter.env(c);",
      "const { env } = require('hono/adapter');\nenv(c);",
    ]) {
      expect(isEnvObject(last(code)), code).toBe(true);
    }
    for (const code of [
      "import { env } from './env';\nenv(c);",
      "import { getRuntimeKey as env } from 'hono/adapter';\nenv(c);",
      "import { env } from 'hono/adapter';\n(c) => { const env = (x) => x; return env(c); };",
    ]) {
      const expression = last(code);
      const call = expression.type === 'CallExpression' ? expression : undefined;
      const inner = parseModule('a.ts', code)
        .nodes.filter((n) => n.type === 'CallExpression')
        .at(-1);
      expect(isEnvObject(call ?? inner), code).toBe(false);
    }
  });
});
