import { performance } from 'node:perf_hooks';
import type { RedisClient } from './scripts.ts';

/** What one {@link NextReadyQueue} holds for one client: its items, one listener pair and one timer. */
interface Pending<T> {
  readonly items: Set<T>;
  /** When the window of its latest item ends (Infinity: no window); the timer drops the set then. */
  until: number;
  timer: NodeJS.Timeout | undefined;
  /** Removes the listeners and the timer, and forgets the set. */
  readonly settle: () => void;
}

/** Options of a {@link NextReadyQueue}. */
export interface NextReadyQueueOptions<T> {
  /** Sends a client's items, once, on its next `ready`. Must not throw; its own failures are its own. */
  readonly run: (client: RedisClient, items: ReadonlySet<T>) => void;
  /** Most items waiting on one client; {@link NextReadyQueue.add} refuses more. Default: no limit. */
  readonly maxItems?: number;
}

/**
 * Commands that could not be sent while a client reconnects, run once on its next `ready`: after
 * the commands ioredis resends or re-subscribes as it turns ready (it does so before it emits
 * `ready`), on the same connection. One pending set, one `ready`/`end` listener pair and at most
 * one timer per client, however many items wait: never a listener pair per item. The client's
 * `end` (closed for good: nothing is resent) drops the set. Each user keeps its own queue: the sets
 * of two queues on one client are independent.
 *
 * @internal for the ReplayGuard's late forgets and the SharedCache subscriber's late leaves
 */
export class NextReadyQueue<T> {
  readonly #run: (client: RedisClient, items: ReadonlySet<T>) => void;
  readonly #maxItems: number;
  readonly #pending = new WeakMap<RedisClient, Pending<T>>();

  constructor(options: NextReadyQueueOptions<T>) {
    this.#run = options.run;
    this.#maxItems = options.maxItems ?? Number.POSITIVE_INFINITY;
  }

  /**
   * Queues `item` for `client`'s next `ready`. With `windowMs`, the set is dropped unless that
   * `ready` comes within `windowMs` of the latest item added with one. False when nothing was
   * queued: the client is closed for good, or `maxItems` already wait.
   */
  add(client: RedisClient, item: T, windowMs?: number): boolean {
    if (client.status === 'end') return false;
    const until = windowMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + windowMs;
    const pending = this.#pending.get(client);
    if (pending !== undefined) {
      if (pending.items.size >= this.#maxItems) return false;
      pending.items.add(item);
      pending.until = until;
      return true;
    }
    const settle = (): void => {
      clearTimeout(state.timer);
      client.off('ready', onReady);
      client.off('end', settle);
      if (this.#pending.get(client) === state) this.#pending.delete(client);
    };
    const onReady = (): void => {
      // `ready` is emitted a tick after the status changed: a connection lost again in between
      // resends its commands on the next `ready`, and the items wait for that one.
      if (client.status !== 'ready') return;
      settle();
      this.#run(client, state.items);
    };
    const state: Pending<T> = { items: new Set([item]), until, timer: undefined, settle };
    this.#pending.set(client, state);
    client.on('ready', onReady);
    client.on('end', settle);
    if (windowMs !== undefined) {
      // Every call is O(1), and they are at least a second apart (or the window, if shorter): it
      // runs again only when an item added since it was set moved the set's `until`.
      const expire = (): void => {
        const left = state.until - performance.now();
        if (left <= 0) {
          settle();
          return;
        }
        state.timer = setTimeout(expire, Math.max(left, Math.min(windowMs, 1_000)));
        state.timer.unref();
      };
      expire();
    }
    return true;
  }

  /** The items waiting for `client`'s next `ready` (remove one that need not run any more), or undefined. */
  pending(client: RedisClient): Set<T> | undefined {
    return this.#pending.get(client)?.items;
  }

  /** Drops what waits for `client`, with its listeners and timer: for a client closed on purpose. */
  drop(client: RedisClient): void {
    const pending = this.#pending.get(client);
    if (pending === undefined) return;
    pending.items.clear();
    pending.settle();
  }
}
