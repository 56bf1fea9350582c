// Measures the rules on a labelled corpus: corpus/<rule>/{positive,negative}/<case>. A case is a
// file (analysed under its own name) or a directory (scanned as a project root). A positive case
// must produce at least one finding of its rule; a negative case none. A positive whose name
// contains ".critical." must produce a critical finding.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { interpretAuditResponse } from './audit.ts';
import { analyzeFile } from './engine.ts';
import { PreflightError } from './errors.ts';
import type { Finding, RuleId } from './finding.ts';
import { RULE_IDS } from './rules/index.ts';
import { scan } from './scan.ts';

/** Precision and recall of one rule on the corpus. */
export interface RuleScore {
  readonly rule: RuleId;
  readonly truePositives: number;
  readonly falsePositives: number;
  readonly falseNegatives: number;
  readonly trueNegatives: number;
  /** tp / (tp + fp); 1 when the rule reported nothing. */
  readonly precision: number;
  /** tp / (tp + fn); 1 when there were no positives. */
  readonly recall: number;
  /** Case paths the rule got wrong (relative to the corpus). */
  readonly misses: readonly string[];
}

/** The date the corpus is evaluated at, so expiry cases do not rot. */
export const CORPUS_NOW: Date = new Date('2026-11-22T12:00:00Z');

async function findingsFor(rule: RuleId, path: string, name: string, now: Date): Promise<Finding[]> {
  if (rule === 'audit-coverage') {
    const recorded = JSON.parse(readFileSync(path, 'utf8')) as { status: number; body: string; dependencies: number };
    const result = interpretAuditResponse(recorded.status, recorded.body, recorded.dependencies, 'pnpm-lock.yaml');
    if (result.status !== 'no-coverage') return [];
    return [
      {
        ruleId: rule,
        severity: 'error',
        message: result.reason,
        file: name,
        start: { line: 1, column: 1 },
        end: { line: 1, column: 1 },
        snippet: '',
        fingerprint: '',
      },
    ];
  }
  if (statSync(path).isDirectory()) return [...(await scan({ root: path, rules: [rule], now })).findings];
  return analyzeFile(name, readFileSync(path, 'utf8'), { rules: [rule], now }).findings;
}

/**
 * Evaluates every rule directory in `corpusDir`.
 *
 * @example
 * ```ts
 * for (const score of await evalCorpus('packages/preflight/corpus')) console.log(score.rule, score.precision, score.recall);
 * ```
 */
export async function evalCorpus(corpusDir: string, now: Date = CORPUS_NOW): Promise<RuleScore[]> {
  if (!existsSync(corpusDir) || !statSync(corpusDir).isDirectory()) {
    throw new PreflightError(
      'ERR_PREFLIGHT_CORPUS_INVALID',
      `No corpus directory at ${corpusDir}. Pass one laid out as <rule>/{positive,negative}/<case> (the package's own corpus lives in its repository, not in the published tarball).`,
    );
  }
  const scores: RuleScore[] = [];
  for (const rule of readdirSync(corpusDir).sort()) {
    if (!statSync(join(corpusDir, rule)).isDirectory()) continue;
    if (!RULE_IDS.has(rule as RuleId)) {
      throw new PreflightError(
        'ERR_PREFLIGHT_CORPUS_INVALID',
        `Corpus directory "${rule}" is not a rule id. Rename it to one of: ${[...RULE_IDS].join(', ')}.`,
      );
    }
    const id = rule as RuleId;
    let tp = 0;
    let fp = 0;
    let fn = 0;
    let tn = 0;
    const misses: string[] = [];
    for (const label of ['positive', 'negative'] as const) {
      const dir = join(corpusDir, rule, label);
      let cases: string[];
      try {
        cases = readdirSync(dir).sort();
      } catch {
        continue;
      }
      for (const name of cases) {
        const findings = (await findingsFor(id, join(dir, name), name, now)).filter((f) => f.ruleId === id);
        const hit = name.includes('.critical.') ? findings.some((f) => f.severity === 'critical') : findings.length > 0;
        if (label === 'positive') {
          if (hit) tp++;
          else {
            fn++;
            misses.push(`${rule}/positive/${name}`);
          }
        } else if (findings.length > 0) {
          fp++;
          misses.push(`${rule}/negative/${name}`);
        } else {
          tn++;
        }
      }
    }
    scores.push({
      rule: id,
      truePositives: tp,
      falsePositives: fp,
      falseNegatives: fn,
      trueNegatives: tn,
      precision: tp + fp === 0 ? 1 : tp / (tp + fp),
      recall: tp + fn === 0 ? 1 : tp / (tp + fn),
      misses,
    });
  }
  return scores;
}

/**
 * The precision/recall table the `eval-corpus` command prints.
 *
 * @example
 * ```ts
 * process.stdout.write(formatScores(await evalCorpus('corpus')));
 * ```
 */
export function formatScores(scores: readonly RuleScore[]): string {
  const header = `${'rule'.padEnd(28)} ${'TP'.padStart(4)} ${'FP'.padStart(4)} ${'FN'.padStart(4)} ${'TN'.padStart(4)}  precision  recall`;
  const rows = scores.map(
    (s) =>
      `${s.rule.padEnd(28)} ${String(s.truePositives).padStart(4)} ${String(s.falsePositives).padStart(4)} ${String(s.falseNegatives).padStart(4)} ${String(s.trueNegatives).padStart(4)}  ${s.precision.toFixed(3).padStart(9)}  ${s.recall.toFixed(3).padStart(6)}`,
  );
  const misses = scores.flatMap((s) => s.misses.map((m) => `  miss: ${m}`));
  return `${[header, ...rows, ...misses].join('\n')}\n`;
}
