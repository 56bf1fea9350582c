import type { FastifyReply, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify';
import { bodyTokensOf, fromNodeRequest } from '../request.ts';
import { metadataResponse, type ProtectedResourceMetadata } from '../resource-metadata.ts';
import type { RouteRequirement } from '../route-requirement.ts';
import type { BearerVerifier, VerifiedToken } from '../verifier.ts';

/** Where the verified token is kept on the request: a symbol, so it cannot clash or be forged by input. */
const BEARER = Symbol('rampart.bearer');
type WithBearer = { [BEARER]?: VerifiedToken };

/**
 * Whether the reply was sent, or its response started by someone writing to `reply.raw`, while the
 * token was being verified. Fastify runs no handler for a sent reply; a started one is hijacked (left
 * to whoever started it), so Fastify neither runs the handler nor answers a second time.
 */
function answeredMeanwhile(reply: FastifyReply): boolean {
  if (reply.sent) return true;
  if (!reply.raw.headersSent) return false;
  reply.hijack();
  return true;
}

/**
 * A Fastify 5 `preHandler` hook: verifies the bearer token and the route's scopes/claims, or
 * replies with the exact RFC 6750 response (400/401/403, or 503 + `Retry-After`). If the reply was
 * sent meanwhile (a timeout answered while the token was being verified), it does nothing more and
 * the route's handler does not run.
 *
 * @example
 * ```ts
 * import { bearerPreHandler, getBearer } from '@rampart/bearer/fastify';
 * app.get('/orders', { preHandler: bearerPreHandler(verifier, { scopes: { all: ['orders:read'] } }) },
 *   async (request) => ({ caller: getBearer(request).subject }));
 * ```
 */
export function bearerPreHandler<S extends string>(
  verifier: BearerVerifier<S>,
  route?: RouteRequirement<S>,
): preHandlerAsyncHookHandler {
  const declared = route === undefined ? undefined : verifier.route(route);
  return async function bearer(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const view = fromNodeRequest(
      request.raw,
      verifier.allowsBodyToken ? bodyTokensOf(request.body, request.headers['content-type']) : undefined,
    );
    try {
      const result = await verifier.authenticate(view, declared);
      if (answeredMeanwhile(reply)) return reply;
      (request as WithBearer)[BEARER] = result;
      for (const [name, value] of Object.entries(result.responseHeaders)) reply.header(name, value);
    } catch (error) {
      if (answeredMeanwhile(reply)) return reply;
      const answer = verifier.toResponse(error);
      // Fastify's documented way to answer from an async hook: send, then return the reply.
      return reply
        .code(answer.status)
        .headers(answer.headers)
        .send(answer.body === '' ? undefined : answer.body);
    }
    return undefined;
  };
}

/**
 * The verified token of a request that passed {@link bearerPreHandler}.
 *
 * @example
 * ```ts
 * const { subject } = getBearer(request);
 * ```
 */
export function getBearer(request: FastifyRequest): VerifiedToken {
  const result = (request as WithBearer)[BEARER];
  if (result === undefined) throw new Error('getBearer(request) was called on a route without bearerPreHandler().');
  return result;
}

/**
 * A Fastify route handler serving an RFC 9728 protected-resource metadata document.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadataPath } from '@rampart/bearer';
 * import { serveResourceMetadata } from '@rampart/bearer/fastify';
 * app.get(protectedResourceMetadataPath(metadata.resource), serveResourceMetadata(metadata));
 * ```
 */
export function serveResourceMetadata(
  metadata: ProtectedResourceMetadata,
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply> {
  const answer = metadataResponse(metadata);
  return async (_request, reply) => reply.code(answer.status).headers(answer.headers).send(answer.body);
}
