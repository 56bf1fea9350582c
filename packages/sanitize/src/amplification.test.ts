import { describe, expect, it } from 'vitest';
import { createSanitizer, SanitizeError } from './index.ts';
import { serializeChildren } from './serialize.ts';
import { parseInFlowContainer } from './verify.ts';

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

const AMPLIFICATION_FAILURE = 'output larger than 64 × its input + 64 KiB (parser amplification limit)';

describe('createSanitizer', () => {
  it('cuts output the parser amplifies at maxOutputChars instead of writing it all out first', () => {
    // 212 KB of input whose whole output is about 560 MB: serializing it all threw a RangeError.
    const s = createSanitizer({ limits: { maxOutputChars: 10_000 } });
    const result = s.sanitize(amplifying(2800));
    expect(result).toMatchObject({ failedClosed: false, truncated: true });
    expect(result.html.length).toBeLessThanOrEqual(10_000);
    expect(result.html).toContain('…');
    expect(serializeChildren(parseInFlowContainer(result.html)).html).toBe(result.html);
  });

  it('fails closed, naming the amplification limit, when output would grow past 64 × the input + 64 KiB', () => {
    const s = createSanitizer();
    for (const [paragraphs, titleLength] of [
      [2800, 4000],
      [300, 1000],
    ] as const) {
      const result = s.sanitize(amplifying(paragraphs, titleLength));
      expect(result).toMatchObject({
        html: 'x'.repeat(paragraphs),
        failedClosed: true,
        truncated: false,
        failure: AMPLIFICATION_FAILURE,
      });
      expect(result.removed).toContainEqual({ kind: 'verification', name: 'output', reason: AMPLIFICATION_FAILURE });
    }
  });

  it('fails closed, naming the element limit, when the parser would build more elements than the input has characters', () => {
    // 60 short-titled b elements cloned into each of 2000 paragraphs: 120,000 elements from 9 KB.
    const result = createSanitizer().sanitize(amplifying(2000, 4, 60));
    expect(result).toMatchObject({
      html: 'x'.repeat(2000),
      failedClosed: true,
      failure: 'more elements than input characters (parser amplification limit)',
    });
  });

  it('keeps output the parser amplifies within the limit', () => {
    // 50 × 100 × 20 = 100 KB of output from 5 KB of input: under 64 × 5 KB + 64 KiB.
    const result = createSanitizer().sanitize(amplifying(20, 100));
    expect(result).toMatchObject({ failedClosed: false, truncated: false });
    expect(result.html.length).toBeGreaterThan(100_000);
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
