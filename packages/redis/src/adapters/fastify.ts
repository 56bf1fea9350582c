import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  createHttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequestView,
  releaseOnClose,
} from '../http/http-rate-limit.ts';

function view(request: FastifyRequest): HttpRequestView {
  return {
    ip: request.ip,
    method: request.method,
    url: request.url,
    header: (name) => {
      const value = request.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
  };
}

/**
 * Fastify 5 `onRequest` hook: 429 + `Retry-After` + IETF `RateLimit`/`RateLimit-Policy` when
 * limited, 503 when Redis is down under a fail-closed policy. Register it on the whole app or on a
 * route's `onRequest`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { fastifyRateLimit } from '@rampart/redis/fastify';
 * const app = Fastify();
 * app.addHook('onRequest', fastifyRateLimit({ limiter }));
 * ```
 */
export function fastifyRateLimit(
  options: HttpRateLimitOptions,
): (request: FastifyRequest, reply: FastifyReply) => Promise<void> {
  const decide = createHttpRateLimit(options);
  return async (request, reply) => {
    const outcome = await decide(view(request));
    for (const [name, value] of outcome.headers) reply.header(name, value);
    if (outcome.kind === 'reject') {
      await reply.code(outcome.status).type('application/json; charset=utf-8').send(outcome.body);
      return;
    }
    if (outcome.release) releaseOnClose(reply.raw, outcome.release);
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
