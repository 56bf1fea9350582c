// Request bodies for the example services: read up to a cap, and a refused body answered so the
// client gets the answer (a lingering close) instead of a connection reset.
import type { IncomingMessage, ServerResponse } from 'node:http';

/** Why a body was not read: over the cap (413), or the client went away before sending all of it. */
export type BodyErrorCode = 'ERR_BODY_TOO_LARGE' | 'ERR_BODY_NOT_RECEIVED';

/** A request body that was not read in full. The message names the limit, never the body. */
export class BodyError extends Error {
  readonly code: BodyErrorCode;
  constructor(code: BodyErrorCode, maxBytes: number) {
    super(
      code === 'ERR_BODY_TOO_LARGE'
        ? `the request body is over ${maxBytes} bytes: send a smaller body`
        : 'the request body was not received in full: the client closed or reset its connection first',
    );
    this.name = 'BodyError';
    this.code = code;
  }
}

/** After a refused body, the most that is read and discarded so the client sees the answer. */
const LINGER_MAX_BYTES = 4 * 1024 * 1024;
/** ...and the longest that takes, whichever comes first. */
const LINGER_MAX_MS = 2_000;

/**
 * Whether the connection of `req` is gone: nothing can be answered, and nothing went wrong on the
 * server. Node detaches a closed connection from its request (`req.socket` is then null): gone too.
 *
 * @example
 * ```ts
 * if (clientGone(req, res)) return void res.end(); // no log line, no answer
 * ```
 */
export function clientGone(req: IncomingMessage, res: ServerResponse): boolean {
  return req.socket?.destroyed !== false || res.destroyed;
}

/**
 * The body of `req`, at most `maxBytes`: rejects with a {@link BodyError}, `ERR_BODY_TOO_LARGE`
 * when `content-length` announces more (before a byte is read) or a chunked body passes the cap,
 * `ERR_BODY_NOT_RECEIVED` when the client leaves before its end. Read with listeners, and paused
 * where it stops (a `for await` left early would destroy the request): the rest stays readable,
 * so {@link endLingering} can drain it after the answer. Answer a too-large body with it.
 *
 * @example
 * ```ts
 * const body = await readBody(req, 64 * 1024);
 * ```
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Node has checked the header's syntax; with transfer-encoding there is none, and the reader counts.
    if (Number(req.headers['content-length'] ?? 0) > maxBytes)
      return reject(new BodyError('ERR_BODY_TOO_LARGE', maxBytes));
    // The client left while the request waited (authentication, rate limits): its 'close' has
    // already been emitted, and no event would ever settle this promise.
    if (req.destroyed) return reject(new BodyError('ERR_BODY_NOT_RECEIVED', maxBytes));
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (error: BodyError | undefined): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
      // Paused where it stopped: endLingering reads on from here.
      req.pause();
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) settle(new BodyError('ERR_BODY_TOO_LARGE', maxBytes));
      else chunks.push(chunk);
    };
    const onEnd = (): void => settle(undefined);
    // 'aborted' / ECONNRESET from the request stream, or its connection closed before the end.
    const onGone = (): void => settle(new BodyError('ERR_BODY_NOT_RECEIVED', maxBytes));
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onGone);
    req.once('close', onGone);
  });
}

/**
 * Ends `res` with `body` and `connection: close` when the rest of the request's body will not be
 * read (a 413), as a lingering close: the answer is written at once, then up to 4 MiB or 2 s of
 * the body (whichever comes first) is read and discarded before the response ends and the
 * connection closes. Closing on unread bytes makes the kernel reset the connection, and a client
 * still sending its body fails on the reset before it reads the answer. A client that finished
 * sending or hung up ends it sooner; one that sends more than the bound may still see a reset.
 * Set the status and content type first.
 *
 * @example
 * ```ts
 * res.statusCode = 413;
 * res.setHeader('content-type', 'application/json; charset=utf-8');
 * endLingering(req, res, '{"error":"body too large"}');
 * ```
 */
export function endLingering(req: IncomingMessage, res: ServerResponse, body: string): void {
  res.setHeader('connection', 'close');
  res.setHeader('content-length', Buffer.byteLength(body));
  // The whole answer goes out now, framed by its content-length: the client can read it while it
  // still sends. Ending the response is what makes Node close the connection, so it waits.
  res.write(body);
  let discarded = 0;
  const finish = (): void => {
    clearTimeout(deadline);
    req.off('data', onData);
    req.off('end', finish);
    req.off('close', finish);
    req.off('error', finish);
    // Node closes the connection once this answer is flushed (connection: close).
    res.end();
  };
  const onData = (chunk: Buffer): void => {
    discarded += chunk.length;
    if (discarded > LINGER_MAX_BYTES) finish();
  };
  const deadline = setTimeout(finish, LINGER_MAX_MS);
  if (req.complete || req.destroyed) {
    finish();
    return;
  }
  req.on('data', onData);
  req.once('end', finish);
  req.once('close', finish);
  req.once('error', finish);
  req.resume();
}
