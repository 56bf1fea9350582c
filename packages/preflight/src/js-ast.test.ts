import { parseSync, visitorKeys } from 'oxc-parser';
import { describe, expect, it } from 'vitest';
import { envFallback } from '../test/fixtures/fallback-forms.ts';
import { analyzeFile } from './engine.ts';
import {
  type AstNode,
  isShadowed,
  moduleFromEstree,
  nearestDeclaration,
  parseModule,
  resolveBinding,
} from './js-ast.ts';

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

describe('resolveBinding', () => {
  it('finds module and local declarations; isShadowed looks only below module scope', () => {
    const module = parseModule('a.ts', 'const k = 1;\nexport function f(p) { const l = 2; return [k, p, l, g]; }\n');
    const use = (name: string) =>
      module.nodes.find((n) => n.type === 'Identifier' && n.name === name && n.start > 40) as AstNode;
    expect(nearestDeclaration(use('k'), 'k', module.parentOf)?.kind).toBe('const');
    expect(isShadowed(use('k'), 'k', module.parentOf)).toBe(false);
    expect(resolveBinding(use('k'), 'k', module.parentOf, { moduleScope: false })).toBeUndefined();
    expect(nearestDeclaration(use('p'), 'p', module.parentOf)?.kind).toBe('param');
    expect(isShadowed(use('p'), 'p', module.parentOf)).toBe(true);
    expect(nearestDeclaration(use('l'), 'l', module.parentOf)?.kind).toBe('const');
    expect(isShadowed(use('l'), 'l', module.parentOf)).toBe(true);
    expect(nearestDeclaration(use('g'), 'g', module.parentOf)).toBeUndefined();
  });
});
