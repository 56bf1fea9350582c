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
  /** Whether the pattern matches a whole `/`-separated path, in time linear in the path's length. */
  readonly matches: (path: string) => boolean;
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

/**
 * One step of a compiled pattern: a character, `?`, a class, `*` (within a segment), `**` at the
 * end (anything) or `**` before more (any number of whole directories, none included).
 */
type Token =
  | { readonly kind: 'char'; readonly char: string }
  | { readonly kind: 'any' }
  | { readonly kind: 'class'; readonly negated: boolean; readonly ranges: ReadonlyArray<readonly [number, number]> }
  | { readonly kind: 'star' }
  | { readonly kind: 'rest' }
  | { readonly kind: 'dirs' };

/** The body of `[…]`: `^` negates, `\` escapes, `a-z` ranges. Undefined for a range that runs backwards. */
function classRanges(body: string[]): Array<readonly [number, number]> | undefined {
  const ranges: Array<readonly [number, number]> = [];
  let i = 0;
  const atom = (): number => {
    if (body[i] === '\\' && i + 1 < body.length) i++;
    return body[i++]!.codePointAt(0)!;
  };
  while (i < body.length) {
    const low = atom();
    if (body[i] === '-' && i + 1 < body.length) {
      i++;
      const high = atom();
      if (high < low) return undefined;
      ranges.push([low, high]);
    } else ranges.push([low, low]);
  }
  return ranges;
}

// Docker matches with a regular expression built from the pattern; a backtracking one takes
// exponential time on `*a*a*a…b`, so the same language is matched here by a set of positions.
function compile(pattern: string): Token[] | undefined {
  const chars = Array.from(pattern);
  const tokens: Token[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') {
      if (chars[i + 1] === '*') {
        i++;
        if (chars[i + 1] === '/') i++;
        tokens.push({ kind: i + 1 >= chars.length ? 'rest' : 'dirs' });
      } else tokens.push({ kind: 'star' });
    } else if (c === '?') {
      tokens.push({ kind: 'any' });
    } else if (c === '\\') {
      const next = chars[i + 1];
      tokens.push({ kind: 'char', char: next ?? '\\' });
      if (next !== undefined) i++;
    } else if (c === '[') {
      // Go's filepath.Match class: `[^…]` negates, `\` escapes, `-` ranges; no `[!…]`.
      const close = chars.indexOf(']', i + 2);
      if (close === -1) return undefined;
      const body = chars.slice(i + 1, close);
      const negated = body[0] === '^';
      if (negated) body.shift();
      const ranges = body.length === 0 ? undefined : classRanges(body);
      if (!ranges) return undefined;
      tokens.push({ kind: 'class', negated, ranges });
      i = close;
    } else if (c === ']') {
      return undefined;
    } else {
      tokens.push({ kind: 'char', char: c });
    }
  }
  return tokens;
}

/** Whether `tokens` match all of `path`: every position the pattern can be at, one character at a time. */
function matchTokens(tokens: readonly Token[], path: string): boolean {
  const n = tokens.length;
  let at = new Uint8Array(n + 1);
  // Inside a `**` directories group that has read at least one character: it ends after a `/`.
  let inDirs = new Uint8Array(n);
  // Positions a `*` or `**` may be skipped from (they match nothing too).
  const close = (): void => {
    for (let p = 0; p < n; p++) {
      const kind = tokens[p]!.kind;
      if (at[p] && (kind === 'star' || kind === 'rest' || kind === 'dirs')) at[p + 1] = 1;
    }
  };
  at[0] = 1;
  close();
  for (const char of path) {
    const next = new Uint8Array(n + 1);
    const nextDirs = new Uint8Array(n);
    const code = char.codePointAt(0)!;
    for (let p = 0; p < n; p++) {
      const token = tokens[p]!;
      if (inDirs[p] || (at[p] && token.kind === 'dirs')) {
        nextDirs[p] = 1;
        if (char === '/') next[p + 1] = 1;
      }
      if (!at[p]) continue;
      switch (token.kind) {
        case 'char':
          if (char === token.char) next[p + 1] = 1;
          break;
        case 'any':
          if (char !== '/') next[p + 1] = 1;
          break;
        case 'class':
          if (token.ranges.some(([low, high]) => code >= low && code <= high) !== token.negated) next[p + 1] = 1;
          break;
        case 'star':
          if (char !== '/') next[p] = 1;
          break;
        case 'rest':
          next[p] = 1;
          break;
        case 'dirs':
          break;
      }
    }
    at = next;
    inDirs = nextDirs;
    close();
  }
  return at[n] === 1;
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
    const tokens = compile(pattern);
    if (!tokens) {
      throw new PreflightError(
        'ERR_PREFLIGHT_DOCKERIGNORE_PATTERN',
        `.dockerignore line ${index + 1}: the pattern is not valid Docker syntax (unbalanced "[" or "]", or a range that runs backwards). Fix or escape it.`,
      );
    }
    patterns.push({ pattern, exclusion, line: index + 1, matches: (path) => matchTokens(tokens, path) });
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
    let match = pattern.matches(path);
    if (!match && parent !== '.') {
      for (let i = 0; i < parentDirs.length && !match; i++) {
        match = pattern.matches(parentDirs.slice(0, i + 1).join('/'));
      }
    }
    if (match) matched = !pattern.exclusion;
  }
  return matched;
}
