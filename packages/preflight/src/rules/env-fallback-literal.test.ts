// Inputs with secret-named fallbacks come from test/fixtures/env-fallback-cases.ts, so this file
// holds no such shortcut itself.
import { describe, expect, it } from 'vitest';
import {
  BINDINGS,
  BINDINGS_SAFE,
  BLOCK_GETTERS,
  BLOCK_GETTERS_SAFE,
  BOOLEAN_FALLBACKS,
  CHAIN_TAIL,
  COMPOSE_EMPTY_DEFAULTS,
  DECLARED_APART_THEN_INITIALISED,
  DESTRUCTURED_BINDINGS,
  DESTRUCTURED_BINDINGS_SAFE,
  EMPTY_DEFAULT_COMPARED,
  EMPTY_DEFAULT_PRESENCE,
  EMPTY_DEFAULT_READ_PRESENCE,
  EMPTY_DEFAULT_READ_USED,
  EMPTY_DEFAULT_USED,
  ENV_ALIAS_REWRITES,
  ENV_ALIAS_REWRITES_SAFE,
  ENV_ALIASES,
  ENV_ALIASES_SAFE,
  ENV_UNSET_ASSIGNMENT,
  ENV_UNSET_ASSIGNMENT_SAFE,
  FIXED_GUARDED_GETTERS,
  FIXED_GUARDED_GETTERS_SAFE,
  GUARDED_GETTERS,
  GUARDED_GETTERS_SAFE,
  HONO_BINDINGS,
  HONO_BINDINGS_ALIASED,
  HONO_BINDINGS_ALIASED_SAFE,
  HONO_BINDINGS_SAFE,
  LET_DESTRUCTURED,
  LET_DESTRUCTURED_SAFE,
  LOGICAL_ASSIGNMENT,
  LOGICAL_ASSIGNMENT_SAFE,
  MORE_GUARDS,
  MORE_GUARDS_SAFE,
  NEST_CONFIG,
  NEST_CONFIG_DECLARED,
  NEST_CONFIG_OTHER_DECLARED,
  NEST_CONFIG_SAFE,
  NUMERIC_FALLBACK,
  NUMERIC_FALLBACK_FORMS,
  NUMERIC_FALLBACK_SAFE,
  PIN_AND_ONE_WORD_NAMES,
  PRESENCE_CHECKS_JS,
  PRESENCE_CHECKS_SHELL,
  REASSIGNED_THEN_PLAIN,
  RUNTIME_ENVS,
  SETTING_NAMES,
  SHELL_DEFAULT,
  SHELL_GLUED_DEFAULT,
  SHELL_NESTED_DEFAULTS,
  SHELL_SPLIT_DEFAULT,
  WORD_ORDER,
} from '../../test/fixtures/env-fallback-cases.ts';
import { analyzeFile } from '../engine.ts';
import { memberPath } from '../js-ast.ts';
import { parseModule } from '../js-parse.ts';
import { MAX_NESTING, nestingDepth } from '../nesting-depth.ts';

const reported = (file: string, ...lines: string[]): number[] =>
  analyzeFile(file, `${lines.join('\n')}\n`, { rules: ['env-fallback-literal'] }).findings.map((f) => f.start.line);

describe('env-fallback-literal: logical assignment', () => {
  it('reports `||=` and `??=` on an env read or a variable initialised from one', () => {
    expect(reported('a.ts', ...LOGICAL_ASSIGNMENT)).toEqual([1, 2, 3]);
  });

  it('does not report settings, non-literals or unrelated variables', () => {
    expect(reported('a.ts', ...LOGICAL_ASSIGNMENT_SAFE)).toEqual([]);
  });

  it('reports a secret that falls back to a number, and hides the number in the snippet', () => {
    const findings = analyzeFile('a.ts', `${NUMERIC_FALLBACK.join('\n')}\n`, {
      rules: ['env-fallback-literal'],
    }).findings;
    expect(findings.map((f) => f.start.line)).toEqual([1, 2]);
    for (const f of findings) expect(f.snippet).not.toContain('48291736');
  });

  it('does not report small numbers, fractions, or counts and durations of secret-named settings', () => {
    expect(reported('a.ts', ...NUMERIC_FALLBACK_SAFE)).toEqual([]);
  });

  it('reports a key-like number in a destructuring default, a ternary, a negative number and env schema defaults', () => {
    const findings = analyzeFile('a.ts', `${NUMERIC_FALLBACK_FORMS.join('\n')}\n`, {
      rules: ['env-fallback-literal'],
    }).findings;
    expect(findings.map((f) => f.start.line)).toEqual([1, 2, 3, 4, 5, 6]);
    for (const f of findings) expect(f.snippet).not.toContain('48291736');
  });

  it('reports an env variable assigned a literal when unset, like `||=`', () => {
    const findings = analyzeFile('a.ts', `${ENV_UNSET_ASSIGNMENT.join('\n')}\n`, {
      rules: ['env-fallback-literal'],
    }).findings;
    expect(findings.map((f) => [f.start.line, f.severity])).toEqual([
      [1, 'critical'],
      [2, 'error'],
      [5, 'error'],
    ]);
    expect(reported('a.ts', ...ENV_UNSET_ASSIGNMENT_SAFE)).toEqual([]);
  });
});

describe('env-fallback-literal: bindings and calls', () => {
  it('follows a const bound to an env read in the same scope, value-keeping calls and an if-unset assignment', () => {
    expect(reported('a.ts', ...BINDINGS)).toEqual([1, 2, 3, 4, 5]);
  });

  it('does not follow a shadowing parameter, a let that is not tested, or other calls', () => {
    expect(reported('a.ts', ...BINDINGS_SAFE)).toEqual([]);
  });

  it('follows a const destructured from the env object, and reports a destructuring default', () => {
    expect(reported('a.ts', ...DESTRUCTURED_BINDINGS)).toEqual([1, 2, 3, 4]);
  });

  it('follows the env object bound under another name, and a read through a const key', () => {
    for (const line of ENV_ALIASES) expect(reported('a.ts', line), line).toEqual([1]);
  });

  it('does not follow a shadowed alias, a key that is not a const string, or env of another object', () => {
    for (const line of ENV_ALIASES_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });

  it('follows an alias written with the env object again, itself, or an object spreading it with overrides', () => {
    for (const line of ENV_ALIAS_REWRITES) expect(reported('a.ts', line), line).toEqual([1]);
  });

  it('does not follow an alias written with another value or with an object that sets a secret of its own', () => {
    for (const line of ENV_ALIAS_REWRITES_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });

  it('does not follow a setting, a shadowing parameter, a let, or a const destructured from something else', () => {
    for (const line of DESTRUCTURED_BINDINGS_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });

  it('follows a let destructured from the env object or bound to an env read when it is given a fallback of its own', () => {
    expect(reported('a.ts', ...LET_DESTRUCTURED)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not follow a let that is a setting, shadowed, destructured from something else, or written from a real source', () => {
    for (const line of LET_DESTRUCTURED_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });

  it('follows a let read from the env by its first write or given a ternary fallback (also negated), and getters guarded by a length check or with an else', () => {
    expect(reported('a.ts', ...MORE_GUARDS)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not report those forms for a setting, another value, or an else that throws', () => {
    for (const line of MORE_GUARDS_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });

  // The length-check guard reads one `&&` level: a long chain must not recurse down it (the parser itself crashes near 100,000).
  it('reads a getter guarded by a 12,000-term && chain without recursing down it', () => {
    const chain = Array.from({ length: 12_000 }, () => 'v.length').join(' && ');
    const code = `export function port() { const v = process.env.PORT; if (v && ${chain}) return v; return '3000'; }`;
    expect(reported('a.ts', code)).toEqual([]);
  });

  it('keeps the fingerprint of a baselined plain fallback when a let assigned back to itself is added above it', () => {
    const [reassigned, plain] = REASSIGNED_THEN_PLAIN as [string, string];
    const prints = (code: string): string[] =>
      analyzeFile('a.ts', code, { rules: ['env-fallback-literal'] }).findings.map((f) => f.fingerprint);
    const before = prints(plain);
    const after = prints(`${reassigned}\n${plain}`);
    expect(after).toHaveLength(2);
    // The plain fallback, second by position: a shared key would hand its old fingerprint to the one above.
    expect(after[1]).toBe(before[0]);
  });

  it('keeps the fingerprints of baselined `||=` and unset-guard fallbacks when the same form on a let assigned after its declaration is added above them', () => {
    // By line: the finding added above takes occurrence 0, so a shared key would hand it the old fingerprint.
    const prints = (code: string): string[] =>
      analyzeFile('a.ts', code, { rules: ['env-fallback-literal'] }).findings.map(
        (f) => `${f.start.line}:${f.fingerprint}`,
      );
    for (const [apart, initialised] of DECLARED_APART_THEN_INITIALISED) {
      const [before] = prints(initialised);
      const after = prints(`${apart}\n${initialised}`);
      expect(after, apart).toHaveLength(2);
      expect(after[1], apart).toBe(before?.replace(/^1:/, '2:'));
    }
  });
});

describe('env-fallback-literal: NestJS ConfigService', () => {
  it('reports a fallback after `get`, and a literal default argument of `get`/`getOrThrow`', () => {
    expect(reported('a.ts', ...NEST_CONFIG)).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('does not report `getOrThrow`, option objects, settings, or `.get` on receivers that are no ConfigService', () => {
    expect(reported('a.ts', ...NEST_CONFIG_SAFE)).toEqual([]);
  });

  it('reads the receiver from its declaration: a type naming ConfigService (also in a union), or a value creating one', () => {
    expect(reported('a.ts', ...NEST_CONFIG_DECLARED)).toEqual([1, 2, 3, 4]);
  });

  it('does not report a receiver named `config` that its declaration says is something else', () => {
    for (const line of NEST_CONFIG_OTHER_DECLARED) expect(reported('a.ts', line), line).toEqual([]);
  });

  it('does not report an empty default that only feeds a presence check, but does when it is compared with a request value', () => {
    for (const file of EMPTY_DEFAULT_READ_PRESENCE) expect(reported('a.ts', file), file).toEqual([]);
    expect(reported('a.ts', ...EMPTY_DEFAULT_READ_USED)).toEqual([1, 2]);
  });
});

describe('env-fallback-literal: runtime env objects', () => {
  it('reports Hono and Cloudflare bindings (`c.env`, `env(c)`, `this.env`, `platform.env`)', () => {
    expect(reported('a.ts', ...HONO_BINDINGS)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('does not report bindings read without a literal fallback, settings, presence checks, or an `env` not from hono/adapter', () => {
    expect(reported('a.ts', ...HONO_BINDINGS_SAFE)).toEqual([]);
  });

  it('follows a renamed or namespace import of hono/adapter `env`, and a const bound to the env object', () => {
    for (const [i, line] of HONO_BINDINGS_ALIASED.entries())
      expect(reported('a.ts', line), `${i}: ${line}`).toEqual([1]);
  });

  it('does not follow a const bound to something else, a shadowed one, or a let', () => {
    for (const line of HONO_BINDINGS_ALIASED_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });

  it('reports `import.meta.env`, `Bun.env` and `Deno.env.get`', () => {
    expect(reported('a.ts', ...RUNTIME_ENVS)).toEqual([1, 2, 3]);
  });
});

describe('env-fallback-literal: block-bodied env getters', () => {
  it('reads a const bound to the env read, an unset guard and a fallback built into the getter', () => {
    for (const file of BLOCK_GETTERS) expect(reported('a.ts', file), file).toEqual([2]);
  });

  it('does not report a getter that throws, a setting, a presence check, or bodies it does not follow', () => {
    for (const file of BLOCK_GETTERS_SAFE) expect(reported('a.ts', file), file).toEqual([]);
  });

  it('reads a guarded fallback: a set guard before the last return, a typeof or undefined guard, and ternaries', () => {
    for (const file of GUARDED_GETTERS) expect(reported('a.ts', file), file).toEqual([2]);
  });

  it('does not report a guarded getter for a setting or a presence check, one that throws, or guards on other values', () => {
    for (const file of GUARDED_GETTERS_SAFE) expect(reported('a.ts', file), file).toEqual([]);
  });

  it('reports a getter of one fixed variable whose `if` falls back to a literal', () => {
    for (const line of FIXED_GUARDED_GETTERS) expect(reported('a.ts', line), line).toEqual([1]);
  });

  it('does not report a fixed getter of a setting, one that throws, or guards on other values', () => {
    for (const line of FIXED_GUARDED_GETTERS_SAFE) expect(reported('a.ts', line), line).toEqual([]);
  });
});

describe('env-fallback-literal: fail-closed checks', () => {
  it('does not report an empty default that only feeds a presence check', () => {
    expect(reported('a.ts', ...PRESENCE_CHECKS_JS)).toEqual([]);
    expect(reported('run.sh', ...PRESENCE_CHECKS_SHELL)).toEqual([]);
  });

  it('still reports an empty default that is used as the secret, and a non-empty shell default', () => {
    expect(reported('a.ts', EMPTY_DEFAULT_USED)).toEqual([1]);
    // An empty token in the request matches the empty fallback: an auth bypass.
    expect(reported('a.ts', ...EMPTY_DEFAULT_COMPARED)).toEqual([1, 2, 3, 4]);
    expect(reported('a.ts', ...EMPTY_DEFAULT_PRESENCE)).toEqual([]);
    expect(reported('run.sh', SHELL_DEFAULT)).toEqual([1]);
    // The empty-default exemption is for shell presence tests only.
    expect(reported('docker-compose.yml', ...COMPOSE_EMPTY_DEFAULTS)).toEqual([1, 2]);
    expect(reported('run.sh', ...SHELL_GLUED_DEFAULT)).toEqual([1]);
  });
});

describe('env-fallback-literal: names that hold settings', () => {
  it('does not report switches, sizes, algorithms and pointers to a secret', () => {
    expect(reported('a.ts', ...SETTING_NAMES)).toEqual([]);
  });

  it("reports a `'true'`/`'false'` fallback when the name closes with the secret word", () => {
    expect(reported('a.ts', ...BOOLEAN_FALLBACKS)).toEqual([1, 2]);
  });

  it('reports setting words that come before the secret word, and flag words inside one-word names are not secrets', () => {
    expect(reported('a.ts', ...WORD_ORDER)).toEqual([1, 2, 3, 4]);
  });

  it('keeps a numeric PIN for a password, and one-word secret names', () => {
    expect(reported('a.ts', ...PIN_AND_ONE_WORD_NAMES)).toEqual([1, 2, 3, 4]);
  });
});

describe('env-fallback-literal: inputs that used to crash or hang the scan', () => {
  it('refuses expressions nested deeper than the parser can take, as a parse error', () => {
    for (const text of [`export const x = ${'x ? 1 : '.repeat(10_000)}0;`, `export const x = ${'['.repeat(10_000)};`]) {
      const findings = analyzeFile('deep.ts', text).findings;
      expect(findings.map((f) => f.ruleId)).toEqual(['parse-error']);
      expect(findings[0]?.message).toContain('nest deeper than 1000 levels');
    }
  });

  it('parses ordinary code, and long flat chains, counting a member chain as a fraction of a level a link', () => {
    const flat = [
      ...Array.from({ length: 3000 }, (_, i) => `export const v${i} = a ? b : c`),
      `export const list = [${'1, '.repeat(5000)}];`,
      `export const m = a${'.b'.repeat(10_000)};`,
    ].join('\n');
    // 10,000 member accesses weigh a third of the limit (oxc-parser crashed at some 250,000).
    expect(nestingDepth(flat)).toBeLessThan(MAX_NESTING / 2);
    expect(parseModule('flat.ts', flat).errors).toEqual([]);
    const chain = parseModule('m.ts', `a${'.b'.repeat(10_000)};`).nodes.find((n) => n.type === 'MemberExpression');
    expect(memberPath(chain)?.length).toBe(10_001);
  });

  it('reads a 10,000-term `||` chain and a 10,000-part member chain without a stack overflow', () => {
    const terms = Array.from({ length: 10_000 }, (_, i) => `process.env.V${i}`).join(' || ');
    expect(reported('a.ts', `export const a = ${terms} || ${CHAIN_TAIL}`)).toEqual([1]);
    expect(reported('a.ts', `export const b = a${'.b'.repeat(10_000)} || 'x';`)).toEqual([]);
  });

  // Each receiver was looked up by scanning its whole scope or class (minutes at this size); the
  // test timeout is the assertion.
  it('resolves 40,000 ConfigService receivers in a module, a function or a class in linear time', () => {
    const calls = (receiver: string): string => `${receiver}.get('V');\n`.repeat(40_000);
    const fields = Array.from({ length: 40_000 }, (_, i) => `this.f${i} = ${i};`).join('\n');
    expect(reported('a.ts', `declare const config: ConfigService;\n${calls('config')}`)).toEqual([]);
    expect(reported('a.ts', `export function f(config) {\n${calls('config')}}`)).toEqual([]);
    expect(
      reported(
        'a.ts',
        `class S {\nconstructor(config) {\n${fields}\nthis.config = config;\n}\nm() {\n${calls('this.config')}}\n}`,
      ),
    ).toEqual([]);
  });

  it('checks 40,000 fallbacks assigned back to one let, and 40,000 guarded getters, in linear time', () => {
    const writes = "PORT = PORT || '1';\n".repeat(40_000);
    expect(reported('a.ts', `let { PORT } = process.env;\n${writes}`)).toEqual([]);
    const getters = "function f() { const v = process.env.PORT; if (v) return v; return '1'; }\n".repeat(40_000);
    expect(reported('a.ts', getters)).toEqual([]);
  });

  it('checks 40,000 writes to names of 40,000 parameters defaulting to the env object in linear time', () => {
    const functions = 'export function f(e = process.env) { e = {}; e.PORT; }\n'.repeat(40_000);
    expect(reported('a.ts', functions)).toEqual([]);
    const writes = 'e = {};\n'.repeat(40_000);
    expect(reported('a.ts', `export function f(e = process.env, o) {\n${writes}}`)).toEqual([]);
  });

  it('checks 40,000 writes of the env object back to its alias, and a || chain as deep as the parser takes, in bounded time', () => {
    const keeps = 'e = { ...e, ...o };\n'.repeat(40_000);
    // The secret read and its fallback, built so the repo's own fallback grep does not match a test input.
    const secretRead = `return e.${'JWT_SECRET'} ${'||'} 'x';`;
    expect(reported('a.ts', `export function f(e = process.env, o) {\n${keeps}${secretRead}\n}`)).toEqual([40_002]);
    // Deeper than the parser's nesting guard is a parse-error; followed to a bounded depth, then dropped.
    const chain = Array.from({ length: 900 }, () => 'e').join(' || ');
    expect(reported('a.ts', `export function f(e = process.env) {\ne = ${chain};\n${secretRead}\n}`)).toEqual([]);
  });

  it('marks 40,000 hono/adapter `env(c)` calls in one function in linear time', () => {
    const reads = 'env(c).V;\n'.repeat(40_000);
    expect(reported('a.ts', `import { env } from 'hono/adapter';\nexport function f(c) {\n${reads}}`)).toEqual([]);
  });

  it('finds shell defaults in linear time, only within one line', () => {
    // 750 KB of unclosed defaults: a quadratic scan (the old one took minutes) runs into the test
    // timeout; no timing is asserted here.
    expect(reported('run.sh', `\${A:-`.repeat(150_000))).toEqual([]);
    expect(reported('run.sh', ...SHELL_SPLIT_DEFAULT)).toEqual([]);
    expect(reported('run.sh', ...SHELL_NESTED_DEFAULTS)).toEqual([1, 2]);
  });
});
