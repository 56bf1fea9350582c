// Linear time proven by counting work, not by the test timeout: a wall-clock bound fails on a loaded
// CI machine (the 40,000-lookup input took 17.7 s alone and 41.9 s under load) and says nothing
// about growth. Every step of the rule's walks goes through the AST and scope helpers counted here
// (child, unwrap, memberPath, scope lookups, each node `nodesWithin` yields), so doubling an input
// doubles the count when the rule is linear and quadruples it when each use re-walks the others.
import { describe, expect, it, vi } from 'vitest';
import { growth, runCounted } from '../../test/fixtures/work-counter.ts';
import { analyzeFile } from '../engine.ts';

vi.mock('../js-ast.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);
vi.mock('../js-scope.ts', async (importOriginal) =>
  (await import('../../test/fixtures/work-counter.ts')).counted(await importOriginal()),
);

const RULE = 'static-admin-key';

describe('staticAdminKey work', () => {
  // One walk per list and per callback parameter, memoised: each lookup re-walking the list (or its
  // declaration's scope) is quadratic in the number of lookups.
  it('checks lookups and callbacks over one key list in time linear in their number', () => {
    const uses = "keys.includes(req.headers['x-request-id']); keys.some((k) => timingSafeEqual(k, req.body.x));\n";
    const head = "const keys = process.env.API_KEYS.split(',');\nif (req.headers['x-api-key'] === undefined) deny();\n";
    const input = (n: number): string => `${head}${uses.repeat(n)}`;
    expect(runCounted(analyzeFile, RULE, input(2_000)).lines).toEqual([]);
    expect(growth(analyzeFile, RULE, input, 2_000)).toBeLessThan(2.2);
  });

  it('still reports a key header looked up in the same list among many lookups', () => {
    const uses = 'keys.some((k) => timingSafeEqual(k, req.body.x));\n'.repeat(2_000);
    const head = "const keys = process.env.API_KEYS.split(',');\n";
    expect(
      runCounted(analyzeFile, RULE, `${head}${uses}if (keys.includes(req.headers['x-api-key'])) ok();\n`).lines,
    ).toEqual([2_002]);
  });
});
