// Linear time proven by counting work, not by the test timeout (see static-admin-key.linear.test.ts):
// the AST and scope helpers are counted, and so is each step up the parent map, which is how a scope
// lookup walks from a name to its declaration.
import { describe, expect, it, vi } from 'vitest';
import { growth, runCounted } from '../../test/fixtures/work-counter.ts';
import { analyzeFile } from '../engine.ts';

vi.mock('../js-ast.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('../js-scope.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
// Every parse hands out a parent map whose lookups count: the steps of each walk to a scope.
vi.mock('../js-parse.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).countingParse(await importOriginal()),
);

const RULE = 'env-fallback-literal';

describe('envFallbackLiteral work', () => {
  // The chain is a tree as deep as it has operators: a scope lookup from each operand that steps
  // through every `||` above it is quadratic in the length of the chain.
  it('checks a long || chain after an env read in time linear in its length', () => {
    const input = (n: number): string => {
      const operands = Array.from({ length: n }, (_, i) => `a${i}`).join(' || ');
      return `const s = process.env.JWT_SECRET || ${operands} || 'dev-secret';\n`;
    };
    expect(runCounted(analyzeFile, RULE, input(1_000)).lines).toEqual([1]);
    expect(growth(analyzeFile, RULE, input, 1_000)).toBeLessThan(2.2);
  });
});
