import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  AMPLIFICATION_FAILURE,
  ATTRIBUTE_AMPLIFICATION_FAILURE,
  ELEMENT_AMPLIFICATION_FAILURE,
} from './amplification-budget.ts';
import { createSanitizer, SanitizeError, type SanitizeResult } from './index.ts';
import { serializeChildren } from './serialize.ts';
import { meterParseWork, type ParseWork, parseInFlowContainer } from './verify.ts';

/**
 * `<p>`, `bold` b elements with distinct titles of `titleLength` characters left open, then `paragraphs`
 * times `<p>x`. The parser reconstructs every open formatting element into each new paragraph
 * (distinct attributes escape the three-clone Noah's Ark limit), so the output is about
 * `bold × titleLength × paragraphs` characters from an input of `bold × titleLength + 4 × paragraphs`.
 */
function amplifying(paragraphs: number, titleLength = 4000, bold = 50): string {
  let open = '';
  for (let i = 0; i < bold; i++) {
    let title = '';
    while (title.length < titleLength) title += `${i}-${title.length};`;
    open += `<b title="${title.slice(0, titleLength)}">`;
  }
  return `<p>${open}${'<p>x'.repeat(paragraphs)}`;
}

/** The sanitized form of `<p>x` is `<p>x</p>`: sanitize-html writes twice the input for the paragraphs. */
const SANITIZED_PER_INPUT_CHAR = 2;

/** Every parse's work while `run` runs. */
function parsesOf(run: () => void): ParseWork[] {
  const parses: ParseWork[] = [];
  meterParseWork((work) => parses.push({ ...work }));
  try {
    run();
  } finally {
    meterParseWork(undefined);
  }
  return parses;
}

afterEach(() => meterParseWork(undefined));

const KiB = 1024;
const MiB = 1024 * KiB;
/** The README's slack for a basis of `b` characters. */
const slackOf = (b: number): number => Math.min(MiB, 24 * b + 64 * KiB);
/**
 * The README's bound on the output for a basis of `b` characters (the input, or its sanitized form
 * if shorter) and what a rewriteUrl hook added, `r`: min(8 × b + slack(b) + r, 2²⁸).
 */
const outputBound = (b: number, r = 0): number => Math.min(8 * b + slackOf(b) + r, 2 ** 28);
/** `count` formatting elements `<tag title='0"…"'>` (raw quotes: 1 input character each, `&quot;` once sanitized) left open. */
const quoted = (tag: string, count: number, quotes: number): string => {
  let open = '';
  for (let i = 0; i < count; i++) open += `<${tag} title='${i}${'"'.repeat(quotes)}'>`;
  return open;
};
/** The README's bound on the tag and attribute characters of one parse: 4 × b + slack(b) + r. */
const attributeBound = (b: number, r = 0): number => 4 * b + slackOf(b) + r;
/**
 * The README's basis with a rewriteUrl hook: B₀ = min(I, S − R), never negative, where R (what the
 * hook added to the URLs in S, as written) comes out of S; what it added to the URLs that survive
 * the first parse is added once to the output limit (as written) and the attribute limit (as
 * parsed), not multiplied.
 */
const rewriteBasisOf = (work: ParseWork): number =>
  Math.max(0, Math.min(work.inputLength, work.sanitizedLength - work.sanitizedRewriteGrowth));
const rewriteOutputBound = (work: ParseWork): number => outputBound(rewriteBasisOf(work), work.writtenRewriteGrowth);
const rewriteAttributeBound = (work: ParseWork): number =>
  attributeBound(rewriteBasisOf(work), work.parsedRewriteGrowth);
/** What the rewrite added as a parse's basis counts it: as parsed and as written. */
const rewriteGrowthOf = (work: ParseWork): readonly [number, number] => [
  work.parsedRewriteGrowth,
  work.writtenRewriteGrowth,
];
/** The basis every allowance of a parse was relative to: the input, or its sanitized form if shorter. */
const basisOf = (work: ParseWork): number => Math.min(work.inputLength, work.sanitizedLength);

describe('createSanitizer', () => {
  it('cuts output the parser amplifies at maxOutputChars', () => {
    // 1.2 KB of input whose whole output is 21 KB (within the amplification limits).
    const s = createSanitizer({ limits: { maxOutputChars: 5_000 } });
    const result = s.sanitize(amplifying(20, 40, 20));
    expect(result).toMatchObject({ failedClosed: false, truncated: true });
    expect(result.html.length).toBeLessThanOrEqual(5_000);
    expect(result.html).toContain('…');
    expect(serializeChildren(parseInFlowContainer(result.html)).html).toBe(result.html);
  });

  it('fails closed, naming the attribute limit, when clones would copy more attribute characters than the input allows', () => {
    for (const limits of [{}, { maxOutputChars: 10_000 }]) {
      const s = createSanitizer({ limits });
      for (const [paragraphs, titleLength] of [
        [2800, 4000],
        [300, 1000],
      ] as const) {
        const result = s.sanitize(amplifying(paragraphs, titleLength));
        expect(result).toMatchObject({
          html: 'x'.repeat(paragraphs),
          failedClosed: true,
          truncated: false,
          failure: ATTRIBUTE_AMPLIFICATION_FAILURE,
        });
        expect(result.removed).toContainEqual({
          kind: 'verification',
          name: 'output',
          reason: ATTRIBUTE_AMPLIFICATION_FAILURE,
        });
      }
    }
  });

  it('fails closed, naming the element limit, when the parser would build more elements than the input allows', () => {
    // 60 short-titled b elements cloned into each of 2000 paragraphs: 120,000 elements from 9 KB.
    const result = createSanitizer().sanitize(amplifying(2000, 4, 60));
    expect(result).toMatchObject({
      html: 'x'.repeat(2000),
      failedClosed: true,
      failure: ELEMENT_AMPLIFICATION_FAILURE,
    });
  });

  it('fails closed on input tuned to the old limits (1 element per character, 64 × the output)', () => {
    // 7 b with 50-character titles: each `<p>x` is `<p>x</p>` (8 characters) after sanitize-html and
    // 8 elements with 400 attribute characters after the parse, 59 × the sanitized input. At 1 MB
    // this took 75 s and 3 GB (and died at --max-old-space-size=2048); 3 b with 145-character
    // titles, 33 s and 1.7 GB.
    for (const [bold, titleLength] of [
      [7, 50],
      [3, 145],
    ] as const) {
      const input = amplifying(5000, titleLength, bold);
      for (const verify of ['standard', 'strict'] as const) {
        const result = createSanitizer({ verify }).sanitize(input);
        // Whichever limit the parse reaches first (7 clones per paragraph: the element limit).
        expect(result).toMatchObject({ html: 'x'.repeat(5000), failedClosed: true });
        expect([ELEMENT_AMPLIFICATION_FAILURE, ATTRIBUTE_AMPLIFICATION_FAILURE]).toContain(result.failure);
      }
    }
  });

  it('bases every parse on the input or its sanitized form, whichever is shorter, so no parse creates more than it allows', () => {
    // Tuned to the allowances: 2 elements per 8 sanitized characters (4 of input) and 31 attribute
    // characters per 4 characters of input (within the slack at this size).
    const within = amplifying(4000, 24, 1);
    const over = amplifying(4000, 50, 7);
    for (const input of [within, over]) {
      for (const verify of ['standard', 'strict'] as const) {
        const s = createSanitizer({ verify });
        const parses = parsesOf(() => s.sanitize(input));
        // The first parse, up to four re-parses, and the same again for strict.
        expect(parses.length).toBeGreaterThan(0);
        expect(parses.length).toBeLessThanOrEqual(10);
        const sanitized = SANITIZED_PER_INPUT_CHAR * input.length;
        for (const work of parses) {
          expect(work).toMatchObject({ inputLength: input.length });
          expect(work.sanitizedLength).toBeGreaterThan(input.length);
          // +1 and one element's attributes: the parse stops at the first element past either limit.
          expect(work.elements).toBeLessThanOrEqual(Math.min(sanitized, 2 * input.length) / 3 + 4096 + 1);
          expect(work.attributeChars).toBeLessThanOrEqual(attributeBound(input.length) + 100);
        }
      }
    }
    expect(createSanitizer().sanitize(within)).toMatchObject({ failedClosed: false });
  });

  it('fails closed past 8 × the input + 1 MiB of output (from 40 KiB of input on), whatever maxOutputChars allows', () => {
    // Each quote is 1 attribute character in the tree and 6 written out (`&quot;`): the clones
    // stay within the attribute limit and the output is about 40 × the input (80 KB, 160 KB sanitized).
    const input = `<p><b title="${'&quot;'.repeat(24)}">${'<p>x'.repeat(20_000)}`;
    for (const limits of [{}, { maxOutputChars: 100_000_000 }]) {
      const result = createSanitizer({ limits }).sanitize(input);
      expect(result).toMatchObject({ html: 'x'.repeat(20_000), failedClosed: true, failure: AMPLIFICATION_FAILURE });
    }
  });

  it('fails closed on an email whose unclosed link with a long URL every browser clones into each paragraph', () => {
    // 26.8 KB a browser renders as 1.7 MB of paragraphs that are all links.
    const url = `https://click.example.com/track?u=${'a1B2c3D4'.repeat(90)}`;
    const result = createSanitizer({ preset: 'email' }).sanitize(
      `<p><a href="${url}">Click here${'<p>&nbsp;</p>'.repeat(2000)}`,
    );
    expect(result).toMatchObject({ failedClosed: true, failure: ATTRIBUTE_AMPLIFICATION_FAILURE });
  });

  it('fails closed on a 4 KB comment the parser would build into 1 MB of output (the slack scales with the input)', () => {
    // 8 b with distinct 240-character titles left open, then 512 `<p>x`: 4 KB of input, 6 KB
    // sanitized, and every paragraph gets 8 clones with 2 KB of attributes (1 MB in all).
    const input = amplifying(512, 240, 8);
    expect(input.length).toBeLessThan(4100);
    for (const verify of ['standard', 'strict'] as const) {
      const parses = parsesOf(() => {
        const result = createSanitizer({ verify }).sanitize(input);
        expect(result).toMatchObject({
          html: 'x'.repeat(512),
          failedClosed: true,
          failure: ATTRIBUTE_AMPLIFICATION_FAILURE,
        });
      });
      for (const work of parses) {
        // One element's attributes past the bound at most: the parse stops at the first element past it.
        expect(work.attributeChars).toBeLessThanOrEqual(attributeBound(basisOf(work)) + 300);
        expect(work.attributeChars).toBeLessThan(300_000);
      }
    }
  });

  it('fails closed when a small input would be written out past 32 × the input + 64 KiB', () => {
    // Each quote is 1 attribute character in the tree and 6 written out (`&quot;`): 3 b with
    // 60-quote titles stay within the attribute limit, while the output is about 180 × the
    // input (560 KB from 3 KB of input, 5 KB sanitized).
    let open = '';
    for (let i = 0; i < 3; i++) open += `<b title="${i}${'&quot;'.repeat(60)}">`;
    const input = `<p>${open}${'<p>x'.repeat(500)}`;
    const parses = parsesOf(() => {
      const result = createSanitizer().sanitize(input);
      expect(result).toMatchObject({ html: 'x'.repeat(500), failedClosed: true, failure: AMPLIFICATION_FAILURE });
    });
    for (const work of parses) expect(work.attributeChars).toBeLessThanOrEqual(attributeBound(basisOf(work)));
  });

  it('never writes more than the documented bound for formatting elements left open before many blocks', () => {
    // Formatting elements (distinct attributes, so the parser's three-clone limit does not apply),
    // some block containers, then many short blocks: the shapes the parser clones into.
    const formatting = fc.record({
      tag: fc.constantFrom('b', 'i', 'em', 'strong', 's', 'u', 'small', 'code', 'a'),
      attribute: fc.constantFrom('title', 'lang', 'href'),
      length: fc.integer({ min: 0, max: 300 }),
      quotes: fc.boolean(),
    });
    const shape = fc.record({
      before: fc.constantFrom('<p>', '<div><p>', '<ul><li>', '<blockquote><p>', '<h2>', '<p><span>'),
      open: fc.array(formatting, { minLength: 1, maxLength: 8 }),
      block: fc.constantFrom('<p>x', '<p>&nbsp;</p>', '<li>x', '<h3>x', '<dd>y', '<p>ok<br>', '<div>z</div>'),
      blocks: fc.integer({ min: 1, max: 1500 }),
      preset: fc.constantFrom('ugc', 'email') as fc.Arbitrary<'ugc' | 'email'>,
    });
    const sanitizers = { ugc: createSanitizer(), email: createSanitizer({ preset: 'email' }) };
    fc.assert(
      fc.property(shape, ({ before, open, block, blocks, preset }) => {
        let opened = '';
        for (const [i, { tag, attribute, length, quotes }] of open.entries()) {
          const value = `${i}${(quotes ? '&quot;' : 'v').repeat(length)}`;
          const name = attribute === 'href' && tag !== 'a' ? 'title' : attribute;
          opened += `<${tag} ${name}="${name === 'href' ? `https://e.example/${value}` : value}">`;
        }
        const input = `${before}${opened}${block.repeat(blocks)}`;
        let html = '';
        const parses = parsesOf(() => {
          html = sanitizers[preset].sanitize(input).html;
        });
        const first = parses[0];
        expect(html.length).toBeLessThanOrEqual(outputBound(first === undefined ? input.length : basisOf(first)));
        for (const work of parses) {
          // One element's attributes past the bound at most: the parse stops at the first element past it
          // (an href of 300 quotes is 900 characters percent-encoded).
          expect(work.attributeChars).toBeLessThanOrEqual(attributeBound(basisOf(work)) + 1024);
        }
      }),
      { numRuns: 60 },
    );
  });

  describe('bounds relative to the input, whatever escaping makes of it', () => {
    /** The README's bounds, from the input's length alone. */
    const expectWithinInputBounds = (input: string, html: string, parses: readonly ParseWork[]): void => {
      expect(html.length).toBeLessThanOrEqual(outputBound(input.length));
      for (const work of parses) {
        // +1 and one element's attributes (a title of 600 at most): the parse stops at the first
        // element past either limit.
        expect(work.elements).toBeLessThanOrEqual((2 * input.length) / 3 + 4096 + 1);
        expect(work.attributeChars).toBeLessThanOrEqual(attributeBound(input.length) + 1024);
      }
    };

    it('fails closed on raw quotes in single-quoted titles that sanitize-html writes 6 times longer', () => {
      // 4.2 KB of input, 24 KB sanitized (`&quot;`), which the parser builds into 800 KB of output:
      // 188 × the input, and past 8 × it + min(1 MiB, 24 × it + 64 KiB) = 200 KB.
      const paragraphs = '<p>x'.repeat(32);
      const cases = [
        { options: {}, input: `<p>${quoted('b', 8, 500)}${paragraphs}` },
        { options: { verify: 'strict' as const }, input: `<p>${quoted('b', 8, 500)}${paragraphs}` },
        { options: { preset: 'email' as const }, input: `<p>${quoted('b', 8, 500)}${paragraphs}` },
        { options: { preset: 'email' as const }, input: `<p>${quoted('font', 8, 500)}${paragraphs}` },
        // Foster parenting: the paragraphs move before the table, into the open b elements.
        { options: {}, input: `<p>${quoted('b', 8, 500)}<table>${paragraphs}` },
        { options: {}, input: `<ul><li>${quoted('i', 8, 500)}${'<li>x'.repeat(32)}` },
      ];
      for (const { options, input } of cases) {
        expect(input.length).toBeLessThan(4300);
        let html = '';
        const parses = parsesOf(() => {
          const result = createSanitizer(options).sanitize(input);
          expect(result).toMatchObject({ failedClosed: true });
          html = result.html;
        });
        expectWithinInputBounds(input, html, parses);
      }
    });

    it('fails closed on raw ampersands in text that sanitize-html writes 5 times longer', () => {
      // The 4 KB comment of eight 240-character titles before 512 `<p>x` (1 MB built) with 6,000 `&`
      // (`&amp;` once sanitized) after it: 10 KB of input, 36 KB sanitized.
      const input = `${amplifying(512, 240, 8)}${'&'.repeat(6000)}`;
      let html = '';
      const parses = parsesOf(() => {
        const result = createSanitizer().sanitize(input);
        expect(result).toMatchObject({ failedClosed: true });
        html = result.html;
      });
      expectWithinInputBounds(input, html, parses);
    });

    it('fails closed on a 200 KB input of raw quotes that the parser would write out as 6 MB', () => {
      const input = `<p>${quoted('b', 50, 4000)}${'<p>x'.repeat(4)}`;
      let html = '';
      const parses = parsesOf(() => {
        const result = createSanitizer().sanitize(input);
        expect(result).toMatchObject({ failedClosed: true, failure: AMPLIFICATION_FAILURE });
        html = result.html;
      });
      expectWithinInputBounds(input, html, parses);
    });

    it('never writes more than the documented bound of the input for raw quotes, ampersands and less-than signs', () => {
      const raw = fc.constantFrom('"', "'", '&', '<', 'v', '&amp;', ' ');
      const formatting = fc.record({
        tag: fc.constantFrom('b', 'i', 'em', 'strong', 's', 'u', 'small', 'code', 'a', 'font'),
        quote: fc.constantFrom('"', "'"),
        character: raw,
        length: fc.integer({ min: 0, max: 600 }),
      });
      const shape = fc.record({
        before: fc.constantFrom('<p>', '<div><p>', '<ul><li>', '<p><span>', '<table><tr><td><p>'),
        open: fc.array(formatting, { minLength: 1, maxLength: 8 }),
        block: fc.constantFrom('<p>', '<li>', '<h3>', '<dd>', '<p><table>'),
        text: fc.array(raw, { minLength: 1, maxLength: 12 }).map((parts) => parts.join('')),
        blocks: fc.integer({ min: 1, max: 300 }),
        tail: fc.array(raw, { maxLength: 3000 }).map((parts) => parts.join('')),
        preset: fc.constantFrom('ugc', 'email') as fc.Arbitrary<'ugc' | 'email'>,
        verify: fc.constantFrom('standard', 'strict') as fc.Arbitrary<'standard' | 'strict'>,
      });
      const sanitizers = {
        ugc: { standard: createSanitizer(), strict: createSanitizer({ verify: 'strict' }) },
        email: {
          standard: createSanitizer({ preset: 'email' }),
          strict: createSanitizer({ preset: 'email', verify: 'strict' }),
        },
      };
      fc.assert(
        fc.property(shape, ({ before, open, block, text, blocks, tail, preset, verify }) => {
          let opened = '';
          for (const [i, { tag, quote, character, length }] of open.entries()) {
            // The value may not hold its own quote: raw `"` go in single quotes and the reverse.
            const value = `${i}${character.repeat(length)}`.replaceAll(quote, '');
            opened += `<${tag} title=${quote}${value}${quote}>`;
          }
          const input = `${before}${opened}${`${block}${text}`.repeat(blocks)}${tail}`;
          let html = '';
          const parses = parsesOf(() => {
            html = sanitizers[preset][verify].sanitize(input).html;
          });
          expectWithinInputBounds(input, html, parses);
        }),
        { numRuns: 80 },
      );
    });
  });

  describe("bounds relative to the input and what the caller's rewriteUrl adds", () => {
    /** Eight `<b title='…200 raw quotes…'>` left open before 250 `<p>x`: fails closed on its own. */
    const quotedBomb = `<p>${quoted('b', 8, 200)}${'<p>x'.repeat(250)}`;
    /**
     * A caller's rewriteUrl adding `extra` characters to every URL of `kind` (of `filler`, repeated),
     * counting what it added.
     */
    const lengthening = (kind: 'link' | 'image' | 'css-image', extra: number, filler = 's') => {
      const hook = {
        added: 0,
        rewriteUrl: (url: string, context: { readonly kind: string }): string | undefined => {
          if (context.kind !== kind || url.startsWith('https://proxy.example/')) return undefined;
          const path = filler.repeat(Math.ceil(extra / filler.length)).slice(0, Math.max(0, extra - 22));
          const rewritten = `https://proxy.example/${path}?u=${encodeURIComponent(url)}`;
          hook.added += rewritten.length - url.length;
          return rewritten;
        },
      };
      return hook;
    };

    it('keeps a link-dense email whose links the caller rewrites to longer tracking URLs', () => {
      // 626 KB of input with 3.7 M attribute characters once the 12,000 links are rewritten:
      // past 4 × the input + 1 MiB, within 4 × (the input + what the rewrite added) + 1 MiB.
      let items = '';
      for (let i = 0; i < 12_000; i++) items += `<li><a href="https://ex.com/${i}">item ${i}</a></li>`;
      const input = `<ul>${items}</ul>`;
      expect(input.length).toBeGreaterThan(600_000);
      for (const verify of ['standard', 'strict'] as const) {
        const hook = lengthening('link', 250);
        const result = createSanitizer({ preset: 'email', verify, rewriteUrl: hook.rewriteUrl }).sanitize(input);
        expect(result).toMatchObject({ failedClosed: false, truncated: false });
        expect(result.html.length).toBeGreaterThan(4 * input.length + MiB);
      }
      // Query parameters the rewrite adds are written escaped (`&` as `&amp;`): counted as written.
      const ampersands = lengthening('link', 250, '&utm=1');
      const result = createSanitizer({ preset: 'email', rewriteUrl: ampersands.rewriteUrl }).sanitize(input);
      expect(result).toMatchObject({ failedClosed: false, truncated: false });
      expect(result.html.length).toBeGreaterThan(5 * input.length + MiB);
    });

    it('keeps images the caller rewrites to long signed proxy URLs', () => {
      // 44 KB of input whose 1,300 images get 1,000-character proxy URLs: 1.3 MB of attributes.
      let images = '';
      for (let i = 0; i < 1300; i++) images += `<img src="https://i.ex.com/${i}.png">`;
      const input = `<p>${images}</p>`;
      expect(input.length).toBeLessThan(50_000);
      for (const preset of ['ugc', 'email'] as const) {
        // The second hook's query parameters are written escaped (`&` as `&amp;`): 3.9 MB written.
        for (const filler of ['s', '&s']) {
          const hook = lengthening('image', 1000, filler);
          const result = createSanitizer({ preset, rewriteUrl: hook.rewriteUrl }).sanitize(input);
          expect(result).toMatchObject({ failedClosed: false, truncated: false });
          expect(result.html.length).toBeGreaterThan(1_300_000);
        }
      }
    });

    it('counts what the rewrite added once per URL that is kept, not per clone, re-parse or strict pass', () => {
      // One rewritten link left open before 250 spacers: the browser clones it 250 times, the basis grows by it once.
      const input = `<p><a href="https://click.example.com/c?u=1">Click here${'<p>&nbsp;</p>'.repeat(250)}`;
      const hook = lengthening('link', 250);
      const parses = parsesOf(() => {
        const result = createSanitizer({ preset: 'email', verify: 'strict', rewriteUrl: hook.rewriteUrl }).sanitize(
          input,
        );
        expect(result).toMatchObject({ failedClosed: false });
      });
      expect(parses.length).toBeGreaterThanOrEqual(2);
      for (const work of parses) expect(rewriteGrowthOf(work)).toEqual([hook.added, hook.added]);
      expect(hook.added).toBeGreaterThan(200);
      expect(hook.added).toBeLessThan(300);
    });

    it('does not count what the rewrite added to URLs that are dropped afterwards', () => {
      // Links rewritten past maxAttributeLength are dropped after the rewrite; images in elements
      // nested past limits.nestingLimit are unwrapped with their attributes.
      const links = `<p>${'<a href="/x">y</a>'.repeat(100)}</p>`;
      const hook = lengthening('link', 5000);
      const parses = parsesOf(() => createSanitizer({ rewriteUrl: hook.rewriteUrl }).sanitize(links));
      expect(hook.added).toBeGreaterThan(400_000);
      for (const work of parses) expect(rewriteGrowthOf(work)).toEqual([0, 0]);
      const nested = `${'<div>'.repeat(10)}${'<img src="https://i.ex.com/a.png">'.repeat(100)}`;
      const images = lengthening('image', 1000);
      const deep = parsesOf(() =>
        createSanitizer({ rewriteUrl: images.rewriteUrl, limits: { nestingLimit: 5 } }).sanitize(nested),
      );
      expect(images.added).toBeGreaterThan(90_000);
      for (const work of deep) expect(rewriteGrowthOf(work)).toEqual([0, 0]);
    });

    it('fails closed when many tiny links a rewrite lengthens pay for clones of escaped attributes', () => {
      // 256 `<a href=x></a>` (3.5 KB) that a click-tracking rewrite makes 250 characters longer each:
      // 64 K characters the caller added, once each. Counted as input and multiplied by the growth
      // factors, they paid for 8 `<b title='…raw quotes…'>` left open before 130 `<p>x` (each quote
      // 1 character of input and of the tree, 6 written in every clone): 5.8 KB kept as 1.35 MB.
      const input = `<p>${'<a href=x></a>'.repeat(256)}</p><p>${quoted('b', 8, 200)}${'<p>x'.repeat(130)}`;
      for (const verify of ['standard', 'strict'] as const) {
        const hook = lengthening('link', 250);
        let result: SanitizeResult | undefined;
        const parses = parsesOf(() => {
          result = createSanitizer({ preset: 'ugc', verify, rewriteUrl: hook.rewriteUrl }).sanitize(input);
        });
        expect(hook.added).toBeGreaterThan(60_000);
        expect(result?.failedClosed).toBe(true);
        expect([AMPLIFICATION_FAILURE, ATTRIBUTE_AMPLIFICATION_FAILURE]).toContain(result?.failure);
        expect(result?.html.length ?? 0).toBeLessThan(20 * input.length);
        for (const work of parses) {
          expect(rewriteGrowthOf(work)).toEqual([hook.added, hook.added]);
          expect(work.attributeChars).toBeLessThanOrEqual(rewriteAttributeBound(work) + 3000);
        }
      }
    });

    it('does not count what the rewrite added to URLs the verification pass drops, so they cannot pay for clones', () => {
      // Eight `<b title='…200 raw quotes…'>` left open before 250 `<p>x` fail closed on their own. After
      // 4,096 links in an rp with text, which the verification pass drops (a browser hides it), each made
      // 250 characters longer (1 M characters sanitize-html kept), the 60 KB were kept as 2.4 MB, all
      // clones, past 8 × the input + 1 MiB; and so were they, 52 KB, after 1,024 `<col>` outside a table
      // (which the parser drops) whose background the rewrite made 1,000 characters longer.
      const cases = [
        { preset: 'ugc', kind: 'link', extra: 250, hidden: `<ruby>a<rp>t${'<a href=x></a>'.repeat(4096)}</rp></ruby>` },
        {
          preset: 'email',
          kind: 'css-image',
          extra: 1000,
          hidden: '<col style="background:url(https://i.ex.com/a)">'.repeat(1024),
        },
      ] as const;
      for (const { preset, kind, extra, hidden } of cases) {
        for (const verify of ['standard', 'strict'] as const) {
          const hook = lengthening(kind, extra);
          const s = createSanitizer({ preset, verify, rewriteUrl: hook.rewriteUrl });
          expect(s.sanitize(quotedBomb)).toMatchObject({ failedClosed: true });
          const input = `${hidden}${quotedBomb}`;
          let html = '';
          const parses = parsesOf(() => {
            const result = s.sanitize(input);
            expect(result).toMatchObject({ failedClosed: true });
            html = result.html;
          });
          expect(html).toMatch(/^(?:at)?x{250}$/);
          expect(hook.added).toBeGreaterThan(1_000_000);
          // The first parse is bounded by what sanitize-html kept; everything after it by what survived.
          expect(parses.length).toBeGreaterThan(0);
          for (const work of parses.slice(1)) expect(rewriteGrowthOf(work)).toEqual([0, 0]);
        }
      }
    });

    it('does not count what the rewrite added to URLs that maxOutputChars cuts off', () => {
      // Eight `<b title='…200 raw quotes…'>` left open before 250 `<p>x`, then 4,096 links the rewrite
      // makes 253 characters longer (1 M characters): whole, the output fails closed. Cut at 2.4 M
      // characters before the links, it was kept (2.4 MB from 60 KB, no link written), the links still
      // counted: past 8 × the input + 1 MiB plus what the rewrite added to the URLs written (none).
      const input = `${quotedBomb}${'<a href=x></a>'.repeat(4096)}`;
      expect(input.length).toBe(60_051);
      for (const verify of ['standard', 'strict'] as const) {
        const hook = lengthening('link', 250);
        const s = createSanitizer({ verify, rewriteUrl: hook.rewriteUrl, limits: { maxOutputChars: 2_400_000 } });
        const result = s.sanitize(input);
        expect(hook.added).toBe(4096 * 253);
        expect(result).toMatchObject({ failedClosed: true, failure: AMPLIFICATION_FAILURE });
        expect(result.html.length).toBeLessThanOrEqual(outputBound(input.length));
      }
    });

    it('counts a cut link and its clones once, and links past the cut not at all', () => {
      // `<p><a href=x>` left open before 4,000 `<p>x`, then 4,000 `<a href=x></a>`, each link made 250
      // characters longer of `&`-dense parameters (written `&amp;`): whole, the output fails closed. Cut
      // just past the last clone, it was kept (72 KB as 3 MB and 4.8 MB, no link after the clones written):
      // every clone, its own start tag once the cut is parsed again, counted once per link cut off.
      const input = `<p><a href=x>${'<p>x'.repeat(4000)}${'<a href=x></a>'.repeat(4000)}`;
      for (const filler of ['&s', '&']) {
        const options = {
          rewriteUrl: lengthening('link', 250, filler).rewriteUrl,
          limits: { maxInputBytes: 10 * MiB },
        };
        // Written whole: `<p><a …></a></p>`, 3,999 `<p><a …>x</a></p>`, `<p><a …>x</a>` and the other links.
        const clone = createSanitizer(options).sanitize('<p><a href=x>x</a></p>').html;
        expect(createSanitizer(options).sanitize(input)).toMatchObject({ failedClosed: true });
        const maxOutputChars = 4001 * clone.length;
        const result = createSanitizer({ ...options, limits: { ...options.limits, maxOutputChars } }).sanitize(input);
        expect(result).toMatchObject({ failedClosed: true, failure: AMPLIFICATION_FAILURE });
        expect(result.html.length).toBeLessThanOrEqual(outputBound(input.length));
      }
    });

    it('keeps a cut email whose one tracking link the browser copies into every paragraph', () => {
      // One rewritten link left open across 3,000 paragraphs: every paragraph holds a clone of it.
      let paragraphs = '';
      for (let i = 0; i < 3000; i++) paragraphs += `<p>Paragraph ${i} of this week's letter.</p>`;
      const input = `<p><a href="https://click.example.com/c?u=1">Read online${paragraphs}`;
      for (const filler of ['s', '&utm=1']) {
        for (const maxOutputChars of [20_000, 200_000, 1_000_000]) {
          const hook = lengthening('link', 250, filler);
          const s = createSanitizer({ preset: 'email', rewriteUrl: hook.rewriteUrl, limits: { maxOutputChars } });
          const result = s.sanitize(input);
          expect(result).toMatchObject({ failedClosed: false, truncated: true });
          expect(result.html.length).toBeLessThanOrEqual(maxOutputChars);
          expect(result.html.match(/<a /g)?.length ?? 0).toBeGreaterThan(maxOutputChars / 800);
        }
      }
    });

    it('keeps a cut document whose written URLs the rewrite lengthened past the bound of the input alone', () => {
      // 1,300 images given 1,000-character proxy URLs with `&`-separated parameters are 3.9 MB written.
      // Cut at 2 M characters, the images written keep what the rewrite added to them: the cut is longer
      // than 8 × the input + 1 MiB.
      let images = '';
      for (let i = 0; i < 1300; i++) images += `<img src="https://i.ex.com/${i}.png">`;
      const input = `<p>${images}</p>`;
      for (const preset of ['ugc', 'email'] as const) {
        const hook = lengthening('image', 1000, '&s');
        const s = createSanitizer({ preset, rewriteUrl: hook.rewriteUrl, limits: { maxOutputChars: 2_000_000 } });
        const result = s.sanitize(input);
        expect(result).toMatchObject({ failedClosed: false, truncated: true });
        expect(result.html.length).toBeGreaterThan(outputBound(input.length));
        expect(result.html.length).toBeLessThanOrEqual(2_000_000);
        expect(result.html.match(/<img /g)?.length ?? 0).toBeGreaterThan(600);
      }
    });

    it('counts what the rewrite added to URLs in every place the parser keeps them, once each', () => {
      // Links in paragraphs, in a ruby's bracket-only rp and in a table cell, and the background of a
      // col inside a table, each lengthened by 250 characters: every one is written, so every one counts.
      const links = '<a href="https://ex.com/a">a</a><a href="https://ex.com/b">b</a>';
      const input = [
        `<p>${links}</p>`,
        `<ruby>漢<rp>(<a href="https://ex.com/r">(</a></rp><rt>kan</rt><rp>)</rp></ruby>`,
        `<table><colgroup><col style="background:url(https://i.ex.com/c.png)"></colgroup>`,
        `<tr><td>${links}</td></tr></table>`,
      ].join('');
      for (const verify of ['standard', 'strict'] as const) {
        const link = lengthening('link', 250);
        const css = lengthening('css-image', 250);
        const s = createSanitizer({
          preset: 'email',
          verify,
          rewriteUrl: (url, context) => link.rewriteUrl(url, context) ?? css.rewriteUrl(url, context),
        });
        const parses = parsesOf(() => expect(s.sanitize(input)).toMatchObject({ failedClosed: false }));
        expect(link.added).toBeGreaterThan(5 * 200);
        expect(css.added).toBeGreaterThan(200);
        // The col's url() is written in double quotes (`&quot;` once escaped): more written than parsed.
        for (const work of parses) {
          expect(work.parsedRewriteGrowth).toBe(link.added + css.added);
          expect(work.writtenRewriteGrowth).toBeGreaterThanOrEqual(link.added + css.added);
        }
      }
    });

    it('adds what a rewrite that percent-encodes `&` made of URLs as written to the output limit, not as parsed', () => {
      // Each raw `&` (1 character of input, `&amp;` written) becomes `%26`: 2 characters longer in the
      // tree, 2 shorter written. Counted as the larger, the 12,000 of 20 links added 24,000 characters
      // to the output limit that no URL wrote, and 14 KB of input with eight titles of raw quotes left
      // open before 100 `<p>x` was kept as 536 KB, past 8 × the input + min(1 MiB, 24 × it + 64 KiB).
      const rewriteUrl = (url: string): string | undefined =>
        url.includes('&') ? url.replaceAll('&', '%26') : undefined;
      const links = `<p>${`<a href="https://e.example/?${'&'.repeat(600)}">l</a>`.repeat(20)}</p>`;
      const input = `${links}<p>${quoted('b', 8, 100)}${'<p>x'.repeat(100)}`;
      for (const verify of ['standard', 'strict'] as const) {
        const s = createSanitizer({ verify, rewriteUrl });
        // The links alone: 36,000 attribute characters from 12,000 `&`, within the attribute limit
        // the growth as parsed adds to.
        expect(s.sanitize(links)).toMatchObject({ failedClosed: false });
        let html = '';
        const parses = parsesOf(() => {
          const result = s.sanitize(input);
          expect(result).toMatchObject({ failedClosed: true, failure: AMPLIFICATION_FAILURE });
          html = result.html;
        });
        expect(html.length).toBeLessThanOrEqual(outputBound(input.length));
        for (const work of parses) expect(rewriteGrowthOf(work)).toEqual([24_000, 0]);
      }
    });

    it('never writes more than the documented bound of the input plus what the rewrite added, however many URLs', () => {
      // Many tiny URLs, each lengthened by the caller's rewrite, buy basis; the amplification they
      // can pay for with it stays within the bounds of the input plus that growth.
      const shape = fc.record({
        urls: fc.integer({ min: 0, max: 400 }),
        kind: fc.constantFrom('link', 'image') as fc.Arbitrary<'link' | 'image'>,
        extra: fc.integer({ min: 0, max: 1500 }),
        filler: fc.constantFrom('s', '&', '&utm=1'),
        open: fc.integer({ min: 1, max: 8 }),
        titleLength: fc.integer({ min: 1, max: 400 }),
        quotes: fc.boolean(),
        openLink: fc.boolean(),
        block: fc.constantFrom('<p>x', '<p>&nbsp;</p>', '<li>x', '<p><br>'),
        blocks: fc.integer({ min: 1, max: 2000 }),
        preset: fc.constantFrom('ugc', 'email') as fc.Arbitrary<'ugc' | 'email'>,
        verify: fc.constantFrom('standard', 'strict') as fc.Arbitrary<'standard' | 'strict'>,
      });
      fc.assert(
        fc.property(
          shape,
          ({ urls, kind, extra, filler, open, titleLength, quotes, openLink, block, blocks, preset, verify }) => {
            const hook = lengthening(kind, extra, filler);
            const tiny = kind === 'link' ? '<a href=x></a>' : '<img src="https://i.ex.com/a">';
            let opened = openLink ? '<a href="https://e.example/t">' : '';
            for (let i = 0; i < open; i++) opened += `<b title='${i}${(quotes ? '"' : 'v').repeat(titleLength)}'>`;
            const input = `<p>${tiny.repeat(urls)}</p><p>${opened}${block.repeat(blocks)}`;
            let html = '';
            const parses = parsesOf(() => {
              html = createSanitizer({ preset, verify, rewriteUrl: hook.rewriteUrl }).sanitize(input).html;
            });
            // What the rewrite added to the kept URLs (as written): counted once, not multiplied.
            const first = parses[0];
            if (first === undefined) return;
            expect(html.length).toBeLessThanOrEqual(rewriteOutputBound(first));
            for (const work of parses) {
              expect(rewriteGrowthOf(work)).toEqual(rewriteGrowthOf(first));
              expect(work.elements).toBeLessThanOrEqual((2 * input.length) / 3 + 4096 + 1);
              expect(work.attributeChars).toBeLessThanOrEqual(rewriteAttributeBound(work) + 3000);
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  });

  it('gives the strict pass the allowances of the first pass, not of the output it must give back', () => {
    // 3.5 KB that every browser renders as about 80 KB: the strict pass sanitizes those 80 KB again.
    const url = `https://click.example.com/ls/click?upn=${'a1B2c3D4e5'.repeat(22)}`;
    const input = `<p><a href="${url}">Click here${'<p>&nbsp;</p>'.repeat(250)}`;
    const parses = parsesOf(() => {
      const result = createSanitizer({ preset: 'email', verify: 'strict' }).sanitize(input);
      expect(result).toMatchObject({ failedClosed: false });
      expect(result.html.length).toBeGreaterThan(15 * input.length);
    });
    // The first pass parses once at least; the strict pass once more.
    expect(parses.length).toBeGreaterThanOrEqual(2);
    const first = parses[0] as ParseWork;
    expect(first.sanitizedLength).toBeLessThan(input.length);
    const basis = ({ elements: _e, attributeChars: _a, ...rest }: ParseWork) => rest;
    for (const work of parses) expect(basis(work)).toEqual(basis(first));
  });

  it('keeps a small email whose unclosed link a browser copies into a few hundred paragraphs', () => {
    // 3.5 KB that every browser renders as about 80 KB: within the slack, not failed closed; and
    // the same shape with 900 spacers (12 KB, rendered as 290 KB), the margin the slack keeps.
    const url = `https://click.example.com/ls/click?upn=${'a1B2c3D4e5'.repeat(22)}`;
    for (const [spacer, spacers] of [
      ['<p>&nbsp;</p>', 250],
      ['<p>&nbsp;</p>', 900],
      // Shorter spacers, less input for the same clones: kept up to about 700.
      ['<p><br>', 500],
    ] as const) {
      const input = `<p><a href="${url}">Click here${spacer.repeat(spacers)}`;
      const result = createSanitizer({ preset: 'email' }).sanitize(input);
      expect(result).toMatchObject({ failedClosed: false });
      expect(result.html.length).toBeGreaterThan(15 * input.length);
    }
  });

  it('keeps markup whose implied table parts make more elements than its tags (no cloning)', () => {
    // Each `<col /><td></td>` builds colgroup, col, tbody, tr and td: 5 elements in 16 characters.
    const input = `<table>${'<col><td></td>'.repeat(20_000)}</table>`;
    expect(createSanitizer().sanitize(input)).toMatchObject({ failedClosed: false });
  });

  it('names the limits relative to the input', () => {
    for (const reason of [AMPLIFICATION_FAILURE, ATTRIBUTE_AMPLIFICATION_FAILURE]) {
      expect(reason).toContain("the input (or its sanitized form less rewriteUrl's additions, if shorter)");
      expect(reason).toContain('+ what rewriteUrl added (parser amplification limit)');
      expect(reason).toContain('(parser amplification limit)');
    }
    expect(ELEMENT_AMPLIFICATION_FAILURE).toContain('the sanitized input (of 2 × the input, if shorter)');
    expect(ELEMENT_AMPLIFICATION_FAILURE).toContain('(parser amplification limit)');
  });

  it('keeps output the parser amplifies within the limits', () => {
    // 20 × 46 × 20 = 21 KB of output from 1.2 KB of input: under 32 × 1.2 KB + 64 KiB.
    const input = amplifying(20, 40, 20);
    const result = createSanitizer().sanitize(input);
    expect(result).toMatchObject({ failedClosed: false, truncated: false });
    expect(result.html.length).toBeGreaterThan(15 * input.length);
    expect(createSanitizer({ verify: 'strict' }).sanitize(input)).toMatchObject({ failedClosed: false });
  });

  it('refuses a maxOutputChars that the escaped truncation marker does not fit, saying how to fix it', () => {
    let error: unknown;
    try {
      createSanitizer({ limits: { maxOutputChars: 16 }, truncationMarker: '<<<<<<<<' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SanitizeError);
    expect((error as SanitizeError).code).toBe('ERR_SANITIZE_INVALID_OPTIONS');
    expect((error as SanitizeError).problems.join('\n')).toMatch(/escaped.*raise limits\.maxOutputChars/);
    expect((error as SanitizeError).message).not.toContain('<<<<');
    // `&lt;` × 8 is 32 characters, + 8 for text.
    const s = createSanitizer({ limits: { maxOutputChars: 40 }, truncationMarker: '<<<<<<<<' });
    const result = s.sanitize('y'.repeat(60));
    expect(result).toMatchObject({ html: `${'y'.repeat(8)}${'&lt;'.repeat(8)}`, failedClosed: false, truncated: true });
  });

  it('cuts before an rp that does not fit, so the marker stays visible and nothing is reported hidden', () => {
    const s = createSanitizer({ limits: { maxOutputChars: 40 }, truncationMarker: '[more]' });
    const result = s.sanitize(`<ruby>x<rp>${'('.repeat(60)}</rp><rt>y</rt></ruby>`);
    expect(result).toMatchObject({ html: '<ruby>x[more]</ruby>', failedClosed: false, truncated: true });
    expect(result.removed.filter((removal) => removal.name === 'rp')).toEqual([]);
  });
});
