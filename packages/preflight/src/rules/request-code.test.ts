import { describe, expect, it } from 'vitest';
import { analyzeFile } from '../engine.ts';

/** The messages unclassified-module-cache reports in a module, as `line: cache name`. */
const reported = (code: string, file = 'src/store.ts'): string[] =>
  analyzeFile(file, code, { rules: ['unclassified-module-cache'] }).findings.map(
    (f) => `${f.start.line}: ${/"([^"]+)"/.exec(f.message)?.[1]}`,
  );

// Which functions run on a request decides which mutations unclassified-module-cache reports: these
// cases vary how a function or class is exported.
describe('requestCode', () => {
  it('treats functions exported by an export list, export default, export = or CommonJS exports as handlers', () => {
    const cache =
      'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, (attempts.get(ip) ?? 0) + 1); }\n';
    for (const exporting of [
      'export { recordFailure };',
      'export { recordFailure as fail };',
      'export default recordFailure;',
      'export = recordFailure;',
      'module.exports = { recordFailure };',
      'module.exports = { fail: recordFailure };',
      'exports.recordFailure = recordFailure;',
      'module.exports.recordFailure = recordFailure;',
      'module.exports = recordFailure;',
      'module.exports = exports = { recordFailure };',
      'exports = module.exports = { recordFailure };',
      'module.exports = exports = recordFailure;',
      'exports = module.exports = recordFailure;',
      'exports = module.exports = exports.recordFailure = recordFailure;',
      'exports.fail = exports.recordFailure = recordFailure;',
      'module.exports = app = { recordFailure };',
    ]) {
      expect(reported(`${cache}${exporting}\n`), exporting).toEqual(['1: attempts']);
      expect(
        analyzeFile('src/a.js', `${cache}${exporting}\n`, { rules: ['unclassified-module-cache'] }).findings,
        exporting,
      ).toHaveLength(1);
    }
    const direct = 'const users = new Map();\n';
    for (const exporting of [
      'module.exports = function get(k) { users.set(k, 1); };',
      'exports.get = function (k) { users.set(k, 1); };',
      'module.exports.get = (k) => users.set(k, 1);',
      'module.exports = { get: (k) => users.set(k, 1) };',
      'const get = (k) => users.set(k, 1);\nexport = get;',
      'const get = (k) => users.set(k, 1);\nexport default get;',
    ]) {
      expect(reported(`${direct}${exporting}\n`), exporting).toEqual(['1: users']);
    }
  });

  it('does not treat a value assigned to bare exports, without module.exports in the chain, as exported', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exporting of [
      'exports = { recordFailure };',
      'exports = recordFailure;',
      'exports = other = { recordFailure };',
    ]) {
      expect(
        analyzeFile('src/a.js', `${cache}${exporting}\n`, { rules: ['unclassified-module-cache'] }).findings,
        exporting,
      ).toEqual([]);
    }
  });

  it('follows a long assignment chain to the exported value', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    const chain = `${Array.from({ length: 500 }, (_, i) => `a${i} = `).join('')}module.exports = recordFailure;`;
    expect(reported(`${cache}${chain}\n`)).toEqual(['1: attempts']);
  });

  it('treats static methods of a class exported by name or through module.exports as handlers', () => {
    for (const exporting of [
      'export { Store };',
      'module.exports = Store;',
      'export default Store;',
      'module.exports = { Store };',
    ]) {
      expect(
        reported(
          `class Store {\n  static byIp = new Map();\n  static hit(ip) { Store.byIp.set(ip, 1); }\n}\n${exporting}\n`,
        ),
        exporting,
      ).toEqual(['2: Store.byIp']);
    }
  });

  it('does not treat an inner function named like an exported one as exported', () => {
    expect(
      reported(`const seen = new Set();
function outer() {
  function recordFailure(ip) { seen.add(ip); }
  return recordFailure;
}
function recordFailure() {}
export { recordFailure };
outer();
`),
    ).toEqual([]);
  });

  it('treats a function exported by a CommonJS chain inside a declaration as a handler', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exporting of [
      'var app = module.exports = recordFailure;',
      'const fail = module.exports.fail = recordFailure;',
      'const fail = exports.a = exports.b = recordFailure;',
      'var app = module.exports = { recordFailure };',
      'let a = 1, b = module.exports = exports = { fail: recordFailure };',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual(['1: attempts']);
    }
    const direct = 'const users = new Map();\n';
    for (const exporting of [
      'var app = module.exports = function (k) { users.set(k, 1); };',
      'const get = module.exports.get = (k) => users.set(k, 1);',
      'const get = exports.get = function (k) { users.set(k, 1); };',
    ]) {
      expect(reported(`${direct}${exporting}\n`, 'src/a.js'), exporting).toEqual(['1: users']);
    }
  });

  it('does not treat a declaration chain without module.exports or exports.x as exporting', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exporting of [
      'const app = exports = recordFailure;',
      'let other;\nconst app = other = recordFailure;',
      'const app = other.exports = { recordFailure };',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual([]);
    }
  });

  it('treats ||= and ??= on module.exports as exporting nothing (it starts as an object), &&= and ||= on a property as exporting', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exporting of [
      'module.exports ||= { recordFailure };',
      'module.exports ??= recordFailure;',
      'var api = module.exports ||= { recordFailure };',
      'const api = module.exports ??= recordFailure;',
      'exports.fail = module.exports ||= recordFailure;',
      'exports.fail &&= recordFailure;',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual([]);
    }
    for (const exporting of [
      'module.exports &&= { recordFailure };',
      'var api = module.exports &&= recordFailure;',
      'exports.fail ||= recordFailure;',
      'const fail = module.exports.fail ??= recordFailure;',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual(['1: attempts']);
    }
  });

  it('does not treat a property set on a detached exports object as exported', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exporting of [
      'module.exports = function main() {};\nexports.fail = recordFailure;',
      'var api = module.exports = {};\nmodule.exports = function main() {};\napi.fail = recordFailure;',
      'exports.fail = module.exports = function main() {};\nexports.fail = recordFailure;',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual([]);
    }
    for (const exporting of [
      'exports.fail = exports = recordFailure;',
      'exports = module.exports = function main() {};\nexports.fail = recordFailure;',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual(['1: attempts']);
    }
  });

  it('follows a module-scope alias of the export object to the properties set on it', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exporting of [
      'var api = module.exports = {};\napi.fail = recordFailure;',
      'const api = module.exports;\napi.fail = recordFailure;',
      'const api = exports;\napi.fail = recordFailure;',
      'let api;\napi = module.exports = {};\napi.fail = recordFailure;',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual(['1: attempts']);
    }
    for (const exporting of [
      'let api = module.exports = {};\napi = {};\napi.fail = recordFailure;',
      'const api = other;\napi.fail = recordFailure;',
    ]) {
      expect(reported(`${cache}${exporting}\n`, 'src/a.js'), exporting).toEqual([]);
    }
    // A file that imports and exports only through such an alias runs only compiled to CommonJS.
    for (const file of ['src/a.js', 'src/a.ts']) {
      for (const exporting of [
        'var api = module.exports;\napi.fail = recordFailure;',
        'const api = exports;\napi.fail = recordFailure;',
      ]) {
        const code = `import x from './x.js';\n${cache}${exporting}\n`;
        expect(reported(code, file), `${file}: ${code}`).toEqual(['2: attempts']);
      }
    }
  });

  it('reads no CommonJS exports through a module that a literal || shim or a destructuring rebinds', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const before of ['', "import x from './x.js';\n"]) {
      for (const shim of ['var module = { exports: {} } || module;', 'var { module } = globalThis.ctx;']) {
        const code = `${before}${shim}\n${cache}module.exports = { recordFailure };\n`;
        expect(reported(code, 'src/a.js'), code).toEqual([]);
      }
    }
  });

  it('reads no CommonJS exports where module is rebound or exports declared by let/const at module scope, or in an ES module', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const exports of [
      'var api = module.exports = { recordFailure };',
      'module.exports = { recordFailure };',
      'exports.fail = recordFailure;',
    ]) {
      for (const [file, before] of [
        ['src/a.js', 'var module = { exports: {} };\n'],
        ['src/a.js', 'const exports = {};\nconst module = { exports };\n'],
        ['src/a.js', 'function module() {}\nfunction exports() {}\n'],
        ['src/a.mjs', ''],
        ['src/a.mts', ''],
        ['src/a.mjs', "import { readFileSync } from 'node:fs';\n"],
      ] as const) {
        // Rebinding `module` leaves `exports` Node's: `exports.fail` still exports (as in Node).
        const expected = before.startsWith('var module') && exports.startsWith('exports.') ? ['2: attempts'] : [];
        expect(reported(`${before}${cache}${exports}\n`, file), `${file}: ${before}${exports}`).toEqual(expected);
      }
    }
    // A shim in a block may not run (in Node, `window` is undefined): `module` stays Node's. A
    // module-scope `var exports` rebinds only `exports`; `var exports = module.exports = {}` aliases it.
    for (const code of [
      `if (typeof window !== "undefined") { var module = { exports: {} }; }\n${cache}module.exports = { recordFailure };\n`,
      `var exports = {};\n${cache}module.exports = { recordFailure };\n`,
      `var exports = module.exports = {};\n${cache}exports.fail = recordFailure;\n`,
    ]) {
      expect(reported(code, 'src/a.js'), code).toHaveLength(1);
    }
    expect(reported(`declare const module: any;\n${cache}module.exports = { recordFailure };\n`, 'src/a.ts')).toEqual([
      '2: attempts',
    ]);
    // Type-only imports are erased: the file stays CommonJS. A .cts file is CommonJS whatever it imports.
    expect(
      reported(`import type { Foo } from './foo';\n${cache}module.exports = { recordFailure };\n`, 'src/a.ts'),
    ).toEqual(['2: attempts']);
    expect(reported(`import { x } from './foo';\n${cache}module.exports = { recordFailure };\n`, 'src/a.cts')).toEqual([
      '2: attempts',
    ]);
    // A .js/.jsx file that imports and assigns module.exports or exports.x runs only compiled to
    // CommonJS (Babel), as a .ts file does: its CommonJS exports count.
    for (const file of ['src/a.js', 'src/a.jsx', 'src/a.ts']) {
      for (const before of ["import { readFileSync } from 'node:fs';\n", 'export const version = 1;\n']) {
        for (const exports of ['module.exports = { recordFailure };', 'exports.fail = recordFailure;']) {
          expect(reported(`${before}${cache}${exports}\n`, file), `${file}: ${before}${exports}`).toEqual([
            '2: attempts',
          ]);
        }
      }
    }
  });

  it('reads what a chain binds to the new export object (module.exports = exports = {}) and a && shim of module', () => {
    const cache = 'const attempts = new Map();\nfunction recordFailure(ip) { attempts.set(ip, 1); }\n';
    for (const file of ['src/a.js', 'src/a.ts']) {
      for (const exporting of [
        'module.exports = exports = {};\nexports.recordFailure = recordFailure;',
        'module.exports = exports = function () {};\nexports.recordFailure = recordFailure;',
        'var api;\nmodule.exports = api = {};\napi.recordFailure = recordFailure;',
        "var module = (typeof module !== 'undefined' && module) || { exports: {} };\nmodule.exports = { recordFailure };",
      ]) {
        expect(reported(`${cache}${exporting}\n`, file), `${file}: ${exporting}`).toEqual(['1: attempts']);
      }
    }
    // `module && shim` is the shim wherever Node's module is there.
    expect(
      reported(`${cache}var module = module && { exports: {} };\nmodule.exports = { recordFailure };\n`, 'src/a.js'),
    ).toEqual([]);
  });

  it('reads a cache or a class declared through a CommonJS export chain', () => {
    expect(
      reported(
        'const cache = module.exports.cache = new Map();\nexports.remember = (k) => cache.set(k, 1);\n',
        'src/a.js',
      ),
    ).toEqual(['1: cache']);
    expect(
      reported(
        'const Store = module.exports = class {\n  static byIp = new Map();\n  static hit(ip) { Store.byIp.set(ip, 1); }\n};\n',
        'src/a.js',
      ),
    ).toEqual(['2: Store.byIp']);
    expect(
      reported(
        '// @cache-scope per-pod: compiled templates, rebuilt from disk on start\nconst cache = module.exports.cache = new Map();\nexports.remember = (k) => cache.set(k, 1);\n',
        'src/a.js',
      ),
    ).toEqual([]);
  });
});
