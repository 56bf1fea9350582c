import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromNodeRequest } from '../request.ts';
import { metadataResponse, type ProtectedResourceMetadata } from '../resource-metadata.ts';
import type { RouteRequirement } from '../route-requirement.ts';
import type { BearerVerifier, VerifiedToken } from '../verifier.ts';
import { isAlreadyAnswered, writeNodeResponse } from './response.ts';

/**
 * node:http: verifies the request; on failure writes the RFC 6750 response and resolves
 * `undefined`, so the caller just returns. It also resolves `undefined`, writing nothing, when the
 * response was started or sent by someone else while the token was being verified (a timeout).
 *
 * @example
 * ```ts
 * import { authenticateNode } from '@rampart/bearer/node';
 * createServer(async (req, res) => {
 *   const auth = await authenticateNode(verifier, req, res, { scopes: { all: ['orders:read'] } });
 *   if (!auth) return;
 *   res.end(auth.subject);
 * });
 * ```
 */
export async function authenticateNode<S extends string>(
  verifier: BearerVerifier<S>,
  req: IncomingMessage,
  res: ServerResponse,
  route?: RouteRequirement<S>,
): Promise<VerifiedToken | undefined> {
  try {
    const result = await verifier.authenticate(fromNodeRequest(req), route);
    if (isAlreadyAnswered(res)) return undefined;
    for (const [name, value] of Object.entries(result.responseHeaders)) res.setHeader(name, value);
    return result;
  } catch (error) {
    writeNodeResponse(res, verifier.toResponse(error));
    return undefined;
  }
}

/** Options of {@link withBearer}. */
export interface WithBearerOptions {
  /**
   * Called with whatever the wrapped handler threw or rejected with (after the 500 is sent).
   * Default: a `console.error` entry with the error's class and stack frames, but not its message
   * or properties, which can hold what the handler was passing on (an upstream call's
   * `Authorization` header). Exceptions thrown by it are ignored.
   */
  readonly onHandlerError?: (error: unknown, req: IncomingMessage) => void;
}

/**
 * Answers a failure of the wrapped handler itself: a bare 500, never a 401 (the caller's
 * credentials were fine) and never the error's text. If the handler had already started the
 * response, the only honest signal left is to cut the connection.
 */
function answerHandlerFailure(res: ServerResponse): void {
  if (res.writableEnded) return;
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  res.statusCode = 500;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('cache-control', 'no-store');
  res.end('Internal Server Error');
}

/**
 * The stack frames of an error, without its header: V8's `stack` begins with `${name}: ${message}`,
 * and a message can hold lines that look like frames (`    at Authorization: Bearer …`). When the
 * stack does not begin with exactly that header, where the message ends is unknown: no frames.
 */
function stackFrames(error: Error): string[] {
  try {
    const stack = error.stack;
    if (typeof stack !== 'string') return [];
    const header = `${Error.prototype.toString.call(error)}\n`;
    if (!stack.startsWith(header)) return [];
    return stack
      .slice(header.length)
      .split('\n')
      .filter((line) => /^\s+at /.test(line));
  } catch {
    return [];
  }
}

/** The default `onHandlerError`: where it failed, never what the error says. */
function logHandlerFailure(error: unknown): void {
  const kind = error instanceof Error ? error.constructor.name : typeof error;
  const frames = error instanceof Error ? stackFrames(error) : [];
  console.error(
    [`withBearer: the handler threw ${kind} (message withheld: pass onHandlerError to log it).`, ...frames].join('\n'),
  );
}

/**
 * Wraps a node:http handler so it only runs for requests that pass the route's requirement. A
 * handler that throws or rejects gets a 500 (not a 401, and not an unhandled rejection that
 * would take the process down); the error goes to `options.onHandlerError`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { withBearer } from '@rampart/bearer/node';
 * createServer(withBearer(verifier, { scopes: { any: ['orders:read'] } }, (_req, res, auth) => res.end(auth.subject)));
 * ```
 */
export function withBearer<S extends string>(
  verifier: BearerVerifier<S>,
  route: RouteRequirement<S> | undefined,
  // `unknown`, not `void`: `(req, res) => res.end()` returns the response; a returned promise is
  // awaited, any other value ignored.
  handler: (req: IncomingMessage, res: ServerResponse, auth: VerifiedToken) => unknown,
  options: WithBearerOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const declared = route === undefined ? undefined : verifier.route(route);
  const report = options.onHandlerError ?? logHandlerFailure;
  const serve = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    let auth: VerifiedToken | undefined;
    try {
      auth = await authenticateNode(verifier, req, res, declared);
    } catch {
      writeNodeResponse(res, verifier.toResponse(undefined));
      return;
    }
    if (auth === undefined) return;
    try {
      await handler(req, res, auth);
    } catch (error) {
      answerHandlerFailure(res);
      try {
        report(error, req);
      } catch {
        // A broken error hook must not turn into the very crash this guards against.
      }
    }
  };
  return (req, res) => {
    // Last resort, deliberate: serve() only rejects if writing an answer itself failed, so the
    // response is in an unknown state and cutting the connection is the one honest signal left
    // (a finished response is left alone).
    serve(req, res).catch(() => {
      if (!res.writableEnded) res.destroy();
    });
  };
}

/**
 * A node:http handler serving an RFC 9728 protected-resource metadata document.
 *
 * @example
 * ```ts
 * import { serveResourceMetadata } from '@rampart/bearer/node';
 * const metadataHandler = serveResourceMetadata(metadata);
 * createServer((req, res) => (req.url === '/.well-known/oauth-protected-resource' ? metadataHandler(req, res) : app(req, res)));
 * ```
 */
export function serveResourceMetadata(
  metadata: ProtectedResourceMetadata,
): (req: IncomingMessage, res: ServerResponse) => void {
  const answer = metadataResponse(metadata);
  return (_req, res) => {
    res.statusCode = answer.status;
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.end(answer.body);
  };
}
