/** How a task queues for a slot of a {@link ConcurrencyLimit}. */
export interface QueueOptions {
  /**
   * Served before every task that is not urgent, whenever a slot frees (FIFO among urgent ones):
   * the coalesced unwraps of single `decrypt` calls, so they never queue behind bulk work.
   */
  readonly urgent?: boolean;
  /**
   * Longest the task may wait for a slot; past it, the call rejects with `timeoutError()` and the
   * task never starts. Default: no limit.
   */
  readonly maxWaitMs?: number;
  readonly timeoutError?: () => Error;
}

interface Waiter {
  readonly start: () => void;
  readonly reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/**
 * Runs at most `limit` tasks at once; the others wait their turn, urgent ones first, then first
 * come first served. Shared by every batched Vault call of one instance, so neither one huge
 * `decryptMany`/`rewrap` nor many concurrent ones open more than `limit` Vault requests. Once
 * {@link close}d, no waiting or later task ever starts: not even one handed its slot just before
 * `close()` but not yet resumed (it finds the limit closed when it resumes, and frees the slot).
 */
export class ConcurrencyLimit {
  readonly #limit: number;
  readonly #urgent: Waiter[] = [];
  readonly #waiting: Waiter[] = [];
  #running = 0;
  #closed: (() => Error) | undefined;

  constructor(limit: number) {
    this.#limit = limit;
  }

  async run<T>(task: () => Promise<T>, options: QueueOptions = {}): Promise<T> {
    if (this.#closed) throw this.#closed();
    if (this.#running >= this.#limit) {
      await this.#enqueue(options);
      // Handed a slot, but close() came before this resumed: give the slot back unused.
      const closed = this.#closedError();
      if (closed) {
        this.#release();
        throw closed;
      }
    } else this.#running += 1;
    try {
      return await task();
    } finally {
      this.#release();
    }
  }

  /** The error of close(), if it was called (a method: a field read here would stay narrowed after `await`). */
  #closedError(): Error | undefined {
    return this.#closed?.();
  }

  /** Hands the slot straight to the next waiter (the count stays), or frees it. */
  #release(): void {
    const next = this.#urgent.shift() ?? this.#waiting.shift();
    if (next) {
      clearTimeout(next.timer);
      next.start();
    } else this.#running -= 1;
  }

  /** Rejects every waiting task with `error()` now, and every later one at once; running tasks go on. */
  close(error: () => Error): void {
    this.#closed = error;
    for (const waiter of this.#urgent.splice(0).concat(this.#waiting.splice(0))) {
      clearTimeout(waiter.timer);
      waiter.reject(error());
    }
  }

  #enqueue(options: QueueOptions): Promise<void> {
    const queue = options.urgent ? this.#urgent : this.#waiting;
    return new Promise<void>((start, reject) => {
      const waiter: Waiter = { start, reject, timer: undefined };
      const { maxWaitMs, timeoutError } = options;
      if (maxWaitMs !== undefined && timeoutError) {
        waiter.timer = setTimeout(() => {
          const at = queue.indexOf(waiter);
          if (at === -1) return;
          queue.splice(at, 1);
          reject(timeoutError());
        }, maxWaitMs);
      }
      queue.push(waiter);
    });
  }
}
