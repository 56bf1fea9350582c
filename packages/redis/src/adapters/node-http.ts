import type { IncomingMessage, ServerResponse } from 'node:http';
import { createHttpRateLimit, type HttpRateLimitOptions } from '../http/http-rate-limit.ts';

/**
 * For plain `node:http` servers: resolves `true` when the request may be served, or answers it
 * (429 / 503 / 400 with a JSON body) and resolves `false`. The key sees the socket address; behind
 * a proxy pass a `key` that reads the proxy's header you trust.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { nodeRateLimit } from '@rampart/redis/node';
 * const limit = nodeRateLimit({ limiter });
 * createServer(async (req, res) => {
 *   if (!(await limit(req, res))) return;
 *   res.end('ok');
 * });
 * ```
 */
export function nodeRateLimit(
  options: HttpRateLimitOptions,
): (req: IncomingMessage, res: ServerResponse) => Promise<boolean> {
  const decide = createHttpRateLimit(options);
  return async (req, res) => {
    const outcome = await decide({
      ip: req.socket.remoteAddress,
      method: req.method ?? 'GET',
      url: req.url ?? '/',
      header: (name) => {
        const value = req.headers[name.toLowerCase()];
        return Array.isArray(value) ? value.join(', ') : value;
      },
    });
    for (const [name, value] of outcome.headers) res.setHeader(name, value);
    if (outcome.kind === 'reject') {
      res.statusCode = outcome.status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(outcome.body));
      return false;
    }
    const release = outcome.release;
    if (release) res.once('close', () => void release());
    return true;
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
