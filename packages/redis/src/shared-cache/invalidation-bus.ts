import type { RedisClient } from '../scripts.ts';

/** One invalidation: keys, tags, or everything (`all`). `origin` lets a pod skip its own echo. */
export interface InvalidationMessage {
  readonly origin: string;
  readonly keys?: readonly string[];
  readonly tags?: readonly string[];
  readonly all?: boolean;
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
  readonly #messageListener = (channel: string, text: string): void => {
    if (channel !== this.#channel) return;
    const message = parse(text);
    if (message) this.#onMessage(message);
  };
  readonly #readyListener = (): void => {
    // Messages sent while we were disconnected are lost: forget everything we hold.
    this.#onResync();
  };

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
    this.#subscriber.on('message', this.#messageListener);
    this.#subscriber.on('ready', this.#readyListener);
    await this.#subscriber.subscribe(this.#channel);
    this.#subscribed = true;
  }

  /** True while invalidations can arrive: subscribed and connected. */
  get healthy(): boolean {
    return this.#subscribed && this.#subscriber.status === 'ready';
  }

  async close(): Promise<void> {
    this.#subscribed = false;
    this.#subscriber.off('message', this.#messageListener);
    this.#subscriber.off('ready', this.#readyListener);
    if (this.#subscriber.status === 'ready') await this.#subscriber.unsubscribe(this.#channel).catch(() => {});
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
