// Linear work proven by counting, not by the test timeout (see rules/static-admin-key.linear.test.ts):
// the AST and scope helpers are counted, and so is each step up the parent map.
import { describe, expect, it, vi } from 'vitest';
import { workCounter } from '../test/fixtures/work-counter.ts';
import type { AstNode } from './js-ast.ts';
import { NodeRequire } from './js-node-require.ts';
import { parseModule } from './js-parse.ts';

vi.mock('./js-ast.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./js-scope.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./js-parse.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).countingParse(await importOriginal()),
);

/** Whether `require('./env')` at the end of `code` is Node's, and the work the answer took (the parse not counted). */
function counted(code: string): { node: boolean; work: number } {
  const module = parseModule('src/app.js', code);
  const call = module.nodes.findLast((n) => n.type === 'CallExpression' && (n.callee as AstNode).type === 'Identifier');
  workCounter.calls = 0;
  const node = new NodeRequire(module).is(call?.callee as AstNode);
  return { node, work: workCounter.calls };
}

describe('NodeRequire work', () => {
  // Each assignment of a chain read once: building the chain below every `=` of `a = a = … = 0`
  // walks the rest of it again, which is quadratic in the chain's length.
  it('reads the writes of assignment chains in time linear in the size of the file, however long the chains', () => {
    const TOTAL = 12_000;
    const input = (length: number, target: string): string => {
      const lines = ["import { createRequire } from 'node:module';", 'const require = createRequire(import.meta.url);'];
      for (let i = 0; i < TOTAL / length; i++) {
        lines.push(`${Array.from({ length }, () => target).join(' = ')} = 0;`);
      }
      lines.push("const secret = require('./env').read('JWT_SECRET');");
      return `${lines.join('\n')}\n`;
    };
    for (const target of ['a', 'require']) {
      const short = counted(input(20, target));
      const long = counted(input(400, target));
      // Another write to `require` makes it not only Node's.
      expect([short.node, long.node]).toEqual([target === 'a', target === 'a']);
      expect(short.work).toBeGreaterThan(TOTAL);
      expect(long.work / short.work, target).toBeLessThan(1.3);
    }
  });
});
