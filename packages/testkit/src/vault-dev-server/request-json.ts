/**
 * Vault decodes request bodies with `UseNumber`: a number stays a `json.Number`, its literal text,
 * and a batch item's `key_version` is checked with `json.Number.Int64()` on that text (`1.0` and
 * `1e0` fail, `9007199254740993` is exact). `JSON.parse` alone loses the text, so the parse keeps
 * it, for the fields that need it only, beside the value (every value parses as before).
 */

/** Fields whose number literal Vault's decoders read. */
const LITERAL_FIELDS: ReadonlySet<string> = new Set(['key_version']);

/** The object holding a field → that field's number literal. Objects die with their request. */
const literals = new WeakMap<object, Map<string, string>>();

/** `JSON.parse` that also keeps the literal text of the numbers in {@link LITERAL_FIELDS}. */
export function parseRequestJson(text: string): unknown {
  // A reviver doubles the parse time of a large batch: skip it when no field could be named
  // key_version (a \u escape could spell the name, so a text with one takes the reviver).
  if (!text.includes('key_version') && !text.includes('\\u')) return JSON.parse(text);
  // Node ≥ 22 passes the source text of a primitive as the reviver's third argument.
  return JSON.parse(
    text,
    function keepLiteral(this: unknown, key: string, value: unknown, context?: { source?: string }) {
      if (typeof value === 'number' && LITERAL_FIELDS.has(key) && typeof context?.source === 'string') {
        if (this !== null && typeof this === 'object') {
          let fields = literals.get(this);
          if (!fields) {
            fields = new Map();
            literals.set(this, fields);
          }
          fields.set(key, context.source);
        }
      }
      return value;
    },
  );
}

/**
 * The literal text of the number at `holder[key]` as the request wrote it, or `undefined` when the
 * value did not come from {@link parseRequestJson} (then `String(value)` is the best guess).
 */
export function numberLiteral(holder: object, key: string): string | undefined {
  return literals.get(holder)?.get(key);
}
