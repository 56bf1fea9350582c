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

/** One `transit/decrypt` call's items, open to change until it gets its `batchConcurrency` slot. */
interface Batch {
  readonly bulk: boolean;
  readonly items: Pending[];
  /** Set when the batch got its slot: its items are then fixed and (about to be) sent. */
  sent: boolean;
}

/** A wrapped DEK being unwrapped: later requests for it join `promise`. */
interface Pending extends UnwrapRequest {
  readonly id: string;
  /** Asked for by bulk work (`decryptMany`) only; a single decrypt joining it makes it urgent. */
  bulk: boolean;
  /** The batch it is in, once the queue was flushed; undefined while in the queue. */
  batch: Batch | undefined;
  readonly promise: Promise<DataKey>;
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
 * `transit/decrypt` `batch_input` calls of at most `batchSize` items per (mount, key), and each
 * wrapped DEK is unwrapped once however many records, bulk or single, ask for it while it is
 * pending. Bulk requests (`decryptMany`) are batched apart from single ones, whose batches take the
 * next free Vault slot before any bulk batch (`VaultTransit.decryptBatch`). A request joins the
 * pending unwrap of its DEK; when a single decrypt joins one that bulk work queued and that has not
 * been sent yet (still in the queue, or in a bulk batch waiting for a slot), the unwrap moves to the
 * single decrypt's urgent batch, taking its bulk waiters along, so the single decrypt never waits in
 * the bulk queue. One already sent is joined as it is: its answer is the quickest there is.
 */
export class UnwrapBatcher {
  readonly #vault: VaultTransit;
  readonly #cache: DecryptDekCache;
  readonly #batchSize: number;
  readonly #metrics: MetricsHook | undefined;
  readonly #now: () => number;
  readonly #waiting = new Map<string, Pending>();
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
    if (waiting) {
      if (!bulk && waiting.bulk) this.#promote(waiting);
      return waiting.promise;
    }
    this.#metrics?.({ type: 'cache', cache: 'decrypt', result: 'miss' });
    let resolve: (dataKey: DataKey) => void = () => {};
    let reject: (error: TransitError) => void = () => {};
    const promise = new Promise<DataKey>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const pending: Pending = {
      ...request,
      // A copy: the caller may reuse its envelope buffer once its call returns, while this is sent
      // later (a bulk batch can wait long for a slot). Sending other bytes than `id` names would
      // cache another record's DEK under this record's id.
      wrappedDek: Buffer.from(request.wrappedDek),
      id,
      bulk,
      batch: undefined,
      promise,
      generation: this.#cache.generation,
      requestedAt: this.#now(),
      resolve,
      reject,
    };
    this.#enqueue(pending);
    this.#waiting.set(id, pending);
    return promise;
  }

  #enqueue(pending: Pending): void {
    this.#queue.push(pending);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  /**
   * A single decrypt needs the DEK of a bulk unwrap: make it urgent unless it was already sent. One
   * still in the queue is simply batched with the single ones; one in a bulk batch waiting for a
   * slot leaves that batch for the next urgent one.
   */
  #promote(pending: Pending): void {
    const batch = pending.batch;
    if (batch?.sent) return;
    pending.bulk = false;
    if (!batch) return;
    const at = batch.items.indexOf(pending);
    if (at !== -1) batch.items.splice(at, 1);
    pending.batch = undefined;
    this.#enqueue(pending);
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
        const batch: Batch = {
          bulk: items[0]?.bulk ?? false,
          items: items.slice(start, start + this.#batchSize),
          sent: false,
        };
        for (const item of batch.items) item.batch = batch;
        void this.#send(batch);
      }
    }
  }

  async #send(batch: Batch): Promise<void> {
    const first = batch.items[0];
    if (!first) return;
    try {
      const results = await this.#vault.decryptBatch(
        first.mount,
        first.key,
        () => {
          batch.sent = true;
          return batch.items;
        },
        !batch.bulk,
      );
      results.forEach((result, index) => {
        const item = batch.items[index];
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
      // Not sent (closed, or an urgent batch past its wait) or failed as a whole: what it holds now.
      for (const item of batch.items) {
        this.#forget(item);
        item.reject(error as TransitError);
      }
    }
  }

  /** Stops later requests joining `item`, unless another request took its place (one made after a `clear()`). */
  #forget(item: Pending): void {
    if (this.#waiting.get(item.id) === item) this.#waiting.delete(item.id);
  }
}
