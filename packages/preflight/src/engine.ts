// The one rule engine. The CLI feeds it files from disk, the ESLint plugin feeds it the file ESLint
// is linting; both get the same findings, suppressions and fingerprints.
import { createHash } from 'node:crypto';
import type { Finding, RawFinding, RuleId } from './finding.ts';
import type { ParsedModule } from './js-ast.ts';
import { JS_EXTENSIONS } from './js-parse.ts';
import { MAX_NESTING, TOO_DEEP } from './nesting-depth.ts';
import { FileContext, type ProjectLookup } from './rule.ts';
import { deprecatedWithoutRemoval } from './rules/deprecated-without-removal.ts';
import { FILE_RULES, RULE_IDS } from './rules/index.ts';
import type { SourceText } from './source-text.ts';
import { parseSuppression, suppressionActive } from './suppression.ts';

/** The result of analysing one file. */
export interface FileAnalysis {
  readonly findings: Finding[];
  /** Findings an active inline suppression hid. */
  readonly suppressed: number;
}

/** Options for analysing one file. */
export interface AnalyzeOptions {
  /** Only these rules (default: all). */
  readonly rules?: readonly RuleId[];
  /** The clock for expiry dates (suppressions, TODOs, deprecations). */
  readonly now?: Date;
  /** Version of the package the file belongs to, for `deprecated-without-removal`. */
  readonly packageVersion?: string;
  /** An already parsed program of this text (the ESLint plugin passes ESLint's); default: parse it. */
  readonly module?: ParsedModule;
  /**
   * The rest of the project (`scan()` passes it): rules follow env helpers imported from other
   * files and pair SQL `INSERT`s with `CREATE TABLE`s of other files. Without it, each file is
   * judged on its own.
   */
  readonly project?: ProjectLookup;
}

interface CommentSpan {
  readonly text: string;
  readonly start: number;
  readonly end: number;
}

/** Comments where suppressions may live: real comments for JS/TS, comment lines elsewhere. */
function commentSpans(context: FileContext): CommentSpan[] {
  if (context.isJs) return context.module.comments.map((c) => ({ text: c.value, start: c.start, end: c.end }));
  const spans: CommentSpan[] = [];
  for (const match of context.text.matchAll(/(^|[ \t])(#|--|\/\/|\/\*|<!--)([^\n]*)/gm)) {
    const start = match.index + (match[1]?.length ?? 0);
    spans.push({ text: match[3] ?? '', start, end: match.index + match[0].length });
  }
  return spans;
}

const isJsFile = (file: string): boolean => JS_EXTENSIONS.some((ext) => file.endsWith(ext));

/**
 * Offsets of every string, template text, and number or regular expression pattern of four characters or more of a parsed file, sorted and disjoint: a snippet hides
 * them wherever they are, a string that began lines above the finding included.
 */
function literalRanges(context: FileContext): Array<readonly [number, number]> {
  if (!context.isJs) return [];
  const out: Array<readonly [number, number]> = [];
  for (const node of context.module.nodes) {
    if (node.type === 'TemplateElement') out.push([node.start, node.end]);
    else if (node.type === 'Literal' && typeof node.value === 'string') out.push([node.start + 1, node.end - 1]);
    // A PIN or key may be written as a number (`password: 48291736`); `0`, `1`, `200` stay readable.
    else if (
      node.type === 'Literal' &&
      (typeof node.value === 'number' || typeof node.value === 'bigint') &&
      node.end - node.start >= 4
    )
      out.push([node.start, node.end]);
    // A key may be spelled as a pattern (`/^sk_live_…$/.test(key)`); `/.*/`, `/\s+/` stay readable.
    else if (node.type === 'Literal' && typeof node.regex === 'object' && node.regex !== null) {
      const pattern = (node.regex as { pattern?: unknown }).pattern;
      if (typeof pattern === 'string' && pattern.length >= 4)
        out.push([node.start + 1, node.start + 1 + pattern.length]);
    }
  }
  return out;
}

/**
 * A stable fingerprint: no line numbers, no values.
 *
 * @example
 * ```ts
 * fingerprint('env-fallback-literal', 'src/config.ts', "JWT_SECRET:'||'", 0); // 32 hex chars
 * ```
 */
export function fingerprint(ruleId: string, file: string, key: string, occurrence: number): string {
  return createHash('sha256').update(`${ruleId}\0${file}\0${key}\0${occurrence}`).digest('hex').slice(0, 32);
}

// Findings about coverage, not code: as a baseline never accepts them, no comment hides them.
const NEVER_SUPPRESSED: ReadonlySet<string> = new Set(['parse-error', 'not-scanned']);

/** Turns raw findings into located, redacted, fingerprinted findings and applies inline suppressions. */
export function finalize(
  file: string,
  source: SourceText,
  raw: readonly RawFinding[],
  comments: readonly CommentSpan[],
  now: Date,
  literals: ReadonlyArray<readonly [number, number]> = [],
): FileAnalysis {
  const findings: Finding[] = [];
  let suppressed = 0;
  const occurrences = new Map<string, number>();
  const suppressions = comments
    .map((c) => ({ span: c, parsed: parseSuppression(c.text) }))
    .filter((s) => s.parsed !== undefined);
  const all: RawFinding[] = [...raw];
  // JS/TS comments come from the parse tree (a regex literal like `/.*/` is not a comment); a file
  // that was not parsed (none returned) is scanned line by line.
  const js = isJsFile(file);
  const snippetOptions = {
    unquotedValues: !js,
    language: js ? 'js' : file.endsWith('.sql') ? 'sql' : 'text',
    ...(js && comments.length > 0 ? { comments: comments.map((c) => [c.start, c.end] as const) } : {}),
    literals,
  } as const;
  for (const { span, parsed } of suppressions) {
    let problem = parsed!.valid ? undefined : parsed!.problem;
    if (parsed!.valid) {
      const unknown = parsed!.rules.filter((r) => !RULE_IDS.has(r as RuleId));
      const coverage = parsed!.rules.filter((r) => NEVER_SUPPRESSED.has(r));
      if (unknown.length > 0) problem = `it names unknown rule(s) ${unknown.join(', ')}`;
      else if (coverage.length > 0) {
        problem = `${coverage.join(', ')} cannot be suppressed (a file no rule covered must not pass); fix or exclude the file`;
      }
    }
    if (problem !== undefined) {
      all.push({
        ruleId: 'invalid-suppression',
        severity: 'error',
        message: `This preflight-ignore comment suppresses nothing: ${problem}. Write "preflight-ignore <rule> until YYYY-MM-DD: <reason>".`,
        start: span.start,
        end: span.end,
        key: `suppression:${span.text.trim().slice(0, 80)}`,
      });
    }
  }
  all.sort((a, b) => a.start - b.start || a.ruleId.localeCompare(b.ruleId));
  for (const f of all) {
    const start = source.position(f.start);
    const end = source.position(Math.max(f.start, f.end));
    let expired: string | undefined;
    const applicable = suppressions.find(({ span, parsed }) => {
      if (!parsed?.valid || NEVER_SUPPRESSED.has(f.ruleId) || !parsed.rules.includes(f.ruleId)) return false;
      const first = source.position(span.start).line;
      const last = source.position(span.end).line;
      return start.line === first || start.line === last || start.line === last + 1;
    });
    if (applicable?.parsed?.valid) {
      if (suppressionActive(applicable.parsed.until, now)) {
        suppressed++;
        continue;
      }
      expired = applicable.parsed.until;
    }
    const occurrenceKey = `${f.ruleId}\0${f.key}`;
    const occurrence = occurrences.get(occurrenceKey) ?? 0;
    occurrences.set(occurrenceKey, occurrence + 1);
    findings.push({
      ruleId: f.ruleId,
      severity: f.severity,
      message: expired ? `${f.message} (Its suppression expired on ${expired}.)` : f.message,
      file,
      start,
      end,
      snippet: f.hideSnippet ? '' : source.redactedLine(f.start, f.redact, snippetOptions),
      fingerprint: fingerprint(f.ruleId, file, f.key, occurrence),
      ...(expired ? { expiredSuppression: expired } : {}),
    });
  }
  return { findings, suppressed };
}

/**
 * Runs every file rule that applies to `file` over `text`.
 *
 * @example
 * ```ts
 * import { analyzeFile } from '@rampart/preflight';
 * const { findings } = analyzeFile('src/config.ts', source);
 * ```
 */
export function analyzeFile(file: string, text: string, options: AnalyzeOptions = {}): FileAnalysis {
  const now = options.now ?? new Date();
  const context = new FileContext(file, text, now, options.module, options.project);
  const raw: RawFinding[] = [];
  const wanted = options.rules ? new Set(options.rules) : undefined;
  const rules = FILE_RULES.filter((rule) => (!wanted || wanted.has(rule.id)) && rule.appliesTo(file));
  if (context.isJs && rules.length > 0 && context.module.errors.length > 0) {
    raw.push({
      ruleId: 'parse-error',
      severity: 'error',
      message: context.module.errors.includes(TOO_DEEP)
        ? `The file was not parsed: its code may nest deeper than ${MAX_NESTING} levels (brackets, ternaries, arrow functions, assignments, statements such as an else-if chain or unbraced if/while/for heads, type arguments, JSX elements, or one long chain of binary operators, postfix links or prefix words such as a && b && …, 'x' + 'y' + …, x in y in …, f()()…, x.a.a…, tagged templates, yield yield …, keyof keyof … or class extends class extends …), which would crash the parser. No JS rule covered it. Exclude it if it is generated, or split the expression.`
        : `The file could not be parsed (${context.module.errors.length} syntax error(s)); JS rules cover only what was recovered. Fix the syntax or exclude the file.`,
      start: 0,
      end: 0,
      key: 'parse',
      // Line 1 of a file that is not JS (an env file named `.js`, say) may hold a bare value.
      hideSnippet: true,
    });
  }
  for (const rule of rules) {
    raw.push(
      ...(rule === deprecatedWithoutRemoval
        ? deprecatedWithoutRemoval.checkWith(
            context,
            options.packageVersion !== undefined ? { packageVersion: options.packageVersion } : {},
          )
        : rule.check(context)),
    );
  }
  return finalize(file, context.source, raw, commentSpans(context), now, raw.length > 0 ? literalRanges(context) : []);
}

/** Comment spans of any file, for project findings that point into it. */
export function commentsOf(file: string, text: string): CommentSpan[] {
  return commentSpans(new FileContext(file, text, new Date(0)));
}
