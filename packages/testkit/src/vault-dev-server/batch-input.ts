import { type Fields, has, readString } from './fields.ts';
import { userError, VaultHttpError } from './vault-http-error.ts';

/** One request item: the single request's own fields, or one entry of `batch_input`. */
export interface BatchItem {
  readonly fields: Fields;
  readonly reference: string;
}

/**
 * How strictly `batch_input` entries are read. Encrypt and decrypt decode them the way Vault's
 * `decodeBatchRequestItems` does (path_encrypt.go): a field of the wrong type, and an entry without
 * the field the operation needs (`plaintext`, `ciphertext`), fail the whole request. Rewrap decodes
 * with plain mapstructure, which requires nothing: an entry without `ciphertext` fails in its slot.
 */
export type BatchDecoding = { readonly require: 'plaintext' | 'ciphertext' } | 'lenient';

const STRING_FIELDS = ['context', 'ciphertext', 'plaintext', 'nonce', 'associated_data', 'reference'] as const;
const MISSING: Record<'plaintext' | 'ciphertext', string> = {
  plaintext: 'missing plaintext to encrypt',
  ciphertext: 'missing ciphertext to decrypt',
};

/**
 * The items of a request: `batch_input` when it is there, else the request itself as one item.
 * A malformed `batch_input` fails as Vault's plain Go error does (500, see {@link batchParseError}).
 */
export function batchItems(fields: Fields, decoding: BatchDecoding): BatchItem[] {
  if (!has(fields, 'batch_input')) return [{ fields, reference: '' }];
  const raw = fields.batch_input;
  if (!Array.isArray(raw)) throw batchParseError(`source data must be an array or slice, got ${goType(raw)}`);
  if (raw.length === 0) throw userError('missing batch input to process');
  const problems: string[] = [];
  for (const [index, entry] of raw.entries()) {
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      throw batchParseError(`[${index}] expected a map, got '${goType(entry)}'`);
    }
    if (decoding !== 'lenient') problems.push(...itemProblems(entry as Fields, index, decoding.require));
  }
  if (problems.length > 0) {
    // mapstructure.Error sorts its lines.
    const lines = problems.map((p) => `* ${p}`).sort();
    throw batchParseError(`${problems.length} error(s) decoding:\n\n${lines.join('\n')}`);
  }
  return raw.map((entry: Fields) => ({ fields: entry, reference: readString(entry, 'reference') ?? '' }));
}

/** What `decodeBatchRequestItems` says about one entry: types and names, never a string's content. */
function itemProblems(item: Fields, index: number, required: 'plaintext' | 'ciphertext'): string[] {
  const problems: string[] = [];
  for (const name of STRING_FIELDS) {
    if (!Object.hasOwn(item, name)) {
      if (name === required) problems.push(`'[${index}].${name}' ${MISSING[required]}`);
      continue;
    }
    const value = item[name];
    // A JSON null reads as absent, except for plaintext ("don't allow null" in Vault's decoder).
    if (typeof value === 'string' || (value === null && name !== 'plaintext')) continue;
    problems.push(`'[${index}].${name}' expected type 'string', got unconvertible type '${goType(value)}'`);
  }
  const version = item.key_version;
  if (Object.hasOwn(item, 'key_version') && version !== null) {
    if (typeof version !== 'number') {
      problems.push(`'[${index}].key_version' expected type 'int', got unconvertible type '${goType(version)}'`);
    } else if (!Number.isSafeInteger(version)) {
      // json.Number.Int64() fails: Vault's message quotes the number, which is no secret.
      problems.push(
        `error decoding json.Number into [${index}].key_version: strconv.ParseInt: parsing "${version}": invalid syntax`,
      );
    }
  }
  return problems;
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
