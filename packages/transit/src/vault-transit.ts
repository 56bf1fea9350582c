import { ConcurrencyLimit, type QueueOptions } from './concurrency-limit.ts';
import { fromVaultCiphertext, vaultCiphertext } from './envelope.ts';
import { closedError, TransitError, type TransitErrorCode } from './errors.ts';
import type { MetricsHook } from './metrics.ts';
import { RequestDeadlineError, withDeadline } from './request-deadline.ts';

/**
 * The part of a `node-vault` client this package uses: `write` and `read` (both resolve with the
 * parsed JSON body and reject with `ApiResponseError { response: { statusCode, body } }`).
 */
export interface VaultClient {
  write(path: string, data: unknown, requestOptions?: Record<string, unknown>): Promise<unknown>;
  read(path: string, requestOptions?: Record<string, unknown>): Promise<unknown>;
}

/** Bounded retry of Vault calls that failed as unavailable (network, 412, 429, 5xx). */
export interface RetryOptions {
  /** Attempts in total, first included. Default 4; 1 disables retries. */
  readonly attempts?: number;
  /** First backoff; doubles each attempt, with full jitter. Default 50 ms. */
  readonly baseDelayMs?: number;
  /** Cap of one backoff. Default 1,000 ms. */
  readonly maxDelayMs?: number;
  /**
   * Longest one attempt may take, whole answer included (also handed to node-vault as axios'
   * idle `timeout`). An attempt over it fails as unavailable and is retried, and its HTTP request is
   * aborted (socket closed). Default 10,000 ms.
   */
  readonly requestTimeoutMs?: number;
}

export interface WrappedDek {
  readonly keyVersion: number;
  readonly wrappedDek: Buffer;
}

export interface TransitKeyInfo {
  readonly type: string;
  readonly derived: boolean;
  readonly latestVersion: number;
  readonly minDecryptionVersion: number;
  readonly minEncryptionVersion: number;
}

const UNAVAILABLE_STATUSES = new Set([412, 429, 500, 502, 503, 504]);

/** Maps one of Vault's error strings (whole request or batch item) to a code. */
export function codeForVaultMessage(message: string, status = 400): TransitErrorCode {
  if (message.includes('message authentication failed')) return 'ERR_TRANSIT_INTEGRITY';
  if (message.includes('disallowed by policy (too old)')) return 'ERR_TRANSIT_KEY_VERSION_TOO_OLD';
  if (message.includes('version is too new') || message.startsWith('invalid ciphertext'))
    return 'ERR_TRANSIT_INTEGRITY';
  if (message.includes('encryption key not found') || message.includes('key not found'))
    return 'ERR_TRANSIT_KEY_NOT_FOUND';
  if (message.includes("missing 'context'")) return 'ERR_TRANSIT_KEY_MISCONFIGURED';
  // A malformed batch_input: Vault answers it with 500 (a plain Go error, not a user error), but it
  // can never accept that request, so it is refused, not retried.
  if (message.includes('failed to parse batch input')) return 'ERR_TRANSIT_VAULT_REJECTED';
  if (status === 403) return 'ERR_TRANSIT_VAULT_FORBIDDEN';
  if (status === 404) return 'ERR_TRANSIT_KEY_NOT_FOUND';
  if (UNAVAILABLE_STATUSES.has(status) || status >= 500) return 'ERR_TRANSIT_VAULT_UNAVAILABLE';
  return 'ERR_TRANSIT_VAULT_REJECTED';
}

const MESSAGES: Record<TransitErrorCode, string> = {
  ERR_TRANSIT_INVALID_OPTIONS: 'invalid options',
  ERR_TRANSIT_INVALID_INPUT: 'invalid input',
  ERR_TRANSIT_INVALID_CONTEXT: 'invalid context',
  ERR_TRANSIT_MALFORMED_ENVELOPE: 'malformed envelope',
  ERR_TRANSIT_KEY_NOT_ACCEPTED: 'key not accepted',
  ERR_TRANSIT_INTEGRITY:
    'the envelope does not authenticate: the context differs from the one used to encrypt, or the envelope or its wrapped data key was modified. Not retryable.',
  ERR_TRANSIT_KEY_VERSION_TOO_OLD:
    "the wrapped data key's version is below the transit key's min_decryption_version. Rewrap records (transit.rewrap) before raising min_decryption_version, or lower it again.",
  ERR_TRANSIT_KEY_NOT_FOUND:
    'the transit key does not exist on this mount/namespace: create it (POST <mount>/keys/<key>) or fix the key/mount/namespace options.',
  ERR_TRANSIT_KEY_MISCONFIGURED:
    'the transit key is not configured as this instance expects (a derived key needs tenantBinding; tenantBinding needs a derived key).',
  ERR_TRANSIT_VAULT_FORBIDDEN:
    "Vault refused the token (403): grant the token's policy update on <mount>/datakey/plaintext/<key>, <mount>/decrypt/<key> (and rewrap, keys for rotation).",
  ERR_TRANSIT_VAULT_UNAVAILABLE:
    'Vault is unavailable (unreachable, sealed, rate-limiting or failing) after bounded retries. Retryable.',
  ERR_TRANSIT_VAULT_REJECTED: 'Vault rejected the request',
  ERR_TRANSIT_STREAM: 'stream error',
  ERR_TRANSIT_CLOSED: 'closed',
};

function vaultError(
  code: TransitErrorCode,
  op: string,
  key: string,
  detail: { status?: number; errors?: readonly string[]; network?: string },
): TransitError {
  // The cause carries Vault's status and error strings only: never the node-vault error, whose
  // response body may hold data keys (batch decrypt) and whose axios config holds the request.
  const parts = [
    detail.status !== undefined ? `status ${detail.status}` : '',
    detail.network ?? '',
    ...(detail.errors ?? []),
  ].filter(Boolean);
  const cause = new Error(`Vault ${op}: ${parts.join('; ')}`);
  return new TransitError(code, `Vault ${op} for transit key "${key}": ${MESSAGES[code]}`, { cause });
}

function classify(error: unknown, op: string, key: string): TransitError {
  if (error instanceof TransitError) return error;
  if (error instanceof RequestDeadlineError) {
    return vaultError('ERR_TRANSIT_VAULT_UNAVAILABLE', op, key, {
      network: `${error.message} (retry.requestTimeoutMs)`,
    });
  }
  const response = (error as { response?: { statusCode?: unknown; body?: unknown } } | null)?.response;
  if (response && typeof response.statusCode === 'number') {
    const body = response.body as { errors?: unknown } | undefined;
    const errors = Array.isArray(body?.errors) ? body.errors.filter((e): e is string => typeof e === 'string') : [];
    return vaultError(codeForVaultMessage(errors.join('\n'), response.statusCode), op, key, {
      status: response.statusCode,
      errors,
    });
  }
  const code = (error as { code?: unknown } | null)?.code;
  return vaultError('ERR_TRANSIT_VAULT_UNAVAILABLE', op, key, {
    network: typeof code === 'string' ? code : 'network error',
  });
}

function batchResults(error: unknown): unknown[] | undefined {
  const body = (error as { response?: { body?: { data?: { batch_results?: unknown } } } } | null)?.response?.body;
  const results = body?.data?.batch_results;
  return Array.isArray(results) ? results : undefined;
}

/** A batch item that failed for a reason Vault does not name (an internal error): retryable. */
function isUnnamedFailure(result: unknown): boolean {
  const error = (result as { error?: unknown } | null)?.error;
  return (
    typeof error === 'string' && error !== '' && codeForVaultMessage(error, 500) === 'ERR_TRANSIT_VAULT_UNAVAILABLE'
  );
}

/** A wrapped DEK to send in a `batch_input`, with its transit context (tenant binding). */
type BatchItem = WrappedDek & { transitContext: string | undefined };

/** One entry of Vault's `batch_results`. */
interface BatchResult {
  readonly plaintext?: unknown;
  readonly ciphertext?: unknown;
  readonly error?: unknown;
}

/** A failure that belongs to one item (its envelope or key version), not to the call or the key. */
function isItemFailure(error: unknown): error is TransitError {
  return (
    error instanceof TransitError &&
    (error.code === 'ERR_TRANSIT_INTEGRITY' || error.code === 'ERR_TRANSIT_KEY_VERSION_TOO_OLD')
  );
}

/**
 * The calls one batch may make in all when Vault fails it as a whole for one item's error and it is
 * resent in halves: 1 + 4⌈log₂ n⌉, enough to isolate any two bad items of `n` (one takes
 * 1 + 2⌈log₂ n⌉).
 */
function splitCallCap(n: number): number {
  return 1 + 4 * (32 - Math.clz32(n - 1));
}

/**
 * One batch that Vault failed as a whole for one item's error, being resent in halves. Shared by
 * all its halves.
 */
interface Split {
  readonly operation: 'decrypt' | 'rewrap';
  readonly mount: string;
  readonly key: string;
  /** The batch's own queue options: an urgent batch's halves are urgent too. */
  readonly queue: QueueOptions;
  /** Calls the batch may still make (see {@link splitCallCap}); a failed half is split only while two are left. */
  callsLeft: number;
  /** Urgent batches: `performance.now()` by which a half must have its slot (see `#sendHalf`). */
  readonly sendBy: number | undefined;
  /** A failure of a call, not of an item: the answer of every half not sent yet. */
  failure: TransitError | undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Transit calls over the caller's node-vault client, with retry policy, error mapping and metrics. */
export class VaultTransit {
  readonly #client: VaultClient;
  readonly #requestOptions: Record<string, unknown>;
  readonly #timeoutMs: number;
  readonly #attempts: number;
  readonly #baseDelayMs: number;
  readonly #maxDelayMs: number;
  readonly #metrics: MetricsHook | undefined;
  readonly #batches: ConcurrencyLimit;
  #closed = false;

  constructor(
    client: VaultClient,
    options: {
      namespace?: string | undefined;
      retry?: RetryOptions | undefined;
      metrics?: MetricsHook | undefined;
      /** Batched calls (decrypt, rewrap) open at once, retries and their backoff included. */
      batchConcurrency: number;
    },
  ) {
    this.#client = client;
    this.#batches = new ConcurrencyLimit(options.batchConcurrency);
    this.#timeoutMs = options.retry?.requestTimeoutMs ?? 10_000;
    this.#requestOptions = {
      timeout: this.#timeoutMs,
      ...(options.namespace ? { headers: { 'X-Vault-Namespace': options.namespace } } : {}),
    };
    this.#attempts = options.retry?.attempts ?? 4;
    this.#baseDelayMs = options.retry?.baseDelayMs ?? 50;
    this.#maxDelayMs = options.retry?.maxDelayMs ?? 1_000;
    this.#metrics = options.metrics;
  }

  /**
   * The longest one call may take with its retries: every attempt at `requestTimeoutMs` plus the
   * largest backoff before each retry. An urgent batch waits at most this long for a slot.
   */
  get budgetMs(): number {
    let budget = this.#attempts * this.#timeoutMs;
    for (let attempt = 1; attempt < this.#attempts; attempt++) budget += this.#backoffCapMs(attempt);
    return budget;
  }

  #backoffCapMs(attempt: number): number {
    return Math.min(this.#maxDelayMs, this.#baseDelayMs * 2 ** (attempt - 1));
  }

  /**
   * No Vault call starts after this: batches waiting for a slot fail with `ERR_TRANSIT_CLOSED` at
   * once, and calls in flight make no further attempt. An attempt already sent is not recalled.
   */
  close(): void {
    this.#closed = true;
    this.#batches.close(closedError);
  }

  /**
   * `run` with retries. Batch calls pass `batch`: `resend` marks the calls of a split batch's
   * halves in metrics, and `split(error)`, asked once when a call fails for good, says whether its
   * items are resent in halves instead of failing with `error` (its metric then has `split: true`).
   */
  async #call<T>(
    op: string,
    key: string,
    items: number,
    run: (requestOptions: Record<string, unknown>) => Promise<T>,
    recover?: (error: unknown) => T | undefined,
    batch?: { readonly resend: boolean; readonly split: (error: TransitError) => boolean },
  ): Promise<T> {
    const resend = batch?.resend ? ({ resend: true } as const) : {};
    const succeeded = (started: number): void =>
      this.#metrics?.({
        type: 'vault-call',
        op,
        key,
        items,
        ok: true,
        durationMs: performance.now() - started,
        ...resend,
      });
    for (let attempt = 1; ; attempt++) {
      if (this.#closed) throw closedError();
      const started = performance.now();
      try {
        // A fresh options object per call: node-vault writes headers into it. Without a namespace
        // of ours, no `headers` key at all: node-vault merges per-call options over the client's
        // `requestOptions`, so an empty object here would drop the client's own headers (its
        // X-Vault-Namespace among them) and send the call to another namespace.
        // `signal` is aborted at the deadline, for clients that forward it (node-vault 0.12 does not:
        // withDeadline then destroys the HTTP request itself).
        const headers = this.#requestOptions.headers as object | undefined;
        const result = await withDeadline(
          (signal) =>
            run(
              headers === undefined
                ? { ...this.#requestOptions, signal }
                : { ...this.#requestOptions, headers: { ...headers }, signal },
            ),
          this.#timeoutMs,
        );
        succeeded(started);
        return result;
      } catch (error) {
        const recovered = recover?.(error);
        if (recovered !== undefined) {
          succeeded(started);
          return recovered;
        }
        const mapped = classify(error, op, key);
        const final = !mapped.retryable || attempt >= this.#attempts;
        const split = final && batch?.split(mapped) === true;
        this.#metrics?.({
          type: 'vault-call',
          op,
          key,
          items,
          ok: false,
          code: mapped.code,
          durationMs: performance.now() - started,
          ...resend,
          ...(split ? ({ split: true } as const) : {}),
        });
        if (final) throw mapped;
        await sleep(Math.random() * this.#backoffCapMs(attempt));
      }
    }
  }

  /** `POST <mount>/datakey/plaintext/<key>`: a fresh 256-bit DEK and its wrapping. */
  async datakey(mount: string, key: string, transitContext: string | undefined): Promise<WrappedDek & { dek: Buffer }> {
    const body = await this.#call('datakey', key, 1, (o) =>
      this.#client.write(
        `${mount}/datakey/plaintext/${key}`,
        transitContext === undefined ? { bits: 256 } : { bits: 256, context: b64(transitContext) },
        o,
      ),
    );
    const data = (body as { data?: { plaintext?: unknown; ciphertext?: unknown } } | null)?.data;
    const wrapped = fromVaultCiphertext(data?.ciphertext);
    const dek = typeof data?.plaintext === 'string' ? Buffer.from(data.plaintext, 'base64') : Buffer.alloc(0);
    if (dek.length !== 32) {
      dek.fill(0);
      throw new TransitError(
        'ERR_TRANSIT_KEY_MISCONFIGURED',
        `Vault datakey for transit key "${key}" did not return a 256-bit plaintext key.`,
      );
    }
    return { ...wrapped, dek };
  }

  /**
   * `POST <mount>/<operation>/<key>` with one `batch_input` item per wrapped DEK; returns, for
   * each item in order, Vault's result or the error of its item. `take` is called once, when the
   * batch gets its `batchConcurrency` slot, and fixes what is sent; an empty list sends nothing.
   */
  async #batch(
    operation: 'decrypt' | 'rewrap',
    mount: string,
    key: string,
    take: () => readonly BatchItem[],
    urgent: boolean,
  ): Promise<(BatchResult | TransitError)[]> {
    const queue = urgent
      ? { urgent, maxWaitMs: this.budgetMs, timeoutError: () => this.#queueTimeout(operation, key) }
      : {};
    // Older Vault (before vault#13111, about 1.10) failed the whole request, with no batch_results,
    // when one item did not authenticate: such an error names no item, so it is not every item's.
    // The batch is resent in halves, down to single items (see `#send`), each half queued for a slot
    // of its own. An urgent batch settles within two budgets of now: one waiting for its slot, one
    // for its calls, so a half must have its slot within one budget of now.
    const split: Split = {
      operation,
      mount,
      key,
      queue,
      callsLeft: 0,
      sendBy: urgent ? performance.now() + this.budgetMs : undefined,
      failure: undefined,
    };
    let items: readonly BatchItem[] = [];
    const answer = await this.#batches.run(async () => {
      items = take();
      if (items.length === 0) return [];
      split.callsLeft = splitCallCap(items.length) - 1;
      return this.#send(items, split, false);
    }, queue);
    return answer === 'split' ? this.#sendHalves(items, split) : answer;
  }

  /** Both halves of `items` (the first one the larger), each in its own slot; their answers in order. */
  async #sendHalves(items: readonly BatchItem[], split: Split): Promise<(BatchResult | TransitError)[]> {
    const middle = Math.ceil(items.length / 2);
    const halves = await Promise.all(
      [items.slice(0, middle), items.slice(middle)].map((h) => this.#sendHalf(h, split)),
    );
    return halves.flat();
  }

  /**
   * One half of a split batch, in a slot of its own (queued like the batch), split again if Vault
   * fails it as a whole too. An item's own failure is its answer. Any other failure (Vault
   * unavailable after retries, closed, forbidden, ...) is also the answer of every half not sent
   * yet, which is then not sent. A half of an urgent batch that gets no slot by `sendBy` is not sent
   * either: its items fail with the retryable unavailable error.
   */
  async #sendHalf(items: readonly BatchItem[], split: Split): Promise<(BatchResult | TransitError)[]> {
    const { operation, key, sendBy } = split;
    // Recorded before the slot is freed: the next half, handed that slot, must see it.
    const fail = (error: unknown): TransitError[] => {
      const mapped = classify(error, operation, key);
      if (!isItemFailure(mapped)) split.failure ??= mapped;
      return items.map(() => mapped);
    };
    let answer: (BatchResult | TransitError)[] | 'split';
    try {
      const timeoutError = () => this.#splitTimeout(operation, key);
      const waitMs = sendBy === undefined ? undefined : sendBy - performance.now();
      if (waitMs !== undefined && waitMs <= 0) throw timeoutError();
      answer = await this.#batches.run(
        () => (split.failure ? Promise.reject(split.failure) : this.#send(items, split, true)).catch(fail),
        waitMs === undefined ? split.queue : { ...split.queue, maxWaitMs: waitMs, timeoutError },
      );
    } catch (error) {
      return fail(error);
    }
    return answer === 'split' ? this.#sendHalves(items, split) : answer;
  }

  /**
   * One batch call: per item, Vault's result or its error. When Vault fails the whole call for an
   * item's error (integrity, key version) and the batch has more than one item and two calls left,
   * `'split'`: its halves are to be resent. Throws when Vault failed the whole call otherwise.
   */
  async #send(
    items: readonly BatchItem[],
    split: Split,
    resend: boolean,
  ): Promise<(BatchResult | TransitError)[] | 'split'> {
    const { operation, mount, key } = split;
    let halve = false;
    const decide = (error: TransitError): boolean => {
      halve = items.length > 1 && isItemFailure(error) && split.callsLeft >= 2;
      if (halve) split.callsLeft -= 2;
      return halve;
    };
    const answer = await this.#call(
      operation,
      key,
      items.length,
      async (o) => {
        const body = await this.#client.write(
          `${mount}/${operation}/${key}`,
          {
            batch_input: items.map((item) =>
              item.transitContext === undefined
                ? { ciphertext: vaultCiphertext(item.keyVersion, item.wrappedDek) }
                : {
                    ciphertext: vaultCiphertext(item.keyVersion, item.wrappedDek),
                    context: b64(item.transitContext),
                  },
            ),
          },
          o,
        );
        return {
          status: 200,
          results: (body as { data?: { batch_results?: unknown } } | null)?.data?.batch_results,
        };
      },
      // Vault answers 400 with every item's result when any item fails with a user error, and 500
      // when items failed otherwise (old versions, vault#10842: also for a tampered item): read
      // them per item, so one bad item does not fail the others coalesced with it. A 500 in which
      // every item failed for a reason Vault does not name is retried as a whole.
      (error) => {
        const status = (error as { response?: { statusCode?: number } }).response?.statusCode;
        if (status !== 400 && status !== 500) return undefined;
        const results = batchResults(error);
        if (results === undefined) return undefined;
        if (status === 500 && (results.length !== items.length || results.every(isUnnamedFailure))) return undefined;
        return { status, results };
      },
      { resend, split: decide },
    ).catch((error: unknown) => {
      if (halve) return 'split' as const;
      throw error;
    });
    if (answer === 'split') return answer;
    const results = answer.results;
    if (!Array.isArray(results) || results.length !== items.length) {
      throw new TransitError(
        'ERR_TRANSIT_VAULT_REJECTED',
        `Vault ${operation} for transit key "${key}" answered without one batch result per item.`,
      );
    }
    return results.map((result: BatchResult | null) =>
      typeof result?.error === 'string' && result.error !== ''
        ? vaultError(codeForVaultMessage(result.error, answer.status), operation, key, { errors: [result.error] })
        : (result ?? {}),
    );
  }

  /** Why an urgent batch gave up waiting for a slot: Vault is slow or down for longer than its budget. */
  #queueTimeout(operation: string, key: string): TransitError {
    return new TransitError(
      'ERR_TRANSIT_VAULT_UNAVAILABLE',
      `Vault ${operation} for transit key "${key}": every one of the batchConcurrency Vault calls stayed busy for longer than this call's retry budget (retry.attempts × retry.requestTimeoutMs + backoff), so it was not sent. Retryable: Vault is slow or down; raise batchConcurrency if it is only busy.`,
    );
  }

  /** Why a half of a split urgent batch was not sent: it could not have settled within two budgets. */
  #splitTimeout(operation: string, key: string): TransitError {
    return new TransitError(
      'ERR_TRANSIT_VAULT_UNAVAILABLE',
      `Vault ${operation} for transit key "${key}": Vault failed a batch as a whole for one item's error (older Vault, before vault#13111), and this item's part of it got no batchConcurrency slot to be sent again within its retry budget (retry.attempts × retry.requestTimeoutMs + backoff), so it was not sent. Retryable.`,
    );
  }

  /**
   * `POST <mount>/decrypt/<key>` with `batch_input`: one DEK or one error per item, in order.
   * `urgent` (the unwraps of single decrypts): served before bulk batches, and given up with a
   * retryable error after waiting {@link budgetMs} for a slot. `take` is called when the batch gets
   * its slot and returns the items to send (until then the caller may still move items out of it);
   * the answer has one entry per item it returned.
   */
  async decryptBatch(
    mount: string,
    key: string,
    take: () => readonly BatchItem[],
    urgent: boolean,
  ): Promise<(Buffer | TransitError)[]> {
    const results = await this.#batch('decrypt', mount, key, take, urgent);
    return results.map((result) => {
      if (result instanceof TransitError) return result;
      const dek = typeof result.plaintext === 'string' ? Buffer.from(result.plaintext, 'base64') : Buffer.alloc(0);
      if (dek.length !== 32) {
        dek.fill(0);
        return new TransitError(
          'ERR_TRANSIT_INTEGRITY',
          `Vault decrypt for transit key "${key}" did not yield a 256-bit data key: the wrapped data key is not one this package made.`,
        );
      }
      return dek;
    });
  }

  /** `POST <mount>/rewrap/<key>` with `batch_input`: new wrappings, never plaintext. */
  async rewrapBatch(mount: string, key: string, items: readonly BatchItem[]): Promise<(WrappedDek | TransitError)[]> {
    const results = await this.#batch('rewrap', mount, key, () => items, false);
    return results.map((result) => {
      if (result instanceof TransitError) return result;
      try {
        return fromVaultCiphertext(result.ciphertext);
      } catch (error) {
        return error as TransitError;
      }
    });
  }

  /** `GET <mount>/keys/<key>`. */
  async readKey(mount: string, key: string): Promise<TransitKeyInfo> {
    const body = await this.#call('read-key', key, 1, (o) => this.#client.read(`${mount}/keys/${key}`, o));
    const data = ((body as { data?: Record<string, unknown> } | null)?.data ?? {}) as Record<string, unknown>;
    return {
      type: String(data.type ?? ''),
      derived: data.derived === true,
      latestVersion: Number(data.latest_version ?? 0),
      minDecryptionVersion: Number(data.min_decryption_version ?? 0),
      minEncryptionVersion: Number(data.min_encryption_version ?? 0),
    };
  }
}

function b64(text: string): string {
  return Buffer.from(text, 'utf8').toString('base64');
}
