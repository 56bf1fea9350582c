/**
 * Gathers calls that a busy process makes close together into batches, so that under concurrency
 * many calls cost Redis one script and the client one command, one reply and one timeout entry.
 *
 * A call made while nothing of this coalescer is in flight or waiting goes straight out on its own
 * (`single`): a process with one request at a time waits for nothing and pays for no scheduling.
 * A call made while earlier ones are still in flight waits for the end of the current event-loop
 * iteration (`setImmediate`), which also gathers the requests that arrived on other connections
 * in the same iteration, and leaves with the others in batches of at most `maxBatch` (`batch`).
 * Nothing waits for a reply before it is sent; several smaller batches let Redis run one while
 * the client reads the reply of another.
 *
 * `batch` answers one result per item, in order: a value, or an `Error` for that item alone. When
 * it throws or rejects, every item of the batch gets that error.
 */
export class CallCoalescer<I, R> {
  readonly #maxBatch: number;
  readonly #single: (item: I) => Promise<R>;
  readonly #batch: (items: readonly I[]) => Promise<readonly (R | Error)[]>;
  #items: I[] = [];
  #resolvers: ((value: R) => void)[] = [];
  #rejecters: ((error: unknown) => void)[] = [];
  #inFlight = 0;
  #scheduled = false;
  readonly #busy: (() => boolean) | undefined;
  readonly #settled = (): void => {
    this.#inFlight -= 1;
  };
  readonly #flush = (): void => {
    this.#scheduled = false;
    this.#drain();
  };

  /**
   * @param busy when given, tells whether calls are in flight (e.g. `() => guard.inFlight > 0` for
   *   the RedisCallGuard every call goes through), instead of the coalescer counting its own.
   */
  constructor(
    maxBatch: number,
    single: (item: I) => Promise<R>,
    batch: (items: readonly I[]) => Promise<readonly (R | Error)[]>,
    busy?: () => boolean,
  ) {
    this.#maxBatch = maxBatch;
    this.#single = single;
    this.#batch = batch;
    this.#busy = busy;
  }

  /** Calls in flight (single or batched) and calls waiting for their batch. */
  get pending(): number {
    return this.#inFlight + this.#items.length;
  }

  /**
   * Sends `item` at once when nothing is in flight or waiting, else with the batch of this loop
   * iteration (after the calls already waiting, so calls leave in the order they were made).
   */
  run(item: I): Promise<R> {
    if (this.#items.length === 0 && (this.#busy === undefined ? this.#inFlight === 0 : !this.#busy())) {
      return this.#send(item);
    }
    return new Promise<R>((resolve, reject) => {
      this.#items.push(item);
      this.#resolvers.push(resolve);
      this.#rejecters.push(reject);
      if (this.#items.length >= this.#maxBatch) this.#drain();
      else if (!this.#scheduled) {
        this.#scheduled = true;
        setImmediate(this.#flush);
      }
    });
  }

  #send(item: I): Promise<R> {
    let sent: Promise<R>;
    try {
      sent = this.#single(item);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.#busy === undefined) {
      this.#inFlight += 1;
      sent.then(this.#settled, this.#settled);
    }
    return sent;
  }

  #drain(): void {
    const items = this.#items;
    if (items.length === 0) return;
    const resolvers = this.#resolvers;
    const rejecters = this.#rejecters;
    this.#items = [];
    this.#resolvers = [];
    this.#rejecters = [];
    if (items.length === 1) {
      this.#send(items[0] as I).then(resolvers[0], rejecters[0]);
      return;
    }
    this.#inFlight += 1;
    let sent: Promise<readonly (R | Error)[]>;
    try {
      sent = this.#batch(items);
    } catch (error) {
      sent = Promise.reject(error);
    }
    sent.then(
      (results) => {
        this.#inFlight -= 1;
        for (let i = 0; i < items.length; i++) {
          const result = i < results.length ? results[i] : new Error('the batch answered too few results.');
          if (result instanceof Error) (rejecters[i] as (error: unknown) => void)(result);
          else (resolvers[i] as (value: R) => void)(result as R);
        }
      },
      (error: unknown) => {
        this.#inFlight -= 1;
        for (const reject of rejecters) reject(error);
      },
    );
  }
}
