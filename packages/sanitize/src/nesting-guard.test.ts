import { createRequire } from 'node:module';
import fc from 'fast-check';
import * as htmlparser2 from 'htmlparser2';
import { Parser } from 'htmlparser2';
import { describe, expect, it } from 'vitest';
import { createSanitizer, PRE_PARSE_DEPTH_LIMIT } from './index.ts';
import { preParseRefusal } from './nesting-guard.ts';
import { replayParser } from './parser-replay.ts';
import { untrustedText } from './plain-text.ts';

/** htmlparser2's own stack, read off the Parser sanitize-html uses (same options). */
function realParse(html: string): { maxDepth: number; stack: string[] } {
  let maxDepth = 0;
  let stack: string[] = [];
  const parser: Parser = new Parser(
    {
      onopentagname: () => {
        maxDepth = Math.max(maxDepth, (parser as unknown as { stack: string[] }).stack.length);
      },
      onend: () => {
        stack = [...(parser as unknown as { stack: string[] }).stack].reverse();
      },
    },
    { decodeEntities: true },
  );
  parser.end(html);
  return { maxDepth, stack };
}

const svgPaths = `<svg viewBox="0 0 10 10">${'<path d="M0 0L1 1"/>'.repeat(1100)}</svg>`;
const qrCode = `<p>scan</p><svg width="40" height="40">${Array.from(
  { length: 1500 },
  (_, i) => `<rect x="${i % 40}" y="${Math.floor(i / 40)}" width="1" height="1"/>`,
).join('')}</svg><p>done</p>`;

describe('preParseRefusal', () => {
  const s = createSanitizer();

  it('lets real SVG through: /> closes elements inside svg and math, as in htmlparser2', () => {
    for (const input of [svgPaths, qrCode, `<math>${'<mspace/>'.repeat(1100)}</math>x`]) {
      expect(preParseRefusal(input)).toBeUndefined();
      expect(s.sanitize(input).failedClosed).toBe(false);
    }
    expect(s.sanitize(qrCode).html).toBe('<p>scan</p><p>done</p>');
  });

  it('follows htmlparser2 on <image> outside svg (void img), nested <form> (ignored) and </ bogus comments>', () => {
    for (const input of [
      '<image src=x>'.repeat(1100),
      `${'<form>'.repeat(1100)}x`,
      `${'</ <div>>'.repeat(1100)}x`,
      `${'<p>'.repeat(1100)}x`,
    ]) {
      expect(preParseRefusal(input)).toBeUndefined();
      expect(s.sanitize(input).failedClosed).toBe(false);
    }
  });

  it('sees nesting behind prefixes that a simpler tokenizer misreads', () => {
    const deep = '<div>'.repeat(PRE_PARSE_DEPTH_LIMIT + 10);
    for (const prefix of ['<svg><style>', '<svg><title>', '<!-->', '<!--->', '<a b=c=">', '</x a=">', "</x a='>"]) {
      const input = `${prefix}${deep}">x`;
      expect(realParse(input).maxDepth).toBeGreaterThan(PRE_PARSE_DEPTH_LIMIT);
      const result = s.sanitize(input);
      expect(result.failedClosed).toBe(true);
      expect(result.failure).toBe(`nesting deeper than ${PRE_PARSE_DEPTH_LIMIT} levels`);
    }
  });

  it('fails closed on formatting soup that is quadratic for a tree builder, and returns its text', () => {
    let soup = '';
    for (let i = 0; i < 6000; i++) soup += `<b id=${i}><p>x`;
    const result = s.sanitize(soup);
    expect(result.failedClosed).toBe(true);
    expect(result.failure).toBe(`nesting deeper than ${PRE_PARSE_DEPTH_LIMIT} levels`);
    expect(result.html).toBe('x'.repeat(6000));
    expect(s.toPlainText(`${soup}<script>y</script>&amp;`)).toBe(`${'x'.repeat(6000)}&`);
  });

  it('fails closed (known limit) where htmlparser2 nests deeper than a browser, still returning the text', () => {
    const rows = `<table>${'<tr><td><font face=Arial>Item'.repeat(400)}</table>`;
    const items = `<ul>${'<li><a href="https://e.com/">Item'.repeat(2000)}</ul>`;
    for (const input of [rows, items]) {
      expect(realParse(input).maxDepth).toBeGreaterThan(PRE_PARSE_DEPTH_LIMIT);
      const result = s.sanitize(input);
      expect(result.failedClosed).toBe(true);
      expect(result.html).toBe('Item'.repeat(input === rows ? 400 : 2000));
    }
  });

  it('keeps the fail-closed result as escaped text: entities decoded once, dropped elements without content', () => {
    const input = `${'<div>'.repeat(PRE_PARSE_DEPTH_LIMIT + 1)}a &lt;b&gt; &amp;amp;<script>x</script><style>y</style><template>z</template>\r\nc`;
    const result = s.sanitize(input);
    expect(result.failedClosed).toBe(true);
    expect(result.html).toBe('a &lt;b&gt; &amp;amp;\nc');
  });
});

const SOUP_NAMES = [
  ...['div', 'b', 'p', 'td', 'tr', 'li', 'a', 'form', 'image', 'img', 'br', 'select', 'option', 'input'],
  ...['svg', 'math', 'path', 'rect', 'g', 'clippath', 'clipPath', 'foreignobject', 'desc', 'mi', 'annotation-xml'],
  ...['style', 'title', 'script', 'textarea', 'xmp', 'x', 'bgsound'],
];
const soupPiece = fc.oneof(
  { arbitrary: fc.constantFrom(...SOUP_NAMES).map((t) => `<${t}>`), weight: 4 },
  { arbitrary: fc.constantFrom(...SOUP_NAMES).map((t) => `</${t}>`), weight: 3 },
  { arbitrary: fc.constantFrom(...SOUP_NAMES).map((t) => `<${t}/>`), weight: 2 },
  fc.constantFrom(...SOUP_NAMES).map((t) => `<${t} a=">`),
  fc.constantFrom(...SOUP_NAMES).map((t) => `</${t} a=">`),
  fc.constantFrom(...SOUP_NAMES).map((t) => `<${t} b=c=">`),
  fc.constantFrom(...SOUP_NAMES).map((t) => `<${t} x='y/>' z=w/>`),
  fc.constantFrom('<!-->', '<!--->', '<!-- c -->', '<!--</div>-->', '-->', '--!>', '</ x>', '</ <div>>', '<!x>'),
  fc.constantFrom('<?x>', '<![CDATA[</svg>]]>', '</p>', '</br>', '<plaintext>', '">', "'>", '/>'),
  fc.constantFrom('text', ' ', '&amp;', '&lt;div&gt;', '<', '</', '<3', '\r\n'),
);
const tagSoup = fc.array(soupPiece, { minLength: 1, maxLength: 40 }).map((parts) => parts.join(''));

describe('replayParser', () => {
  it('computes the same stack and maximum depth as htmlparser2 on tag soup', () => {
    fc.assert(
      fc.property(tagSoup, fc.integer({ min: 1, max: 30 }), (piece, times) => {
        const input = piece.repeat(times);
        const replayed = replayParser(input);
        const real = realParse(input);
        expect(replayed.maxDepth).toBe(real.maxDepth);
        expect(replayed.stack).toEqual(real.stack);
      }),
      { numRuns: 1000 },
    );
  });

  it('stops at the depth limit and reports it', () => {
    expect(replayParser('<div>'.repeat(50), { depthLimit: 10 })).toMatchObject({ stopped: 'depth', maxDepth: 11 });
  });
});

describe('untrustedText', () => {
  it('keeps text in document order and drops script, style and svg content without building a tree', () => {
    expect(untrustedText('<table>a<tr><td>b</td></tr>c</table><svg><p>d</p></svg><script>e</script>f')).toBe('abcf');
  });
});

describe('replayParser', () => {
  it('replays the htmlparser2 that sanitize-html itself parses with (one install, so one set of rules)', () => {
    // The replay copies htmlparser2's stack rules; if sanitize-html ever resolved another
    // htmlparser2 (a new major), the guard would model a parser that is not the one running.
    const fromSanitizeHtml = createRequire(createRequire(import.meta.url).resolve('sanitize-html'))('htmlparser2');
    expect(fromSanitizeHtml.Tokenizer).toBe(htmlparser2.Tokenizer);
    expect(fromSanitizeHtml.Parser).toBe(htmlparser2.Parser);
  });
});
