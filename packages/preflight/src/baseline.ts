// A baseline records accepted findings by fingerprint, so a team can adopt preflight on an old
// codebase and still fail CI on every new shortcut.
import { readFileSync, writeFileSync } from 'node:fs';
import { fingerprint } from './engine.ts';
import { PreflightError } from './errors.ts';
import type { Finding } from './finding.ts';

/** The file format of `--baseline`. Fingerprints only: a baseline never holds code or values. */
export interface Baseline {
  readonly version: 1;
  readonly findings: ReadonlyArray<{ readonly ruleId: string; readonly file: string; readonly fingerprint: string }>;
}

/**
 * Findings about coverage, not code: a file that was not scanned or not parsed, and an audit that did
 * not run. A baseline never accepts them, or a file (or the dependencies) would stay unchecked for good.
 */
function neverBaselined(f: Finding): boolean {
  return (
    f.ruleId === 'not-scanned' ||
    f.ruleId === 'parse-error' ||
    (f.ruleId === 'audit-coverage' && f.fingerprint === fingerprint('audit-coverage', f.file, 'no-coverage', 0))
  );
}

/**
 * Builds a baseline from findings (sorted, so the file diffs cleanly). Findings about coverage
 * (`not-scanned`, `parse-error`, an audit with no coverage) are left out: they are never baselined.
 *
 * @example
 * ```ts
 * writeBaseline('preflight-baseline.json', createBaseline(result.findings));
 * ```
 */
export function createBaseline(findings: readonly Finding[]): Baseline {
  return {
    version: 1,
    findings: findings
      .filter((f) => !neverBaselined(f))
      .map((f) => ({ ruleId: f.ruleId, file: f.file, fingerprint: f.fingerprint }))
      .sort(
        (a, b) =>
          a.file.localeCompare(b.file) ||
          a.ruleId.localeCompare(b.ruleId) ||
          a.fingerprint.localeCompare(b.fingerprint),
      ),
  };
}

/**
 * Writes a baseline as pretty JSON.
 *
 * @example
 * ```ts
 * writeBaseline('preflight-baseline.json', createBaseline(result.findings));
 * ```
 */
export function writeBaseline(path: string, baseline: Baseline): void {
  writeFileSync(path, `${JSON.stringify(baseline, null, 2)}\n`);
}

/**
 * Reads and validates a baseline file; errors name the file and what is wrong, never its content.
 *
 * @example
 * ```ts
 * const baseline = readBaseline('preflight-baseline.json');
 * ```
 */
export function readBaseline(path: string): Baseline {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new PreflightError(
      'ERR_PREFLIGHT_BASELINE_INVALID',
      `Baseline ${path} could not be read as JSON. Recreate it with "rampart-preflight scan --write-baseline ${path}".`,
      { cause },
    );
  }
  const candidate = parsed as Partial<Baseline>;
  if (
    candidate.version !== 1 ||
    !Array.isArray(candidate.findings) ||
    !candidate.findings.every(
      (f) => typeof f?.fingerprint === 'string' && typeof f.ruleId === 'string' && typeof f.file === 'string',
    )
  ) {
    throw new PreflightError(
      'ERR_PREFLIGHT_BASELINE_INVALID',
      `Baseline ${path} is not a version 1 preflight baseline ({ version: 1, findings: [{ ruleId, file, fingerprint }] }). Recreate it with --write-baseline.`,
    );
  }
  return candidate as Baseline;
}

/**
 * Splits findings into new ones and baselined ones; also counts baseline entries no longer seen.
 *
 * @example
 * ```ts
 * const { fresh } = applyBaseline(result.findings, readBaseline('preflight-baseline.json'));
 * ```
 */
export function applyBaseline(
  findings: readonly Finding[],
  baseline: Baseline,
): { fresh: Finding[]; baselined: number; stale: number } {
  const known = new Set(baseline.findings.map((f) => f.fingerprint));
  const seen = new Set<string>();
  const fresh: Finding[] = [];
  for (const f of findings) {
    if (known.has(f.fingerprint) && !neverBaselined(f)) seen.add(f.fingerprint);
    else fresh.push(f);
  }
  return { fresh, baselined: findings.length - fresh.length, stale: known.size - seen.size };
}
