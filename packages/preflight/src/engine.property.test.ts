// Generated modules built from what the JS rules walk: nested calls and hashes over shared locals,
// member chains, key-header reads, env objects, ConfigService reads, switch/case, module caches
// and static class fields. The engine must answer on every one of them, the same way twice.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { analyzeFile } from './engine.ts';

// Few names, so that generated locals refer to each other (and to themselves) over and over.
const NAMES = ['a', 'b', 'k', 'KEY', 'config', 'cache', 'seen', 'env', 'tse'];
const name = fc.constantFrom(...NAMES);

const leaf = fc.oneof(
  name,
  fc.constantFrom(
    "'x'",
    "''",
    '0',
    'undefined',
    "req.headers['x-api-key']",
    "req.header('authorization')",
    'req.query.api_key',
    'process.env.API_KEY',
    'c.env.SESSION_SECRET',
    'env(c).API_TOKEN',
    'config.api.token',
    'repo.current.keyHash',
    'crypto.randomUUID()',
    'this.cache',
  ),
);

const expression = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    leaf,
    fc
      .tuple(
        fc.constantFrom('sha256', 'hashKey', 'String', 'Buffer.from', 'tse', 'timingSafeEqual', 'f'),
        fc.array(tie('expr'), { maxLength: 4 }),
      )
      .map(([callee, args]) => `${callee}(${args.join(', ')})`),
    tie('expr').map((e) => `createHash('sha256').update(${e}).digest('hex')`),
    fc
      .tuple(tie('expr'), fc.array(fc.constantFrom('x', 'env', 'get', 'headers', 'current'), { maxLength: 3 }))
      .map(([e, parts]) => `(${e})${parts.map((p) => `.${p}`).join('')}`),
    fc
      .tuple(tie('expr'), fc.constantFrom('===', '!==', '||', '??', '&&'), tie('expr'))
      .map(([l, op, r]) => `(${l} ${op} ${r})`),
    fc.tuple(name, tie('expr')).map(([receiver, e]) => `${receiver}.get('JWT_SECRET', ${e})`),
    tie('expr').map((e) => `await ${e}`),
    tie('expr').map((e) => `(async (req) => ${e})`),
  ),
})).expr;

const statement = fc.oneof(
  fc.tuple(fc.constantFrom('const', 'let'), name, expression).map(([kind, n, e]) => `${kind} ${n} = ${e};`),
  fc
    .tuple(expression, fc.array(expression, { maxLength: 3 }))
    .map(([d, cases]) => `switch (${d}) { ${cases.map((c) => `case ${c}: return 1;`).join(' ')} default: break; }`),
  fc.tuple(expression, expression).map(([test, value]) => `if (${test}) return ${value};`),
  fc.tuple(name, expression).map(([n, e]) => `${n}.set(${e}, 1); ${n}.users?.add(${e});`),
  expression.map((e) => `return ${e};`),
);

const body = fc.array(statement, { maxLength: 6 }).map((statements) => statements.join('\n  '));

const topLevel = fc.oneof(
  fc.tuple(name, expression).map(([n, e]) => `const ${n} = ${e};`),
  fc.constantFrom(
    'const cache = new Map();',
    'const seen = { users: new Set(), nested: { tokens: new Map() } };',
    "import { timingSafeEqual as tse } from 'node:crypto';",
    "import { env } from 'hono/adapter';",
    "const { 'x-api-key': k } = req.headers;",
  ),
  body.map((b) => `export async function handle$(req, c, config) {\n  ${b}\n}`),
  body.map((b) => `app.get('/', async (c) => {\n  ${b}\n});`),
  fc
    .tuple(fc.constantFrom('class Store$', 'export class Store$'), body, body)
    .map(([head, a, b]) => classWith(head, a, b)),
);

/** A class with static fields, a static method and an instance method around generated bodies. */
function classWith(head: string, a: string, b: string): string {
  return `${head} {\n  static cache = new Map();\n  static #seen = new Set();\n  static async use(req) {\n  ${a}\n  }\n  async handle(req) {\n  ${b}\n  }\n}`;
}

// `$` in a declaration head becomes the statement's index: generated declarations never collide.
const modules = fc
  .tuple(
    fc.array(topLevel, { minLength: 1, maxLength: 6 }),
    fc.option(fc.tuple(body, body).map(([a, b]) => classWith('export default class', a, b))),
    fc.constantFrom('src/a.ts', 'src/a.js'),
  )
  .map(([statements, last, file]) => {
    const text = [...statements.map((s, i) => s.replaceAll('$(', `${i}(`).replace(/Store\$/, `Store${i}`)), last ?? ''];
    return [text.join('\n'), file] as const;
  });

describe('analyzeFile on generated modules', () => {
  it('never throws and gives the same findings twice, whatever the nesting of calls, hashes, chains, switches and static fields', () => {
    fc.assert(
      fc.property(modules, ([text, file]) => {
        const first = analyzeFile(file, text);
        for (const finding of first.findings) expect(finding.start.line).toBeLessThanOrEqual(text.split('\n').length);
        expect(analyzeFile(file, text).findings).toEqual(first.findings);
      }),
      { numRuns: 150 },
    );
  });
});
