import { AsyncLocalStorage } from 'node:async_hooks';
import { subscribe } from 'node:diagnostics_channel';
import type { ClientRequest } from 'node:http';

// The same mechanism as @rampart/transit's request-deadline.ts, kept compact: the packages do not
// depend on each other.

/** One Vault read under a deadline, and the HTTP requests node's client started for it. */
interface Read {
  state: 'running' | 'settled' | 'abandoned';
  readonly requests: Set<ClientRequest>;
}

let reads: AsyncLocalStorage<Read> | undefined;

/**
 * Node publishes every `http`/`https` client request on this channel, synchronously and in the
 * async context that made it: a request started while a read runs is that read's. Subscribed on
 * the first Vault read, never on import.
 */
function readContext(): AsyncLocalStorage<Read> {
  if (reads) return reads;
  const store = new AsyncLocalStorage<Read>();
  reads = store;
  subscribe('http.client.request.start', (message) => {
    const read = store.getStore();
    const request = (message as { request?: ClientRequest } | null)?.request;
    if (!read || !request) return;
    // A request started after its read was given up (a client retrying on its own) goes too.
    if (read.state === 'abandoned') request.destroy();
    else if (read.state === 'running') read.requests.add(request);
  });
  return store;
}

/**
 * Settles like `run(signal)`, or with `timedOut()` once `timeoutMs` have passed, and then closes
 * what the read left open. node-vault (0.12) sets no HTTP timeout of its own, forwards no `signal`,
 * and its per-request `timeout` is axios' idle timeout, which a server sending a byte now and then
 * never trips: without this, a given-up read kept its connection (and the process) alive forever.
 * So at the deadline `signal` is aborted (for clients that honour it) and every HTTP request node's
 * `http`/`https` client started inside `run` (seen on the `http.client.request.start` diagnostics
 * channel, in `run`'s async context) is destroyed, with its socket. What the read settles with
 * later is dropped (a late rejection is handled, a late answer never read).
 */
export function withRequestDeadline<T>(
  run: (signal: AbortSignal) => Promise<T>,
  timeoutMs: number,
  timedOut: () => T,
): Promise<T> {
  const read: Read = { state: 'running', requests: new Set() };
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<T>((resolve) => {
    timer = setTimeout(() => {
      if (read.state !== 'running') return;
      read.state = 'abandoned';
      controller.abort();
      for (const request of read.requests) request.destroy();
      read.requests.clear();
      resolve(timedOut());
    }, timeoutMs);
    // Not unref'd: a read that never settles and holds no handle of its own (a client awaiting a
    // promise nothing will resolve) would otherwise let node exit with code 13 and no ConfigError.
    // The timer is cleared as soon as the read settles.
  });
  let answer: Promise<T>;
  try {
    answer = Promise.resolve(readContext().run(read, run, controller.signal));
  } catch (error) {
    answer = Promise.reject(error);
  }
  answer.catch(() => {});
  return Promise.race([answer, deadline]).finally(() => {
    clearTimeout(timer);
    if (read.state === 'running') read.state = 'settled';
    read.requests.clear();
  });
}
