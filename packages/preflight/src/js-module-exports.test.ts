import { describe, expect, it } from 'vitest';
import { commonJsExports, isCommonJsScope, moduleExports } from './js-module-exports.ts';
import { parseModule } from './js-parse.ts';

/** The local names a module exports, sorted. */
const exported = (code: string, file = 'src/a.js'): string[] =>
  [...moduleExports(parseModule(file, code).program, file).names].sort();

const TOUCH = 'function touch(id) { return id; }\n';

describe('commonJsExports', () => {
  it('reads a module-scope var that rebinds exports or module as an assignment to the binding Node passes in', () => {
    for (const code of [
      // Express's generated apps and burrito: `exports` becomes an alias of the new export object.
      'var exports = module.exports = {};\nexports.touch = touch;',
      'var exports = (module.exports = {});\nexports.touch = touch;',
      // A function named exports rebinds `exports` only; `module.exports` is still Node's.
      'function exports() {}\nmodule.exports = { touch };',
      // A file that declares only `exports` keeps its module.exports.
      'var exports = {};\nmodule.exports = { touch };',
      // A var without a value keeps the binding's value.
      'var exports;\nexports.touch = touch;',
      'var module;\nmodule.exports = { touch };',
      // A shim that runs only outside Node (or only sometimes) leaves Node's module in place there.
      'if (x) { var module = { exports: {} }; }\nmodule.exports = { touch };',
      "if (typeof module === 'undefined') { var module = { exports: {} }; }\nmodule.exports = { touch };",
      'var module = module || { exports: {} };\nmodule.exports = { touch };',
      'module ||= { exports: {} };\nmodule.exports = { touch };',
      "var module = typeof module === 'object' ? module : { exports: {} };\nmodule.exports = { touch };",
      // What was exported before `module` is rebound stays exported.
      'module.exports = { touch };\nvar module = { exports: {} };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
  });

  it('reads nothing through module once it is rebound to another object, nor through a rebound exports', () => {
    for (const code of [
      'var module = { exports: {} };\nmodule.exports = { touch };',
      'var module = { exports: {} };\nvar api = module.exports = { touch };',
      'var module = { exports: {} };\nmodule.exports.touch = touch;',
      'module = { exports: {} };\nmodule.exports = { touch };',
      'function module() {}\nmodule.exports = { touch };',
      'module.exports = { touch: 1 };\nvar module = { exports: {} };\nmodule.exports.touch = touch;',
      'var exports = {};\nexports.touch = touch;',
      'function exports() {}\nexports.touch = touch;',
      'exports = {};\nexports.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
  });

  it('skips a file that declares module or exports with let, const or class (a SyntaxError in a CommonJS module)', () => {
    for (const code of [
      'let exports = {};\nmodule.exports = { touch };',
      'const module = { exports: {} };\nmodule.exports = { touch };',
      'class exports {}\nmodule.exports = { touch };',
      'const exports = {};\nconst module = { exports };\nmodule.exports = { touch };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
  });

  it('ignores TypeScript ambient declarations of module and exports (they emit no code)', () => {
    for (const code of [
      'declare const module: any;\nmodule.exports = { touch };',
      'declare var module: { exports: unknown };\nvar api = module.exports = { touch };',
      'declare var exports: any;\nexports.touch = touch;',
      'declare let exports: any;\ndeclare const module: any;\nexports.touch = touch;',
      'declare function exports(): void;\nexports.touch = touch;',
      'declare namespace module {}\nmodule.exports = { touch };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`, 'src/a.ts'), code).toEqual(['touch']);
    }
  });

  it('reads a TypeScript file that assigns module.exports or exports.x as CommonJS, whatever it imports', () => {
    for (const [file, code] of [
      ['src/a.ts', "import { Request } from 'express';\nmodule.exports = { touch };"],
      ['src/a.tsx', "import React from 'react';\nexports.touch = touch;"],
      ['src/a.ts', "import * as fs from 'node:fs';\nvar api = module.exports = {};\napi.touch = touch;"],
      ['src/a.ts', "import { type A, type B } from './types';\nmodule.exports = { touch };"],
      ['src/a.ts', 'export const version = 1;\nmodule.exports.touch = touch;'],
    ] as const) {
      expect(exported(`${TOUCH}${code}\n`, file), `${file}: ${code}`).toEqual(['touch']);
    }
    // ES modules stay ES modules: .mjs/.mts, and .js files with import/export declarations.
    for (const [file, code] of [
      ['src/a.js', "import { readFileSync } from 'node:fs';\nmodule.exports = { touch };"],
      ['src/a.js', 'export const version = 1;\nexports.touch = touch;'],
      ['src/a.mts', "import { Request } from 'express';\nmodule.exports = { touch };"],
      ['src/a.mjs', 'module.exports = { touch };'],
    ] as const) {
      expect(exported(`${TOUCH}${code}\n`, file), `${file}: ${code}`).toEqual([]);
    }
  });

  it('walks a module with tens of thousands of aliases of the export object in one pass', () => {
    // Quadratic in the number of aliases (a copy of the alias set per statement), this took about a
    // minute, past the test timeout; one pass takes milliseconds.
    const count = 10_000;
    const lines = ['var api = module.exports = {};'];
    for (let i = 0; i < count; i++) lines.push(`var a${i} = api;`);
    lines.push(`a${count - 1}.touch = touch;`);
    const program = parseModule('src/a.js', `${TOUCH}${lines.join('\n')}\n`).program;
    expect(commonJsExports(program, 'src/a.js').map((e) => e.name ?? '(module)')).toEqual(['(module)', 'touch']);
  });
});

describe('isCommonJsScope', () => {
  it('counts an import whose every name is an inline type import as type-only', () => {
    const scope = (code: string): boolean => isCommonJsScope(parseModule('src/a.ts', code).program, 'src/a.ts');
    expect(scope("import { type A, type B } from './types';\nconst x = 1;\n")).toBe(true);
    expect(scope("import type { A } from './types';\nexport { type A };\n")).toBe(true);
    expect(scope("import { type A, B } from './types';\nconst x = 1;\n")).toBe(false);
    expect(scope("import './polyfill';\nconst x = 1;\n")).toBe(false);
  });
});
