import { RedisStoreError, safeCause } from '../errors.ts';
import { NextReadyQueue } from '../next-ready-queue.ts';
import type { RedisClient } from '../scripts.ts';

/** One invalidation: keys, tags, or everything (`all`). `origin` lets a pod skip its own echo. */
export interface InvalidationMessage {
  readonly origin: string;
  readonly keys?: readonly string[];
  /**
   * For a write: the id stored in the new entry. A pod whose read raced this message and returned
   * that very entry may keep it; any other read of the key from before the message may not.
   */
  readonly w?: string;
  readonly tags?: readonly string[];
  readonly all?: boolean;
}

/** Buses on one subscriber connection, by channel. */
interface Dispatch {
  readonly byChannel: Map<string, Set<InvalidationBus>>;
  readonly onMessage: (channel: string, text: string) => void;
  readonly onReady: () => void;
  readonly onClose: () => void;
}

// Many caches may share one subscriber: one listener pair per connection, not per cache, so a
// service with dozens of caches never trips the EventEmitter leak warning.
const dispatchers = new WeakMap<RedisClient, Dispatch>();

/**
 * Channels to leave on a subscriber's next `ready`, after ioredis's own re-SUBSCRIBE of the lost
 * connection's channels (sent before `ready` is emitted), unless a bus listens on them again by then
 * (it removes its channel from the pending set). One pending set and one listener pair per
 * subscriber, whatever the number of caches closed while it reconnects (and of reconnects they are
 * closed during). The subscriber's `end` (closed for good: nothing to re-subscribe) drops the set.
 */
const leaves = new NextReadyQueue<string>({
  run: (subscriber, channels) => {
    const listened = dispatchers.get(subscriber)?.byChannel;
    const left = [...channels].filter((ch) => !listened?.has(ch)); // a new bus listens on the others
    if (left.length > 0) subscriber.unsubscribe(...left).catch(() => {});
  },
});

function attach(subscriber: RedisClient, channel: string, bus: InvalidationBus): void {
  let dispatch = dispatchers.get(subscriber);
  if (!dispatch) {
    const byChannel = new Map<string, Set<InvalidationBus>>();
    dispatch = {
      byChannel,
      onMessage: (ch, text) => {
        const buses = byChannel.get(ch);
        if (!buses) return;
        const message = parse(text);
        if (message) for (const b of buses) b.deliver(message);
      },
      onReady: () => {
        for (const buses of byChannel.values()) for (const b of buses) b.resync();
      },
      onClose: () => {
        for (const buses of byChannel.values()) for (const b of buses) b.disconnected();
      },
    };
    dispatchers.set(subscriber, dispatch);
    subscriber.on('message', dispatch.onMessage);
    subscriber.on('ready', dispatch.onReady);
    subscriber.on('close', dispatch.onClose);
  }
  const set = dispatch.byChannel.get(channel) ?? new Set();
  set.add(bus);
  dispatch.byChannel.set(channel, set);
  leaves.pending(subscriber)?.delete(channel); // listened to again: stays subscribed
}

/** Returns true when no bus listens on `channel` any more. */
function detach(subscriber: RedisClient, channel: string, bus: InvalidationBus): boolean {
  const dispatch = dispatchers.get(subscriber);
  const set = dispatch?.byChannel.get(channel);
  if (!dispatch || !set) return true;
  set.delete(bus);
  if (set.size > 0) return false;
  dispatch.byChannel.delete(channel);
  if (dispatch.byChannel.size === 0) {
    subscriber.off('message', dispatch.onMessage);
    subscriber.off('ready', dispatch.onReady);
    subscriber.off('close', dispatch.onClose);
    dispatchers.delete(subscriber);
  }
  return true;
}

/**
 * Cross-pod L1 invalidation over Redis pub/sub. Carries invalidations only, never values, so a
 * pod that misses a message can only miss a delete; to cover that, the L1 is dropped whenever the
 * subscriber reconnects, and fresh reads skip it while the subscriber is down. The subscription is
 * made when the subscriber is ready, at start or later (a `redis.duplicate()` is still connecting
 * when the cache is built), and again on a `ready` after a failed attempt.
 */
export class InvalidationBus {
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #origin: string;
  readonly #onMessage: (message: InvalidationMessage) => void;
  readonly #onResync: () => void;
  readonly #onError: (error: unknown) => void;
  readonly #label: string;
  #subscribed = false;
  #subscribing = false;
  #closed = false;
  readonly #waiters = new Set<() => void>();

  constructor(
    subscriber: RedisClient,
    channel: string,
    origin: string,
    onMessage: (message: InvalidationMessage) => void,
    onResync: () => void,
    onError: (error: unknown) => void,
    label = 'SharedCache',
  ) {
    this.#subscriber = subscriber;
    this.#channel = channel;
    this.#origin = origin;
    this.#onMessage = onMessage;
    this.#onResync = onResync;
    this.#onError = onError;
    this.#label = label;
  }

  /** Listens for the subscriber's `ready`, and subscribes now if it already is. */
  start(): void {
    attach(this.#subscriber, this.#channel, this);
    if (this.#subscriber.status === 'ready') this.#subscribe();
  }

  /**
   * Resolves once subscribed; rejects with a retryable `ERR_REDIS_TIMEOUT` after `timeoutMs`. The
   * bus keeps trying on every `ready` of the subscriber either way.
   */
  whenSubscribed(timeoutMs: number, label: string): Promise<void> {
    if (this.#subscribed) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(done);
        reject(
          new RedisStoreError(
            'ERR_REDIS_TIMEOUT',
            `${label}.ready: the subscriber did not subscribe within ${timeoutMs} ms; the L1 stays off until it does (retried on every reconnect).`,
          ),
        );
      }, timeoutMs);
      this.#waiters.add(done);
    });
  }

  /** Called by the connection's dispatcher for a message on this bus's channel; skips this pod's own. */
  deliver(message: InvalidationMessage): void {
    if (message.origin !== this.#origin) this.#onMessage(message);
  }

  /**
   * Called when the subscriber (re)connects: messages sent meanwhile are lost, so the L1 must be
   * forgotten. ioredis emits `ready` before it re-subscribes, so the bus is not healthy again until
   * the reply to a SUBSCRIBE sent now (queued behind ioredis's own, if any) says the channel is
   * back; a subscription that never succeeded is made the same way. The L1 is dropped once, when
   * that reply comes: until then it is neither read nor filled (not healthy), and dropping it then
   * also covers whatever was missed before the SUBSCRIBE took effect.
   */
  resync(): void {
    this.#subscribed = false;
    this.#subscribe();
  }

  /**
   * Called when the subscriber's connection closes. ioredis sets `status = 'ready'` on the next
   * connection one tick before it emits `ready`, so waiting for `ready` (resync) to clear the flag
   * would leave that tick healthy with the old connection's subscription; `close` always comes
   * before the next `ready`.
   */
  disconnected(): void {
    this.#subscribed = false;
  }

  /** True while invalidations can arrive: subscribed (the reply came) and connected. */
  get healthy(): boolean {
    return this.#subscribed && this.#subscriber.status === 'ready';
  }

  /**
   * Leaves the channel when no other bus on this subscriber listens to it. While the subscriber is
   * reconnecting an UNSUBSCRIBE cannot be sent (without an offline queue it is refused at once), and
   * ioredis re-subscribes every channel of the lost connection on its next `ready`: the UNSUBSCRIBE is
   * then sent on that `ready`, after ioredis's re-SUBSCRIBE, unless a bus joined the channel meanwhile
   * (one pending set and one listener pair per subscriber, however many caches close meanwhile).
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribed = false;
    const last = detach(this.#subscriber, this.#channel, this);
    if (!last) return;
    const subscriber = this.#subscriber;
    const channel = this.#channel;
    if (subscriber.status === 'ready') {
      await subscriber.unsubscribe(channel).catch(() => {});
      return;
    }
    if (subscriber.status === 'end') return; // closed for good: nothing to re-subscribe
    leaves.add(subscriber, channel);
  }

  #subscribe(): void {
    if (this.#subscribing || this.#closed) return;
    this.#subscribing = true;
    this.#subscriber.subscribe(this.#channel).then(
      () => {
        this.#subscribing = false;
        if (this.#closed) return;
        // Anything cached before the subscription could have missed an invalidation. The only
        // place the bus turns healthy, so the L1 is never trusted again without this drop.
        this.#onResync();
        this.#subscribed = true;
        for (const done of [...this.#waiters]) done();
      },
      (error: unknown) => {
        this.#subscribing = false;
        // ioredis's error carries the command with its arguments: only its name, message, stack
        // and code are passed on, as everywhere else.
        this.#onError(
          new RedisStoreError(
            'ERR_REDIS_UNAVAILABLE',
            `${this.#label}: the subscriber could not subscribe to the invalidation channel; the L1 stays off until it does (retried on every reconnect). If it keeps failing, check that the subscriber's ACL user may use the channel (see the cause).`,
            { cause: safeCause(error) },
          ),
        );
      },
    );
  }
}

export function encodeInvalidation(message: InvalidationMessage): string {
  return JSON.stringify(message);
}

function parse(text: string): InvalidationMessage | undefined {
  try {
    const m = JSON.parse(text) as InvalidationMessage;
    if (typeof m !== 'object' || m === null || typeof m.origin !== 'string') return undefined;
    if (m.keys !== undefined && !Array.isArray(m.keys)) return undefined;
    if (m.tags !== undefined && !Array.isArray(m.tags)) return undefined;
    return m;
  } catch {
    return undefined;
  }
}
