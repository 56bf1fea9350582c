import type { Request, RequestHandler } from 'express';
import {
  clientAddress,
  createHttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequestView,
} from '../http/http-rate-limit.ts';
import { alreadyAnswered, dropLease, holdLeaseUntilEnded } from '../http/node-response.ts';

function view(req: Request): HttpRequestView {
  // req.ip runs the `trust proxy` setting, which may be a function of the user's that throws.
  return {
    ip: clientAddress(() => req.ip),
    method: req.method,
    url: req.originalUrl,
    header: (name) => req.get(name),
  };
}

/**
 * Express 5 middleware: 429 + `Retry-After` + IETF `RateLimit`/`RateLimit-Policy` when limited,
 * 503 when Redis is down under a fail-closed policy. The key sees `req.ip`, so Express's
 * `trust proxy` setting decides which address counts. The same middleware mounted twice (app and
 * router) counts a request once; a response another middleware sent while the limiter decided
 * is left alone and the request goes no further.
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
  // Requests this middleware has seen: a second pass of the same instance is a pass-through.
  const seen = new WeakSet<Request>();
  return (req, res, next) => {
    if (seen.has(req)) {
      next();
      return;
    }
    seen.add(req);
    let passedOn = false;
    decide(view(req))
      .then((outcome) => {
        if (alreadyAnswered(res)) {
          dropLease(outcome);
          return;
        }
        for (const [name, value] of outcome.headers) res.setHeader(name, value);
        if (outcome.kind === 'reject') {
          res.status(outcome.status).json(outcome.body);
          return;
        }
        if (outcome.release && !holdLeaseUntilEnded(res, req.socket, outcome.release)) return;
        passedOn = true;
        next();
      })
      .catch((error: unknown) => {
        // Once the request went on, its errors are the handlers' to report, not this middleware's.
        if (!passedOn) next(error);
      });
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
