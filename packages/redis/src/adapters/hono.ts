import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, MiddlewareHandler } from 'hono';
import {
  clientAddress,
  createHttpRateLimit,
  type HttpOutcome,
  type HttpRateLimitOptions,
} from '../http/http-rate-limit.ts';

/** Options of {@link honoRateLimit}. */
export interface HonoRateLimitOptions extends HttpRateLimitOptions {
  /**
   * The client address. Default: the socket address under `@hono/node-server`
   * (`c.env.incoming.socket.remoteAddress`); on other runtimes pass your platform's helper
   * (e.g. `getConnInfo(c).remote.address`).
   */
  readonly ip?: (c: Context) => string | undefined;
}

/**
 * `response` with a body that calls `done` once it has been read to the end, failed or been
 * cancelled. A body already read or being read (another middleware answered with this response
 * and it is being sent) is not ours to wait for: `done` is called at once.
 */
function releasedAfterBody(response: Response, done: () => void): Response {
  const body = response.body;
  if (body === null || response.bodyUsed || body.locked) {
    done();
    return response;
  }
  const reader = body.getReader();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const chunk = await reader.read();
        if (chunk.done) {
          done();
          controller.close();
        } else controller.enqueue(chunk.value);
      } catch (error) {
        done();
        controller.error(error);
      }
    },
    cancel(reason) {
      done();
      return reader.cancel(reason);
    },
  });
  return new Response(stream, response);
}

/** The Node request and response under `@hono/node-server` (`c.env`); undefined elsewhere. */
function nodeBindings(c: Context): { incoming?: IncomingMessage; outgoing?: ServerResponse } {
  const env = c.env as { incoming?: IncomingMessage; outgoing?: ServerResponse } | undefined;
  return env !== null && typeof env === 'object' ? env : {};
}

/**
 * `header(name)` of the request view. Under node-server it reads Node's parsed headers, as the
 * other adapters do: a repeated Authorization or User-Agent is its first value there, while
 * node-server's `Headers` join every repeat ("Bearer one, Bearer two"), which would key the same
 * request to another subject.
 */
function headerOf(c: Context): (name: string) => string | undefined {
  const headers = nodeBindings(c).incoming?.headers;
  if (headers === null || typeof headers !== 'object') return (name) => c.req.header(name);
  return (name) => {
    const lower = name.toLowerCase();
    const value = Object.hasOwn(headers, lower) ? headers[lower] : undefined;
    return Array.isArray(value) ? value.join(', ') : value;
  };
}

function socketAddress(c: Context): string | undefined {
  return nodeBindings(c).incoming?.socket?.remoteAddress;
}

/**
 * Hono 4 middleware: 429 + `Retry-After` + IETF `RateLimit`/`RateLimit-Policy` when limited,
 * 503 when Redis is down under a fail-closed policy. The same middleware used twice on a request
 * counts it once; a context finalized while the limiter decided (a timeout ahead of it) is left
 * alone and the request goes no further.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { honoRateLimit } from '@rampart/redis/hono';
 * const app = new Hono();
 * app.use(honoRateLimit({ limiter }));
 * ```
 */
export function honoRateLimit(options: HonoRateLimitOptions): MiddlewareHandler {
  const decide = createHttpRateLimit(options);
  const ipOf = options.ip ?? socketAddress;
  // Requests this middleware has seen: a second pass of the same instance is a pass-through.
  const seen = new WeakSet<Request>();
  return async (c, next) => {
    if (seen.has(c.req.raw)) {
      await next();
      return undefined;
    }
    seen.add(c.req.raw);
    // A throwing `ip` (a proxy header it cannot parse) means no identity: 400, as for `key`.
    const ip = clientAddress(() => ipOf(c));
    // An absolute URL: the core shows the functions its path and query.
    const outcome: HttpOutcome = await decide({
      ip,
      method: c.req.method,
      url: c.req.url,
      header: headerOf(c),
    });
    if (c.finalized) {
      // Answered while the limiter decided: nothing of ours is sent, so no lease is held for it.
      if (outcome.kind === 'pass') await outcome.release?.();
      return undefined;
    }
    if (outcome.kind === 'reject') {
      return c.json(outcome.body, outcome.status, {
        ...Object.fromEntries(outcome.headers),
        'content-type': 'application/json; charset=utf-8',
      });
    }
    const release = outcome.release;
    // The body's end, its cancellation and the response's 'close' may each come: one release.
    let releasing: Promise<void> | undefined;
    const done = (): Promise<void> => {
      releasing ??= release?.() ?? Promise.resolve();
      return releasing;
    };
    const doneNow = (): void => void done();
    try {
      await next();
    } catch (error) {
      await done();
      throw error;
    }
    if (release !== undefined) {
      // A concurrency lease is held until the body has been sent (or the client went away), as
      // the other adapters hold it until the response closes: a streamed body keeps it.
      if (c.req.method === 'HEAD') await done();
      else {
        try {
          c.res = releasedAfterBody(c.res, doneNow);
        } catch {
          // A response another middleware answered with (hono/timeout) and the server took: not ours.
          doneNow();
        }
      }
      // Under node-server the response closes once sent, or at once if it was answered while the
      // handler ran (a timeout ahead of us): then no one reads or cancels the body we wrapped.
      const { outgoing } = nodeBindings(c);
      if (outgoing !== undefined && typeof outgoing.once === 'function') {
        if (outgoing.closed) doneNow();
        else outgoing.once('close', doneNow);
      }
    }
    for (const [name, value] of outcome.headers) c.header(name, value);
    return undefined;
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
