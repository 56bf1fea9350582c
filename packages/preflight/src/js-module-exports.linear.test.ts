// Linear time proven by counting work, not by the test timeout (see rules/static-admin-key.linear.test.ts):
// every step of the walk over a module's statements goes through the AST and scope helpers counted here.
import { describe, expect, it, vi } from 'vitest';
import { workCounter } from '../test/fixtures/work-counter.ts';
import { commonJsExports } from './js-module-exports.ts';
import { parseModule } from './js-parse.ts';

vi.mock('./js-ast.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('./js-scope.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
// The walks of a file's whole top level telling whether the file is a Node module.
const nodeModuleWalks = vi.hoisted(() => ({ count: 0 }));
vi.mock('./js-commonjs-scope.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('./js-commonjs-scope.ts')>();
  return {
    ...original,
    showsNodeModule: (...args: Parameters<typeof original.showsNodeModule>) => {
      nodeModuleWalks.count++;
      return original.showsNodeModule(...args);
    },
  };
});

/** The names `code` exports through CommonJS, and the helper calls reading them took (the parse not counted). */
function counted(code: string): { names: number; work: number } {
  const { program } = parseModule('src/a.js', code);
  workCounter.calls = 0;
  const names = commonJsExports(program, 'src/a.js').length;
  return { names, work: workCounter.calls };
}

describe('commonJsExports work', () => {
  // Each statement read once: an alias set copied per statement, a block's statements re-read for
  // each `if` around it, or an `else if` chain walked again per branch is quadratic.
  it('reads guarded exports, Object.assign, destructuring and else-if chains in time linear in their number', () => {
    const input = (n: number): string => {
      const lines = ['var api = module.exports;'];
      for (let i = 0; i < n; i++) {
        lines.push(
          `if (require.main !== module) { var a${i} = api; Object.assign(a${i}, { f${i} }); }`,
          `try { exports.g${i} = g; } catch { ({ x${i} } = globalThis.ctx); }`,
          `var m${i} = (0, module);\nm${i}.exports.h${i} = h;`,
          // Top-level `this`, `exports` destructured from module, Object.assign of a required module.
          `var { exports: e${i} } = module;\nthis.t${i} = e${i}.u${i} = t;\nObject.assign(e${i}, require('./r${i}'));`,
        );
      }
      // An `else if` chain growing with the input: a tree as deep as it has branches (the parser
      // refuses nesting past 1,000 levels, so it is n / 2.5 long).
      lines.push(Array.from({ length: (n * 2) / 5 }, (_, i) => `if (c${i}) exports.e${i} = e;`).join(' else '));
      return `${lines.join('\n')}\n`;
    };
    const once = counted(input(1_000));
    const twice = counted(input(2_000));
    expect([once.names, twice.names]).toEqual([6_400, 12_800]);
    expect(once.work).toBeGreaterThan(1_000);
    expect(twice.work / once.work).toBeLessThan(2.2);
  });

  it('walks the top level for Node module names only when a statement reads top-level `this` as the export object', () => {
    /** The exports `code` makes, and how many times the file's top level was walked for Node's names. */
    const walks = (code: string, file = 'src/a.js'): { names: number; walks: number } => {
      const { program } = parseModule(file, code);
      nodeModuleWalks.count = 0;
      const names = commonJsExports(program, file).length;
      return { names, walks: nodeModuleWalks.count };
    };
    const amdWeb = '(function (root, f) { root.X = f(); })(this, function () { return {}; });';
    const writes = Array.from({ length: 100 }, (_, i) => `exports.a${i} = a;`).join('\n');
    // No `this` where the export object could be: no walk, whatever the file holds.
    expect(walks(`${writes}\nvar x = this.y;\n`)).toEqual({ names: 100, walks: 0 });
    expect(walks(`${amdWeb.replace('(this,', '(window,')}\n`)).toEqual({ names: 0, walks: 0 });
    // A `.cjs` file is a Node module by its name.
    expect(walks('this.a = a;\nthis.b = b;\n', 'src/a.cjs')).toEqual({ names: 2, walks: 0 });
    // Top-level `this` written, or handed to a wrapper: one walk, however many statements ask.
    expect(walks(`${writes}\n${writes.replaceAll('exports.', 'this.t')}\n`)).toEqual({ names: 200, walks: 1 });
    expect(walks(`${amdWeb}\nrequire('x');\n`)).toEqual({ names: 1, walks: 1 });
    // In a browser script (nothing reads require, module or exports) `this` is the window.
    expect(walks('this.a = a;\n')).toEqual({ names: 0, walks: 1 });
  });
});
