/**
 * What the caller's `rewriteUrl` added to the URLs the verification pass writes (README "Limits": R
 * and W). sanitize-html's pass records, per kept attribute with URLs, how many start tags it wrote
 * with it and what the hook added ({@link RewrittenAttribute}); from the first parse on, only the
 * URLs the tree keeps count (R), and the output kept after a cut or a re-parse counts only those it
 * writes (W). Counted for URLs that are not written, what the hook added would pay for clones.
 */
import type { DefaultTreeAdapterTypes } from 'parse5';
import { forEachElement } from './serialize.ts';
import { type RewrittenAttribute, rewrittenAttributeKey } from './url-policy.ts';

type Fragment = DefaultTreeAdapterTypes.DocumentFragment;
/** The attribute list of an element; clones of a start tag share it. */
export type AttributeList = DefaultTreeAdapterTypes.Element['attrs'];

/** The attribute lists of the elements of `tree`, each once (clones share their start tag's). */
function attributeLists(tree: Fragment): Set<AttributeList> {
  const lists = new Set<AttributeList>();
  forEachElement(tree, (element) => lists.add(element.attrs));
  return lists;
}

/**
 * What `rewriteUrl` added to the URLs of the attribute `lists` of a tree, given what it added to each
 * attribute sanitize-html kept (`rewritten`), and those of its attributes that count, each with how
 * many times (`surviving`: passed back as `rewritten`, the same for a later tree of the output, so no
 * URL counts there more often than here). The parser drops some of what sanitize-html keeps (a `<col>`
 * or `<td>` outside a table, with its style), normalizing drops more (an rp with text, with its links)
 * and a cut drops the rest of the output: what the hook added to those is not written, and counted it
 * would pay for clones. Every element of the first parse was created for one start tag of
 * sanitize-html's output, and its clones share that tag's attribute list, so each list counts once,
 * not per clone; and an attribute counts at most as many times as `rewritten` says (sanitize-html
 * wrote it).
 */
function survivingRewriteGrowth(
  lists: ReadonlySet<AttributeList>,
  rewritten: ReadonlyMap<string, RewrittenAttribute>,
): { parsed: number; written: number; surviving: Map<string, RewrittenAttribute> } {
  const found = new Map<string, number>();
  for (const attrs of lists) {
    for (const a of attrs) {
      const key = rewrittenAttributeKey(a.name, a.value);
      if (rewritten.has(key)) found.set(key, (found.get(key) ?? 0) + 1);
    }
  }
  let parsed = 0;
  let written = 0;
  const surviving = new Map<string, RewrittenAttribute>();
  for (const [key, starts] of found) {
    const record = rewritten.get(key) as RewrittenAttribute;
    const count = Math.min(starts, record.count);
    parsed += count * record.parsed;
    written += count * record.written;
    surviving.set(key, { ...record, count });
  }
  return { parsed, written, surviving };
}

/**
 * Whether re-parsing dropped a URL counted in `written`, given what of it (`found`) the stable form
 * of the output (or of a cut of the first parse's tree) has, before any later cut: fewer start tags
 * with it than `written` counts. Written out, every element of the tree `written` was counted in is
 * a start tag of its own, and a parse builds an element for each, so a round that drops none builds
 * no fewer: fewer means a round dropped one (a start tag the parser ignores there). An rp a round
 * forms with text and drops is reported instead, as clones of another start tag with the URL can
 * hide it from this count.
 */
function dropsFrom(
  found: ReadonlyMap<string, RewrittenAttribute>,
  written: ReadonlyMap<string, RewrittenAttribute>,
): boolean {
  for (const [key, record] of written) if ((found.get(key)?.count ?? 0) < record.count) return true;
  return false;
}

/**
 * W: what `rewriteUrl` added, as written, to the URLs an output writes (`found`: each at most as
 * often as counted, and at least once). Once re-parsing dropped one of them (`dropped`), the start
 * tags with a URL that the output writes can no longer be told from clones of one: each URL the
 * output writes counts once, the least it can have been written (every element with it comes from
 * a start tag with it).
 */
function keptFrom(found: ReadonlyMap<string, RewrittenAttribute>, dropped: boolean): number {
  let kept = 0;
  for (const record of found.values()) kept += (dropped ? 1 : record.count) * record.written;
  return kept;
}

/**
 * The rewrite growth of one verification, from its normalized first parse on: R, what the hook added
 * to the URLs that survive into that tree ({@link parsed} and {@link written}), then, as the pass
 * cuts and re-parses the output, W for the output kept ({@link keptBy}).
 */
export class RewriteTally {
  /** R as parsed: what the hook added to the URLs of the first parse's tree, each list once. */
  readonly parsed: number;
  /** R as written (escaped, `&` as `&amp;`). */
  readonly written: number;
  /** The attributes of the first parse's tree that count, each with how many times. */
  readonly #surviving: ReadonlyMap<string, RewrittenAttribute>;
  /** Those the output writes, each at most as often as the first parse's tree has start tags with it. */
  #counted: ReadonlyMap<string, RewrittenAttribute>;
  /** Whether a re-parse round dropped a start tag with a counted URL. */
  #dropped = false;
  /**
   * The last tree walked and what of `#counted` it has: the stable form {@link checkStable}
   * hears is most often the output kept that {@link keptBy} is asked about, walked once for both.
   * The pass changes a tree only before it is stable (normalizing it), never once it is heard here.
   */
  #walked: { readonly tree: Fragment; readonly found: ReadonlyMap<string, RewrittenAttribute> } | undefined;

  constructor(firstParse: Fragment, rewritten: ReadonlyMap<string, RewrittenAttribute>) {
    const growth = survivingRewriteGrowth(attributeLists(firstParse), rewritten);
    this.parsed = growth.parsed;
    this.written = growth.written;
    this.#surviving = growth.surviving;
    this.#counted = growth.surviving;
  }

  /**
   * The output was cut from the first parse's tree itself, writing the elements with these attribute
   * `lists`: the URLs of the others (all past maxOutputChars) count for nothing. Parsed again, the cut
   * writes each clone of a start tag as a start tag of its own, yet it counts once: a link left open
   * before 4,000 paragraphs, cut off before 4,000 more links, had its 4,001 copies counted, paid for
   * by the links cut off.
   */
  cutTo(lists: ReadonlySet<AttributeList>): void {
    this.#counted = survivingRewriteGrowth(lists, this.#surviving).surviving;
    this.#walked = undefined;
  }

  /**
   * `stable` is the stable form of the output, or of its cut, before any later cut. The cap on how
   * often a URL counts holds while no re-parse drops a start tag with one: one dropped would pay for
   * clones of another with it. No input was found that does (7.3 M fuzzed), so it is checked, not
   * assumed: a URL fewer times in the stable form here, or an rp a re-parse drops
   * ({@link reparseDropped}).
   */
  checkStable(stable: Fragment): void {
    if (dropsFrom(this.#found(stable), this.#counted)) this.#dropped = true;
  }

  /** A re-parse round dropped something (an rp with text), which may have held a counted URL. */
  reparseDropped(): void {
    this.#dropped = true;
  }

  /**
   * W: what the hook added to the URLs the output kept, `tree`, writes. A cut, or a re-parse, can drop
   * URLs of the first parse's tree (the cut: all of them past maxOutputChars), which then paid for the
   * output limit all the same: the output kept is bounded by this instead.
   */
  keptBy(tree: Fragment): number {
    return keptFrom(this.#found(tree), this.#dropped);
  }

  /** What of `#counted` `tree` has, each URL at most as often as counted there (walked once per tree). */
  #found(tree: Fragment): ReadonlyMap<string, RewrittenAttribute> {
    if (this.#walked?.tree !== tree) {
      this.#walked = { tree, found: survivingRewriteGrowth(attributeLists(tree), this.#counted).surviving };
    }
    return this.#walked.found;
  }
}
