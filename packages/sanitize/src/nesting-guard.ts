/**
 * The nesting guard in front of sanitize-html. htmlparser2 keeps its open element stack with
 * `unshift` and looks every end tag up with `indexOf`, so both deep nesting and end tags that match
 * nothing (`<div></x>` repeated) cost time proportional to the depth: quadratic over the input.
 *
 * Two lines of defence:
 * 1. {@link preParseRefusal}, a linear pre-scan that replays htmlparser2's stack on htmlparser2's own
 *    tokenizer (see `parser-replay.ts`): it refuses input whose stack gets deeper than
 *    {@link PRE_PARSE_DEPTH_LIMIT} or whose stack work (the depth at every push, every end tag that
 *    matches nothing and every linear stack search) passes {@link PRE_PARSE_WORK_LIMIT}.
 * 2. The parse itself counts htmlparser2's real open and close events and aborts above the same
 *    depth (see the sanitizer's `onOpenTag`), should the replay and the Parser ever disagree.
 */

import { replayParser } from './parser-replay.ts';

/**
 * Above this nesting depth the input is not parsed to the end by sanitize-html: it fails closed to
 * text (extracted by the same linear replay of htmlparser2's tokenizer). Checked by a linear pre-scan before parsing and, as
 * an exact bound, on htmlparser2's own open/close events during the parse.
 *
 * @example
 * ```ts
 * import { createSanitizer, PRE_PARSE_DEPTH_LIMIT } from '@rampart/sanitize';
 * const r = createSanitizer().sanitize('<div>'.repeat(PRE_PARSE_DEPTH_LIMIT + 1) + 'x');
 * r.failedClosed; // true, r.html === 'x'
 * ```
 */
export const PRE_PARSE_DEPTH_LIMIT = 1024;

/**
 * The most parser stack work (the sum of the open-element depth at every start tag and at every end
 * tag that matches no open element) the pre-scan lets through. Ordinary mail stays under 10⁶;
 * above the limit the input fails closed to text like over-deep input.
 *
 * @example
 * ```ts
 * import { createSanitizer, PRE_PARSE_WORK_LIMIT } from '@rampart/sanitize';
 * const soup = '<div>'.repeat(1000) + '</x>'.repeat(Math.ceil(PRE_PARSE_WORK_LIMIT / 1000));
 * createSanitizer().sanitize(soup).failedClosed; // true
 * ```
 */
export const PRE_PARSE_WORK_LIMIT = 2 ** 25;

/** The `failure` of a result refused for depth. */
export const DEPTH_FAILURE = `nesting deeper than ${PRE_PARSE_DEPTH_LIMIT} levels`;
const WORK_FAILURE = 'too many tags inside deep nesting (parser work limit)';

/**
 * Why the input must not reach sanitize-html, or `undefined`. Linear in the input: the replay stops
 * at the first limit passed.
 */
export function preParseRefusal(html: string): string | undefined {
  const { stopped } = replayParser(html, { depthLimit: PRE_PARSE_DEPTH_LIMIT, workLimit: PRE_PARSE_WORK_LIMIT });
  if (stopped === 'depth') return DEPTH_FAILURE;
  if (stopped === 'work') return WORK_FAILURE;
  return undefined;
}
