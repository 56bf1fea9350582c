import { describe, expect, it } from 'vitest';
import { useTempProject } from '../../test/fixtures/temp-project.ts';
import { analyzeFile } from '../engine.ts';

/** The messages the rule reports in a module, as `line: cache name`. */
const reported = (code: string): string[] =>
  analyzeFile('src/store.ts', code, { rules: ['unclassified-module-cache'] }).findings.map(
    (f) => `${f.start.line}: ${/"([^"]+)"/.exec(f.message)?.[1]}`,
  );

describe('unclassifiedModuleCache', () => {
  it('reports static class fields mutated through the class name, this in a static method, or a static arrow', () => {
    expect(
      reported(`export class Profiles {
  static cache = new Map();
  static #tokens = new Map();
  static load(req) {
    Profiles.cache.set(req.id, req.body);
    [req.token].forEach((t) => this.#tokens.set(req.id, t));
  }
}
export const Users = class {
  static byId = new Map();
  static remember = (user) => {
    this.byId.set(user.id, user);
  };
};
app.post('/users', (req) => Users.remember(req.body));
`),
    ).toEqual(['2: Profiles.cache', '3: Profiles.#tokens', '10: Users.byId']);
  });

  it('reports caches held in a module-scope object, at any depth', () => {
    expect(
      reported(`const caches = {
  users: new Map(),
  tokens: new LRUCache({ max: 500 }),
  byTenant: { settings: new Map() },
};
export function remember(req) {
  caches.users.set(req.user.id, req.user);
  caches.tokens.set(req.user.id, req.token);
  caches.byTenant.settings.clear();
}
`),
    ).toEqual(['2: caches.users', '3: caches.tokens', '4: caches.byTenant.settings']);
  });

  it('reports a mutation in a callback inside a handler', () => {
    expect(
      reported(`const seen = new Set();
export function handle(req) {
  req.items.forEach((item) => seen.add(item.id));
}
`),
    ).toEqual(['1: seen']);
  });

  it('honours a classification on the field or property, or on the class or object holding it', () => {
    expect(
      reported(`export class Templates {
  // @cache-scope per-pod: compiled templates are pure functions of files in the image
  static compiled = new Map();
  // @cache-scope per-pod: sessions of this pod only
  static sessions = new Map();
  static render(req) {
    Templates.compiled.set(req.name, req.body);
    Templates.sessions.set(req.id, req.body);
  }
}
// @cache-scope per-pod: mirrored from the tenant service, refreshed on its change events
const tenants = { settings: new Map(), flags: new Map() };
const schemas = {
  // @cache-scope per-pod: parsed schemas are pure functions of files in the image
  parsed: new Map(),
};
export function handle(req) {
  tenants.settings.set(req.tenant, req.body);
  tenants.flags.set(req.tenant, req.body);
  schemas.parsed.set(req.name, req.body);
}
`),
    ).toEqual(['5: Templates.sessions']);
  });

  it('does not report instance fields, static blocks, defaults objects, read-only caches or classes inside functions', () => {
    expect(
      reported(`export class Store {
  cache = new Map();
  put(req) {
    this.cache.set(req.id, req.body);
  }
}
export class Codes {
  static table = new Map();
  static {
    Codes.table.set('ok', 200);
  }
  static get(req) {
    return Codes.table.get(req.name);
  }
}
const defaults = { headers: {}, list: [] };
const lookups = { codes: new Map([['ok', 200]]) };
lookups.codes.set('created', 201);
export function handle(req) {
  defaults.headers[req.name] = req.value;
  defaults.list.push(req.value);
  return lookups.codes.get(req.name);
}
export function make() {
  class Local {
    static cache = new Map();
    static put(req) {
      Local.cache.set(req.id, req.body);
    }
  }
  return Local;
}
`),
    ).toEqual([]);
  });

  it('does not take static methods for handlers: start-up registries and singletons', () => {
    expect(
      reported(`export class Plugins {
  static plugins = [];
  static use(plugin) {
    this.plugins.push(plugin);
  }
}
export class Pool {
  static #instances = new Map();
  static for(name) {
    if (!Pool.#instances.has(name)) Pool.#instances.set(name, new Pool());
    return Pool.#instances.get(name);
  }
}
class Local {
  static seen = new Set();
  static note(id) {
    this.seen.add(id);
  }
}
`),
    ).toEqual([]);
  });

  it('takes other static methods of an exported class for handlers, as exported functions', () => {
    expect(
      reported(`const attempts = new Map();
export class LoginThrottle {
  static hit(ip) {
    attempts.set(ip, (attempts.get(ip) ?? 0) + 1);
  }
}
export class RateLimiter {
  static hits = new Map();
  static allow(ip) {
    this.hits.set(ip, Date.now());
  }
}
`),
    ).toEqual(['1: attempts', '8: RateLimiter.hits']);
  });

  it('reports a static field of an anonymous default class mutated from a handler', () => {
    expect(
      reported(`export default class {
  static seen = new Set();
  static handle(req) {
    this.seen.add(req.id);
  }
}
`),
    ).toEqual(['2: default.seen']);
  });

  it('follows only callbacks a registered handler passes to a call, not closures, helpers, listeners or constructors', () => {
    expect(
      reported(`const seen = new Set();
const pending = new Map();
const registries = new Map();
export function mk(message) {
  const later = () => pending.clear();
  return (x) => seen.add(x);
}
export function handle(req) {
  helper(req.items);
  return new Promise((resolve) => {
    req.items.map((item) => pending.set(item.id, resolve));
  });
}
function helper(items) {
  items.forEach((item) => seen.add(item));
}
process.stdin.on('end', () => [1].forEach((i) => seen.add(i)));
function onMessage(message) {
  message.items.forEach((i) => seen.add(i));
}
export class Registry {
  constructor(name) {
    registries.set(name, this);
  }
}
`),
    ).toEqual(['2: pending']);
  });

  it('takes no function a var after a top-level return would hold for an exported handler (Node never gives it the value)', () => {
    const head = 'const hits = new Map();\n';
    const hit = 'function (ip) {\n  hits.set(ip, 1);\n}';
    // The export names `hit`, but the var that would bind the function never runs.
    expect(reported(`${head}module.exports = { hit: hit };\nreturn;\nvar hit = ${hit};\n`)).toEqual([]);
    expect(reported(`${head}module.exports = { hit: hit };\n{ return; }\nvar hit = ${hit};\n`)).toEqual([]);
    expect(reported(`${head}module.exports = { hit: hit };\nreturn;\nconst hit = ${hit};\n`)).toEqual([]);
    // Before the return, or with the return behind an `if`, it does.
    expect(reported(`${head}var hit = ${hit};\nmodule.exports = { hit: hit };\nreturn;\n`)).toEqual(['1: hits']);
    expect(reported(`${head}module.exports = { hit: hit };\nif (a) return;\nvar hit = ${hit};\n`)).toEqual(['1: hits']);
    // A function declaration after the return is hoisted: Node exports it.
    expect(
      reported(`${head}module.exports = { hit: hit };\nreturn;\nfunction hit(ip) {\n  hits.set(ip, 1);\n}\n`),
    ).toEqual(['1: hits']);
  });

  it('takes functions exported by Object.assign or behind a top-level if or try for handlers, not after a top-level return', () => {
    const head = 'const hits = new Map();\nfunction hit(ip) {\n  hits.set(ip, 1);\n}\n';
    for (const exported of [
      'Object.assign(module.exports, { hit });',
      'Object.assign(exports, { hit: (ip) => hits.set(ip, 2) });',
      'var m = module;\nm.exports = { hit };',
      'if (require.main !== module) module.exports = { hit };',
      'try {\n  exports.hit = hit;\n} catch {}',
      'if (require.main === module) return;\nexports.hit = hit;',
    ]) {
      expect(reported(`${head}${exported}\n`), exported).toEqual(['1: hits']);
    }
    for (const exported of [
      '({ module } = globalThis.ctx);\nmodule.exports = { hit };',
      'function f() {\n  exports.hit = hit;\n}',
      // Node runs nothing after a top-level return: `hit` is never exported.
      'return;\nexports.hit = hit;',
    ]) {
      expect(reported(`${head}${exported}\n`), exported).toEqual([]);
    }
  });

  it('does not take a local of the same name for the module-scope cache', () => {
    expect(
      reported(`const caches = { users: new Map() };
const seen = new Set();
export function handle(req) {
  const caches = { users: new Map() };
  caches.users.set(req.id, req.body);
  [req.id].forEach((seen) => seen.add(1));
  return caches.users.get(req.id) ?? caches;
}
`),
    ).toEqual([]);
  });

  it('refuses a shared(redis) label on a collection or object created in this process', () => {
    const findings = analyzeFile(
      'src/auth.ts',
      `import { LRUCache } from 'lru-cache';
// @cache-scope shared(redis)
const nonces = new LRUCache({ max: 1e5 });
// @cache-scope shared(redis)
const loginAttempts: Record<string, number> = {};
// @cache-scope shared(redis)
const caches = { sessions: new Map() };
export class Tokens {
  // @cache-scope shared(redis)
  static issued = new Set();
}
export function login(req) {
  nonces.set(req.body.nonce, true);
  loginAttempts[req.ip] = (loginAttempts[req.ip] ?? 0) + 1;
  caches.sessions.set(req.sid, req.body);
  Tokens.issued.add(req.body.token);
}
`,
      { rules: ['unclassified-module-cache'] },
    ).findings;
    expect(findings.map((f) => f.start.line)).toEqual([3, 5, 7, 10]);
    for (const f of findings) expect(f.message).toMatch(/lives in this process.*Redis-backed store/);
  });

  it('refuses a shared(redis) label on an in-process cache whose type or options mention Redis', () => {
    const findings = analyzeFile(
      'src/sessions.ts',
      `import { LRUCache } from 'lru-cache';
import type { RedisSession } from './redis-session.ts';
const REDIS_MAX_KEYS = 1000;
// @cache-scope shared(redis)
const sessions = new Map<string, RedisSession>();
// @cache-scope shared(redis)
const recent = new LRUCache({ max: REDIS_MAX_KEYS });
// @cache-scope shared(redis)
const byUser = {} as Record<string, RedisSession>;
export function handle(req) {
  sessions.set(req.sid, req.body);
  recent.set(req.sid, 1);
  byUser[req.user] = req.body;
}
`,
      { rules: ['unclassified-module-cache'] },
    ).findings;
    expect(findings.map((f) => f.start.line)).toEqual([5, 7, 9]);
    for (const f of findings) expect(f.message).toMatch(/lives in this process/);
  });

  it('accepts a shared(redis) label on a cache built from a Redis client or store', () => {
    expect(
      reported(`// @cache-scope shared(redis)
const sessions = createCache({ store: redisStore({ client }) });
// @cache-scope shared(redis)
const limits = new Cache(new IORedis(process.env.REDIS_URL));
export function handle(req) {
  sessions.set(req.sid, req.body);
  limits.set(req.ip, 1);
}
`),
    ).toEqual([]);
  });

  it('does not apply to test support: e2e, playwright and cypress suites, test directories, setup files, stories', () => {
    const code = 'const seen = new Map();\nexport function handle(req) {\n  seen.set(req.id, req.body);\n}\n';
    const files = (names: string[]) =>
      names.filter((name) => analyzeFile(name, code, { rules: ['unclassified-module-cache'] }).findings.length > 0);
    expect(
      files([
        'e2e/server.ts',
        'apps/web/tests/helpers.ts',
        'test/fake-idp.ts',
        'playwright/fixtures.ts',
        'cypress/support/commands.js',
        'vitest.setup.ts',
        'packages/ui/jest.setup.js',
        'jest.setup.node.ts',
        'src/components/LoginForm.stories.tsx',
        'src/login.spec.ts',
      ]),
    ).toEqual([]);
    expect(files(['src/testing.ts', 'src/routes/test-results.ts', 'src/contest/entries.ts', 'src/stories.ts'])).toEqual(
      ['src/testing.ts', 'src/routes/test-results.ts', 'src/contest/entries.ts', 'src/stories.ts'],
    );
  });

  // Each mutation scanned the whole handler for a shadowing local (minutes at this size); the test
  // timeout is the assertion.
  it('follows 40,000 caches of one module object mutated in one handler in linear time', () => {
    const members = Array.from({ length: 40_000 }, (_, i) => `  c${i}: new Map(),`).join('\n');
    const sets = Array.from({ length: 40_000 }, (_, i) => `  caches.c${i}.set(req.id, 1);`).join('\n');
    expect(reported(`const caches = {\n${members}\n};\nexport function handle(req) {\n${sets}\n}\n`)).toHaveLength(
      40_000,
    );
  });
});

describe('unclassifiedModuleCache: what a script exports through top-level this', () => {
  const { write, reported: scanned } = useTempProject('unclassified-module-cache');
  const lookup = (holder: string): string =>
    `var cache = new Map();\n${holder}.lookup = function (key) { if (!cache.has(key)) cache.set(key, key.length); return cache.get(key); };\n`;

  it('takes top-level this as the export object only in a file that shows it is a Node module', async () => {
    write({
      // A browser script: `this` is the window, `lookup` is no handler of a request.
      'public/app.js': lookup('this'),
      'public/window.js': lookup('window'),
      // A .cjs file, or one that reads Node's require, module or exports at its top level.
      'lib/cache.cjs': lookup('this'),
      'lib/required.js': `const { join } = require('node:path');\n${lookup('this')}`,
      'lib/module.js': `${lookup('this')}if (require.main === module) join();\n`,
      // Declared by the file itself, `require` is no sign of Node's module.
      'public/shim.js': `var require = window.loader;\n${lookup('this')}`,
    });
    expect(await scanned()).toEqual(['lib/cache.cjs:1', 'lib/module.js:1', 'lib/required.js:2']);
  });

  it("takes a UMD wrapper's root for the export object only where Node picks top-level this", async () => {
    const umd = (root: string): string =>
      `var cache = new Map();\n(function (root, factory) {\n  if (typeof define === 'function' && define.amd) { define([], factory); }\n  else { root.hit = factory(); }\n}(${root}, function () {\n  return function (key) { if (!cache.has(key)) cache.set(key, key.length); return cache.get(key); };\n}));\n`;
    write({
      // Node defines globalThis and global: `hit` goes on the global object, it is no export.
      'lib/global-this.cjs': umd("typeof globalThis !== 'undefined' ? globalThis : this"),
      'lib/global.cjs': umd("typeof global !== 'undefined' ? global : this"),
      // Node has no self: `root` is top-level this, module.exports.
      'lib/self.cjs': umd("typeof self !== 'undefined' ? self : this"),
    });
    expect(await scanned()).toEqual(['lib/self.cjs:1']);
  });

  it('reads no CommonJS exports from a .js or .ts file of a "type": "module" package', async () => {
    write({
      'package.json': '{ "type": "module" }',
      'src/this.js': `const { join } = require('node:path');\n${lookup('this')}`,
      'src/exports.js': lookup('exports'),
      'src/exports.ts': lookup('module.exports'),
      // A .cjs file is CommonJS in any package.
      'src/cache.cjs': lookup('exports'),
      'legacy/package.json': '{ "type": "commonjs" }',
      'legacy/cache.js': lookup('exports'),
    });
    expect(await scanned()).toEqual(['legacy/cache.js:1', 'src/cache.cjs:1']);
  });
});
