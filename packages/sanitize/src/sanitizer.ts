/**
 * The sanitizer: limits → sanitize-html with the compiled policy (attributes filtered by our own
 * rules inside its tag hook) → the parse5 verification pass → canonical, possibly truncated HTML.
 * Any verification failure returns the input's text, escaped, and says why.
 */
import { Buffer } from 'node:buffer';
import type { DefaultTreeAdapterTypes } from 'parse5';
import sanitizeHtmlLib from 'sanitize-html';
import type { AmplificationBasis } from './amplification-budget.ts';
import { filterAttributes, type Removal } from './attributes.ts';
import { stripUnclosedBidi } from './bidi-controls.ts';
import { SanitizeError } from './errors.ts';
import { DROP_CONTENT_ELEMENTS, FORBIDDEN_ELEMENTS } from './hard-rules.ts';
import { DEPTH_FAILURE, PRE_PARSE_DEPTH_LIMIT, preParseRefusal } from './nesting-guard.ts';
import { treeToPlainText, untrustedText } from './plain-text.ts';
import { type Policy, resolvePolicy, type SanitizeOptions } from './policy.ts';
import type { PresetName } from './presets.ts';
import { reportedElement } from './removal-names.ts';
import { escapeTextWithin } from './serialize.ts';
import type { RewriteGrowth } from './url-policy.ts';
import { type Verified, verifyOutput } from './verify.ts';

/** Thrown from inside the parse to abandon it; never leaves {@link createSanitizer}. */
const TOO_DEEP: unique symbol = Symbol('nesting deeper than PRE_PARSE_DEPTH_LIMIT');

/** At most this many removals are listed; `removedCount` keeps the full count.
 *
 * @example
 * ```ts
 * import { createSanitizer, MAX_REPORTED_REMOVALS } from '@rampart/sanitize';
 * const { removed } = createSanitizer().sanitize('<b onclick=x>'.repeat(500));
 * removed.length <= MAX_REPORTED_REMOVALS; // true
 * ```
 */
export const MAX_REPORTED_REMOVALS = 100;

/** What {@link Sanitizer.sanitize} returns. */
export interface SanitizeResult {
  /** Safe HTML, verified against the policy by a WHATWG parser. */
  readonly html: string;
  /** What was removed and why (first {@link MAX_REPORTED_REMOVALS}); known names only (else `(unknown)`), safe to log. */
  readonly removed: readonly Removal[];
  /** How many removals there were in total. */
  readonly removedCount: number;
  /** True when `limits.maxOutputChars` cut the output. */
  readonly truncated: boolean;
  /** True when verification failed and `html` is the input's text only. */
  readonly failedClosed: boolean;
  /** Why verification failed, when it did. */
  readonly failure?: string;
}

/** Options of {@link Sanitizer.toPlainText}. */
export interface PlainTextOptions {
  /**
   * Cut the text to this many characters (on a code point boundary), `…` included. An integer of
   * at least 1, else `ERR_SANITIZE_INVALID_OPTIONS`.
   */
  readonly maxChars?: number;
}

/** A configured sanitizer; create once, use for every request. */
export interface Sanitizer {
  readonly preset: PresetName;
  /** Sanitizes and reports what was removed. Throws only for oversized or non-string input. */
  sanitize(html: string): SanitizeResult;
  /** The plain string API: the `html` of {@link Sanitizer.sanitize}. */
  sanitizeToString(html: string): string;
  /** Plain text (not HTML: escape it before putting it into a page) for previews and search. */
  toPlainText(html: string, options?: PlainTextOptions): string;
}

function checkInput(html: unknown, policy: Policy): asserts html is string {
  if (typeof html !== 'string') {
    throw new SanitizeError('ERR_SANITIZE_INVALID_INPUT', 'sanitize() takes a string; convert the input first.');
  }
  // Cheap upper bound first: a UTF-16 code unit is at most 3 UTF-8 bytes.
  if (html.length * 3 > policy.maxInputBytes && Buffer.byteLength(html, 'utf8') > policy.maxInputBytes) {
    throw new SanitizeError(
      'ERR_SANITIZE_INPUT_TOO_LARGE',
      'The input is larger than limits.maxInputBytes allows; reject it (413) or raise limits.maxInputBytes.',
    );
  }
}

function cutPlain(text: string, max: number | undefined): string {
  if (max === undefined || text.length <= max) return text;
  let end = Math.max(0, max - 1);
  const code = text.charCodeAt(end - 1);
  if (end > 0 && code >= 0xd800 && code <= 0xdbff) end--;
  // The cut may leave a bidi control open that would reverse whatever follows the text.
  return `${stripUnclosedBidi(text.slice(0, end))}…`;
}

/**
 * Creates a sanitizer. Options are validated now and every problem is listed in one
 * `ERR_SANITIZE_INVALID_OPTIONS` error; options that try to relax a hard rule are refused.
 *
 * @example
 * ```ts
 * import { createSanitizer } from '@rampart/sanitize';
 *
 * const comments = createSanitizer({ preset: 'ugc' });
 * const { html, removed } = comments.sanitize('<p onclick="x()">Hi <a href="javascript:alert(1)">there</a></p>');
 * // html === '<p>Hi <a>there</a></p>'; removed lists p[onclick] and a[href] with reasons
 *
 * const mail = createSanitizer({
 *   preset: 'email',
 *   rewriteUrl: (url, { kind }) => (kind === 'link' ? undefined : `https://img-proxy.example/?u=${encodeURIComponent(url)}`),
 * });
 * mail.sanitizeToString('<td style="color: red; position: fixed">x</td>');
 * ```
 */
export function createSanitizer(options: SanitizeOptions = {}): Sanitizer {
  const policy = resolvePolicy(options);
  let report: (removal: Removal) => void = () => {};

  // htmlparser2's real stack depth: sanitize-html passes each of its open and close events on,
  // implied and void ones included. It reports what nestingLimit unwrapped and is the exact second
  // line of the nesting guard: past PRE_PARSE_DEPTH_LIMIT the parse is abandoned.
  let depth = 0;
  // What the rewriteUrl hook added to the URLs of the current sanitize-html pass (see AmplificationBasis).
  let rewriteGrowth: RewriteGrowth = { parsed: 0, written: 0 };
  const libOptions: sanitizeHtmlLib.IOptions = {
    onOpenTag: (name: string) => {
      depth++;
      if (depth > PRE_PARSE_DEPTH_LIMIT) throw TOO_DEEP;
      if (depth > policy.nestingLimit && policy.tags.has(name)) {
        report({ kind: 'limit', name, reason: 'nested deeper than limits.nestingLimit (unwrapped, text kept)' });
      }
    },
    onCloseTag: () => {
      depth = Math.max(0, depth - 1);
    },
    allowedTags: [...policy.tags],
    // Attributes were already filtered by our own rules in transformTags; `false` skips the
    // per-call compilation of a second, identical map (half of sanitize-html's time on small
    // inputs). The verification pass re-checks every attribute on the parse5 tree regardless.
    allowedAttributes: false,
    allowedSchemes: [...policy.urls.linkSchemes],
    allowedSchemesByTag: { img: ['http', 'https', 'data'], blockquote: ['http', 'https'], q: ['http', 'https'] },
    allowedSchemesAppliedToAttributes: ['href', 'src', 'cite'],
    allowProtocolRelative: false,
    disallowedTagsMode: 'discard',
    nonTextTags: [...DROP_CONTENT_ELEMENTS],
    nestingLimit: policy.nestingLimit,
    parseStyleAttributes: false,
    enforceHtmlBoundary: false,
    selfClosing: ['img', 'br', 'hr', 'col', 'wbr'],
    transformTags: {
      '*': (tagName: string, attribs: sanitizeHtmlLib.Attributes) => {
        if (!policy.tags.has(tagName)) {
          report({
            kind: 'element',
            name: reportedElement(tagName, policy),
            reason: FORBIDDEN_ELEMENTS.has(tagName) ? 'forbidden by a hard rule' : 'not allowed',
          });
          return { tagName, attribs: {} };
        }
        // An element nested past the limit is unwrapped with its attributes: what the rewrite added
        // to its URLs is not written.
        const growth = depth > policy.nestingLimit ? undefined : rewriteGrowth;
        return { tagName, attribs: filterAttributes(policy, tagName, attribs, 'sanitize', report, growth) };
      },
    },
  };

  /**
   * sanitize-html, then the verification pass, whose amplification allowances are relative to
   * `basis`: unless told (the strict pass keeps the first pass's), `html` and what sanitize-html
   * wrote for it. The basis is returned for the strict pass.
   */
  const parseAndVerify = (
    html: string,
    given?: AmplificationBasis,
  ): { verified: Verified; basis: AmplificationBasis | undefined } => {
    // Per attribute only with a hook (without one nothing grows), and only when the verification pass
    // is to count what survives its parse: the strict pass keeps the first pass's basis.
    rewriteGrowth =
      policy.urls.rewriteUrl === undefined || given !== undefined
        ? { parsed: 0, written: 0 }
        : { parsed: 0, written: 0, attributes: new Map() };
    try {
      const candidate = sanitizeHtmlLib(html, libOptions);
      const basis = given ?? {
        inputLength: html.length,
        sanitizedLength: candidate.length,
        parsedRewriteGrowth: rewriteGrowth.parsed,
        writtenRewriteGrowth: rewriteGrowth.written,
        sanitizedRewriteGrowth: rewriteGrowth.written,
      };
      return verifyOutput(candidate, policy, report, basis, rewriteGrowth.attributes);
    } catch (error) {
      if (error !== TOO_DEEP) throw error;
      return { verified: { ok: false, reason: DEPTH_FAILURE }, basis: given };
    }
  };

  const run = (
    html: string,
  ): { result: SanitizeResult; tree: DefaultTreeAdapterTypes.DocumentFragment | undefined; text?: string } => {
    checkInput(html, policy);
    const removed: Removal[] = [];
    let removedCount = 0;
    // A rewriteUrl hook may sanitize re-entrantly; restore the outer call's reporter afterwards.
    const outer = report;
    const outerDepth = depth;
    const outerGrowth = rewriteGrowth;
    depth = 0;
    report = (removal) => {
      removedCount++;
      if (removed.length < MAX_REPORTED_REMOVALS) removed.push(removal);
    };
    try {
      if (html.includes('<!'))
        report({ kind: 'comment', name: '#comment', reason: 'comments, CDATA and doctypes are always removed' });
      const refusal = preParseRefusal(html);
      const first =
        refusal === undefined
          ? parseAndVerify(html)
          : { verified: { ok: false as const, reason: refusal }, basis: undefined };
      let verified: Verified = first.verified;
      if (verified.ok && first.basis !== undefined && policy.verify === 'strict' && !verified.truncated) {
        depth = 0;
        // The first pass's allowances, not ones from the output it must give back (which can be 8 ×
        // the input and more): an idempotent output parses to the tree the first pass built within them.
        const { verified: again } = parseAndVerify(verified.html, first.basis);
        if (!again.ok || again.html !== verified.html) {
          verified = {
            ok: false,
            reason: again.ok ? 'sanitizing the output changed it (not idempotent)' : again.reason,
          };
        }
      }
      if (verified.ok) {
        return {
          result: { html: verified.html, removed, removedCount, truncated: verified.truncated, failedClosed: false },
          tree: verified.tree,
        };
      }
      report({ kind: 'verification', name: 'output', reason: verified.reason });
      // Never parse5 on the raw input: its tree builder is quadratic on some soups (see untrustedText).
      const whole = stripUnclosedBidi(untrustedText(html));
      const text = cutPlain(whole, policy.maxOutputChars);
      // Cut on the escaped length: `&`, `<` and `>` grow when escaped.
      const escaped = escapeTextWithin(whole, policy.maxOutputChars, policy.truncationMarker);
      return {
        result: {
          html: stripUnclosedBidi(escaped.html),
          removed,
          removedCount,
          truncated: escaped.truncated,
          failedClosed: true,
          failure: verified.reason,
        },
        tree: undefined,
        text,
      };
    } finally {
      report = outer;
      depth = outerDepth;
      rewriteGrowth = outerGrowth;
    }
  };

  return Object.freeze({
    preset: policy.preset,
    sanitize(html: string): SanitizeResult {
      return run(html).result;
    },
    sanitizeToString(html: string): string {
      return run(html).result.html;
    },
    toPlainText(html: string, plain: PlainTextOptions = {}): string {
      const max = plain?.maxChars;
      if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
        // 0 or less cannot hold even the `…`; NaN or a fraction is a caller's bug, not a length.
        throw new SanitizeError(
          'ERR_SANITIZE_INVALID_OPTIONS',
          'toPlainText: maxChars must be an integer of at least 1.',
          {
            problems: ['maxChars must be an integer of at least 1.'],
          },
        );
      }
      const { tree, text } = run(html);
      return cutPlain(tree === undefined ? (text ?? '') : treeToPlainText(tree), max);
    },
  });
}

// @cache-scope per-pod: memoizes one immutable sanitizer per built-in preset; pure, bounded by the preset count.
const cache = new Map<PresetName, Sanitizer>();

function presetSanitizer(preset: PresetName): Sanitizer {
  let sanitizer = cache.get(preset);
  if (sanitizer === undefined) {
    sanitizer = createSanitizer({ preset });
    cache.set(preset, sanitizer);
  }
  return sanitizer;
}

/**
 * The plain string API with a preset's defaults (`ugc` unless told).
 *
 * @example
 * ```ts
 * import { sanitizeHtml } from '@rampart/sanitize';
 *
 * sanitizeHtml('<img src=x onerror=alert(1)>hello'); // '<img src="x" />hello'
 * sanitizeHtml('<b>hi</b>', 'text'); // 'hi'
 * ```
 */
export function sanitizeHtml(html: string, preset: PresetName = 'ugc'): string {
  return presetSanitizer(preset).sanitizeToString(html);
}

/**
 * Plain text of untrusted HTML (sanitized with the `ugc` preset first). The result is text, not
 * HTML: escape it when you put it into a page.
 *
 * @example
 * ```ts
 * import { toPlainText } from '@rampart/sanitize';
 *
 * toPlainText('<p>Hello <a href="https://example.com">site</a></p><ul><li>one</li></ul>');
 * // 'Hello site (https://example.com/)\n\n- one'
 * ```
 */
export function toPlainText(html: string, options: PlainTextOptions = {}): string {
  return presetSanitizer('ugc').toPlainText(html, options);
}
