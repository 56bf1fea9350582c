import type { ConcurrencyLimit, QueueOptions } from './concurrency-limit.ts';
import { closedError, TransitError } from './errors.ts';

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
 * What `send` answers for a call Vault failed as a whole for an item's error when whether its
 * halves are resent is up to the operation's budget and not granted at once (see
 * {@link SplitBudget.request}): `true` once granted, or, refused, the error its items get (see
 * {@link BatchSplit.decide}).
 */
export interface DeferredSplit {
  readonly decided: Promise<true | TransitError>;
}

/** One batch call's answer: per item, or `'split'` (its halves are resent), or a {@link DeferredSplit}. */
export type SendAnswer<Result> = BatchAnswer<Result> | 'split' | DeferredSplit;

/**
 * The resend budget of one bulk operation (a `rewrap`, or the bulk unwraps of one event-loop turn:
 * a `decryptMany`) whose batches an older Vault (before vault#13111) fails as a whole for one
 * item's error. It starts at 4⌈log₂ N⌉ calls for the operation's N items; each split takes the two
 * calls of its halves, and each resend Vault answers per item (progress: its items are told apart)
 * earns two back: its own call and one more. So an all-bad operation, none of whose resends Vault
 * ever answers per item, makes at most B + 4⌈log₂ N⌉ calls over its B batches, and in general at
 * most B + 4⌈log₂ N⌉ + 2·(resends answered per item); while one bad item per batch costs it nothing
 * net (of the two halves of each of its splits, one is answered per item).
 *
 * A split the balance cannot pay for now waits while a resend of the operation is in flight (its
 * answer may earn the two calls), and is refused only when none is. With nothing in flight, the
 * balance is 4⌈log₂ N⌉ less two for each split both of whose halves Vault failed whole (a split
 * between two bad items): no split is refused unless the bad items beyond the first of their
 * batch number at least 2⌈log₂ N⌉, whatever the order in which Vault answers. Past that bound,
 * which splits are refused may depend on that order (a batch's first call is not counted in flight).
 *
 * A resend Vault fails otherwise (unavailable after its retries, closed, forbidden) earns nothing
 * although its answer might have paid for one split (the two calls it would have earned): it
 * leaves a credit of its failure for its (mount, key), and a split of that key refused later
 * takes one credit and answers with its failure instead of the call's item error (see
 * {@link takeCredit}, {@link BatchSplit.decide}). So a failure answers at most as many refused
 * splits as the resends it failed, and never another key's (whose name its message carries).
 */
export class SplitBudget {
  #balance: number;
  /** Resends granted and not settled yet: each may still earn. */
  #inFlight = 0;
  readonly #waiters: ((granted: boolean) => void)[] = [];
  /** Per (mount, key) scope: the failures of its resends Vault failed otherwise, not taken yet. */
  readonly #credits = new Map<string, TransitError[]>();

  constructor(items: number) {
    this.#balance = 4 * ceilLog2(items);
  }

  /**
   * The two calls of one more split: `true` (taken), `false` (refused: the balance is short and no
   * resend is in flight), or the answer once a resend in flight settles. `resend`: the call asking
   * is a resend of this operation, still in flight until its {@link settle} (which follows).
   */
  request(resend: boolean): boolean | Promise<boolean> {
    if (this.#take()) return true;
    if (this.#inFlight - (resend ? 1 : 0) <= 0) return false;
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /**
   * A refused split of `scope` (its mount and key) takes one credit left by a resend of that scope
   * Vault failed otherwise, and answers with its failure: why the balance may be short (the
   * resend's answer might have paid for the split), not a bad item. `undefined` when none is left.
   */
  takeCredit(scope: string): TransitError | undefined {
    const credits = this.#credits.get(scope);
    const failure = credits?.shift();
    if (credits?.length === 0) this.#credits.delete(scope);
    return failure;
  }

  /**
   * A granted resend settled: answered per item (it earns its two calls) or not; `failed`: the
   * error its call failed with, if it did, and its scope (mount and key). A failure that is not
   * its items' own leaves a credit (see {@link takeCredit}).
   */
  settle(answeredPerItem: boolean, failed?: { readonly error: TransitError; readonly scope: string }): void {
    this.#inFlight -= 1;
    if (answeredPerItem) this.#balance += 2;
    else if (failed !== undefined && !isItemFailure(failed.error)) {
      const credits = this.#credits.get(failed.scope);
      if (credits) credits.push(failed.error);
      else this.#credits.set(failed.scope, [failed.error]);
    }
    // First come first served; once nothing is in flight, nothing more can be earned.
    while (this.#waiters.length > 0) {
      const granted = this.#take();
      if (!granted && this.#inFlight > 0) break;
      this.#waiters.shift()?.(granted);
    }
  }

  #take(): boolean {
    if (this.#balance < 2) return false;
    this.#balance -= 2;
    this.#inFlight += 2;
    return true;
  }
}

/**
 * One batch that Vault may fail as a whole for one item's error, resent in halves, each half
 * queued for a slot of its own, down to single items. Shared by all its halves.
 */
export class BatchSplit<Item, Result> {
  readonly #operation: string;
  readonly #key: string;
  /** The batch's mount and key: the scope of its credits in the operation's budget. */
  readonly #scope: string;
  readonly #slots: ConcurrencyLimit;
  /** The batch's own queue options: an urgent batch's halves are urgent too. */
  readonly #queue: QueueOptions;
  /** Urgent batches: `performance.now()` by which a half must have its slot (see {@link halves}). */
  readonly #sendBy: number | undefined;
  /** The batch's own resend calls left: 4⌈log₂ n⌉ for its n items (1 + 4⌈log₂ n⌉ calls in all). */
  #ownCallsLeft: number;
  readonly #operationBudget: SplitBudget | undefined;
  readonly #send: (items: readonly Item[]) => Promise<SendAnswer<Result>>;
  readonly #classify: (error: unknown) => TransitError;
  readonly #isClosed: () => boolean;
  /** A failure of a call, not of an item: the answer of every half not sent yet. */
  #failure: TransitError | undefined;

  constructor(options: {
    readonly operation: string;
    readonly mount: string;
    readonly key: string;
    readonly slots: ConcurrencyLimit;
    readonly queue: QueueOptions;
    readonly sendBy: number | undefined;
    /** The batch's items: its own budget is for them. */
    readonly items: number;
    /** The budget of the bulk operation the batch belongs to, shared by its batches. */
    readonly operationBudget: SplitBudget | undefined;
    /** One resend of `items` (a half) as a batch call; `'split'` (or deferred) when it is to be halved again. */
    readonly send: (items: readonly Item[]) => Promise<SendAnswer<Result>>;
    readonly classify: (error: unknown) => TransitError;
    /** Whether the instance was closed: a split refused then answers `ERR_TRANSIT_CLOSED`. */
    readonly isClosed: () => boolean;
  }) {
    this.#operation = options.operation;
    this.#key = options.key;
    this.#scope = `${options.mount}\u0000${options.key}`;
    this.#slots = options.slots;
    this.#queue = options.queue;
    this.#sendBy = options.sendBy;
    this.#ownCallsLeft = 4 * ceilLog2(options.items);
    this.#operationBudget = options.operationBudget;
    this.#send = options.send;
    this.#classify = options.classify;
    this.#isClosed = options.isClosed;
  }

  /**
   * Asked once when a call of `items` fails for good with `error`: whether its items are resent in
   * halves. `false` at once (the call keeps its error, which its items get) unless Vault failed the
   * call for an item's error, it has more than one item and the batch has the two calls left;
   * then `true` if the operation's budget grants them at once, or else a promise of `true` (granted
   * once a resend in flight earned them) or of the error the call's items get, refused:
   * `ERR_TRANSIT_CLOSED` once the instance is closed, else the failure of a call of this batch that
   * was not its items' own (the halves would not have been sent), else the failure of a credit
   * taken from the operation's budget for this batch's key (a resend of that key Vault failed
   * otherwise, whose answer might have paid for the split: Vault unavailable, say, is the cause,
   * not a bad item; see {@link SplitBudget.takeCredit}), else `error`. `resend`: the call is one
   * of a half.
   */
  decide(items: number, error: TransitError, resend: boolean): boolean | Promise<true | TransitError> {
    if (items <= 1 || !isItemFailure(error) || this.#ownCallsLeft < 2) return false;
    this.#ownCallsLeft -= 2;
    const granted = this.#operationBudget?.request(resend) ?? true;
    if (granted === true) return true;
    const refused = (): TransitError => {
      this.#ownCallsLeft += 2;
      if (this.#isClosed()) return closedError();
      return this.#failure ?? this.#operationBudget?.takeCredit(this.#scope) ?? error;
    };
    return granted === false
      ? Promise.resolve(refused())
      : granted.then((yes): true | TransitError => yes || refused());
  }

  /** The answer of the batch's first call: its halves' if it is split; the error of a refused split thrown. */
  async answer(items: readonly Item[], answer: SendAnswer<Result>): Promise<BatchAnswer<Result>> {
    if (answer === 'split') return this.halves(items);
    if (Array.isArray(answer)) return answer;
    const decided = await answer.decided;
    if (decided === true) return this.halves(items);
    throw decided;
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
   * fail with the retryable unavailable error. Settled, the half tells the operation's budget
   * whether Vault answered it per item, and the failure of its call if Vault failed it (a half not
   * sent leaves no credit: its items have the failure that stopped it, and it cost Vault nothing).
   */
  async #half(items: readonly Item[]): Promise<BatchAnswer<Result>> {
    // Recorded before the slot is freed: the next half, handed that slot, must see it.
    let failedCall: { readonly error: TransitError; readonly scope: string } | undefined;
    const fail = (error: unknown, sent: boolean): TransitError[] => {
      const mapped = this.#classify(error);
      if (sent) failedCall = { error: mapped, scope: this.#scope };
      if (!isItemFailure(mapped)) this.#failure ??= mapped;
      return items.map(() => mapped);
    };
    let answer: SendAnswer<Result>;
    let answeredPerItem = false;
    try {
      const timeoutError = () => this.#timeout();
      const waitMs = this.#sendBy === undefined ? undefined : this.#sendBy - performance.now();
      if (waitMs !== undefined && waitMs <= 0) throw timeoutError();
      answer = await this.#slots.run(
        async () =>
          this.#failure
            ? fail(this.#failure, false)
            : this.#send(items).then(
                (sent) => {
                  answeredPerItem = Array.isArray(sent);
                  return sent;
                },
                (error: unknown) => fail(error, true),
              ),
        waitMs === undefined ? this.#queue : { ...this.#queue, maxWaitMs: waitMs, timeoutError },
      );
    } catch (error) {
      const failed = fail(error, false);
      this.#operationBudget?.settle(false);
      return failed;
    }
    this.#operationBudget?.settle(answeredPerItem, failedCall);
    if (answer === 'split' || Array.isArray(answer)) return this.answer(items, answer);
    const decided = await answer.decided;
    return decided === true ? this.halves(items) : items.map(() => decided);
  }

  /** Why a half of a split urgent batch was not sent: it could not have settled within two budgets. */
  #timeout(): TransitError {
    return new TransitError(
      'ERR_TRANSIT_VAULT_UNAVAILABLE',
      `Vault ${this.#operation} for transit key "${this.#key}": Vault failed a batch as a whole for one item's error (older Vault, before vault#13111), and this item's part of it got no batchConcurrency slot to be sent again within its retry budget (retry.attempts × retry.requestTimeoutMs + backoff), so it was not sent. Retryable.`,
    );
  }
}
