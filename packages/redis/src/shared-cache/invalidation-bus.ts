import type { RedisClient } from '../scripts.ts';
import type { BoundedLru } from './l1.ts';

/** One invalidation: keys, tags, or everything (`all`). `origin` lets a pod skip its own echo. */
export interface InvalidationMessage {
  readonly origin: string;
  readonly keys?: readonly string[];
  readonly tags?: readonly string[];
  readonly all?: boolean;
}

/** Buses on one subscriber connection, by channel. */
interface Dispatch {
  readonly byChannel: Map<string, Set<InvalidationBus>>;
  readonly onMessage: (channel: string, text: string) => void;
  readonly onReady: () => void;
}

// Many caches may share one subscriber: one listener pair per connection, not per cache, so a
// service with dozens of caches never trips the EventEmitter leak warning.
const dispatchers = new WeakMap<RedisClient, Dispatch>();

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
    };
    dispatchers.set(subscriber, dispatch);
    subscriber.on('message', dispatch.onMessage);
    subscriber.on('ready', dispatch.onReady);
  }
  const set = dispatch.byChannel.get(channel) ?? new Set();
  set.add(bus);
  dispatch.byChannel.set(channel, set);
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
    dispatchers.delete(subscriber);
  }
  return true;
}

/**
 * Cross-pod L1 invalidation over Redis pub/sub. Carries invalidations only, never values, so a
 * pod that misses a message can only miss a delete; to cover that, the L1 is dropped whenever the
 * subscriber reconnects, and fresh reads skip it while the subscriber is down.
 */
export class InvalidationBus {
  readonly #subscriber: RedisClient;
  readonly #channel: string;
  readonly #onMessage: (message: InvalidationMessage) => void;
  readonly #onResync: () => void;
  #subscribed = false;

  constructor(
    subscriber: RedisClient,
    channel: string,
    onMessage: (message: InvalidationMessage) => void,
    onResync: () => void,
  ) {
    this.#subscriber = subscriber;
    this.#channel = channel;
    this.#onMessage = onMessage;
    this.#onResync = onResync;
  }

  /** Subscribes; until this resolves the bus is not healthy (the L1 is bypassed). */
  async start(): Promise<void> {
    attach(this.#subscriber, this.#channel, this);
    await this.#subscriber.subscribe(this.#channel);
    this.#subscribed = true;
  }

  /** Called by the connection's dispatcher for a message on this bus's channel. */
  deliver(message: InvalidationMessage): void {
    this.#onMessage(message);
  }

  /** Called when the subscriber (re)connects: messages sent meanwhile are lost, so forget everything. */
  resync(): void {
    this.#onResync();
  }

  /** True while invalidations can arrive: subscribed and connected. */
  get healthy(): boolean {
    return this.#subscribed && this.#subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    this.#subscribed = false;
    const last = detach(this.#subscriber, this.#channel, this);
    if (last && this.#subscriber.status === 'ready') await this.#subscriber.unsubscribe(this.#channel).catch(() => {});
  }
}

/** Drops from `l1` what `message` invalidates (whatever pod sent it). */
export function applyInvalidation(l1: BoundedLru<unknown>, message: InvalidationMessage): void {
  if (message.all) l1.clear();
  for (const key of message.keys ?? []) if (typeof key === 'string') l1.delete(key);
  if (message.tags) l1.deleteTagged(message.tags.filter((t) => typeof t === 'string'));
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
