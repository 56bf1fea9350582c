// Linear time of reading UMD wrappers, proven by counting work (see js-module-exports.linear.test.ts).
// Here a list of a node's children counts one step per child handed out: scanning a factory's body
// for its `return` on every call of the factory is work that grows with the body.
import { describe, expect, it, vi } from 'vitest';
import { workCounter } from '../test/fixtures/work-counter.ts';
import { commonJsExports } from './js-module-exports.ts';
import { parseModule } from './js-parse.ts';
import { FACTORY_READS } from './js-umd-wrapper.ts';

vi.mock('./js-ast.ts', async (importOriginal) => {
  const { counted, workCounter: counter } = await import('../test/fixtures/work-counter.ts');
  const original = await importOriginal<typeof import('./js-ast.ts')>();
  return {
    ...counted(original),
    children: (node: Parameters<typeof original.children>[0], key: string) => {
      const list = original.children(node, key);
      counter.calls += 1 + list.length;
      return list;
    },
  };
});
vi.mock('./js-scope.ts', async (importOriginal) =>
  (await import('../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);

/** The exports `code` makes through CommonJS, and the helper calls reading them took (the parse not counted). */
function counted(code: string): { names: number; work: number } {
  const { program } = parseModule('src/a.js', code);
  workCounter.calls = 0;
  const names = commonJsExports(program, 'src/a.js').length;
  return { names, work: workCounter.calls };
}

describe('commonJsExports work on UMD wrappers', () => {
  it('reads one named factory passed to many wrappers once, in time linear in wrappers and factory', () => {
    // n wrappers handing the same factory the export object; the factory writes n names.
    const input = (n: number): string => {
      const writes = Array.from({ length: n }, (_, i) => `  exports.a${i} = a;`);
      const wrapper =
        "(function (r, f) { if (typeof exports === 'object') f(exports); else f(r.X = {}); })(this, fac);";
      return `function fac(exports) {\n${writes.join('\n')}\n}\n${Array(n).fill(wrapper).join('\n')}\n`;
    };
    const once = counted(input(150));
    const twice = counted(input(300));
    // The factory's entries are recorded once, not once per wrapper.
    expect([once.names, twice.names]).toEqual([150, 300]);
    expect(once.work).toBeGreaterThan(150);
    expect(twice.work / once.work).toBeLessThan(2.2);
  });

  it('reads a factory shared by many wrappers with other arguments a bounded number of times, in both forms', () => {
    // n wrappers each calling one factory with another module; the factory returns or writes n names.
    const returning = (n: number): string => {
      const props = Array.from({ length: n }, (_, i) => `a${i}: b`);
      const wrappers = Array.from(
        { length: n },
        (_, i) => `(function (r, f) { module.exports = f(require('./m${i}')); })(this, fac);`,
      );
      return `function fac(b) { return { ${props.join(', ')} }; }\n${wrappers.join('\n')}\n`;
    };
    const handing = (n: number): string => {
      const writes = Array.from({ length: n }, (_, i) => `  exports.a${i} = b;`);
      const wrappers = Array.from(
        { length: n },
        (_, i) => `(function (r, f) { f(exports, require('./m${i}')); })(this, fac);`,
      );
      return `function fac(exports, b) {\n${writes.join('\n')}\n}\n${wrappers.join('\n')}\n`;
    };
    for (const [input, names] of [
      // The first FACTORY_READS calls export every name; each later one exports its call.
      [returning, (n: number) => FACTORY_READS * n + n - FACTORY_READS],
      [handing, (n: number) => FACTORY_READS * n],
    ] as const) {
      const once = counted(input(200));
      const twice = counted(input(400));
      expect([once.names, twice.names]).toEqual([names(200), names(400)]);
      expect(once.work).toBeGreaterThan(200);
      expect(twice.work / once.work).toBeLessThan(2.2);
    }
  });

  it('takes time linear in wrappers and factory parameters for many wrappers calling a factory of many parameters', () => {
    // n wrappers calling one factory of n parameters with one argument (or two), alike calls.
    const params = (n: number): string => Array.from({ length: n }, (_, i) => `p${i}`).join(', ');
    const returning = (n: number): string => {
      const wrapper = "(function (r, f) { module.exports = f(require('./m')); })(this, fac);";
      return `function fac(${params(n)}) { return { a: p0 }; }\n${Array(n).fill(wrapper).join('\n')}\n`;
    };
    const handing = (n: number): string => {
      const wrapper = "(function (r, f) { f(exports, require('./m')); })(this, fac);";
      return `function fac(exports, ${params(n)}) { exports.a = p0; }\n${Array(n).fill(wrapper).join('\n')}\n`;
    };
    for (const input of [returning, handing]) {
      const once = counted(input(200));
      const twice = counted(input(400));
      expect([once.names, twice.names]).toEqual([1, 1]);
      expect(once.work).toBeGreaterThan(200);
      expect(twice.work / once.work).toBeLessThan(2.2);
    }
  });

  it('finds what a factory returns once, however many exports one wrapper gives its calls', () => {
    // One wrapper with n `exports.xi = factory()`; the factory has n statements before its `return`.
    const input = (n: number): string => {
      const exportsLines = Array.from({ length: n }, (_, i) => `  exports.x${i} = factory();`);
      const body = Array.from({ length: n }, (_, i) => `  var v${i} = ${i};`);
      return `(function (root, factory) {\n${exportsLines.join('\n')}\n})(this, function () {\n${body.join('\n')}\n  return read;\n});\n`;
    };
    const once = counted(input(1_000));
    const twice = counted(input(2_000));
    expect([once.names, twice.names]).toEqual([1_000, 2_000]);
    expect(once.work).toBeGreaterThan(1_000);
    expect(twice.work / once.work).toBeLessThan(2.2);
  });

  it('resolves a chain of locals a factory returns once, however many exports one wrapper gives its calls', () => {
    // One wrapper with n `exports.xi = factory()`; the factory returns the end of a chain of n locals.
    const input = (n: number): string => {
      const exportsLines = Array.from({ length: n }, (_, i) => `  exports.x${i} = factory();`);
      const chain = Array.from({ length: n }, (_, i) => `  var v${i + 1} = v${i};`);
      return `(function (root, factory) {\n${exportsLines.join('\n')}\n})(this, function () {\n  var v0 = read;\n${chain.join('\n')}\n  return v${n};\n});\n`;
    };
    const once = counted(input(1_000));
    const twice = counted(input(2_000));
    expect([once.names, twice.names]).toEqual([1_000, 2_000]);
    expect(once.work).toBeGreaterThan(1_000);
    expect(twice.work / once.work).toBeLessThan(2.2);
  });
});
