import { DataKey } from './data-key.ts';
import type { DecryptDekCache } from './dek-cache.ts';
import { closedError, type TransitError } from './errors.ts';
import type { MetricsHook } from './metrics.ts';
import type { VaultTransit } from './vault-transit.ts';

export interface UnwrapRequest {
  readonly mount: string;
  readonly key: string;
  readonly keyVersion: number;
  readonly wrappedDek: Buffer;
  readonly transitContext: string | undefined;
}

/** A wrapped DEK being unwrapped: later requests for it join `promise`. */
interface Waiting {
  readonly promise: Promise<DataKey>;
  /** Sent with bulk work (`decryptMany`): a single decrypt does not join it, but goes first. */
  readonly bulk: boolean;
}

interface Pending extends UnwrapRequest {
  readonly id: string;
  readonly bulk: boolean;
  /** This request's entry in the waiting map (removed only while it is still this one). */
  waiting: Waiting | undefined;
  /** The decrypt cache's generation and the time when this unwrap was asked for. */
  readonly generation: number;
  readonly requestedAt: number;
  resolve: (dataKey: DataKey) => void;
  reject: (error: TransitError) => void;
}

/**
 * Cache identity of a wrapped DEK: the same bytes under the same key and transit context. Mount and
 * key were checked against the accepted names (no NUL), and the wrapped DEK has a fixed length, so
 * the fields cannot run into each other.
 */
export function unwrapId(request: UnwrapRequest): string {
  return `${request.mount}\u0000${request.key}\u0000${request.keyVersion}\u0000${request.wrappedDek.toString('latin1')}${request.transitContext ?? ''}`;
}

/**
 * Coalesces decrypt-cache misses: requests made in the same turn of the event loop are sent as
 * `transit/decrypt` `batch_input` calls of at most `batchSize` items per (mount, key), and the same
 * wrapped DEK is unwrapped once however many records ask for it. Bulk requests (`decryptMany`) are
 * batched apart from single ones, whose batches take the next free Vault slot before any bulk batch
 * (`VaultTransit.decryptBatch`). A bulk request joins any unwrap of its DEK; a single one joins only
 * another single one, so it never waits in the bulk queue.
 */
export class UnwrapBatcher {
  readonly #vault: VaultTransit;
  readonly #cache: DecryptDekCache;
  readonly #batchSize: number;
  readonly #metrics: MetricsHook | undefined;
  readonly #now: () => number;
  readonly #waiting = new Map<string, Waiting>();
  #queue: Pending[] = [];
  #scheduled = false;
  #closed = false;

  constructor(
    vault: VaultTransit,
    cache: DecryptDekCache,
    batchSize: number,
    metrics: MetricsHook | undefined,
    now: () => number,
  ) {
    this.#vault = vault;
    this.#cache = cache;
    this.#batchSize = batchSize;
    this.#metrics = metrics;
    this.#now = now;
  }

  /**
   * Unwraps in flight now are still answered to their callers, but their data keys are not
   * cached (`clearCaches()` drops them too), and later requests do not join them.
   */
  clear(): void {
    this.#waiting.clear();
  }

  /**
   * Unwraps keep nothing once this is called: requests not yet sent fail with
   * `ERR_TRANSIT_CLOSED` and are never sent (the `VaultTransit` is closed too, so batches waiting
   * for a slot fail likewise), and callers of unwraps in flight get `ERR_TRANSIT_CLOSED` with no
   * data key entering the cache.
   */
  close(): void {
    this.#closed = true;
    const queue = this.#queue;
    this.#queue = [];
    for (const item of queue) item.reject(closedError());
    this.#waiting.clear();
  }

  /** The data key for `request`, from the cache or the next batch; `bulk` for `decryptMany`. */
  unwrap(request: UnwrapRequest, bulk = false): DataKey | Promise<DataKey> {
    if (this.#closed) return Promise.reject(closedError());
    const id = unwrapId(request);
    const cached = this.#cache.get(id);
    if (cached) {
      this.#metrics?.({ type: 'cache', cache: 'decrypt', result: 'hit' });
      return cached;
    }
    const waiting = this.#waiting.get(id);
    if (waiting && (bulk || !waiting.bulk)) return waiting.promise;
    this.#metrics?.({ type: 'cache', cache: 'decrypt', result: 'miss' });
    const pending: Pending = {
      ...request,
      id,
      bulk,
      waiting: undefined,
      generation: this.#cache.generation,
      requestedAt: this.#now(),
      resolve: () => {},
      reject: () => {},
    };
    const promise = new Promise<DataKey>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    pending.waiting = { promise, bulk };
    this.#queue.push(pending);
    this.#waiting.set(id, pending.waiting);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
    return promise;
  }

  #flush(): void {
    this.#scheduled = false;
    const queue = this.#queue;
    this.#queue = [];
    const groups = new Map<string, Pending[]>();
    for (const item of queue) {
      // Vault wants context in all items of a batch or in none.
      const group = `${item.bulk ? 1 : 0}\u0000${item.mount}\u0000${item.key}\u0000${item.transitContext === undefined ? 0 : 1}`;
      const list = groups.get(group);
      if (list) list.push(item);
      else groups.set(group, [item]);
    }
    for (const items of groups.values()) {
      for (let start = 0; start < items.length; start += this.#batchSize) {
        void this.#send(items.slice(start, start + this.#batchSize));
      }
    }
  }

  async #send(items: Pending[]): Promise<void> {
    const first = items[0];
    if (!first) return;
    try {
      const results = await this.#vault.decryptBatch(first.mount, first.key, items, !first.bulk);
      results.forEach((result, index) => {
        const item = items[index];
        if (!item) return;
        this.#forget(item);
        if (this.#closed) {
          if (Buffer.isBuffer(result)) result.fill(0);
          item.reject(closedError());
        } else if (Buffer.isBuffer(result)) {
          const dataKey = new DataKey(result);
          this.#cache.set(item.id, dataKey, item.generation, item.requestedAt);
          item.resolve(dataKey);
        } else {
          item.reject(result);
        }
      });
    } catch (error) {
      for (const item of items) {
        this.#forget(item);
        item.reject(error as TransitError);
      }
    }
  }

  /**
   * Stops later requests joining `item`, unless another request took its place (one made after a
   * `clear()`, or a single decrypt that would not join a bulk unwrap).
   */
  #forget(item: Pending): void {
    if (this.#waiting.get(item.id) === item.waiting) this.#waiting.delete(item.id);
  }
}
