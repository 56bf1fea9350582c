/**
 * The verification pass. sanitize-html tokenizes with htmlparser2, which is not the HTML
 * standard's tree builder; browsers are. So the output is parsed again with parse5 (a WHATWG
 * conformant parser, the tree a browser builds), rt and rp outside ruby are unwrapped (the two
 * parsers nest them differently), rp holding more than brackets is dropped (a browser hides rp),
 * bidi controls left open are closed, every node is checked against the policy, the
 * tree is written back canonically and that string must parse to the same tree again. Anything
 * else fails closed.
 */
import { type DefaultTreeAdapterTypes, defaultTreeAdapter, html as htmlSpec, parseFragment } from 'parse5';
import { filterAttributes, type Reporter } from './attributes.ts';
import { balanceBidiControls } from './bidi-controls.ts';
import { FORBIDDEN_ELEMENTS } from './hard-rules.ts';
import type { Policy } from './policy.ts';
import { type Serialized, serializeChildren } from './serialize.ts';

type ParentNode = DefaultTreeAdapterTypes.ParentNode;
type Fragment = DefaultTreeAdapterTypes.DocumentFragment;

// parse5 parses a context-less fragment as the content of a <template>, where stray table parts
// (<td>, <tr>) survive; under a <div>, as in a browser's innerHTML, they do not.
const FLOW_CONTAINER = defaultTreeAdapter.createElement('div', htmlSpec.NS.HTML, []);

/** Parses `html` as the children of a `<div>`: the tree a browser builds for `div.innerHTML = html`. */
export function parseInFlowContainer(html: string): Fragment {
  return parseFragment(FLOW_CONTAINER, html, {});
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

function reparseStable(html: string, policy: Policy): string | undefined {
  const again = parseInFlowContainer(html);
  const violation = findViolation(again, policy);
  if (violation !== undefined) return `re-parse: ${violation}`;
  return serializeChildren(again).html === html ? undefined : 're-parse changed the tree (mutation)';
}

/**
 * Verifies sanitize-html's output and returns the canonical, possibly truncated, HTML. `report`
 * hears what this pass removes itself (rp with hidden text).
 */
export function verifyOutput(candidate: string, policy: Policy, report?: Reporter): Verified {
  const tree = parseInFlowContainer(candidate);
  unwrapStrayRubyText(tree);
  dropHiddenRubyText(tree, report);
  const violation = findViolation(tree, policy);
  if (violation !== undefined) return { ok: false, reason: violation };
  // After the depth check: the walk recurses once per level.
  balanceBidiControls(tree, 'close');
  const out: Serialized = serializeChildren(tree, policy.maxOutputChars, policy.truncationMarker);
  if (!out.truncated) {
    // When the canonical form equals the string just parsed, parsing it again yields this very tree.
    if (out.html !== candidate) {
      const unstable = reparseStable(out.html, policy);
      if (unstable !== undefined) return { ok: false, reason: unstable };
    }
    return { ok: true, html: out.html, truncated: false, tree };
  }
  // A cut can leave, say, a <pre> whose leading newline the parser swallows: canonicalize the cut
  // output once more (it can only get shorter) and require that form to be stable.
  const cut = parseInFlowContainer(out.html);
  const cutViolation = findViolation(cut, policy);
  if (cutViolation !== undefined) return { ok: false, reason: `truncated output: ${cutViolation}` };
  // The cut may have dropped the closers added above; the output must not grow, so the openers go.
  balanceBidiControls(cut, 'strip');
  const html = serializeChildren(cut).html;
  if (html !== out.html) {
    const unstable = reparseStable(html, policy);
    if (unstable !== undefined) return { ok: false, reason: unstable };
  }
  return { ok: true, html, truncated: true, tree: cut };
}
