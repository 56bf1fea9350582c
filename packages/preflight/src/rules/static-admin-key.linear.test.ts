// Linear time proven by counting work, not by the test timeout: a wall-clock bound fails on a loaded
// CI machine (the 40,000-lookup input took 17.7 s alone and 41.9 s under load) and says nothing
// about growth. Every step of the rule's walks goes through the AST and scope helpers counted here
// (child, unwrap, memberPath, scope lookups, each node `nodesWithin` yields), so doubling an input
// doubles the count when the rule is linear and quadruples it when each use re-walks the others.
import { beforeEach, describe, expect, it, vi } from 'vitest';
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

beforeEach(() => {
  counter.calls = 0;
});

/** Lines the rule reports in a module, and the helper calls it took to find them. */
function run(code: string): { lines: number[]; work: number } {
  counter.calls = 0;
  const lines = analyzeFile('src/auth.ts', code, { rules: ['static-admin-key'] }).findings.map((f) => f.start.line);
  return { lines, work: counter.calls };
}

/** How much more work twice the input took: 2 when linear, 4 when quadratic. */
function growth(input: (n: number) => string, n: number): number {
  const once = run(input(n)).work;
  const twice = run(input(2 * n)).work;
  expect(once).toBeGreaterThan(n); // the counter sees the walks at all
  return twice / once;
}

describe('staticAdminKey work', () => {
  // One walk per list and per callback parameter, memoised: each lookup re-walking the list (or its
  // declaration's scope) is quadratic in the number of lookups.
  it('checks lookups and callbacks over one key list in time linear in their number', () => {
    const uses = "keys.includes(req.headers['x-request-id']); keys.some((k) => timingSafeEqual(k, req.body.x));\n";
    const head = "const keys = process.env.API_KEYS.split(',');\nif (req.headers['x-api-key'] === undefined) deny();\n";
    const input = (n: number): string => `${head}${uses.repeat(n)}`;
    expect(run(input(2_000)).lines).toEqual([]);
    expect(growth(input, 2_000)).toBeLessThan(2.2);
  });

  it('still reports a key header looked up in the same list among many lookups', () => {
    const uses = 'keys.some((k) => timingSafeEqual(k, req.body.x));\n'.repeat(2_000);
    const head = "const keys = process.env.API_KEYS.split(',');\n";
    expect(run(`${head}${uses}if (keys.includes(req.headers['x-api-key'])) ok();\n`).lines).toEqual([2_002]);
  });
});
