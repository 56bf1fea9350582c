/**
 * Vault decodes request bodies with `UseNumber`: a number stays a `json.Number`, its literal text.
 * Transit's batch decoders read that text: `key_version` through `json.Number.Int64()` (`1.0` and
 * `1e0` fail, `9007199254740993` is exact), and rewrap's mapstructure takes a number in a string
 * field as the text as written (`1.50`, not `1.5`). `JSON.parse` alone loses the text, so the parse
 * can keep it beside the value (every value parses as before).
 *
 * Keeping literals needs `JSON.parse`'s reviver, which is slow and recursive. Measured on Node 24
 * (2 cores), medians of 5: a 40,000-item encrypt batch of 6.3 MiB parses in 0.22 s plain and
 * 0.4-0.5 s with the reviver (a reviewer measured up to 10x on another machine), and the reviver
 * overflows the stack near a nesting depth of 2,300 where plain `JSON.parse` does not. So
 * the server asks for literals only on the paths that read them (transit encrypt, decrypt and
 * rewrap), the reviver runs only when the body holds a number at all, and a body nested too deep
 * for it is parsed again without literals (its numbers then read as JavaScript spells them).
 */

/** The object or array holding a number → its key → the literal, when not JavaScript's spelling. */
const literals = new WeakMap<object, Map<string, string>>();

export interface ParseRequestJsonOptions {
  /** Keep every number's literal text for {@link numberText}. */
  readonly keepNumberLiterals: boolean;
}

/** `JSON.parse`, keeping number literals when asked to (see the module comment for the cost). */
export function parseRequestJson(text: string, { keepNumberLiterals }: ParseRequestJsonOptions): unknown {
  if (!keepNumberLiterals || !hasNumber(text)) return JSON.parse(text);
  try {
    return JSON.parse(text, keepLiteral);
  } catch (error) {
    // V8 revives recursively; plain JSON.parse handles any depth. A syntax error throws again here.
    if (error instanceof RangeError) return JSON.parse(text);
    throw error;
  }
}

/** The reviver. Node ≥ 21 passes a primitive's source text as the third argument. */
function keepLiteral(this: unknown, key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && typeof context?.source === 'string' && context.source !== String(value)) {
    const holder = this as object;
    let fields = literals.get(holder);
    if (!fields) {
      fields = new Map();
      literals.set(holder, fields);
    }
    fields.set(key, context.source);
  }
  return value;
}

/**
 * Whether a number token stands outside every string: only then can a literal differ from the
 * value's spelling. One linear pass over the characters (a regular expression that steps over
 * strings whole rescans from every unterminated quote: quadratic on a malformed body).
 */
function hasNumber(text: string): boolean {
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      // An escape skips the next character.
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      return true;
    }
  }
  return false;
}

/** Go's `encoding/json` refuses a value nested deeper than this (`maxNestingDepth`). */
export const MAX_JSON_NESTING = 10_000;

/**
 * Vault's listener default for `max_json_depth` (`CustomMaxJSONDepth` in sdk/helper/jsonutil): Vault
 * 1.21.0, 1.20.3, 1.19.9, 1.18.14, 1.16.25 and later refuse a deeper body before routing it.
 */
export const VAULT_MAX_JSON_DEPTH = 500;

/**
 * Vault's listener default for `max_json_string_value_length` (1,048,576, its listener docs and
 * `CustomMaxJSONStringValueLength`), from the same releases on.
 */
export const VAULT_MAX_JSON_STRING_VALUE_LENGTH = 1024 * 1024;

/** `jsonutil.VerifyMaxDepthStreaming`'s error for a body nested deeper than `max_json_depth`. */
export const JSON_DEPTH_ERROR = 'JSON input exceeds allowed nesting depth';

/** `jsonutil.VerifyMaxDepthStreaming`'s error for a string longer than `max_json_string_value_length`. */
export const JSON_STRING_LENGTH_ERROR = 'JSON string value exceeds allowed length';

export interface JsonLimits {
  /** Arrays and objects open at once, the outermost counting as 1 (`max_json_depth`). */
  readonly maxDepth: number;
  /** UTF-8 bytes of one string, key or value (`max_json_string_value_length`). */
  readonly maxStringValueLength: number;
}

/**
 * The error Vault's listener answers (with 500, before routing) for the first of `text`'s strings
 * and containers, in document order, that breaks `limits`; `undefined` if none does. As
 * `jsonutil.VerifyMaxDepthStreaming` (called by `jsonLimitsValidation` in Vault's http package), a
 * body whose first significant byte (after Go's JSON whitespace) is not `{` or `[` is not scanned.
 *
 * Vault's source holds two revisions of that scanner: one reads `encoding/json` tokens and compares
 * a string's decoded length, a later one counts its raw bytes, escapes included. A string is
 * refused here only when both would refuse it (its decoded UTF-8 length is over the limit: the raw
 * text is never shorter). An unterminated string is left to the parser. One linear pass.
 */
export function jsonLimitsProblem(text: string, limits: JsonLimits): string | undefined {
  let start = 0;
  while (start < text.length && /[ \t\r\n]/.test(text.charAt(start))) start++;
  const first = text.charCodeAt(start);
  if (first !== 0x5b && first !== 0x7b) return undefined;
  let depth = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      const open = i;
      let escaped = false;
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i);
        if (d === 0x5c) {
          escaped = true;
          i++;
        } else if (d === 0x22) {
          break;
        }
      }
      if (i >= text.length) return undefined;
      // A UTF-16 code unit is at most 3 UTF-8 bytes: most strings need no measuring.
      if (
        (i - open - 1) * 3 > limits.maxStringValueLength &&
        decodedLength(text, open, i, escaped) > limits.maxStringValueLength
      ) {
        return JSON_STRING_LENGTH_ERROR;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth) return JSON_DEPTH_ERROR;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return undefined;
}

/**
 * UTF-8 length of the string literal `text[open..close]` (quotes included) once decoded; 0 when it
 * does not decode (the parser then refuses the body).
 */
function decodedLength(text: string, open: number, close: number, escaped: boolean): number {
  const content = text.slice(open + 1, close);
  // A raw control character: the token-reading revision refuses the body for it, not for its length.
  for (let i = 0; i < content.length; i++) if (content.charCodeAt(i) < 0x20) return 0;
  if (!escaped) return Buffer.byteLength(content, 'utf8');
  try {
    return Buffer.byteLength(JSON.parse(text.slice(open, close + 1)) as string, 'utf8');
  } catch {
    return 0;
  }
}

/**
 * Whether `text` opens more than `limit` arrays or objects at once, the outermost counting as 1, as
 * `jsonutil.VerifyMaxDepthStreaming` counts (see {@link jsonLimitsProblem}).
 */
export function nestsTooDeep(text: string, limit: number): boolean {
  return (
    jsonLimitsProblem(text, { maxDepth: limit, maxStringValueLength: Number.POSITIVE_INFINITY }) === JSON_DEPTH_ERROR
  );
}

/**
 * The text of the number at `holder[key]` (an array's key is its index) as the request wrote it:
 * the kept literal, else JavaScript's spelling (the same text, or a body parsed without literals).
 */
export function numberText(holder: object, key: string): string {
  return literals.get(holder)?.get(key) ?? String((holder as Record<string, unknown>)[key]);
}
