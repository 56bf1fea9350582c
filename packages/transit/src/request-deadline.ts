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

/**
 * Settles like `request`, or rejects with {@link RequestDeadlineError} once `timeoutMs` have passed.
 *
 * node-vault hands `timeout` to axios, where it is an idle timeout: a server that keeps sending a
 * byte now and then holds the request open forever. node-vault forwards no `signal`, so the request
 * itself cannot be aborted from here: it is left to finish or to hit axios' idle timeout, and what
 * it settles with later is dropped (a late rejection is handled, so it is never unhandled; a late
 * answer is never read, so a data key in it is never used or cached).
 */
export function withDeadline<T>(request: Promise<T>, timeoutMs: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RequestDeadlineError(timeoutMs)), timeoutMs);
  });
  const answer = Promise.resolve(request);
  answer.catch(() => {});
  return Promise.race([answer, deadline]).finally(() => clearTimeout(timer));
}
