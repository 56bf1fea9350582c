import { type Dirent, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { type AuditResult, runAudit } from './audit.ts';
import { applyBaseline, readBaseline } from './baseline.ts';
import { isIgnored, parseDockerignore } from './dockerignore.ts';
import { analyzeFile, commentsOf, finalize, fingerprint } from './engine.ts';
import { PreflightError } from './errors.ts';
import { type Finding, type RawFinding, type RuleId, SEVERITY_RANK } from './finding.ts';
import type { ProjectContext } from './project.ts';
import { projectLookup } from './project-lookup.ts';
import { FILE_RULES, PROJECT_RULES, RULE_IDS } from './rules/index.ts';
import { SourceText } from './source-text.ts';

/**
 * Paths never worth scanning: dependencies, build output, tool caches (.dockerignore syntax).
 *
 * @example
 * ```ts
 * console.log(DEFAULT_EXCLUDES.join('\n'));
 * ```
 */
export const DEFAULT_EXCLUDES: readonly string[] = [
  '**/node_modules',
  '**/.git',
  '**/dist',
  '**/coverage',
  '**/.turbo',
  '**/.toolchain',
  '**/.next',
  '**/.cache',
];

// Minified bundles and vendored code: over `maxFileBytes` they are skipped with a notice, not failed.
const VENDORED = /(\.min\.[cm]?js|\.bundle\.[cm]?js)$|(^|\/)vendor\//;

/** Options for `scan`. */
export interface ScanOptions {
  /** Directory to scan. */
  readonly root: string;
  /** Extra exclude patterns, in .dockerignore syntax, relative to `root` (`**\/fixtures`). */
  readonly exclude?: readonly string[];
  /** Only these rules (default: all). */
  readonly rules?: readonly RuleId[];
  /** A baseline file; findings whose fingerprint it lists are not reported. */
  readonly baseline?: string;
  /** Run the dependency audit against this registry. Without it the report says "not requested". */
  readonly audit?: { readonly registry: string; readonly fetch?: typeof fetch; readonly timeoutMs?: number };
  /** Clock for expiry dates. */
  readonly now?: Date;
  /**
   * Files larger than this are not scanned (default 1 MiB); each one a rule applies to is a
   * `not-scanned` finding, so the scan fails until the file is excluded.
   */
  readonly maxFileBytes?: number;
}

/** What a scan found, and what it could not cover. */
export interface ScanResult {
  readonly root: string;
  /** Unsuppressed, un-baselined findings, most severe first. */
  readonly findings: readonly Finding[];
  readonly filesScanned: number;
  readonly suppressed: number;
  readonly baselined: number;
  /** Baseline entries that no longer match anything (fixed, or moved beyond recognition). */
  readonly staleBaseline: number;
  /**
   * Files a rule applies to that were not scanned because they exceed `maxFileBytes` (each also a
   * `not-scanned` finding unless minified or vendored), and symbolic links, which the scan does not
   * follow; {@link ScanResult.skippedReasons} says which.
   */
  readonly skipped: readonly string[];
  /**
   * Why each file of `skipped` was not scanned. An object without a prototype (a file may be named
   * `__proto__`): test a path with `Object.hasOwn`, not `.hasOwnProperty`.
   */
  readonly skippedReasons: Readonly<Record<string, SkipReason>>;
  readonly audit: AuditResult;
}

/**
 * Why a file was not scanned: over `maxFileBytes`, a symbolic link (not followed: it may lead out of
 * the tree), or unreadable (a name that is not valid UTF-8, or a file or directory that could not be
 * listed or read).
 */
export type SkipReason = 'too-large' | 'symlink' | 'unreadable';

type Patterns = ReturnType<typeof parseDockerignore>;

// Dependencies and git internals are not the project's own files: never entered, not even for `.env`.
const NOT_OWN = new Set(['node_modules', '.git']);
/** How many directory levels below a default-excluded directory its `.env*` files are looked for. */
const EXCLUDED_DOTENV_DEPTH = 4;

/**
 * Scanned files, and the `.env*` files inside directories only the default excludes skip (build
 * output and tool caches, which a Docker build context still includes): a walk of at most
 * {@link EXCLUDED_DOTENV_DEPTH} levels below each, that never enters `node_modules` or `.git` and
 * honours the caller's own excludes.
 */
function walk(
  root: string,
  excludes: Patterns,
  requested: Patterns,
): {
  files: string[];
  excludedDotenv: string[];
  symlinks: string[];
  unreadable: string[];
  unreadableDirs: Set<string>;
} {
  const files: string[] = [];
  const excludedDotenv: string[] = [];
  const symlinks: string[] = [];
  const unreadable: string[] = [];
  // Unreadable directories: every file in them is uncovered, whatever its name.
  const unreadableDirs = new Set<string>();
  /** `excludedDepth`: how deep inside a default-excluded directory `dir` is, if it is. */
  const visit = (dir: string, excludedDepth?: number): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (error) {
      // A root that cannot be listed is a configuration error; a directory below it that cannot be
      // listed is not covered. Inside build output too: Docker still sends it, and a `.env` in it
      // would go unseen. The error's text is not printed: only its code.
      if (dir === root) {
        const code = (error as { code?: unknown }).code;
        throw new PreflightError(
          'ERR_PREFLIGHT_INVALID_OPTION',
          `Invalid scan options:\n- root: ${root} could not be listed${typeof code === 'string' ? ` (${code})` : ''}; fix its permissions or scan another directory`,
          { cause: error },
        );
      }
      const rel = relative(root, dir).split(sep).join('/');
      unreadable.push(rel);
      unreadableDirs.add(rel);
      return;
    }
    for (const entry of entries) {
      const full = join(dir, entry.name);
      const rel = relative(root, full).split(sep).join('/');
      // A name that is not valid UTF-8 comes back with U+FFFD in it, a path that names nothing.
      if (entry.name.includes('\uFFFD') && !exists(full)) {
        const own = excludedDepth === undefined && !isIgnored(excludes, rel);
        // In a default-excluded directory (build output a Docker context still includes) only what
        // may hide a `.env`: a `.env*` file or a directory.
        const hidden =
          !own &&
          !NOT_OWN.has(entry.name) &&
          !isIgnored(requested, rel) &&
          (entry.isDirectory() || entry.name.startsWith('.env'));
        if (own || hidden) unreadable.push(rel);
        if ((own || hidden) && entry.isDirectory()) unreadableDirs.add(rel);
        continue;
      }
      if (excludedDepth === undefined && !isIgnored(excludes, rel)) {
        if (entry.isDirectory()) visit(full);
        else if (entry.isFile()) files.push(rel);
        // Not followed (a link may lead out of the tree or into a loop), but not silently either.
        else if (entry.isSymbolicLink()) symlinks.push(rel);
        continue;
      }
      if (NOT_OWN.has(entry.name) || isIgnored(requested, rel)) continue;
      const depth = excludedDepth === undefined ? 0 : excludedDepth + 1;
      if (entry.isDirectory() && depth <= EXCLUDED_DOTENV_DEPTH) visit(full, depth);
      else if (excludedDepth !== undefined && entry.isFile() && entry.name.startsWith('.env')) excludedDotenv.push(rel);
    }
  };
  visit(root);
  return {
    files: files.sort(),
    excludedDotenv: excludedDotenv.sort(),
    symlinks: symlinks.sort(),
    unreadable: unreadable.sort(),
    unreadableDirs,
  };
}

function exists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

function validate(options: ScanOptions): void {
  const problems: string[] = [];
  try {
    if (!statSync(options.root).isDirectory()) problems.push(`root: ${options.root} is not a directory`);
  } catch {
    problems.push(`root: ${options.root} does not exist`);
  }
  for (const rule of options.rules ?? []) if (!RULE_IDS.has(rule)) problems.push(`rules: unknown rule "${rule}"`);
  if (options.maxFileBytes !== undefined && !(Number.isSafeInteger(options.maxFileBytes) && options.maxFileBytes > 0))
    problems.push('maxFileBytes: must be a positive integer (bytes)');
  if (options.audit && !/^https?:\/\//.test(options.audit.registry))
    problems.push('audit.registry: must be an http(s) URL');
  if (problems.length > 0) {
    throw new PreflightError('ERR_PREFLIGHT_INVALID_OPTION', `Invalid scan options:\n- ${problems.join('\n- ')}`);
  }
}

/**
 * Scans a directory with every rule, applies suppressions and the baseline, and (when asked) audits
 * the dependencies.
 *
 * @example
 * ```ts
 * import { scan } from '@rampart/preflight';
 * const result = await scan({ root: '.', exclude: ['**\/fixtures'] });
 * if (result.findings.length > 0) process.exitCode = 1;
 * ```
 */
export async function scan(options: ScanOptions): Promise<ScanResult> {
  validate(options);
  const root = resolve(options.root);
  const now = options.now ?? new Date();
  let excludes: Patterns;
  let requested: Patterns;
  try {
    excludes = parseDockerignore([...DEFAULT_EXCLUDES, ...(options.exclude ?? [])].join('\n'));
    requested = parseDockerignore((options.exclude ?? []).join('\n'));
  } catch (cause) {
    throw new PreflightError('ERR_PREFLIGHT_INVALID_OPTION', 'exclude: a pattern is not valid .dockerignore syntax.', {
      cause,
    });
  }
  const baseline = options.baseline !== undefined ? readBaseline(options.baseline) : undefined;
  const { files, excludedDotenv, symlinks, unreadable, unreadableDirs } = walk(root, excludes, requested);
  const maxBytes = options.maxFileBytes ?? 1024 * 1024;
  const cache = new Map<string, string>();
  const sizes = new Map<string, boolean>();
  const tooLarge = (file: string): boolean => {
    let large = sizes.get(file);
    if (large === undefined) {
      large = statSync(join(root, file)).size > maxBytes;
      sizes.set(file, large);
    }
    return large;
  };
  // Files whose read failed (permissions, removed since the walk), whichever pass read them: each is
  // listed as unreadable, and one file's failure never ends or empties the scan of the others.
  const failedReads = new Set<string>();
  const read = (file: string): string | undefined => {
    let text = cache.get(file);
    if (text === undefined && !failedReads.has(file)) {
      try {
        text = readFileSync(join(root, file), 'utf8');
        cache.set(file, text);
      } catch {
        failedReads.add(file);
      }
    }
    return text;
  };
  const lookup = projectLookup({
    files,
    read: (file) => {
      try {
        if (tooLarge(file)) return undefined;
      } catch {
        failedReads.add(file);
        return undefined;
      }
      return read(file);
    },
    readManifest: read,
  });

  const wanted = options.rules ? new Set(options.rules) : undefined;
  const findings: Finding[] = [];
  let suppressed = 0;
  let scanned = 0;
  const skipped: string[] = [];
  // Null prototype: a file named `__proto__` is a key like any other.
  const skippedReasons: Record<string, SkipReason> = Object.create(null) as Record<string, SkipReason>;
  for (const file of files) {
    if (!FILE_RULES.some((r) => (!wanted || wanted.has(r.id)) && r.appliesTo(file))) continue;
    let large: boolean;
    try {
      large = tooLarge(file);
    } catch {
      // Gone or unreadable since the walk: not covered, and not a crash.
      unreadable.push(file);
      continue;
    }
    if (large) {
      skipped.push(file);
      skippedReasons[file] = 'too-large';
      // Minified and vendored code is not the project's source: listed (and noted in SARIF), not failed.
      if (VENDORED.test(file)) continue;
      // No coverage must not read as a pass: the file fails the scan until it is excluded.
      findings.push(
        fileFinding(
          'not-scanned',
          file,
          'size',
          `Not scanned: the file is larger than ${maxBytes} bytes (maxFileBytes), so no rule covered it. Exclude it (--exclude) if it is generated or vendored, or raise the limit (--max-file-bytes, or the maxFileBytes option).`,
        ),
      );
      continue;
    }
    const text = read(file);
    if (text === undefined) continue;
    scanned++;
    try {
      const version = lookup.packageManifest(file)?.version;
      const result = analyzeFile(file, text, {
        now,
        ...(options.rules ? { rules: options.rules } : {}),
        ...(typeof version === 'string' ? { packageVersion: version } : {}),
        project: lookup,
      });
      findings.push(...result.findings);
      suppressed += result.suppressed;
    } catch (error) {
      // One file the rules cannot handle (a stack overflow on generated code, say) must not end
      // the scan of every other file, nor pass silently. The error's text is not printed: it may
      // quote the file.
      const kind = error instanceof Error ? error.name : 'error';
      findings.push(
        fileFinding(
          'not-scanned',
          file,
          'failed',
          `Not scanned: analysing the file failed (${kind}), so its findings are unknown. Exclude it if it is generated, or report the failure.`,
        ),
      );
    }
  }

  const projectUnreadable = new Set<string>();
  const project: ProjectContext = { files, excludedDotenv, read };
  const projectRaw = new Map<string, RawFinding[]>();
  for (const rule of PROJECT_RULES) {
    if (wanted && !wanted.has(rule.id)) continue;
    const before = failedReads.size;
    const found = rule.check(project);
    // A file a project rule needed and could not read: the rule did not cover it.
    if (failedReads.size > before) for (const file of [...failedReads].slice(before)) projectUnreadable.add(file);
    for (const f of found) projectRaw.set(f.file, [...(projectRaw.get(f.file) ?? []), f]);
  }
  for (const [file, raw] of projectRaw) {
    const text = read(file);
    if (text === undefined) continue;
    const result = finalize(file, new SourceText(text), raw, commentsOf(file, text), now);
    // Suppression problems in these files were already reported by the file pass.
    const analysedAlready = FILE_RULES.some((r) => (!wanted || wanted.has(r.id)) && r.appliesTo(file));
    findings.push(...result.findings.filter((f) => f.ruleId !== 'invalid-suppression' || !analysedAlready));
    suppressed += result.suppressed;
  }

  const listed = new Set(unreadable);
  for (const file of failedReads) if (!listed.has(file)) unreadable.push(file);
  for (const entry of new Set(unreadable)) {
    skipped.push(entry);
    skippedReasons[entry] = 'unreadable';
    if (unreadableDirs.has(entry)) {
      findings.push(
        fileFinding(
          'not-scanned',
          entry,
          'unreadable',
          'Not scanned: the directory could not be listed (its name is not valid UTF-8, or listing it failed), so no rule covered the files in it. Rename it to a UTF-8 name, fix its permissions, or exclude it (--exclude).',
        ),
      );
      continue;
    }
    // Its rules are judged by the name as read: a `.ts` with a broken name still fails the scan, and
    // so does a `.env*` (dotenv-in-build-context looks for those everywhere).
    const dotenv = /(^|\/)\.env[^/]*$/.test(entry);
    if (
      !dotenv &&
      !projectUnreadable.has(entry) &&
      !FILE_RULES.some((r) => (!wanted || wanted.has(r.id)) && r.appliesTo(entry))
    )
      continue;
    findings.push(
      fileFinding(
        'not-scanned',
        entry,
        'unreadable',
        'Not scanned: the file could not be read (its name is not valid UTF-8, or reading it failed), so no rule covered it. Rename it to a UTF-8 name, fix its permissions, or exclude it (--exclude).',
      ),
    );
  }
  for (const link of symlinks) {
    skipped.push(link);
    skippedReasons[link] = 'symlink';
  }

  let audit: AuditResult = { status: 'not-requested' };
  if (options.audit && (!wanted || wanted.has('audit-coverage'))) {
    audit = await runAudit(root, options.audit);
    const anchor =
      audit.status !== 'not-requested' && 'lockfile' in audit && audit.lockfile ? audit.lockfile : 'package.json';
    if (audit.status === 'no-coverage') {
      findings.push(
        fileFinding(
          'audit-coverage',
          anchor,
          'no-coverage',
          `No dependency coverage: ${audit.reason}. ${audit.dependencies} resolved dependencies were not checked, so their vulnerability count is unknown.`,
        ),
      );
    } else if (audit.status === 'covered' && audit.advisories > 0) {
      findings.push(
        fileFinding(
          'audit-coverage',
          anchor,
          // The advisories themselves, so a baseline accepts these and not the next ones.
          `advisories:${audit.advisoryIds.join(' ')}`,
          `The dependency audit found ${audit.advisories} advisories in ${audit.vulnerablePackages.length} package(s): ${audit.vulnerablePackages.slice(0, 20).join(', ')}. Upgrade or document each.`,
        ),
      );
    }
  }

  let reported = findings;
  let baselined = 0;
  let stale = 0;
  if (baseline) {
    const applied = applyBaseline(findings, baseline);
    reported = applied.fresh;
    baselined = applied.baselined;
    stale = applied.stale;
  }
  reported.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      a.file.localeCompare(b.file) ||
      a.start.line - b.start.line ||
      a.ruleId.localeCompare(b.ruleId),
  );
  return {
    root,
    findings: reported,
    filesScanned: scanned,
    suppressed,
    baselined,
    staleBaseline: stale,
    skipped,
    skippedReasons,
    audit,
  };
}

/** A file-level finding without a source position: `not-scanned` and `audit-coverage`. */
function fileFinding(ruleId: RuleId, file: string, key: string, message: string): Finding {
  return {
    ruleId,
    severity: 'error',
    message,
    file,
    start: { line: 1, column: 1 },
    end: { line: 1, column: 1 },
    snippet: '',
    fingerprint: fingerprint(ruleId, file, key, 0),
  };
}
