import { describe, expect, it } from 'vitest';
import { createSanitizer } from './index.ts';

describe('limits.maxAttributesPerElement', () => {
  const inputs = [
    '<details>x</details>',
    '<details title="t">x</details>',
    '<details title="t" lang="en">x</details>',
    '<details open title="t" lang="en">x</details>',
    '<details title="t" open lang="en">x</details>',
    '<details title="t" lang="en" open>x</details>',
    '<details title="t" lang="en" id="a" open="OPEN">x</details>',
  ];

  it('keeps up to the cap of the input attributes on details, plus the open it forces', () => {
    for (const verify of ['standard', 'strict'] as const) {
      for (const cap of [1, 2, 3]) {
        const s = createSanitizer({
          verify,
          limits: { maxAttributesPerElement: cap },
          allowAttributes: { details: ['title', 'lang'] },
        });
        for (const input of inputs) {
          const result = s.sanitize(input);
          const where = `${verify}, cap ${cap}: ${input}`;
          expect(result.failedClosed, where).toBe(false);
          const details = /^<details([^>]*)>/.exec(result.html)?.[1] ?? '';
          const names = [...details.matchAll(/ ([a-z]+)/g)].map((m) => m[1]);
          expect(names, where).toContain('open');
          const given = [...input.matchAll(/ (title|lang|id)=/g)].length;
          // The forced open never takes the place of an input attribute, and never adds one over the cap.
          expect(
            names.filter((n) => n !== 'open'),
            where,
          ).toHaveLength(Math.min(cap, given));
          // A kept open is never reported as removed.
          expect(
            result.removed.filter((r) => r.name === 'details[open]'),
            where,
          ).toEqual([]);
          expect(s.sanitizeToString(result.html), where).toBe(result.html);
        }
      }
    }
  });

  it('does not let an input open take the slot of another attribute', () => {
    const s = createSanitizer({ limits: { maxAttributesPerElement: 1 }, allowAttributes: { details: ['title'] } });
    expect(s.sanitizeToString('<details open title="t">x</details>')).toBe('<details open title="t">x</details>');
    expect(s.sanitizeToString('<details title="t" lang="en">x</details>')).toBe('<details title="t" open>x</details>');
  });
});
