// Inline suppressions: `preflight-ignore <rule>[,<rule>] until <YYYY-MM-DD>: <reason>`.
// A suppression without a reason or an expiry is itself a finding; an expired one stops suppressing.

/** A parsed suppression comment. */
export type Suppression =
  | {
      readonly valid: true;
      readonly rules: readonly string[];
      /** Last day (UTC) on which it applies. */
      readonly until: string;
      readonly reason: string;
    }
  | { readonly valid: false; readonly problem: string };

// The directive opens the comment (or a line of a block comment); a mention in prose is not one.
const MARKER = /(^|\n)[\s*]*preflight-ignore\b/;
const FORM = /^preflight-ignore\s+([a-z0-9-]+(?:\s*,\s*[a-z0-9-]+)*)\s+until\s+(\S+)\s*:\s*(.*)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Whether `date` is a real calendar date in `YYYY-MM-DD` form. */
export function isCalendarDate(date: string): boolean {
  const match = DATE.exec(date);
  if (!match) return false;
  const parsed = new Date(`${date}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().slice(0, 10) === date;
}

/**
 * Parses the text of one comment. Returns `undefined` when it is not a suppression at all.
 *
 * @example
 * ```ts
 * parseSuppression('preflight-ignore todo-auth until 2027-01-31: tracked in #42');
 * // { valid: true, rules: ['todo-auth'], until: '2027-01-31', reason: 'tracked in #42' }
 * ```
 */
export function parseSuppression(comment: string): Suppression | undefined {
  const found = MARKER.exec(comment);
  if (!found) return undefined;
  const text = comment
    .slice(found.index + found[0].indexOf('preflight-ignore'))
    .replace(/\*\/\s*$/, '')
    .replace(/\s+/g, ' ')
    .trim();
  const match = FORM.exec(text);
  if (!match) {
    if (!/\buntil\b/.test(text)) return { valid: false, problem: 'it has no expiry ("until YYYY-MM-DD")' };
    return { valid: false, problem: 'it does not read "preflight-ignore <rule> until YYYY-MM-DD: <reason>"' };
  }
  const [, rules = '', until = '', reason = ''] = match;
  if (!isCalendarDate(until)) return { valid: false, problem: 'its expiry is not a calendar date (YYYY-MM-DD)' };
  if (reason.replace(/[^\p{L}\p{N}]/gu, '').length < 3) return { valid: false, problem: 'it has no reason after ":"' };
  return { valid: true, rules: rules.split(',').map((r) => r.trim()), until, reason: reason.trim() };
}

/**
 * Formats a suppression comment body (what `parseSuppression` reads back).
 *
 * @example
 * ```ts
 * formatSuppression(['todo-auth'], '2027-01-31', 'tracked in #42');
 * ```
 */
export function formatSuppression(rules: readonly string[], until: string, reason: string): string {
  return `preflight-ignore ${rules.join(',')} until ${until}: ${reason}`;
}

/** Whether a valid suppression still applies at `now` (through the end of its last day, UTC). */
export function suppressionActive(until: string, now: Date): boolean {
  return Date.parse(`${until}T23:59:59.999Z`) >= now.getTime();
}
