/**
 * The amplification budget of the verification pass (verify.ts): from one sanitize call's
 * {@link AmplificationBasis}, how many elements and tag and attribute characters each parse may
 * create and how many characters any serialization may write, with the reason a parse or an output
 * that goes past one of them fails closed. The parser cloning open formatting elements can build a
 * tree far larger than its input; these limits keep that work proportional to the input.
 */

/**
 * Every allowance of the verification pass is relative to one basis, fixed for the whole call: the
 * same for the first parse, every re-parse, every cut and the strict pass, so a re-parse of an
 * amplified serialization (or the strict pass over it) gets no larger allowance than the first parse.
 * The basis is the length of the caller's input or of what sanitize-html wrote for it (the
 * candidate `verifyOutput` in verify.ts checks), whichever is shorter ({@link AmplificationBasis}). sanitize-html's output alone is not a measure the
 * input's author cannot inflate: a raw `"` in a single-quoted attribute is 1 character of input and
 * 6 once written (`&quot;`), a raw `&` in text 5 (`&amp;`), yet each is 1 character in the tree, and
 * every clone of it is written 6 times over again; 4 KB of `<b title='…raw quotes…'>` left open before
 * 32 `<p>x` were 24 KB sanitized and were kept as 800 KB. Taking the shorter of the two keeps what
 * sanitize-html removes out of the basis and keeps what it adds (escapes, end tags, the policy's
 * `rel`) from growing it. What the caller's `rewriteUrl` adds to the URLs that are written is real
 * output the input's author does not choose: without it a link-dense email whose 12,000 links a
 * click-tracking rewrite lengthens by 250 characters each (3.7 M attribute characters from 626 KB)
 * failed closed. It is added once, not multiplied: as parsed to the attribute limit, as written to
 * the output limit (a `&` the hook percent-encodes is 2 characters more parsed and 2 fewer written;
 * the larger of the two for both limits gave the output limit 4 characters per `&` no URL wrote). The
 * basis is min(I, S − R), R what the hook added to the URLs in S, as written (S holds it once), so
 * clones of a rewritten link copy what it adds from the basis's allowance. Counted as input and
 * multiplied, it let any URL, however short, buy 8 to 32 times what the hook adds: 256
 * `<a href=x></a>` given 250 characters each paid for 5.8 KB of quote-laden clones kept as 1.35 MB.
 * Only URLs that survive the first parse are added after it (`verifyOutput` in verify.ts): 4,096 such links
 * in an rp with text, which normalizing drops, paid for 60 KB of clones kept as 2.4 MB. The output
 * kept adds only the URLs it writes: the same links after those clones, cut off by maxOutputChars,
 * paid for the 2.4 MB of clones before them. It is not in the element basis (a rewrite adds
 * characters, not elements).
 *
 * What grows the tree past the basis is the parser cloning open formatting elements, with their
 * attributes, into every new paragraph, list item or cell ("reconstruct the active formatting
 * elements"): `<p>`, seven `<b title="…50 characters…">` left open and `<p>x` repeated build eight
 * elements and 400 characters of attributes for every four characters of input.
 *
 * Each parse may create one element per {@link CHARS_PER_ELEMENT} characters of the sanitized input
 * or of {@link ELEMENT_INPUT_GROWTH} times the input, whichever is shorter, plus {@link ELEMENT_SLACK}.
 * Written elements take 6 sanitized characters at least (`<br />`, `<b></b>`), but the parser adds
 * elements no tag wrote: a colgroup, tbody and tr around each `<col /><td></td>` (5 elements in 16
 * sanitized characters, from `<col><td></td>`, 14 of input, or `<col><td>`, 9), an empty p for a
 * stray `</p>` (`<p><hr /></p>`: 3 in 13). Unclosed elements double the input (`<p>x` is
 * `<p>x</p>`), so twice the input keeps these; escaping, which can make the sanitized input 6 times
 * the input, is cut off.
 */
const CHARS_PER_ELEMENT = 3;
const ELEMENT_INPUT_GROWTH = 2;
const ELEMENT_SLACK = 4096;
/**
 * Each parse may create elements whose tag names, attribute names and attribute values total
 * {@link ATTRIBUTE_GROWTH} times the basis, plus the slack. Without clones the total is below the
 * basis's (values are in the input and in the sanitized input, the latter escaped; the rel, target and
 * open the policy adds are a few characters per element); clones copy attributes, so this bounds the
 * size of the tree, and of its serialization, where the element count alone does not.
 *
 * The slack ({@link slackFor}) is {@link SLACK_GROWTH} times the basis plus {@link SLACK_FLOOR},
 * {@link SLACK_CEILING} at most, so the output is at most min(8 × it + 1 MiB, 32 × it + 64 KiB), plus
 * what the caller's rewriteUrl added. It
 * lets a small document grow as browsers grow it: an email's `<p><a href="…250 characters…">` left
 * open before 250 `<p>&nbsp;</p>` copies the link, with the rel and target the policy adds, into each
 * paragraph: 2.3 KB sanitized (3.5 KB of input) that is 75 KB of attributes and 81 KB written out (a
 * slack of 64 KiB alone failed it closed, by 200 characters). A flat 1 MiB let 4 KB of comment be
 * written out as 1 MB. Each spacer of that email is 8 sanitized characters that clone about 300
 * attribute characters; with 24 the shape is kept up to 993 spacers (13 KB, 320 KB written out), four
 * times the email seen, while the package's ordinary documents (the benign corpus, the real-looking
 * email included) stay at 1.13 × their sanitized input at most (1.65 × the basis: links and headings
 * get `rel` and `user-content-` prefixes). From 40 KiB of basis on, the slack is the ceiling:
 * 4 × it + 1 MiB, 8 × it + 1 MiB.
 */
const ATTRIBUTE_GROWTH = 4;
const SLACK_GROWTH = 24;
const SLACK_FLOOR = 64 * 1024;
const SLACK_CEILING = 1024 * 1024;
/**
 * No serialization is written past {@link MAX_OUTPUT_GROWTH} times the basis plus the same slack,
 * whatever `maxOutputChars` says (that limit only decides where the output is cut). Ordinary
 * documents stay near 1× (the policy's own additions, `<a>` to `<a rel="nofollow ugc">`, are a few
 * characters per element); escaping makes an attribute character up to 6 written ones (`&quot;`),
 * which is what this limit catches where the attribute limit does not.
 */
const MAX_OUTPUT_GROWTH = 8;
/** Below V8's longest string (2²⁹ − 24 UTF-16 units), whatever the limits. */
const MAX_SERIALIZED_CHARS = 2 ** 28;

/** The slack added to the attribute and output limits: scales with the basis, up to a ceiling. */
function slackFor(basis: number): number {
  return Math.min(SLACK_CEILING, SLACK_GROWTH * basis + SLACK_FLOOR);
}

const BASIS_TEXT = "the input (or its sanitized form less rewriteUrl's additions, if shorter)";
const SLACK_TEXT = `min(1 MiB, ${SLACK_GROWTH} × it + 64 KiB) + what rewriteUrl added`;
/** The failure reason when a parse would create more elements than the input allows. */
export const ELEMENT_AMPLIFICATION_FAILURE = `more elements than 1 per ${CHARS_PER_ELEMENT} characters of the sanitized input (of ${ELEMENT_INPUT_GROWTH} × the input, if shorter) + ${ELEMENT_SLACK} (parser amplification limit)`;
/** The failure reason when a parse would create more tag and attribute characters than the input allows. */
export const ATTRIBUTE_AMPLIFICATION_FAILURE = `more tag and attribute characters than ${ATTRIBUTE_GROWTH} × ${BASIS_TEXT} + ${SLACK_TEXT} (parser amplification limit)`;
/** The failure reason when output would grow past the amplification ceiling. */
export const AMPLIFICATION_FAILURE = `output larger than ${MAX_OUTPUT_GROWTH} × ${BASIS_TEXT} + ${SLACK_TEXT} (parser amplification limit)`;

/** What the amplification allowances of one sanitize call are relative to, in UTF-16 units. */
export interface AmplificationBasis {
  /** The length of the caller's input. */
  readonly inputLength: number;
  /** The length of what sanitize-html wrote for it (in the first pass: the strict pass keeps this basis). */
  readonly sanitizedLength: number;
  /**
   * What the caller's `rewriteUrl` added to the URLs kept (once per URL written, not per clone), as
   * parsed: real output the input's author does not choose, added once to the attribute limit. In
   * the first parse, the URLs sanitize-html kept; from then on, those that survive that parse
   * (`verifyOutput`).
   */
  readonly parsedRewriteGrowth: number;
  /** The same as written (escaped, `&` as `&amp;`): added once to the output limit. */
  readonly writtenRewriteGrowth: number;
  /**
   * What the rewrite added, as written, to every URL in sanitize-html's output (in
   * `sanitizedLength` once, whether or not it survives the parse): out of the basis.
   */
  readonly sanitizedRewriteGrowth: number;
}

/** What one verification may do, from its {@link AmplificationBasis}. */
export interface Budget {
  readonly basis: AmplificationBasis;
  /** Elements each parse may create. */
  readonly elements: number;
  /** Characters of tag names, attribute names and values each parse may create. */
  readonly attributeChars: number;
  /** Characters any serialization may write. */
  readonly outputChars: number;
}

/** The limits one verification holds every parse and serialization to, from its basis. */
export function budgetFor(amplification: AmplificationBasis): Budget {
  const { inputLength, sanitizedLength, parsedRewriteGrowth, writtenRewriteGrowth, sanitizedRewriteGrowth } =
    amplification;
  // What the rewrite added is in the sanitized form once, as written: out of the basis, added once to
  // the limits (as parsed to the attribute limit, as written to the output limit).
  const basis = Math.max(0, Math.min(inputLength, sanitizedLength - sanitizedRewriteGrowth));
  const elementBasis = Math.min(sanitizedLength, ELEMENT_INPUT_GROWTH * inputLength);
  return {
    basis: amplification,
    elements: Math.floor(elementBasis / CHARS_PER_ELEMENT) + ELEMENT_SLACK,
    attributeChars: ATTRIBUTE_GROWTH * basis + slackFor(basis) + parsedRewriteGrowth,
    outputChars: Math.min(MAX_OUTPUT_GROWTH * basis + slackFor(basis) + writtenRewriteGrowth, MAX_SERIALIZED_CHARS),
  };
}
