import type { Position } from './finding.ts';

const REDACTED = '«redacted»';
/** Longest snippet, and how much of the line before a finding a snippet of a long line shows. */
const SNIPPET_CHARS = 240;
const SNIPPET_LEAD = 60;

/** Hidden characters (`\0`) shown as one `«redacted»` per run. */
const reveal = (masked: string): string => masked.replace(/\0+/g, REDACTED);

/** How {@link SourceText.redactedLine} reads a line. */
export interface RedactionOptions {
  readonly unquotedValues?: boolean;
  /** How comments look: `js` (`//`, `/* *\/`), `sql` (also `--`), `text` (shell/YAML/config: also `#`). */
  readonly language?: CommentLanguage;
  /** Comment offsets from the parse tree, sorted: used instead of scanning the line for comment markers. */
  readonly comments?: ReadonlyArray<readonly [number, number]>;
  /**
   * Offsets of every string literal and template text from the parse tree, sorted and disjoint:
   * hidden where they overlap the line, also when the string began on an earlier line.
   */
  readonly literals?: ReadonlyArray<readonly [number, number]>;
}

/** Line starts of a text, to turn offsets into positions and back. */
export class SourceText {
  readonly text: string;
  readonly #lineStarts: number[];
  /** Per comment language: the quote still open at the start of each line (SQL and text files). */
  readonly #openQuotes = new Map<CommentLanguage, Array<string | undefined>>();
  /** The masked text of the line last redacted, and the options it was redacted with. */
  #lastMask: { readonly options: RedactionOptions; readonly line: number; readonly text: string } | undefined;

  constructor(text: string) {
    this.text = text;
    this.#lineStarts = [0];
    // `\n`, `\r\n` and a lone `\r` (classic Mac files) each end a line, as in editors and SARIF viewers.
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) this.#lineStarts.push(i + 1);
    }
  }

  get lineCount(): number {
    return this.#lineStarts.length;
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.#lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    // A byte order mark is no character an editor shows or counts.
    const bom = lo === 0 && offset > 0 && this.text.charCodeAt(0) === 0xfeff ? 1 : 0;
    return { line: lo + 1, column: offset - this.#lineStarts[lo]! + 1 - bom };
  }

  lineStart(line: number): number {
    return this.#lineStarts[line - 1] ?? this.text.length;
  }

  lineEnd(line: number): number {
    const next = this.#lineStarts[line];
    if (next === undefined) return this.text.length;
    return this.text[next - 1] === '\n' && this.text[next - 2] === '\r' ? next - 2 : next - 1;
  }

  line(line: number): string {
    return this.text.slice(this.lineStart(line), this.lineEnd(line));
  }

  /**
   * The line holding `offset`, with every quoted string and every given range replaced. Over-redaction
   * is the point: a snippet must be safe to paste into a ticket or a SARIF viewer. A line longer than
   * a snippet is cut to the part around `offset` (opened with `…`); it is redacted whole first, so
   * a string the cut starts inside of is still hidden.
   */
  redactedLine(
    offset: number,
    ranges: ReadonlyArray<readonly [number, number]> = [],
    options: RedactionOptions = {},
  ): string {
    const line = this.position(offset).line;
    const start = this.lineStart(line);
    const end = this.lineEnd(line);
    // The line's own redaction is the same for every finding on it: computed once (findings come
    // sorted by offset), so many findings on one long line cost one pass over it, not one each.
    let masked = this.#lastMask?.options === options && this.#lastMask.line === line ? this.#lastMask.text : undefined;
    if (masked === undefined) {
      masked = this.#maskLine(line, start, end, options);
      this.#lastMask = { options, line, text: masked };
    }
    // The part shown: the whole line when the finding is near its start, else from a little before it.
    let from = start;
    if (offset - start > SNIPPET_CHARS - SNIPPET_LEAD) {
      from = offset - SNIPPET_LEAD;
      // Short redactions grow (`'a'` → `'«redacted»'`): keep the finding inside the snippet.
      for (
        let lead = SNIPPET_LEAD;
        lead > 1 && reveal(masked.slice(from - start, offset - start)).length > SNIPPET_LEAD;
      ) {
        lead >>= 1;
        from = offset - lead;
      }
    }
    const to = Math.min(end, from + 2 * SNIPPET_CHARS);
    const chars = masked.slice(from - start, to - start).split('');
    for (const [a, b] of ranges) for (let i = Math.max(a, from); i < Math.min(b, to); i++) chars[i - from] = '\0';
    const shown = reveal(chars.join('')).trim().slice(0, SNIPPET_CHARS);
    return from > start ? `…${shown}` : shown;
  }

  /** The text of `line` with every character to hide replaced by `\0`. */
  #maskLine(line: number, start: number, end: number, options: RedactionOptions): string {
    let raw = this.text.slice(start, end);
    // Hidden spans as a difference array, summed once: overlapping spans cost nothing extra.
    const depth = new Int32Array(raw.length + 1);
    const hide = (from: number, to: number): void => {
      const a = Math.max(from, start) - start;
      const b = Math.min(to, end) - start;
      if (b <= a) return;
      depth[a] = depth[a]! + 1;
      depth[b] = depth[b]! - 1;
    };
    const literals = options.literals ?? [];
    for (let i = firstEndingAfter(literals, start); i < literals.length && literals[i]![0] < end; i++) {
      hide(literals[i]![0], literals[i]![1]);
    }
    const language = options.language ?? (options.unquotedValues ? 'text' : 'js');
    // A line that starts inside a SQL or shell/config string (`'first line\nsecond'`): its text up to
    // the closing quote is the value, and the quote scan below starts after it.
    const open = language === 'js' ? undefined : this.#openQuoteAt(line, language);
    if (open !== undefined) {
      const close = closingQuote(raw, 0, open, language);
      const prefix = close === -1 ? raw.length : close + 1;
      hide(start, start + prefix);
      raw = ' '.repeat(prefix) + raw.slice(prefix);
    }
    // Quoted strings, including ones the range list did not know about (SQL, shell, YAML).
    for (const match of raw.matchAll(/'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|`(?:[^`\\]|\\.)*`?/g)) {
      const from = start + match.index + 1;
      const to = start + match.index + match[0].length - (match[0].length > 1 ? 1 : 0);
      if (to > from) hide(from, to);
    }
    // Comments may hold anything ("// prod key: …"), so every comment on the line goes.
    if (options.comments) {
      const comments = options.comments;
      for (let i = firstEndingAfter(comments, start); i < comments.length && comments[i]![0] < end; i++) {
        hide(comments[i]![0], comments[i]![1]);
      }
    } else {
      for (const [from, to] of commentRanges(raw, language)) hide(start + from, start + to);
    }
    // Postgres dollar quotes: `$$value$$`, `$tag$value$tag$` (in shell `$$` is the process id).
    if (language === 'sql') {
      for (const [from, to] of dollarQuoteRanges(raw)) hide(start + from, start + to);
    }
    const wordEnd = shellWordEnds(raw);
    // Unquoted assignments and shell defaults: `KEY=value`, `${KEY:-value}`. What follows the `}`
    // up to the next blank is the same shell word (`${KEY:-a b}-tail`): part of the value too.
    // Expansions come in order, so the search for that blank or quote goes forward only.
    let stop = -1;
    for (const expansion of braceExpansions(raw, /\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=?+:]/g)) {
      if (stop < expansion.valueEnd) {
        const found = raw.slice(expansion.valueEnd).search(/[\s'"`]/);
        stop = found === -1 ? raw.length : expansion.valueEnd + found;
      }
      hide(start + expansion.valueStart, start + stop);
    }
    // Credentials in a URL (`postgres://app:pass@db`, `https://token@host`), in any language: to the
    // last `@` before the host, so an unencoded `@` in the password is hidden too.
    for (const match of raw.matchAll(URL_USERINFO)) {
      const from = start + match.index + 2;
      hide(from, start + match.index + match[0].length - 1);
    }
    // Config and shell files carry values unquoted: `ENV A=value`, `password: value`.
    if (options.unquotedValues) {
      // Command-line credentials: `-pSECRET` (mysql), `-u user:pass` (curl), `--password X`,
      // `--token X`, `--secret-key X`, `-H Authorization:…`: the shell word that holds the value.
      for (const match of raw.matchAll(CREDENTIAL_FLAG)) {
        const from = match.index + match[0].length;
        hide(start + from, start + wordEnd(from));
      }
      // An assignment or YAML key opening the line: its value runs to the end of the line (dotenv
      // and YAML values may hold blanks; a ` #` comment is hidden anyway).
      const head = /^[ \t]*(?:(?:export|ENV|ARG)[ \t]+|-[ \t]+)?[\w.-]+(?:[ \t]*=|:[ \t]+(?=\S))/.exec(raw);
      if (head) hide(start + head[0].length, end);
      // Elsewhere (`--build-arg A=value`, `{ password: value }`) the value is one shell word, whose
      // quotes and `${…}` may hold blanks.
      for (const match of raw.matchAll(/=[ \t]*|:[ \t]+/g)) {
        const from = match.index + match[0].length;
        hide(start + from, start + wordEnd(from));
      }
    }
    const text = this.text.slice(start, end);
    let out = '';
    let run = 0;
    let kept = 0;
    for (let i = 0; i < text.length; i++) {
      run += depth[i]!;
      if (run > 0) {
        out += `${text.slice(kept, i)}\0`;
        kept = i + 1;
      }
    }
    return out + text.slice(kept);
  }

  /** The quote (`'`, `"`, `` ` ``) a string left open at the start of `line`, scanning from the file start once. */
  #openQuoteAt(line: number, language: CommentLanguage): string | undefined {
    let open = this.#openQuotes.get(language);
    if (!open) {
      open = [];
      let quote: string | undefined;
      for (let l = 1; l <= this.lineCount; l++) {
        open.push(quote);
        quote = quoteAfterLine(this.line(l), quote, language);
      }
      this.#openQuotes.set(language, open);
    }
    return open[line - 1];
  }
}

/** The index of the first range (sorted, disjoint) that ends after `offset`. */
function firstEndingAfter(ranges: ReadonlyArray<readonly [number, number]>, offset: number): number {
  let lo = 0;
  let hi = ranges.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]![1] <= offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** In `line` from `from`, the index of the quote closing a `quote` string, or -1 (SQL doubles a quote to escape it). */
function closingQuote(line: string, from: number, quote: string, language: CommentLanguage): number {
  for (let i = from; i < line.length; i++) {
    const c = line[i];
    if (c === '\\' && language !== 'sql') i++;
    else if (c === quote) {
      if (language === 'sql' && line[i + 1] === quote) i++;
      else return i;
    }
  }
  return -1;
}

/** The quote still open at the end of `line`, given the one open at its start; comments outside strings skipped. */
function quoteAfterLine(line: string, open: string | undefined, language: CommentLanguage): string | undefined {
  let quote = open;
  let i = 0;
  while (i < line.length) {
    if (quote !== undefined) {
      const close = closingQuote(line, i, quote, language);
      if (close === -1) return quote;
      quote = undefined;
      i = close + 1;
      continue;
    }
    const c = line[i]!;
    if (c === "'" || c === '"' || (c === '`' && language !== 'sql')) quote = c;
    else if (language === 'sql' && c === '-' && line[i + 1] === '-') return undefined;
    else if (language === 'text' && c === '#' && isSpace(line[i - 1])) return undefined;
    i++;
  }
  return quote;
}

/** The end of the shell word starting at `from`: the next blank outside quotes and `${…}`. */
// `//userinfo@` (after any scheme); the userinfo has no blank, quote or `/`. No scheme part: on a
// long line of word characters it would make the search quadratic.
const URL_USERINFO = /\/\/[^\s/?#'"`]*@/g;
// A flag whose argument is a credential, up to where that argument starts: attached (`-pSECRET`,
// `-uroot`) or after blanks or `=` (`-u admin:pass`, `--password X`, `--token=X`, `--header X`).
const CREDENTIAL_FLAG =
  /(?<=^|[\s'"])(?:(?:-[uH]|--(?:pass|password|passwd|token|secret|user|header|auth)[\w-]*)(?:[ \t]+|=)|-[pu](?=\S))/g;

function shellWordEnds(line: string): (from: number) => number {
  // The walk from a position depends on that position only, so walks from later starts stop where
  // an earlier walk passed: every position is walked once, however many words start on the line.
  const memo = new Int32Array(line.length + 1).fill(-1);
  return (from) => {
    const path: number[] = [];
    let i = from;
    let end = line.length;
    while (i < line.length) {
      if (memo[i] !== -1) {
        end = memo[i]!;
        break;
      }
      path.push(i);
      const c = line[i]!;
      if (c === "'" || c === '"' || c === '`') {
        const close = line.indexOf(c, i + 1);
        i = close === -1 ? line.length : close + 1;
      } else if (c === '$' && line[i + 1] === '{') {
        const close = line.indexOf('}', i + 2);
        i = close === -1 ? line.length : close + 1;
      } else if (c === ' ' || c === '\t') {
        end = i;
        break;
      } else i++;
    }
    for (const p of path) memo[p] = end;
    return end;
  };
}

const isSpace = (c: string | undefined): boolean => c === undefined || c === ' ' || c === '\t';

/** The comment syntax of a file: JS/TS, SQL (`--` too), or shell/YAML/config (`#` too). */
export type CommentLanguage = 'js' | 'sql' | 'text';

// In JS, after these (or at the start of the line) a `/` starts a regular expression, not a division.
const REGEX_AFTER = /[(,=:[!&|?{};~^%*+\-<>]/;
const REGEX_KEYWORDS = /(^|[^\w$.])(return|typeof|case|do|else|in|of|new|delete|void|throw|instanceof|yield|await)$/;

/** In a JS line, the end (exclusive) of the regular expression literal starting at `i`, or -1 if none starts there. */
function regexEnd(line: string, i: number): number {
  // The last character before `i` that is not a blank, and the few before it (the longest keyword and
  // one character more): not the whole line before `i`, which made a line of many `/` quadratic.
  let j = i - 1;
  while (j >= 0 && /\s/.test(line[j]!)) j--;
  const last = line[j];
  if (last !== undefined && !REGEX_AFTER.test(last) && !REGEX_KEYWORDS.test(line.slice(Math.max(0, j - 11), j + 1))) {
    return -1;
  }
  let inClass = false;
  for (let j = i + 1; j < line.length; j++) {
    const c = line[j];
    if (c === '\\') j++;
    else if (c === '[') inClass = true;
    else if (c === ']') inClass = false;
    else if (c === '/' && !inClass) return j + 1;
  }
  return -1;
}

/**
 * Offsets (within `line`) of the comments on one line, quoted strings (and in JS regular
 * expression literals) skipped: `//` and `/* *\/` (also a block comment closed on this line but
 * opened on an earlier one); in SQL also `--`; in shell, YAML and config files also `#` at the
 * start of the line or after whitespace. Over-redaction is fine: a `#` or `--` that is not a
 * comment only hides more of the line.
 */
export function commentRanges(line: string, language: CommentLanguage): Array<readonly [number, number]> {
  const text = language !== 'js';
  const out: Array<readonly [number, number]> = [];
  let quote: string | undefined;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    const next = line[i + 1];
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      quote = c;
    } else if (language === 'js' && c === '/' && next !== '/' && next !== '*' && regexEnd(line, i) !== -1) {
      i = regexEnd(line, i) - 1;
    } else if (c === '*' && next === '/') {
      // The end of a block comment that started on an earlier line.
      out.push([0, i + 2]);
      i++;
    } else if (c === '/' && next === '*' && (!text || !/[\w./-]/.test(line[i - 1] ?? ''))) {
      const close = line.indexOf('*/', i + 2);
      const end = close === -1 ? line.length : close + 2;
      out.push([i, end]);
      i = end - 1;
    } else if (
      (c === '/' && next === '/' && (!text || isSpace(line[i - 1]))) ||
      (language === 'text' && c === '#' && isSpace(line[i - 1])) ||
      (language === 'sql' && c === '-' && next === '-')
    ) {
      out.push([i, line.length]);
      break;
    }
  }
  return out;
}

/**
 * Offsets (within `line`) of Postgres dollar-quoted strings (`$$…$$`, `$tag$…$tag$`). A tag that
 * appears an odd number of times opens or closes a string on another line: the whole line goes.
 */
export function dollarQuoteRanges(line: string): Array<readonly [number, number]> {
  const byTag = new Map<string, number[]>();
  for (const match of line.matchAll(/\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$/g)) {
    const list = byTag.get(match[0]) ?? [];
    list.push(match.index);
    byTag.set(match[0], list);
  }
  const out: Array<readonly [number, number]> = [];
  for (const [tag, offsets] of byTag) {
    if (offsets.length % 2 === 1) return [[0, line.length]];
    for (let i = 0; i < offsets.length; i += 2) out.push([offsets[i]! + tag.length, offsets[i + 1]!]);
  }
  return out;
}

/** A `${NAME<op>value}` expansion: the head the caller's pattern matched, and where the value is. */
export interface BraceExpansion {
  readonly head: RegExpExecArray;
  /** Offset of the first character after the head, and of the closing `}`. */
  readonly valueStart: number;
  readonly valueEnd: number;
}

/**
 * Every `${…}` expansion whose head (`${NAME:-`) matches `head` (a global pattern) and whose `}`
 * is on the same line (a nested `${B:-x}` is one too). Linear in the text: the next `}`
 * and newline are searched once for all heads, not once per head (`${A:-` repeated without a `}`
 * would otherwise cost quadratic time).
 */
export function* braceExpansions(text: string, head: RegExp): Generator<BraceExpansion> {
  let close = -1;
  let newline = -1;
  for (const match of text.matchAll(head)) {
    const valueStart = match.index + match[0].length;
    if (close < valueStart) close = text.indexOf('}', valueStart);
    if (close === -1) return;
    if (newline < valueStart) {
      newline = text.indexOf('\n', valueStart);
      if (newline === -1) newline = text.length;
    }
    if (close > newline) continue;
    yield { head: match as RegExpExecArray, valueStart, valueEnd: close };
  }
}
