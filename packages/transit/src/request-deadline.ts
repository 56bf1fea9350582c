import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

/**
 * Why a Vault request was given up: it outlived `retry.requestTimeoutMs` as a whole. Classified as
 * unavailable (retryable), like a network error.
 */
export class RequestDeadlineError extends Error {
  readonly code = 'DEADLINE';
  readonly timeoutMs: number;

  constructor(timeoutMs: number) {
    super(`no complete answer within ${timeoutMs} ms`);
    this.timeoutMs = timeoutMs;
    this.name = 'RequestDeadlineError';
  }
}

/** One call under a deadline, and the HTTP requests node's client started for it. */
interface Attempt {
  state: 'running' | 'settled' | 'abandoned';
  readonly requests: Set<ClientRequest>;
}

let attempts: AsyncLocalStorage<Attempt> | undefined;

/**
 * Node publishes every `http`/`https` client request on this channel, synchronously and in the
 * async context that made it: a request started while a deadline's call runs is that call's.
 * Subscribed on the first Vault call, never on import.
 */
function attemptContext(): AsyncLocalStorage<Attempt> {
  if (attempts) return attempts;
  const store = new AsyncLocalStorage<Attempt>();
  attempts = store;
  subscribe('http.client.request.start', (message) => {
    const attempt = store.getStore();
    const request = (message as { request?: ClientRequest } | null)?.request;
    if (!attempt || !request) return;
    // A request started after its call was given up (a client retrying on its own) goes too.
    if (attempt.state === 'abandoned') request.destroy();
    else if (attempt.state === 'running') attempt.requests.add(request);
  });
  return store;
}

/**
 * Settles like `run(signal)`, or rejects with {@link RequestDeadlineError} once `timeoutMs` have
 * passed, and then aborts the request so that its socket is closed at once.
 *
 * node-vault hands `timeout` to axios, where it is an idle timeout: a server that keeps sending a
 * byte now and then holds the request open forever. node-vault (0.12) forwards no `signal` to axios,
 * so at the deadline `signal` is aborted (for clients that honour it) and every HTTP request node's
 * `http`/`https` client started inside `run` (seen on the `http.client.request.start` diagnostics
 * channel, in `run`'s async context) is destroyed, with its socket: a client that shares one
 * request among several callers would see it fail for them too. What the request settles with
 * later is dropped (a late rejection is handled, so it is never unhandled; a late answer is never
 * read, so a data key in it is never used or cached).
 */
export function withDeadline<T>(run: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<T> {
  const attempt: Attempt = { state: 'running', requests: new Set() };
  const controller = new AbortController();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      if (attempt.state !== 'running') return;
      attempt.state = 'abandoned';
      controller.abort(new RequestDeadlineError(timeoutMs));
      for (const request of attempt.requests) request.destroy();
      attempt.requests.clear();
      reject(new RequestDeadlineError(timeoutMs));
    }, timeoutMs);
  });
  let answer: Promise<T>;
  try {
    answer = Promise.resolve(attemptContext().run(attempt, run, controller.signal));
  } catch (error) {
    answer = Promise.reject(error);
  }
  answer.catch(() => {});
  return Promise.race([answer, deadline]).finally(() => {
    clearTimeout(timer);
    if (attempt.state === 'running') attempt.state = 'settled';
    attempt.requests.clear();
  });
}
