import { afterEach, describe, expect, it, vi } from 'vitest';
import { defineBench, formatTable, median, percentile, ratio } from '../scripts/bench/harness.ts';

describe('median', () => {
  it('takes the middle of an odd count and the mean of the two middles of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([])).toBeNaN();
  });
});

describe('percentile', () => {
  it('returns the nearest-rank percentile', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile([7], 99)).toBe(7);
  });
});

describe('ratio', () => {
  it('is above 1 when we are ahead, whichever direction is better', () => {
    const base = { package: 'p', operation: 'o', unit: 'x' };
    expect(ratio({ ...base, ours: 200, peer: 100, higherIsBetter: true })).toBe(2);
    expect(ratio({ ...base, ours: 1, peer: 3, higherIsBetter: false })).toBe(3);
    expect(ratio({ ...base, ours: 1, higherIsBetter: true })).toBeUndefined();
  });
});

describe('defineBench', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it('measures both sides in one run and formats one table with the machine line', async () => {
    vi.stubEnv('RAMPART_BENCH_QUICK', '1');
    const bench = defineBench('@rampart/example', async (b) => {
      await b.compare('noop', { ours: () => 1, peer: { name: 'other noop', fn: () => 2 }, note: 'sanity' });
      b.record({
        operation: 'commands per decision',
        ours: 1,
        peer: 3,
        peerName: 'peer',
        unit: 'calls',
        higherIsBetter: false,
      });
    });
    const rows = await bench.run();
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({
      package: '@rampart/example',
      operation: 'noop',
      unit: 'ops/s',
      peerName: 'other noop',
    });
    expect(rows[0]?.ours).toBeGreaterThan(0);
    expect(rows[0]?.peer).toBeGreaterThan(0);
    const table = formatTable(rows, 'test machine');
    expect(table.split('\n')[0]).toBe('Machine: test machine');
    expect(table).toContain('| @rampart/example | commands per decision | 1.00 calls | peer | 3.00 calls | 3.00× |');
  });
});
