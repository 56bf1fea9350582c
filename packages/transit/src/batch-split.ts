import type { ConcurrencyLimit, QueueOptions } from './concurrency-limit.ts';
import { TransitError } from './errors.ts';

/** What one batch call answers: per item, Vault's result or its error. */
export type BatchAnswer<Result> = (Result | TransitError)[];

/** A failure that belongs to one item (its envelope or key version), not to the call or the key. */
export function isItemFailure(error: unknown): error is TransitError {
  return (
    error instanceof TransitError &&
    (error.code === 'ERR_TRANSIT_INTEGRITY' || error.code === 'ERR_TRANSIT_KEY_VERSION_TOO_OLD')
  );
}

/** ⌈log₂ n⌉, 0 for n ≤ 1. */
function ceilLog2(n: number): number {
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

/**
 * The resend calls that batches Vault failed as a whole for one item's error (older Vault, before
 * vault#13111) may make in all: 4⌈log₂ n⌉ for `n` items, enough to isolate any two bad items among
 * them (one takes 2⌈log₂ n⌉). Each batch has one of its own (so it makes at most 1 + 4⌈log₂ n⌉
 * calls), and the batches of one bulk operation share one more, for all the operation's items: a
 * `rewrap`, or the bulk unwraps of one event-loop turn (a `decryptMany`), of B batches and N items,
 * makes at most B + 4⌈log₂ N⌉ calls however many of its items are bad, not B·(1 + 4⌈log₂ n⌉).
 */
export class SplitBudget {
  #callsLeft: number;

  constructor(items: number) {
    this.#callsLeft = 4 * ceilLog2(items);
  }

  /** Whether the two calls of one more split are left. */
  get canSplit(): boolean {
    return this.#callsLeft >= 2;
  }

  take(): void {
    this.#callsLeft -= 2;
  }
}

/**
 * One batch that Vault may fail as a whole for one item's error, resent in halves, each half
 * queued for a slot of its own, down to single items. Shared by all its halves.
 */
export class BatchSplit<Item, Result> {
  readonly #operation: string;
  readonly #key: string;
  readonly #slots: ConcurrencyLimit;
  /** The batch's own queue options: an urgent batch's halves are urgent too. */
  readonly #queue: QueueOptions;
  /** Urgent batches: `performance.now()` by which a half must have its slot (see {@link halves}). */
  readonly #sendBy: number | undefined;
  readonly #budgets: readonly SplitBudget[];
  readonly #send: (items: readonly Item[]) => Promise<BatchAnswer<Result> | 'split'>;
  readonly #classify: (error: unknown) => TransitError;
  /** A failure of a call, not of an item: the answer of every half not sent yet. */
  #failure: TransitError | undefined;

  constructor(options: {
    readonly operation: string;
    readonly key: string;
    readonly slots: ConcurrencyLimit;
    readonly queue: QueueOptions;
    readonly sendBy: number | undefined;
    /** The batch's items: its own budget is for them. */
    readonly items: number;
    /** The budget of the bulk operation the batch belongs to, shared by its batches. */
    readonly operationBudget: SplitBudget | undefined;
    /** One resend of `items` (a half) as a batch call; `'split'` when it is to be halved again. */
    readonly send: (items: readonly Item[]) => Promise<BatchAnswer<Result> | 'split'>;
    readonly classify: (error: unknown) => TransitError;
  }) {
    this.#operation = options.operation;
    this.#key = options.key;
    this.#slots = options.slots;
    this.#queue = options.queue;
    this.#sendBy = options.sendBy;
    const own = new SplitBudget(options.items);
    this.#budgets = options.operationBudget ? [own, options.operationBudget] : [own];
    this.#send = options.send;
    this.#classify = options.classify;
  }

  /**
   * Asked once when a call of `items` fails for good with `error`: whether its items are resent in
   * halves (Vault failed the call for an item's error, it has more than one item, and every budget
   * has the two calls left, which this takes). Past the budgets, the call keeps its error, which
   * its items get.
   */
  decide(items: number, error: TransitError): boolean {
    if (items <= 1 || !isItemFailure(error) || !this.#budgets.every((budget) => budget.canSplit)) return false;
    for (const budget of this.#budgets) budget.take();
    return true;
  }

  /** Both halves of `items` (the first one the larger), each in its own slot; their answers in order. */
  async halves(items: readonly Item[]): Promise<BatchAnswer<Result>> {
    const middle = Math.ceil(items.length / 2);
    const halves = await Promise.all([items.slice(0, middle), items.slice(middle)].map((h) => this.#half(h)));
    return halves.flat();
  }

  /**
   * One half, in a slot of its own (queued like the batch), split again if Vault fails it as a
   * whole too. An item's own failure is its answer. Any other failure (Vault unavailable after
   * retries, closed, forbidden, ...) is also the answer of every half not sent yet, which is then
   * not sent. A half of an urgent batch that gets no slot by `sendBy` is not sent either: its items
   * fail with the retryable unavailable error.
   */
  async #half(items: readonly Item[]): Promise<BatchAnswer<Result>> {
    // Recorded before the slot is freed: the next half, handed that slot, must see it.
    const fail = (error: unknown): TransitError[] => {
      const mapped = this.#classify(error);
      if (!isItemFailure(mapped)) this.#failure ??= mapped;
      return items.map(() => mapped);
    };
    let answer: BatchAnswer<Result> | 'split';
    try {
      const timeoutError = () => this.#timeout();
      const waitMs = this.#sendBy === undefined ? undefined : this.#sendBy - performance.now();
      if (waitMs !== undefined && waitMs <= 0) throw timeoutError();
      answer = await this.#slots.run(
        () => (this.#failure ? Promise.reject(this.#failure) : this.#send(items)).catch(fail),
        waitMs === undefined ? this.#queue : { ...this.#queue, maxWaitMs: waitMs, timeoutError },
      );
    } catch (error) {
      return fail(error);
    }
    return answer === 'split' ? this.halves(items) : answer;
  }

  /** Why a half of a split urgent batch was not sent: it could not have settled within two budgets. */
  #timeout(): TransitError {
    return new TransitError(
      'ERR_TRANSIT_VAULT_UNAVAILABLE',
      `Vault ${this.#operation} for transit key "${this.#key}": Vault failed a batch as a whole for one item's error (older Vault, before vault#13111), and this item's part of it got no batchConcurrency slot to be sent again within its retry budget (retry.attempts × retry.requestTimeoutMs + backoff), so it was not sent. Retryable.`,
    );
  }
}
