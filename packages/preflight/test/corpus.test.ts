import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { main } from '../src/cli.ts';
import { evalCorpus } from '../src/corpus.ts';
import { RULES } from '../src/rules/index.ts';

const CORPUS = fileURLToPath(new URL('../corpus', import.meta.url));

// The published numbers. A change here is a change in what the scanner catches: update the README
// table with it. Known misses are named `*.hard.*` in the corpus.
const EXPECTED: Record<string, { tp: number; fp: number; fn: number; tn: number }> = {
  'audit-coverage': { tp: 6, fp: 0, fn: 0, tn: 2 },
  'deprecated-without-removal': { tp: 5, fp: 0, fn: 0, tn: 6 },
  'dotenv-in-build-context': { tp: 10, fp: 0, fn: 0, tn: 8 },
  'env-fallback-literal': { tp: 47, fp: 0, fn: 0, tn: 24 },
  'seed-plaintext-secret': { tp: 16, fp: 0, fn: 1, tn: 18 },
  'static-admin-key': { tp: 24, fp: 0, fn: 0, tn: 25 },
  'todo-auth': { tp: 8, fp: 0, fn: 0, tn: 9 },
  'unclassified-module-cache': { tp: 25, fp: 1, fn: 0, tn: 16 },
};

describe('evalCorpus', () => {
  it('has true and false positive cases for every scanning rule', async () => {
    const scores = await evalCorpus(CORPUS);
    const scanning = RULES.filter((r) => !['invalid-suppression', 'parse-error', 'not-scanned'].includes(r.id)).map(
      (r) => r.id,
    );
    expect(scores.map((s) => s.rule).sort()).toEqual([...scanning].sort());
    for (const s of scores) {
      expect(s.truePositives + s.falseNegatives, s.rule).toBeGreaterThanOrEqual(5);
      expect(s.trueNegatives + s.falsePositives, s.rule).toBeGreaterThanOrEqual(2);
    }
  });

  it('scores every rule exactly as published', async () => {
    const scores = await evalCorpus(CORPUS);
    const actual = Object.fromEntries(
      scores.map((s) => [
        s.rule,
        { tp: s.truePositives, fp: s.falsePositives, fn: s.falseNegatives, tn: s.trueNegatives },
      ]),
    );
    expect(actual).toEqual(EXPECTED);
  });

  it('misses only the cases labelled as known hard cases', async () => {
    const misses = (await evalCorpus(CORPUS)).flatMap((s) => s.misses);
    expect(misses.length).toBeGreaterThan(0);
    for (const miss of misses) expect(miss).toMatch(/\.hard\./);
  });
});

describe('rampart-preflight eval-corpus', () => {
  it('prints precision and recall per rule', async () => {
    let out = '';
    const code = await main(['eval-corpus', CORPUS], {
      stdout: (t) => (out += t),
      stderr: () => {},
      env: {},
      color: false,
    });
    expect(code).toBe(0);
    expect(out).toMatch(/^rule\s+TP\s+FP\s+FN\s+TN\s+precision\s+recall/);
    expect(out).toMatch(/env-fallback-literal\s+47\s+0\s+0\s+24\s+1\.000\s+1\.000/);
    expect(out).toMatch(/static-admin-key\s+24\s+0\s+0\s+25\s+1\.000\s+1\.000/);
  });
});
