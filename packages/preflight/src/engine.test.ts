import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apiKeyFallback,
  FORMS,
  jwtFallback,
  SIDE_CHANNEL_FORMS,
  sessionFallback,
  shellSecretDefault,
} from '../test/fixtures/fallback-forms.ts';
import { applyBaseline, createBaseline } from './baseline.ts';
import { analyzeFile } from './engine.ts';
import type { Finding } from './finding.ts';
import { formatJson, formatPretty, formatSarif } from './report.ts';
import type { ScanResult } from './scan.ts';
import { commentRanges } from './source-text.ts';

/** A flagged line (`export const s = <secret env read> || '<value>';`) without its newline. */
const flagged = (value: string): string => jwtFallback('s', value).trimEnd();

const NOW = new Date('2026-11-22T12:00:00Z');

const result = (findings: Finding[]): ScanResult => ({
  root: '/x',
  findings,
  filesScanned: 1,
  suppressed: 0,
  baselined: 0,
  staleBaseline: 0,
  skipped: [],
  skippedReasons: {},
  audit: { status: 'not-requested' },
});

describe('redaction', () => {
  /** For random secrets S: every form flags its line, and no output format shows S (or its first 8 characters). */
  const expectNeverPrinted = (forms: typeof FORMS): void => {
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9]{10,24}$/), (body) => {
        const secret = `Qz7${body}`;
        for (const [file, form] of forms) {
          const { findings } = analyzeFile(file, `${form(secret)}\n`, { now: NOW });
          expect(findings.length, `${file}: ${form('…')}`).toBeGreaterThan(0);
          for (const output of [
            formatPretty(result(findings)),
            formatJson(result(findings)),
            formatSarif(result(findings)),
          ]) {
            expect(output, `${file}: ${form('…')}`).not.toContain(secret.slice(0, 8));
          }
        }
      }),
      { numRuns: 25 },
    );
  };

  it('never prints a secret literal in pretty, JSON or SARIF output, whatever the form', () => {
    expectNeverPrinted(FORMS);
  });

  it('never prints a value from a comment or a dollar-quoted string on a flagged line, in any format', () => {
    expectNeverPrinted(SIDE_CHANNEL_FORMS);
  });

  it('keeps the code of a flagged line readable: only strings and comments go', () => {
    const snippet = (file: string, line: string): string | undefined =>
      analyzeFile(file, `${line}\n`, { now: NOW }).findings[0]?.snippet;
    // `//` inside a string is no comment.
    expect(snippet('a.ts', `${flagged('http://x//y')} const t = 1;`)).toBe(`${flagged('«redacted»')} const t = 1;`);
    expect(snippet('a.ts', `${flagged('dev')} // note`)).toBe(`${flagged('«redacted»')} «redacted»`);
    // A `#` inside a value is no comment, and `$1` is a bind parameter, not a dollar quote.
    expect(snippet('seed.sql', "INSERT INTO users (email, password) VALUES ('a#b', 'x');")).toMatch(
      /^INSERT INTO users \(email, password\) VALUES \('«redacted»', '?«redacted»'?\);$/,
    );
    expect(snippet('seed.sql', "INSERT INTO users (id, email, password) VALUES ($1, 'a', 'x');")).toContain(
      'VALUES ($1, ',
    );
  });
});

describe('redaction: comments next to regular expressions, shell flags and process ids', () => {
  const snippet = (file: string, line: string): string | undefined =>
    analyzeFile(file, `${line}\n`, { now: NOW }).findings[0]?.snippet;

  it('takes JS comments from the parse tree: a regex literal is no comment, a comment after it goes', () => {
    expect(snippet('a.ts', `${flagged('dev')} const r = /.*/;`)).toBe(`${flagged('«redacted»')} const r = /.*/;`);
    const shown = snippet('a.ts', `${flagged('dev')} const q = /'/; // prod Qz7secretvalue`);
    expect(shown).not.toContain('Qz7secretvalue');
    expect(shown).toContain('const q = /');
  });

  it('hides the pattern of a regular expression literal on a flagged line, as it does a string', () => {
    const shown = snippet('a.ts', `${flagged('dev')} const k = /^sk_live_Qz7secretvalue$/u;`);
    expect(shown).not.toContain('Qz7secretvalue');
    expect(shown).toContain('const k = /');
  });

  it('recognises regex literals when scanning a JS line without a parse tree', () => {
    expect(commentRanges("const q = /'/; // prod key", 'js')).toEqual([[15, 26]]);
    expect(commentRanges('const r = /\\s*/, t = /[/*]/; // k', 'js')).toEqual([[29, 33]]);
    expect(commentRanges('const d = a / b / c; // k', 'js')).toEqual([[21, 25]]);
  });

  it('treats `--` as a comment only in SQL, `#` only after whitespace, and `$$` only in SQL', () => {
    const flag = snippet('run.sh', `exec app --flag=${shellSecretDefault('devsecret')}`);
    expect(flag).toContain('exec app --flag=');
    expect(flag).not.toContain('devsecret');
    const pid = snippet('run.sh', `echo $$; X="${shellSecretDefault('devsecret')}" # Qz7secretvalue`);
    expect(pid).toContain('echo $$;');
    expect(pid).not.toContain('Qz7secretvalue');
    expect(commentRanges('a=b#c -- d # e', 'text')).toEqual([[11, 14]]);
    expect(commentRanges("SELECT 'a--b' -- e", 'sql')).toEqual([[14, 18]]);
  });
});

describe('fingerprint', () => {
  const source = `${jwtFallback('a', 'x-dev')}${apiKeyFallback('b', 'y-dev')}`;

  it('survives lines moving and unrelated edits', () => {
    const before = analyzeFile('src/config.ts', source, { now: NOW }).findings.map((f) => f.fingerprint);
    const moved = analyzeFile('src/config.ts', `// a new header\n\n${source.replace("'x-dev'", "'x-dev-2'")}`, {
      now: NOW,
    });
    expect(moved.findings.map((f) => f.fingerprint)).toEqual(before);
    expect(moved.findings.map((f) => f.start.line)).toEqual([3, 4]);
  });

  it('differs per file, per variable and per repeated occurrence', () => {
    const twice = `${source}${source.replaceAll('export const ', 'export const z')}`;
    const prints = analyzeFile('src/config.ts', twice, { now: NOW }).findings.map((f) => f.fingerprint);
    const elsewhere = analyzeFile('src/other.ts', source, { now: NOW }).findings.map((f) => f.fingerprint);
    expect(new Set([...prints, ...elsewhere]).size).toBe(prints.length + elsewhere.length);
  });
});

describe('applyBaseline', () => {
  it('reports only findings that are not in the baseline, and counts stale entries', () => {
    const old = analyzeFile('a.ts', jwtFallback('a', 'x-dev'), { now: NOW }).findings;
    const baseline = createBaseline(old);
    const now = analyzeFile('a.ts', `${jwtFallback('a', 'x-dev')}${apiKeyFallback('b', 'y-dev')}`, {
      now: NOW,
    }).findings;
    const applied = applyBaseline(now, baseline);
    expect(applied.fresh.map((f) => f.message)).toEqual([expect.stringContaining('API_KEY')]);
    expect(applied.baselined).toBe(1);
    expect(applyBaseline([], baseline).stale).toBe(1);
  });
});

describe('report file names', () => {
  const named = (file: string): Finding[] =>
    analyzeFile(file, jwtFallback('s', 'k8Vq2LmZ0rT5'), { now: NOW, rules: ['env-fallback-literal'] }).findings;

  it('encodes # and ? in SARIF artifact URIs, one path segment at a time', () => {
    const sarif = JSON.parse(formatSarif(result(named('src/a#b?c d.ts')))) as {
      runs: Array<{
        results: Array<{ locations: Array<{ physicalLocation: { artifactLocation: { uri: string } } }> }>;
      }>;
    };
    expect(sarif.runs[0]?.results[0]?.locations[0]?.physicalLocation.artifactLocation.uri).toBe('src/a%23b%3Fc%20d.ts');
  });

  it('escapes control characters of file names in the pretty report', () => {
    const findings = named('src/\x1b[2Jevil\r\nfake.ts');
    const pretty = formatPretty({
      ...result(findings),
      skipped: ['lib/\x1b]0;x\x07.ts'],
      skippedReasons: { 'lib/\x1b]0;x\x07.ts': 'unreadable' },
    });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: no control character may reach the terminal.
    expect(pretty).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(pretty).toContain('src/\\x1b[2Jevil\\r\\nfake.ts');
    expect(pretty).toContain('lib/\\x1b]0;x\\x07.ts');
  });

  it('does not count a byte order mark as a column', () => {
    const [withBom] = analyzeFile('a.ts', `\uFEFF${jwtFallback('s', 'k8Vq2LmZ0rT5')}`, { now: NOW }).findings;
    const [without] = analyzeFile('a.ts', jwtFallback('s', 'k8Vq2LmZ0rT5'), { now: NOW }).findings;
    expect(withBom?.start).toEqual(without?.start);
  });
});

describe('analyzeFile', () => {
  it('makes a public demo value the most severe finding', () => {
    const { findings } = analyzeFile(
      'a.ts',
      `${sessionFallback('a', 'keyboard cat')}${jwtFallback('b', 'k8Vq2LmZ0rT5')}`,
      { now: NOW },
    );
    expect(findings.map((f) => f.severity)).toEqual(['critical', 'error']);
  });

  it('reports a file it cannot parse as uncovered instead of passing it', () => {
    const { findings } = analyzeFile('broken.ts', 'export const = ;', { now: NOW });
    expect(findings.map((f) => f.ruleId)).toEqual(['parse-error']);
  });

  it('flags a removal version the package has already reached', () => {
    const code = '/** @deprecated Use b(). Removal: v1.2.0 */\nexport function a(): void {}\n';
    expect(analyzeFile('a.ts', code, { now: NOW, packageVersion: '1.2.0' }).findings).toHaveLength(1);
    expect(analyzeFile('a.ts', code, { now: NOW, packageVersion: '1.1.9' }).findings).toHaveLength(0);
  });
});
