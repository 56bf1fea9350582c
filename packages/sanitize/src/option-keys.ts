/**
 * Option keys: the known ones, a problem for each unknown one, and the option a misspelt key was
 * meant to be, for "did you mean …?" in `ERR_SANITIZE_INVALID_OPTIONS`. Option keys come from the
 * caller's config (often a JSON file), so a key is never written into a message: only a known option
 * name is, and only when the key is a near-miss of exactly one.
 */
import type { SanitizeLimits, SanitizeOptions } from './policy.ts';

/** Every key of {@link SanitizeOptions}; any other own key of the options is refused. */
export const OPTION_KEYS = [
  'preset',
  'allowTags',
  'allowAttributes',
  'allowClasses',
  'allowCssProperties',
  'allowSchemes',
  'allowDataImages',
  'allowRemoteImages',
  'allowRelativeUrls',
  'allowedLinkHosts',
  'allowedImageHosts',
  'rewriteUrl',
  'linkRel',
  'targetBlank',
  'limits',
  'verify',
  'truncationMarker',
] as const satisfies readonly (keyof SanitizeOptions)[];

/** Every key of {@link SanitizeLimits}; any other own key of `limits` is refused. */
export const LIMIT_KEYS = [
  'maxInputBytes',
  'nestingLimit',
  'maxOutputChars',
  'maxAttributeLength',
  'maxAttributesPerElement',
  'maxUrlLength',
  'maxDataUrlLength',
] as const satisfies readonly (keyof SanitizeLimits)[];

// A key added to an interface but not to its list would be refused as unknown: fail to compile instead.
type Missing<All, Listed> = Exclude<All, Listed> extends never ? true : Exclude<All, Listed>;
const everyOptionListed: Missing<keyof SanitizeOptions, (typeof OPTION_KEYS)[number]> = true;
const everyLimitListed: Missing<keyof SanitizeLimits, (typeof LIMIT_KEYS)[number]> = true;
void everyOptionListed;
void everyLimitListed;

/**
 * A problem for every own key of `object` that is not in `known`, by position (1-based, in
 * `Reflect.ownKeys` order), never by name: the key is the caller's, and may be anything. A key a
 * known name is a near-miss of names that known name, which is ours.
 */
export function unknownKeyProblems(object: object, known: readonly string[], path: string, noun: string): string[] {
  const problems: string[] = [];
  Reflect.ownKeys(object).forEach((key, i) => {
    if (typeof key === 'string' && known.includes(key)) return;
    const meant = closestOption(key, known);
    problems.push(
      meant === undefined
        ? `${path} key ${i + 1} is a key that is not ${noun}; remove it (see the options table in the README).`
        : `${path} key ${i + 1} is not ${noun}; did you mean ${meant}? Rename it.`,
    );
  });
  return problems;
}

/** Longer keys are never matched: no option name is close to that long. */
const MAX_SUGGESTED_KEY = 64;

/** Folds what a misspelling most often changes: case and `-`/`_` (`Allow_Tags`, `max-input-bytes`). */
const fold = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');

/**
 * Whether `a` is at most one edit from `b`: one character inserted, deleted, replaced, or two
 * neighbouring characters swapped (`allowTgas`).
 */
function withinOneEdit(a: string, b: string): boolean {
  if (a === b) return true;
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  if (a.length === b.length) {
    if (a.slice(i + 1) === b.slice(i + 1)) return true;
    return a[i] === b[i + 1] && a[i + 1] === b[i] && a.slice(i + 2) === b.slice(i + 2);
  }
  return a.length > b.length ? a.slice(i + 1) === b.slice(i) : a.slice(i) === b.slice(i + 1);
}

/**
 * The known name `key` is a misspelling of: the same but for case and `-`/`_`, or one edit from it;
 * none on a tie, for a symbol, or for a key with any other character (so a suggestion is never a
 * guess at something pasted in the wrong place). Internal.
 */
export function closestOption(key: string | symbol, known: readonly string[]): string | undefined {
  if (typeof key !== 'string' || key.length > MAX_SUGGESTED_KEY || !/^[A-Za-z][A-Za-z0-9_-]*$/.test(key)) {
    return undefined;
  }
  const folded = fold(key);
  const same = known.filter((name) => fold(name) === folded);
  if (same.length > 0) return same.length === 1 ? same[0] : undefined;
  const near = known.filter((name) => withinOneEdit(fold(name), folded));
  return near.length === 1 ? near[0] : undefined;
}
