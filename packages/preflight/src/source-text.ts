import type { Position } from './finding.ts';

const REDACTED = '«redacted»';

/** Line starts of a text, to turn offsets into positions and back. */
export class SourceText {
  readonly text: string;
  readonly #lineStarts: number[];

  constructor(text: string) {
    this.text = text;
    this.#lineStarts = [0];
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.#lineStarts.push(i + 1);
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
    return { line: lo + 1, column: offset - this.#lineStarts[lo]! + 1 };
  }

  lineStart(line: number): number {
    return this.#lineStarts[line - 1] ?? this.text.length;
  }

  lineEnd(line: number): number {
    const next = this.#lineStarts[line];
    if (next === undefined) return this.text.length;
    return this.text[next - 2] === '\r' ? next - 2 : next - 1;
  }

  line(line: number): string {
    return this.text.slice(this.lineStart(line), this.lineEnd(line));
  }

  /**
   * The line holding `offset`, with every quoted string and every given range replaced. Over-redaction
   * is the point: a snippet must be safe to paste into a ticket or a SARIF viewer.
   */
  redactedLine(
    offset: number,
    ranges: ReadonlyArray<readonly [number, number]> = [],
    options: { readonly unquotedValues?: boolean } = {},
  ): string {
    const line = this.position(offset).line;
    const start = this.lineStart(line);
    const end = this.lineEnd(line);
    const chars = this.text.slice(start, end).split('');
    const hide = (from: number, to: number): void => {
      for (let i = Math.max(from, start); i < Math.min(to, end); i++) chars[i - start] = '\0';
    };
    for (const [from, to] of ranges) hide(from, to);
    const raw = this.text.slice(start, end);
    // Quoted strings, including ones the range list did not know about (SQL, shell, YAML).
    for (const match of raw.matchAll(/'(?:[^'\\]|\\.)*'?|"(?:[^"\\]|\\.)*"?|`(?:[^`\\]|\\.)*`?/g)) {
      const from = start + match.index + 1;
      const to = start + match.index + match[0].length - (match[0].length > 1 ? 1 : 0);
      if (to > from) hide(from, to);
    }
    // Unquoted assignments and shell defaults: `KEY=value`, `${KEY:-value}`.
    for (const match of raw.matchAll(/\$\{[A-Za-z_][A-Za-z0-9_]*:?[-=?+:]([^}]*)\}/g)) {
      const inner = match[1] ?? '';
      const from = start + match.index + match[0].length - 1 - inner.length;
      if (inner.length > 0) hide(from, from + inner.length);
    }
    // Config and shell files carry values unquoted: `ENV A=value`, `password: value`.
    if (options.unquotedValues) {
      for (const match of raw.matchAll(/(=|:[ \t]+)([^\s'"`#,;)]+)/g)) {
        const from = start + match.index + (match[1]?.length ?? 0);
        hide(from, from + (match[2]?.length ?? 0));
      }
    }
    return chars.join('').replace(/\0+/g, REDACTED).trim().slice(0, 240);
  }
}
