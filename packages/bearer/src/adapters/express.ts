import type { Request, RequestHandler } from 'express';
import { bodyTokensOf, fromNodeRequest } from '../request.ts';
import { metadataResponse, type ProtectedResourceMetadata } from '../resource-metadata.ts';
import type { RouteRequirement } from '../route-requirement.ts';
import type { BearerVerifier, VerifiedToken } from '../verifier.ts';
import { isAlreadyAnswered, writeNodeResponse } from './response.ts';

/** Where the verified token is kept on the request: a symbol, so it cannot clash or be forged by input. */
const BEARER = Symbol('rampart.bearer');
type WithBearer = { [BEARER]?: VerifiedToken };

/**
 * Express 5 middleware: verifies the bearer token and the route's scopes/claims, or answers with
 * the exact RFC 6750 response (400/401/403, or 503 + `Retry-After` when keys are unavailable).
 * The route requirement is validated when the middleware is created. If another middleware (a
 * timeout) answered while the token was being verified, it does nothing more: no header, no
 * answer, and the route's handler does not run.
 *
 * @example
 * ```ts
 * import { requireBearer, getBearer } from '@rampart/bearer/express';
 * app.get('/orders', requireBearer(verifier, { scopes: { all: ['orders:read'] } }), (req, res) => {
 *   res.json({ caller: getBearer(req).subject });
 * });
 * ```
 */
export function requireBearer<S extends string>(
  verifier: BearerVerifier<S>,
  route?: RouteRequirement<S>,
): RequestHandler {
  const declared = route === undefined ? undefined : verifier.route(route);
  return (req, res, next) => {
    const view = fromNodeRequest(
      req,
      verifier.allowsBodyToken ? bodyTokensOf(req.body, req.headers['content-type']) : undefined,
    );
    let passedOn = false;
    verifier
      .authenticate(view, declared)
      .then(
        (result) => {
          if (isAlreadyAnswered(res)) return;
          (req as WithBearer)[BEARER] = result;
          for (const [name, value] of Object.entries(result.responseHeaders)) res.setHeader(name, value);
          passedOn = true;
          next();
        },
        (error: unknown) => writeNodeResponse(res, verifier.toResponse(error)),
      )
      .catch((error: unknown) => {
        // Never an unhandled rejection (it would stop the process). After next() the error is the
        // handlers' (Express 5 routes their errors itself); before it, Express's error handling gets it.
        if (passedOn || isAlreadyAnswered(res)) return;
        try {
          next(error);
        } catch {
          res.destroy();
        }
      });
  };
}

/**
 * The verified token of a request that passed {@link requireBearer}. Throws if the middleware did
 * not run for this request (a routing mistake, never a client error).
 *
 * @example
 * ```ts
 * const { subject, scopes } = getBearer(req);
 * ```
 */
export function getBearer(req: Request): VerifiedToken {
  const result = (req as WithBearer)[BEARER];
  if (result === undefined) throw new Error('getBearer(req) was called on a route without requireBearer().');
  return result;
}

/**
 * Serves an RFC 9728 protected-resource metadata document.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadataPath } from '@rampart/bearer';
 * import { serveResourceMetadata } from '@rampart/bearer/express';
 * app.get(protectedResourceMetadataPath(metadata.resource), serveResourceMetadata(metadata));
 * ```
 */
export function serveResourceMetadata(metadata: ProtectedResourceMetadata): RequestHandler {
  const answer = metadataResponse(metadata);
  return (_req, res) => {
    res.status(answer.status).set(answer.headers).send(answer.body);
  };
}
