import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { HttpOutcome } from './http-rate-limit.ts';

/**
 * Whether `response` was answered before the limiter decided (a timeout middleware ahead of the
 * rate limit): then the adapter writes nothing and does not run the handler.
 */
export function alreadyAnswered(response: Pick<ServerResponse, 'headersSent' | 'writableEnded'>): boolean {
  return response.headersSent || response.writableEnded;
}

/** Gives back the lease of an outcome the adapter will not serve. */
export function dropLease(outcome: HttpOutcome): void {
  if (outcome.kind === 'pass' && outcome.release !== undefined) void outcome.release();
}

/**
 * Holds a concurrency lease until the handler is done with `response`, and returns false (the
 * lease given back at once) when the client went away while the limiter decided: that request is
 * not to be served. The Node adapters (Express, Fastify, node:http) share it.
 *
 * 'close' alone is not "done": it also fires when the client disconnects mid-handler, and a
 * client that sends and aborts requests would then run any number of handlers at once. So on
 * 'close' the lease is released only when the response was ended, or when this side destroyed
 * it (a framework giving up after an error), or when its headers were sent: the handler was
 * streaming, and nothing it still does can answer (`res.sendFile`, `src.pipe(res)` and
 * `pipeline(src, res)` neither end nor destroy the response when the client leaves, so waiting
 * for them would let a client hold every slot by aborting downloads). If the client left while
 * the handler was still working on its answer, the lease is held until the handler starts
 * answering (`write()`, `end()`, a stream piped in and then unpiped) or the response is destroyed;
 * a handler that does none of these holds it until `leaseMs`, the limiter's own backstop.
 */
export function holdLeaseUntilEnded(
  response: ServerResponse,
  socket: Socket | null,
  release: () => Promise<void>,
): boolean {
  if (response.closed || response.destroyed) {
    void release();
    return false;
  }
  let released = false;
  const done = (): void => {
    if (released) return;
    released = true;
    void release();
  };
  // Node does not call destroy() on the response when the peer goes away; a call is this side's.
  let destroyedHere = false;
  let clientLeft = false;
  const destroy = response.destroy;
  response.destroy = function (this: ServerResponse, error?: Error) {
    destroyedHere = true;
    if (clientLeft) done();
    return destroy.call(this, error);
  } as ServerResponse['destroy'];
  response.once('close', () => {
    // The peer's FIN (readableEnded) or reset (errored) closed the socket, not this side.
    const byClient = socket !== null && (socket.readableEnded || socket.errored !== null);
    if (response.writableEnded || destroyedHere || !byClient || response.headersSent) {
      done();
      return;
    }
    clientLeft = true;
    // The handler is done computing once it answers, whatever it answers into: a closed response.
    const end = response.end;
    response.end = function (this: ServerResponse, ...args: unknown[]) {
      done();
      return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    } as ServerResponse['end'];
    const write = response.write;
    response.write = function (this: ServerResponse, ...args: unknown[]) {
      done();
      return (write as (...a: unknown[]) => boolean).apply(this, args);
    } as ServerResponse['write'];
    response.once('unpipe', done);
  });
  return true;
}
