import { LONE_SURROGATE } from './context.ts';
import type { EncryptCacheLimits } from './dek-cache.ts';
import { MAX_MESSAGES_CAP } from './dek-cache.ts';
import { DEFAULT_MOUNT } from './envelope.ts';
import { TransitError } from './errors.ts';
import { isKeyName, isMountPath } from './key-name.ts';
import type { MetricsHook } from './metrics.ts';
import type { RetryOptions, VaultClient } from './vault-transit.ts';

/**
 * Options of {@link createTransit}.
 *
 * @example
 * ```ts
 * import type { TransitOptions } from '@rampart/transit';
 * const options: TransitOptions = {
 *   vault: client,
 *   key: 'users-pii',
 *   mount: 'transit',
 *   cache: { maxAgeMs: 5 * 60_000 },
 *   tenantBinding: { contextKey: 'tenant' },
 * };
 * ```
 */
export interface TransitOptions {
  /** Your node-vault client (`vault({ endpoint, token })`). Nothing is fetched until first use. */
  readonly vault: VaultClient;
  /** Transit key that wraps data keys. Must exist and be an AEAD type; Vault's datakey never creates it. */
  readonly key: string;
  /** Transit mount path. Default `transit`. */
  readonly mount?: string;
  /** Vault namespace (`X-Vault-Namespace`), when the client does not set one. */
  readonly namespace?: string;
  /** Encrypt-side DEK cache; `maxAgeMs` is required. */
  readonly cache: EncryptCacheLimits;
  /** Decrypt-side DEK cache by wrapped DEK. Default `{ maxAgeMs: cache.maxAgeMs, maxEntries: 10_000 }`; `false` disables it. */
  readonly decryptCache?: { readonly maxAgeMs?: number; readonly maxEntries?: number } | false;
  /**
   * Binds each DEK to a tenant through a derived transit key's `context` (the value of
   * `context[contextKey]`). The transit key must be created with `derived: true`.
   */
  readonly tenantBinding?: { readonly contextKey: string };
  /**
   * Further (mount, key) pairs whose envelopes `decrypt`, `decryptStream`, `rewrap` (under their own
   * key) and `rotationReport` accept, e.g. during a key migration.
   */
  readonly acceptKeys?: readonly { readonly key: string; readonly mount?: string }[];
  /** Retry of Vault-unavailable failures with bounded, jittered backoff. */
  readonly retry?: RetryOptions;
  /** Largest `batch_input` sent to `transit/decrypt` and `transit/rewrap`. Default 256. */
  readonly batchSize?: number;
  /**
   * Batched Vault calls (`transit/decrypt`, `transit/rewrap`) this instance has open at once, across
   * all its `decrypt`, `decryptMany`, `decryptStream` and `rewrap` calls; the others queue. Default
   * 4, at most 64. A `decryptMany` or `rewrap` of N items makes ⌈N/batchSize⌉ calls, this many at a time.
   */
  readonly batchConcurrency?: number;
  /** Plaintext bytes per stream frame. Default 64 KiB. */
  readonly frameSize?: number;
  /** Metrics/tracing hook; receives no secret material. */
  readonly onMetric?: MetricsHook;
  /** Clock in ms, for tests. Default `Date.now`. */
  readonly now?: () => number;
}

/** Whether an instance made with `options` accepts envelopes under `key` on `mount` (`acceptKeys`). */
export function acceptedKeys(options: TransitOptions): (mount: string, key: string) => boolean {
  const id = (mount: string | undefined, key: string): string => `${mountOf(mount)}\u0000${key}`;
  const ids = new Set([id(options.mount, options.key), ...(options.acceptKeys ?? []).map((k) => id(k.mount, k.key))]);
  return (mount, key) => ids.has(id(mount, key));
}

function positiveInt(value: unknown, max: number): boolean {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 1 && value <= max;
}

/** Checks every option and throws one error listing every problem. */
export function validateOptions(options: TransitOptions): void {
  const problems: string[] = [];
  if (options === null || typeof options !== 'object') {
    throw new TransitError('ERR_TRANSIT_INVALID_OPTIONS', 'createTransit(options): options must be an object.');
  }
  const vault = options.vault as Partial<VaultClient> | undefined;
  if (!vault || typeof vault.write !== 'function' || typeof vault.read !== 'function') {
    problems.push('vault: pass your node-vault client (an object with write() and read()).');
  }
  const checkKey = (name: string, key: unknown, mount: unknown): void => {
    if (!isKeyName(key)) {
      problems.push(`${name}.key: a transit key name (letters, digits, _, - and ., at most 255 bytes).`);
    }
    if (mount !== undefined && !isMountPath(mount)) {
      problems.push(
        `${name}.mount: a mount path such as "transit" or "team/transit", without leading or trailing "/" or "." / ".." segments.`,
      );
    }
  };
  checkKey('options', options.key, options.mount);
  // Sent as the X-Vault-Namespace header. Vault namespace names hold no spaces; a control character
  // would fail every request (Node refuses it in a header), a non-ASCII one would be sent as Latin-1
  // bytes that match no namespace. Refused here, at construction.
  if (
    options.namespace !== undefined &&
    (typeof options.namespace !== 'string' || !/^[\x21-\x7e]+$/.test(options.namespace))
  ) {
    problems.push(
      'namespace: a Vault namespace path of visible ASCII characters (e.g. "admin/team-a"): no spaces (also none before or after it, as a padded environment value has), control characters or non-ASCII letters, or leave it out.',
    );
  }
  const cache = options.cache as Partial<EncryptCacheLimits> | undefined;
  if (!cache || typeof cache !== 'object') {
    problems.push('cache: required, e.g. { maxAgeMs: 5 * 60_000 }: how long one data key may encrypt.');
  } else {
    if (!positiveInt(cache.maxAgeMs, 2 ** 31)) problems.push('cache.maxAgeMs: required, a whole number of ms ≥ 1.');
    if (cache.maxMessages !== undefined && !positiveInt(cache.maxMessages, MAX_MESSAGES_CAP)) {
      problems.push(`cache.maxMessages: 1 to 2^30 (${MAX_MESSAGES_CAP}); the default 2^20 keeps far below GCM limits.`);
    }
    if (cache.maxBytes !== undefined && !positiveInt(cache.maxBytes, Number.MAX_SAFE_INTEGER)) {
      problems.push('cache.maxBytes: a whole number of bytes ≥ 1.');
    }
    if (cache.maxEntries !== undefined && !positiveInt(cache.maxEntries, 1_000_000)) {
      problems.push('cache.maxEntries: 1 to 1,000,000.');
    }
  }
  const decryptCache = options.decryptCache;
  if (decryptCache !== undefined && decryptCache !== false) {
    if (typeof decryptCache !== 'object' || decryptCache === null) problems.push('decryptCache: an object or false.');
    else {
      if (decryptCache.maxAgeMs !== undefined && !positiveInt(decryptCache.maxAgeMs, 2 ** 31)) {
        problems.push('decryptCache.maxAgeMs: a whole number of ms ≥ 1.');
      }
      if (decryptCache.maxEntries !== undefined && !positiveInt(decryptCache.maxEntries, 10_000_000)) {
        problems.push('decryptCache.maxEntries: 1 to 10,000,000 (or decryptCache: false).');
      }
    }
  }
  if (options.tenantBinding !== undefined) {
    const contextKey = options.tenantBinding?.contextKey;
    if (typeof contextKey !== 'string' || contextKey === '' || LONE_SURROGATE.test(contextKey)) {
      problems.push(
        'tenantBinding.contextKey: the context entry that names the tenant, e.g. "tenant" (well-formed text: no context key has a lone surrogate).',
      );
    }
  }
  if (options.acceptKeys !== undefined) {
    if (!Array.isArray(options.acceptKeys)) problems.push('acceptKeys: an array of { key, mount? }.');
    else {
      options.acceptKeys.forEach((k, i) => {
        checkKey(`acceptKeys[${i}]`, k?.key, k?.mount);
      });
    }
  }
  const retry = options.retry;
  if (retry !== undefined) {
    if (retry.attempts !== undefined && !positiveInt(retry.attempts, 10)) problems.push('retry.attempts: 1 to 10.');
    if (retry.baseDelayMs !== undefined && !positiveInt(retry.baseDelayMs, 60_000))
      problems.push('retry.baseDelayMs: 1 to 60,000.');
    if (retry.maxDelayMs !== undefined && !positiveInt(retry.maxDelayMs, 60_000))
      problems.push('retry.maxDelayMs: 1 to 60,000.');
    if (retry.requestTimeoutMs !== undefined && !positiveInt(retry.requestTimeoutMs, 600_000)) {
      problems.push('retry.requestTimeoutMs: 1 to 600,000.');
    }
  }
  if (options.batchSize !== undefined && !positiveInt(options.batchSize, 10_000))
    problems.push('batchSize: 1 to 10,000.');
  if (options.batchConcurrency !== undefined && !positiveInt(options.batchConcurrency, 64))
    problems.push('batchConcurrency: 1 to 64 batched Vault calls open at once.');
  if (options.frameSize !== undefined && !positiveInt(options.frameSize, 16 * 1024 * 1024)) {
    problems.push('frameSize: 1 byte to 16 MiB.');
  }
  if (options.onMetric !== undefined && typeof options.onMetric !== 'function') problems.push('onMetric: a function.');
  if (options.now !== undefined && typeof options.now !== 'function') problems.push('now: a function returning ms.');
  if (problems.length > 0) {
    throw new TransitError(
      'ERR_TRANSIT_INVALID_OPTIONS',
      `createTransit(options) is misconfigured:\n- ${problems.join('\n- ')}`,
    );
  }
}

export function mountOf(mount: string | undefined): string {
  return mount ?? DEFAULT_MOUNT;
}

/** The decrypt-side DEK cache limits `options` ask for (`false`: a cache that keeps nothing). */
export function decryptCacheLimits(options: TransitOptions): { maxAgeMs: number; maxEntries: number } {
  const decryptCache = options.decryptCache;
  return decryptCache === false
    ? { maxAgeMs: 1, maxEntries: 0 }
    : {
        maxAgeMs: decryptCache?.maxAgeMs ?? options.cache.maxAgeMs,
        maxEntries: decryptCache?.maxEntries ?? 10_000,
      };
}
