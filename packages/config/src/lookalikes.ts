/**
 * Letters that look like an ASCII letter but are not one, keyed by the ASCII letter they pass for.
 * A compact, hand-picked subset of Unicode's confusables.txt (UTS #39): the Cyrillic and Greek
 * letters a keyboard layout or a homoglyph generator puts in place of Latin ones, small capitals,
 * and the Latin letters with a stroke that have no canonical decomposition (so NFD leaves them).
 * Accented letters (é, ё, ά), fullwidth (ｐ), mathematical (𝐩), circled (ⓟ) and ligature (ﬁ) forms
 * need no entry: NFKD turns them into a base letter (plus marks, which are stripped) first.
 * Only non-ASCII characters that NFKD leaves alone are listed, so ASCII text folds to itself and
 * every entry is reached (both tested). Case is kept: the placeholder rule reads it.
 */
export const LOOKALIKES: Readonly<Record<string, string>> = Object.freeze({
  // Cyrillic а, Latin alpha ɑ, Greek α, small capital ᴀ
  a: '\u0430\u0251\u03b1\u1d00',
  A: '\u0410\u0391',
  // Cyrillic в (a small capital B), Latin b with stroke ƀ, small capital ʙ
  b: '\u0432\u0180\u0299',
  B: '\u0412\u0392',
  // Cyrillic с, small capital ᴄ
  c: '\u0441\u1d04',
  C: '\u0421',
  // Cyrillic komi de ԁ, Latin d with stroke đ
  d: '\u0501\u0111',
  D: '\u0110',
  // Cyrillic е, small capital ᴇ
  e: '\u0435\u1d07',
  E: '\u0415\u0395',
  // Latin script g ɡ, small capital ɢ
  g: '\u0261\u0262',
  // Cyrillic shha һ, Cyrillic н (a small capital H), Latin h with stroke ħ, small capital ʜ
  h: '\u04bb\u043d\u0127\u029c',
  H: '\u041d\u0397\u0126',
  // Cyrillic і, dotless ı, Greek ι, Latin iota ɩ, i with stroke ɨ, small capital ɪ
  i: '\u0456\u0131\u03b9\u0269\u0268\u026a',
  I: '\u0406\u0399\u04c0',
  // Cyrillic ј, Greek yot ϳ, dotless ȷ, small capital ᴊ
  j: '\u0458\u03f3\u0237\u1d0a',
  J: '\u0408',
  // Cyrillic к, Greek κ, small capital ᴋ
  k: '\u043a\u03ba\u1d0b',
  K: '\u041a\u039a',
  // Cyrillic palochka ӏ, Latin l with stroke ł, small capital ʟ
  l: '\u04cf\u0142\u029f',
  L: '\u0141',
  // Cyrillic м, small capital ᴍ
  m: '\u043c\u1d0d',
  M: '\u041c\u039c',
  // Greek eta η, small capital ɴ
  n: '\u03b7\u0274',
  N: '\u039d',
  // Cyrillic о, Greek ο and σ, Armenian օ, o with stroke ø, small capital ᴏ
  o: '\u043e\u03bf\u03c3\u0585\u00f8\u1d0f',
  O: '\u041e\u039f\u00d8',
  // Cyrillic р, Greek ρ, small capital ᴘ
  p: '\u0440\u03c1\u1d18',
  P: '\u0420\u03a1',
  // Cyrillic qa ԛ
  q: '\u051b',
  Q: '\u051a',
  // Cyrillic г, small capital ʀ
  r: '\u0433\u0280',
  // Cyrillic dze ѕ, small capital ꜱ
  s: '\u0455\ua731',
  S: '\u0405',
  // Cyrillic т (a small capital T), t with stroke ŧ, small capital ᴛ
  t: '\u0442\u0167\u1d1b',
  T: '\u0422\u03a4\u0166',
  // Greek υ, Armenian ս, small capital ᴜ
  u: '\u03c5\u057d\u1d1c',
  // Greek ν, small capital ᴠ
  v: '\u03bd\u1d20',
  // Cyrillic we ԝ, Greek ω, small capital ᴡ
  w: '\u051d\u03c9\u1d21',
  W: '\u051c',
  // Cyrillic х, Greek χ
  x: '\u0445\u03c7',
  X: '\u0425\u03a7',
  // Cyrillic у and ү, Greek γ
  y: '\u0443\u04af\u03b3',
  Y: '\u0423\u04ae\u03a5',
  // small capital ᴢ
  z: '\u1d22',
  Z: '\u0396',
});

const TO_ASCII: ReadonlyMap<string, string> = new Map(
  Object.entries(LOOKALIKES).flatMap(([ascii, chars]) => [...chars].map((char) => [char, ascii] as const)),
);

// Combining marks (after NFKD: the accents of é, ё, ά), and default-ignorable code points: zero-width
// space/joiners, soft hyphen, word joiner, BOM, bidi controls, variation selectors, tags.
const INVISIBLE = /[\p{M}\p{Default_Ignorable_Code_Point}]/gu;
const NON_ASCII = /[^\p{ASCII}]/u;

/**
 * Folds Unicode lookalikes onto ASCII before the word-based weak-secret rules run, so `ｃｈａｎｇｅｍｅ`,
 * `сhangeme` (Cyrillic с), `pässword` and `pass\u200bword` are read as the words they show.
 * NFKC (compatibility forms) and NFD (split accents) as one NFKD pass, then combining marks and
 * default-ignorable characters are dropped and the lookalike letters above mapped. ASCII folds to
 * itself, so the false-positive rate of random ASCII keys and passwords is unchanged.
 */
export function foldLookalikes(value: string): string {
  if (!NON_ASCII.test(value)) return value;
  let out = '';
  for (const char of value.normalize('NFKD').replace(INVISIBLE, '')) out += TO_ASCII.get(char) ?? char;
  return out;
}
