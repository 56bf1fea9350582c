import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createHttpRateLimit,
  type HttpOutcome,
  type HttpRateLimitOptions,
  releaseOnClose,
} from '../http/http-rate-limit.ts';

const INTERNAL_ERROR = { error: 'ERR_INTERNAL', message: 'The rate limit failed unexpectedly.' } as const;

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
    let outcome: HttpOutcome;
    try {
      outcome = await decide({
        ip: req.socket.remoteAddress,
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        header: (name) => {
          const value = req.headers[name.toLowerCase()];
          return Array.isArray(value) ? value.join(', ') : value;
        },
      });
    } catch {
      // A bug below (the limiter threw something unexpected): answer 500 here, as the other
      // frameworks do, instead of rejecting into a request listener nobody awaits.
      if (!res.headersSent) {
        res.statusCode = 500;
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.end(JSON.stringify(INTERNAL_ERROR));
      }
      return false;
    }
    for (const [name, value] of outcome.headers) res.setHeader(name, value);
    if (outcome.kind === 'reject') {
      res.statusCode = outcome.status;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      res.end(JSON.stringify(outcome.body));
      return false;
    }
    return outcome.release === undefined || releaseOnClose(res, outcome.release);
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
