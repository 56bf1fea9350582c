// The three output formats. Every one is built from findings whose snippets are already redacted,
// so no format can print a scanned value.
import type { AuditResult } from './audit.ts';
import type { Finding, Severity } from './finding.ts';
import { RULES } from './rules/index.ts';
import type { ScanResult } from './scan.ts';
import { TOOL_VERSION } from './version.ts';

/** Output formats of the CLI. */
export type ReportFormat = 'pretty' | 'json' | 'sarif';

/**
 * How the audit reads in one line: never a clean result unless an advisory endpoint said so.
 *
 * @example
 * ```ts
 * describeAudit({ status: 'not-requested' }); // 'dependency audit: not run (no coverage; …)'
 * ```
 */
export function describeAudit(audit: AuditResult): string {
  switch (audit.status) {
    case 'not-requested':
      return 'dependency audit: not run (no coverage; pass --audit to check dependencies)';
    case 'no-coverage':
      return `dependency audit: NO COVERAGE (${audit.reason}; ${audit.dependencies} dependencies unchecked)`;
    case 'covered':
      return `dependency audit: ${audit.advisories} advisories in ${audit.vulnerablePackages.length} of ${audit.dependencies} dependencies (${audit.lockfile})`;
  }
}

const COLORS: Record<Severity, string> = { critical: '\x1b[35m', error: '\x1b[31m', warning: '\x1b[33m' };

/**
 * Human-readable report, grouped by file.
 *
 * @example
 * ```ts
 * process.stdout.write(formatPretty(await scan({ root: '.' }), { color: false }));
 * ```
 */
export function formatPretty(result: ScanResult, options: { color?: boolean } = {}): string {
  const color = options.color ?? false;
  const paint = (severity: Severity, text: string): string => (color ? `${COLORS[severity]}${text}\x1b[0m` : text);
  const lines: string[] = [];
  let current = '';
  const byFile = [...result.findings].sort((a, b) => a.file.localeCompare(b.file) || a.start.line - b.start.line);
  for (const f of byFile) {
    if (f.file !== current) {
      current = f.file;
      lines.push('', printable(f.file));
    }
    lines.push(`  ${f.start.line}:${f.start.column}  ${paint(f.severity, f.severity.padEnd(8))}  ${f.ruleId}`);
    lines.push(`    ${printable(f.message)}`);
    if (f.snippet) lines.push(`    > ${printable(f.snippet)}`);
  }
  const counts = (['critical', 'error', 'warning'] as const)
    .map((s) => `${result.findings.filter((f) => f.severity === s).length} ${s}`)
    .join(', ');
  lines.push(
    '',
    `${result.findings.length} finding(s) (${counts}) in ${result.filesScanned} files; ${result.suppressed} suppressed inline, ${result.baselined} in baseline${result.staleBaseline > 0 ? `, ${result.staleBaseline} stale baseline entr(ies)` : ''}.`,
    describeAudit(result.audit),
    ...skippedLines(result),
    '',
  );
  return lines.join('\n');
}

/**
 * Text for a terminal: control characters (ESC, CR, LF, BEL, C1) written as `\x1b`, `\r`, `\n`, so
 * a file name cannot move the cursor, rewrite earlier lines or set the window title.
 */
function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point.
  return text.replace(/[\x00-\x08\x0a-\x1f\x7f-\x9f]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}

/** A relative `/`-separated path as a URI reference: each segment percent-encoded (`#`, `?`, `%`, blanks). */
function uriOf(file: string): string {
  return file.split('/').map(encodeURIComponent).join('/');
}

/** The pretty report's lines for files not scanned: over the size limit, and symbolic links (not followed). */
function skippedLines(result: ScanResult): string[] {
  const list = (files: string[]): string =>
    `${files.slice(0, 10).map(printable).join(', ')}${files.length > 10 ? ', …' : ''}`;
  const large = result.skipped.filter((f) => result.skippedReasons[f] === 'too-large');
  const links = result.skipped.filter((f) => result.skippedReasons[f] === 'symlink');
  const unreadable = result.skipped.filter((f) => result.skippedReasons[f] === 'unreadable');
  return [
    ...(large.length > 0 ? [`not scanned (over the size limit, no coverage): ${list(large)}`] : []),
    ...(unreadable.length > 0
      ? [`not scanned (unreadable: a name that is not valid UTF-8, or a read that failed): ${list(unreadable)}`]
      : []),
    ...(links.length > 0 ? [`not scanned (symbolic links, not followed): ${list(links)}`] : []),
  ];
}

/**
 * Machine-readable report (stable keys; no values).
 *
 * @example
 * ```ts
 * const report = JSON.parse(formatJson(await scan({ root: '.' })));
 * ```
 */
export function formatJson(result: ScanResult): string {
  return `${JSON.stringify(
    {
      tool: '@rampart/preflight',
      version: TOOL_VERSION,
      summary: {
        findings: result.findings.length,
        critical: result.findings.filter((f) => f.severity === 'critical').length,
        error: result.findings.filter((f) => f.severity === 'error').length,
        warning: result.findings.filter((f) => f.severity === 'warning').length,
        filesScanned: result.filesScanned,
        suppressed: result.suppressed,
        baselined: result.baselined,
        staleBaseline: result.staleBaseline,
        skipped: result.skipped,
        skippedReasons: result.skippedReasons,
      },
      audit: result.audit,
      findings: result.findings,
    },
    null,
    2,
  )}\n`;
}

const SARIF_LEVEL: Record<Severity, 'error' | 'warning'> = { critical: 'error', error: 'error', warning: 'warning' };
const SECURITY_SEVERITY: Record<Severity, string> = { critical: '9.5', error: '7.5', warning: '4.0' };

/**
 * Files the scan did not cover, with why and how loud: a `not-scanned` finding (over the size
 * limit, or a failed analysis) is an error; a minified or vendored file over the limit a warning.
 */
function notScannedFiles(result: ScanResult): Array<readonly [string, string, 'error' | 'warning']> {
  const out = new Map<string, readonly [string, string, 'error' | 'warning']>();
  for (const f of result.findings) if (f.ruleId === 'not-scanned') out.set(f.file, [f.file, f.message, 'error']);
  for (const file of result.skipped) {
    if (!out.has(file)) {
      out.set(file, [
        file,
        result.skippedReasons[file] === 'symlink'
          ? 'Not scanned: a symbolic link, which the scan does not follow (it may lead out of the scanned tree). Scan its target directly if it is part of the project.'
          : result.skippedReasons[file] === 'unreadable'
            ? 'Not scanned: the file or directory could not be read (a name that is not valid UTF-8, or a read that failed).'
            : 'Not scanned: a minified or vendored file larger than maxFileBytes, so no rule covered it.',
        'warning',
      ]);
    }
  }
  return [...out.values()];
}

/**
 * SARIF 2.1.0 log: one run, rule metadata in `tool.driver.rules`, redacted snippets, and the stable
 * fingerprint in `partialFingerprints` so code-scanning UIs track findings across commits.
 *
 * @example
 * ```ts
 * writeFileSync('preflight.sarif', formatSarif(await scan({ root: '.' })));
 * ```
 */
export function formatSarif(result: ScanResult): string {
  const ruleIndex = new Map(RULES.map((r, i) => [r.id, i]));
  const log = {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: {
          driver: {
            name: 'rampart-preflight',
            semanticVersion: TOOL_VERSION,
            informationUri: 'https://www.npmjs.com/package/@rampart/preflight',
            rules: RULES.map((r) => ({
              id: r.id,
              name: r.id.replace(/(^|-)([a-z])/g, (_m, _d: string, c: string) => c.toUpperCase()),
              shortDescription: { text: r.summary },
              fullDescription: { text: `${r.summary} ${r.fix}` },
              help: { text: r.fix },
              defaultConfiguration: { level: SARIF_LEVEL[r.severity] },
              properties: { tags: ['security'], 'security-severity': SECURITY_SEVERITY[r.severity] },
            })),
          },
        },
        originalUriBaseIds: { SRCROOT: { description: { text: 'The scanned directory.' } } },
        results: result.findings.map((f: Finding) => ({
          ruleId: f.ruleId,
          ruleIndex: ruleIndex.get(f.ruleId) ?? 0,
          level: SARIF_LEVEL[f.severity],
          message: { text: f.message },
          locations: [
            {
              physicalLocation: {
                artifactLocation: { uri: uriOf(f.file), uriBaseId: 'SRCROOT' },
                region: {
                  startLine: f.start.line,
                  startColumn: f.start.column,
                  endLine: f.end.line,
                  endColumn: Math.max(f.end.column, f.start.line === f.end.line ? f.start.column : 1),
                  ...(f.snippet ? { snippet: { text: f.snippet } } : {}),
                },
              },
            },
          ],
          partialFingerprints: { 'rampartPreflight/v1': f.fingerprint },
          properties: { severity: f.severity, 'security-severity': SECURITY_SEVERITY[f.severity] },
        })),
        invocations: [
          {
            executionSuccessful: true,
            // Files without coverage, so a code-scanning UI shows them next to the results.
            toolExecutionNotifications: notScannedFiles(result).map(([file, text, level]) => ({
              level,
              message: { text },
              locations: [{ physicalLocation: { artifactLocation: { uri: uriOf(file), uriBaseId: 'SRCROOT' } } }],
              descriptor: { id: 'not-scanned' },
            })),
          },
        ],
        properties: { audit: result.audit },
      },
    ],
  };
  return `${JSON.stringify(log, null, 2)}\n`;
}

/**
 * Formats a result in the named format.
 *
 * @example
 * ```ts
 * process.stdout.write(formatReport(await scan({ root: '.' }), 'json'));
 * ```
 */
export function formatReport(result: ScanResult, format: ReportFormat, options: { color?: boolean } = {}): string {
  if (format === 'json') return formatJson(result);
  if (format === 'sarif') return formatSarif(result);
  return formatPretty(result, options);
}
