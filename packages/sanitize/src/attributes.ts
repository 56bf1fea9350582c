/**
 * Attribute filtering, shared by the sanitizing pass (inside sanitize-html's tag hook) and the
 * verification pass (on the parse5 tree of the output). In `verify` mode the output must be a
 * fixpoint: the verifier compares what this returns with what the tree holds.
 */
import { filterStyle } from './css-policy.ts';
import { isForbiddenAttribute } from './hard-rules.ts';
import { type AttributeRule, type Policy, USER_REL_TOKENS } from './policy.ts';
import { reportedAttribute, reportedCssProperty } from './removal-names.ts';
import {
  addRewriteGrowth,
  checkUrl,
  ID_PREFIX,
  parseSrcset,
  type RewriteGrowth,
  type SrcsetCandidate,
  serializeSrcset,
  type UrlKind,
} from './url-policy.ts';

/** One thing the sanitizer removed, for logs. Never holds a value from the input, only names. */
export interface Removal {
  readonly kind: 'element' | 'attribute' | 'url' | 'css' | 'comment' | 'limit' | 'verification';
  /**
   * Element, attribute (`tag[attribute]`) or CSS property name, lower case, from the package's
   * tables only: any other name is reported as `(unknown)` (`on*`, `data-*` for such attributes).
   */
  readonly name: string;
  readonly reason: string;
}

/** Receives removals; `undefined` in verify mode. */
export type Reporter = ((removal: Removal) => void) | undefined;

const ID_VALUE = /^[A-Za-z0-9_.:-]{1,64}$/;
const CLASS_TOKEN = /^[A-Za-z0-9_-]{1,64}$/;
const URL_KINDS: Readonly<Record<string, UrlKind>> = { 'url-link': 'link', 'url-image': 'image', 'url-cite': 'cite' };

/** Looks up the rule for `name` on `tag`, or `undefined` when the attribute is not allowed there. */
export function ruleFor(policy: Policy, tag: string, name: string): AttributeRule | undefined {
  if (isForbiddenAttribute(name)) return undefined;
  if (tag === 'a' && (name === 'rel' || name === 'target')) return name;
  // Every details is opened (see filterAttributes), whatever the preset's attribute table says.
  if (tag === 'details' && name === 'open') return 'boolean';
  if (name === 'class') return policy.classes.has(tag) || policy.classes.has('*') ? 'class' : undefined;
  const rule = policy.attributes.get(tag)?.get(name) ?? policy.attributes.get('*')?.get(name);
  if (rule === undefined) return undefined;
  // URL rules are tied to the element that gives them meaning.
  if (rule === 'url-link' && tag !== 'a') return undefined;
  if ((rule === 'url-image' || rule === 'srcset') && tag !== 'img') return undefined;
  return rule;
}

function filterValue(
  policy: Policy,
  tag: string,
  name: string,
  rule: AttributeRule,
  value: string,
  mode: 'sanitize' | 'verify',
  report: Reporter,
  growth: RewriteGrowth,
): string | undefined {
  if (rule instanceof RegExp) return rule.test(value) ? value : undefined;
  switch (rule) {
    case 'text':
      return value;
    case 'boolean':
      return value === '' || value.toLowerCase() === name ? '' : undefined;
    case 'url-link':
    case 'url-image':
    case 'url-cite': {
      const verdict = checkUrl(
        value,
        { tag, attribute: name, kind: URL_KINDS[rule] as UrlKind },
        policy.urls,
        mode,
        growth,
      );
      if (verdict.ok) return verdict.value;
      report?.({ kind: 'url', name: reportedAttribute(tag, name, policy), reason: verdict.reason });
      return undefined;
    }
    case 'srcset': {
      const kept: SrcsetCandidate[] = [];
      for (const candidate of parseSrcset(value)) {
        if (candidate === undefined) {
          report?.({ kind: 'url', name: reportedAttribute(tag, name, policy), reason: 'malformed srcset descriptor' });
          if (mode === 'verify') return undefined;
          continue;
        }
        const grown: RewriteGrowth = { parsed: 0, written: 0 };
        const verdict = checkUrl(candidate.url, { tag, attribute: name, kind: 'image' }, policy.urls, mode, grown);
        if (verdict.ok && !/[\s,]/.test(verdict.value.slice(-1)) && !/\s/.test(verdict.value)) {
          kept.push({ url: verdict.value, descriptor: candidate.descriptor });
          addRewriteGrowth(growth, grown);
        } else {
          report?.({
            kind: 'url',
            name: reportedAttribute(tag, name, policy),
            reason: verdict.ok ? 'srcset URL not representable' : verdict.reason,
          });
        }
      }
      return kept.length > 0 ? serializeSrcset(kept) : undefined;
    }
    case 'style': {
      const css = filterStyle(
        value,
        tag,
        policy.cssProperties,
        policy.urls,
        mode,
        (r) => report?.({ kind: 'css', name: reportedCssProperty(r.name), reason: r.reason }),
        growth,
      );
      return css === '' ? undefined : css;
    }
    case 'id': {
      const bare = value.startsWith(ID_PREFIX) ? value.slice(ID_PREFIX.length) : value;
      return ID_VALUE.test(bare) ? ID_PREFIX + bare : undefined;
    }
    case 'class': {
      const patterns = [policy.classes.get(tag), policy.classes.get('*')].filter((p) => p !== undefined);
      const kept = value.split(/[\t\n\f\r ]+/).filter((c) => CLASS_TOKEN.test(c) && patterns.some((p) => p.test(c)));
      return kept.length > 0 ? [...new Set(kept)].join(' ') : undefined;
    }
    case 'target':
      return value.toLowerCase() === '_blank' ? '_blank' : undefined;
    case 'rel':
      // Computed in filterAttributes from the element's other attributes.
      return value;
  }
}

/** True for the rules whose values go through checkUrl (and so the rewriteUrl hook). */
function holdsUrls(rule: AttributeRule): boolean {
  return rule === 'url-link' || rule === 'url-image' || rule === 'url-cite' || rule === 'srcset' || rule === 'style';
}

function isAbsoluteWebUrl(href: string | undefined): boolean {
  return href !== undefined && /^https?:/i.test(href);
}

/**
 * Returns the attributes to keep on `tag`, in input order, with `rel` and `target` computed for
 * links. Everything dropped is reported (sanitize mode). What the rewriteUrl hook added to the URLs
 * of kept attributes is added to `growth` (URLs rewritten and then dropped do not count), and
 * recorded per attribute in `growth.attributes` when it is given.
 */
export function filterAttributes(
  policy: Policy,
  tag: string,
  attribs: Readonly<Record<string, string>>,
  mode: 'sanitize' | 'verify',
  report: Reporter,
  growth?: RewriteGrowth,
): Record<string, string> {
  const out: Record<string, string> = {};
  let count = 0;
  for (const name of Object.keys(attribs)) {
    const value = attribs[name] as string;
    const rule = ruleFor(policy, tag, name);
    if (rule === undefined) {
      report?.({
        kind: 'attribute',
        name: reportedAttribute(tag, name, policy),
        reason: isForbiddenAttribute(name) ? 'forbidden by a hard rule' : 'not allowed',
      });
      continue;
    }
    // The open every details gets (below) is the sanitizer's, not the input's: it takes no slot
    // under maxAttributesPerElement, whether the input wrote it or not, and it is never dropped.
    if (tag === 'details' && name === 'open') {
      out.open = '';
      continue;
    }
    if (count >= policy.maxAttributesPerElement) {
      report?.({ kind: 'limit', name: reportedAttribute(tag, name, policy), reason: 'too many attributes' });
      continue;
    }
    if (value.length > policy.maxAttributeLength && rule !== 'url-image') {
      report?.({ kind: 'limit', name: reportedAttribute(tag, name, policy), reason: 'attribute value too long' });
      continue;
    }
    const grown: RewriteGrowth = { parsed: 0, written: 0 };
    const filtered = filterValue(policy, tag, name, rule, value, mode, report, grown);
    if (filtered === undefined) {
      if (typeof rule !== 'string' || !rule.startsWith('url') || rule === 'srcset') {
        report?.({ kind: 'attribute', name: reportedAttribute(tag, name, policy), reason: 'value not allowed' });
      }
      continue;
    }
    // Normalizing can lengthen a value (`color:red` → `color: red`, `url("…")`, a rewriteUrl hook);
    // the verifier caps what is kept, so an overlong result goes alone rather than failing the document.
    if (filtered.length > policy.maxAttributeLength && rule !== 'url-image') {
      report?.({
        kind: 'limit',
        name: reportedAttribute(tag, name, policy),
        reason: 'attribute value too long once normalized',
      });
      continue;
    }
    out[name] = filtered;
    count++;
    // Per attribute that can hold a URL, so the verification pass can count only what survives its parse.
    if (growth !== undefined) addRewriteGrowth(growth, grown, holdsUrls(rule) ? name : undefined, filtered);
  }
  if (tag === 'a') applyLinkRules(policy, out);
  // A closed details shows only its summary, while filters and toPlainText() read all of its text.
  if (tag === 'details') out.open = '';
  return out;
}

function applyLinkRules(policy: Policy, attrs: Record<string, string>): void {
  const href = attrs.href;
  // A same-page #fragment link opened in a new tab would load the whole page again.
  if (href !== undefined && !href.startsWith('#')) {
    const external = isAbsoluteWebUrl(href);
    if (policy.targetBlank === 'all' || (policy.targetBlank === 'external' && external)) attrs.target = '_blank';
  }
  const tokens: string[] = [];
  for (const t of (attrs.rel ?? '').toLowerCase().split(/[\t\n\f\r ]+/)) {
    if (USER_REL_TOKENS.has(t) && !tokens.includes(t)) tokens.push(t);
  }
  if (href !== undefined || attrs.target !== undefined) {
    for (const t of policy.linkRel) if (!tokens.includes(t)) tokens.push(t);
  }
  if (attrs.target !== undefined) {
    for (const t of ['noopener', 'noreferrer']) if (!tokens.includes(t)) tokens.push(t);
  }
  if (tokens.length > 0) attrs.rel = tokens.join(' ');
  else delete attrs.rel;
}
