// Linear time proven by counting work, not by the test timeout (see static-admin-key.linear.test.ts):
// the AST and scope helpers are counted, and so is each step up the parent map, which is how the
// walk from a `var` loop variable's use to the loop around it goes.
import { describe, expect, it, vi } from 'vitest';
import { growth, runCounted } from '../../test/fixtures/work-counter.ts';
import { analyzeFile } from '../engine.ts';

vi.mock('../js-ast.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('../js-scope.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('../js-parse.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).countingParse(await importOriginal()),
);

const RULE = 'static-admin-key';

describe('keyLists work', () => {
  // Each use of a `var` loop variable walks up to the loop around it: without sharing the steps
  // between uses of one binding, n uses under n / 10 statement heads take n² / 10 steps. (Heads,
  // not blocks: a scope lookup steps through each block around a name, a cost of its own.)
  it('finds the var loop around many uses deep in a function in time linear in uses and depth', () => {
    const input = (n: number): string => {
      const check = "if (k === req.headers['x-api-key']) ok();\n";
      return [
        "const keys = process.env.API_KEYS.split(',');\n",
        'export function f(req, k) {\n',
        'for (var k of keys) {\n',
        'if (req) '.repeat(n / 10),
        '{\n',
        check.repeat(n),
        '}\n}\n}\n',
      ].join('');
    };
    // Every check compares the request's key with an element of the env key list.
    expect(runCounted(analyzeFile, RULE, input(1_000)).lines).toHaveLength(1_000);
    expect(growth(analyzeFile, RULE, input, 1_000)).toBeLessThan(2.3);
  });
});
