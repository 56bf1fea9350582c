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
const encoder = new TextEncoder();

/**
 * Canonical, injective encoding of a context: entry count (1 byte), then for each entry in
 * byte-wise order of its UTF-8 key: key length (1 byte), key, value length (2 bytes, big-endian),
 * value. Different contexts never encode alike, and key order in the object does not matter.
 *
 * @example
 * ```ts
 * import { encodeContext } from '@rampart/transit';
 * encodeContext({ tenant: 't1', id: 42 }).equals(encodeContext({ id: '42', tenant: 't1' })); // true
 * ```
 */
export function encodeContext(context: EncryptionContext): Buffer {
  if (context === null || typeof context !== 'object' || Array.isArray(context)) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_CONTEXT',
      'context must be an object such as { tenant, table, column, id }: encryption without a context lets ciphertexts be swapped between records.',
    );
  }
  const entries: [Buffer, Buffer][] = [];
  for (const name of Object.keys(context)) {
    const raw = context[name];
    const key = Buffer.from(encoder.encode(name));
    if (key.length === 0 || key.length > MAX_KEY_BYTES) {
      throw new TransitError('ERR_TRANSIT_INVALID_CONTEXT', `context key names must be 1 to ${MAX_KEY_BYTES} bytes.`);
    }
    let text: string;
    if (typeof raw === 'string') text = raw;
    else if (typeof raw === 'bigint') text = raw.toString(10);
    else if (typeof raw === 'number' && Number.isSafeInteger(raw)) text = String(raw);
    else {
      throw new TransitError(
        'ERR_TRANSIT_INVALID_CONTEXT',
        `context "${name}" must be a string, a bigint or a safe integer.`,
      );
    }
    const value = Buffer.from(encoder.encode(text));
    if (value.length === 0 || value.length > MAX_VALUE_BYTES) {
      throw new TransitError(
        'ERR_TRANSIT_INVALID_CONTEXT',
        `context "${name}" must be 1 to ${MAX_VALUE_BYTES} bytes of UTF-8: an empty value binds nothing.`,
      );
    }
    entries.push([key, value]);
  }
  if (entries.length === 0 || entries.length > MAX_ENTRIES) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_CONTEXT',
      `context needs 1 to ${MAX_ENTRIES} entries (for example { tenant, table, column, id }): it is what stops ciphertexts being swapped between records.`,
    );
  }
  entries.sort((a, b) => Buffer.compare(a[0], b[0]));
  let size = 1;
  for (const [key, value] of entries) size += 1 + key.length + 2 + value.length;
  const out = Buffer.allocUnsafe(size);
  let offset = out.writeUInt8(entries.length, 0);
  for (const [key, value] of entries) {
    offset = out.writeUInt8(key.length, offset);
    offset += key.copy(out, offset);
    offset = out.writeUInt16BE(value.length, offset);
    offset += value.copy(out, offset);
  }
  return out;
}

/** The transit `context` for a tenant-bound DEK: the UTF-8 bytes of `context[contextKey]`. */
export function tenantOf(context: EncryptionContext, contextKey: string): string {
  const value = context[contextKey];
  if (value === undefined || value === '') {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_CONTEXT',
      `context "${contextKey}" is required: tenantBinding.contextKey names it as the tenant bound to the data key.`,
    );
  }
  return typeof value === 'string' ? value : value.toString();
}
