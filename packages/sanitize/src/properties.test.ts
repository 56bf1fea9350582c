import fc from 'fast-check';
import { parseFragment } from 'parse5';
import sanitizeHtmlLib from 'sanitize-html';
import { describe, expect, it } from 'vitest';
import { createSanitizer, PRE_PARSE_DEPTH_LIMIT, PRE_PARSE_WORK_LIMIT } from './index.ts';
import { resolvePolicy } from './policy.ts';
import { serializeChildren } from './serialize.ts';
import { findViolation } from './verify.ts';

const TAGS = [
  'p',
  'a',
  'img',
  'b',
  'div',
  'table',
  'tr',
  'td',
  'pre',
  'svg',
  'math',
  'style',
  'script',
  'xmp',
  'textarea',
  'noscript',
  'iframe',
  'template',
  'title',
  'select',
  'option',
  'li',
  'ul',
  'form',
  'mglyph',
  'mtext',
  'details',
  'code',
  'span',
];
const ATTRS = [
  'href',
  'src',
  'srcset',
  'id',
  'name',
  'onclick',
  'onerror',
  'style',
  'title',
  'target',
  'rel',
  'class',
  'xlink:href',
];
const VALUES = [
  'javascript:alert(1)',
  'https://e.com/a',
  '#x',
  '/rel',
  '//evil.test',
  'data:image/png;base64,AAAA',
  'data:text/html,x',
  '&#0000106avascript:x',
  'java\tscript:x',
  'color:red',
  'x" onerror="alert(1)',
  '</textarea><img>',
  '',
];

const token = fc.oneof(
  fc.constantFrom(...TAGS).map((t) => `<${t}>`),
  fc.constantFrom(...TAGS).map((t) => `</${t}>`),
  fc.constantFrom(...TAGS).map((t) => `</${t}/>`),
  fc
    .tuple(fc.constantFrom(...TAGS), fc.constantFrom(...ATTRS), fc.constantFrom(...VALUES))
    .map(([t, a, v]) => `<${t} ${a}="${v}">`),
  fc.constantFrom(
    '<!--',
    '-->',
    '<![CDATA[',
    ']]>',
    '&lt;',
    '&amp;',
    '&#60;',
    '"',
    "'",
    '<',
    '>',
    '/',
    '=',
    ' ',
    '\n',
    '\u0000',
  ),
  fc.string({ maxLength: 8 }),
);
const html = fc.array(token, { maxLength: 40 }).map((parts) => parts.join(''));

const presets = ['ugc', 'email', 'minimal', 'text'] as const;
const sanitizers = presets.map((preset) => createSanitizer({ preset }));
const policies = presets.map((preset) => resolvePolicy({ preset }));

describe('sanitizer properties (fast-check)', () => {
  it('is idempotent: sanitizing sanitized output changes nothing', () => {
    fc.assert(
      fc.property(html, fc.integer({ min: 0, max: 3 }), (input, i) => {
        const s = sanitizers[i] as (typeof sanitizers)[number];
        const once = s.sanitizeToString(input);
        expect(s.sanitizeToString(once)).toBe(once);
      }),
      { numRuns: 400 },
    );
  });

  it('is re-parse stable and contains only allowlisted elements and attributes', () => {
    fc.assert(
      fc.property(html, fc.integer({ min: 0, max: 3 }), (input, i) => {
        const out = (sanitizers[i] as (typeof sanitizers)[number]).sanitizeToString(input);
        const tree = parseFragment(out);
        expect(serializeChildren(tree).html).toBe(out);
        expect(findViolation(tree, policies[i] as (typeof policies)[number])).toBeUndefined();
      }),
      { numRuns: 400 },
    );
  });

  it('leaves every URL attribute with an allowed scheme or relative', () => {
    fc.assert(
      fc.property(html, (input) => {
        const out = sanitizers[0]?.sanitizeToString(input) ?? '';
        const stack = [...parseFragment(out).childNodes];
        while (stack.length > 0) {
          const node = stack.pop();
          if (node === undefined || !('tagName' in node)) continue;
          for (const a of node.attrs) {
            if (a.name === 'href' || a.name === 'src' || a.name === 'cite') {
              const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(a.value)?.[1]?.toLowerCase();
              expect(scheme === undefined || ['http', 'https', 'mailto', 'tel', 'data'].includes(scheme)).toBe(true);
              if (scheme === 'data') expect(a.value).toMatch(/^data:image\/(png|gif|jpeg|webp|avif);base64,/);
              expect(a.value).not.toMatch(/^[\\/]{2}/);
            }
          }
          stack.push(...node.childNodes);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('finishes a 1 MB input and a 100 000-deep nesting in bounded time and memory', () => {
    const s = createSanitizer({ preset: 'ugc' });
    const big =
      '<p>Lorem <b>ipsum</b> <a href="https://e.com/x">dolor</a> &amp; sit <img src=x onerror=alert(1)></p>\n';
    const mb = big.repeat(Math.floor(1_000_000 / big.length));
    const before = process.memoryUsage().heapUsed;
    const out = s.sanitize(mb);
    expect(out.failedClosed).toBe(false);
    expect(out.html).not.toMatch(/onerror/);
    const deep = s.sanitize(`${'<div><b>'.repeat(50_000)}x<script>alert(1)</script>`);
    expect(deep.failedClosed).toBe(true);
    expect(deep.html).toBe('x');
    const fairlyDeep = s.sanitize(`${'<div><b>'.repeat(500)}x`);
    expect(fairlyDeep.failedClosed).toBe(false);
    expect(fairlyDeep.html.length).toBeLessThan(2_000);
    const unclosed = s.sanitize('<xmp>'.repeat(100_000).slice(0, 999_000));
    expect(unclosed.html).toBe('');
    expect(process.memoryUsage().heapUsed - before).toBeLessThan(512 * 1024 * 1024);
  }, 120_000);
});

/** htmlparser2's real maximum stack depth, from the open and close events sanitize-html passes on. */
function parserMaxDepth(input: string): number {
  let depth = 0;
  let max = 0;
  sanitizeHtmlLib(input, {
    allowedTags: false,
    allowedAttributes: false,
    onOpenTag: () => {
      max = Math.max(max, ++depth);
    },
    onCloseTag: () => {
      depth--;
    },
  });
  return max;
}

const SOUP_TAGS = ['div', 'b', 'p', 'td', 'tr', 'li', 'a', 'span', 'x', 'q', 'table', 'bgsound', 'svg', 'image'];
const soupToken = fc.oneof(
  { arbitrary: fc.constantFrom(...SOUP_TAGS).map((t) => `<${t}>`), weight: 3 },
  { arbitrary: fc.constantFrom(...SOUP_TAGS, 'br', 'img').map((t) => `</${t}>`), weight: 3 },
  fc.constantFrom(...SOUP_TAGS).map((t) => `<${t}></${t}>`),
  fc.constantFrom('<br>', '<img src=x>', '<hr/>', '<wbr>', '</br>', '</p>'),
  fc.constantFrom('<!--</div>-->', '<div title="</div>">', "<b a='</b>'>", '<style></div></style>', '<!x></b>'),
  fc.constantFrom('text', ' ', '&amp;', '<', '</', '<3'),
);
const soup = fc
  .tuple(fc.array(soupToken, { minLength: 1, maxLength: 24 }), fc.integer({ min: 1, max: 700 }))
  .map(([parts, times]) => parts.join('').repeat(times));

describe('nesting guard', () => {
  const s = createSanitizer({ preset: 'ugc' });

  it('is an upper bound: input it lets through never nests deeper than PRE_PARSE_DEPTH_LIMIT in htmlparser2', () => {
    fc.assert(
      fc.property(soup, (input) => {
        const result = s.sanitize(input);
        if (!result.failedClosed) expect(parserMaxDepth(input)).toBeLessThanOrEqual(PRE_PARSE_DEPTH_LIMIT);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses nesting built from end tags that close nothing, as htmlparser2 ignores them', () => {
    for (const unit of ['<div></x>', '<b></q>', '<div title="</div>">', '<div><!--</div>-->', '<bgsound>']) {
      const input = unit.repeat(PRE_PARSE_DEPTH_LIMIT + 10);
      expect(parserMaxDepth(input)).toBeGreaterThan(PRE_PARSE_DEPTH_LIMIT);
      const result = s.sanitize(input);
      expect(result.failedClosed).toBe(true);
      expect(result.failure).toBe(`nesting deeper than ${PRE_PARSE_DEPTH_LIMIT} levels`);
    }
  });

  it('refuses end tags that close nothing inside deep nesting past PRE_PARSE_WORK_LIMIT', () => {
    const depth = 1000;
    const input = '<div>'.repeat(depth) + '</x>'.repeat(Math.ceil(PRE_PARSE_WORK_LIMIT / depth) + 1);
    const result = s.sanitize(input);
    expect(result.failedClosed).toBe(true);
    expect(result.failure).toBe('too many tags inside deep nesting (parser work limit)');
  });

  it('lets matched, implied and void-closed markup through however long it is', () => {
    const rows = '<tr><td>a<td>b</tr>'.repeat(5000);
    const mail = `<table>${rows}</table>${'<p>para<p>more<br><ul><li>a<li>b</ul>'.repeat(3000)}${'<div><b>x</b></div>'.repeat(5000)}`;
    expect(s.sanitize(mail).failedClosed).toBe(false);
  });
});
