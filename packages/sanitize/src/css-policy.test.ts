import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  filterStyle,
  MAX_BORDER_PX,
  MAX_BOX_SIZE_PX,
  MAX_FONT_SIZE_PX,
  MAX_LINE_HEIGHT_FACTOR,
  MAX_NEGATIVE_SPACING_PX,
  MAX_OFFSET_PX,
  MAX_POSITIVE_SPACING_PX,
} from './css-policy.ts';
import { resolvePolicy } from './policy.ts';

const policy = resolvePolicy({
  preset: 'email',
  rewriteUrl: (u) => (u.startsWith('https://p.test/') ? u : `https://p.test/${encodeURIComponent(u)}`),
});
const run = (css: string, mode: 'sanitize' | 'verify' = 'sanitize') =>
  filterStyle(css, 'td', policy.cssProperties, policy.urls, mode);

describe('filterStyle', () => {
  it('reads CSS units in any case, with every cap applied to the upper-case forms', () => {
    expect(run('font-size: 16PX')).toBe('font-size: 16px');
    expect(run('margin: 1Em 2REM 3Pt 4%')).toBe('margin: 1em 2rem 3pt 4%');
    expect(run('width: 50Vw')).toBe('width: 50vw');
    for (const css of [
      'font-size: 0PX',
      'font-size: 5PX',
      'font-size: 9999PX',
      'letter-spacing: -50PX',
      'letter-spacing: 9999PX',
      'text-indent: 9999PX',
      'margin-left: 100VW',
      'border-left: 9999PX solid #fff',
      'width: 99999PX',
      'line-height: 99999PX',
      'vertical-align: 9999PX',
      'font: 0PX/0 serif',
      'font: 16PX/9999EM serif',
    ]) {
      expect(run(css)).toBe('');
    }
  });

  it.each([
    'width: expression(alert(1))',
    'behavior: url(x.htc)',
    '-moz-binding: url(x)',
    'position: fixed',
    'z-index: 9999',
    'background: url(javascript:alert(1))',
    'color: red; @import "x"',
    'color: r\\65 d',
    'color: red /* x */',
    'margin: -9999px',
    'background-image: image-set("x" 1x)',
    'color: var(--x)',
  ])('drops %j', (css) => {
    expect(run(css)).not.toMatch(
      /expression|behavior|binding|fixed|z-index|javascript|import|\\|var\(|image-set|-9999/,
    );
  });

  it.each([
    'text-indent: -9999px',
    'text-indent: -100%',
    'letter-spacing: -0.6em',
    'word-spacing: -9999px',
    'font-size: 0',
    'font-size: 0em',
    'font-size: 0.1px',
    'font-size: 1pt',
    'font-size: 0.2em',
    'font-size: 1vw',
    'font-size: 3',
    'font: 0/0 serif',
    'font: 1px serif',
    'font: bold 0.1em/1 arial',
    'color: transparent',
    'color: rgba(0, 0, 0, 0)',
    'color: rgba(0,0,0,.1)',
    'color: rgb(0 0 0 / 0%)',
    'color: hsl(0 0% 0% / 0.2)',
    'color: #0000',
    'color: #ffffff10',
    'display: none',
    'display: inline none',
    'display: table-column',
    'display: table-column-group',
    'display: contents',
    'display: inherit',
    'display: ruby-text',
    'display: block flow',
    'text-indent: 9999px',
    'text-indent: 100vw',
    'padding-left: 9999px',
    'padding: 0 0 0 200em',
    'margin-left: 601px',
    'margin: 0 9999px',
    'margin-left: 10in',
    'margin-left: 60%',
    'text-decoration: overline solid #fff 40px',
    'text-decoration: underline 9em',
    'letter-spacing: 9999px',
    'letter-spacing: 17px',
    'letter-spacing: 2em',
    'letter-spacing: 2vw',
    'word-spacing: 9999px',
    'word-spacing: 1in',
    'word-spacing: 5%',
    'border-left: 9999px solid #fff',
    'border: 51px solid #fff',
    'border-top: solid 2in #000',
    'border-width: 0 0 0 9999px',
    'border-width: 4em',
    'border-spacing: 9999px',
    'border-spacing: 0 60px',
    'width: 99999px',
    'width: 1001px',
    'width: 101%',
    'min-width: 99999px',
    'max-width: 2000px',
    'height: 99999px',
    'min-height: 30in',
    'width: 99999',
    'line-height: 99999px',
    'line-height: 601px',
    'line-height: 9999',
    'line-height: 5',
    'line-height: 500%',
    'line-height: 4.5em',
    'font: 12px/99999px arial',
    'font: 12px/9999 arial',
    'font-size: 9999px',
    'font-size: 97px',
    'font-size: 7em',
    'font-size: 200pt',
    'font-size: 999',
    'font: bold 200px arial',
    'vertical-align: 9999px',
    'vertical-align: 99999%',
    'vertical-align: 17px',
    'vertical-align: 2em',
    'vertical-align: 101%',
    'vertical-align: 1in',
    'vertical-align: 100vh',
    'vertical-align: top middle',
  ])('drops %j, which hides or moves text', (css) => {
    expect(run(css)).toBe('');
  });

  it.each([
    'text-indent: 2em',
    'letter-spacing: 1px',
    'letter-spacing: -0.02em',
    'letter-spacing: -1px',
    'word-spacing: -0.1em',
    'letter-spacing: normal',
    'word-spacing: 0.2em',
    'letter-spacing: 0.3em',
    'letter-spacing: 16px',
    'letter-spacing: 12pt',
    'word-spacing: 1em',
    'word-spacing: 10px',
    'font-size: 12px',
    'font-size: 6px',
    'font-size: 0.8em',
    'font-size: 75%',
    'font-size: x-small',
    'font: bold 12px / 1.4 arial, sans-serif',
    'font: italic 700 14px georgia',
    'color: rgba(0, 0, 0, 0.54)',
    'color: rgb(0 0 0 / 60%)',
    'color: #000f',
    'color: #333',
    'color: hsl(210 50% 40%)',
    'display: inline-block',
    'display: table-cell',
    'display: block',
    'display: table',
    'display: flex',
    'display: list-item',
    'margin: 0 auto',
    'margin-left: 600px',
    'padding: 10px 20px',
    'padding: 0.5em 1em',
    'margin: 0 5%',
    'text-indent: 37.5em',
    'text-decoration: underline',
    'text-decoration: line-through #f00',
    'background-color: transparent',
    'border: 1px solid #ccc',
    'border-left: 4px solid #f00',
    'border-top: medium dashed red',
    'border-width: 0 0 2px 0',
    'border-width: thin',
    'border-spacing: 0',
    'border-spacing: 10px 4px',
    'border-radius: 9999px',
    'width: 100%',
    'width: 600px',
    'width: 1000px',
    'max-width: 100%',
    'min-width: 320px',
    'height: 40px',
    'width: auto',
    'line-height: 0',
    'line-height: 1.5',
    'line-height: 150%',
    'line-height: 24px',
    'line-height: 4',
    'line-height: normal',
    'line-height: 600px',
    'font-size: 96px',
    'font-size: 72pt',
    'font-size: 6em',
    'font-size: xx-large',
    'font: bold 36px / 1.2 arial',
    'font: 900 12px / 48px arial',
    'vertical-align: top',
    'vertical-align: inherit',
    'vertical-align: middle',
    'vertical-align: text-bottom',
    'vertical-align: baseline',
    'vertical-align: super',
    'vertical-align: 0',
    'vertical-align: 16px',
    'vertical-align: 1em',
    'vertical-align: 100%',
  ])('keeps %j', (css) => {
    expect(run(css)).toBe(css);
  });

  it('never keeps a negative length, an illegible font size or an invisible text colour (property)', () => {
    const units = ['', 'px', 'pt', 'pc', 'in', 'cm', 'mm', 'em', 'rem', 'ex', 'ch', '%', 'vw', 'vh'];
    const pxPer: Record<string, number> = { '': 1, px: 1, pt: 4 / 3, pc: 16, in: 96, cm: 96 / 2.54, mm: 96 / 25.4 };
    const number = fc
      .tuple(fc.boolean(), fc.integer({ min: 0, max: 400 }), fc.integer({ min: 0, max: 99 }), fc.constantFrom(...units))
      .map(([neg, whole, frac, unit]) => `${neg ? '-' : ''}${whole / 10}${frac === 0 ? '' : frac}${unit}`);
    const decl = fc.oneof(
      fc
        .tuple(
          fc.constantFrom('text-indent', 'letter-spacing', 'word-spacing', 'margin', 'padding', 'line-height'),
          number,
        )
        .map(([p, v]) => `${p}: ${v}`),
      number.map((v) => `font-size: ${v}`),
      fc.tuple(number, number).map(([a, b]) => `font: ${a}/${b} arial`),
      fc
        .tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 100 }))
        .map(([c, a]) => `color: rgba(${c}, ${c}, ${c}, ${a / 100})`),
    );
    fc.assert(
      fc.property(fc.array(decl, { minLength: 1, maxLength: 4 }), (decls) => {
        const out = run(decls.join('; '));
        // Only letter-/word-spacing may be negative, and only by a little.
        for (const kept of out === '' ? [] : out.split('; ')) {
          const [prop, value] = kept.split(': ') as [string, string];
          if (/(?:^|[\s(,/])-[0-9.]/.test(value)) {
            expect(['letter-spacing', 'word-spacing']).toContain(prop);
            const m = /^-([0-9.]+)([a-z%]*)$/.exec(value);
            expect(m, value).not.toBeNull();
            const relative: Record<string, number> = { em: 16, rem: 16, ex: 8, ch: 8, '%': 0.16, vw: 3.2, vh: 4.8 };
            const px = Number(m?.[1]) * (pxPer[m?.[2] as string] ?? (relative[m?.[2] as string] as number));
            expect(px).toBeLessThanOrEqual(MAX_NEGATIVE_SPACING_PX);
          }
        }
        for (const kept of out === '' ? [] : out.split('; ')) {
          const [prop, value] = kept.split(': ') as [string, string];
          if (prop === 'font-size' || prop === 'font') {
            const size = /^([0-9.]+)([a-z%]*)/.exec(value);
            const factor = pxPer[size?.[2] ?? ''];
            // Absolute sizes are exact; relative ones must at least not be zero.
            if (factor !== undefined) expect(Number(size?.[1]) * factor).toBeGreaterThanOrEqual(6);
            else expect(Number(size?.[1])).toBeGreaterThan(0);
          }
          if (prop === 'color') expect(Number(/, ([0-9.]+)\)$/.exec(value)?.[1])).toBeGreaterThanOrEqual(0.25);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never keeps an indent, margin or padding over MAX_OFFSET_PX (property)', () => {
    const pxPer: Record<string, number> = { '': 1, px: 1, pt: 4 / 3, pc: 16, in: 96, cm: 96 / 2.54, mm: 96 / 25.4 };
    const relative: Record<string, number> = { em: 16, rem: 16, ex: 8, ch: 8, '%': 12.8, vw: 12.8, vh: 10.8 };
    const length = fc
      .tuple(fc.integer({ min: 0, max: 20_000 }), fc.constantFrom(...Object.keys(pxPer), ...Object.keys(relative)))
      .map(([n, unit]) => `${n / 10}${unit}`);
    const prop = fc.constantFrom('text-indent', 'margin', 'margin-left', 'margin-right', 'padding', 'padding-left');
    const decl = fc
      .tuple(prop, fc.array(length, { minLength: 1, maxLength: 4 }))
      .map(([p, v]) => `${p}: ${v.join(' ')}`);
    fc.assert(
      fc.property(decl, (css) => {
        const out = run(css);
        for (const value of out === '' ? [] : (out.split(': ')[1] as string).split(' ')) {
          const m = /^([0-9.]+)([a-z%]*)$/.exec(value);
          const unit = m?.[2] as string;
          expect(Number(m?.[1]) * (pxPer[unit] ?? (relative[unit] as number))).toBeLessThanOrEqual(MAX_OFFSET_PX);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('never keeps a border, box size, line height or font size over its cap, and reports it (property)', () => {
    const pxPer: Record<string, number> = { '': 1, px: 1, pt: 4 / 3, pc: 16, in: 96, cm: 96 / 2.54, mm: 96 / 25.4 };
    const length = fc
      .tuple(fc.integer({ min: 0, max: 200_000 }), fc.constantFrom(...Object.keys(pxPer), 'em', 'rem', '%', 'vw', 'vh'))
      .map(([n, unit]) => `${n / 100}${unit}`);
    const prop = fc.constantFrom(
      'border-width',
      'border-left',
      'border-spacing',
      'width',
      'min-width',
      'height',
      'line-height',
      'font-size',
    );
    fc.assert(
      fc.property(prop, length, (p, value) => {
        const removed: string[] = [];
        const out = filterStyle(`${p}: ${value}`, 'td', policy.cssProperties, policy.urls, 'sanitize', (r) =>
          removed.push(`${r.name}: ${r.reason}`),
        );
        const m = /^([0-9.]+)([a-z%]*)$/.exec(value);
        const n = Number(m?.[1]);
        const unit = m?.[2] as string;
        const abs = pxPer[unit];
        let over: boolean;
        if (p === 'line-height' && (unit === '' || unit === 'em' || unit === '%')) {
          over = (unit === '%' ? n / 100 : n) > MAX_LINE_HEIGHT_FACTOR;
        } else if (p === 'font-size') {
          over = abs === undefined ? false : n * abs > MAX_FONT_SIZE_PX;
        } else if (abs === undefined) {
          over = false;
        } else {
          const cap = p.startsWith('border') ? MAX_BORDER_PX : p === 'line-height' ? MAX_OFFSET_PX : MAX_BOX_SIZE_PX;
          over = n * abs > cap;
        }
        if (over) {
          expect(out).toBe('');
          expect(removed).toEqual([`${p}: CSS value not allowed`]);
        }
        if (out !== '' && abs !== undefined && p.startsWith('border'))
          expect(n * abs).toBeLessThanOrEqual(MAX_BORDER_PX);
      }),
      { numRuns: 1000 },
    );
  });

  it('reports a vertical-align that would move the line out of view', () => {
    const removed: string[] = [];
    const out = filterStyle(
      'vertical-align: 9999px; color: #000',
      'span',
      policy.cssProperties,
      policy.urls,
      'sanitize',
      (r) => removed.push(`${r.name}: ${r.reason}`),
    );
    expect(out).toBe('color: #000');
    expect(removed).toEqual(['vertical-align: CSS value not allowed']);
  });

  it('never keeps a letter-spacing or word-spacing over MAX_POSITIVE_SPACING_PX, and reports it (property)', () => {
    const pxPer: Record<string, number> = { '': 1, px: 1, pt: 4 / 3, pc: 16, in: 96, cm: 96 / 2.54, mm: 96 / 25.4 };
    const relative: Record<string, number> = { em: 16, rem: 16, ex: 8, ch: 8, '%': 12.8, vw: 12.8, vh: 10.8 };
    const length = fc
      .tuple(fc.integer({ min: 0, max: 2_000 }), fc.constantFrom(...Object.keys(pxPer), ...Object.keys(relative)))
      .map(([n, unit]) => `${n / 10}${unit}`);
    fc.assert(
      fc.property(fc.constantFrom('letter-spacing', 'word-spacing'), length, (prop, value) => {
        const removed: string[] = [];
        const out = filterStyle(`${prop}: ${value}`, 'td', policy.cssProperties, policy.urls, 'sanitize', (r) =>
          removed.push(`${r.name}: ${r.reason}`),
        );
        const m = /^([0-9.]+)([a-z%]*)$/.exec(value);
        const unit = m?.[2] as string;
        const px = Number(m?.[1]) * (pxPer[unit] ?? (relative[unit] as number));
        if (px > MAX_POSITIVE_SPACING_PX) {
          expect(out).toBe('');
          expect(removed).toEqual([`${prop}: CSS value not allowed`]);
        } else {
          expect(out).toBe(`${prop}: ${value}`);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('keeps allowlisted declarations normalized, and the result is a fixpoint (property)', () => {
    expect(run("COLOR: Red; font-family: Arial, 'Helvetica Neue'; padding: 1px 2px")).toBe(
      'color: red; font-family: arial, "Helvetica Neue"; padding: 1px 2px',
    );
    const decl = fc
      .tuple(
        fc.constantFrom(
          'color',
          'margin',
          'font',
          'border',
          'background',
          'width',
          'display',
          'position',
          'font-family',
        ),
        fc.array(
          fc.constantFrom(
            'red',
            '#fff',
            '1px',
            '-2em',
            '50%',
            'solid',
            'url(https://a.test/x.png)',
            '"A b"',
            ',',
            '/',
            'rgb(1, 2, 3)',
            'expression(x)',
          ),
          { minLength: 1, maxLength: 4 },
        ),
      )
      .map(([p, v]) => `${p}: ${v.join(' ')}`);
    fc.assert(
      fc.property(fc.array(decl, { maxLength: 5 }), (decls) => {
        const once = run(decls.join('; '));
        expect(run(once, 'verify')).toBe(once);
        expect(run(once)).toBe(once);
      }),
      { numRuns: 500 },
    );
  });
});
