/**
 * JSON for token headers and claims sets. `JSON.parse` resolves duplicate members last-wins, so
 * two parsers (ours, a downstream service's, a logging pipeline's) can disagree on what a token
 * says; RFC 7515 §5.2 lets a verifier reject such input and we do. `__proto__` members are
 * rejected too, and every object comes back with a null prototype so no claim can shadow or reach
 * `Object.prototype`.
 */

/** Why {@link parseStrictJson} refused its input; never carries the input. */
export class StrictJsonError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrictJsonError';
  }
}

/** A JSON value as returned by {@link parseStrictJson}: objects have a null prototype. */
export type JsonValue = null | boolean | number | string | JsonValue[] | JsonObject;
/** A JSON object with a null prototype. */
export interface JsonObject {
  [member: string]: JsonValue;
}

const MAX_DEPTH = 32;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** Options of {@link parseStrictJson}. */
export interface StrictJsonOptions {
  /**
   * Called for an object with a duplicate or `__proto__` member instead of refusing the whole
   * input; the member is then left out. For containers whose entries are judged one by one (a JWKS).
   */
  readonly onRefusedMember?: (object: JsonObject) => void;
}

/**
 * Parses `text` as JSON, rejecting duplicate object members, `__proto__` members, nesting deeper
 * than 32 levels and non-finite numbers (`1e400`). Objects in the result have a null prototype.
 */
export function parseStrictJson(text: string, options: StrictJsonOptions = {}): JsonValue {
  let position = 0;
  const onRefusedMember = options.onRefusedMember;

  const fail = (what: string): never => {
    throw new StrictJsonError(`${what} at offset ${position}`);
  };
  const skipWhitespace = (): void => {
    for (;;) {
      const c = text.charCodeAt(position);
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) position++;
      else return;
    }
  };
  const parseString = (): string => {
    const start = position;
    let escaped = false;
    position++; // opening quote
    for (;;) {
      const c = text.charCodeAt(position);
      if (Number.isNaN(c)) fail('unterminated string');
      if (c === 0x22) break;
      if (c < 0x20) fail('control character in string');
      if (c === 0x5c) {
        escaped = true;
        const next = text[position + 1];
        if (next === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(position + 2, position + 6))) fail('bad unicode escape');
          position += 6;
          continue;
        }
        if (next === undefined || !'"\\/bfnrt'.includes(next)) fail('bad escape');
        position += 2;
        continue;
      }
      position++;
    }
    position++; // closing quote
    return escaped ? (JSON.parse(text.slice(start, position)) as string) : text.slice(start + 1, position - 1);
  };
  const parseNumber = (): number => {
    NUMBER.lastIndex = position;
    const match = NUMBER.exec(text);
    if (!match) return fail('bad number');
    position += match[0].length;
    const value = Number(match[0]);
    if (!Number.isFinite(value)) fail('number out of range');
    return value;
  };
  const parseLiteral = (word: string, value: JsonValue): JsonValue => {
    if (text.startsWith(word, position)) {
      position += word.length;
      return value;
    }
    return fail('unexpected token');
  };
  const parseValue = (depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    skipWhitespace();
    const c = text[position];
    if (c === '{') {
      position++;
      const object = Object.create(null) as JsonObject;
      skipWhitespace();
      if (text[position] === '}') {
        position++;
        return object;
      }
      for (;;) {
        skipWhitespace();
        if (text[position] !== '"') fail('expected member name');
        const name = parseString();
        const refused = name === '__proto__' || Object.hasOwn(object, name);
        if (refused && onRefusedMember === undefined) {
          fail(name === '__proto__' ? 'forbidden member name' : 'duplicate member');
        }
        skipWhitespace();
        if (text[position] !== ':') fail('expected colon');
        position++;
        const value = parseValue(depth + 1);
        if (refused) onRefusedMember?.(object);
        else object[name] = value;
        skipWhitespace();
        if (text[position] === ',') {
          position++;
          continue;
        }
        if (text[position] === '}') {
          position++;
          return object;
        }
        fail('expected comma or closing brace');
      }
    }
    if (c === '[') {
      position++;
      const array: JsonValue[] = [];
      skipWhitespace();
      if (text[position] === ']') {
        position++;
        return array;
      }
      for (;;) {
        array.push(parseValue(depth + 1));
        skipWhitespace();
        if (text[position] === ',') {
          position++;
          continue;
        }
        if (text[position] === ']') {
          position++;
          return array;
        }
        fail('expected comma or closing bracket');
      }
    }
    if (c === '"') return parseString();
    if (c === 't') return parseLiteral('true', true);
    if (c === 'f') return parseLiteral('false', false);
    if (c === 'n') return parseLiteral('null', null);
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return parseNumber();
    return fail('unexpected token');
  };

  const value = parseValue(0);
  skipWhitespace();
  if (position !== text.length) fail('trailing data');
  return value;
}

/** True for a plain JSON object produced by {@link parseStrictJson}. */
export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
