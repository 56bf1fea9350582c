// Linear time proven by counting work, not by the test timeout (see static-admin-key.linear.test.ts):
// the AST and scope helpers are counted, and so is each step up the parent map, which is how a scope
// lookup walks from a name to its declaration.
import { describe, expect, it, vi } from 'vitest';
import { analyzeFile } from '../engine.ts';

const counter = vi.hoisted(() => ({ calls: 0 }));

/** The module's functions, each counting its calls (and a generator, each value it yields). */
async function counted(original: Record<string, unknown>): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(original)) {
    if (typeof value !== 'function') out[name] = value;
    else if (value.constructor.name === 'GeneratorFunction') {
      out[name] = function* (...args: unknown[]) {
        counter.calls += 1;
        for (const item of (value as (...a: unknown[]) => Iterable<unknown>)(...args)) {
          counter.calls += 1;
          yield item;
        }
      };
    } else {
      out[name] = (...args: unknown[]) => {
        counter.calls += 1;
        return (value as (...a: unknown[]) => unknown)(...args);
      };
    }
  }
  return out;
}

vi.mock('../js-ast.ts', async (importOriginal) => counted(await importOriginal()));
vi.mock('../js-scope.ts', async (importOriginal) => counted(await importOriginal()));
// Every parse hands out a parent map whose lookups count: the steps of each walk to a scope.
vi.mock('../js-parse.ts', async (importOriginal) => {
  const original = await importOriginal<typeof import('../js-parse.ts')>();
  return {
    ...original,
    parseModule: (...args: Parameters<typeof original.parseModule>) => {
      const parsed = original.parseModule(...args);
      const get = parsed.parentOf.get.bind(parsed.parentOf);
      Object.defineProperty(parsed.parentOf, 'get', {
        value: (key: Parameters<typeof get>[0]) => {
          counter.calls += 1;
          return get(key);
        },
      });
      return parsed;
    },
  };
});

/** Lines the rule reports in a module, and the helper calls it took to find them. */
function run(code: string): { lines: number[]; work: number } {
  counter.calls = 0;
  const lines = analyzeFile('src/auth.ts', code, { rules: ['env-fallback-literal'] }).findings.map((f) => f.start.line);
  return { lines, work: counter.calls };
}

/** How much more work twice the input took: 2 when linear, 4 when quadratic. */
function growth(input: (n: number) => string, n: number): number {
  const once = run(input(n)).work;
  const twice = run(input(2 * n)).work;
  expect(once).toBeGreaterThan(n); // the counter sees the walks at all
  return twice / once;
}

describe('envFallbackLiteral work', () => {
  // The chain is a tree as deep as it has operators: a scope lookup from each operand that steps
  // through every `||` above it is quadratic in the length of the chain.
  it('checks a long || chain after an env read in time linear in its length', () => {
    const input = (n: number): string => {
      const operands = Array.from({ length: n }, (_, i) => `a${i}`).join(' || ');
      return `const s = process.env.JWT_SECRET || ${operands} || 'dev-secret';\n`;
    };
    expect(run(input(1_000)).lines).toEqual([1]);
    expect(growth(input, 1_000)).toBeLessThan(2.2);
  });
});
