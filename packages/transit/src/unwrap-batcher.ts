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

interface Pending extends UnwrapRequest {
  readonly id: string;
  /** The decrypt cache's generation and the time when this unwrap was asked for. */
  readonly generation: number;
  readonly requestedAt: number;
  readonly resolve: (dataKey: DataKey) => void;
  readonly reject: (error: TransitError) => void;
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
 * wrapped DEK is unwrapped once however many records ask for it.
 */
export class UnwrapBatcher {
  readonly #vault: VaultTransit;
  readonly #cache: DecryptDekCache;
  readonly #batchSize: number;
  readonly #metrics: MetricsHook | undefined;
  readonly #now: () => number;
  readonly #waiting = new Map<string, Promise<DataKey>>();
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
   * Unwraps still in flight keep nothing once this is called: their callers get
   * `ERR_TRANSIT_CLOSED` and no data key enters the cache.
   */
  close(): void {
    this.#closed = true;
  }

  /** The data key for `request`, from the cache or the next batch. */
  unwrap(request: UnwrapRequest): DataKey | Promise<DataKey> {
    const id = unwrapId(request);
    const cached = this.#cache.get(id);
    if (cached) {
      this.#metrics?.({ type: 'cache', cache: 'decrypt', result: 'hit' });
      return cached;
    }
    const waiting = this.#waiting.get(id);
    if (waiting) return waiting;
    this.#metrics?.({ type: 'cache', cache: 'decrypt', result: 'miss' });
    const promise = new Promise<DataKey>((resolve, reject) => {
      this.#queue.push({
        ...request,
        id,
        generation: this.#cache.generation,
        requestedAt: this.#now(),
        resolve,
        reject,
      });
    });
    this.#waiting.set(id, promise);
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
      const group = `${item.mount}\u0000${item.key}\u0000${item.transitContext === undefined ? 0 : 1}`;
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
      const results = await this.#vault.decryptBatch(first.mount, first.key, items);
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

  /** Stops later requests joining `item`, unless a request made after a `clear()` took its place. */
  #forget(item: Pending): void {
    if (item.generation === this.#cache.generation) this.#waiting.delete(item.id);
  }
}
