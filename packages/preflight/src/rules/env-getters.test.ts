import { describe, expect, it } from 'vitest';
import { IMPORTED_BLOCK_GETTER } from '../../test/fixtures/env-fallback-cases.ts';
import { useTempProject } from '../../test/fixtures/temp-project.ts';
import { analyzeFile } from '../engine.ts';

const { write, reported } = useTempProject('env-fallback-literal');

const GETTER = 'export const fromEnv = (name: string) => process.env[name];\n';

describe('env getters imported from other files', () => {
  it('follows relative imports the way TypeScript and Node resolve them', async () => {
    write({
      'src/config/env.ts': GETTER,
      'src/config/index.ts': "export { fromEnv as read } from './env.js';\n",
      'src/a.ts': "import { fromEnv } from './config/env.js';\nexport const a = fromEnv('JWT_SECRET') || 'x';\n",
      'src/b.ts': "import { read } from './config';\nexport const b = read('API_TOKEN') ?? 'x';\n",
      'src/c.mts': "import { fromEnv as e } from './config/env';\nexport const c = e('DB_PASSWORD') || 'x';\n",
    });
    expect(await reported()).toEqual(['src/a.ts:2', 'src/b.ts:2', 'src/c.mts:2']);
  });

  it('follows an imported block-bodied getter that falls back to its own literal', async () => {
    write(IMPORTED_BLOCK_GETTER);
    expect(await reported()).toEqual(['src/app.ts:2']);
  });

  it('reads CommonJS exports and requires', async () => {
    write({
      'lib/env.js':
        'function envOr(name, fallback) { return process.env[name] || fallback; }\nmodule.exports = { envOr, other: () => 1 };\n',
      'lib/read.js': 'exports.read = (name) => process.env[name];\n',
      'lib/app.js':
        "const { envOr } = require('./env');\nconst cfg = require('./read.js');\nmodule.exports = [envOr('SESSION_SECRET', 'kitty'), cfg.read('API_KEY') || 'x'];\n",
    });
    expect(await reported()).toEqual(['lib/app.js:3', 'lib/app.js:3']);
  });

  it('does not follow package imports, type-only imports, shadowed names or files outside the root', async () => {
    write({
      'src/env.ts': GETTER,
      'src/a.ts': [
        "import { fromEnv as pkg } from 'env-package';",
        "import type { fromEnv as T } from './env';",
        "import { fromEnv } from './env';",
        "import { fromEnv as up } from '../../env';",
        "export const a = pkg('JWT_SECRET') || 'x';",
        'export const b = (x: typeof T) => x;',
        "export function f(fromEnv: (n: string) => string) { return fromEnv('JWT_SECRET') || 'x'; }",
        "export const outside = up('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual([]);
  });

  it('ends cycles of re-exports, follows long chains, and answers the same whatever the import order', async () => {
    write({
      'a.ts': `export * from './b';\n${GETTER}`,
      'b.ts': "export * from './a';\nexport { fromEnv as viaC } from './c';\n",
      'c.ts': "export * from './d';\n",
      'd.ts': "export * from './e';\n",
      'e.ts': "export * from './f';\n",
      'f.ts': "export * from './g';\n",
      'g.ts': GETTER,
      'b-only.ts': "import { fromEnv } from './b';\nexport const x = fromEnv('JWT_SECRET') || 'x';\n",
      'a-then-b.ts': [
        "import { viaC } from './a';",
        "import { fromEnv } from './b';",
        "export const y = viaC('API_TOKEN') || 'x';",
        "export const z = fromEnv('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual(['a-then-b.ts:3', 'a-then-b.ts:4', 'b-only.ts:2']);
  });

  it('follows names a module imports and exports again, CommonJS re-exports and ".." imports', async () => {
    write({
      'src/env.ts': GETTER,
      'src/reexport.ts': "import { fromEnv } from './env';\nexport { fromEnv as read };\nexport default fromEnv;\n",
      'src/whole.js': "module.exports = require('./env');\n",
      'src/spread.js': "module.exports = { ...require('./env') };\n",
      'src/destructured.js': "const { fromEnv } = require('./env');\nmodule.exports = { fromEnv };\n",
      'src/getter.js': 'module.exports = function (name) {\n  return process.env[name];\n};\n',
      'src/index.ts': "export { fromEnv } from './env';\n",
      'src/app/a.ts': [
        "import readDefault, { read } from '../reexport';",
        "import { fromEnv as parent } from '..';",
        "const whole = require('../whole');",
        "const { fromEnv: spread } = require('../spread.js');",
        "const { fromEnv: destructured } = require('../destructured');",
        "const getter = require('../getter');",
        "export const all = [read('S1') || 'x', readDefault('S2_SECRET') || 'x', parent('S3_TOKEN') || 'x'];",
        "export const cjs = [whole.fromEnv('S4_SECRET') || 'x', spread('S5_SECRET') || 'x', destructured('S6_SECRET') || 'x', getter('S7_SECRET') || 'x'];",
        '',
      ].join('\n'),
    });
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
    const chain: Record<string, string> = {};
    for (let i = 0; i < 40; i++) chain[`chain/c${i}.ts`] = `export * from './c${i + 1}';\n`;
    chain['chain/c40.ts'] = GETTER;
    write({
      ...chain,
      'a.ts': `export * from './b';\n${GETTER}`,
      'b.ts': "export * from './a';\n",
      'r1.ts': "export * from './a';\nexport { fromEnv as y } from './b';\n",
      'r2.ts': "export { fromEnv as y } from './b';\nexport * from './a';\n",
      'uses.ts': [
        "import { y as y1 } from './r1';",
        "import { y as y2 } from './r2';",
        "import { fromEnv as deep } from './chain/c0.js';",
        "export const x = [y1('JWT_SECRET') || 'x', y2('API_TOKEN') || 'x', deep('DB_PASSWORD') || 'x'];",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual(['uses.ts:4', 'uses.ts:4', 'uses.ts:4']);
  });

  it('reads a trailing slash as a directory, and lets a name a module exports itself hide an `export *`', async () => {
    write({
      'config.ts': 'export const fromEnv = (name: string) => name.toUpperCase();\n',
      'config/index.ts': GETTER,
      'other.ts': GETTER,
      'other/index.ts': 'export const fromEnv = (name: string) => name.trim();\n',
      'hiding.ts': "export * from './other';\nexport function fromEnv(name: string) { return name; }\n",
      'cjs-hiding.js': "module.exports = { ...require('./other'), fromEnv: (k) => k.trim() };\n",
      'uses.ts': [
        "import { fromEnv as dir } from './config/';",
        "import { fromEnv as notDir } from './other/';",
        "import { fromEnv as hidden } from './hiding';",
        "import { fromEnv as cjsHidden } from './cjs-hiding';",
        "export const a = dir('JWT_SECRET') || 'x';",
        "export const b = notDir('JWT_SECRET') || 'x';",
        "export const c = hidden('JWT_SECRET') || 'x';",
        "export const d = cjsHidden('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual(['uses.ts:5']);
  });

  it('follows members of a module re-exported whole: `export * as ns`, an exported namespace import, a required module', async () => {
    write({
      'env.ts': `${GETTER}export const label = (name: string) => name.trim();\n`,
      'barrel.ts': [
        "export * as config from './env';",
        "import * as whole from './env';",
        'export { whole };',
        "export * as missing from './nowhere';",
        '',
      ].join('\n'),
      'cjs/env.js': 'exports.read = (name) => process.env[name];\n',
      'cjs/barrel.js': "const env = require('./env');\nmodule.exports = { env };\n",
      'uses.ts': [
        "import { config, whole, missing } from './barrel';",
        "export const a = config.fromEnv('JWT_SECRET') || 'x';",
        "export const b = whole.fromEnv('API_TOKEN') ?? 'x';",
        "export const c = config.label('JWT_SECRET') || 'x';",
        "export const d = missing.fromEnv('JWT_SECRET') || 'x';",
        "export const e = config('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
      'cjs/uses.js': "const { env } = require('./barrel');\nmodule.exports = env.read('SESSION_SECRET') || 'kitty';\n",
    });
    expect(await reported()).toEqual(['cjs/uses.js:2', 'uses.ts:2', 'uses.ts:3']);
  });

  it('follows required modules exported again in every CommonJS form, and no type-only export', async () => {
    write({
      'cjs/env.js': 'exports.read = (name) => process.env[name];\n',
      'cjs/fn.js': 'module.exports = (name) => process.env[name];\n',
      'cjs/b1.js': "exports.env = require('./env');\n",
      'cjs/b2.js': "module.exports = { env: require('./env') };\n",
      'cjs/b3.js': "const env = require('./env');\nmodule.exports = env;\n",
      'cjs/b4.js': "const fn = require('./fn');\nmodule.exports = { fn };\n",
      'cjs/uses.js': [
        "const { env: e1 } = require('./b1');",
        "const { env: e2 } = require('./b2');",
        "const e3 = require('./b3');",
        "const { fn } = require('./b4');",
        "module.exports = [e1.read('JWT_SECRET') || 'x', e2.read('JWT_SECRET') || 'x', e3.read('JWT_SECRET') || 'x'];",
        "module.exports.f = fn('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
      'env.ts': GETTER,
      'types.ts': [
        "export type * as t1 from './env';",
        "import * as whole from './env';",
        'export type { whole };',
        'export { type whole as t3 };',
        "export type { fromEnv as t4 } from './env';",
        '',
      ].join('\n'),
      'uses-types.ts': [
        "import { t1, whole, t3, t4 } from './types';",
        "export const a = [t1.fromEnv('JWT_SECRET') || 'x', whole.fromEnv('JWT_SECRET') || 'x'];",
        "export const b = [t3.fromEnv('JWT_SECRET') || 'x', t4('JWT_SECRET') || 'x'];",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual(['cjs/uses.js:5', 'cjs/uses.js:5', 'cjs/uses.js:5', 'cjs/uses.js:6']);
  });

  it('prefers a getter to a namespace of the same ambiguous `export *` name, whatever the order', async () => {
    write({
      'env.ts': 'export const other = 1;\n',
      'ns.ts': "export * as fromEnv from './env';\n",
      'getter.ts': GETTER,
      'b1.ts': "export * from './ns';\nexport * from './getter';\n",
      'b2.ts': "export * from './getter';\nexport * from './ns';\n",
      'uses.ts': [
        "import { fromEnv as f1 } from './b1';",
        "import { fromEnv as f2 } from './b2';",
        "export const a = f1('JWT_SECRET') || 'x';",
        "export const b = f2('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual(['uses.ts:3', 'uses.ts:4']);
  });

  it('follows `exports.name = name` of a required helper and `export const alias = imported`', async () => {
    write({
      'config.js': 'exports.get = (name) => process.env[name];\n',
      'lib.js': 'const { get } = require(`./config`);\nexports.get = get;\n',
      'alias.ts': "import { get as read } from './lib';\nexport const aliased = read;\n",
      'app.js': "const { get } = require('./lib');\nmodule.exports = get('JWT_SECRET') || 'x';\n",
      'app2.ts': "import { aliased } from './alias';\nexport const s = aliased('API_TOKEN') || 'x';\n",
    });
    expect(await reported()).toEqual(['app.js:2', 'app2.ts:2']);
  });

  it('reads a barrel once for all the files that import it, also when a module imports the barrel', async () => {
    const modules: Record<string, string> = {};
    modules['lib/cyclic.ts'] = "import { t1 } from './index';\nexport default t1;\n";
    for (let i = 0; i < 50; i++) modules[`lib/m${i}.ts`] = `export const t${i} = (env: string) => env;\n`;
    modules['lib/index.ts'] = `${Object.keys(modules)
      .map((f) => `export * from './${f.slice(4, -3)}';`)
      .join('\n')}\n${GETTER}`;
    for (let i = 0; i < 200; i++)
      modules[`app/f${i}.ts`] =
        "import { t1, fromEnv } from '../lib';\nexport const x = [t1('title') || 'Title', fromEnv('JWT_SECRET') || 'x'];\n";
    write(modules);
    expect(await reported()).toHaveLength(200);
  });

  it('follows imports of workspace packages to their sources, and no other package', async () => {
    write({
      'packages/config/package.json': JSON.stringify({
        name: '@acme/config',
        main: 'dist/index.js',
        exports: { '.': { types: './dist/index.d.ts', import: './dist/index.js' }, './env': './dist/env.js' },
      }),
      'packages/config/src/index.ts': "export * from './env.js';\n",
      'apps/api/package.json': JSON.stringify({ name: 'api', type: 'module' }),
      'packages/config/src/env.ts': GETTER,
      'packages/plain/package.json': JSON.stringify({ name: 'plain-config' }),
      'packages/plain/index.js': 'exports.fromEnv = (name) => process.env[name];\n',
      'apps/api/src/auth.ts': [
        "import { fromEnv } from '@acme/config';",
        "import { fromEnv as sub } from '@acme/config/env';",
        "import { fromEnv as plain } from 'plain-config';",
        "import { fromEnv as npm } from 'some-npm-package';",
        "export const a = fromEnv('JWT_SECRET') || 'x';",
        "export const b = sub('API_TOKEN') || 'x';",
        "export const c = plain('DB_PASSWORD') || 'x';",
        "export const d = npm('DB_PASSWORD') || 'x';",
        '',
      ].join('\n'),
    });
    expect(await reported()).toEqual(['apps/api/src/auth.ts:5', 'apps/api/src/auth.ts:6', 'apps/api/src/auth.ts:7']);
  });

  it('reads exports as Node does: patterns, null blocks, no declaration files, bounded nesting', async () => {
    let deep = '"./src/index.ts"';
    for (let i = 0; i < 5000; i++) deep = `[${deep}]`;
    write({
      'pkgs/a/package.json': JSON.stringify({
        name: '@x/a',
        exports: {
          '.': { types: './index.d.ts', default: './index.js' },
          './*': './src/lib/*.ts',
          './internal/*': null,
        },
      }),
      'pkgs/a/index.d.ts': 'export declare const fromEnv: (name: string) => string | undefined;\n',
      'pkgs/a/index.js': 'export const fromEnv = (name) => process.env[name];\n',
      'pkgs/a/src/lib/env.ts': GETTER,
      'pkgs/a/internal/env.ts': GETTER,
      'pkgs/a/src/internal/env.ts': GETTER,
      'pkgs/deep/package.json': `{"name":"@x/deep","exports":${deep}}`,
      'pkgs/deep/src/index.ts': GETTER,
      'app.ts': [
        "import { fromEnv as main } from '@x/a';",
        "import { fromEnv as pattern } from '@x/a/env';",
        "import { fromEnv as blocked } from '@x/a/internal/env';",
        "import { fromEnv as deep } from '@x/deep';",
        "export const a = main('JWT_SECRET') || 'x';",
        "export const b = pattern('JWT_SECRET') || 'x';",
        "export const c = blocked('JWT_SECRET') || 'x';",
        "export const d = deep('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
    });
    // deep: nesting beyond eight levels is not read (and does not overflow the stack).
    expect(await reported()).toEqual(['app.ts:5', 'app.ts:6']);
  });

  it('takes the condition and the pattern Node takes, and nothing Node refuses', async () => {
    const getterAt = (path: string) => ({ [path]: GETTER });
    const notGetterAt = (path: string) => ({ [path]: 'export const fromEnv = (name: string) => name;\n' });
    write({
      'c/package.json': JSON.stringify({
        name: '@x/c',
        exports: {
          '.': { require: './src/cjs.ts', import: './src/esm.ts' },
          './*': './src/*.ts',
          './*.js': './src/legacy/*.ts',
          './env*': './src/env-star.ts',
          './up': './../shared/env.ts',
          './server': './dist/server.js',
        },
      }),
      ...notGetterAt('c/src/cjs.ts'),
      ...getterAt('c/src/esm.ts'),
      ...notGetterAt('c/src/env.ts'),
      ...getterAt('c/src/legacy/env.ts'),
      ...getterAt('c/src/env-star.ts'),
      ...getterAt('shared/env.ts'),
      ...getterAt('c/src/index.ts'),
      'empty/package.json': JSON.stringify({ name: '@x/empty', exports: {} }),
      'package.json': JSON.stringify({ name: 'app', type: 'module' }),
      ...getterAt('empty/src/index.ts'),
      'app.ts': [
        "import { fromEnv as esm } from '@x/c';",
        "import { fromEnv as legacy } from '@x/c/env.js';",
        "import { fromEnv as plain } from '@x/c/env';",
        "import { fromEnv as up } from '@x/c/up';",
        "import { fromEnv as server } from '@x/c/server';",
        "import { fromEnv as empty } from '@x/empty';",
        "const { fromEnv: cjs } = require('@x/c');",
        "export const a = esm('JWT_SECRET') || 'x';",
        "export const b = legacy('JWT_SECRET') || 'x';",
        "export const c = plain('JWT_SECRET') || 'x';",
        "export const d = up('JWT_SECRET') || 'x';",
        "export const e = server('JWT_SECRET') || 'x';",
        "export const f = empty('JWT_SECRET') || 'x';",
        "export const g = cjs('JWT_SECRET') || 'x';",
        '',
      ].join('\n'),
    });
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
    write({
      'c/package.json': JSON.stringify({ name: '@x/c', exports: { '.': entry } }),
      'c/src/b.ts': GETTER,
      'package.json': JSON.stringify({ name: 'app', type: 'module' }),
      'a.ts': "import { fromEnv } from '@x/c';\nexport const a = fromEnv('JWT_SECRET') || 'x';\n",
    });
    expect(await reported()).toEqual([]);
  });

  it('follows an import whose syntax does not say how it loads only where import and require agree', async () => {
    write({
      'c/package.json': JSON.stringify({
        name: '@x/c',
        exports: { '.': { require: './src/cjs.ts', import: './src/esm.ts' }, './env': './src/env.ts' },
      }),
      'c/src/cjs.ts': 'export const fromEnv = (name: string) => name;\n',
      'c/src/esm.ts': GETTER,
      'c/src/env.ts': GETTER,
      'a.ts': "import { fromEnv } from '@x/c';\nexport const a = fromEnv('JWT_SECRET') || 'x';\n",
      'b.cts': "import { fromEnv } from '@x/c';\nexport const b = fromEnv('JWT_SECRET') || 'x';\n",
      'c.mts': "import { fromEnv } from '@x/c';\nexport const c = fromEnv('JWT_SECRET') || 'x';\n",
      'd.ts': "import { fromEnv } from '@x/c/env';\nexport const d = fromEnv('JWT_SECRET') || 'x';\n",
      'e.ts': "import { fromEnv } from '@x/c/../../shared/env';\nexport const e = fromEnv('JWT_SECRET') || 'x';\n",
      'shared/env.ts': GETTER,
    });
    // a.ts (no "type": "module") may load either file: not followed; b.cts loads cjs.ts; c.mts
    // loads esm.ts; d.ts has one target either way; e.ts names no valid subpath.
    expect(await reported()).toEqual(['c.mts:2', 'd.ts:2']);
  });

  it('follows a workspace package name only when it is unique and the importer does not mean an npm package', async () => {
    write({
      'packages/config/package.json': JSON.stringify({ name: 'config', version: '1.0.0' }),
      'packages/config/index.js': 'exports.fromEnv = (name) => process.env[name];\n',
      'packages/dup/package.json': JSON.stringify({ name: '@x/dup' }),
      'packages/dup/index.js': 'exports.fromEnv = (name) => process.env[name];\n',
      'packages/dup/test/fixtures/copy/package.json': JSON.stringify({ name: '@x/dup' }),
      'packages/dup/test/fixtures/copy/index.js': 'exports.fromEnv = (name) => name;\n',
      'apps/npm/package.json': JSON.stringify({ name: 'npm-app', dependencies: { config: '^3.3.0' } }),
      'apps/npm/a.js': "const { fromEnv } = require('config');\nmodule.exports = fromEnv('JWT_SECRET') || 'x';\n",
      'apps/ws/package.json': JSON.stringify({ name: 'ws-app', dependencies: { config: 'workspace:*' } }),
      'apps/npm/src/package.json': JSON.stringify({ type: 'module' }),
      'apps/npm/src/worker/package.json': JSON.stringify({ name: 'x-worker' }),
      'apps/npm/src/worker/c.js':
        "const { fromEnv } = require('config');\nmodule.exports = fromEnv('JWT_SECRET') || 'x';\n",
      'apps/npm/src/b.js': "const { fromEnv } = require('config');\nmodule.exports = fromEnv('JWT_SECRET') || 'x';\n",
      'apps/ws/a.js': "const { fromEnv } = require('config');\nmodule.exports = fromEnv('JWT_SECRET') || 'x';\n",
      'apps/dup/a.js': "const { fromEnv } = require('@x/dup');\nmodule.exports = fromEnv('JWT_SECRET') || 'x';\n",
    });
    expect(await reported()).toEqual(['apps/ws/a.js:2']);
  });

  it('judges a file on its own when no resolver is given (the ESLint plugin)', () => {
    const text = "import { fromEnv } from './env';\nexport const a = fromEnv('JWT_SECRET') || 'x';\n";
    expect(analyzeFile('src/a.ts', text, { rules: ['env-fallback-literal'] }).findings).toEqual([]);
  });
});

describe("a getter's default argument", () => {
  it('reports both fallbacks of `env(name, literal) || literal`, keeping the public demo value critical', () => {
    const text = [
      'const envOr = (name: string, fallback?: string) => process.env[name] ?? fallback;',
      "export const a = envOr('JWT_SECRET', 'changeme') || '';",
      '',
    ].join('\n');
    const findings = analyzeFile('a.ts', text, { rules: ['env-fallback-literal'] }).findings;
    expect(findings.map((f) => f.severity).sort()).toEqual(['critical', 'error']);
  });

  it('reports a secret literal passed as the fallback, and nothing for settings or non-literals', () => {
    const text = [
      'function envOr(name: string, fallback = ""): string { return process.env[name] ?? fallback; }',
      "const DEV = 'dev-secret';",
      "export const a = envOr('JWT_SECRET', 'x');",
      "export const b = envOr('JWT_SECRET', DEV);",
      "export const c = envOr('PORT', '3000');",
      "export const d = envOr('JWT_SECRET', computeSecret());",
      "export const e = envOr('JWT_SECRET');",
      '',
    ].join('\n');
    const lines = analyzeFile('a.ts', text, { rules: ['env-fallback-literal'] }).findings.map((f) => f.start.line);
    expect(lines).toEqual([3, 4]);
  });

  it('recognises only getters whose second parameter is the fallback of the env read', () => {
    const text = [
      'const a = (name: string, fallback: string) => process.env[fallback] ?? name;',
      'const b = (name: string, fallback: string) => process.env[name] ?? "fixed";',
      'const c = (name: string, fallback: string) => lookup(name) ?? fallback;',
      "export const x = [a('JWT_SECRET', 'x'), b('JWT_SECRET', 'x'), c('JWT_SECRET', 'x')];",
      '',
    ].join('\n');
    // `b` ignores its second argument: what it falls back to is its own literal, reported as such.
    const findings = analyzeFile('a.ts', text, { rules: ['env-fallback-literal'] }).findings;
    expect(findings.map((f) => [f.start.column, f.message.includes("getter's own fallback")])).toEqual([[41, true]]);
  });
});
