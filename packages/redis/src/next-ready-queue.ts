import { performance } from 'node:perf_hooks';
import { RedisStoreError } from './errors.ts';
import type { RedisClient } from './scripts.ts';

/** The longest delay a Node timer keeps (2^31 − 1 ms); a longer one fires after 1 ms, with a warning. */
const MAX_TIMER_MS = 2_147_483_647;

/** What one {@link NextReadyQueue} holds for one client: its items, one listener pair and one timer. */
interface Pending<T> {
  readonly items: Set<T>;
  /** With a window: when it ends, counted from the latest item (the timer drops the set then). */
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
  /**
   * How long a client's set waits for its `ready`, in ms from the latest item added (1 to
   * 2^31 − 1): it is dropped, with its listeners, unless that `ready` comes in time. Default: no
   * window (the set waits for the `ready` or the client's `end`).
   */
  readonly windowMs?: number;
}

/**
 * Commands that could not be sent while a client reconnects, run once on its next `ready`: after
 * the commands ioredis resends or re-subscribes as it turns ready (it does so before it emits
 * `ready`), on the same connection. One pending set, one `ready`/`end` listener pair and at most
 * one timer per client, however many items wait: never a listener pair per item. The client's
 * `end` (closed for good: nothing is resent) drops the set. Each user keeps its own queue: the sets
 * of two queues on one client are independent.
 *
 * The window is the queue's, the same for every item (`windowMs`): each user has one kind of item
 * (late forgets have a window, late leaves none), and a set never mixes items with and without a
 * window, or windows of different lengths, so its end only ever moves later.
 *
 * @internal for the ReplayGuard's late forgets and the SharedCache subscriber's late leaves
 */
export class NextReadyQueue<T> {
  readonly #run: (client: RedisClient, items: ReadonlySet<T>) => void;
  readonly #maxItems: number;
  readonly #windowMs: number | undefined;
  readonly #pending = new WeakMap<RedisClient, Pending<T>>();

  constructor(options: NextReadyQueueOptions<T>) {
    const { windowMs, maxItems } = options;
    const problems: string[] = [];
    if (windowMs !== undefined && !(Number.isSafeInteger(windowMs) && windowMs >= 1 && windowMs <= MAX_TIMER_MS)) {
      problems.push(`windowMs must be an integer from 1 to ${MAX_TIMER_MS} (ms), or left out for no window.`);
    }
    if (maxItems !== undefined && !(Number.isSafeInteger(maxItems) && maxItems >= 1)) {
      problems.push('maxItems must be a positive integer, or left out for no limit.');
    }
    if (problems.length > 0)
      throw new RedisStoreError('ERR_REDIS_INVALID_OPTIONS', `NextReadyQueue: ${problems.join(' ')}`);
    this.#run = options.run;
    this.#maxItems = maxItems ?? Number.POSITIVE_INFINITY;
    this.#windowMs = windowMs;
  }

  /** The queue's window in ms (see {@link NextReadyQueueOptions.windowMs}); undefined: none. */
  get windowMs(): number | undefined {
    return this.#windowMs;
  }

  /** Most items waiting on one client (see {@link NextReadyQueueOptions.maxItems}). */
  get maxItems(): number {
    return this.#maxItems;
  }

  /**
   * Queues `item` for `client`'s next `ready` (within the queue's window, from the latest item, if
   * it has one). False when nothing was queued: the client is closed for good, or `maxItems` already
   * wait.
   */
  add(client: RedisClient, item: T): boolean {
    if (client.status === 'end') return false;
    const windowMs = this.#windowMs;
    const until = windowMs === undefined ? Number.POSITIVE_INFINITY : performance.now() + windowMs;
    const pending = this.#pending.get(client);
    if (pending !== undefined) {
      if (pending.items.size >= this.#maxItems) return false;
      pending.items.add(item);
      pending.until = until; // later than before: the running timer sees it when it fires
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
      // runs again only when an item added since it was set moved the set's `until`. The delay is
      // at most the window, so always one a timer keeps.
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
