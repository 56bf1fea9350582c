import { describe, expect, it } from 'vitest';
import { type AstNode, children } from './js-ast.ts';
import { isCommonJsScope } from './js-commonjs-scope.ts';
import { requiredModule } from './js-module-bindings.ts';
import { commonJsExports, moduleExports } from './js-module-exports.ts';
import { parseModule } from './js-parse.ts';

/** The local names a module exports, sorted. */
const exported = (code: string, file = 'src/a.js'): string[] =>
  [...moduleExports(parseModule(file, code).program, file).names].sort();

const TOUCH = 'function touch(id) { return id; }\n';
const DEAD = 'function dead() {}\n';

/** Each CommonJS export of `code` as `name:type of its value` (`(module)` for module.exports itself). */
const umd = (code: string, file = 'src/a.js'): string[] =>
  commonJsExports(parseModule(file, code).program, file).map((e) => `${e.name ?? '(module)'}:${e.value.type}`);

/** As {@link umd}, with the specifier of a required module for its value (`(module):./a`). */
const umdRequired = (code: string): string[] =>
  commonJsExports(parseModule('src/a.js', code).program, 'src/a.js').map(
    (e) => `${e.name ?? '(module)'}:${requiredModule(e.value) ?? e.value.type}`,
  );

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
      // A left side that may be falsy (or nullish) may give the right side.
      'var module = globalThis.shim || module || { exports: {} };\nmodule.exports = { touch };',
      // Destructuring that binds other names leaves `module` and `exports` Node's.
      'var { shim } = globalThis.ctx;\nmodule.exports = { touch };',
      'var { exports: other } = globalThis.ctx;\nexports.touch = touch;',
      // `&&` is its right side where `module` is defined; `||`/`??` may be either side.
      "var module = (typeof module !== 'undefined' && module) || { exports: {} };\nmodule.exports = { touch };",
      "var module = typeof module === 'object' && module;\nmodule.exports = { touch };",
      'var module = globalThis.shim || module;\nmodule.exports = { touch };',
      'var module = globalThis.shim ?? module;\nmodule.exports = { touch };',
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
      'var module = module && { exports: {} };\nmodule.exports = { touch };',
      'function module() {}\nmodule.exports = { touch };',
      'module.exports = { touch: 1 };\nvar module = { exports: {} };\nmodule.exports.touch = touch;',
      'var exports = {};\nexports.touch = touch;',
      'function exports() {}\nexports.touch = touch;',
      'exports = {};\nexports.touch = touch;',
      // A literal object, array or function is truthy and never nullish: `||`/`??` never gives the right side.
      'var module = { exports: {} } || module;\nmodule.exports = { touch };',
      'var module = { exports: {} } ?? module;\nmodule.exports = { touch };',
      'var module = function () {} || module;\nmodule.exports = { touch };',
      'var module = [] ?? module;\nmodule.exports = { touch };',
      // Destructuring rebinds the names it declares.
      'var { module } = globalThis.ctx;\nmodule.exports = { touch };',
      'var [module] = globalThis.shims;\nmodule.exports = { touch };',
      'var { shim: { module = {} } } = globalThis.ctx;\nmodule.exports = { touch };',
      'var { exports } = globalThis.ctx;\nexports.touch = touch;',
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

  it('reads a TypeScript or JavaScript file that assigns module.exports or exports.x as CommonJS, whatever it imports', () => {
    for (const [file, code] of [
      // Babel (babel-node, @babel/register, babel-jest) compiles such a .js/.jsx file to CommonJS.
      ['src/a.js', "import { readFileSync } from 'node:fs';\nmodule.exports = { touch };"],
      ['src/a.js', 'export const version = 1;\nexports.touch = touch;'],
      ['src/a.jsx', "import React from 'react';\nvar api = module.exports = {};\napi.touch = touch;"],
      ['src/a.ts', "import { Request } from 'express';\nmodule.exports = { touch };"],
      ['src/a.tsx', "import React from 'react';\nexports.touch = touch;"],
      ['src/a.ts', "import * as fs from 'node:fs';\nvar api = module.exports = {};\napi.touch = touch;"],
      // Reading module.exports or exports at the top level fails in an ES module (neither is defined there).
      ['src/a.js', "import x from './x.js';\nvar api = module.exports;\napi.touch = touch;"],
      ['src/a.js', "import { readFileSync } from 'node:fs';\nconst api = exports;\napi.touch = touch;"],
      ['src/a.ts', "import { readFileSync } from 'node:fs';\nconst api = exports;\napi.touch = touch;"],
      ['src/a.ts', "import x from './x';\nconst api = (module.exports);\napi.touch = touch;"],
      ['src/a.ts', "import { type A, type B } from './types';\nmodule.exports = { touch };"],
      ['src/a.ts', 'export const version = 1;\nmodule.exports.touch = touch;'],
    ] as const) {
      expect(exported(`${TOUCH}${code}\n`, file), `${file}: ${code}`).toEqual(['touch']);
    }
    // ES modules stay ES modules: .mjs/.mts (no tool runs them as CommonJS), and a file with
    // import/export declarations that writes no module.exports or exports.x at its top level.
    for (const [file, code] of [
      ['src/a.js', "import { readFileSync } from 'node:fs';\nfunction f() { const api = exports; api.touch = touch; }"],
      ['src/a.mjs', "import x from './x.js';\nvar api = module.exports;\napi.touch = touch;"],
      ['src/a.mts', "import { Request } from 'express';\nmodule.exports = { touch };"],
      ['src/a.mjs', "import { readFileSync } from 'node:fs';\nmodule.exports = { touch };"],
      ['src/a.mjs', 'module.exports = { touch };'],
    ] as const) {
      expect(exported(`${TOUCH}${code}\n`, file), `${file}: ${code}`).toEqual([]);
    }
  });

  it('keeps the names a chain binds to the new export object when its module.exports link replaces it', () => {
    for (const code of [
      'module.exports = exports = {};\nexports.touch = touch;',
      'module.exports = exports = function () {};\nexports.touch = touch;',
      'var api;\nmodule.exports = api = {};\napi.touch = touch;',
      'module.exports = exports = self = {};\nself.touch = touch;',
      'module.exports = exports = self = {};\nexports.touch = touch;',
      // `exports` starts as the export object, so `&&=` writes: it holds the new object too.
      'module.exports = exports &&= {};\nexports.touch = touch;',
      // A property link between them passes the value on unchanged.
      'var other = {};\nmodule.exports = other.x = exports = {};\nexports.touch = touch;',
      'var api = module.exports = exports = {};\napi.touch = touch;',
      // `||=` does not write to `api`, an alias (truthy): `module.exports` gets the export object
      // back, so nothing is replaced and `exports` is still it.
      'var api = exports;\nmodule.exports = api ||= {};\nexports.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
      expect(exported(`${TOUCH}${code}\n`, 'src/a.ts'), code).toEqual(['touch']);
    }
    for (const code of [
      // Aliases from before the chain, and names the chain did not bind, are detached.
      'var api = module.exports;\nmodule.exports = exports = {};\napi.touch = touch;',
      'var api = exports;\nmodule.exports = self = {};\napi.touch = touch;\nexports.touch = touch;',
      // `exports.x` is read before module.exports is replaced: it lands on the detached object.
      'exports.touch = module.exports = exports = {};',
    ]) {
      expect(
        exported(`${TOUCH}${code}\n`).filter((n) => n === 'touch'),
        code,
      ).toEqual([]);
    }
  });

  it('reads a destructuring assignment as rebinding the names it writes, as a destructuring declaration', () => {
    for (const code of [
      '({ module } = globalThis.ctx);\nmodule.exports = { touch };',
      '[module] = globalThis.shims;\nmodule.exports = { touch };',
      '({ shim: { module = {} } } = globalThis.ctx);\nmodule.exports = { touch };',
      '[, ...module] = globalThis.shims;\nmodule.exports = { touch };',
      'var shim = { module } = globalThis.ctx;\nmodule.exports = { touch };',
      '({ exports } = globalThis.ctx);\nexports.touch = touch;',
      '[exports = {}] = globalThis.shims;\nexports.touch = touch;',
      'var api = module.exports;\n({ api } = globalThis.ctx);\napi.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
    for (const code of [
      // Other names, or a property renamed to another name, leave `module` and `exports` Node's.
      '({ shim } = globalThis.ctx);\nmodule.exports = { touch };',
      '({ exports: other } = globalThis.ctx);\nexports.touch = touch;',
      '[shim] = globalThis.shims;\nexports.touch = touch;',
      // What was exported before the rebinding stays exported.
      'module.exports = { touch };\n({ module } = globalThis.ctx);',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
  });

  it('reads a sequence expression as its last element when it decides what module holds', () => {
    for (const code of [
      'var module = (0, { exports: {} }) || module;\nmodule.exports = { touch };',
      'var module = (init(), []) ?? module;\nmodule.exports = { touch };',
      'var module = (0, { exports: {} });\nmodule.exports = { touch };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
    for (const code of [
      'var module = (0, module);\nmodule.exports = { touch };',
      'var module = (init(), module || { exports: {} });\nmodule.exports = { touch };',
      'var module = ({ exports: {} }, module);\nmodule.exports = { touch };',
      'var api = (0, module.exports);\napi.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
  });

  it('reads Object.assign onto the export object as exporting each property', () => {
    for (const code of [
      'Object.assign(module.exports, { touch });',
      'Object.assign(exports, { touch: touch });',
      'var api = module.exports;\nObject.assign(api, { touch });',
      'var api = Object.assign(module.exports, {});\napi.touch = touch;',
      'Object.assign(module.exports, { other: 1 }, { touch });',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
    for (const code of [
      // Onto another object, or onto `exports` once module.exports was replaced: no export.
      'Object.assign(globalThis.api, { touch });',
      'module.exports = function main() {};\nObject.assign(exports, { touch });',
      'var module = { exports: {} };\nObject.assign(module.exports, { touch });',
    ]) {
      expect(
        exported(`${TOUCH}${code}\n`).filter((n) => n === 'touch'),
        code,
      ).toEqual([]);
    }
    expect(exported(`${TOUCH}Object.assign(module.exports, { touch() {} });\n`)).toEqual([]);
    const program = parseModule('src/a.js', 'Object.assign(module.exports, { touch() {}, [key]: 1 });\n').program;
    expect(commonJsExports(program, 'src/a.js').map((e) => e.name)).toEqual(['touch']);
  });

  it("follows a UMD wrapper's CommonJS branch to what its factory returns or writes on exports", () => {
    const root = "typeof self !== 'undefined' ? self : this";
    const amd = "typeof define === 'function' && define.amd";
    // umdjs/umd returnExports: module.exports = factory(require('b')); its locals are resolved.
    const returnExports = `(function (root, factory) {
  if (${amd}) { define(['b'], factory); }
  else if (typeof module === 'object' && module.exports) { module.exports = factory(require('b')); }
  else { root.returnExports = factory(root.b); }
}(${root}, function (b) {
  function touch(id) { return id; }
  return { touch: touch, b: b, hit(req) {} };
}));`;
    expect(umd(returnExports)).toEqual(['touch:FunctionDeclaration', 'b:CallExpression', 'hit:FunctionExpression']);
    // umdjs/umd commonjsStrict: factory(exports, require('b')) writes on the export object.
    const commonjsStrict = `(function (root, factory) {
  if (${amd}) { define(['exports', 'b'], factory); }
  else if (typeof exports === 'object' && typeof exports.nodeName !== 'string') { factory(exports, require('b')); }
  else { factory((root.commonJsStrict = {}), root.b); }
}(${root}, function (exports, b) {
  function touch(id) { return id; }
  exports.touch = touch;
  exports.action = function () {};
}));`;
    expect(umd(commonjsStrict)).toEqual(['touch:FunctionDeclaration', 'action:FunctionExpression']);
    // Rollup's output (a ternary), minified (`!function`), and a factory passed by name.
    expect(
      umd(`(function (global, factory) {
  typeof exports === 'object' && typeof module !== 'undefined' ? factory(exports) :
  ${amd} ? define(['exports'], factory) :
  (global = typeof globalThis !== 'undefined' ? globalThis : global || self, factory(global.X = {}));
})(this, (function (exports) { 'use strict';
  function touch(id) { return id; }
  exports.touch = touch;
}));`),
    ).toEqual(['touch:FunctionDeclaration']);
    expect(
      umd(
        '!function(e,t){"object"==typeof exports&&"undefined"!=typeof module?module.exports=t():"function"==typeof define&&define.amd?define(t):(e=e||self).X=t()}(this,function(){"use strict";var touch=function(id){return id};return touch});',
      ),
    ).toEqual(['(module):FunctionExpression']);
    expect(
      umd(`${TOUCH}function factory(exports) { exports.touch = touch; }
(function (root, f) { if (typeof exports === 'object') f(exports); else f(root.X = {}); })(this, factory);`),
    ).toEqual(['touch:Identifier']);
    // A factory's parameter with a default, handed the export object; an arrow wrapper's expression body.
    expect(
      umd(`(function (root, factory) {
  if (typeof exports === 'object') factory(exports); else factory(root.X = {});
})(this, function (exports = {}) { exports.touch = function () {}; });`),
    ).toEqual(['touch:FunctionExpression']);
    expect(
      umd(
        "((root, factory) => typeof module === 'object' ? module.exports = factory() : root.X = factory())(this, () => ({ touch: function () {} }));",
      ),
    ).toEqual(['touch:FunctionExpression']);
    // A factory's own value that is no function, class or required module is exported as unknown.
    // (`b.x` of the factory's parameter `b`: the factory's call stands for it, no module-scope `b`.)
    const member = commonJsExports(
      parseModule('src/a.js', returnExports.replace('b: b,', 'b: b.x,')).program,
      'src/a.js',
    );
    expect(member.find((e) => e.name === 'b')?.value.type).toBe('CallExpression');
    expect(member.find((e) => e.name === 'b')?.value.callee).toMatchObject({ name: 'factory' });
  });

  it('reads a factory again for a call with other arguments: its module.exports is the last write', () => {
    const wrapper = (b: string): string => `(function (r, f) { module.exports = f(${b}); })(this, fac);`;
    const twice = `function fac(b) { return b; }\n${wrapper("require('./a')")}\n${wrapper("require('./b')")}\n`;
    expect(umdRequired(twice)).toContain('(module):./b');
    // Identical calls read it once.
    const same = `function fac(b) { return b; }\n${wrapper("require('./a')")}\n${wrapper("require('./a')")}\n`;
    expect(umdRequired(same)).toEqual(['(module):./a']);
    const handing = (b: string): string => `(function (r, f) { f(exports, ${b}); })(this, fac);`;
    expect(
      umdRequired(
        `function fac(exports, b) { exports.b = b; }\n${handing("require('./a')")}\n${handing("require('./b')")}\n`,
      ),
    ).toEqual(['b:./a', 'b:./b']);
  });

  it('reads a factory for at most 8 kinds of call: past them module.exports is the call, of unknown kind', () => {
    const modules = Array.from({ length: 9 }, (_, i) => `./m${i}`);
    const wrapper = (b: string): string => `(function (r, f) { module.exports = f(require('${b}')); })(this, fac);`;
    expect(umdRequired(`function fac(b) { return b; }\n${modules.map(wrapper).join('\n')}\n`)).toEqual([
      ...modules.slice(0, 8).map((m) => `(module):${m}`),
      '(module):CallExpression',
    ]);
    // Handed the export object: what the ninth kind of call writes is not read.
    const handing = (b: string): string => `(function (r, f) { f(exports, require('${b}')); })(this, fac);`;
    expect(umdRequired(`function fac(exports, b) { exports.b = b; }\n${modules.map(handing).join('\n')}\n`)).toEqual(
      modules.slice(0, 8).map((m) => `b:${m}`),
    );
  });

  it('takes no parameter at or after a spread argument of a factory call for what it is handed', () => {
    // Node hands the export object to the third parameter: the factory writes on `{}`, exports nothing.
    expect(
      umdRequired(
        '(function (r, f) { f(...[{}, {}], exports); })(this, function (a, exports) { exports.read = function () {}; });',
      ),
    ).toEqual([]);
    expect(
      umdRequired(
        '(function (r, f) { f(...[{}], module); })(this, function (a, module) { module.exports = { read: function () {} }; });',
      ),
    ).toEqual([]);
    // `b` is given undefined here, not `./a`: the call is a value of unknown kind.
    expect(
      umdRequired(
        "(function (r, f) { module.exports = f(...[], require('./a')); })(this, function (a, b) { return b; });",
      ),
    ).toEqual(['(module):CallExpression']);
    // A parameter before the spread argument still gets its argument.
    expect(
      umdRequired(
        "(function (r, f) { module.exports = f(require('./a'), ...[]); })(this, function (b, c) { return b; });",
      ),
    ).toEqual(['(module):./a']);
  });

  it("keeps a wrapper's factory that only a nested function declares or assigns again", () => {
    const names = (code: string): (string | undefined)[] =>
      commonJsExports(parseModule('src/a.js', code).program, 'src/a.js').map((e) => e.name);
    const factory = 'function () { return { touch: function () {} }; }';
    for (const body of [
      // umdjs/umd's AMD branch with an inline module function whose parameter is named factory.
      "if (typeof define === 'function' && define.amd) { define(['b'], function (factory) { return factory; }); } else { module.exports = factory(); }",
      'define.amd && define(function () { var factory = null; factory = 1; return factory; }); module.exports = factory();',
      'var run = function factory() { factory = 1; }; module.exports = factory();',
      // `var factory;` declares the parameter again without changing it.
      'var factory; module.exports = factory();',
    ]) {
      expect(names(`(function (root, factory) { ${body} })(this, ${factory});`), body).toEqual(['touch']);
    }
    // A nested function that assigns the wrapper's own parameter, or a block's own binding, disqualify it.
    for (const body of [
      'function reset() { factory = function () { return {}; }; } module.exports = factory();',
      '{ factory = function () { return {}; }; } module.exports = factory();',
      'for (var factory in root) {} module.exports = factory();',
    ]) {
      expect(names(`(function (root, factory) { ${body} })(this, ${factory});`), body).toEqual([]);
    }
    // A parameter's default runs in the wrapper's scope: it assigns the factory parameter.
    expect(
      names(
        `(function (root, factory, x = (factory = function () { return {}; })) { module.exports = factory(); })(this, ${factory});`,
      ),
    ).toEqual([]);
  });

  it("keeps `exports` and `module` the module's in a wrapper whose AMD branch hands them to a nested function", () => {
    const amd = "typeof define === 'function' && define.amd";
    // umdjs/umd's commonjsStrictGlobal: the AMD branch's module function declares `exports` for itself.
    expect(
      umd(`(function (root, factory) {
  if (${amd}) { define(['exports', 'b'], function (exports, b) { factory((root.commonJsStrictGlobal = exports), b); }); }
  else if (typeof exports === 'object' && typeof exports.nodeName !== 'string') { factory(exports, require('b')); }
  else { factory((root.commonJsStrictGlobal = {}), root.b); }
}(typeof self !== 'undefined' ? self : this, function (exports, b) { exports.touch = function () {}; }));`),
    ).toEqual(['touch:FunctionExpression']);
    expect(
      umd(`(function (root, factory) {
  if (${amd}) { define(['exports'], function (exports) { factory(exports); }); }
  else if (typeof exports === 'object') { factory(exports); }
  else { factory((root.X = {})); }
}(this, function (exports) { exports.touch = function () {}; }));`),
    ).toEqual(['touch:FunctionExpression']);
    expect(
      umd(`(function (root, factory) {
  if (${amd}) { define(function (require, exports, module) { module.exports = factory(); }); }
  else if (typeof module === 'object' && module.exports) { module.exports = factory(); }
}(this, function () { return { touch: function () {} }; }));`),
    ).toEqual(['touch:FunctionExpression']);
    // Also in a factory: a nested function's own `exports` leaves the factory's free `exports` the module's.
    expect(
      umd(`(function (root, factory) { factory(); }(this, function () {
  var wrap = function (exports) { return exports; };
  exports.touch = function () {};
}));`),
    ).toEqual(['touch:FunctionExpression']);
    // The wrapper's own declaration is another object.
    expect(
      umd('(function (root, factory) { var exports = {}; factory(exports); }(this, function (e) { e.touch = 1; }));'),
    ).toEqual([]);
  });

  it('exports nothing from a UMD wrapper with only a browser (or AMD) branch in a browser script, nor from a wrapper not called at the top level', () => {
    const names = (code: string): (string | undefined)[] =>
      commonJsExports(parseModule('src/a.js', code).program, 'src/a.js').map((e) => e.name);
    for (const code of [
      // umdjs/umd amdWeb in a browser script (its top level reads no `require`, `module` or
      // `exports`): `this` is the window, so `root` is the browser's global, not the export object.
      `(function (root, factory) {
  if (typeof define === 'function' && define.amd) { define(['b'], factory); }
  else { root.amdWeb = factory(root.b); }
}(typeof self !== 'undefined' ? self : this, function (b) { return { touch: function () {} }; }));`,
      '(function (root, factory) { root.X = factory(); })(this, function () { return { touch: function () {} }; });',
      'function f() { (function (root, factory) { module.exports = factory(); })(this, function () { return { touch: function () {} }; }); }',
      // A factory that is no plain function literal is not followed.
      '(function (root, factory) { module.exports = factory(); })(this, async function () { return { touch: function () {} }; });',
      // A wrapper that assigns (or declares again) its factory parameter calls another function.
      '(function (root, factory) { factory = function () { return {}; }; module.exports = factory(); })(this, function () { return { touch: function () {} }; });',
      '(function (root, factory) { var factory = function () { return {}; }; module.exports = factory(); })(this, function () { return { touch: function () {} }; });',
    ]) {
      expect(names(code), code).toEqual([]);
    }
  });

  it("exports what a UMD wrapper writes on top-level `this` in a Node module (umdjs/umd's amdWeb)", () => {
    // In Node, top-level `this` is module.exports and `self` is undefined: `root` is the export object.
    const amdWeb = (assign: string): string => `(function (root, factory) {
  if (typeof define === 'function' && define.amd) { define(['b'], factory); }
  else { ${assign}; }
}(typeof self !== 'undefined' ? self : this, function (b) { return function read(name) { return name; }; }));`;
    expect(umd(amdWeb('root.amdWeb = factory(root.b)'), 'src/a.cjs')).toEqual(['amdWeb:FunctionExpression']);
    expect(umd(`var b = require('b');\n${amdWeb('root.read = factory(b)')}`, 'src/a.js')).toEqual([
      'read:FunctionExpression',
    ]);
    expect(
      umd(
        `require('b');\n(function (root, factory) { root.read = factory(); })(this, function () { return function () {}; });`,
        'src/a.js',
      ),
    ).toEqual(['read:FunctionExpression']);
    // Once module.exports is another object, `this` is not the export object; nor is a `root` given `self`.
    expect(umd(`module.exports = {};\n${amdWeb('root.read = factory()')}`, 'src/a.cjs')).toEqual([
      '(module):ObjectExpression',
    ]);
    expect(
      umd(amdWeb('root.read = factory()').replace("typeof self !== 'undefined' ? self : this", 'self'), 'src/a.cjs'),
    ).toEqual([]);
  });

  it("reads umdjs/umd's returnExports in a Node module with its browser branch as one that may run", () => {
    const code = `(function (root, factory) {
  if (typeof define === 'function' && define.amd) { define(['b'], factory); }
  else if (typeof module === 'object' && module.exports) { module.exports = factory(require('b')); }
  else { root.returnExports = factory(root.b); }
}(typeof self !== 'undefined' ? self : this, function (b) {
  return { action: function () {} };
}));`;
    // Node runs the CommonJS branch only; the browser branch is read as one that may run, and
    // exports the factory's call under its name there (no function, class or module a reader takes).
    expect(
      commonJsExports(parseModule('src/a.cjs', code).program, 'src/a.cjs').map(
        (e) => `${e.name ?? '(module)'}:${e.value.type}`,
      ),
    ).toEqual(['action:FunctionExpression', 'returnExports:CallExpression']);
  });

  it('takes a wrapper parameter for top-level `this` only where Node picks `this`, not `globalThis` or `global`', () => {
    const names = (root: string, head = ''): (string | undefined)[] =>
      commonJsExports(
        parseModule(
          'src/a.cjs',
          `${head}(function (root, factory) {
  if (typeof define === 'function' && define.amd) { define([], factory); }
  else { root.hit = factory(); }
}(${root}, function () { return function hit(key) { return key; }; }));`,
        ).program,
        'src/a.cjs',
      ).map((e) => e.name);
    // Node defines globalThis and global: the wrapper writes on the global object, not on module.exports.
    for (const root of [
      "typeof globalThis !== 'undefined' ? globalThis : this",
      "typeof global !== 'undefined' ? global : this",
      "typeof self !== 'undefined' ? self : typeof globalThis !== 'undefined' ? globalThis : this",
      'globalThis || this',
      'global ?? this',
      "typeof self !== 'undefined' ? this : self",
      'cond ? this : other',
      // Reading an undeclared `self` or `window` throws in Node: only a `typeof` test is safe.
      'self || this',
      'window ?? this',
      "typeof self === 'undefined' ? self || this : self",
    ]) {
      expect(names(root), root).toEqual([]);
    }
    // A file that declares `self` itself: no telling what it holds.
    expect(names('self || this', 'var self = globalThis.frame;\n')).toEqual([]);
    // `self` and `window` are undefined in Node: the branch it takes is `this`.
    for (const root of [
      'this',
      '(0, this)',
      'this || {}',
      "typeof window !== 'undefined' ? window : this",
      "typeof self === 'undefined' ? this : self",
      "'undefined' != typeof self ? self : this",
      "typeof self !== 'undefined' ? self : typeof window !== 'undefined' ? window : this",
    ]) {
      expect(names(root), root).toEqual(['hit']);
    }
  });

  it("reads Object.defineProperty onto the export object, a getter's returned value, and esbuild's export-names note", () => {
    for (const code of [
      'Object.defineProperty(exports, "touch", { enumerable: true, get: function () { return touch; } });',
      "Object.defineProperty(module.exports, 'touch', { value: touch });",
      "var api = module.exports;\nObject.defineProperty(api, 'touch', { get() { return touch; } });",
      // Object.assign copies what a getter returns.
      'Object.assign(module.exports, { get touch() { return touch; } });',
      // esbuild's note for Node's named-export detection: it never runs, but names the exports.
      'module.exports = __toCommonJS(api_exports);\n0 && (module.exports = { touch });',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
    for (const code of [
      "Object.defineProperty(globalThis.api, 'touch', { value: touch });",
      "module.exports = function main() {};\nObject.defineProperty(exports, 'touch', { value: touch });",
      "Object.defineProperty(exports, 'touch', { set(v) { touch = v; } });",
      'Object.assign(module.exports, { set touch(v) { other(touch); } });',
      'var module = { exports: {} };\n0 && (module.exports = { touch });',
      '1 && (globalThis.api = { touch });',
    ]) {
      expect(
        exported(`${TOUCH}${code}\n`).filter((n) => n === 'touch'),
        code,
      ).toEqual([]);
    }
  });

  it("follows a name bound to Node's module itself, as module", () => {
    for (const code of [
      'var m = module;\nm.exports = { touch };',
      'const m = module;\nm.exports.touch = touch;',
      'var m = module;\nvar api = m.exports;\napi.touch = touch;',
      'var m;\nm = module;\nm.exports = { touch };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
    for (const code of [
      'var m = module;\nm = { exports: {} };\nm.exports = { touch };',
      'var module = { exports: {} };\nvar m = module;\nm.exports = { touch };',
      'var m = { exports: {} };\nm.exports = { touch };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
  });

  it('reads an export written in a top-level if, else or try as an export, which it may be', () => {
    for (const code of [
      'if (require.main !== module) module.exports = { touch };',
      'if (require.main === module) main();\nelse { module.exports = { touch }; }',
      "if (typeof module !== 'undefined' && module.exports) { module.exports = { touch }; }",
      'try { module.exports = { touch }; } catch (e) {}',
      "try { require('./native'); } catch { exports.touch = touch; }",
      'if (a) {} else if (b) { var api = module.exports = {}; api.touch = touch; }',
      // A write that may not run takes nothing away: `exports` may still be the export object.
      'if (a) module.exports = function main() {};\nexports.touch = touch;',
      'if (a) { var exports = {}; }\nexports.touch = touch;',
      'if (a) { ({ module } = globalThis.ctx); }\nmodule.exports = { touch };',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
    for (const code of [
      // A block that declares its own `module` or `exports` writes to that one.
      '{ const module = { exports: {} };\nmodule.exports = { touch }; }',
      'if (a) { let exports = {};\nexports.touch = touch; }',
      // Loops and functions are not read (a function may never be called).
      'function f() { module.exports = { touch }; }',
      'while (a) { module.exports = { touch }; }',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
  });

  it('reads the statements of a block in order: a rebinding holds for the rest of it, and after a block that may not run only may', () => {
    for (const code of [
      // A plain block always runs: what it rebinds holds after it as well.
      '{ var exports = {}; exports.touch = touch; }',
      '{ var exports = {}; }\nexports.touch = touch;',
      '{ module.exports = function main() {}; }\nexports.touch = touch;',
      // Where the block runs, the write after the rebinding goes to the new object.
      'if (a) { module.exports = function main() {}; exports.touch = touch; }',
      "if (typeof window !== 'undefined') { var module = { exports: {} }; module.exports.touch = touch; }",
      'if (a) { ({ exports } = globalThis.ctx); exports.touch = touch; }',
      'var m = module;\nif (c) { m = { exports: {} }; m.exports.touch = touch; }',
      'var api = module.exports;\ntry { api = {}; api.touch = touch; } catch {}',
      'try { x(); } catch { var exports = {}; exports.touch = touch; }',
      'if (a) { var api = module.exports; api = {}; }\napi.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual([]);
    }
    for (const code of [
      // After a block that may not run (or stop part-way), a name may still hold what it held.
      'try { module.exports = function main() {}; } catch {}\nexports.touch = touch;',
      'if (a) { if (b) { var exports = {}; } exports.touch = touch; }',
      'if (a) { var exports = {}; } else { exports.touch = touch; }',
      'if (a) { var exports = {}; } else if (b) { module.exports = function main() {}; } else { exports.touch = touch; }',
      'try { var exports = {}; } finally { exports.touch = touch; }',
      // What such a block binds may hold after it.
      'if (a) { var api = module.exports; }\napi.touch = touch;',
      'if (a) { exports = module.exports = {}; }\nexports.touch = touch;',
      'if (a) { module.exports = function main() {}; if (b) { var api = module.exports = {}; } }\napi.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
  });

  it("skips a branch that never runs, reads two branches that both replace module.exports as a replacement, and a for head's var", () => {
    for (const code of [
      // A literal always-false test: the branch never runs (and the else branch always does).
      'if (false) { module.exports = { touch }; }',
      'if (0) exports.touch = touch;',
      "if ('') { exports.touch = touch; }",
      'if (null) { exports.touch = touch; }',
      'if (undefined) { exports.touch = touch; }',
      'if (void 0) { exports.touch = touch; }',
      'if (false) {} else { var module = { exports: {} }; }\nmodule.exports = { touch };',
      // One of the branches runs, and either detaches `exports` and every alias of the old object.
      'if (c) { module.exports = {}; } else { module.exports = {}; }\nexports.touch = touch;',
      'if (c) module.exports = function main() {};\nelse module.exports = function other() {};\nexports.touch = touch;',
      'var api = module.exports;\nif (c) { module.exports = {}; } else { module.exports = {}; }\napi.touch = touch;',
      // A for statement's `var` initializer runs once, as a declaration.
      'for (var module = { exports: {} };;) break;\nmodule.exports.touch = touch;',
      'for (var exports = {};;) break;\nexports.touch = touch;',
    ]) {
      expect(
        exported(`${TOUCH}${code}\n`).filter((n) => n === 'touch'),
        code,
      ).toEqual([]);
    }
    for (const code of [
      'if (false) {} else { module.exports = { touch }; }',
      'if (c) { module.exports = {}; } else { exports.touch = touch; module.exports = {}; }',
      'if (c) { exports = module.exports = {}; } else { exports = module.exports = {}; }\nexports.touch = touch;',
      'if (c) { var api = module.exports = {}; } else { module.exports = {}; }\napi.touch = touch;',
      'if (c) { module.exports = {}; } else { x(); }\nexports.touch = touch;',
      'if (c) { module.exports = {}; } else if (d) { module.exports = {}; }\nexports.touch = touch;',
      'if (c) { try { module.exports = {}; } catch {} } else { module.exports = {}; }\nexports.touch = touch;',
      'for (let module = { exports: {} };;) break;\nmodule.exports.touch = touch;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
  });

  it('reads nothing after a return that always runs, at the top level as in a UMD wrapper or factory', () => {
    for (const code of [
      // A CommonJS file may return at its top level: Node runs nothing after it.
      'exports.touch = touch;\nreturn;\nexports.dead = dead;',
      'module.exports = { touch };\nreturn;\nmodule.exports = { dead };',
      // A plain block, a `finally` and the `else` of a literal false test always run.
      'exports.touch = touch;\n{ return; }\nexports.dead = dead;',
      'exports.touch = touch;\ntry { x(); } finally { return; }\nexports.dead = dead;',
      'exports.touch = touch;\nif (false) {} else { return; }\nexports.dead = dead;',
      // The returned value itself is read.
      'return module.exports = { touch };\nexports.dead = dead;',
    ]) {
      expect(exported(`${TOUCH}${DEAD}${code}\n`), code).toEqual(['touch']);
    }
    for (const code of [
      // A return that may not run (in an if, a try, a loop or a function) leaves what follows read.
      'if (require.main === module) return;\nexports.dead = dead;',
      'if (a) { return; } else { x(); }\nexports.dead = dead;',
      'try { x(); return; } catch {}\nexports.dead = dead;',
      'while (a) return;\nexports.dead = dead;',
      'function f() { return; }\nexports.dead = dead;',
    ]) {
      expect(exported(`${TOUCH}${DEAD}exports.touch = touch;\n${code}\n`), code).toEqual(['dead', 'touch']);
    }
    const factory = '{ return { touch: touch }; }';
    // A wrapper's body: nothing after its return runs; the value it returns is read.
    expect(umd(`${TOUCH}(function (f) { return; module.exports = f(); })(function () ${factory});`)).toEqual([]);
    expect(
      umd(
        `${TOUCH}(function (f) { if (typeof window === 'object') return; module.exports = f(); })(function () ${factory});`,
      ),
    ).toEqual(['touch:Identifier']);
    expect(umd(`${TOUCH}(function (f) { return module.exports = f(); })(function () ${factory});`)).toEqual([
      'touch:Identifier',
    ]);
    // A factory's body handed the export object: what it writes after its return is not written.
    expect(
      umd(`${TOUCH}${DEAD}(function (root, f) { if (typeof exports === 'object') f(exports); })(this, function (exports) {
  exports.touch = touch;
  return;
  exports.dead = dead;
});`),
    ).toEqual(['touch:Identifier']);
    // A var after the factory's return is never given its value; a function declaration is hoisted.
    expect(
      umd(`(function (f) { module.exports = f(); })(function () {
  return { touch: touch, hit: hit };
  var touch = function () {};
  function hit(req) {}
});`),
    ).toEqual(['touch:CallExpression', 'hit:FunctionDeclaration']);
  });

  it('reads what a return that may not run returns, and nothing after a return in its own block', () => {
    for (const code of [
      // Node exports what such a return writes whenever it runs (here: when the file is required).
      'if (require.main !== module) return module.exports = { touch };',
      'try { return exports.touch = touch; } catch {}',
      'if (a) { x(); } else return Object.assign(exports, { touch });',
      // Nothing after a return in its block runs.
      'if (a) { exports.touch = touch; return; exports.dead = dead; }',
      'try { exports.touch = touch; return; module.exports = { dead }; } catch {}',
    ]) {
      expect(exported(`${TOUCH}${DEAD}${code}\n`), code).toEqual(['touch']);
    }
    // What follows an `if` runs only after a branch that did not return.
    for (const code of [
      'if (a) module.exports = { touch };\nelse { return; }\nexports.dead = dead;',
      'if (a) { return; } else { module.exports = { touch }; }\nexports.dead = dead;',
      // Both branches return: nothing after the `if` runs.
      'exports.touch = touch;\nif (a) { return; } else { return; }\nexports.dead = dead;',
      'exports.touch = touch;\nif (a) { if (b) return; else return; exports.dead = dead; }\nexports.touch = touch;',
      // A block that declares its own `exports` is not read, but its return ends the reading.
      'exports.touch = touch;\n{ let exports = 1; return; }\nexports.dead = dead;',
      // A name the returning branch bound to its new export object never runs after the `if`.
      'if (a) { var e = module.exports = {}; return; } else { module.exports = { touch }; }\ne.dead = dead;',
    ]) {
      expect(exported(`${TOUCH}${DEAD}${code}\n`), code).toEqual(['touch']);
    }
    // A branch that returns takes nothing away from the other: `exports` may still be Node's.
    expect(exported(`${TOUCH}if (a) { return; } else { x(); }\nexports.touch = touch;\n`)).toEqual(['touch']);
    // A UMD wrapper returning the factory's call in its CommonJS branch: the factory writes `touch`.
    const wrapper = (test: string): string =>
      `${TOUCH}(function (root, f) { ${test}return f(exports); root.X = f({}); })(this, function (e) { e.touch = touch; });`;
    expect(umd(wrapper(''))).toEqual(['touch:Identifier']);
    expect(umd(wrapper("if (typeof exports === 'object') "))).toEqual(['touch:Identifier']);
  });

  it('takes a file with a top-level return for a Node module, whose top-level this is the export object', () => {
    for (const code of [
      'this.touch = touch;\nreturn;',
      'this.touch = touch;\nif (a) { return; }',
      '(function (root, f) { root.touch = f(); })(this, function () { return touch; });\nreturn;',
    ]) {
      expect(exported(`${TOUCH}${code}\n`), code).toEqual(['touch']);
    }
    // Without the return (and no read of require, module or exports) it is a browser script.
    expect(exported(`${TOUCH}this.touch = touch;\n`)).toEqual([]);
    // A return in a function says nothing.
    expect(exported(`${TOUCH}this.touch = touch;\nfunction f() { return; }\n`)).toEqual([]);
  });

  it("takes no generator or async getter's value, and esbuild's names note only after module.exports = __toCommonJS(…)", () => {
    for (const code of [
      "Object.defineProperty(exports, 'touch', { get: function* () { return touch; } });",
      "Object.defineProperty(exports, 'touch', { get: async function () { return touch; } });",
      "Object.defineProperty(exports, 'touch', { get: async () => touch });",
      'module.exports = function main() {};\n0 && (module.exports = { touch });',
      '0 && (module.exports = { touch });',
      'module.exports = __toCommonJS(api_exports);\nmodule.exports = function main() {};\n0 && (module.exports = { touch });',
    ]) {
      expect(
        exported(`${TOUCH}${code}\n`).filter((n) => n === 'touch'),
        code,
      ).toEqual([]);
    }
    expect(
      exported(`${TOUCH}module.exports = __toCommonJS(api_exports);\n0 && (module.exports = { touch });\n`),
    ).toEqual(['touch']);
  });

  it('reads a long top-level || or ?? chain without recursing once per operator', () => {
    // Left-nested as the parser builds `a || a || …`: 20,000 operators (the parser alone refuses a
    // file past 15,000, so the chain is lengthened in the tree); one frame per operator overflowed.
    const node = (type: string, fields: Record<string, unknown>): AstNode => ({ type, start: 0, end: 0, ...fields });
    const identifier = (name: string): AstNode => node('Identifier', { name });
    /** Gives the `index`th top-level declaration of `program` the value `init`. */
    const setInit = (program: AstNode, index: number, init: AstNode): void => {
      Object.assign(children(children(program, 'body')[index]!, 'declarations')[0]!, { init });
    };
    const chain = (operator: string, last: AstNode): AstNode => {
      let n = last;
      for (let i = 0; i < 20_000; i++) n = node('LogicalExpression', { operator, left: n, right: identifier('a') });
      return n;
    };
    const exportsOf = (program: AstNode): string[] =>
      commonJsExports(program, 'src/a.js').map((e) => e.name ?? '(module)');
    for (const operator of ['||', '??']) {
      const code = `${TOUCH}var flags = a;\nvar module = a;\nmodule.exports = { touch };\n`;
      const program = parseModule('src/a.js', code).program;
      setInit(program, 1, chain(operator, identifier('a')));
      // `var module = module || a || …`: Node's module, the export below still counts.
      setInit(program, 2, chain(operator, identifier('module')));
      expect(exportsOf(program), operator).toEqual(['(module)']);
    }
    // A ternary nested as deep in its alternates.
    const program = parseModule('src/a.js', `${TOUCH}var module = a;\nmodule.exports = { touch };\n`).program;
    let shim = identifier('module');
    for (let i = 0; i < 20_000; i++) {
      shim = node('ConditionalExpression', { test: identifier('a'), consequent: identifier('a'), alternate: shim });
    }
    setInit(program, 1, shim);
    expect(exportsOf(program)).toEqual(['(module)']);
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
