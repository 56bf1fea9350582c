import type { Context, MiddlewareHandler } from 'hono';
import { createHttpRateLimit, type HttpOutcome, type HttpRateLimitOptions } from '../http/http-rate-limit.ts';

/** Options of {@link honoRateLimit}. */
export interface HonoRateLimitOptions extends HttpRateLimitOptions {
  /**
   * The client address. Default: the socket address under `@hono/node-server`
   * (`c.env.incoming.socket.remoteAddress`); on other runtimes pass your platform's helper
   * (e.g. `getConnInfo(c).remote.address`).
   */
  readonly ip?: (c: Context) => string | undefined;
}

/** `response` with a body that calls `release` once it has been read to the end, failed or been cancelled. */
function releasedAfterBody(response: Response, release: () => Promise<void>): Response {
  const body = response.body;
  if (body === null) {
    void release();
    return response;
  }
  let released = false;
  const done = (): void => {
    if (released) return;
    released = true;
    void release();
  };
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

function socketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
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
    let ip: string | undefined;
    try {
      ip = ipOf(c);
    } catch {
      ip = undefined;
    }
    // An absolute URL: the core shows the functions its path and query.
    const outcome: HttpOutcome = await decide({
      ip,
      method: c.req.method,
      url: c.req.url,
      header: (name) => c.req.header(name),
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
    try {
      await next();
    } catch (error) {
      await release?.();
      throw error;
    }
    if (release !== undefined) {
      // A concurrency lease is held until the body has been sent (or the client went away), as
      // the other adapters hold it until the response closes: a streamed body keeps it.
      if (c.req.method === 'HEAD') await release();
      else c.res = releasedAfterBody(c.res, release);
    }
    for (const [name, value] of outcome.headers) c.header(name, value);
    return undefined;
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
