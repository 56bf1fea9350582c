// The character-level rules of `assessSecret` (weak-secret.ts): entropy, repeats and sequential
// runs, measured on a value as written (or on what measured-text.ts says to measure).

/** Shannon entropy of the value's code points, in bits per character. */
export function shannonBitsPerChar(value: string): number {
  const counts = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < value.length; i++) {
    const code = value.codePointAt(i)!;
    if (code > 0xffff) i++;
    counts.set(code, (counts.get(code) ?? 0) + 1);
    total++;
  }
  let bits = 0;
  for (const count of counts.values()) {
    const p = count / total;
    bits -= p * Math.log2(p);
  }
  return bits;
}

/** True when the value is one stretch repeated end to end: `abcabcabc`. */
export function isRepeatedPattern(value: string): boolean {
  const n = value.length;
  for (let period = 1; period <= n / 2; period++) {
    if (n % period !== 0) continue;
    if (value.slice(0, period).repeat(n / period) === value) return true;
  }
  return false;
}

/** True when some 8-character stretch occurs twice: `Ab3kx9Qz…Ab3kx9Qz`, a key pasted twice. */
export function hasRepeatedStretch(value: string): boolean {
  const seen = new Set<string>();
  for (let i = 0; i + 8 <= value.length; i++) {
    const stretch = value.slice(i, i + 8);
    if (seen.has(stretch)) return true;
    seen.add(stretch);
  }
  return false;
}

/** The longest run of characters each one code unit above (or each below) the last: `abcdef`, `987654`. */
export function longestSequentialRun(value: string): number {
  let longest = 1;
  let run = 1;
  let direction = 0;
  for (let i = 1; i < value.length; i++) {
    const step = value.charCodeAt(i) - value.charCodeAt(i - 1);
    if ((step === 1 || step === -1) && (run === 1 || step === direction)) {
      run++;
      direction = step;
    } else if (step === 1 || step === -1) {
      run = 2;
      direction = step;
    } else {
      run = 1;
      direction = 0;
    }
    longest = Math.max(longest, run);
  }
  return longest;
}

/**
 * True when the value starts or ends with whitespace: a copy-paste artefact (the service would use
 * a key with a line break its issuer does not have). The same rule for a secret given alone and for
 * each secret of a bundle.
 */
export function hasSurroundingWhitespace(value: string): boolean {
  return /^\s|\s$/.test(value);
}
