// Linear work proven by counting, not by the test timeout (see rules/static-admin-key.linear.test.ts):
// the AST, scope, binding and import-resolution helpers are counted, and so is each step up a
// parent map. A module of 40,000 imports takes seconds to scan, and the time grows with the square
// of their number, but in oxc-parser's native parse (about 2.3 s of the scan's 3.8 s at 40,000 here),
// not in the rules: this test keeps the rules' share of that work linear.
import { describe, expect, it, vi } from 'vitest';
import { useTempProject } from '../test/fixtures/temp-project.ts';
import { workCounter } from '../test/fixtures/work-counter.ts';

vi.mock('./js-ast.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./js-scope.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./js-module-bindings.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./project-lookup.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./js-parse.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).countingParse(await importOriginal()),
);

const { write, reported } = useTempProject('env-fallback-literal');
// The literal the scanned code falls back to, kept out of this file's own source lines.
const FALLBACK = "'x'";

describe('scan work', () => {
  it('scans a module of thousands of imports, each called, with work linear in their number', async () => {
    const input = (n: number): Record<string, string> => {
      const lines = ["import { read } from './env.js';"];
      for (let i = 0; i < n; i++) lines.push(`import { a${i} } from './m${i}.js';`);
      for (let i = 0; i < n; i++) lines.push(`export const v${i} = a${i}('API_KEY') || ${FALLBACK};`);
      lines.push(`export const key = read('API_KEY') || ${FALLBACK};`);
      return {
        'src/env.ts': 'export function read(name: string) {\n  return process.env[name];\n}\n',
        'src/app.ts': `${lines.join('\n')}\n`,
      };
    };
    const work = async (n: number): Promise<{ lines: string[]; work: number }> => {
      write(input(n));
      workCounter.calls = 0;
      const lines = await reported();
      return { lines, work: workCounter.calls };
    };
    const once = await work(2_000);
    const twice = await work(4_000);
    expect([once.lines, twice.lines]).toEqual([['src/app.ts:4002'], ['src/app.ts:8002']]);
    expect(once.work).toBeGreaterThan(2_000);
    expect(twice.work / once.work).toBeLessThan(2.2);
  });
});
