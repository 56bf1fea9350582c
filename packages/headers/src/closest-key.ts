/**
 * The known name a misspelt one was meant to be, for "did you mean …?" in option and CSP errors.
 * Only a near-miss is ever matched, so a message built from the result names a known name, never
 * something pasted in its place (a token, a URL).
 */

/** Longer keys are never matched, so the edit distance below stays small. */
const MAX_SUGGESTED_KEY = 64;

/**
 * Edit distance counting a swap of two neighbouring characters as one edit (`scirpt` → `script`,
 * optimal string alignment), or `limit + 1` as soon as it must exceed `limit`. Both strings are short.
 */
function distanceWithin(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) > limit) return limit + 1;
  let beforePrevious: number[] = [];
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    let best = i;
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let value = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        value = Math.min(value, (beforePrevious[j - 2] as number) + 1);
      }
      current.push(value);
      best = Math.min(best, value);
    }
    if (best > limit) return limit + 1;
    beforePrevious = previous;
    previous = current;
  }
  return previous[b.length] as number;
}

/** Edits a misspelling of `known` may be away from it: three for a long name (`policy` → `policies`). */
const allowedEdits = (known: string): number => (known.length >= 8 ? 3 : 2);

/**
 * Edits a name may be away from the Permissions-Policy feature `known` and still be taken for a
 * misspelling of it, which refuses the name: one (a typo: `camra`, `langauge-model`, `midis`), none
 * for a feature of under four letters. More reach other words (`push` and `web` are two from `usb`,
 * `face-detection` three from `idle-detection`), and a feature newer than the list must go through.
 */
export const featureEdits = (known: string): number => (known.replace(/[-_]/g, '').length >= 4 ? 1 : 0);

/**
 * The known key `key` is a misspelling of: the same but for case, `-`/`_`, or up to `edits(known)`
 * edits (by default two, three for a key of eight or more); none on a tie. Internal: option keys,
 * Permissions-Policy features and CSP directive names are all checked with it.
 */
export function closestKey(
  key: string,
  known: readonly string[],
  edits: (known: string) => number = allowedEdits,
): string | undefined {
  if (!/^[A-Za-z][A-Za-z0-9_-]*$/.test(key) || key.length > MAX_SUGGESTED_KEY) return undefined;
  const fold = (name: string): string => name.toLowerCase().replace(/[-_]/g, '');
  const folded = fold(key);
  const knownFolded = known.map(fold);
  const exact = knownFolded.indexOf(folded);
  if (exact >= 0) return known[exact];
  // The nearest, not the first within reach (`conectSrc` is connect-src, not font-src); none on a tie.
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  let tied = false;
  for (const [i, k] of known.entries()) {
    const limit = edits(k);
    const distance = distanceWithin(knownFolded[i] as string, folded, limit);
    if (distance > limit) continue;
    if (distance < bestDistance) {
      best = k;
      bestDistance = distance;
      tied = false;
    } else if (distance === bestDistance) tied = true;
  }
  return tied ? undefined : best;
}

/**
 * {@link closestKey} for a name as written in a policy: a CSP directive (`script_src`,
 * `SCRIPT-SRC`) or a Permissions-Policy feature (`Geolocation`, `publickey_credentials_get`).
 * A leading `-` or `_` is no part of the name meant: the directive builder writes `ScriptSrc` as
 * `-script-src` (a capital starts a word), and `_script_src` is the same slip. A name longer than
 * any key matched is never one, however many of its characters are `-` or `_`, so a message that
 * names it as written stays short. Internal.
 */
export function closestName(
  name: string,
  known: readonly string[],
  edits?: (known: string) => number,
): string | undefined {
  return name.length > MAX_SUGGESTED_KEY ? undefined : closestKey(name.replace(/^[-_]+/, ''), known, edits);
}
