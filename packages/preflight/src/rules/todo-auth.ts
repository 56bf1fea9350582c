import type { RawFinding } from '../finding.ts';
import type { FileContext, FileRule } from '../rule.ts';

const ID = 'todo-auth';

const MARKER = /^((?:[Tt][Oo][Dd][Oo])|(?:[Ff][Ii][Xx][Mm][Ee])|(?:[Hh][Aa][Cc][Kk])|XXX)(?![\w-])/;
// Words that mean auth in code comments. Bare "token", "scope", "verify", "signature" and "role"
// are left out: lexers have tokens, functions have signatures and scopes, ARIA has roles.
const AUTH_WORDS =
  /\b(auth\w*|authn|authz|authenticat\w*|authoriz\w*|permission\w*|rbac|acls?|sessions?|login|logout|sign[- ]?in|passwords?|credentials?|api[_-]?keys?|admin\w*|tenant\w*|access[_-]?control|secret\w*|webhook\w*|(access|refresh|id|api|auth|bearer|session|reset)[_ -]?tokens?|oauth scopes?|scope checks?|enforce\w* (the )?scopes?|required scopes?|verify(ing)? (the )?(token|signature|jwt|session)|signature (check|verification))\b|jwt|bearer|csrf|xsrf|oauth|oidc|hmac/i;
const ISSUE_LINK = /https?:\/\/\S+|(^|[\s(])#\d+\b|\b[A-Z][A-Z0-9]+-\d+\b|\bissue\s+\d+\b/;
const EXPIRY = /\b(?:expires?|until|by|due|deadline|remove[- ]by)\b[\s:=]*(\d{4}-\d{2}-\d{2})\b/i;

/**
 * Whether a TODO comment is tracked: it links an issue and states an expiry date (and, when `now` is
 * past the date, the expiry itself is a finding).
 */
export function todoStatus(comment: string, now: Date): 'tracked' | 'untracked' | 'expired' {
  const expiry = EXPIRY.exec(comment)?.[1];
  if (!ISSUE_LINK.test(comment) || expiry === undefined) return 'untracked';
  const date = Date.parse(`${expiry}T23:59:59.999Z`);
  if (Number.isNaN(date)) return 'untracked';
  return date < now.getTime() ? 'expired' : 'tracked';
}

function check(context: FileContext): RawFinding[] {
  const { source } = context;
  const out: RawFinding[] = [];
  for (const comment of context.module.comments) {
    // A marker opens a comment line (`// TODO: …`, ` * FIXME …`); one inside prose is a mention.
    const marker = comment.value
      .split('\n')
      .map((line) => MARKER.exec(line.replace(/^[\s*/-]*/, '')))
      .find((m) => m !== null);
    if (!marker) continue;
    const first = source.position(comment.start).line;
    const last = source.position(comment.end).line;
    // "Near auth code": the comment itself or the three lines around it.
    const window: string[] = [comment.value];
    for (let line = Math.max(1, first - 3); line <= Math.min(source.lineCount, last + 3); line++) {
      window.push(source.line(line));
    }
    if (!AUTH_WORDS.test(window.join('\n'))) continue;
    const status = todoStatus(comment.value, context.now);
    if (status === 'tracked') continue;
    const what = marker[1]!.toUpperCase();
    out.push({
      ruleId: ID,
      severity: 'error',
      message:
        status === 'expired'
          ? `${what} next to auth code is past its expiry date. Do the work, or re-plan it with a new issue and date.`
          : `${what} next to auth code has no issue link and expiry date. Add both ("${what}(#123, expires 2027-01-31): …") or fix it now: auth shortcuts do not get fixed later.`,
      start: comment.start,
      end: comment.end,
      key: `${what}:${comment.value.replace(/\s+/g, ' ').trim().slice(0, 80)}`,
    });
  }
  return out;
}

/** `todo-auth`: TODO/FIXME/HACK near authentication or authorization code without an issue and expiry. */
export const todoAuth: FileRule = {
  id: ID,
  severity: 'error',
  summary: 'A TODO/FIXME/HACK near auth code has no issue link and expiry date (or is past it).',
  fix: 'Link an issue and add an expiry date: "TODO(#123, expires 2027-01-31): …", or fix it now.',
  appliesTo: (file) => /\.[cm]?[jt]sx?$/.test(file),
  check,
};
