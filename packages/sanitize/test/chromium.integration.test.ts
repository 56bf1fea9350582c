import { launchChromium, type TestChromium } from '@rampart/testkit';
import type { DefaultTreeAdapterTypes } from 'parse5';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSanitizer, type Sanitizer } from '../src/index.ts';
import { parseInFlowContainer } from '../src/verify.ts';
import { BENIGN_CORPUS } from './fixtures/benign-corpus.ts';
import { type BrowserFindings, ORIGIN, prepareContext, renderAll } from './fixtures/browser-harness.ts';
import { XSS_CORPUS } from './fixtures/xss-corpus.ts';

const PROXY = 'https://proxy.test/img?u=';
const sanitizers: Record<string, Sanitizer> = {
  ugc: createSanitizer({ preset: 'ugc' }),
  minimal: createSanitizer({ preset: 'minimal' }),
  email: createSanitizer({
    preset: 'email',
    allowedImageHosts: ['proxy.test'],
    rewriteUrl: (url, { kind }) =>
      kind === 'link' || kind === 'cite' || url.startsWith(PROXY) ? undefined : `${PROXY}${encodeURIComponent(url)}`,
  }),
  'ugc+extras': createSanitizer({
    preset: 'ugc',
    allowTags: ['section', 'article'],
    allowAttributes: { '*': ['class', 'data-x', 'style'] },
    allowClasses: { '*': ['*'] },
    allowCssProperties: ['color', 'background-image'],
    targetBlank: 'external',
  }),
};

let chromium: TestChromium;
let context: BrowserContext;
let page: Page;
const docs = new Map<number, string>();
const canary: string[] = [];

beforeAll(async () => {
  chromium = await launchChromium();
  context = await chromium.newContext();
  await prepareContext(context, docs, canary);
  page = await context.newPage();
  await page.goto(`${ORIGIN}/`);
});

afterAll(async () => {
  await chromium?.stop();
});

async function render(outputs: readonly string[]): Promise<BrowserFindings> {
  const hits: BrowserFindings['hits'] = [];
  const domViolations: string[] = [];
  const batch = 100;
  for (let offset = 0; offset < outputs.length; offset += batch) {
    const slice = outputs.slice(offset, offset + batch);
    for (const [i, html] of slice.entries()) docs.set(offset + i, html);
    const found = await renderAll(page, slice, offset);
    hits.push(...found.hits);
    domViolations.push(...found.domViolations);
  }
  docs.clear();
  const requests = [...canary];
  canary.length = 0;
  return { hits, canaryRequests: requests, domViolations };
}

describe('sanitized XSS corpus in real Chromium', () => {
  it('the harness notices unsanitized payloads (so a clean run means something)', async () => {
    const raw = [
      '<img src=x onerror=alert(1)>',
      '<a href="javascript:alert(2)">x</a>',
      '<img src="https://canary.test/x.png">',
      '<svg><a xlink:href="javascript:alert(3)"><text>x</text></a></svg>',
      '<div onmouseover="confirm(4)">x</div>',
    ];
    const found = await render(raw);
    const kinds = new Set(found.hits.map((h) => h.kind));
    expect(kinds.has('alert')).toBe(true);
    expect(kinds.has('confirm')).toBe(true);
    expect(kinds.has('javascript-navigation')).toBe(true);
    expect(found.canaryRequests.length).toBeGreaterThan(0);
    expect(found.domViolations.length).toBeGreaterThan(0);
  });

  it('the DOM scan flags dangerous URLs however they are written, and not relative links named after a scheme', async () => {
    const dangerous = [
      '<a href="javascript:alert(1)">x</a>',
      '<a href=" JaVaScRiPt:alert(1)">x</a>',
      '<a href="java&#9;script:alert(1)">x</a>',
      '<a href="javascript&#173;:alert(1)">x</a>',
      '<a href="vbscript:x">x</a>',
      '<a href="data:text/html,x">x</a>',
      '<a href="DATA:text/html,x">x</a>',
      '<img src="data:image/svg+xml,x">',
    ];
    const harmless = [
      '<a href="javascript-guide.html">x</a>',
      '<a href="vbscript_notes/">x</a>',
      '<a href="data-text.html">x</a>',
      '<a href="https://example.com/javascript:x">x</a>',
      '<img src="data:image/png;base64,AAAA">',
    ];
    const scanned = await page.evaluate(
      (list) => {
        const w = window as unknown as { __scan(root: Element): string[] };
        return list.map((html) => {
          const div = document.createElement('div');
          div.innerHTML = html;
          return w.__scan(div);
        });
      },
      [...dangerous, ...harmless],
    );
    expect(scanned.slice(0, dangerous.length).map((found) => found.some((v) => v.startsWith('dangerous URL')))).toEqual(
      dangerous.map(() => true),
    );
    expect(scanned.slice(dangerous.length)).toEqual(harmless.map(() => []));
  });

  for (const [name, sanitizer] of Object.entries(sanitizers)) {
    it(`runs nothing, navigates nowhere and requests no canary for ${XSS_CORPUS.length} vectors with ${name}`, async () => {
      const outputs = XSS_CORPUS.map((input) => sanitizer.sanitizeToString(input));
      // Many vectors sanitize to the same string; render each distinct output once.
      const unique = [...new Set(outputs)];
      const found = await render(unique);
      const explain = found.hits.map((h) => {
        const html = unique[Number(h.case.split(':')[1])];
        const input = XSS_CORPUS[outputs.indexOf(html as string)];
        return `${h.kind} in ${h.case}: ${JSON.stringify(input)} -> ${JSON.stringify(html)}`;
      });
      expect(explain).toEqual([]);
      expect(found.canaryRequests).toEqual([]);
      expect(found.domViolations).toEqual([]);
    });
  }

  it('renders the benign corpus without findings and keeps its structure in the browser', async () => {
    const s = sanitizers.ugc as Sanitizer;
    const outputs = BENIGN_CORPUS.filter((c) => c.preset === 'ugc').map((c) => s.sanitizeToString(c.input));
    const found = await render(outputs);
    expect(found.hits).toEqual([]);
    expect(found.domViolations).toEqual([]);
    // Chromium builds exactly the tree parse5 built when we verified: no parser differential.
    const inBrowser = await page.evaluate((list) => {
      const sig = (node: Node): string =>
        [...node.childNodes]
          .map((n) =>
            n.nodeType === 3
              ? `"${n.textContent}"`
              : n instanceof Element
                ? `<${n.namespaceURI === 'http://www.w3.org/1999/xhtml' ? '' : 'NS:'}${n.localName}${[...n.attributes].map((a) => ` ${a.name}=${a.value}`).join('')}>${sig(n)}</>`
                : `#${n.nodeType}`,
          )
          .join('');
      return list.map((html) => {
        const div = document.createElement('div');
        div.innerHTML = html;
        return sig(div);
      });
    }, outputs);
    expect(inBrowser).toEqual(outputs.map((html) => parse5Signature(html)));
  });
});

// Each vector hides or displaces the marker <b id="m"> (or paints over the text above it) with CSS
// the email preset used to accept; after sanitizing, the marker must render where and as large as
// it would unstyled, opaque, inside the 600 px pane (which a mail client clips), and nothing may
// paint a thick decoration.
const HIDING_VECTORS: readonly string[] = [
  '<p style="text-indent: -9999px"><b id="m">Account 1234 5678</b></p>',
  '<p style="text-indent: -100%"><b id="m">Account 1234 5678</b></p>',
  '<p><b id="m" style="letter-spacing: -0.6em">Account 1234 5678</b></p>',
  '<p><b id="m" style="word-spacing: -9999px">Account 1234 5678</b></p>',
  '<p><b id="m" style="margin-left: -9999px">Account 1234 5678</b></p>',
  '<p><b id="m" style="font-size: 0">Account 1234 5678</b></p>',
  '<p><b id="m" style="font-size: 0.1px">Account 1234 5678</b></p>',
  '<p><b id="m" style="font-size: 1pt">Account 1234 5678</b></p>',
  '<p><b id="m" style="font: 0/0 serif">Account 1234 5678</b></p>',
  '<p><b id="m" style="color: transparent">Account 1234 5678</b></p>',
  '<p><b id="m" style="color: rgba(0, 0, 0, 0)">Account 1234 5678</b></p>',
  '<p><b id="m" style="color: #0000">Account 1234 5678</b></p>',
  '<p><b id="m" style="color: hsl(0 0% 0% / 5%)">Account 1234 5678</b></p>',
  '<p><b id="m" style="display: none">Account 1234 5678</b></p>',
  '<p><b id="m" style="display: table-column">Account 1234 5678</b></p>',
  '<p><b id="m" style="display: table-column-group">Account 1234 5678</b></p>',
  '<p style="text-indent: 9999px"><b id="m">Account 1234 5678</b></p>',
  '<p style="text-indent: 100vw"><b id="m">Account 1234 5678</b></p>',
  '<p><b id="m" style="display: inline-block; margin-left: 9999px">Account 1234 5678</b></p>',
  '<p><b id="m" style="display: inline-block; padding-left: 9999px">Account 1234 5678</b></p>',
  '<p style="padding-left: 200em"><b id="m">Account 1234 5678</b></p>',
  '<p style="margin: 0 0 0 120%"><b id="m">Account 1234 5678</b></p>',
  '<p><b id="m">Account 1234 5678</b></p><p style="text-decoration: overline solid #fff 40px">Account 9999</p>',
  '<p><b id="m" style="letter-spacing: 9999px">Account 1234 5678</b></p>',
  '<p><b id="m" style="word-spacing: 9999px">Account 1234 5678</b></p>',
  '<p><b id="m" style="letter-spacing: 100vw">Account 1234 5678</b></p>',
  '<p style="border-left: 9999px solid #fff"><b id="m">Account 1234 5678</b></p>',
  '<p style="border-style: solid; border-width: 0 0 0 9999px"><b id="m">Account 1234 5678</b></p>',
  '<p style="width: 99999px; text-align: right"><b id="m">Account 1234 5678</b></p>',
  '<p align="right" style="min-width: 99999px"><b id="m">Account 1234 5678</b></p>',
  '<table cellpadding="999"><tr><td><b id="m">Account 1234 5678</b></td></tr></table>',
  '<table style="border-spacing: 9999px"><tr><td><b id="m">Account 1234 5678</b></td></tr></table>',
  '<table width="9999"><tr><td align="right"><b id="m">Account 1234 5678</b></td></tr></table>',
  '<p style="line-height: 99999px"><b id="m">Account 1234 5678</b></p>',
  '<p style="font: 16px/9999 arial"><b id="m">Account 1234 5678</b></p>',
  '<p><b id="m" style="font-size: 9999px">Account 1234 5678</b></p>',
  '<p><span style="vertical-align: 9999px">.</span><b id="m">Account 1234 5678</b></p>',
  '<p><span style="vertical-align: 99999%">.</span><b id="m">Account 1234 5678</b></p>',
];

async function hidingFindings(outputs: readonly string[]): Promise<string[]> {
  return page.evaluate((list) => {
    const found: string[] = [];
    list.forEach((html, i) => {
      const box = document.createElement('div');
      box.style.cssText = 'width: 600px; background: #fff; color: #000; font-size: 16px';
      document.body.append(box);
      const reference = document.createElement('b');
      reference.textContent = 'Account 1234 5678';
      box.append(reference);
      const ref = reference.getBoundingClientRect();
      reference.remove();
      box.innerHTML = html.replace(/user-content-m/g, 'm');
      const m = box.querySelector('#m');
      const where = `case ${i}`;
      if (m === null) found.push(`${where}: marker missing`);
      else {
        const style = getComputedStyle(m);
        const rect = m.getBoundingClientRect();
        const outer = box.getBoundingClientRect();
        const alpha = /rgba\([^)]*,\s*([0-9.]+)\)/.exec(style.color)?.[1];
        if (style.display === 'none') found.push(`${where}: display none`);
        if (Number.parseFloat(style.fontSize) < 6) found.push(`${where}: font-size ${style.fontSize}`);
        if (alpha !== undefined && Number(alpha) < 0.25) found.push(`${where}: colour alpha ${alpha}`);
        if (rect.width < ref.width / 2 || rect.height < ref.height / 2) found.push(`${where}: squeezed`);
        if (rect.left < outer.left - 1 || rect.top < outer.top - 1 || rect.right > outer.right + 1)
          found.push(`${where}: moved outside its box`);
        // The reading pane is 400 px tall as well; one declaration may not push the marker below it.
        if (rect.bottom > outer.top + 400) found.push(`${where}: moved below the pane`);
      }
      for (const el of box.querySelectorAll('*')) {
        const thickness = getComputedStyle(el).textDecorationThickness;
        if (thickness !== 'auto' && thickness !== 'from-font') found.push(`${where}: decoration ${thickness}`);
      }
      box.remove();
    });
    return found;
  }, outputs);
}

describe('hidden and displaced text in real Chromium (email preset)', () => {
  it('the check notices every unsanitized vector (so a clean run means something)', async () => {
    const found = await hidingFindings(HIDING_VECTORS);
    const caught = new Set(found.map((f) => f.split(':')[0]));
    expect([...caught].sort()).toEqual(HIDING_VECTORS.map((_, i) => `case ${i}`).sort());
  });

  it('keeps every marker visible, legible and in place after sanitizing', async () => {
    const email = sanitizers.email as Sanitizer;
    const outputs = HIDING_VECTORS.map((input) => email.sanitize(input));
    expect(outputs.filter((r) => r.failedClosed)).toEqual([]);
    expect(await hidingFindings(outputs.map((r) => r.html))).toEqual([]);
  });
});

// Unclosed bidi overrides in the output would reverse the page's own text that follows it inline.
const BIDI_VECTORS: readonly string[] = [
  '<p>nice post</p>thanks \u202E',
  '<b>great\u202E</b>',
  'x\u202E<bdi>\u202C</bdi>',
  '<p>ok</p>\u2067\u202E',
];

async function reversedAfterOutput(outputs: readonly string[]): Promise<string[]> {
  return page.evaluate((list) => {
    const found: string[] = [];
    list.forEach((html, i) => {
      const box = document.createElement('div');
      box.style.cssText = 'width: 600px; font-size: 16px';
      document.body.append(box);
      box.innerHTML = `<span>${html}</span><span id="after">reply by admin</span>`;
      const text = box.querySelector('#after')?.firstChild as Text;
      const rectOf = (offset: number): DOMRect => {
        const range = document.createRange();
        range.setStart(text, offset);
        range.setEnd(text, offset + 1);
        return range.getBoundingClientRect();
      };
      if (rectOf(0).left > rectOf(text.length - 1).left) found.push(`case ${i}: page text after the output reversed`);
      box.remove();
    });
    return found;
  }, outputs);
}

describe('bidi controls in real Chromium', () => {
  it('the check notices every unsanitized vector (so a clean run means something)', async () => {
    const found = await reversedAfterOutput(BIDI_VECTORS);
    expect(found).toEqual(BIDI_VECTORS.map((_, i) => `case ${i}: page text after the output reversed`));
  });

  it('never lets the output reverse the page text that follows it', async () => {
    for (const sanitizer of Object.values(sanitizers)) {
      const outputs = BIDI_VECTORS.map((input) => sanitizer.sanitizeToString(input));
      expect(await reversedAfterOutput(outputs)).toEqual([]);
    }
  });
});

// A closer that closes nothing in the output would close the page's own isolation around it
// (`<bdi>`, `dir`): the page's text after it is then reordered with the user's right-to-left text.
const BIDI_BREAKOUT_VECTORS: readonly string[] = [
  '\u2069\u05d0\u05d1\u05d2',
  '\u202c\u2069\u05d0\u05d1\u05d2',
  '<b>\u2069</b>\u05d0\u05d1\u05d2',
  '<bdi>\u2067</bdi>\u05d0\u05d1\u05d2',
  '<b dir="ltr">\u2067</b>\u05d0\u05d1\u05d2',
  '<b dir="ltr">\u2067</b>\u2069\u05d0\u05d1\u05d2',
];

async function pageTextMovedBefore(outputs: readonly string[]): Promise<string[]> {
  return page.evaluate((list) => {
    const found: string[] = [];
    list.forEach((html, i) => {
      const box = document.createElement('div');
      box.style.cssText = 'width: 600px; font-size: 16px';
      document.body.append(box);
      box.innerHTML = 'Posted by <bdi id="u"></bdi> - 12 replies';
      const user = box.querySelector('#u') as HTMLElement;
      user.innerHTML = html;
      const rectOf = (node: Text, offset: number): DOMRect => {
        const range = document.createRange();
        range.setStart(node, offset);
        range.setEnd(node, offset + 1);
        return range.getBoundingClientRect();
      };
      const after = box.lastChild as Text;
      const walker = document.createTreeWalker(user, NodeFilter.SHOW_TEXT);
      let hebrew: DOMRect | undefined;
      for (let n = walker.nextNode(); n !== null && hebrew === undefined; n = walker.nextNode()) {
        const at = (n as Text).data.indexOf('\u05d0');
        if (at >= 0) hebrew = rectOf(n as Text, at);
      }
      if (hebrew === undefined) found.push(`case ${i}: user text missing`);
      else if (rectOf(after, after.data.indexOf('1')).left < hebrew.left) found.push(`case ${i}: page text moved`);
      box.remove();
    });
    return found;
  }, outputs);
}

describe('stray bidi closers in real Chromium', () => {
  it('the check notices a stray closer left in the output (so a clean run means something)', async () => {
    expect(await pageTextMovedBefore(['\u2069\u05d0\u05d1\u05d2'])).toEqual(['case 0: page text moved']);
  });

  it("never lets the output break out of the page's own <bdi> around it", async () => {
    for (const sanitizer of Object.values(sanitizers)) {
      const outputs = BIDI_BREAKOUT_VECTORS.map((input) => sanitizer.sanitizeToString(input));
      expect(await pageTextMovedBefore(outputs)).toEqual([]);
    }
  });
});

// Inline elements without dir (<b>, <i>, <a>, <span>) do not isolate: a closer in one closes an
// opener before it, and sanitizing must keep that pairing, so the output renders as the input did.
const INLINE_PAIRING_VECTORS: readonly string[] = [
  '\u2067x \u05d0\u05d1 <b>y \u05d2\u05d3\u2069</b> z - 12 replies',
  '<p>\u2067\u05e9\u05dc\u05d5\u05dd <b>\u05e2\u05d5\u05dc\u05dd\u2069</b> - 12 replies</p>',
  '<p>\u202b\u05e9\u05dc\u05d5\u05dd <b>\u05e2\u05d5\u05dc\u05dd\u202c</b> - 12 replies</p>',
  '\u2067\u05d0\u05d1 <i><a href="https://a.example/">\u05d2\u05d3 <span>x\u2069</span></a></i> - 12 replies',
  '<p>\u202e<em>abc \u202c</em> - 12 replies</p>',
];

/** The left edge of every character that is not a bidi control, in document order, inside `html`. */
async function characterPositions(outputs: readonly string[]): Promise<number[][]> {
  return page.evaluate((list) => {
    return list.map((html) => {
      const box = document.createElement('div');
      box.style.cssText = 'width: 600px; font-size: 16px';
      document.body.append(box);
      box.innerHTML = html;
      const lefts: number[] = [];
      const walker = document.createTreeWalker(box, NodeFilter.SHOW_TEXT);
      for (let n = walker.nextNode(); n !== null; n = walker.nextNode()) {
        const text = n as Text;
        for (let i = 0; i < text.data.length; i++) {
          if (/[\u202a-\u202e\u2066-\u2069]/.test(text.data[i] as string)) continue;
          const range = document.createRange();
          range.setStart(text, i);
          range.setEnd(text, i + 1);
          lefts.push(Math.round(range.getBoundingClientRect().left));
        }
      }
      box.remove();
      return lefts;
    });
  }, outputs);
}

describe('bidi controls across inline elements in real Chromium', () => {
  it('the check notices a closer moved out of its <b> (so a clean run means something)', async () => {
    const [input, moved] = await characterPositions([
      '<p>\u2067\u05e9\u05dc\u05d5\u05dd <b>\u05e2\u05d5\u05dc\u05dd\u2069</b> - 12 replies</p>',
      '<p>\u2067\u05e9\u05dc\u05d5\u05dd <b>\u05e2\u05d5\u05dc\u05dd</b> - 12 replies\u2069</p>',
    ]);
    expect(moved).not.toEqual(input);
  });

  it('renders every character where the input put it', async () => {
    for (const [name, sanitizer] of Object.entries(sanitizers)) {
      const outputs = INLINE_PAIRING_VECTORS.map((input) => sanitizer.sanitizeToString(input));
      const before = await characterPositions(INLINE_PAIRING_VECTORS);
      const after = await characterPositions(outputs);
      expect(after, name).toEqual(before);
    }
  });
});

describe('ruby fallback text in real Chromium', () => {
  it('keeps in toPlainText only the ruby text a reader sees', async () => {
    const inputs = [
      'Meeting moved.<ruby><rp>SECRET</rp></ruby>',
      '<ruby>漢<rp>(</rp><rt>kan</rt><rp>)</rp></ruby>',
      '<ruby>漢<rp>(<b>pay now</b>)</rp><rt>kan</rt></ruby>',
    ];
    for (const sanitizer of [sanitizers.ugc, sanitizers.email] as Sanitizer[]) {
      const seen = await page.evaluate(
        (list) =>
          list.map((html) => {
            const box = document.createElement('div');
            document.body.append(box);
            box.innerHTML = html;
            // biome-ignore lint/performance/useDomNodeTextContent: the rendered text (no display: none) is the point.
            const text = box.innerText;
            box.remove();
            return text;
          }),
        inputs.map((input) => sanitizer.sanitizeToString(input)),
      );
      expect(seen).toEqual(inputs.map((input) => sanitizer.toPlainText(input)));
    }
  });
});

describe('details in real Chromium', () => {
  it('shows the reader the details text that toPlainText reads', async () => {
    const input = '<details><summary>Invoice</summary>HIDDENTEXT</details>';
    const seen = await page.evaluate(
      (list) =>
        list.map((html) => {
          const box = document.createElement('div');
          document.body.append(box);
          box.innerHTML = html;
          // biome-ignore lint/performance/useDomNodeTextContent: the rendered text (closed details hide theirs) is the point.
          const text = box.innerText;
          box.remove();
          return text;
        }),
      [input, ...[sanitizers.ugc, sanitizers.email].map((s) => (s as Sanitizer).sanitizeToString(input))],
    );
    // Unsanitized, a closed details hides its body (so the check means something).
    expect(seen[0]).not.toContain('HIDDENTEXT');
    for (const text of seen.slice(1)) expect(text).toContain('HIDDENTEXT');
    for (const s of [sanitizers.ugc, sanitizers.email] as Sanitizer[])
      expect(s.toPlainText(input)).toContain('HIDDENTEXT');
  });
});

// Table content outside cells is moved before the table, into whatever holds it; a heading, li,
// dd/dt or link lands inside its own kind, which its start tag closes when the output is parsed
// again. The sanitizer outputs the form that parsing gives, checked here against Chromium's parser.
const FOSTER_VECTORS: readonly string[] = [
  '<h1><table><h1>Title</table>',
  '<h2><table><h1>Title</h1></table>after</h2>',
  '<ul><li><table><li>item</table></ul>',
  '<dl><dd><table><dt>term</table></dl>',
  '<a href="#a"><table><a href="#b">link</table>',
  '<h1><table><h1><table><h1><table><h1>deep',
  '<p><b><table><h1>bold heading</table>',
  '<img><h1><table><h1></p>x',
  '<h3><i><table><h3><i><table><h3>nested',
];

describe('foster-parented nestings in real Chromium', () => {
  it('keeps them (no fail-closed) in a form Chromium parses to the verified tree, and to itself again', async () => {
    for (const sanitizer of [sanitizers.ugc, sanitizers.email] as Sanitizer[]) {
      const results = FOSTER_VECTORS.map((input) => sanitizer.sanitize(input));
      expect(results.filter((r) => r.failedClosed)).toEqual([]);
      const outputs = results.map((r) => r.html);
      const inBrowser = await page.evaluate((list) => {
        const sig = (node: Node): string =>
          [...node.childNodes]
            .map((n) =>
              n.nodeType === 3
                ? `"${n.textContent}"`
                : n instanceof Element
                  ? `<${n.namespaceURI === 'http://www.w3.org/1999/xhtml' ? '' : 'NS:'}${n.localName}${[...n.attributes].map((a) => ` ${a.name}=${a.value}`).join('')}>${sig(n)}</>`
                  : `#${n.nodeType}`,
            )
            .join('');
        return list.map((html) => {
          const first = document.createElement('div');
          first.innerHTML = html;
          const second = document.createElement('div');
          second.innerHTML = first.innerHTML;
          return { first: sig(first), second: sig(second) };
        });
      }, outputs);
      const verified = outputs.map((html) => parse5Signature(html));
      expect(inBrowser.map((b) => b.first)).toEqual(verified);
      expect(inBrowser.map((b) => b.second)).toEqual(verified);
    }
  });

  it('shows the reader the text of the input', async () => {
    const s = sanitizers.ugc as Sanitizer;
    const seen = await page.evaluate(
      (list) =>
        list.map((html) => {
          const box = document.createElement('div');
          document.body.append(box);
          box.innerHTML = html;
          // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point.
          const text = box.innerText.replace(/\s+/g, ' ').trim();
          box.remove();
          return text;
        }),
      FOSTER_VECTORS.flatMap((input) => [input, s.sanitizeToString(input)]),
    );
    for (let i = 0; i < seen.length; i += 2) expect(seen[i + 1], FOSTER_VECTORS[i / 2]).toBe(seen[i]);
  });
});

function parse5Signature(html: string): string {
  const sig = (node: DefaultTreeAdapterTypes.ParentNode): string =>
    node.childNodes
      .map((n) =>
        n.nodeName === '#text'
          ? `"${(n as DefaultTreeAdapterTypes.TextNode).value}"`
          : 'tagName' in n
            ? `<${n.namespaceURI === 'http://www.w3.org/1999/xhtml' ? '' : 'NS:'}${n.tagName}${n.attrs.map((a) => ` ${a.name}=${a.value}`).join('')}>${sig(n)}</>`
            : '#8',
      )
      .join('');
  return sig(parseInFlowContainer(html));
}
