import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { filterStyle } from './css-policy.ts';
import { resolvePolicy } from './policy.ts';

const policy = resolvePolicy({
  preset: 'email',
  rewriteUrl: (u) => (u.startsWith('https://p.test/') ? u : `https://p.test/${encodeURIComponent(u)}`),
});
const run = (css: string, mode: 'sanitize' | 'verify' = 'sanitize') =>
  filterStyle(css, 'td', policy.cssProperties, policy.urls, mode);

describe('filterStyle', () => {
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
