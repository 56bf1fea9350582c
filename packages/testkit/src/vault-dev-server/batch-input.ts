import { type Fields, has, readInt, readString } from './fields.ts';
import { numberText } from './request-json.ts';
import { userError, VaultHttpError } from './vault-http-error.ts';

/** One request item: the single request's own fields, or one entry of `batch_input`. */
export interface BatchItem {
  readonly fields: Fields;
  readonly reference: string;
  /**
   * `key_version` as Vault reads it for this item. A batch entry's was decoded with the batch; the
   * single request's is read when the item runs (an unconvertible one fails the request with 400).
   */
  keyVersion(): number | undefined;
}

/**
 * How `batch_input` entries are read (Vault 1.21, the version the dev server reports). Encrypt and
 * decrypt decode them with `decodeBatchRequestItems` (path_encrypt.go): a field of the wrong type,
 * and an entry without the field the operation needs (`plaintext`, `ciphertext`), fail the whole
 * request. Rewrap (since Vault 1.19) decodes with plain `mapstructure.Decode` (v1.5) into its own
 * `RewrapBatchRequestItem`: it requires no field, so an entry without `ciphertext` fails in its
 * slot, but it does check the type of every field the struct has, without weak typing, in its own
 * words (`..., value: 'true'`), and ignores every other field.
 */
export type BatchDecoding = { readonly require: 'plaintext' | 'ciphertext' } | 'mapstructure';

/** `BatchRequestItem`'s string fields, in the order `decodeBatchRequestItems` checks them. */
const STRING_FIELDS = [
  'context',
  'ciphertext',
  'plaintext',
  'padding_scheme',
  'nonce',
  'associated_data',
  'reference',
] as const;
/** The fields `decodeBatchRequestItems` refuses `null` for (it skips `null` for the others). */
const NULL_REFUSED: ReadonlySet<string> = new Set(['plaintext', 'padding_scheme']);
const MISSING: Record<'plaintext' | 'ciphertext', string> = {
  plaintext: 'missing plaintext to encrypt',
  ciphertext: 'missing ciphertext to decrypt',
};
/** `RewrapBatchRequestItem`'s string fields (path_rewrap.go, Vault 1.19+): no plaintext, no padding_scheme. */
const REWRAP_STRING_FIELDS = [
  'context',
  'ciphertext',
  'nonce',
  'associated_data',
  'reference',
  'encrypt_padding_scheme',
  'decrypt_padding_scheme',
] as const;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * The items of a request: `batch_input` when it is there, else the request itself as one item.
 * A malformed `batch_input` fails as Vault's plain Go error does (500, see {@link batchParseError}).
 */
export function batchItems(fields: Fields, decoding: BatchDecoding): BatchItem[] {
  if (!has(fields, 'batch_input')) {
    return [{ fields, reference: '', keyVersion: () => readInt(fields, 'key_version') }];
  }
  const raw = fields.batch_input;
  if (decoding === 'mapstructure') return mapstructureItems(raw);
  if (!Array.isArray(raw)) throw batchParseError(`source data must be an array or slice, got ${goType(raw)}`);
  if (raw.length === 0) throw userError('missing batch input to process');
  const problems: string[] = [];
  const items: BatchItem[] = [];
  for (const [index, entry] of raw.entries()) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw batchParseError(`[${index}] expected a map, got '${goType(entry)}'`);
    }
    const decoded = decodeItem(entry as Fields, index, decoding.require);
    problems.push(...decoded.problems);
    items.push(decoded.item);
  }
  if (problems.length > 0) throw decodingError(problems);
  return items;
}

/** What `decodeBatchRequestItems` makes of one entry: types and names, never a string's content. */
function decodeItem(
  item: Fields,
  index: number,
  required: 'plaintext' | 'ciphertext',
): { item: BatchItem; problems: string[] } {
  const problems: string[] = [];
  for (const name of STRING_FIELDS) {
    if (!Object.hasOwn(item, name)) {
      if (name === required) problems.push(`'[${index}].${name}' ${MISSING[required]}`);
      continue;
    }
    const value = item[name];
    if (typeof value === 'string' || (value === null && !NULL_REFUSED.has(name))) continue;
    problems.push(`'[${index}].${name}' expected type 'string', got unconvertible type '${goType(value)}'`);
  }
  let keyVersion: number | undefined;
  const version = item.key_version;
  if (Object.hasOwn(item, 'key_version') && version !== null) {
    if (typeof version !== 'number') {
      problems.push(`'[${index}].key_version' expected type 'int', got unconvertible type '${goType(version)}'`);
    } else {
      const literal = numberText(item, 'key_version');
      const parsed = parseInt64(literal);
      // Vault's own message says "invalid syntax" whatever Int64() said (out of range included).
      if (typeof parsed === 'string') {
        problems.push(
          `error decoding json.Number into [${index}].key_version: strconv.ParseInt: parsing "${literal}": invalid syntax`,
        );
      } else {
        keyVersion = parsed;
      }
    }
  }
  return { item: batchItem(item, keyVersion), problems };
}

/**
 * `mapstructure.Decode(batchInput, &[]RewrapBatchRequestItem{})` as Vault's rewrap calls it: every
 * problem of every entry listed at once, `null` entries and fields read as absent, fields the struct
 * lacks ignored, a JSON number taken for a string field as its literal text (a json.Number is a
 * string), and each field found by {@link mapKeyOf}. The item's fields are the decoded struct's.
 */
function mapstructureItems(raw: unknown): BatchItem[] {
  if (!Array.isArray(raw)) throw batchParseError(`'': source data must be an array or slice, got ${goKind(raw)}`);
  if (raw.length === 0) throw userError('missing batch input to process');
  const problems: string[] = [];
  const items: BatchItem[] = [];
  for (const [index, entry] of raw.entries()) {
    if (entry === null) {
      items.push(batchItem({}, undefined));
      continue;
    }
    if (typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`'[${index}]' expected a map, got '${goKind(entry)}'`);
      continue;
    }
    const item = entry as Fields;
    const decoded: Record<string, string> = {};
    for (const name of REWRAP_STRING_FIELDS) {
      const key = mapKeyOf(item, name);
      const value = key === undefined ? null : item[key];
      if (key === undefined || value === null || value === undefined) continue;
      if (typeof value === 'string') decoded[name] = value;
      else if (typeof value === 'number') decoded[name] = numberText(item, key);
      else problems.push(unconvertible(`[${index}].${name}`, 'string', item, key));
    }
    let keyVersion: number | undefined;
    const versionKey = mapKeyOf(item, 'key_version');
    const version = versionKey === undefined ? null : item[versionKey];
    if (versionKey !== undefined && version !== null && version !== undefined) {
      if (typeof version !== 'number') {
        problems.push(unconvertible(`[${index}].key_version`, 'int', item, versionKey));
      } else {
        const literal = numberText(item, versionKey);
        const parsed = parseInt64(literal);
        if (typeof parsed === 'string') {
          problems.push(
            `error decoding json.Number into [${index}].key_version: strconv.ParseInt: parsing "${literal}": ${parsed}`,
          );
        } else {
          keyVersion = parsed;
        }
      }
    }
    items.push(batchItem(decoded, keyVersion));
  }
  if (problems.length > 0) throw decodingError(problems);
  return items;
}

/**
 * The key mapstructure (v1.5) reads a struct field from: the exact name when the map has it, even
 * with a `null` value; else a key equal under `strings.EqualFold` (Unicode simple case folding,
 * which also folds the Kelvin sign to k and the long s to s). With several such keys Go takes
 * whichever its map iteration meets first, which varies: this takes the first in the body.
 */
function mapKeyOf(item: Fields, name: string): string | undefined {
  if (Object.hasOwn(item, name)) return name;
  return Object.keys(item).find((key) => key.length === name.length && foldAscii(key) === name);
}

/** A name folded the way EqualFold matches it against an ASCII lower-case name. */
function foldAscii(key: string): string {
  // toLowerCase maps K, and the Kelvin sign, to k; S to s, but not the long s, whose fold orbit holds s.
  return key.toLowerCase().replaceAll('\u017f', 's');
}

function batchItem(fields: Fields, keyVersion: number | undefined): BatchItem {
  return { fields, reference: readString(fields, 'reference') ?? '', keyVersion: () => keyVersion };
}

/**
 * `strconv.ParseInt(literal, 10, 64)`, as `json.Number.Int64()` calls it: the value, or Go's reason
 * for refusing it. A value beyond JavaScript's safe integers is clamped: it is above any key's
 * latest version (or negative) whatever its exact value, which is all the key checks.
 */
function parseInt64(literal: string): number | 'invalid syntax' | 'value out of range' {
  if (!/^[+-]?\d+$/.test(literal)) return 'invalid syntax';
  const value = BigInt(literal);
  if (value < INT64_MIN || value > INT64_MAX) return 'value out of range';
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (value < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(value);
}

/** mapstructure's type error for `holder[key]`. Its `%v` quotes the value, as Vault's answer does. */
function unconvertible(name: string, expected: 'string' | 'int', holder: object, key: string): string {
  const value = (holder as Record<string, unknown>)[key];
  return `'${name}' expected type '${expected}', got unconvertible type '${goType(value)}', value: '${goValue(holder, key)}'`;
}

/** A `mapstructure.Error`: its lines sorted. */
function decodingError(problems: readonly string[]): VaultHttpError {
  const lines = problems.map((p) => `* ${p}`).sort();
  return batchParseError(`${problems.length} error(s) decoding:\n\n${lines.join('\n')}`);
}

/**
 * Vault returns a malformed `batch_input` as a plain Go error (`fmt.Errorf("failed to parse batch
 * input: %w", err)`), not a user error: a 500, its message wrapped by the request handler's multierror.
 */
function batchParseError(detail: string): VaultHttpError {
  return new VaultHttpError(500, [`1 error occurred:\n\t* failed to parse batch input: ${detail}\n\n`]);
}

/** Go's `%T` of a value decoded from a JSON request body (Vault decodes numbers as json.Number). */
function goType(value: unknown): string {
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return '[]interface {}';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return 'json.Number';
    case 'boolean':
      return 'bool';
    default:
      return 'map[string]interface {}';
  }
}

/** Go's `reflect.Kind` of a decoded JSON value (a json.Number's is string). */
function goKind(value: unknown): string {
  if (value === null) return 'invalid';
  if (Array.isArray(value)) return 'slice';
  switch (typeof value) {
    case 'string':
    case 'number':
      return 'string';
    case 'boolean':
      return 'bool';
    default:
      return 'map';
  }
}

/**
 * Go's `%v` of the decoded JSON value at `holder[key]`: maps print their keys sorted, and a number
 * (a json.Number, a string) prints its literal text as the request wrote it. A loop, not
 * recursion: a body may nest 10,000 levels deep.
 */
function goValue(holder: object, key: string): string {
  type Task = string | readonly [object, string];
  const out: string[] = [];
  const tasks: Task[] = [[holder, key]];
  for (let task = tasks.pop(); task !== undefined; task = tasks.pop()) {
    if (typeof task === 'string') {
      out.push(task);
      continue;
    }
    const [owner, name] = task;
    const value = (owner as Record<string, unknown>)[name];
    if (value === null) out.push('<nil>');
    else if (typeof value === 'number') out.push(numberText(owner, name));
    else if (Array.isArray(value)) {
      const parts: Task[] = ['['];
      value.forEach((_, i) => {
        if (i > 0) parts.push(' ');
        parts.push([value, String(i)]);
      });
      parts.push(']');
      for (let i = parts.length - 1; i >= 0; i--) tasks.push(parts[i] as Task);
    } else if (typeof value === 'object') {
      const keys = Object.keys(value).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const parts: Task[] = ['map['];
      keys.forEach((k, i) => {
        parts.push(`${i > 0 ? ' ' : ''}${k}:`);
        parts.push([value, k]);
      });
      parts.push(']');
      for (let i = parts.length - 1; i >= 0; i--) tasks.push(parts[i] as Task);
    } else out.push(String(value));
  }
  return out.join('');
}
