import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cleanPath, isIgnored, parseDockerignore } from './dockerignore.ts';
import { PreflightError } from './errors.ts';

const ignored = (patterns: string, file: string): boolean => isIgnored(parseDockerignore(patterns), file);

describe('parseDockerignore / isIgnored', () => {
  it('anchors patterns at the context root, so ".env" does not reach nested files', () => {
    expect(ignored('.env', '.env')).toBe(true);
    expect(ignored('.env', 'apps/api/.env')).toBe(false);
    expect(ignored('**/.env', 'apps/api/.env')).toBe(true);
  });

  it('lets "*" and "?" match within one path segment only', () => {
    expect(ignored('*.env', 'prod.env')).toBe(true);
    expect(ignored('*.env', 'config/prod.env')).toBe(false);
    expect(ignored('*/.env', 'config/.env')).toBe(true);
    expect(ignored('.env?', '.env1')).toBe(true);
    expect(ignored('.env?', '.env')).toBe(false);
  });

  it('treats "**" as any number of directories, including none', () => {
    expect(ignored('**/.env*', '.env.local')).toBe(true);
    expect(ignored('**/.env*', 'a/b/c/.env.production')).toBe(true);
    expect(ignored('a/**/b', 'a/b')).toBe(true);
    expect(ignored('a/**/b', 'a/x/y/b')).toBe(true);
    expect(ignored('a/**', 'a/x/y')).toBe(true);
  });

  it('ignores everything under a matched directory', () => {
    expect(ignored('secrets', 'secrets/.env')).toBe(true);
    expect(ignored('/secrets/', 'secrets/deep/.env')).toBe(true);
    expect(ignored('secrets', 'other/secrets/.env')).toBe(false);
  });

  it('re-includes with "!" and lets the last matching pattern win', () => {
    expect(ignored('.env*\n!.env.example', '.env.example')).toBe(false);
    expect(ignored('.env*\n!.env.example', '.env')).toBe(true);
    expect(ignored('.env*\n!.env.local\n.env.local', '.env.local')).toBe(true);
    expect(ignored('*\n!src', 'src/index.ts')).toBe(false);
    expect(ignored('*\n!src', '.env')).toBe(true);
  });

  it('reads "#" as a comment only in the first column, trims, and cleans paths', () => {
    expect(ignored('# .env', '.env')).toBe(false);
    expect(ignored(' # .env', '# .env')).toBe(true);
    expect(ignored('  ./a//b/../.env  ', 'a/.env')).toBe(true);
    expect(ignored('/.env', '.env')).toBe(true);
  });

  it('supports character classes and escapes like Go filepath.Match', () => {
    expect(ignored('.env.[lp]*', '.env.local')).toBe(true);
    expect(ignored('.env.[lp]*', '.env.example')).toBe(false);
    expect(ignored('.env.[^e]*', '.env.example')).toBe(false);
    expect(ignored('\\*.env', '*.env')).toBe(true);
    expect(ignored('\\*.env', 'x.env')).toBe(false);
  });

  it('rejects a bare "!" and unbalanced classes with a typed error that names the line', () => {
    for (const text of ['node_modules\n!', '.env[']) {
      try {
        parseDockerignore(text);
        expect.unreachable();
      } catch (error) {
        expect(error).toBeInstanceOf(PreflightError);
        expect((error as PreflightError).code).toBe('ERR_PREFLIGHT_DOCKERIGNORE_PATTERN');
        expect((error as PreflightError).message).toMatch(/line \d/);
      }
    }
  });
});

const segment = fc.stringMatching(/^[a-z0-9._-]{1,8}$/).filter((s) => s !== '.' && s !== '..');
const relPath = fc.array(segment, { minLength: 1, maxLength: 5 }).map((parts) => parts.join('/'));
const pattern = fc.oneof(
  relPath,
  relPath.map((p) => `**/${p.split('/').at(-1)}`),
  relPath.map((p) => `${p.split('/')[0]}/**`),
  relPath.map((p) => p.replace(/[a-z]$/, '*')),
  relPath.map((p) => `!${p}`),
);

describe('isIgnored properties', () => {
  it('ignores a path once its literal pattern is the last line, whatever came before', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 6 }), relPath, (before, file) => {
        expect(ignored([...before, file].join('\n'), file)).toBe(true);
      }),
    );
  });

  it('includes a path once a "!" of its literal path is the last line', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 6 }), relPath, (before, file) => {
        expect(ignored([...before, `!${file}`].join('\n'), file)).toBe(false);
      }),
    );
  });

  it('ignores every file below an ignored directory unless re-included', () => {
    fc.assert(
      fc.property(relPath, relPath, (dir, rest) => {
        expect(ignored(dir, `${dir}/${rest}`)).toBe(true);
        expect(ignored(`**/${dir.split('/').at(-1)}`, `${dir}/${rest}`)).toBe(true);
      }),
    );
  });

  it('does not depend on comments, blank lines or surrounding whitespace', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 6 }), relPath, (lines, file) => {
        const noisy = lines.flatMap((l) => ['# comment', '', `  ${l}\t`]).join('\n');
        expect(ignored(noisy, file)).toBe(ignored(lines.join('\n'), file));
      }),
    );
  });

  it('never throws on arbitrary text other than Docker-invalid patterns', () => {
    fc.assert(
      fc.property(fc.string(), relPath, (text, file) => {
        try {
          isIgnored(parseDockerignore(text), file);
        } catch (error) {
          expect(error).toBeInstanceOf(PreflightError);
        }
      }),
    );
  });

  it('cleans paths idempotently', () => {
    fc.assert(
      fc.property(fc.string(), (p) => {
        expect(cleanPath(cleanPath(p))).toBe(cleanPath(p));
      }),
    );
  });
});

/** The regular expression the matcher used to compile a pattern to (backtracking; kept as the reference). */
function referenceRegex(pattern: string): RegExp | undefined {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        source += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else source += '[^/]*';
    } else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) source += '\\\\';
      else {
        source += /[A-Za-z0-9]/.test(next) ? next : `\\${next}`;
        i++;
      }
    } else if (c === '[') {
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) return undefined;
      const body = pattern.slice(i + 1, close);
      if (body === '' || body === '^') return undefined;
      source += `[${body.replace(/[/\]]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else if (c === ']') return undefined;
    else if ('.+()|{}$^'.includes(c)) source += `\\${c}`;
    else source += c;
  }
  try {
    return new RegExp(`${source}$`, 'u');
  } catch {
    return undefined;
  }
}

describe('isIgnored on hostile patterns', () => {
  it('matches a pattern of many stars in linear time (a backtracking regex took 15 s here)', { timeout: 5_000 }, () => {
    expect(ignored(`${'*a'.repeat(10)}b`, `.env${'a'.repeat(40)}`)).toBe(false);
    expect(ignored(`${'*a'.repeat(12)}b`, `.env${'a'.repeat(40)}`)).toBe(false);
    expect(ignored(`${'**/*a'.repeat(12)}b`, `${'a/'.repeat(20)}.env${'a'.repeat(40)}`)).toBe(false);
  });

  it('agrees with the regular expression it replaced on small patterns and paths', () => {
    const atom = fc.oneof(
      fc.constantFrom('a', 'b', '.', '/', '*', '**', '**/', '?', '\\*', '\\a', '-', '^', '$', '+'),
      fc.constantFrom('[ab]', '[^a]', '[a-b]', '[/]', '[.-]', '[]a]', '[^/]', '[a-]'),
    );
    const glob = fc.array(atom, { minLength: 1, maxLength: 7 }).map((parts) => parts.join(''));
    const path = fc.array(fc.constantFrom('a', 'b', '.', '/', '-', '*', ']'), { maxLength: 10 }).map((c) => c.join(''));
    fc.assert(
      fc.property(glob, path, (raw, file) => {
        let patterns: ReturnType<typeof parseDockerignore>;
        try {
          patterns = parseDockerignore(raw);
        } catch {
          return;
        }
        for (const { pattern } of patterns) {
          const regex = referenceRegex(pattern);
          expect(regex).toBeDefined();
          expect(isIgnored(patterns, file)).toBe(
            isIgnored([{ ...patterns[0]!, matches: (p) => regex!.test(p) }], file),
          );
        }
      }),
      { numRuns: 3000 },
    );
  });
});
