// Process lifecycle shared by the example's entry point: start, listen, report readiness, stop
// gracefully on SIGTERM/SIGINT or when the parent that forked us goes away.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export { BodyError, type BodyErrorCode, clientGone, endLingering, readBody } from './body.ts';

export interface Started {
  readonly server: Server;
  readonly host: string;
  readonly port: number;
  /** Releases what the handlers use (Redis, the database): runs once no request handler is running any more. */
  readonly close: () => Promise<void>;
}

export interface RunServiceOptions {
  /**
   * How long a stop waits for running handlers to finish before it cuts their connections (then
   * `close` runs and the process exits with 1), and then how long it waits for `close` (then the
   * process exits with 1). Default 10 s: below Kubernetes' 30 s grace period. At most 2^31 - 1.
   */
  readonly shutdownTimeoutMs?: number;
}

const DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000;
/** The longest delay Node's timers hold: a longer one fires after 1 ms. */
const MAX_TIMEOUT_MS = 2_147_483_647;

type RequestListener = (req: IncomingMessage, res: ServerResponse) => unknown;

/**
 * The events by which Node's http server hands over a request with a response to write: 'request',
 * and for a request with an `Expect` header, 'checkContinue' (`100-continue`) or 'checkExpectation'
 * (anything else) when the app listens for them (without a listener, Node writes 100 Continue and
 * emits 'request', or answers 417 itself).
 */
const REQUEST_EVENTS: ReadonlySet<string | symbol> = new Set(['request', 'checkContinue', 'checkExpectation']);
/** Events that hand the app a raw socket (WebSocket upgrades, CONNECT tunnels) instead of a response. */
const SOCKET_EVENTS: ReadonlySet<string | symbol> = new Set(['upgrade', 'connect']);

/**
 * The class and code of an error, for a log line: never its message (it may quote a request, a
 * token or a value), and only names that look like names. Shared by the example services so each
 * logs its failures the same way.
 *
 * @example
 * ```ts
 * describeError(new TypeError('x')); // 'TypeError'
 * describeError(Object.assign(new Error('x'), { name: 'RedisStoreError', code: 'ERR_REDIS_TIMEOUT' }));
 * // 'RedisStoreError ERR_REDIS_TIMEOUT'
 * ```
 */
export function describeError(error: unknown): string {
  const name = (error as { name?: unknown } | null)?.name;
  const code = (error as { code?: unknown } | null)?.code;
  const errorClass =
    typeof name === 'string' && /^[A-Za-z0-9_$]{1,64}$/.test(name)
      ? name
      : error instanceof Error
        ? 'Error'
        : typeof error;
  return [errorClass, ...(typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code) ? [code] : [])].join(' ');
}

/**
 * Calls `done` once the handler is finished with this request: its returned promise (if any) has
 * settled AND its response was ended or destroyed by this side. The response's 'close' alone is
 * not enough: it also fires when the client aborts, or when a pipelined request's connection
 * closes after the earlier answer, while the handler may still be writing to the database.
 */
function trackHandler(res: ServerResponse, run: () => unknown, done: () => void): void {
  let pending = 2;
  const settle = (): void => {
    pending -= 1;
    if (pending === 0) done();
  };
  let responseDone = false;
  const responseFinished = (): void => {
    if (responseDone) return;
    responseDone = true;
    settle();
  };
  // Node does not call destroy() on the response when the peer goes away: a call is this side's,
  // and a destroyed response is finished whether or not the client is still there. After the
  // handler's own synchronous code that follows the call (a log line, a counter).
  const destroy = res.destroy;
  res.destroy = function (this: ServerResponse, error?: Error) {
    setImmediate(responseFinished);
    return destroy.call(this, error);
  } as ServerResponse['destroy'];
  const onClose = (): void => {
    if (res.writableEnded) {
      responseFinished();
      return;
    }
    // The connection went away before the handler answered: it is done once it answers (into a
    // closed response) or gives up on the response; the shutdown deadline is the backstop.
    const end = res.end;
    res.end = function (this: ServerResponse, ...args: unknown[]) {
      // After the handler's own synchronous code that follows end(), as for destroy().
      setImmediate(responseFinished);
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['end'];
  };
  // A response whose 'close' already fired (a 'checkContinue' listener that re-emits 'request'
  // after the client went away) would never see it again: its client has left now.
  if (res.closed) onClose();
  else res.once('close', onClose);
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    settle();
    throw error;
  }
  if (typeof (result as PromiseLike<unknown> | null)?.then === 'function')
    (result as PromiseLike<unknown>).then(settle, settle);
  else settle();
}

export async function runService(
  name: string,
  start: () => Promise<Started>,
  options: RunServiceOptions = {},
): Promise<void> {
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? DEFAULT_SHUTDOWN_TIMEOUT_MS;
  if (!Number.isInteger(shutdownTimeoutMs) || shutdownTimeoutMs < 0 || shutdownTimeoutMs > MAX_TIMEOUT_MS)
    throw new RangeError(
      `runService: shutdownTimeoutMs must be an integer of milliseconds from 0 to ${MAX_TIMEOUT_MS} (Node's longest timer)`,
    );
  let started: Started;
  let stopping = false;
  // Handlers not finished yet, by response, with how many run for it (a 'checkContinue' listener
  // may re-emit 'request' for the same response): a stop waits for them before `close` (a delivery
  // already recorded as seen must still be handled, a row already inserted must still be completed
  // or removed).
  const running = new Map<ServerResponse, number>();
  // Sockets handed to 'upgrade'/'connect' listeners and still open: the server's close waits for
  // them, and neither closeIdleConnections nor closeAllConnections ends them.
  const tunnels = new Set<Duplex>();
  let handlerFinished = (): void => {};
  // Responses this runtime marked `connection: close` at the stop, by connection: the latest one.
  const markedClose = new WeakMap<Socket, ServerResponse>();
  try {
    started = await start();
    const { server } = started;
    // Every request goes through here, whoever added its listeners and whenever (before or after
    // `start` returned): the listeners present at that moment run inside a tracker that knows when
    // each is done. Node's http server hands requests over with `server.emit(event, req, res)`.
    const emit = server.emit;
    server.emit = function (this: Server, event: string | symbol, ...args: unknown[]): boolean {
      if (SOCKET_EVENTS.has(event)) {
        // Not refused during a stop: an earlier answer may still be due on this socket. The app
        // ends it (or the deadline destroys it).
        const socket = args[1] as Duplex;
        if (!socket.destroyed && !tunnels.has(socket)) {
          tunnels.add(socket);
          socket.once('close', () => tunnels.delete(socket));
        }
        return Reflect.apply(emit, this, [event, ...args]) as boolean;
      }
      if (!REQUEST_EVENTS.has(event)) return Reflect.apply(emit, this, [event, ...args]) as boolean;
      const [req, res] = args as [IncomingMessage, ServerResponse];
      // A response already tracked (a 'checkContinue' listener re-emitting 'request') was accepted
      // before the stop: it runs.
      if (stopping && !running.has(res)) {
        // A request on a live connection (keep-alive, pipelined) after the stop began: refused
        // without running a handler (nor a 100 Continue). If the answer before it on the same
        // connection was marked to close, it stays open for this refusal instead, which closes it.
        const previous = markedClose.get(req.socket);
        if (previous !== undefined && !previous.headersSent) previous.removeHeader('connection');
        res.writeHead(503, { connection: 'close', 'retry-after': '1', 'content-type': 'text/plain' });
        res.end('shutting down\n');
        return true;
      }
      // rawListeners: a `once` listener removes itself when called, as emit() would have it.
      const listeners = this.rawListeners(event) as RequestListener[];
      running.set(res, (running.get(res) ?? 0) + 1);
      trackHandler(
        res,
        () => {
          const pending: PromiseLike<unknown>[] = [];
          for (const listener of listeners) {
            const result = listener.call(this, req, res);
            // Each rejection is logged (emit() would have left it unhandled, and Node reports
            // those) and the others are still waited for.
            if (typeof (result as PromiseLike<unknown> | null)?.then === 'function')
              pending.push(
                (result as PromiseLike<unknown>).then(undefined, (error: unknown) => {
                  process.stderr.write(`${name}: a request listener failed: ${describeError(error)}\n`);
                }),
              );
          }
          return pending.length === 0 ? undefined : Promise.all(pending);
        },
        () => {
          const left = (running.get(res) ?? 1) - 1;
          if (left > 0) running.set(res, left);
          else running.delete(res);
          handlerFinished();
        },
      );
      return listeners.length > 0;
    } as Server['emit'];
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(started.port, started.host, () => resolve());
    });
  } catch (error) {
    // Start-up errors of the packages name keys and options, never values: safe to print.
    process.stderr.write(`${name}: refused to start: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  }
  const runClose = (cutOff: boolean): void => {
    const closeDeadline = setTimeout(() => {
      process.stderr.write(`${name}: close did not finish within ${shutdownTimeoutMs} ms; exiting\n`);
      process.exit(1);
    }, shutdownTimeoutMs);
    started.close().then(
      () => {
        clearTimeout(closeDeadline);
        process.exit(cutOff ? 1 : 0);
      },
      (error: unknown) => {
        clearTimeout(closeDeadline);
        // The class only: a driver's message may carry a path, a key or a value.
        const errorClass = error instanceof Error ? error.name : typeof error;
        process.stderr.write(`${name}: close failed: ${errorClass}\n`);
        process.exit(1);
      },
    );
  };

  const stop = (): void => {
    if (stopping) {
      // A second signal: the operator does not want to wait.
      process.stderr.write(
        `${name}: stopped at once (second signal), ${running.size} request(s) and ${tunnels.size} upgraded or CONNECT connection(s) cut off\n`,
      );
      process.exit(1);
    }
    stopping = true;
    const { server } = started;
    let cutOff = false;
    let serverClosed = false;
    let closing = false;
    const finishIfDone = (): void => {
      if (closing || !serverClosed || (running.size > 0 && !cutOff)) return;
      closing = true;
      clearTimeout(deadline);
      runClose(cutOff);
    };
    handlerFinished = () => {
      // server.close() closes the connections idle at that moment only: a keep-alive connection
      // whose response ends later would hold the stop open until its keep-alive timeout.
      setImmediate(() => server.closeIdleConnections());
      finishIfDone();
    };
    // Responses still running close their connection when they end instead of keeping it alive.
    for (const res of running.keys())
      if (!res.headersSent && !res.hasHeader('connection')) {
        res.setHeader('connection', 'close');
        if (res.socket !== null) markedClose.set(res.socket, res);
      }
    const deadline = setTimeout(() => {
      cutOff = true;
      if (running.size > 0 || tunnels.size === 0)
        process.stderr.write(
          `${name}: ${running.size} request(s) still running after ${shutdownTimeoutMs} ms; closing their connections\n`,
        );
      if (tunnels.size > 0)
        process.stderr.write(
          `${name}: ${tunnels.size} upgraded or CONNECT connection(s) still open after ${shutdownTimeoutMs} ms; destroying them\n`,
        );
      server.closeAllConnections();
      for (const socket of tunnels) socket.destroy();
      finishIfDone();
    }, shutdownTimeoutMs);
    // Stops accepting connections; the callback runs once every connection is gone. `close` runs
    // once that happened and every handler finished (or at the deadline).
    server.close(() => {
      serverClosed = true;
      finishIfDone();
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.once('disconnect', () => {
    if (!stopping) stop();
  });
  // Readiness only once a signal stops the service gracefully: without a listener, a SIGTERM sent
  // as soon as the parent reads this line would kill the process outright.
  const address = started.server.address();
  const url = `http://${started.host}:${typeof address === 'object' && address ? address.port : started.port}`;
  process.stdout.write(`${name}: listening on ${url}\n`);
  process.send?.({ ready: name, url });
}
