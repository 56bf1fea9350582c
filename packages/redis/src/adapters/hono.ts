import type { Context, MiddlewareHandler } from 'hono';
import { createHttpRateLimit, type HttpRateLimitOptions } from '../http/http-rate-limit.ts';

/** Options of {@link honoRateLimit}. */
export interface HonoRateLimitOptions extends HttpRateLimitOptions {
  /**
   * The client address. Default: the socket address under `@hono/node-server`
   * (`c.env.incoming.socket.remoteAddress`); on other runtimes pass your platform's helper
   * (e.g. `getConnInfo(c).remote.address`).
   */
  readonly ip?: (c: Context) => string | undefined;
}

function socketAddress(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

/**
 * Hono 4 middleware: 429 + `Retry-After` + IETF `RateLimit`/`RateLimit-Policy` when limited,
 * 503 when Redis is down under a fail-closed policy.
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
  return async (c, next) => {
    const outcome = await decide({
      ip: ipOf(c),
      method: c.req.method,
      url: c.req.url,
      header: (name) => c.req.header(name),
    });
    if (outcome.kind === 'reject') {
      return c.json(outcome.body, outcome.status, Object.fromEntries(outcome.headers));
    }
    try {
      await next();
    } finally {
      await outcome.release?.();
    }
    for (const [name, value] of outcome.headers) c.header(name, value);
    return undefined;
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
