import { describe, expect, it } from 'vitest';
import { closestOption } from './option-keys.ts';

const KNOWN = ['allowTags', 'allowedLinkHosts', 'allowedImageHosts', 'maxUrlLength', 'maxInputBytes'];

describe('closestOption', () => {
  it('names the option a key differs from by case, - or _, or one edit', () => {
    expect(closestOption('AllowTags', KNOWN)).toBe('allowTags');
    expect(closestOption('max_input_bytes', KNOWN)).toBe('maxInputBytes');
    expect(closestOption('allowedLinkHost', KNOWN)).toBe('allowedLinkHosts');
    expect(closestOption('allowTgas', KNOWN)).toBe('allowTags');
    expect(closestOption('maxUrlLenght', KNOWN)).toBe('maxUrlLength');
    expect(closestOption('alowTags', KNOWN)).toBe('allowTags');
  });

  it('names none for a key two edits away, a tie, a symbol, a long key or one with other characters', () => {
    expect(closestOption('alowTag', KNOWN)).toBeUndefined();
    expect(closestOption('ab', ['aa', 'ac'])).toBeUndefined();
    expect(closestOption(Symbol('allowTags'), KNOWN)).toBeUndefined();
    expect(closestOption(`allowTags${'_'.repeat(60)}`, KNOWN)).toBeUndefined();
    expect(closestOption('allowTags ', KNOWN)).toBeUndefined();
    expect(closestOption('allow.Tags', KNOWN)).toBeUndefined();
  });
});
