// .dockerignore with Docker's semantics (moby/patternmatcher + BuildKit's dockerignore reader):
// comments only when `#` is the first character, patterns trimmed and path-cleaned, a leading `/`
// dropped, `!` exceptions, `*`/`?` never cross `/`, `**` spans directories, a pattern that matches a
// parent directory matches everything below it, and the last matching pattern wins.
import { PreflightError } from './errors.ts';

/** One compiled line of a .dockerignore file. */
export interface DockerignorePattern {
  /** The cleaned pattern, without the `!`. */
  readonly pattern: string;
  readonly exclusion: boolean;
  readonly line: number;
  readonly regex: RegExp;
}

/**
 * Go's `path.Clean` on `/`-separated paths, as Docker applies it to .dockerignore patterns.
 *
 * @example
 * ```ts
 * cleanPath('./a//b/../.env'); // 'a/.env'
 * ```
 */
export function cleanPath(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out.at(-1) !== '..') out.pop();
      else if (!rooted) out.push('..');
    } else {
      out.push(part);
    }
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

const REGEX_SPECIAL = new Set(['.', '+', '(', ')', '|', '{', '}', '$', '^']);

function compile(pattern: string): RegExp | undefined {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        i++;
        if (pattern[i + 1] === '/') i++;
        source += i + 1 >= pattern.length ? '.*' : '(.*/)?';
      } else {
        source += '[^/]*';
      }
    } else if (c === '?') {
      source += '[^/]';
    } else if (c === '\\') {
      const next = pattern[i + 1];
      if (next === undefined) source += '\\\\';
      else {
        source += /[A-Za-z0-9]/.test(next) ? next : `\\${next}`;
        i++;
      }
    } else if (c === '[') {
      // Go's filepath.Match class: `[^…]` negates, `\` escapes, `-` ranges; no `[!…]`.
      const close = pattern.indexOf(']', i + 2);
      if (close === -1) return undefined;
      const body = pattern.slice(i + 1, close);
      if (body === '' || body === '^') return undefined;
      source += `[${body.replace(/[/\]]/g, (m) => `\\${m}`)}]`;
      i = close;
    } else if (c === ']') {
      return undefined;
    } else if (REGEX_SPECIAL.has(c)) {
      source += `\\${c}`;
    } else {
      source += c;
    }
  }
  try {
    return new RegExp(`${source}$`, 'u');
  } catch {
    return undefined;
  }
}

/**
 * Parses .dockerignore text into patterns. Throws `ERR_PREFLIGHT_DOCKERIGNORE_PATTERN` naming the line
 * for patterns Docker itself rejects (`!` alone, unbalanced classes).
 *
 * @example
 * ```ts
 * const patterns = parseDockerignore('**\/.env*\n!.env.example\n');
 * isIgnored(patterns, 'apps/api/.env'); // true
 * ```
 */
export function parseDockerignore(text: string): DockerignorePattern[] {
  const patterns: DockerignorePattern[] = [];
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, index) => {
    if (raw.startsWith('#')) return;
    let pattern = raw.trim();
    if (pattern === '') return;
    const exclusion = pattern.startsWith('!');
    if (exclusion) pattern = pattern.slice(1).trim();
    if (pattern.length > 0) {
      pattern = cleanPath(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    if (pattern === '' || (exclusion && pattern === '')) {
      throw new PreflightError(
        'ERR_PREFLIGHT_DOCKERIGNORE_PATTERN',
        `.dockerignore line ${index + 1}: "!" needs a pattern after it. Remove the line or add the path to re-include.`,
      );
    }
    const regex = compile(pattern);
    if (!regex) {
      throw new PreflightError(
        'ERR_PREFLIGHT_DOCKERIGNORE_PATTERN',
        `.dockerignore line ${index + 1}: the pattern is not valid Docker syntax (unbalanced "[" or "]"). Fix or escape it.`,
      );
    }
    patterns.push({ pattern, exclusion, line: index + 1, regex });
  });
  return patterns;
}

/**
 * Whether Docker leaves `file` (relative to the context, `/`-separated) out of the build context.
 *
 * @example
 * ```ts
 * isIgnored(parseDockerignore('*\n!src\n'), 'src/index.ts'); // false
 * ```
 */
export function isIgnored(patterns: readonly DockerignorePattern[], file: string): boolean {
  const path = cleanPath(file);
  const parent = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '.';
  const parentDirs = parent.split('/');
  let matched = false;
  for (const pattern of patterns) {
    // An exclusion can only flip an already-ignored file back, and vice versa.
    if (pattern.exclusion !== matched) continue;
    let match = pattern.regex.test(path);
    if (!match && parent !== '.') {
      for (let i = 0; i < parentDirs.length && !match; i++) {
        match = pattern.regex.test(parentDirs.slice(0, i + 1).join('/'));
      }
    }
    if (match) matched = !pattern.exclusion;
  }
  return matched;
}
