import { inspect } from 'node:util';
import { type EncryptionContext, encodeContext, LONE_SURROGATE, tenantOf } from './context.ts';
import { DataKey } from './data-key.ts';
import { type DecryptResult, decryptEach } from './decrypt-result.ts';
import { DecryptDekCache, EncryptDekCache, type EncryptEntry } from './dek-cache.ts';
import {
  ALG,
  type AlgId,
  algOf,
  copyRecord,
  type EnvelopeHead,
  encodeFixedHeader,
  encodeWrapped,
  isTenantBound,
  parseRecord,
} from './envelope.ts';
import { type EnvelopeInfo, envelopeInfo } from './envelope-info.ts';
import { closedError, TransitError } from './errors.ts';
import { checkKeySuits } from './key-suitability.ts';
import { guardMetricsHook, type MetricsHook } from './metrics.ts';
import { acceptedKeys, decryptCacheLimits, mountOf, type TransitOptions, validateOptions } from './options.ts';
import { openRecord, sealRecord } from './record-cipher.ts';
import {
  type RewrapItem,
  type RewrapResult,
  type RotationReport,
  rewrapEnvelopes,
  rotationReport,
} from './rotation.ts';
import { createDecryptStream, createEncryptStream, type DecryptStreamOptions } from './streaming.ts';
import type { TransitCore } from './transit-core.ts';
import { UnwrapBatcher, unwrapId } from './unwrap-batcher.ts';
import { type TransitKeyInfo, VaultTransit } from './vault-transit.ts';

/**
 * Envelope encryption under Vault Transit; create one with {@link createTransit} and share it
 * across the process (its DEK caches are per instance).
 *
 * @example
 * ```ts
 * import { createTransit, type Transit } from '@rampart/transit';
 * const transit: Transit = createTransit({ vault: client, key: 'users-pii', cache: { maxAgeMs: 300_000 } });
 * ```
 */
export class Transit {
  readonly #mount: string;
  readonly #key: string;
  readonly #vault: VaultTransit;
  readonly #encryptCache: EncryptDekCache;
  readonly #decryptCache: DecryptDekCache;
  readonly #batcher: UnwrapBatcher;
  readonly #tenantKey: string | undefined;
  readonly #accepts: (mount: string, key: string) => boolean;
  readonly #headers = new Map<AlgId, Buffer>();
  readonly #now: () => number;
  readonly #metrics: MetricsHook | undefined;
  readonly #core: TransitCore;
  #closed = false;

  constructor(options: TransitOptions) {
    validateOptions(options);
    this.#mount = mountOf(options.mount);
    this.#key = options.key;
    this.#now = options.now ?? Date.now;
    const metrics = guardMetricsHook(options.onMetric);
    this.#metrics = metrics;
    this.#vault = new VaultTransit(options.vault, {
      namespace: options.namespace,
      retry: options.retry,
      metrics,
      batchConcurrency: options.batchConcurrency ?? 4,
    });
    this.#encryptCache = new EncryptDekCache(options.cache, this.#now, metrics);
    this.#decryptCache = new DecryptDekCache(decryptCacheLimits(options), this.#now, metrics);
    const batchSize = options.batchSize ?? 256;
    this.#batcher = new UnwrapBatcher(this.#vault, this.#decryptCache, batchSize, metrics, this.#now);
    this.#tenantKey = options.tenantBinding?.contextKey;
    this.#accepts = acceptedKeys(options);
    for (const alg of Object.values(ALG)) this.#headers.set(alg, encodeFixedHeader(alg, this.#mount, this.#key));
    this.#core = {
      mount: this.#mount,
      key: this.#key,
      vault: this.#vault,
      batchSize,
      frameSize: options.frameSize ?? 64 * 1024,
      reserve: (context, bytes, stream, cancelled) => this.#reserve(context, bytes, stream, cancelled),
      fixedHeader: (alg) => this.#fixedHeader(alg),
      unwrap: (head, context) => this.#unwrap(head, context),
      transitContext: (head, context) => this.#transitContext(head, context),
      assertOpen: () => this.#open(),
      accepts: this.#accepts,
    };
  }

  #fixedHeader(alg: AlgId): Buffer {
    return this.#headers.get(alg) ?? encodeFixedHeader(alg, this.#mount, this.#key);
  }

  #open(): void {
    if (this.#closed) throw closedError();
  }

  async #reserve(
    context: EncryptionContext,
    bytes: number,
    stream: boolean,
    cancelled?: () => boolean,
  ): Promise<{ entry: EncryptEntry; counter: number; alg: AlgId }> {
    this.#open();
    const tenant = this.#tenantKey === undefined ? undefined : tenantOf(context, this.#tenantKey);
    const alg = algOf(stream, tenant !== undefined);
    const binding = tenant ?? '';
    const reserved =
      this.#encryptCache.tryReserve(binding, bytes) ??
      (await this.#encryptCache.reserve(
        binding,
        bytes,
        async () => {
          this.#open();
          // A DEK's age counts from the request: Vault may have chosen its key version then.
          const requestedAt = this.#now();
          const generation = this.#decryptCache.generation;
          const issued = await this.#vault.datakey(this.#mount, this.#key, tenant);
          // Closed while Vault answered: the data key is neither used nor cached.
          if (this.#closed) {
            issued.dek.fill(0);
            throw closedError();
          }
          const dataKey = new DataKey(issued.dek);
          // Records this process writes can be read back without a Vault call.
          this.#decryptCache.set(
            unwrapId({
              mount: this.#mount,
              key: this.#key,
              keyVersion: issued.keyVersion,
              wrappedDek: issued.wrappedDek,
              transitContext: tenant,
            }),
            dataKey,
            generation,
            requestedAt,
          );
          return {
            dataKey,
            wrapped: encodeWrapped(issued.keyVersion, issued.wrappedDek),
            keyVersion: issued.keyVersion,
            createdAt: requestedAt,
            messages: 0,
            bytes: 0,
          };
        },
        cancelled,
      ));
    return { ...reserved, alg };
  }

  #transitContext(head: EnvelopeHead, context: EncryptionContext | undefined): string | undefined {
    if (!isTenantBound(head.alg)) return undefined;
    if (this.#tenantKey === undefined) {
      throw new TransitError(
        'ERR_TRANSIT_KEY_MISCONFIGURED',
        'this envelope binds its data key to a tenant, but this instance has no tenantBinding: configure tenantBinding.contextKey as when it was encrypted.',
      );
    }
    if (context === undefined) {
      throw new TransitError(
        'ERR_TRANSIT_INVALID_CONTEXT',
        'a tenant-bound envelope needs its context to reach the tenant.',
      );
    }
    return tenantOf(context, this.#tenantKey);
  }

  #unwrap(head: EnvelopeHead, context: EncryptionContext | undefined, bulk = false): DataKey | Promise<DataKey> {
    // `head` came from parseHead with this instance's `accepts`: its mount and key are accepted.
    this.#open();
    return this.#batcher.unwrap(
      {
        mount: head.mount,
        key: head.key,
        keyVersion: head.keyVersion,
        wrappedDek: head.wrappedDek,
        transitContext: this.#transitContext(head, context),
      },
      bulk,
    );
  }

  /**
   * Encrypts `plaintext` into a self-describing envelope bound to `context`. Uses a cached data
   * key; calls Vault (`datakey/plaintext`) only when the cache has none, once however many calls
   * are waiting.
   *
   * @example
   * ```ts
   * const envelope = await transit.encrypt(Buffer.from('123-45-6789'), { tenant: 't1', table: 'users', column: 'ssn', id: 42 });
   * ```
   */
  encrypt(plaintext: Uint8Array, context: EncryptionContext): Promise<Buffer> {
    // Not async: a cache hit encrypts synchronously and costs no extra microtask turns.
    try {
      if (!(plaintext instanceof Uint8Array)) {
        throw new TransitError(
          'ERR_TRANSIT_INVALID_INPUT',
          'encrypt(plaintext, context): plaintext must be a Buffer or Uint8Array (use encryptString for text).',
        );
      }
      this.#open();
      const tenant = this.#tenantKey === undefined ? undefined : tenantOf(context, this.#tenantKey);
      const alg = algOf(false, tenant !== undefined);
      const fixedHeader = this.#fixedHeader(alg);
      const aad = encodeContext(context, fixedHeader);
      const hit = this.#encryptCache.tryReserve(tenant ?? '', plaintext.length);
      if (hit) {
        this.#metrics?.({ type: 'cache', cache: 'encrypt', result: 'hit' });
        return Promise.resolve(
          sealRecord(fixedHeader, hit.entry.wrapped, hit.counter, hit.entry.dataKey, aad, plaintext),
        );
      }
      // The plaintext is read at call time: the caller may reuse its buffer while Vault answers.
      const held = Buffer.from(plaintext);
      return this.#reserve(context, held.length, false).then(
        ({ entry, counter }) => {
          try {
            return sealRecord(fixedHeader, entry.wrapped, counter, entry.dataKey, aad, held);
          } finally {
            held.fill(0);
          }
        },
        (error: unknown) => {
          held.fill(0);
          throw error;
        },
      );
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Decrypts an envelope made by {@link Transit.encrypt}. `context` must equal the one used to
   * encrypt; otherwise, or if any byte of the envelope changed, it throws `ERR_TRANSIT_INTEGRITY`.
   *
   * @example
   * ```ts
   * const plaintext = await transit.decrypt(envelope, { tenant: 't1', table: 'users', column: 'ssn', id: 42 });
   * ```
   */
  decrypt(envelope: Uint8Array, context: EncryptionContext): Promise<Buffer> {
    return this.#decrypt(envelope, context, false);
  }

  #decrypt(envelope: Uint8Array, context: EncryptionContext, bulk: boolean): Promise<Buffer> {
    try {
      const record = parseRecord(envelope, this.#accepts);
      const aad = encodeContext(context, record.fixedHeader);
      const dataKey = this.#unwrap(record, context, bulk);
      if (dataKey instanceof DataKey) return Promise.resolve(openRecord(record, dataKey, aad));
      // The envelope is read at call time: the caller may reuse its buffer while Vault answers.
      const held = copyRecord(record);
      return dataKey.then((key) => openRecord(held, key, aad));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Encrypts UTF-8 text; returns the envelope as base64url text (for text columns).
   *
   * @example
   * ```ts
   * const stored = await transit.encryptString('alice@example.com', { tenant: 't1', table: 'users', column: 'email', id: 7 });
   * ```
   */
  async encryptString(text: string, context: EncryptionContext): Promise<string> {
    if (typeof text !== 'string') {
      throw new TransitError('ERR_TRANSIT_INVALID_INPUT', 'encryptString(text, context): text must be a string.');
    }
    // A lone surrogate has no UTF-8 encoding: it would be stored as U+FFFD, so distinct texts
    // would decrypt alike.
    if (LONE_SURROGATE.test(text)) {
      throw new TransitError(
        'ERR_TRANSIT_INVALID_INPUT',
        'encryptString(text, context): text must be well-formed UTF-16 (it has a lone surrogate, which UTF-8 cannot carry): encode such data as bytes and use encrypt().',
      );
    }
    const bytes = Buffer.from(text, 'utf8');
    try {
      return (await this.encrypt(bytes, context)).toString('base64url');
    } finally {
      bytes.fill(0);
    }
  }

  /**
   * Decrypts what {@link Transit.encryptString} returned. Only that exact text is accepted: any
   * other spelling of the same bytes (padding, a changed unused bit, an extra character) fails
   * with `ERR_TRANSIT_MALFORMED_ENVELOPE` before Vault is called.
   *
   * @example
   * ```ts
   * const email = await transit.decryptString(stored, { tenant: 't1', table: 'users', column: 'email', id: 7 });
   * ```
   */
  async decryptString(envelope: string, context: EncryptionContext): Promise<string> {
    if (!isEncryptStringText(envelope)) {
      throw new TransitError(
        'ERR_TRANSIT_MALFORMED_ENVELOPE',
        'decryptString(envelope): expected exactly the base64url text encryptString returned (unpadded, no whitespace, unchanged): pass the stored string as it was returned, or the envelope bytes to decrypt().',
      );
    }
    const plaintext = await this.decrypt(Buffer.from(envelope, 'base64url'), context);
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  }

  /**
   * Decrypts many records at once: the data keys missing from the cache are unwrapped with
   * `transit/decrypt` `batch_input` (at most `batchSize` per call). Each item fails on its own.
   * These calls queue as bulk work (`batchConcurrency`), with no wait limit: a single `decrypt`
   * made meanwhile takes the next free Vault slot before them. An item whose data key a single
   * `decrypt` needs while it still waits is unwrapped in that decrypt's batch instead, and shares
   * its outcome, the retryable wait-limit failure included.
   *
   * @example
   * ```ts
   * const results = await transit.decryptMany(rows.map((r) => ({ envelope: r.ssn, context: { tenant: r.tenant, table: 'users', column: 'ssn', id: r.id } })));
   * ```
   */
  decryptMany(
    items: readonly { readonly envelope: Uint8Array; readonly context: EncryptionContext }[],
  ): Promise<DecryptResult[]> {
    return decryptEach(items, (envelope, context) => this.#decrypt(envelope, context, true));
  }

  /**
   * Reads an envelope's header (mount, key, key version) without decrypting it.
   *
   * @example
   * ```ts
   * transit.inspect(envelope).keyVersion; // 3
   * ```
   */
  inspect(envelope: Uint8Array): EnvelopeInfo {
    return envelopeInfo(envelope);
  }

  /**
   * Reads the transit key and checks that it suits this instance: an AEAD type, and derived when
   * (and only when) `tenantBinding` is set. Call it at start-up.
   *
   * @example
   * ```ts
   * const info = await transit.verifyKey(); // throws ERR_TRANSIT_KEY_MISCONFIGURED if not usable
   * ```
   */
  async verifyKey(): Promise<TransitKeyInfo> {
    const info = await this.#vault.readKey(this.#mount, this.#key);
    checkKeySuits(info, this.#mount, this.#key, this.#tenantKey !== undefined);
    return info;
  }

  /**
   * Reports which envelopes are wrapped under an older key version than `minVersion` (default:
   * the key's latest) and which Vault would already refuse (`min_decryption_version`).
   *
   * @example
   * ```ts
   * const report = await transit.rotationReport(rows.map((r) => r.ssn));
   * report.stale; // indexes to rewrap
   * ```
   */
  rotationReport(
    envelopes: Iterable<Uint8Array>,
    options: { readonly minVersion?: number } = {},
  ): Promise<RotationReport> {
    this.#open();
    return rotationReport(this.#core, envelopes, options);
  }

  /**
   * Rewraps envelopes' data keys to the transit key's latest version with `transit/rewrap`
   * (batched), each under the key that wrapped it (this instance's or one of `acceptKeys`; others
   * fail with `ERR_TRANSIT_KEY_NOT_ACCEPTED`). The payload is untouched and no plaintext leaves
   * Vault. Tenant-bound envelopes need their `context`. Streams (format 2) are rewrapped the same way: pass the whole stream or only
   * its first bytes (at least the header; 1 KiB always suffices): the result is the new header
   * followed by the other bytes unchanged. Streams of format 1 fail with `ERR_TRANSIT_STREAM`.
   *
   * @example
   * ```ts
   * const results = await transit.rewrap(rows.map((r) => ({ envelope: r.ssn })));
   * ```
   */
  rewrap(items: readonly RewrapItem[]): Promise<RewrapResult[]> {
    this.#open();
    return rewrapEnvelopes(this.#core, items);
  }

  /**
   * A Transform that encrypts a byte stream in authenticated frames (`frameSize`, default 64 KiB),
   * holding about two frames in memory.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('big.bin'), transit.encryptStream({ tenant: 't1', object: 'big.bin' }), createWriteStream('big.bin.enc'));
   * ```
   */
  encryptStream(context: EncryptionContext): ReturnType<typeof createEncryptStream> {
    this.#open();
    return createEncryptStream(this.#core, context);
  }

  /**
   * A Transform that decrypts what {@link Transit.encryptStream} wrote; each frame is authenticated
   * before it is released, and truncation is detected at the end.
   *
   * @example
   * ```ts
   * await pipeline(createReadStream('big.bin.enc'), transit.decryptStream({ tenant: 't1', object: 'big.bin' }), createWriteStream('big.bin'));
   * ```
   */
  decryptStream(
    context: EncryptionContext,
    options: DecryptStreamOptions = {},
  ): ReturnType<typeof createDecryptStream> {
    this.#open();
    return createDecryptStream(this.#core, context, options);
  }

  /** Cached data keys right now (encrypt side, decrypt side). */
  stats(): { readonly encryptCacheEntries: number; readonly decryptCacheEntries: number } {
    return { encryptCacheEntries: this.#encryptCache.size, decryptCacheEntries: this.#decryptCache.size };
  }

  /**
   * Drops every cached data key, and every data key Vault has not answered yet: calls waiting for
   * one fetch a new one, so nothing encrypted after this returns uses a key version Vault chose
   * before it (rotation step 2). Unwraps in flight still answer their callers but are not cached.
   */
  clearCaches(): void {
    this.#encryptCache.clear();
    this.#decryptCache.clear();
    this.#batcher.clear();
  }

  /**
   * Drops every cached data key and refuses further use. No Vault call starts after it: unwraps
   * and rewraps still queued fail with `ERR_TRANSIT_CLOSED` at once, and calls in flight make no
   * further attempt. An unwrap in flight answers its callers `ERR_TRANSIT_CLOSED` (the data key
   * Vault sends back is wiped, never cached); a rewrap in flight still returns what Vault answers
   * (new wrapped data keys, no plaintext), or `ERR_TRANSIT_CLOSED` where it would have retried.
   */
  close(): void {
    this.#closed = true;
    this.#vault.close();
    this.#batcher.close();
    this.clearCaches();
  }

  toJSON(): object {
    return { mount: this.#mount, key: this.#key };
  }

  [inspect.custom](): string {
    return `Transit { mount: ${JSON.stringify(this.#mount)}, key: ${JSON.stringify(this.#key)} }`;
  }
}

/**
 * Creates envelope encryption under a Vault Transit key: each record is encrypted locally with
 * AES-256-GCM under a data key that Vault issued and wrapped, bound to a mandatory context, with a
 * key commitment. Options are validated now (every problem listed at once); Vault is first called
 * on the first encrypt or decrypt.
 *
 * @example
 * ```ts
 * import vault from 'node-vault';
 * import { createTransit } from '@rampart/transit';
 *
 * const transit = createTransit({
 *   vault: vault({ endpoint: process.env.VAULT_ADDR, token: process.env.VAULT_TOKEN }),
 *   key: 'users-pii',
 *   cache: { maxAgeMs: 5 * 60_000 },
 * });
 * const envelope = await transit.encrypt(Buffer.from('123-45-6789'), { tenant: 't1', table: 'users', column: 'ssn', id: 42 });
 * const plaintext = await transit.decrypt(envelope, { tenant: 't1', table: 'users', column: 'ssn', id: 42 });
 * ```
 */
export function createTransit(options: TransitOptions): Transit {
  return new Transit(options);
}

const BASE64URL_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/**
 * Whether `text` can be what {@link Transit.encryptString} returned: non-empty, unpadded base64url
 * in its one canonical spelling. Node's decoder ignores the last character's unused low bits and a
 * character after a multiple of four plus one, so other spellings would decode to the same envelope;
 * checked without re-encoding large texts (only the length mod 4 and the last character's unused
 * bits). Not a timing-safe comparison, and none is needed: the text is the caller's own.
 */
function isEncryptStringText(text: unknown): text is string {
  if (typeof text !== 'string' || text.length === 0 || !/^[A-Za-z0-9_-]*$/.test(text)) return false;
  const rest = text.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  // Two characters carry one byte (4 unused bits), three carry two (2 unused bits).
  return (BASE64URL_ALPHABET.indexOf(text.charAt(text.length - 1)) & (rest === 2 ? 0x0f : 0x03)) === 0;
}
