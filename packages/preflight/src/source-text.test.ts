import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JWT_FALLBACK } from '../test/fixtures/env-fallback-cases.ts';
import { jwtFallback } from '../test/fixtures/fallback-forms.ts';
import { analyzeFile } from './engine.ts';
import { SourceText } from './source-text.ts';

/** A value that looks like a secret: what must never reach a snippet. */
const secret = fc.stringMatching(/^[A-Za-z0-9@%+._~-]{6,18}$/).map((body) => `Qz7${body}`);
/** Text around it inside one value: blanks included (`${X:-a b}`), never quotes or braces. */
const filler = fc.stringMatching(/^[a-z0-9 _.-]{0,6}$/);
/** Text that continues a word (no blank: after one, a shell command has its next argument). */
const wordPart = fc.stringMatching(/^[a-z0-9_.-]{0,6}$/);

// Assignment shapes of shell scripts, .env files, Dockerfiles and compose files. `D` is the default
// of a `${…}` expansion, `T` what follows it in the same word.
const SHAPES: ReadonlyArray<readonly [string, (d: string, t: string) => string]> = [
  ['deploy.sh', (d, t) => `export DB_PASSWORD=\${DB_PASSWORD:-${d}}${t}`],
  ['deploy.sh', (d, t) => `DB_PASSWORD=\${DB_PASSWORD:-${d}}${t} node server.js`],
  ['deploy.sh', (d, t) => `export DB_PASSWORD="\${DB_PASSWORD:-${d}}"${t}`],
  ['deploy.sh', (d, t) => `  run --password=\${DB_PASSWORD:=${d}}${t} --verbose`],
  ['.env', (d, t) => `DB_PASSWORD=${d}${t}`],
  ['.env', (d, t) => `DB_PASSWORD=\${OTHER:-${d}}${t}`],
  ['Dockerfile', (d, t) => `ENV DB_PASSWORD=\${DB_PASSWORD:-${d}}${t}`],
  ['Dockerfile', (d, t) => `ARG DB_PASSWORD=${d}${t}`],
  ['docker-compose.yml', (d, t) => `      DB_PASSWORD: \${DB_PASSWORD:-${d}}${t}`],
  ['docker-compose.yml', (d, t) => `      - DB_PASSWORD=\${DB_PASSWORD:-${d}}${t}`],
  ['docker-compose.yml', (d, t) => `      DB_PASSWORD: ${d} ${t}`],
  ['app.properties', (d, t) => `db.password = ${d}${t}`],
];

describe('SourceText.redactedLine', () => {
  it('never shows a value placed anywhere in a shell, env, Dockerfile or compose assignment', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...SHAPES),
        secret,
        filler,
        wordPart,
        fc.boolean(),
        ([file, shape], value, before, after, inDefault) => {
          const line = inDefault ? shape(`${before}${value}${after}`, after) : shape(before, `${after}${value}`);
          const text = `# config\n${line}\n`;
          const source = new SourceText(text);
          const snippet = source.redactedLine(text.indexOf(line), [], { unquotedValues: true, language: 'text' });
          expect(snippet, line).not.toContain(value);
          expect(snippet, line).not.toContain(value.slice(3, 9));
          // The same line through the engine: every finding's snippet.
          for (const f of analyzeFile(file, text).findings) expect(f.snippet, `${file}: ${line}`).not.toContain(value);
        },
      ),
      { numRuns: 400 },
    );
  });

  it('never shows a password, token or URL credentials passed on a command line', () => {
    // Commands of shell scripts, Dockerfiles and compose files whose argument is the secret.
    const commands: ReadonlyArray<readonly [string, (v: string) => string]> = [
      ['deploy.sh', (v) => `curl -u admin:${v} https://api.example.test`],
      ['deploy.sh', (v) => `curl -u ${v} https://api.example.test`],
      ['deploy.sh', (v) => `mysql -uroot -p${v} app < seed.sql`],
      ['deploy.sh', (v) => `psql postgres://app:${v}@db/app -c 'select 1'`],
      ['deploy.sh', (v) => `git clone https://${v}@github.com/acme/app.git`],
      ['deploy.sh', (v) => `./cli login --pass ${v} --verbose`],
      ['deploy.sh', (v) => `./cli login --password ${v}`],
      ['deploy.sh', (v) => `./cli push --token ${v} --force`],
      ['deploy.sh', (v) => `./cli push --secret-key ${v}`],
      ['deploy.sh', (v) => `curl -H Authorization:Bearer${v} https://api.example.test`],
      ['Dockerfile', (v) => `RUN mysql -uroot -p${v} app < seed.sql`],
      ['docker-compose.yml', (v) => `    command: psql postgres://app:${v}@db/app`],
      ['docker-compose.yml', (v) => `    test: curl -u admin:${v} http://localhost`],
    ];
    fc.assert(
      fc.property(fc.constantFrom(...commands), secret, wordPart, wordPart, ([file, shape], value, before, after) => {
        const line = shape(`${before}${value}${after}`);
        const text = `# run\n${line}\n`;
        const snippet = new SourceText(text).redactedLine(text.indexOf(line), [], {
          unquotedValues: true,
          language: 'text',
        });
        expect(snippet, line).not.toContain(value);
        expect(snippet, line).not.toContain(value.slice(3, 9));
        for (const f of analyzeFile(file, text).findings) expect(f.snippet, `${file}: ${line}`).not.toContain(value);
      }),
      { numRuns: 400 },
    );
    // In code too: URL credentials outside a string (a snippet of a line the parser could not read).
    const code = 'const url = redis://default:Hunter2Secret@cache:6379;\n';
    expect(new SourceText(code).redactedLine(0, [], { language: 'js' })).not.toContain('Hunter2Secret');
  });

  it('hides the rest of a word after a shell default that holds a blank', () => {
    const text = `export DB_PASSWORD=\${DB_PASSWORD:-a b}-tail2-s3cret\n`;
    const snippet = new SourceText(text).redactedLine(0, [], { unquotedValues: true, language: 'text' });
    expect(snippet).toBe('export DB_PASSWORD=«redacted»');
  });
});

describe('snippets of findings next to multi-line strings', () => {
  // A finding on the last line of a string that began on an earlier line: the line starts inside
  // the string, so a per-line quote scan would take the value for code.
  const SHAPES: ReadonlyArray<readonly [string, (value: string, filler: string) => string]> = [
    ['a.ts', (v, f) => `export const note = \`Welcome.\n${f}${v} ${f}\`; export const jwt = ${JWT_FALLBACK};\n`],
    ['a.ts', (v, f) => `export const note = \`Hi \${name}.\n${f}${v}\${x}\`; export const jwt = ${JWT_FALLBACK};\n`],
    ['a.js', (v, f) => `const s = 'a\\\n${f}${v}'; module.exports = { jwt: ${JWT_FALLBACK} };\n`],
    [
      'seeds/001.sql',
      (v, f) =>
        `INSERT INTO users (email, note, password) VALUES ('a@example.test', 'first line\n${f}${v}', 'Pw12345678');\n`,
    ],
    [
      'seeds/002.sql',
      (v, f) =>
        `INSERT INTO users (email, note, password)\nVALUES ('a@example.test', 'it''s\n\n${f} ${v}', 'Pw12345678');\n`,
    ],
  ];

  it('never shows a string value in a snippet, whatever line of the string the finding is on', () => {
    fc.assert(
      fc.property(fc.constantFrom(...SHAPES), secret, filler, ([file, shape], value, before) => {
        const text = shape(value, before);
        const findings = analyzeFile(file, text).findings;
        expect(findings.length, text).toBeGreaterThan(0);
        for (const f of findings) {
          expect(f.snippet, `${file}: ${text}`).not.toContain(value);
          expect(f.snippet, `${file}: ${text}`).not.toContain(value.slice(3, 9));
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('snippets on long lines', () => {
  // The default test timeout is the bound: each snippet used to copy and rescan the whole line.
  it('shows each of 2,000 findings on one 200 KB line with its own variable and no secret', () => {
    const line = Array.from({ length: 2_000 }, (_, i) =>
      jwtFallback(`v${i}`, `Qz7secret${i}x${'k'.repeat(40)}`).trimEnd(),
    ).join(' ');
    expect(line.length).toBeGreaterThan(200_000);
    const { findings } = analyzeFile('a.ts', `${line}\n`, { rules: ['env-fallback-literal'] });
    expect(findings).toHaveLength(2_000);
    const sorted = [...findings].sort((a, b) => a.start.column - b.start.column);
    sorted.forEach((f, i) => {
      expect(f.snippet).toContain(`const v${i} =`);
      expect(f.snippet).not.toMatch(/Qz7secret/);
      expect(f.snippet.length).toBeLessThanOrEqual(260);
    });
  });

  it('shows the part of a long line that holds the finding', () => {
    const line = `${'x'.repeat(400)}; ${jwtFallback('late', 'Qz7secretLate').trimEnd()}`;
    const [finding] = analyzeFile('a.ts', `${line}\n`, { rules: ['env-fallback-literal'] }).findings;
    expect(finding?.start.column).toBeGreaterThan(400);
    expect(finding?.snippet).toContain('const late =');
    expect(finding?.snippet).not.toContain('Qz7secretLate');
  });

  it('hides a string the snippet window starts inside of', () => {
    const source = new SourceText(`const a = '${'Qz7s'.repeat(100)}'; const b = 1;`);
    const snippet = source.redactedLine(source.text.indexOf('const b'));
    expect(snippet).toContain('const b = 1');
    expect(snippet).not.toContain('Qz7s');
  });
});

describe('SourceText.position', () => {
  it('counts `\\n`, `\\r\\n` and a lone `\\r` each as one line break', () => {
    const source = new SourceText('a\rb\r\nc\nd\r\re');
    expect(['a', 'b', 'c', 'd', 'e'].map((c) => source.position(source.text.indexOf(c)).line)).toEqual([1, 2, 3, 4, 6]);
    expect([1, 2, 3, 4, 5, 6].map((line) => source.line(line))).toEqual(['a', 'b', 'c', 'd', '', 'e']);
  });

  it('puts a lone `\\r` line in its own snippet', () => {
    const text = "const a = 1;\rconst b = 'x';\r";
    expect(new SourceText(text).redactedLine(text.indexOf('b'))).toBe("const b = '«redacted»';");
  });
});
