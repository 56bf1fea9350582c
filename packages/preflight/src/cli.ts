import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBaseline, writeBaseline } from './baseline.ts';
import { evalCorpus, formatScores } from './corpus.ts';
import { PreflightError } from './errors.ts';
import type { RuleId } from './finding.ts';
import { formatReport, type ReportFormat } from './report.ts';
import { RULES } from './rules/index.ts';
import { scan } from './scan.ts';

/** Where the CLI writes; tests pass their own. */
export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly color: boolean;
}

const USAGE = `Usage:
  rampart-preflight scan [dir] [--format pretty|json|sarif] [--output file] [--exclude pattern]...
                         [--rule id]... [--baseline file] [--write-baseline file]
                         [--max-file-bytes n] [--audit] [--registry url]
  rampart-preflight eval-corpus [corpus-dir] [--format pretty|json]
  rampart-preflight rules

Exit codes: 0 no findings, 1 findings (or no audit coverage), 2 usage or configuration error,
3 unexpected failure (the scan did not complete).
`;

const DEFAULT_REGISTRY = 'https://registry.npmjs.org';

/**
 * Runs the CLI with `argv` (without `node` and the script) and returns the exit code.
 *
 * @example
 * ```ts
 * const code = await main(['scan', '.', '--format', 'sarif'], { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t), env: process.env, color: false });
 * ```
 */
export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'scan') return await runScan(rest, io);
    if (command === 'eval-corpus') return await runEvalCorpus(rest, io);
    if (command === 'rules') {
      io.stdout(`${RULES.map((r) => `${r.id.padEnd(28)} ${r.severity.padEnd(8)} ${r.summary}`).join('\n')}\n`);
      return 0;
    }
    io.stderr(
      command === undefined || command === '--help' || command === 'help'
        ? USAGE
        : `Unknown command "${command}".\n${USAGE}`,
    );
    return command === '--help' || command === 'help' ? 0 : 2;
  } catch (error) {
    if (error instanceof PreflightError) {
      io.stderr(`${error.code}: ${error.message}\n`);
      return 2;
    }
    if (error instanceof TypeError && (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      io.stderr(`${error.message}\n${USAGE}`);
      return 2;
    }
    // A bug or an environment failure (a closed pipe), not findings: exit 1 would read as a failed
    // gate with a report. Only the error's name and code are printed: its text may quote a file.
    const name = error instanceof Error ? error.name : typeof error;
    const code = (error as { code?: unknown } | null)?.code;
    io.stderr(
      `rampart-preflight failed unexpectedly (${name}${typeof code === 'string' ? ` ${code}` : ''}); the scan did not complete. Re-run it, and report the failure if it repeats.\n`,
    );
    return 3;
  }
}

async function runScan(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: {
      format: { type: 'string', default: 'pretty' },
      output: { type: 'string' },
      exclude: { type: 'string', multiple: true },
      rule: { type: 'string', multiple: true },
      baseline: { type: 'string' },
      'write-baseline': { type: 'string' },
      audit: { type: 'boolean', default: false },
      registry: { type: 'string' },
      'max-file-bytes': { type: 'string' },
    },
  });
  const format = values.format as ReportFormat;
  if (!['pretty', 'json', 'sarif'].includes(format)) {
    throw new PreflightError('ERR_PREFLIGHT_USAGE', '--format must be pretty, json or sarif.');
  }
  const problems: string[] = [];
  // One root: fingerprints and baselines hold paths relative to it, so a second one would be ambiguous.
  if (positionals.length > 1) {
    problems.push(`scan takes one directory, got ${positionals.length}: scan each directory in its own run`);
  }
  const maxFileBytes = values['max-file-bytes'];
  if (maxFileBytes !== undefined && !/^[1-9][0-9]{0,14}$/.test(maxFileBytes)) {
    problems.push('--max-file-bytes: must be a positive whole number of bytes');
  }
  // Checked before the scan, which may take minutes: a missing directory is created, an unusable path refused.
  for (const [flag, path] of [
    ['--output', values.output],
    ['--write-baseline', values['write-baseline']],
  ] as const) {
    if (path === undefined) continue;
    const problem = outputProblem(path);
    if (problem) problems.push(`${flag}: ${problem}`);
  }
  if (problems.length > 0) {
    throw new PreflightError('ERR_PREFLIGHT_INVALID_OPTION', `Invalid command line:\n- ${problems.join('\n- ')}`);
  }
  const registry = values.registry ?? io.env.npm_config_registry ?? DEFAULT_REGISTRY;
  const result = await scan({
    root: positionals[0] ?? '.',
    ...(maxFileBytes !== undefined ? { maxFileBytes: Number(maxFileBytes) } : {}),
    ...(values.exclude ? { exclude: values.exclude } : {}),
    ...(values.rule ? { rules: values.rule as RuleId[] } : {}),
    // A new baseline records every current finding, so an old baseline does not filter it.
    ...(values.baseline && !values['write-baseline'] ? { baseline: values.baseline } : {}),
    ...(values.audit || values.registry ? { audit: { registry } } : {}),
  });
  if (values['write-baseline']) {
    writeTo('--write-baseline', values['write-baseline'], () =>
      writeBaseline(values['write-baseline']!, createBaseline(result.findings)),
    );
    io.stderr(`Wrote ${result.findings.length} finding(s) to ${values['write-baseline']}.\n`);
    return 0;
  }
  const report = formatReport(result, format, { color: io.color && !values.output });
  if (values.output) writeTo('--output', values.output, () => writeFileSync(values.output!, report));
  else io.stdout(report);
  return result.findings.length > 0 ? 1 : 0;
}

/** Why a report or baseline cannot be written to `path` (its parent directory is created if missing). */
function outputProblem(path: string): string | undefined {
  try {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) return `${path} is a directory; name a file`;
    createDirectories(dirname(path));
    return undefined;
  } catch (error) {
    return `cannot create the directory of ${path} (${errorCode(error)})`;
  }
}

/**
 * `mkdir -p`, one level at a time: `mkdirSync(dir, { recursive: true })` never returns for a path
 * under /proc (Node retries it forever), where a plain `mkdirSync` fails at once with ENOENT.
 */
function createDirectories(dir: string): void {
  const missing: string[] = [];
  let current = resolve(dir);
  let existing = statSync(current, { throwIfNoEntry: false });
  while (existing === undefined && dirname(current) !== current) {
    missing.push(current);
    current = dirname(current);
    existing = statSync(current, { throwIfNoEntry: false });
  }
  if (existing !== undefined && !existing.isDirectory()) {
    throw Object.assign(new Error(`${current} is not a directory`), { code: 'ENOTDIR' });
  }
  for (const directory of missing.reverse()) {
    try {
      mkdirSync(directory);
    } catch (error) {
      // Created meanwhile by someone else: fine if it is a directory.
      if ((error as { code?: unknown }).code !== 'EEXIST' || !statSync(directory).isDirectory()) throw error;
    }
  }
}

/** Writes a file the user named; a failure is a configuration error (exit 2), not findings (exit 1). */
function writeTo(flag: string, path: string, write: () => void): void {
  try {
    write();
  } catch (error) {
    throw new PreflightError('ERR_PREFLIGHT_INVALID_OPTION', `${flag}: cannot write ${path} (${errorCode(error)}).`, {
      cause: error,
    });
  }
}

const errorCode = (error: unknown): string => (error as { code?: unknown })?.code?.toString() ?? 'unknown error';

async function runEvalCorpus(args: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args: [...args],
    allowPositionals: true,
    options: { format: { type: 'string', default: 'pretty' } },
  });
  const dir = positionals[0] ?? fileURLToPath(new URL('../corpus', import.meta.url));
  const scores = await evalCorpus(dir);
  io.stdout(values.format === 'json' ? `${JSON.stringify(scores, null, 2)}\n` : formatScores(scores));
  return 0;
}
