// Inputs with secret-named fallbacks come from test/fixtures/env-fallback-cases.ts, so this file
// holds no such shortcut itself.
import { describe, expect, it } from 'vitest';
import {
  BINDINGS,
  BINDINGS_SAFE,
  BOOLEAN_FALLBACKS,
  CHAIN_TAIL,
  COMPOSE_EMPTY_DEFAULTS,
  EMPTY_DEFAULT_COMPARED,
  EMPTY_DEFAULT_PRESENCE,
  EMPTY_DEFAULT_USED,
  LOGICAL_ASSIGNMENT,
  LOGICAL_ASSIGNMENT_SAFE,
  PIN_AND_ONE_WORD_NAMES,
  PRESENCE_CHECKS_JS,
  PRESENCE_CHECKS_SHELL,
  SETTING_NAMES,
  SHELL_DEFAULT,
  SHELL_GLUED_DEFAULT,
  SHELL_NESTED_DEFAULTS,
  SHELL_SPLIT_DEFAULT,
  WORD_ORDER,
} from '../../test/fixtures/env-fallback-cases.ts';
import { analyzeFile } from '../engine.ts';
import { memberPath, nestingDepth, parseModule } from '../js-ast.ts';

const reported = (file: string, ...lines: string[]): number[] =>
  analyzeFile(file, `${lines.join('\n')}\n`, { rules: ['env-fallback-literal'] }).findings.map((f) => f.start.line);

describe('env-fallback-literal: logical assignment', () => {
  it('reports `||=` and `??=` on an env read or a variable initialised from one', () => {
    expect(reported('a.ts', ...LOGICAL_ASSIGNMENT)).toEqual([1, 2, 3]);
  });

  it('does not report settings, non-literals or unrelated variables', () => {
    expect(reported('a.ts', ...LOGICAL_ASSIGNMENT_SAFE)).toEqual([]);
  });
});

describe('env-fallback-literal: bindings and calls', () => {
  it('follows a const bound to an env read in the same scope, value-keeping calls and an if-unset assignment', () => {
    expect(reported('a.ts', ...BINDINGS)).toEqual([1, 2, 3, 4, 5]);
  });

  it('does not follow a shadowing parameter, a let that is not tested, or other calls', () => {
    expect(reported('a.ts', ...BINDINGS_SAFE)).toEqual([]);
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

  it('parses ordinary code, and long flat chains, without counting them as nesting', () => {
    const flat = [
      ...Array.from({ length: 3000 }, (_, i) => `export const v${i} = a ? b : c`),
      `export const list = [${'1, '.repeat(5000)}];`,
      `export const m = a${'.b'.repeat(10_000)};`,
    ].join('\n');
    expect(nestingDepth(flat)).toBeLessThan(10);
    expect(parseModule('flat.ts', flat).errors).toEqual([]);
    const chain = parseModule('m.ts', `a${'.b'.repeat(10_000)};`).nodes.find((n) => n.type === 'MemberExpression');
    expect(memberPath(chain)?.length).toBe(10_001);
  });

  it('reads a 10,000-term `||` chain and a 10,000-part member chain without a stack overflow', () => {
    const terms = Array.from({ length: 10_000 }, (_, i) => `process.env.V${i}`).join(' || ');
    expect(reported('a.ts', `export const a = ${terms} || ${CHAIN_TAIL}`)).toEqual([1]);
    expect(reported('a.ts', `export const b = a${'.b'.repeat(10_000)} || 'x';`)).toEqual([]);
  });

  it('finds shell defaults in linear time, only within one line', () => {
    // 750 KB of unclosed defaults: a quadratic scan (the old one took minutes) runs into the test
    // timeout; no timing is asserted here.
    expect(reported('run.sh', `\${A:-`.repeat(150_000))).toEqual([]);
    expect(reported('run.sh', ...SHELL_SPLIT_DEFAULT)).toEqual([]);
    expect(reported('run.sh', ...SHELL_NESTED_DEFAULTS)).toEqual([1, 2]);
  });
});
