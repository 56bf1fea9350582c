import type { Request, RequestHandler } from 'express';
import {
  createHttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequestView,
  releaseOnClose,
} from '../http/http-rate-limit.ts';

function view(req: Request): HttpRequestView {
  return { ip: req.ip, method: req.method, url: req.originalUrl, header: (name) => req.get(name) };
}

/**
 * Express 5 middleware: 429 + `Retry-After` + IETF `RateLimit`/`RateLimit-Policy` when limited,
 * 503 when Redis is down under a fail-closed policy. The key sees `req.ip`, so Express's
 * `trust proxy` setting decides which address counts.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { expressRateLimit } from '@rampart/redis/express';
 * const app = express();
 * app.use(expressRateLimit({ limiter }));
 * ```
 */
export function expressRateLimit(options: HttpRateLimitOptions): RequestHandler {
  const decide = createHttpRateLimit(options);
  return (req, res, next) => {
    decide(view(req)).then((outcome) => {
      for (const [name, value] of outcome.headers) res.setHeader(name, value);
      if (outcome.kind === 'reject') {
        res.status(outcome.status).json(outcome.body);
        return;
      }
      if (outcome.release && !releaseOnClose(res, outcome.release)) return;
      next();
    }, next);
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
