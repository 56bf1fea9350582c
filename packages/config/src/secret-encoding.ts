import type { SecretEncoding } from './weak-secret.ts';

/** A value decoded in its declared encoding. */
export interface DecodedSecret {
  /** The key length in bytes. */
  readonly bytes: number;
  /**
   * The bytes read as UTF-8 text, when they are valid UTF-8 and the encoding is not `utf8`:
   * `base64(“super-secret-jwt-token-…”)` is the same documented secret as the text it encodes.
   */
  readonly text: string | undefined;
}

// Fatal: a byte sequence that is not UTF-8 is not text, rather than text with U+FFFD in it.
// ignoreBOM keeps a leading U+FEFF in the text instead of dropping it unseen.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Decodes bytes as UTF-8 text; `undefined` when they are not valid UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** Decodes a value in its declared encoding; `undefined` when it is not valid in that encoding. */
export function decodeSecret(value: string, encoding: SecretEncoding): DecodedSecret | undefined {
  let bytes: Buffer;
  switch (encoding) {
    case 'utf8':
      return { bytes: Buffer.byteLength(value, 'utf8'), text: undefined };
    case 'hex':
      if (!/^(?:[0-9a-fA-F]{2})+$/.test(value)) return undefined;
      bytes = Buffer.from(value, 'hex');
      break;
    case 'base64':
      if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
      bytes = Buffer.from(value, 'base64');
      break;
    case 'base64url':
      if (!/^[A-Za-z0-9_-]+$/.test(value) || value.length % 4 === 1) return undefined;
      bytes = Buffer.from(value, 'base64url');
      break;
  }
  return { bytes: bytes.length, text: decodeUtf8(bytes) };
}

// Below this many decoded bytes a value is too short to be a copy of a secret worth reading again.
const MIN_SNIFFED_BYTES = 8;

// Text a person or a tool encoded: no control characters but the line breaks and tabs
// `echo … | base64` brings along, no surrogates, private-use or unassigned code points.
const PRINTABLE = /^[^\p{Cc}\p{Cs}\p{Co}\p{Cn}]*$/u;
const LINE_CONTROLS = /[\t\n\r]/g;

/** The bytes as UTF-8 text when they are at least 8 and printable (line breaks and tabs allowed). */
export function printableText(bytes: Uint8Array): string | undefined {
  if (bytes.length < MIN_SNIFFED_BYTES) return undefined;
  const text = decodeUtf8(bytes);
  if (text === undefined || !PRINTABLE.test(text.replace(LINE_CONTROLS, ''))) return undefined;
  return text;
}

/**
 * The printable UTF-8 texts a value strictly parses to as a whole in hex, base64 (canonical
 * padding) or base64url: what a value given as utf8 also means when it is a copied encoded form
 * (a Kubernetes Secret's base64 `data:` pasted into an env var). Random keys almost never decode
 * to valid UTF-8, let alone printable text.
 */
export function sniffedTexts(value: string): string[] {
  const texts: string[] = [];
  const add = (bytes: Buffer): void => {
    const text = printableText(bytes);
    if (text !== undefined && text !== value && !texts.includes(text)) texts.push(text);
  };
  if (/^(?:[0-9a-fA-F]{2})+$/.test(value)) add(Buffer.from(value, 'hex'));
  // Canonical only (Node decodes leniently): the value must be exactly what encoding its bytes gives.
  if (/^[A-Za-z0-9+/]+={0,2}$/.test(value) && value.length % 4 === 0) {
    const bytes = Buffer.from(value, 'base64');
    if (bytes.toString('base64') === value) add(bytes);
  }
  if (/^[A-Za-z0-9_-]+$/.test(value) && value.length % 4 !== 1) {
    const bytes = Buffer.from(value, 'base64url');
    if (bytes.toString('base64url') === value) add(bytes);
  }
  return texts;
}

/**
 * The printable texts the base64 body of a PEM block decodes to, and once more the texts those
 * parse to: `base64(“rampart-dev-…”)` wrapped in PEM armor is the same dev secret as it is bare.
 * A real key's body is DER, which is not printable text.
 */
export function pemBodyTexts(body: string): string[] {
  const text = printableText(Buffer.from(body, 'base64'));
  if (text === undefined) return [];
  return [text, ...sniffedTexts(text).filter((inner) => inner !== text)];
}

/** A text a value encodes, and whether it was found by sniffing rather than by a declared encoding. */
export interface EncodedText {
  readonly text: string;
  /**
   * True when the text was found by trying encodings nobody declared (a `utf8` value, or the second
   * layer of any value): it may be structured text that merely contains words (a base64 Docker
   * `config.json`, a JAAS line, a PEM key), so only the rules that match a whole known value read it.
   */
  readonly sniffed: boolean;
}

/**
 * The texts a value encodes, at most two encodings deep: for a declared `hex`/`base64`/`base64url`
 * value its decoded UTF-8 text, for `utf8` the texts it strictly parses to in any of those (see
 * {@link sniffedTexts}); then once more the texts those parse to (a base64 of a base64).
 */
export function encodedTexts(value: string, encoding: SecretEncoding): EncodedText[] {
  let first: EncodedText[];
  if (encoding === 'utf8') first = sniffedTexts(value).map((text) => ({ text, sniffed: true }));
  else {
    const text = decodeSecret(value, encoding)?.text;
    first = text === undefined || text.length === 0 ? [] : [{ text, sniffed: false }];
  }
  const all = [...first];
  for (const { text } of first)
    for (const inner of sniffedTexts(text))
      if (!all.some((seen) => seen.text === inner)) all.push({ text: inner, sniffed: true });
  return all;
}
