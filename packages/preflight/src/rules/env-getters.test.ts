import { describe, expect, it } from 'vitest';
import { COMMONJS_EXPORT_CHAINS, COMMONJS_EXPORT_SEMANTICS } from '../../test/fixtures/commonjs-chain-cases.ts';
import { IMPORTED_BLOCK_GETTER } from '../../test/fixtures/env-fallback-cases.ts';
import {
  AMBIGUOUS_STAR_EXPORTS,
  COMMONJS_EXPORTS,
  COMMONJS_REEXPORTS,
  CONDITIONS_AND_PATTERNS,
  cycleOrderAndLongChain,
  DEFAULT_ARGUMENT_AND_OR,
  DEFAULT_ARGUMENTS,
  EXPORTED_ALIASES,
  exportsPatternsAndNesting,
  IMPORT_OR_REQUIRE,
  IMPORTED_GETTER_ALONE,
  NOT_FOLLOWED_IMPORTS,
  packageWithRootExport,
  REEXPORT_CYCLES,
  REEXPORTED_IMPORTS,
  REEXPORTED_NAMESPACES,
  RELATIVE_IMPORTS,
  SECOND_PARAMETER_ROLES,
  sharedBarrel,
  TRAILING_SLASH_AND_HIDING,
  WORKSPACE_OR_NPM_NAME,
  WORKSPACE_PACKAGES,
} from '../../test/fixtures/env-getter-cases.ts';
import { useTempProject } from '../../test/fixtures/temp-project.ts';
import { analyzeFile } from '../engine.ts';

/** The literal a scanned file falls back to (kept out of this file's own source as one piece). */
const DEV_FALLBACK = "'dev-secret'";
/** A CommonJS module reading JWT_SECRET through `./env`'s getter, with a literal fallback. */
const CJS_APP = `const env = require('./env');\nmodule.exports.secret = env.read('JWT_SECRET') || ${DEV_FALLBACK};\n`;

const { write, reported } = useTempProject('env-fallback-literal');

describe('env getters imported from other files', () => {
  it('follows relative imports the way TypeScript and Node resolve them', async () => {
    write(RELATIVE_IMPORTS);
    expect(await reported()).toEqual(['src/a.ts:2', 'src/b.ts:2', 'src/c.mts:2']);
  });

  it('follows an imported block-bodied getter that falls back to its own literal', async () => {
    write(IMPORTED_BLOCK_GETTER);
    expect(await reported()).toEqual(['src/app.ts:2']);
  });

  it('reads CommonJS exports and requires', async () => {
    write(COMMONJS_EXPORTS);
    expect(await reported()).toEqual(['lib/app.js:3', 'lib/app.js:3']);
  });

  it('reads CommonJS export chains, also inside a declaration (var x = module.exports = …)', async () => {
    write(COMMONJS_EXPORT_CHAINS);
    expect(await reported()).toEqual([
      'lib/app.js:8',
      'lib/app.js:8',
      'lib/app.js:8',
      'lib/app.js:9',
      'lib/app.js:9',
      'lib/app.js:9',
    ]);
  });

  it('reads what CommonJS writes export: &&= and a declared alias do, ||= on module.exports, a detached exports, a shadowed module and an ES module do not', async () => {
    write(COMMONJS_EXPORT_SEMANTICS);
    expect(await reported()).toEqual([
      'lib/app.js:12',
      'lib/app.js:13',
      'lib/app.js:14',
      'lib/app.js:15',
      'lib/app.js:16',
    ]);
  });

  it('follows a getter set on exports after module.exports = exports = {}, and one of a .js file that imports', async () => {
    const app = CJS_APP;
    for (const env of [
      'module.exports = exports = {};\nexports.read = (name) => process.env[name];\n',
      'var api;\nmodule.exports = api = {};\napi.read = (name) => process.env[name];\n',
      // Runs only compiled to CommonJS (Babel), as a .ts file that imports and assigns module.exports.
      "import x from './x';\nmodule.exports = { read: (name) => process.env[name] };\n",
    ]) {
      write({ 'src/env.js': env, 'src/x.js': 'export default 1;\n', 'src/app.js': app });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
  });

  it('follows a getter exported by Object.assign, through a name bound to module, or behind an if or try', async () => {
    const app = CJS_APP;
    const read = 'const read = (name) => process.env[name];\n';
    for (const env of [
      'Object.assign(module.exports, { read });\n',
      'Object.assign(exports, { read: (name) => process.env[name] });\n',
      'var m = module;\nm.exports = { read };\n',
      'if (require.main !== module) module.exports = { read };\n',
      "if (typeof module !== 'undefined' && module.exports) { module.exports.read = read; }\n",
      "try { module.exports = require('./native'); } catch { module.exports = { read }; }\n",
    ]) {
      write({ 'src/env.js': `${read}${env}`, 'src/app.js': app });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
    // `module` (or `exports`) rebound by a destructuring assignment: the write exports nothing.
    for (const env of [
      '({ module } = globalThis.ctx);\nmodule.exports = { read };\n',
      '[exports] = globalThis.shims;\nexports.read = read;\n',
      'var module = (0, { exports: {} }) || module;\nmodule.exports = { read };\n',
    ]) {
      write({ 'src/env.js': `${read}${env}`, 'src/app.js': app });
      expect(await reported(), env).toEqual([]);
    }
  });

  it("follows a getter exported by a UMD wrapper's CommonJS branch, and by its browser branch only in a Node module", async () => {
    const app = CJS_APP;
    const amd = "if (typeof define === 'function' && define.amd) { define(['exports'], factory); }";
    for (const env of [
      // umdjs/umd returnExports and commonjsStrict, with the getter declared in the factory.
      `(function (root, factory) {\n${amd}\nelse if (typeof module === 'object' && module.exports) { module.exports = factory(); }\nelse { root.env = factory(); }\n}(this, function () {\nfunction read(name) { return process.env[name]; }\nreturn { read: read };\n}));\n`,
      `(function (root, factory) {\n${amd}\nelse if (typeof exports === 'object') { factory(exports); }\nelse { factory((root.env = {})); }\n}(this, function (exports) {\nexports.read = function (name) { return process.env[name]; };\n}));\n`,
    ]) {
      write({ 'src/env.js': env, 'src/app.js': app });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
    // umdjs/umd amdWeb: `root` is top-level `this`, which Node makes module.exports in a file that
    // shows it is a Node module (here by a top-level `require`); in a browser script it is the window.
    const amdWeb = `(function (root, factory) {\n${amd}\nelse { root.read = factory(); }\n}(typeof self !== 'undefined' ? self : this, function () {\nreturn function (name) { return process.env[name]; };\n}));\n`;
    write({ 'src/env.js': `const path = require('node:path');\n${amdWeb}`, 'src/app.js': app });
    expect(await reported()).toEqual(['src/app.js:2']);
    write({ 'src/env.js': amdWeb, 'src/app.js': app });
    expect(await reported()).toEqual([]);
  });

  it('follows a getter a UMD wrapper exports where its AMD branch hands `exports` or `module` to a nested function', async () => {
    const getter = 'function (name) { return process.env[name]; }';
    for (const env of [
      // umdjs/umd's commonjsStrictGlobal.
      `(function (root, factory) {\nif (typeof define === 'function' && define.amd) { define(['exports', 'b'], function (exports, b) { factory((root.env = exports), b); }); }\nelse if (typeof exports === 'object' && typeof exports.nodeName !== 'string') { factory(exports, require('b')); }\nelse { factory((root.env = {}), root.b); }\n}(typeof self !== 'undefined' ? self : this, function (exports, b) {\nexports.read = ${getter};\n}));\n`,
      `(function (root, factory) {\nif (typeof define === 'function' && define.amd) { define(['exports'], function (exports) { factory(exports); }); }\nelse if (typeof exports === 'object') { factory(exports); }\nelse { factory((root.env = {})); }\n}(this, function (exports) {\nexports.read = ${getter};\n}));\n`,
      `(function (root, factory) {\nif (typeof define === 'function' && define.amd) { define(function (require, exports, module) { module.exports = factory(); }); }\nelse if (typeof module === 'object' && module.exports) { module.exports = factory(); }\nelse { root.env = factory(); }\n}(this, function () {\nreturn { read: ${getter} };\n}));\n`,
    ]) {
      write({ 'src/env.js': env, 'src/app.js': CJS_APP });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
  });

  it('follows the getter a second UMD wrapper hands a shared factory, whose export Node keeps (the last)', async () => {
    const factory = 'function fac(read) { return { read: read }; }\n';
    const wrapper = (read: string): string =>
      `(function (root, f) { if (typeof module === 'object') { module.exports = f(${read}); } else { root.env = f(${read}); } })(this, fac);\n`;
    const plain = 'function (name) { return name; }';
    const getter = 'function (name) { return process.env[name]; }';
    write({ 'src/env.js': `${factory}${wrapper(plain)}${wrapper(getter)}`, 'src/app.js': CJS_APP });
    expect(await reported()).toEqual(['src/app.js:2']);
    // The second call's `read` replaces the getter.
    write({ 'src/env.js': `${factory}${wrapper(getter)}${wrapper(plain)}`, 'src/app.js': CJS_APP });
    expect(await reported()).toEqual([]);
    // handed the export object: `fac(exports, read)` writes `read` on it.
    const writes = 'function fac(exports, read) { exports.read = read; }\n';
    const handing = (read: string): string =>
      `(function (root, f) { if (typeof exports === 'object') f(exports, ${read}); else f(root.env = {}, ${read}); })(this, fac);\n`;
    write({
      'src/env.js': `${writes}${handing(plain)}${handing(getter)}`,
      'src/app.js': CJS_APP,
    });
    expect(await reported()).toEqual(['src/app.js:2']);
  });

  it('follows a getter exported as TypeScript and esbuild compile modules to CommonJS', async () => {
    const app = CJS_APP;
    // TypeScript's output for `export function read` in read.ts and `export { read } from './read'`.
    const read =
      '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.read = read;\nfunction read(name) { return process.env[name]; }\n';
    const esbuild = [
      'var __defProp = Object.defineProperty;',
      'var __export = (target, all) => { for (var name in all) __defProp(target, name, { get: all[name], enumerable: true }); };',
      'var __toCommonJS = (mod) => mod;',
      'var env_exports = {};',
      '__export(env_exports, { read: () => read });',
      'module.exports = __toCommonJS(env_exports);',
      'const read = (name) => process.env[name];',
      // esbuild writes the names for Node's CommonJS named-export detection (cjs-module-lexer).
      '0 && (module.exports = {\n  read\n});',
    ].join('\n');
    for (const env of [
      '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nexports.read = void 0;\nvar read_1 = require("./read");\nObject.defineProperty(exports, "read", { enumerable: true, get: function () { return read_1.read; } });\n',
      "var read_1 = require('./read');\nexports.read = read_1.read;\n",
      "const read = (name) => process.env[name];\nObject.defineProperty(module.exports, 'read', { value: read });\n",
      "const read = (name) => process.env[name];\nObject.defineProperty(exports, 'read', { get: () => read });\n",
      `${esbuild}\n`,
    ]) {
      write({ 'src/read.js': read, 'src/env.js': env, 'src/app.js': app });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
    // Onto another object, another member of the required module, a hint behind a true condition.
    for (const env of [
      "const read = (name) => process.env[name];\nObject.defineProperty(globalThis.api, 'read', { value: read });\n",
      "var read_1 = require('./read');\nexports.read = read_1.other;\n",
      'const read = (name) => process.env[name];\n1 && (globalThis.api = { read });\n',
    ]) {
      write({ 'src/read.js': read, 'src/env.js': env, 'src/app.js': app });
      expect(await reported(), env).toEqual([]);
    }
  });

  it('follows a getter called on a require() or import() of its module without binding it to a name', async () => {
    const env = {
      'src/env.js': 'module.exports = { read: (name) => process.env[name] };\n',
      'src/whole.js': 'module.exports = (name) => process.env[name];\n',
    };
    for (const app of [
      `const secret = require('./env').read('JWT_SECRET') || ${DEV_FALLBACK};\n`,
      `const secret = require('./whole')('JWT_SECRET') || ${DEV_FALLBACK};\n`,
      `const secret = (await import('./env.js')).read('JWT_SECRET') || ${DEV_FALLBACK};\n`,
    ]) {
      write({ ...env, 'src/app.js': app });
      expect(await reported(), app).toEqual(['src/app.js:1']);
    }
    // Not a getter: another member, a module outside the project, a shadowed `require`.
    for (const app of [
      `const secret = require('./env').other('JWT_SECRET') || ${DEV_FALLBACK};\n`,
      `const secret = require('./missing').read('JWT_SECRET') || ${DEV_FALLBACK};\n`,
      `function f(require) { return require('./env').read('JWT_SECRET') || ${DEV_FALLBACK}; }\n`,
      `const require = (p) => ({ read: () => 'x' });\nconst secret = require('./env').read('JWT_SECRET') || ${DEV_FALLBACK};\n`,
    ]) {
      write({ ...env, 'src/app.js': app });
      expect(await reported(), app).toEqual([]);
    }
    // A module-level require made by createRequire loads modules as Node's does.
    write({
      ...env,
      'src/app.js': `import { createRequire } from 'node:module';\nconst require = createRequire(import.meta.url);\nconst secret = require('./env').read('JWT_SECRET') || ${DEV_FALLBACK};\n`,
    });
    expect(await reported()).toEqual(['src/app.js:3']);
  });

  it("follows a require that is Node's: createRequire imported from node:module under any name, module.require bound to module", async () => {
    const env = { 'src/env.js': 'module.exports = { read: (name) => process.env[name] };\n' };
    const use = `const secret = require('./env').read('JWT_SECRET') || ${DEV_FALLBACK};\n`;
    for (const made of [
      "import { createRequire as mk } from 'node:module';\nconst require = mk(import.meta.url);\n",
      "import module from 'node:module';\nconst require = module['createRequire'](import.meta.url);\n",
      "import * as m from 'module';\nconst require = m.createRequire(import.meta.url);\n",
      "import { createRequire } from 'node:module';\nlet require;\nrequire = createRequire(import.meta.url);\n",
      'var require = module.require.bind(module);\n',
    ]) {
      write({ ...env, 'src/app.js': `${made}${use}` });
      const line = made.split('\n').length;
      expect(await reported(), made).toEqual([`src/app.js:${line}`]);
    }
    // Not Node's: a createRequire of the file's own or of another module, one shadowed by a
    // parameter, module.require unbound (it resolves from nowhere), bound to another object or of
    // a `module` the file declares, a require also assigned something else (the wrapper's too).
    for (const made of [
      "function createRequire() { return () => ({ read: () => 'x' }); }\nconst require = createRequire(import.meta.url);\n",
      "import { createRequire } from './my-module.js';\nconst require = createRequire(import.meta.url);\n",
      "import * as m from './my-module.js';\nconst require = m.createRequire(import.meta.url);\n",
      'var require = module.require;\n',
      'var require = module.require.bind(globalThis.other);\n',
      "const module = { require: () => ({ read: () => 'x' }) };\nvar require = module.require.bind(module);\n",
      "require = () => ({ read: () => 'x' });\n",
      "import { createRequire } from 'node:module';\nlet require = createRequire(import.meta.url);\nrequire = () => ({ read: () => 'x' });\n",
      "import { createRequire } from 'node:module';\nlet require;\nrequire = createRequire(import.meta.url);\n({ require } = globalThis.shims);\n",
    ]) {
      write({
        ...env,
        'src/my-module.js': 'export const createRequire = () => () => ({});\n',
        'src/app.js': `${made}${use}`,
      });
      expect(await reported(), made).toEqual([]);
    }
    write({
      ...env,
      'src/app.js': `import { createRequire } from 'node:module';\nfunction f(createRequire) {\n  const require = createRequire(import.meta.url);\n  return require('./env').read('JWT_SECRET') || ${DEV_FALLBACK};\n}\n`,
    });
    expect(await reported()).toEqual([]);
  });

  it("takes createRequire's require for Node's only with the file's own path as the base, and no require or module written again", async () => {
    const env = { 'src/env.js': 'module.exports = { read: (name) => process.env[name] };\n' };
    const use = `const secret = require('./env').read('JWT_SECRET') || ${DEV_FALLBACK};\n`;
    const mk = "import { createRequire } from 'node:module';\n";
    for (const made of [
      `${mk}const require = createRequire(import.meta.filename);\n`,
      `${mk}const require = createRequire(__filename);\n`,
      `${mk}import { pathToFileURL } from 'node:url';\nconst require = createRequire(pathToFileURL(__filename));\n`,
      `${mk}import * as url from 'url';\nconst require = createRequire(url.pathToFileURL(__filename).href);\n`,
      `${mk}import { fileURLToPath } from 'node:url';\nconst __filename = fileURLToPath(import.meta.url);\nconst require = createRequire(__filename);\n`,
    ]) {
      write({ ...env, 'src/app.js': `${made}${use}` });
      expect(await reported(), made).toEqual([`src/app.js:${made.split('\n').length}`]);
    }
    // Another base resolves './env' elsewhere; a second `var require` or a rewritten `module` is not Node's.
    for (const made of [
      `${mk}const require = createRequire(new URL('../vendor/', import.meta.url));\n`,
      `${mk}const require = createRequire(globalThis.base);\n`,
      `${mk}const require = createRequire();\n`,
      `${mk}function pathToFileURL() { return globalThis.base; }\nconst require = createRequire(pathToFileURL(__filename));\n`,
      `${mk}const __filename = globalThis.base;\nconst require = createRequire(__filename);\n`,
      `${mk}var require = createRequire(import.meta.url);\nvar require = () => ({ read: () => 'x' });\n`,
      `${mk}var require = createRequire(import.meta.url);\nif (c) { var require = globalThis.fake; }\n`,
      `${mk}var require = createRequire(import.meta.url);\nfor (var require = globalThis.fake; ; ) break;\n`,
      `${mk}var require = createRequire(import.meta.url);\nfor (var require of globalThis.fakes) break;\n`,
      `${mk}const require = createRequire(__filename.href);\n`,
      `${mk}const require = createRequire(import.meta.dirname);\n`,
      "module = { require: () => ({ read: () => 'x' }) };\nvar require = module.require.bind(module);\n",
      '({ module } = globalThis.ctx);\nvar require = module.require.bind(module);\n',
    ]) {
      write({ ...env, 'src/app.js': `${made}${use}` });
      expect(await reported(), made).toEqual([]);
    }
  });

  it("follows TypeScript's and esbuild's compiled `export * from` (__exportStar, __reExport)", async () => {
    const app = CJS_APP;
    const read = '"use strict";\nexports.read = read;\nfunction read(name) { return process.env[name]; }\n';
    const tsHelper =
      'var __exportStar = (this && this.__exportStar) || function(m, exports) { for (var p in m) if (p !== "default" && !Object.prototype.hasOwnProperty.call(exports, p)) exports[p] = m[p]; };\n';
    const esbuildHelpers =
      'var __reExport = (target, mod, secondTarget) => { for (const k in mod) if (k !== "default") { target[k] = mod[k]; if (secondTarget) secondTarget[k] = mod[k]; } };\nvar __toCommonJS = (mod) => mod;\nvar env_exports = {};\nmodule.exports = __toCommonJS(env_exports);\n';
    for (const env of [
      `"use strict";\n${tsHelper}Object.defineProperty(exports, "__esModule", { value: true });\n__exportStar(require("./read"), exports);\n`,
      '"use strict";\nObject.defineProperty(exports, "__esModule", { value: true });\nconst tslib_1 = require("tslib");\ntslib_1.__exportStar(require("./read"), exports);\n',
      `${esbuildHelpers}__reExport(env_exports, require("./read"), module.exports);\n`,
    ]) {
      write({ 'src/read.js': read, 'src/env.js': env, 'src/app.js': app });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
    for (const env of [
      `${tsHelper}__exportStar(require("./read"), globalThis.other);\n`,
      `${esbuildHelpers}__reExport(env_exports, require("./read"));\n`,
      `${tsHelper}module.exports = function main() {};\n__exportStar(require("./read"), exports);\n`,
    ]) {
      write({ 'src/read.js': read, 'src/env.js': env, 'src/app.js': app });
      expect(await reported(), env).toEqual([]);
    }
  });

  it("follows a getter exported through top-level this, Object.assign of a required module and module's destructured exports", async () => {
    const app = CJS_APP;
    const getter = 'const read = (name) => process.env[name];\n';
    // Node's require read at the top level: the file is a Node module.
    const node = "const { join } = require('node:path');\n";
    for (const [env, extra] of [
      // `this` at the top level of a CommonJS module is the export object.
      [`${node}${getter}this.read = read;\n`, {}],
      [`${node}${getter}var api = this;\napi.read = read;\n`, {}],
      [`${node}${getter}Object.assign(this, { read });\n`, {}],
      ["var r = require('./read');\nthis.read = r.read;\n", { 'src/read.js': `${getter}exports.read = read;\n` }],
      ["Object.assign(this, require('./read'));\n", { 'src/read.js': `${getter}exports.read = read;\n` }],
      // Every property of the required module is copied onto the export object.
      ["Object.assign(module.exports, require('./read'));\n", { 'src/read.js': `${getter}exports.read = read;\n` }],
      [
        "Object.assign(exports, { other: 1 }, require('./read'));\n",
        { 'src/read.js': `${getter}exports.read = read;\n` },
      ],
      ["Object.assign(exports, require('./read'));\n", { 'src/read.js': `${getter}exports.read = read;\n` }],
      // `exports` destructured from Node's module is the export object.
      [`${getter}var { exports } = module;\nexports.read = read;\n`, {}],
      [`${getter}const { exports: e } = module;\ne.read = read;\n`, {}],
      [`${getter}module.exports = {};\nconst { exports: e } = module;\ne.read = read;\n`, {}],
      // With a default that never applies (module.exports is always an object), or named twice.
      [`${getter}var { exports = {} } = module;\nexports.read = read;\n`, {}],
      [`${getter}var { exports: e = {} } = module;\ne.read = read;\n`, {}],
      [`${getter}var { exports: e, exports: f } = module;\nf.read = read;\n`, {}],
      // `Object.assign({}, …)` given to module.exports: a new object with every property it copies.
      [
        "module.exports = Object.assign({}, require('./read'));\n",
        { 'src/read.js': `${getter}exports.read = read;\n` },
      ],
      [`${getter}module.exports = Object.assign({}, { read });\n`, {}],
      [`${getter}module.exports = Object.assign({ read }, { other: 1 });\n`, {}],
    ] as const) {
      write({ ...extra, 'src/env.js': env, 'src/app.js': app });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
    // `this` and a destructured `exports` stay the first export object once module.exports is replaced;
    // `this` of a file that reads none of Node's require, module or exports is no export object.
    for (const env of [
      'this.read = read;\n',
      'var require = globalThis.loader;\nthis.read = read;\n',
      'module.exports = function main() {};\nthis.read = read;\n',
      'const { exports: e } = globalThis.ctx;\ne.read = read;\n',
      'var { exports } = module;\nmodule.exports = function main() {};\nexports.read = read;\n',
    ]) {
      write({ 'src/env.js': `${getter}${env}`, 'src/app.js': app });
      expect(await reported(), env).toEqual([]);
    }
    // Object.assign and a spread copy a required module's `default` too (`__exportStar` does not).
    for (const env of [
      "Object.assign(exports, require('./read'));\n",
      "module.exports = Object.assign({ other: 1 }, require('./read'));\n",
      "module.exports = { other: 1, ...require('./read') };\n",
    ]) {
      write({
        'src/read.js': `${getter}exports.default = read;\n`,
        'src/env.js': env,
        'src/app.js': app.replace('env.read(', 'env.default('),
      });
      expect(await reported(), env).toEqual(['src/app.js:2']);
    }
  });

  it('does not follow package imports, type-only imports, shadowed names or files outside the root', async () => {
    write(NOT_FOLLOWED_IMPORTS);
    expect(await reported()).toEqual([]);
  });

  it('ends cycles of re-exports, follows long chains, and answers the same whatever the import order', async () => {
    write(REEXPORT_CYCLES);
    expect(await reported()).toEqual(['a-then-b.ts:3', 'a-then-b.ts:4', 'b-only.ts:2']);
  });

  it('follows names a module imports and exports again, CommonJS re-exports and ".." imports', async () => {
    write(REEXPORTED_IMPORTS);
    const lines = await reported();
    // S1 is no secret name; the six others are reported, two lines' worth.
    expect(lines).toEqual([
      'src/app/a.ts:7',
      'src/app/a.ts:7',
      'src/app/a.ts:8',
      'src/app/a.ts:8',
      'src/app/a.ts:8',
      'src/app/a.ts:8',
    ]);
  });

  it('answers the same whatever the order of statements in a cycle, and follows chains of any length', async () => {
    write(cycleOrderAndLongChain());
    expect(await reported()).toEqual(['uses.ts:4', 'uses.ts:4', 'uses.ts:4']);
  });

  it('reads a trailing slash as a directory, and lets a name a module exports itself hide an `export *`', async () => {
    write(TRAILING_SLASH_AND_HIDING);
    expect(await reported()).toEqual(['uses.ts:5']);
  });

  it('follows members of a module re-exported whole: `export * as ns`, an exported namespace import, a required module', async () => {
    write(REEXPORTED_NAMESPACES);
    expect(await reported()).toEqual(['cjs/uses.js:2', 'uses.ts:2', 'uses.ts:3']);
  });

  it('follows required modules exported again in every CommonJS form, and no type-only export', async () => {
    write(COMMONJS_REEXPORTS);
    expect(await reported()).toEqual(['cjs/uses.js:5', 'cjs/uses.js:5', 'cjs/uses.js:5', 'cjs/uses.js:6']);
  });

  it('prefers a getter to a namespace of the same ambiguous `export *` name, whatever the order', async () => {
    write(AMBIGUOUS_STAR_EXPORTS);
    expect(await reported()).toEqual(['uses.ts:3', 'uses.ts:4']);
  });

  it('follows `exports.name = name` of a required helper and `export const alias = imported`', async () => {
    write(EXPORTED_ALIASES);
    expect(await reported()).toEqual(['app.js:2', 'app2.ts:2']);
  });

  it('reads a barrel once for all the files that import it, also when a module imports the barrel', async () => {
    write(sharedBarrel());
    expect(await reported()).toHaveLength(200);
  });

  it('follows imports of workspace packages to their sources, and no other package', async () => {
    write(WORKSPACE_PACKAGES);
    expect(await reported()).toEqual(['apps/api/src/auth.ts:5', 'apps/api/src/auth.ts:6', 'apps/api/src/auth.ts:7']);
  });

  it('reads exports as Node does: patterns, null blocks, no declaration files, bounded nesting', async () => {
    write(exportsPatternsAndNesting());
    // deep: nesting beyond eight levels is not read (and does not overflow the stack).
    expect(await reported()).toEqual(['app.ts:5', 'app.ts:6']);
  });

  it('takes the condition and the pattern Node takes, and nothing Node refuses', async () => {
    write(CONDITIONS_AND_PATTERNS);
    // a: the import condition; b: './*.js' outranks './*'; c: './*' (not './env*', whose * would
    // match nothing) gives a non-getter; d leaves the package; e has no source; f exports nothing;
    // g: the require condition gives a non-getter.
    expect(await reported()).toEqual(['app.ts:8', 'app.ts:9']);
  });

  it.each([
    ['a null condition', { import: null, default: './src/b.ts' }],
    ['a nested null condition', { node: { import: null, require: './src/b.ts' }, default: './src/b.ts' }],
    ['an empty array', { import: [], default: './src/b.ts' }],
    ['an array of invalid targets', { import: ['src/b.ts'], default: './src/b.ts' }],
    ['a numeric condition key', { '0': './src/b.ts', default: './src/b.ts' }],
  ])('follows nothing where Node refuses the import: %s', async (_, entry) => {
    write(packageWithRootExport(entry));
    expect(await reported()).toEqual([]);
  });

  it('follows an import whose syntax does not say how it loads only where import and require agree', async () => {
    write(IMPORT_OR_REQUIRE);
    // a.ts (no "type": "module") may load either file: not followed; b.cts loads cjs.ts; c.mts
    // loads esm.ts; d.ts has one target either way; e.ts names no valid subpath.
    expect(await reported()).toEqual(['c.mts:2', 'd.ts:2']);
  });

  it('follows a workspace package name only when it is unique and the importer does not mean an npm package', async () => {
    write(WORKSPACE_OR_NPM_NAME);
    expect(await reported()).toEqual(['apps/ws/a.js:2']);
  });

  it('judges a file on its own when no resolver is given (the ESLint plugin)', () => {
    expect(analyzeFile('src/a.ts', IMPORTED_GETTER_ALONE, { rules: ['env-fallback-literal'] }).findings).toEqual([]);
  });
});

describe("a getter's default argument", () => {
  it('reports both fallbacks of `env(name, literal) || literal`, keeping the public demo value critical', () => {
    const findings = analyzeFile('a.ts', DEFAULT_ARGUMENT_AND_OR, { rules: ['env-fallback-literal'] }).findings;
    expect(findings.map((f) => f.severity).sort()).toEqual(['critical', 'error']);
  });

  it('reports a secret literal passed as the fallback, and nothing for settings or non-literals', () => {
    const lines = analyzeFile('a.ts', DEFAULT_ARGUMENTS, { rules: ['env-fallback-literal'] }).findings.map(
      (f) => f.start.line,
    );
    expect(lines).toEqual([3, 4]);
  });

  it('recognises only getters whose second parameter is the fallback of the env read', () => {
    // `b` ignores its second argument: what it falls back to is its own literal, reported as such.
    const findings = analyzeFile('a.ts', SECOND_PARAMETER_ROLES, { rules: ['env-fallback-literal'] }).findings;
    expect(findings.map((f) => [f.start.column, f.message.includes("getter's own fallback")])).toEqual([[41, true]]);
  });
});
