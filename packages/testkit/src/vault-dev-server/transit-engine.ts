import { type BatchItem, batchItems } from './batch-input.ts';
import type { EngineRequest, EngineResponse, SecretsEngine } from './engine.ts';
import {
  decodeBase64Std,
  type Fields,
  goBase64ErrorOffset,
  has,
  readBool,
  readDurationSeconds,
  readInt,
  readString,
  unknownFieldWarning,
} from './fields.ts';
import { parseKeyType, TransitKey } from './transit-key.ts';
import {
  internalError,
  noHandler,
  notFound,
  notImplemented,
  UnflaggedItemError,
  unsupportedOperation,
  userError,
  VaultHttpError,
} from './vault-http-error.ts';

/** Transit paths of a real Vault that this server refuses by name (400) instead of 404. */
const UNIMPLEMENTED_ROOTS: ReadonlySet<string> = new Set([
  'export',
  'backup',
  'restore',
  'hmac',
  'sign',
  'verify',
  'hash',
  'random',
  'cache-config',
  'wrapping_key',
  'byok-export',
]);
const UNIMPLEMENTED_KEY_PATHS: ReadonlySet<string> = new Set([
  'trim',
  'import',
  'import_version',
  'csr',
  'set-certificate',
]);

const NAME = /^\w(?:[\w.-]*\w)?$/;
const CONTEXT_MIXED = 'context should be set either in all the request blocks or in none';
/** `ErrNonceNotAllowed` (path_rewrap.go): a nonce is only for convergent v1 keys, which this server lacks. */
const NONCE_NOT_ALLOWED = 'provided nonce not allowed for this key';

type ItemResult = Record<string, unknown> & { error?: string };

/**
 * The transit secrets engine: named keys with versions, encrypt/decrypt/rewrap/datakey with
 * `batch_input`, derived keys, upsert on encrypt (unless `transit/config/keys disable_upsert`).
 */
export class TransitEngine implements SecretsEngine {
  readonly type = 'transit' as const;
  readonly options = null;
  readonly #keys = new Map<string, TransitKey>();
  readonly #now: () => number;
  #disableUpsert = false;

  constructor(now: () => number) {
    this.#now = now;
  }

  handle(request: EngineRequest): EngineResponse {
    const segments = request.path.split('/');
    const [first, second, third] = segments;
    const op = request.operation;
    if (first === 'keys' && segments.length === 1) {
      if (op !== 'list') throw unsupportedOperation();
      const keys = [...this.#keys.keys()].sort();
      if (keys.length === 0) throw notFound();
      return { status: 200, data: { keys } };
    }
    if (first === 'keys' && second !== undefined && NAME.test(second)) {
      if (segments.length === 2) return this.#keyRoute(op, second, request.data);
      if (segments.length === 3 && third === 'config' && op === 'update') return this.#config(second, request.data);
      if (segments.length === 3 && third === 'rotate' && op === 'update') return this.#rotate(second);
      if (segments.length === 3 && (third === 'config' || third === 'rotate')) throw unsupportedOperation();
    }
    if (first === 'config' && second === 'keys' && segments.length === 2) {
      if (op === 'read') return { status: 200, data: { disable_upsert: this.#disableUpsert } };
      if (op !== 'update') throw unsupportedOperation();
      this.#disableUpsert = readBool(request.data, 'disable_upsert') ?? this.#disableUpsert;
      return { status: 200, data: { disable_upsert: this.#disableUpsert } };
    }
    if (segments.length === 2 && second !== undefined && NAME.test(second)) {
      if (first === 'encrypt' || first === 'decrypt' || first === 'rewrap') {
        if (op !== 'update') throw unsupportedOperation();
        if (first === 'encrypt') return this.#encrypt(second, request.data);
        if (first === 'decrypt') return this.#decrypt(second, request.data);
        return this.#rewrap(second, request.data);
      }
    }
    if (first === 'datakey' && segments.length === 3 && third !== undefined && NAME.test(third)) {
      if (op !== 'update') throw unsupportedOperation();
      return this.#datakey(second ?? '', third, request.data);
    }
    if (UNIMPLEMENTED_ROOTS.has(first ?? '')) throw notImplemented(`transit ${first}`);
    if (first === 'keys' && segments.length === 3 && UNIMPLEMENTED_KEY_PATHS.has(third ?? '')) {
      throw notImplemented(`transit keys/:name/${third}`);
    }
    throw noHandler(request.path);
  }

  #keyRoute(op: EngineRequest['operation'], name: string, fields: Fields): EngineResponse {
    if (op === 'read') {
      const key = this.#keys.get(name);
      if (!key) throw notFound();
      return { status: 200, data: key.describe() };
    }
    if (op === 'update') return this.#create(name, fields);
    if (op === 'delete') {
      const key = this.#keys.get(name);
      if (!key) throw userError(`error deleting policy ${name}: could not delete key; not found`);
      if (!key.deletionAllowed) throw userError(`error deleting policy ${name}: deletion is not allowed for this key`);
      this.#keys.delete(name);
      return { status: 204 };
    }
    throw unsupportedOperation();
  }

  #create(name: string, fields: Fields): EngineResponse {
    const warnings = unknownFieldWarning(fields, [
      'type',
      'derived',
      'convergent_encryption',
      'exportable',
      'allow_plaintext_backup',
      'auto_rotate_period',
      'context',
      'key_size',
    ]);
    const existing = this.#keys.get(name);
    if (existing) {
      return { status: 200, data: existing.describe(), warnings: [...warnings, `key ${name} already existed`] };
    }
    const key = this.#newKey(name, fields, readBool(fields, 'derived') ?? false);
    return { status: 200, data: key.describe(), warnings };
  }

  #newKey(name: string, fields: Fields, derived: boolean): TransitKey {
    const type = parseKeyType(readString(fields, 'type'));
    if (readBool(fields, 'convergent_encryption')) {
      if (!derived) throw userError('convergent encryption requires derivation to be enabled');
      throw userError('convergent encryption is not implemented by the rampart Vault dev server');
    }
    const autoRotatePeriod = readDurationSeconds(fields, 'auto_rotate_period') ?? 0;
    if (autoRotatePeriod !== 0 && autoRotatePeriod < 3600) {
      throw userError('auto rotate period must be 0 to disable or at least an hour');
    }
    const key = new TransitKey(
      name,
      {
        type,
        derived,
        exportable: readBool(fields, 'exportable') ?? false,
        allowPlaintextBackup: readBool(fields, 'allow_plaintext_backup') ?? false,
        autoRotatePeriod,
      },
      this.#now,
    );
    this.#keys.set(name, key);
    return key;
  }

  #config(name: string, fields: Fields): EngineResponse {
    const key = this.#keys.get(name);
    if (!key) throw userError(`no existing key named ${name} could be found`);
    const warnings = unknownFieldWarning(fields, [
      'min_decryption_version',
      'min_encryption_version',
      'deletion_allowed',
      'exportable',
      'allow_plaintext_backup',
      'auto_rotate_period',
    ]);
    // Validate everything before changing anything, so a rejected request leaves the key as it was.
    let minDecryption = readInt(fields, 'min_decryption_version');
    const minEncryption = readInt(fields, 'min_encryption_version');
    const exportable = readBool(fields, 'exportable');
    const plaintextBackup = readBool(fields, 'allow_plaintext_backup');
    const deletionAllowed = readBool(fields, 'deletion_allowed');
    const autoRotatePeriod = readDurationSeconds(fields, 'auto_rotate_period');
    if (minDecryption !== undefined) {
      if (minDecryption < 0) throw userError('min decryption version cannot be negative');
      if (minDecryption === 0) {
        minDecryption = 1;
        warnings.push('since Vault 0.3, transit key numbering starts at 1; forcing minimum to 1');
      }
      if (minDecryption > key.latestVersion) {
        throw userError(
          `cannot set min decryption version of ${minDecryption}, latest key version is ${key.latestVersion}`,
        );
      }
    }
    if (minEncryption !== undefined) {
      if (minEncryption < 0) throw userError('min encryption version cannot be negative');
      if (minEncryption > key.latestVersion) {
        throw userError(
          `cannot set min encryption version of ${minEncryption}, latest key version is ${key.latestVersion}`,
        );
      }
    }
    const nextMinDecryption = minDecryption ?? key.minDecryptionVersion;
    const nextMinEncryption = minEncryption ?? key.minEncryptionVersion;
    if (nextMinEncryption > 0 && nextMinEncryption < nextMinDecryption) {
      throw userError(
        `cannot set min encryption/decryption values; min encryption version of ${nextMinEncryption} must be greater than or equal to min decryption version of ${nextMinDecryption}`,
      );
    }
    if (autoRotatePeriod !== undefined && autoRotatePeriod !== 0 && autoRotatePeriod < 3600) {
      throw userError('auto rotate period must be 0 to disable or at least an hour');
    }
    key.minDecryptionVersion = nextMinDecryption;
    key.minEncryptionVersion = nextMinEncryption;
    // Once on, these stay on: Vault ignores `false` for them (200), it does not refuse it.
    if (exportable === true) key.exportable = true;
    if (plaintextBackup === true) key.allowPlaintextBackup = true;
    if (deletionAllowed !== undefined) key.deletionAllowed = deletionAllowed;
    if (autoRotatePeriod !== undefined) key.autoRotatePeriod = autoRotatePeriod;
    return { status: 200, data: key.describe(), warnings };
  }

  #rotate(name: string): EngineResponse {
    const key = this.#keys.get(name);
    if (!key) throw userError('key not found');
    key.rotate(this.#now);
    return { status: 200, data: key.describe() };
  }

  #encrypt(name: string, fields: Fields): EngineResponse {
    const items = batchItems(fields, { require: 'plaintext' });
    // Vault (path_encrypt.go) checks the request's shape before it looks the key up or upserts it:
    // a refused request must not leave a key behind (a non-derived one would then ignore context).
    if (!has(fields, 'batch_input') && readString(fields, 'plaintext') === undefined) {
      throw userError('missing plaintext to encrypt');
    }
    refuseMixedContext(items);
    let key = this.#keys.get(name);
    if (!key) {
      const contextSet = hasContext(items[0]);
      if (readBool(fields, 'convergent_encryption') && !contextSet) {
        throw userError('convergent encryption requires derivation to be enabled, so context is required');
      }
      // Vault validates the type for the upsert before it finds that upserting is disabled.
      parseKeyType(readString(fields, 'type'));
      if (this.#disableUpsert) throw userError('encryption key not found');
      // Vault's upsert takes only the key type, convergent_encryption and whether a context was
      // given (derived) from the encrypt request; every other key setting keeps its default.
      const upsertFields: Fields = { type: fields.type, convergent_encryption: fields.convergent_encryption };
      key = this.#newKey(name, upsertFields, contextSet);
    }
    const target = key;
    // The order of path_encrypt.go: plaintext, context and nonce decoded (Go's own base64 errors),
    // then the nonce refused, padding_scheme checked, and associated_data decoded by keysutil.
    return this.#runBatch(fields, items, (item, contextSetInFirst, index) => {
      const text = readString(item.fields, 'plaintext');
      if (text === undefined) throw userError('missing plaintext to encrypt');
      const plaintext = decodeGo(text);
      const context = itemContext(item.fields, contextSetInFirst);
      decodeNonce(item.fields);
      refuseNonce(item.fields, (message) => userError(message));
      checkPaddingScheme(target, item.fields, 'padding_scheme', index);
      const { ciphertext, keyVersion } = target.encrypt(plaintext, {
        context,
        associatedData: associatedDataOf(item.fields),
        keyVersion: item.keyVersion(),
      });
      return { ciphertext, key_version: keyVersion };
    });
  }

  #decrypt(name: string, fields: Fields): EngineResponse {
    const items = batchItems(fields, { require: 'ciphertext' });
    const key = this.#keys.get(name);
    if (!key) throw userError('encryption key not found');
    return this.#runBatch(
      fields,
      items,
      (item, contextSetInFirst, index) => {
        const ciphertext = readString(item.fields, 'ciphertext');
        if (ciphertext === undefined || ciphertext === '') throw userError('missing ciphertext to decrypt');
        const context = itemContext(item.fields, contextSetInFirst);
        // path_decrypt.go decodes a nonce (a bad one fails the item) but never refuses one.
        decodeNonce(item.fields);
        checkPaddingScheme(key, item.fields, 'padding_scheme', index);
        const { plaintext } = key.decrypt(ciphertext, { context, associatedData: associatedDataOf(item.fields) });
        return { plaintext: plaintext.toString('base64') };
      },
      { failedItem: { plaintext: '' } },
    );
  }

  #rewrap(name: string, fields: Fields): EngineResponse {
    const items = batchItems(fields, 'mapstructure');
    const key = this.#keys.get(name);
    if (!key) throw userError('encryption key not found');
    return this.#runBatch(
      fields,
      items,
      (item, contextSetInFirst, index) => {
        const ciphertext = readString(item.fields, 'ciphertext');
        // Vault's own wording (path_rewrap.go).
        if (ciphertext === undefined || ciphertext === '') throw userError('missing ciphertext to decrypt');
        const context = itemContext(item.fields, contextSetInFirst);
        decodeNonce(item.fields);
        checkPaddingScheme(key, item.fields, 'decrypt_padding_scheme', index);
        refuseNonce(item.fields, (message) => userError(message));
        // Vault's rewrap takes no associated_data: ciphertexts made with AAD fail here (vault#29532).
        // A failed authentication is a UserError in keysutil (SymmetricDecryptRaw): in its slot, 200.
        const { plaintext } = key.decrypt(ciphertext, { context });
        try {
          checkPaddingScheme(key, item.fields, 'encrypt_padding_scheme', index);
          const out = key.encrypt(plaintext, { context, keyVersion: item.keyVersion() });
          return { ciphertext: out.ciphertext, key_version: out.keyVersion };
        } finally {
          plaintext.fill(0);
        }
      },
      { failedItemsStatus: 200 },
    );
  }

  #datakey(kind: string, name: string, fields: Fields): EngineResponse {
    // getDataKeyParams (path_datakey.go) runs first: context, nonce, then bits.
    const context = decodeField(fields, 'context', 'failed to base64-decode context');
    decodeField(fields, 'nonce', 'failed to base64-decode nonce');
    const bits = readInt(fields, 'bits') ?? 256;
    if (bits !== 128 && bits !== 256 && bits !== 512) throw userError('invalid bit length');
    if (kind !== 'plaintext' && kind !== 'wrapped') {
      throw userError("Invalid path, must be 'plaintext' or 'wrapped'");
    }
    const warnings = unknownFieldWarning(fields, ['context', 'nonce', 'bits', 'key_version', 'padding_scheme']);
    const key = this.#keys.get(name);
    if (!key) throw userError('encryption key not found');
    if (has(fields, 'padding_scheme')) {
      const problem = paddingSchemeProblem(key, readString(fields, 'padding_scheme') ?? '');
      throw userError(`padding_scheme argument invalid: ${problem}`);
    }
    // A plain Go error there: 500.
    refuseNonce(fields, internalError);
    const dataKey = Buffer.alloc(bits / 8);
    // A fresh CSPRNG key, like Vault's datakey (which then simply encrypts it with the transit key).
    globalThis.crypto.getRandomValues(dataKey);
    try {
      const { ciphertext, keyVersion } = key.encrypt(dataKey, { context, keyVersion: readInt(fields, 'key_version') });
      const data: Record<string, unknown> = { ciphertext, key_version: keyVersion };
      if (kind === 'plaintext') data.plaintext = dataKey.toString('base64');
      return { status: 200, data, warnings };
    } finally {
      dataKey.fill(0);
    }
  }

  /**
   * Runs one item or a `batch_input` the way Vault does: a single request fails with its error; a
   * batch whose items set `context` in some items and not in others fails as a whole (400) before
   * any item runs; otherwise a batch answers every item, and any failed item turns the status into
   * 400 (a user error in any item), else 500 (internal errors only), unless
   * `partial_failure_response_code` overrides it when some items succeeded (path_decrypt.go
   * `pathDecryptWrite`: every item error is kept in its slot, an `errutil.InternalError` flagging the
   * batch 500, any other 400). Rewrap is the exception (`failedItemsStatus: 200`): path_rewrap.go
   * `pathRewrapWrite` keeps an `errutil.UserError` in the item's slot and answers 200, and would fail
   * the whole request on any other error (`return nil, err`); every error an AEAD key raises there
   * is a UserError, a failed authentication included (keysutil policy.go `SymmetricDecryptRaw`
   * wraps `aead.Open`'s error so since vault#10914, Vault 1.7), so a tampered item fails in its slot.
   * `failedItem` holds the fields a failed item still carries (decrypt's `plaintext: ""`: Vault's
   * DecryptBatchResponseItem has no `omitempty` on it).
   */
  #runBatch(
    fields: Fields,
    items: readonly BatchItem[],
    run: (item: BatchItem, contextSetInFirst: boolean, index: number) => Record<string, unknown>,
    { failedItemsStatus, failedItem }: { failedItemsStatus?: 200; failedItem?: Record<string, unknown> } = {},
  ): EngineResponse {
    const contextSetInFirst = hasContext(items[0]);
    const isBatch = has(fields, 'batch_input');
    if (isBatch) refuseMixedContext(items);
    if (!isBatch) {
      const only = items[0];
      if (!only) throw userError('missing batch input to process');
      return { status: 200, data: run(only, contextSetInFirst, 0) };
    }
    let userFailure = false;
    let internalFailure = false;
    let success = false;
    const results: ItemResult[] = items.map((item, index) => {
      try {
        const result = run(item, contextSetInFirst, index);
        success = true;
        return { ...result, reference: item.reference };
      } catch (error) {
        if (error instanceof UnflaggedItemError) {
          // Recorded in its slot only (see UnflaggedItemError).
        } else if (error instanceof VaultHttpError && error.status < 500) userFailure = true;
        else internalFailure = true;
        const message = error instanceof Error ? error.message : 'internal error';
        return { ...failedItem, error: message, reference: item.reference };
      }
    });
    const data = { batch_results: results };
    if (!internalFailure && (!userFailure || failedItemsStatus === 200)) return { status: 200, data };
    let status = userFailure ? 400 : 500;
    const warnings: string[] = [];
    const override = readInt(fields, 'partial_failure_response_code');
    if (override !== undefined && success) {
      if (override < 1 || override > 599) {
        warnings.push(`invalid HTTP response code override from partial_failure_response_code, reverting to ${status}`);
      } else {
        status = override;
      }
    }
    return { status, data, warnings };
  }
}

function hasContext(item: BatchItem | undefined): boolean {
  const context = item?.fields.context;
  return typeof context === 'string' && context.length > 0;
}

/** Vault refuses a batch as a whole (400) when `context` is set in some items and not in others. */
function refuseMixedContext(items: readonly BatchItem[]): void {
  const contextSetInFirst = hasContext(items[0]);
  if (items.some((item) => hasContext(item) !== contextSetInFirst)) throw userError(CONTEXT_MIXED);
}

function decodeField(fields: Fields, name: string, error: string): Buffer | undefined {
  const value = readString(fields, name);
  if (value === undefined) return undefined;
  const decoded = decodeBase64Std(value);
  if (!decoded) throw userError(error);
  return decoded;
}

/** `base64.StdEncoding.DecodeString` as the transit item loops call it: a failure in Go's words. */
function decodeGo(value: string): Buffer {
  const offset = goBase64ErrorOffset(value);
  if (offset !== undefined) throw userError(`illegal base64 data at input byte ${offset}`);
  return decodeBase64Std(value) ?? Buffer.alloc(0);
}

/** The item loops decode a non-empty nonce before anything else refuses it (Go's base64 error). */
function decodeNonce(fields: Fields): void {
  const nonce = readString(fields, 'nonce');
  if (nonce) decodeGo(nonce);
}

/** A non-empty nonce: refused, as Vault refuses one for every key but a convergent v1 one. */
function refuseNonce(fields: Fields, fail: (message: string) => VaultHttpError): void {
  const nonce = readString(fields, 'nonce');
  if (nonce) throw fail(NONCE_NOT_ALLOWED);
}

/** `parsePaddingSchemeArg`'s error for an AEAD key: every padding scheme is refused for them. */
function paddingSchemeProblem(key: TransitKey, scheme: string): string {
  if (scheme !== 'oaep' && scheme !== 'pkcs1v15') return `unknown padding scheme: ${scheme}`;
  return `unsupported key type ${key.type} for padding scheme`;
}

/** A non-empty padding scheme fails the item, without flagging the batch (path_encrypt.go, path_decrypt.go). */
function checkPaddingScheme(key: TransitKey, fields: Fields, name: string, index: number): void {
  const scheme = readString(fields, name);
  if (scheme) throw new UnflaggedItemError(`'[${index}].${name}' invalid: ${paddingSchemeProblem(key, scheme)}`);
}

/**
 * `associated_data`, decoded when keysutil asks its factory for it: a bad one is an
 * `errutil.InternalError` (500), not a user error. A padding scheme would be factory 0, but it
 * always fails first for these key types, so the associated data's factory is always 0.
 */
function associatedDataOf(fields: Fields): (() => Buffer | undefined) | undefined {
  const encoded = readString(fields, 'associated_data');
  if (!encoded) return undefined;
  return () => {
    const offset = goBase64ErrorOffset(encoded);
    if (offset !== undefined) {
      throw internalError(
        `unable to get associated_data/additional_data from factory[0]: illegal base64 data at input byte ${offset}`,
      );
    }
    return decodeBase64Std(encoded);
  };
}

function itemContext(fields: Fields, contextSetInFirst: boolean): Buffer | undefined {
  const text = readString(fields, 'context');
  const context = text ? decodeGo(text) : undefined;
  if ((context !== undefined && context.length > 0) !== contextSetInFirst) throw userError(CONTEXT_MIXED);
  return context;
}
