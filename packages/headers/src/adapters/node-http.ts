import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import {
  buildCrossSiteProtection,
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  isCrossSiteProtection,
  isOptionsObject,
  OPTION_KEYS,
  resolveCrossSiteProtection,
} from '../cross-site.ts';
import { HeadersError, throwIfProblems } from '../errors.ts';
import { assertAdapterArguments, bindNodeResponse, rejectionBody, stateOf } from '../response-binding.ts';
import type { SecurityHeaders } from '../security-headers.ts';

/** Options of the node:http adapter. */
export interface NodeSecurityHeadersOptions {
  /** Whether the request came over TLS. Default: the socket is a TLS socket. */
  readonly isSecure?: (req: IncomingMessage) => boolean;
}

/** Options of {@link withSecurityHeaders}. */
export interface WithSecurityHeadersOptions extends NodeSecurityHeadersOptions {
  /**
   * Called with whatever the wrapped handler (or `isSecure`) threw or rejected with, after the 500
   * is sent. Default: one `console.error` entry with the error's class and stack frames, but not its
   * message or the request, which can hold what the handler was handling. What it throws or rejects
   * with is ignored.
   */
  readonly onError?: (error: unknown, req: IncomingMessage) => unknown;
}

const socketIsTls = (req: IncomingMessage): boolean => (req.socket as TLSSocket).encrypted === true;

/**
 * Applies `policy` to this request's response (call it first in your handler, or again in a route
 * to switch to a per-route variant). Returns the request's nonce, if the policy uses one.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { webAppPreset } from '@rampart/headers';
 * import { applySecurityHeaders } from '@rampart/headers/node';
 * const headers = webAppPreset();
 * createServer((req, res) => {
 *   const nonce = applySecurityHeaders(req, res, headers);
 *   res.end(`<script nonce="${nonce}">boot()</script>`);
 * });
 * ```
 */
export function applySecurityHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  policy: SecurityHeaders,
  options: NodeSecurityHeadersOptions = {},
): string | undefined {
  assertAdapterArguments('applySecurityHeaders (node)', policy, options);
  return bindNodeResponse(req, res, policy, (options.isSecure ?? socketIsTls)(req)).nonce;
}

/**
 * The stack frames of an error, without its first line: V8's `stack` begins with
 * `${name}: ${message}`, and a message can span lines. When the stack does not begin with exactly
 * that header, where the message ends is unknown: no frames.
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

/** The default `onError`: where it failed, never what the error says or what was asked. */
function logHandlerFailure(error: unknown): void {
  let kind: string = typeof error;
  try {
    if (error instanceof Error) kind = error.constructor.name;
  } catch {}
  const frames = error instanceof Error ? stackFrames(error) : [];
  console.error(
    [`withSecurityHeaders: the handler threw ${kind} (message withheld: pass onError to log it).`, ...frames].join(
      '\n',
    ),
  );
}

/**
 * A promise or any other object with a callable `then` (an ORM query, a Bluebird promise), as
 * Express 5's router and Fastify decide. Awaiting it calls `then`, which runs a Knex query again:
 * the README tells handlers not to return one they already started.
 */
function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * Wraps a node:http handler: every response carries `policy`, and a handler that throws or
 * rejects (a promise or any thenable) gets a 500 with the same headers instead of a dropped
 * connection; the error then goes to `options.onError`.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { apiPreset } from '@rampart/headers';
 * import { withSecurityHeaders } from '@rampart/headers/node';
 * createServer(withSecurityHeaders(apiPreset(), (req, res) => res.end('{}')));
 * ```
 */
export function withSecurityHeaders(
  policy: SecurityHeaders,
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  options: WithSecurityHeadersOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  assertAdapterArguments('withSecurityHeaders (node)', policy, options, ['isSecure', 'onError']);
  if (typeof handler !== 'function') {
    throw new HeadersError(
      'ERR_HEADERS_INVALID_OPTION',
      'withSecurityHeaders (node): handler must be a function (req, res) => ...',
    );
  }
  const isSecure = options.isSecure ?? socketIsTls;
  const onError = options.onError ?? logHandlerFailure;
  const report = (error: unknown, req: IncomingMessage): void => {
    try {
      const result = onError(error, req);
      // A rejecting async onError must not become an unhandled rejection that ends the process.
      if (isThenable(result)) Promise.resolve(result).catch(() => undefined);
    } catch {}
  };
  const answer = (req: IncomingMessage, res: ServerResponse): void => {
    // The handler finished its response before failing: let it flush rather than cut it off.
    if (res.writableEnded) return;
    // Only a genuinely half-written response is destroyed: its status is already out.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // When isSecure threw, nothing is bound yet; bind now so the 500 carries the policy (no HSTS
    // when it is limited to TLS, since TLS could not be established).
    if (stateOf(res) === undefined) bindNodeResponse(req, res, policy, false);
    // Drop everything the failed handler set: a stale Content-Length would leave the client waiting
    // for bytes that never come, and a half-done login's Set-Cookie or Location must not go out.
    // The policy's headers are written again when the head goes out (applyOnWriteHead).
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    const body = '{"error":"internal server error"}';
    res.statusCode = 500;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  };
  const fail = (error: unknown, req: IncomingMessage, res: ServerResponse): void => {
    try {
      answer(req, res);
    } finally {
      report(error, req);
    }
  };
  return (req, res) => {
    try {
      bindNodeResponse(req, res, policy, isSecure(req));
      const result = handler(req, res);
      // Any thenable, not only a native promise: its rejection would otherwise go unhandled.
      if (isThenable(result)) Promise.resolve(result).catch((error: unknown) => fail(error, req, res));
    } catch (error) {
      fail(error, req, res);
    }
  };
}

function toCrossSiteRequest(req: IncomingMessage): CrossSiteRequest {
  return {
    method: req.method ?? 'GET',
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    selfOrigin: selfOriginOf(req),
  };
}

/**
 * The server's own origin: the `Host` header, or on an HTTP/2 server (node:http2's compatibility
 * API, whose requests have no `Host`) `:authority`, with the socket's scheme. Not `:scheme`, which
 * the client writes, like the scheme of an absolute-form HTTP/1.1 request line.
 */
function selfOriginOf(req: IncomingMessage): string | undefined {
  const authority = req.headers.host || (req.headers as Record<string, string | string[] | undefined>)[':authority'];
  if (typeof authority !== 'string' || authority === '') return undefined;
  return `${socketIsTls(req) ? 'https' : 'http'}://${authority}`;
}

/**
 * Cross-site request protection for node:http. The returned function answers 403 (with a JSON
 * body naming the error code) and returns false when the request is rejected.
 *
 * @example
 * ```ts
 * import { crossSiteGuard } from '@rampart/headers/node';
 * const guard = crossSiteGuard({ allowedOrigins: ['https://app.example'] });
 * // in a handler: if (!guard(req, res)) return;
 * ```
 */
export function crossSiteGuard(
  options: CrossSiteOptions | CrossSiteProtection = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const protection = resolveCrossSiteProtection(options);
  return (req, res) => {
    const decision = protection.check(toCrossSiteRequest(req));
    if (decision.allowed) return true;
    res.statusCode = 403;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(rejectionBody(decision));
    return false;
  };
}

/**
 * Cross-site protection for WebSocket handshakes, on node:http's `'upgrade'` event (which no request
 * handler sees). A handshake is a `GET`, which {@link crossSiteGuard} lets through as a safe method:
 * this one checks every handshake, with the same options except `safeMethods`. The returned function
 * answers a rejected handshake with a 403 (a JSON body naming the error code), closes the socket and
 * returns false; on true, hand the socket to your WebSocket server. In production without
 * `allowedOrigins` it rejects every handshake (`ERR_HEADERS_NO_ALLOWED_ORIGINS`). The 403 goes
 * straight onto the socket: it carries no security headers.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { crossSiteUpgradeGuard } from '@rampart/headers/node';
 * const server = createServer();
 * const guard = crossSiteUpgradeGuard({ allowedOrigins: ['https://app.example'] });
 * server.on('upgrade', (req, socket, head) => {
 *   if (!guard(req, socket)) return;
 *   // wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
 * });
 * ```
 */
export function crossSiteUpgradeGuard(
  options: Omit<CrossSiteOptions, 'safeMethods'> = {},
): (req: IncomingMessage, socket: Duplex) => boolean {
  const subject = 'crossSiteUpgradeGuard (node) options are invalid';
  if (isCrossSiteProtection(options)) {
    throwIfProblems('ERR_HEADERS_INVALID_OPTION', subject, [
      'crossSiteUpgradeGuard takes options, not a crossSiteProtection: one built for requests lets every GET through',
    ]);
  }
  const problems: string[] = [];
  // Unset means unset, as for every other option: only a value is refused.
  if (isOptionsObject(options) && (options as CrossSiteOptions).safeMethods !== undefined) {
    problems.push('safeMethods does not apply: every handshake is a GET, and crossSiteUpgradeGuard checks each one');
  }
  let protection: CrossSiteProtection | undefined;
  try {
    // safeMethods, refused above when set, is not among the keys: a misspelling of it is not told to
    // use it, and no method is safe. A non-object goes through as it is, refused like crossSiteGuard's.
    const { safeMethods: _refusedAbove, ...shared } = isOptionsObject(options) ? (options as CrossSiteOptions) : {};
    protection = buildCrossSiteProtection(
      isOptionsObject(options) ? shared : (options as never),
      OPTION_KEYS.filter((key) => key !== 'safeMethods'),
    );
  } catch (error) {
    if (!(error instanceof HeadersError) || error.code !== 'ERR_HEADERS_INVALID_OPTION') throw error;
    // The shared options' problems, listed with ours under this function's name.
    problems.push(...error.problems);
  }
  throwIfProblems('ERR_HEADERS_INVALID_OPTION', subject, problems);
  const check = (protection as CrossSiteProtection).check;
  return (req, socket) => {
    const decision = check(toCrossSiteRequest(req));
    if (decision.allowed) return true;
    // node:http removes its own socket error listener before 'upgrade': a reset must not crash.
    socket.on('error', () => undefined);
    const body = rejectionBody(decision);
    socket.end(
      `HTTP/1.1 403 ${STATUS_CODES[403]}\r\nConnection: close\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      () => socket.destroy(),
    );
    return false;
  };
}

/** The same function as {@link applySecurityHeaders}, named for its per-route use. */
export const routeHeaders: typeof applySecurityHeaders = applySecurityHeaders;
