import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  clientAddress,
  createHttpRateLimit,
  type HttpRateLimitOptions,
  type HttpRequestView,
} from '../http/http-rate-limit.ts';
import { alreadyAnswered, dropLease, holdLeaseUntilEnded } from '../http/node-response.ts';

function view(request: FastifyRequest): HttpRequestView {
  return {
    // request.ip runs `trustProxy`, which may be a function of the user's that throws.
    ip: clientAddress(() => request.ip),
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
 * route's `onRequest`; registered on both, it counts a request once.
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
  // Requests this hook has seen: a second pass of the same instance is a pass-through.
  const seen = new WeakSet<object>();
  return async (request, reply) => {
    if (seen.has(request.raw)) return;
    seen.add(request.raw);
    const outcome = await decide(view(request));
    if (reply.sent || alreadyAnswered(reply.raw)) {
      // Answered while the limiter decided (a timeout ahead of this hook): leave it as it is.
      dropLease(outcome);
      return;
    }
    for (const [name, value] of outcome.headers) reply.header(name, value);
    if (outcome.kind === 'reject') {
      await reply.code(outcome.status).type('application/json; charset=utf-8').send(outcome.body);
      return;
    }
    if (outcome.release && !holdLeaseUntilEnded(reply.raw, request.raw.socket, outcome.release)) {
      // The client left while the limiter decided and its lease is back: Fastify would still run
      // the handler (it only stops at a sent or hijacked reply), which would then run unlimited.
      reply.hijack();
    }
  };
}

export type { HttpRateLimitOptions, HttpRequestView } from '../http/http-rate-limit.ts';
