import { TransitError } from './errors.ts';

/**
 * What a record is: tenant, table, column, primary key, schema version... Every encrypt and
 * decrypt takes one; it becomes the AES-GCM associated data, so a ciphertext moved to another row,
 * column or tenant no longer decrypts. Values are compared as decimal/UTF-8 text.
 */
export type EncryptionContext = Readonly<Record<string, string | number | bigint>>;

const MAX_KEY_BYTES = 255;
const MAX_VALUE_BYTES = 65_535;
const MAX_ENTRIES = 64;

/** UTF-8 byte length, with a fast path for ASCII (context entries are short). */
function utf8Length(text: string): number {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return Buffer.byteLength(text, 'utf8');
  return text.length;
}

function writeUtf8(out: Buffer, text: string, offset: number, length: number): number {
  if (length !== text.length) return offset + out.write(text, offset, 'utf8');
  for (let i = 0; i < length; i++) out[offset + i] = text.charCodeAt(i);
  return offset + length;
}

function invalid(message: string): TransitError {
  return new TransitError('ERR_TRANSIT_INVALID_CONTEXT', message);
}

// A lone surrogate becomes U+FFFD in UTF-8, so 'a\uD800', 'a\uDFFF' and 'a\uFFFD' would encode
// alike: refuse text that is not well-formed (with the u flag, a valid pair is one code point).
export const LONE_SURROGATE = /\p{Cs}/u;

function valueText(name: string, raw: unknown): string {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'bigint') return raw.toString(10);
  if (typeof raw === 'number' && Number.isSafeInteger(raw)) return String(raw);
  throw invalid(`context "${name}" must be a string, a bigint or a safe integer.`);
}

/** Byte-wise UTF-8 order; JavaScript's default order differs only around surrogate pairs. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * Canonical, injective encoding of a context: entry count (1 byte), then for each entry in
 * byte-wise order of its UTF-8 key: key length (1 byte), key, value length (2 bytes, big-endian),
 * value. Different contexts never encode alike, and key order in the object does not matter.
 * `prefix` (the envelope's fixed header) is written first, so the result is the whole AAD.
 *
 * @example
 * ```ts
 * import { encodeContext } from '@rampart/transit';
 * encodeContext({ tenant: 't1', id: 42 }).equals(encodeContext({ id: '42', tenant: 't1' })); // true
 * ```
 */
export function encodeContext(context: EncryptionContext, prefix?: Buffer): Buffer {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw invalid(
      'context must be an object such as { tenant, table, column, id }: encryption without a context lets ciphertexts be swapped between records.',
    );
  }
  const names = Object.keys(context);
  const count = names.length;
  if (count === 0 || count > MAX_ENTRIES) {
    throw invalid(
      `context needs 1 to ${MAX_ENTRIES} entries (for example { tenant, table, column, id }): it is what stops ciphertexts being swapped between records.`,
    );
  }
  names.sort();
  let astral = false;
  const texts: string[] = new Array(count);
  const keyLengths: number[] = new Array(count);
  const valueLengths: number[] = new Array(count);
  let size = (prefix?.length ?? 0) + 1;
  for (let i = 0; i < count; i++) {
    const name = names[i] as string;
    const keyLength = utf8Length(name);
    if (keyLength !== name.length && LONE_SURROGATE.test(name)) {
      throw invalid('context key names must be well-formed UTF-16 (a lone surrogate has no UTF-8 encoding).');
    }
    if (keyLength !== name.length && /[\uD800-\uDFFF]/.test(name)) astral = true;
    if (keyLength === 0 || keyLength > MAX_KEY_BYTES)
      throw invalid(`context key names must be 1 to ${MAX_KEY_BYTES} bytes.`);
    const text = valueText(name, context[name]);
    const valueLength = utf8Length(text);
    if (valueLength !== text.length && LONE_SURROGATE.test(text)) {
      throw invalid(`context "${name}" must be well-formed UTF-16 text (a lone surrogate has no UTF-8 encoding).`);
    }
    if (valueLength === 0 || valueLength > MAX_VALUE_BYTES) {
      throw invalid(`context "${name}" must be 1 to ${MAX_VALUE_BYTES} bytes of UTF-8: an empty value binds nothing.`);
    }
    texts[i] = text;
    keyLengths[i] = keyLength;
    valueLengths[i] = valueLength;
    size += 3 + keyLength + valueLength;
  }
  if (astral) {
    // Rare: re-sort by UTF-8 bytes and recompute the per-entry arrays in that order.
    const order = names.map((_, i) => i).sort((a, b) => byUtf8(names[a] as string, names[b] as string));
    const sortedNames = order.map((i) => names[i] as string);
    const sortedTexts = order.map((i) => texts[i] as string);
    const sortedKeys = order.map((i) => keyLengths[i] as number);
    const sortedValues = order.map((i) => valueLengths[i] as number);
    names.splice(0, count, ...sortedNames);
    texts.splice(0, count, ...sortedTexts);
    keyLengths.splice(0, count, ...sortedKeys);
    valueLengths.splice(0, count, ...sortedValues);
  }
  const out = Buffer.allocUnsafe(size);
  let offset = prefix ? prefix.copy(out, 0) : 0;
  out[offset++] = count;
  for (let i = 0; i < count; i++) {
    const keyLength = keyLengths[i] as number;
    const valueLength = valueLengths[i] as number;
    out[offset++] = keyLength;
    offset = writeUtf8(out, names[i] as string, offset, keyLength);
    out[offset++] = valueLength >>> 8;
    out[offset++] = valueLength & 0xff;
    offset = writeUtf8(out, texts[i] as string, offset, valueLength);
  }
  return out;
}

/**
 * The transit `context` for a tenant-bound DEK: the UTF-8 bytes of `context[contextKey]`. Read
 * only from an own enumerable property, the entries {@link encodeContext} puts in the AAD: a
 * tenant inherited from a prototype (or non-enumerable) would bind the DEK to a tenant the AAD
 * does not carry, so it counts as missing.
 */
export function tenantOf(context: EncryptionContext, contextKey: string): string {
  const value: unknown =
    context !== null && typeof context === 'object' && Object.prototype.propertyIsEnumerable.call(context, contextKey)
      ? context[contextKey]
      : undefined;
  if (value === undefined || value === null || value === '') {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_CONTEXT',
      `context "${contextKey}" is required, as an own property of the context object (not inherited): tenantBinding.contextKey names it as the tenant bound to the data key.`,
    );
  }
  const text = valueText(contextKey, value);
  if (LONE_SURROGATE.test(text)) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_CONTEXT',
      `context "${contextKey}" must be well-formed UTF-16 text: it becomes the derived key's context.`,
    );
  }
  return text;
}
