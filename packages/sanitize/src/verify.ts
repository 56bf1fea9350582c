/**
 * The verification pass. sanitize-html tokenizes with htmlparser2, which is not the HTML
 * standard's tree builder; browsers are. So the output is parsed again with parse5 (a WHATWG
 * conformant parser, the tree a browser builds), rt and rp outside ruby are unwrapped (the two
 * parsers nest them differently), rp holding more than brackets is dropped (a browser hides rp),
 * bidi controls left open are closed, every node is checked against the policy, the
 * tree is written back canonically and that string must parse to the same tree again; where the
 * parser built a tree its serialization cannot give back (foster parenting), the re-parsed tree is
 * checked the same way and kept, for a few rounds at most. Anything else fails closed.
 */
import { type DefaultTreeAdapterTypes, defaultTreeAdapter, html as htmlSpec, parseFragment } from 'parse5';
import {
  AMPLIFICATION_FAILURE,
  type AmplificationBasis,
  ATTRIBUTE_AMPLIFICATION_FAILURE,
  type Budget,
  budgetFor,
  ELEMENT_AMPLIFICATION_FAILURE,
} from './amplification-budget.ts';
import { filterAttributes, type Reporter } from './attributes.ts';
import { balanceBidiControls } from './bidi-controls.ts';
import { FORBIDDEN_ELEMENTS } from './hard-rules.ts';
import type { Policy } from './policy.ts';
import { type AttributeList, RewriteTally } from './rewrite-growth.ts';
import { type Serialized, serializeChildren, serializeWithin } from './serialize.ts';
import type { RewrittenAttribute } from './url-policy.ts';

type ParentNode = DefaultTreeAdapterTypes.ParentNode;
type Fragment = DefaultTreeAdapterTypes.DocumentFragment;

// parse5 parses a context-less fragment as the content of a <template>, where stray table parts
// (<td>, <tr>) survive; under a <div>, as in a browser's innerHTML, they do not.
const FLOW_CONTAINER = defaultTreeAdapter.createElement('div', htmlSpec.NS.HTML, []);

/** Parses `html` as the children of a `<div>`: the tree a browser builds for `div.innerHTML = html`. */
export function parseInFlowContainer(html: string): Fragment {
  return parseFragment(FLOW_CONTAINER, html, {});
}

/** What the parses of one verification created; for tests that the work stays bounded. */
export interface ParseWork extends AmplificationBasis {
  elements: number;
  attributeChars: number;
}

let parseWorkMeter: ((work: Readonly<ParseWork>) => void) | undefined;

/** Test hook: `meter` hears what each parse created, abandoned ones included. Internal, not exported by the package. */
export function meterParseWork(meter: ((work: Readonly<ParseWork>) => void) | undefined): void {
  parseWorkMeter = meter;
}

const OVER_BUDGET: unique symbol = Symbol('parse over budget');

/** What {@link parseBounded} built, and the tag and attribute characters it created doing so. */
interface Bounded {
  readonly tree: Fragment;
  readonly attributeChars: number;
}

/** {@link parseInFlowContainer}, abandoned (with the reason) once the parse creates more than `budget` allows. */
function parseBounded(html: string, budget: Budget): Bounded | { readonly reason: string } {
  const work: ParseWork = { ...budget.basis, elements: 0, attributeChars: 0 };
  let reason = '';
  const treeAdapter: typeof defaultTreeAdapter = {
    ...defaultTreeAdapter,
    createElement(tagName, namespaceURI, attrs) {
      work.elements++;
      work.attributeChars += tagName.length;
      for (const a of attrs) work.attributeChars += a.name.length + a.value.length;
      if (work.elements > budget.elements) reason = ELEMENT_AMPLIFICATION_FAILURE;
      else if (work.attributeChars > budget.attributeChars) reason = ATTRIBUTE_AMPLIFICATION_FAILURE;
      if (reason !== '') throw OVER_BUDGET;
      return defaultTreeAdapter.createElement(tagName, namespaceURI, attrs);
    },
  };
  try {
    return { tree: parseFragment(FLOW_CONTAINER, html, { treeAdapter }), attributeChars: work.attributeChars };
  } catch (error) {
    if (error === OVER_BUDGET) return { reason };
    throw error;
  } finally {
    parseWorkMeter?.(work);
  }
}

function isBuilt(parsed: Bounded | { readonly reason: string }): parsed is Bounded {
  return 'tree' in parsed;
}

/** The verified, canonical output. */
export type Verified =
  | { readonly ok: true; readonly html: string; readonly truncated: boolean; readonly tree: Fragment }
  | { readonly ok: false; readonly reason: string };

// rt and rp mean something only as children of a ruby (or rtc). Elsewhere the parsers disagree:
// htmlparser2 lets an rt or rp start tag close an rt or rp on top of its stack, a browser only
// with a <ruby> in scope. So `<rp><rt></rt></rp>` (left when sanitize-html drops a wrapper between
// them) would come back from the next pass as `<rp></rp><rt></rt>`. Unwrapped, their text stays.
const RUBY_TEXT: ReadonlySet<string> = new Set(['rt', 'rp']);
const RUBY_CONTAINERS: ReadonlySet<string> = new Set(['ruby', 'rtc']);

function isStrayRubyText(parent: ParentNode, node: DefaultTreeAdapterTypes.ChildNode): boolean {
  return (
    'tagName' in node && RUBY_TEXT.has(node.tagName) && !('tagName' in parent && RUBY_CONTAINERS.has(parent.tagName))
  );
}

/** Unwraps every rt and rp that is not a child of a ruby or rtc, keeping its content in place. */
function unwrapStrayRubyText(root: Fragment): void {
  // Parents in document pre-order; walked backwards, every element is rebuilt before its parent.
  const parents: ParentNode[] = [];
  const stack: ParentNode[] = [root];
  while (stack.length > 0) {
    const parent = stack.pop() as ParentNode;
    parents.push(parent);
    for (const node of parent.childNodes) if ('tagName' in node) stack.push(node);
  }
  for (let i = parents.length - 1; i >= 0; i--) {
    const parent = parents[i] as ParentNode;
    if (!parent.childNodes.some((node) => isStrayRubyText(parent, node))) continue;
    const children: DefaultTreeAdapterTypes.ChildNode[] = [];
    for (const node of parent.childNodes) {
      if (!isStrayRubyText(parent, node)) {
        children.push(node);
        continue;
      }
      for (const child of (node as DefaultTreeAdapterTypes.Element).childNodes) {
        child.parentNode = parent;
        children.push(child);
      }
    }
    parent.childNodes = children;
  }
}

// A browser never shows rp inside ruby (Chromium's UA style sheet: `rp { display: none }`); it is the
// fallback for browsers without ruby, "(" and ")" around the reading. Any other text in it would be
// read by filters and toPlainText() and never seen, so such an rp goes with its content.
const RUBY_FALLBACK = /^[\s\p{P}]*$/u;

/** The text of `node`'s descendants in document order; a loop, as the tree is not yet depth-checked. */
function textContent(node: ParentNode): string {
  let out = '';
  const stack: DefaultTreeAdapterTypes.ChildNode[] = [...node.childNodes].reverse();
  while (stack.length > 0) {
    const child = stack.pop() as DefaultTreeAdapterTypes.ChildNode;
    if (child.nodeName === '#text') out += (child as DefaultTreeAdapterTypes.TextNode).value;
    else if ('childNodes' in child) {
      for (let i = child.childNodes.length - 1; i >= 0; i--) {
        stack.push(child.childNodes[i] as DefaultTreeAdapterTypes.ChildNode);
      }
    }
  }
  return out;
}

function isHiddenRubyText(node: DefaultTreeAdapterTypes.ChildNode): boolean {
  return 'tagName' in node && node.tagName === 'rp' && !RUBY_FALLBACK.test(textContent(node));
}

/** Drops every rp (left only in ruby or rtc by now) whose text is more than brackets and blanks. */
function dropHiddenRubyText(root: Fragment, report: Reporter): void {
  const stack: ParentNode[] = [root];
  while (stack.length > 0) {
    const parent = stack.pop() as ParentNode;
    if (parent.childNodes.some(isHiddenRubyText)) {
      parent.childNodes = parent.childNodes.filter((node) => {
        if (!isHiddenRubyText(node)) return true;
        report?.({ kind: 'element', name: 'rp', reason: 'rp holds text a browser hides (only brackets are kept)' });
        return false;
      });
    }
    for (const node of parent.childNodes) if ('tagName' in node) stack.push(node);
  }
}

/** Depth the verifier tolerates: the parser may add implied elements (tbody) above sanitize-html's count. */
export function maxTreeDepth(policy: Policy): number {
  return policy.nestingLimit * 2 + 8;
}

/** Checks every node of `root`; returns the first violation, or `undefined`. */
export function findViolation(root: ParentNode, policy: Policy): string | undefined {
  const limit = maxTreeDepth(policy);
  const stack: Array<[ParentNode, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [parent, depth] = stack.pop() as [ParentNode, number];
    for (const node of parent.childNodes) {
      if (node.nodeName === '#text') continue;
      if (node.nodeName === '#comment') return 'comment in output';
      if (!('tagName' in node)) return `unexpected ${node.nodeName} node`;
      const tag = node.tagName;
      if (node.namespaceURI !== htmlSpec.NS.HTML) return `foreign-content element <${tag}>`;
      if (FORBIDDEN_ELEMENTS.has(tag)) return `forbidden element <${tag}>`;
      if (!policy.tags.has(tag)) return `element <${tag}> outside the allowlist`;
      if (isStrayRubyText(parent, node)) return `<${tag}> outside <ruby>`;
      if (isHiddenRubyText(node)) return '<rp> with text other than brackets';
      if (depth + 1 > limit) return 'nesting deeper than the limit';
      const attribs: Record<string, string> = {};
      for (const a of node.attrs) {
        if (a.namespace !== undefined || a.prefix !== undefined) return `namespaced attribute on <${tag}>`;
        attribs[a.name] = a.value;
      }
      const kept = filterAttributes(policy, tag, attribs, 'verify', undefined);
      const keptNames = Object.keys(kept);
      if (keptNames.length !== node.attrs.length) return `attribute outside the policy on <${tag}>`;
      for (const name of keptNames) {
        if (kept[name] !== attribs[name]) return `attribute ${name} on <${tag}> is not a policy fixpoint`;
      }
      stack.push([node, depth + 1]);
    }
  }
  return undefined;
}

/**
 * How many times one stabilization re-parses output to reach a form that parses to itself (the
 * first parse of sanitize-html's output not counted; a cut output is stabilized again). The parser can build
 * trees its own serialization does not give back: table content outside cells is moved before the
 * table (foster parenting), into whatever holds the table, so `<h1><table><h1>x` puts an h1 inside
 * an h1, and written out, the inner `<h1>` start tag closes the outer one. Re-parsing that output
 * is what the browser will do with it; its tree serializes to itself after one more parse (two at
 * most were seen for any generated input), and each round is checked against the policy again.
 */
const MAX_REPARSE_ROUNDS = 4;

/** The policy normalizations and checks every tree of the output goes through; the first violation, if any. */
function normalize(tree: Fragment, policy: Policy, report: Reporter, bidi: 'close' | 'strip'): string | undefined {
  unwrapStrayRubyText(tree);
  dropHiddenRubyText(tree, report);
  const violation = findViolation(tree, policy);
  // After the depth check: the walk recurses once per level.
  if (violation === undefined) balanceBidiControls(tree, bidi);
  return violation;
}

/**
 * How many times a cut is cut again: the stable form of a cut can grow past `maxOutputChars` (the
 * parser clones formatting elements the first parse left open around foster-parented content), and
 * that stable tree is cut and stabilized again. The second round is what the adoption-agency cases of
 * the tests need (one round fails them); a third was never needed, and is kept as margin.
 */
const MAX_CUT_ROUNDS = 3;

type Stable =
  | { readonly ok: true; readonly html: string; readonly tree: Fragment }
  | { readonly ok: false; readonly reason: string };

/**
 * Parses `html` and normalizes it again until the canonical form is the string that was parsed
 * (then a browser parsing the output builds exactly the returned, verified tree). `html` is
 * the serialization of an already normalized tree, so a string that parses to itself ends the loop.
 * No parse creates more, and no serialization writes more, than `budget` allows.
 */
function stabilize(
  html: string,
  policy: Policy,
  report: Reporter,
  bidi: 'close' | 'strip',
  prefix: string,
  budget: Budget,
): Stable {
  let source = html;
  for (let round = 0; round < MAX_REPARSE_ROUNDS; round++) {
    const parsed = parseBounded(source, budget);
    if (!isBuilt(parsed)) return { ok: false, reason: parsed.reason };
    const { tree } = parsed;
    const violation = normalize(tree, policy, report, bidi);
    if (violation !== undefined) return { ok: false, reason: `${prefix}${violation}` };
    const again = serializeWithin(tree, budget.outputChars);
    if (again === undefined) return { ok: false, reason: AMPLIFICATION_FAILURE };
    if (again === source) return { ok: true, html: source, tree };
    source = again;
  }
  return { ok: false, reason: 're-parse changed the tree (mutation)' };
}

/**
 * Verifies sanitize-html's output and returns the canonical, possibly truncated, HTML. `report`
 * hears what this pass removes itself (rp with hidden text). The amplification allowances are
 * relative to `basis`: the caller's input and the candidate sanitize-html wrote for it (the strict
 * pass, which must give back the verified output, passes the first pass's basis). Given what
 * `rewriteUrl` added to each kept attribute (`rewritten`), the first parse is bounded by the basis
 * as given, and everything after it, that parse's tag and attribute characters included, by the
 * basis counting only the URLs that survive into its tree; that basis is returned for the strict pass.
 * The output kept, once cut or re-parsed into another tree, counts only the URLs that tree writes,
 * each at most as often as the first parse's tree has start tags with it that the output wrote.
 */
export function verifyOutput(
  candidate: string,
  policy: Policy,
  report: Reporter,
  given: AmplificationBasis,
  rewritten?: ReadonlyMap<string, RewrittenAttribute>,
): { verified: Verified; basis: AmplificationBasis } {
  let basis = given;
  let budget = budgetFor(basis);
  const parsed = parseBounded(candidate, budget);
  if (!isBuilt(parsed)) return { verified: { ok: false, reason: parsed.reason }, basis };
  const { tree } = parsed;
  const violation = normalize(tree, policy, report, 'close');
  if (violation !== undefined) return { verified: { ok: false, reason: violation }, basis };
  let tally: RewriteTally | undefined;
  if (rewritten !== undefined && rewritten.size > 0) {
    tally = new RewriteTally(tree, rewritten);
    basis = {
      ...basis,
      parsedRewriteGrowth: Math.min(basis.parsedRewriteGrowth, tally.parsed),
      writtenRewriteGrowth: Math.min(basis.writtenRewriteGrowth, tally.written),
    };
    budget = budgetFor(basis);
    if (parsed.attributeChars > budget.attributeChars) {
      return { verified: { ok: false, reason: ATTRIBUTE_AMPLIFICATION_FAILURE }, basis };
    }
  }
  const verified = verifyTree(candidate, tree, policy, report, budget, tally);
  if (!verified.ok || tally === undefined || verified.tree === tree) return { verified, basis };
  // The output kept, cut or re-parsed into another tree, is bounded by what the hook added to the URLs
  // it writes (W), not by all those of the first parse's tree. Later rounds of a cut only shrink it.
  const kept = tally.keptBy(verified.tree);
  const limit = budgetFor({ ...basis, writtenRewriteGrowth: Math.min(basis.writtenRewriteGrowth, kept) });
  if (verified.html.length > limit.outputChars)
    return { verified: { ok: false, reason: AMPLIFICATION_FAILURE }, basis };
  return { verified, basis };
}

/**
 * {@link verifyOutput} from the normalized first parse of `candidate` on. `tally`, when the caller's
 * `rewriteUrl` added to URLs of `tree`, hears the attribute lists of the elements of `tree` that a cut
 * of `tree` itself writes, the stable form of the output, or of that cut, before any later cut, and
 * whether a re-parse round drops an rp.
 */
function verifyTree(
  candidate: string,
  tree: Fragment,
  policy: Policy,
  report: Reporter,
  budget: Budget,
  tally: RewriteTally | undefined,
): Verified {
  // Every rp with hidden text from the input is gone from this tree, each reported once. Re-parsing
  // can form another (foster parenting moving text into an rp); every round would drop it again, so the
  // later rounds share one report.
  let reportedReparse = false;
  const reportOnce: Reporter = (removal) => {
    if (reportedReparse) return;
    reportedReparse = true;
    tally?.reparseDropped();
    report?.(removal);
  };
  // Cut first: only the cut is ever written out. maxOutputChars decides the cut only; output
  // past the amplification ceiling fails closed whatever it says.
  let out: Serialized;
  if (policy.maxOutputChars < budget.outputChars) {
    // Only the tally needs the elements a cut writes.
    const lists = tally && new Set<AttributeList>();
    out = serializeChildren(
      tree,
      policy.maxOutputChars,
      policy.truncationMarker,
      lists && ((element) => lists.add(element.attrs)),
    );
    if (out.truncated && tally && lists) tally.cutTo(lists);
  } else {
    const whole = serializeWithin(tree, budget.outputChars);
    if (whole === undefined) return { ok: false, reason: AMPLIFICATION_FAILURE };
    out = { html: whole, truncated: false };
  }
  if (out.truncated) return cutStable(out, policy, reportOnce, budget, tally);
  // When the canonical form equals the string just parsed, parsing it again yields this very tree.
  if (out.html === candidate) return { ok: true, html: out.html, truncated: false, tree };
  const stable = stabilize(out.html, policy, reportOnce, 'close', 're-parse: ', budget);
  if (!stable.ok) return stable;
  tally?.checkStable(stable.tree);
  if (stable.html.length <= policy.maxOutputChars) {
    return { ok: true, html: stable.html, truncated: false, tree: stable.tree };
  }
  // Re-parsing grew the output past the limit (formatting elements it reopens): cut that tree.
  return cutStable(
    serializeChildren(stable.tree, policy.maxOutputChars, policy.truncationMarker),
    policy,
    reportOnce,
    budget,
  );
}

/**
 * The stable form of `out`, the output cut to `maxOutputChars`. A cut of a tree that does not parse
 * back to itself can be re-parsed into something larger (the adoption agency clones the a, b or s
 * elements foster parenting left open): then that stable tree, which does parse to itself, is cut again.
 * `tally`, if given, hears the stable form of `out` itself.
 */
function cutStable(out: Serialized, policy: Policy, report: Reporter, budget: Budget, tally?: RewriteTally): Verified {
  let cut = out;
  let truncated = out.truncated;
  for (let round = 0; round < MAX_CUT_ROUNDS; round++) {
    // A cut can leave, say, a <pre> whose leading newline the parser swallows, and the closers the
    // bidi pass added may be gone while the output must not grow: the openers go instead.
    const stable = stabilize(cut.html, policy, report, 'strip', 'truncated output: ', budget);
    if (!stable.ok) return stable;
    if (round === 0) tally?.checkStable(stable.tree);
    if (stable.html.length <= policy.maxOutputChars) {
      return { ok: true, html: stable.html, truncated, tree: stable.tree };
    }
    cut = serializeChildren(stable.tree, policy.maxOutputChars, policy.truncationMarker);
    truncated ||= cut.truncated;
  }
  return { ok: false, reason: 'truncated output grew on re-parse' };
}
