import type { RawFinding } from '../finding.ts';
import type { FileContext, FileRule } from '../rule.ts';

const ID = 'deprecated-without-removal';

const VERSION = /\bv?(\d+)\.(\d+)(?:\.(\d+))?\b/;
const DATE = /\b(\d{4}-\d{2}-\d{2})\b/;
const REMOVAL = /\b(remov\w*|sunset|drop\w*|delet\w*|until|gone|goes away|go away|retir\w*|eol|end[- ]of[- ]life)\b/i;

/** What a `@deprecated` tag's text says about removal. */
export type RemovalTarget =
  | { readonly kind: 'none' }
  | { readonly kind: 'date'; readonly date: string }
  | { readonly kind: 'version'; readonly version: readonly [number, number, number] };

/**
 * Reads the removal target from the text after `@deprecated` (up to the next tag).
 *
 * @example
 * ```ts
 * removalTarget('Use verify() instead. Removal: v2.0.0'); // { kind: 'version', version: [2, 0, 0] }
 * ```
 */
export function removalTarget(text: string): RemovalTarget {
  const removal = REMOVAL.exec(text);
  if (!removal) return { kind: 'none' };
  const after = text.slice(removal.index);
  const date = DATE.exec(after)?.[1];
  if (date !== undefined && !Number.isNaN(Date.parse(date))) return { kind: 'date', date };
  const version = VERSION.exec(after);
  if (version) return { kind: 'version', version: [Number(version[1]), Number(version[2]), Number(version[3] ?? 0)] };
  return { kind: 'none' };
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

/** Options the engine passes: the version of the package the file belongs to, when known. */
export interface DeprecationContext {
  readonly packageVersion?: string;
}

function check(context: FileContext, deprecation: DeprecationContext): RawFinding[] {
  const out: RawFinding[] = [];
  for (const comment of context.module.comments) {
    if (comment.type !== 'Block') continue;
    // A block tag starts a comment line; `@deprecated` inside prose or a code span is a mention.
    for (const tag of comment.value.matchAll(/(^|\n)[\t *]*(@deprecated)\b([^@]*)/g)) {
      const text = (tag[3] ?? '').replace(/^\s*\*\s?/gm, ' ');
      const target = removalTarget(text);
      const start = comment.start + 2 + tag.index + tag[0].indexOf('@deprecated');
      let message: string | undefined;
      if (target.kind === 'none') {
        message =
          '@deprecated without a removal target. Say when it goes: "@deprecated Use x(). Removal: v3.0.0" or "Removal: 2027-06-30".';
      } else if (target.kind === 'date' && Date.parse(`${target.date}T23:59:59.999Z`) < context.now.getTime()) {
        message = `@deprecated removal date ${target.date} has passed. Remove the deprecated API now, or move the date with a reason.`;
      } else if (target.kind === 'version' && deprecation.packageVersion !== undefined) {
        const current = VERSION.exec(deprecation.packageVersion);
        if (current) {
          const now = [Number(current[1]), Number(current[2]), Number(current[3] ?? 0)];
          if (compareVersions(now, target.version) >= 0 && !(now[0] === 0 && now[1] === 0 && now[2] === 0)) {
            message = `@deprecated removal version v${target.version.join('.')} is reached (package is ${deprecation.packageVersion}). Remove the deprecated API.`;
          }
        }
      }
      if (message)
        out.push({ ruleId: ID, severity: 'warning', message, start, end: start + 11, key: text.trim().slice(0, 80) });
    }
  }
  return out;
}

/** `deprecated-without-removal`: `@deprecated` with no removal version/date, or one already reached. */
export const deprecatedWithoutRemoval: FileRule & {
  checkWith(context: FileContext, deprecation: DeprecationContext): RawFinding[];
} = {
  id: ID,
  severity: 'warning',
  summary: '@deprecated without a removal version or date, or past it.',
  fix: 'State the removal target in the tag: "Removal: v3.0.0" or "Removal: 2027-06-30".',
  appliesTo: (file) => /\.[cm]?[jt]sx?$/.test(file),
  check: (context) => check(context, {}),
  checkWith: check,
};
