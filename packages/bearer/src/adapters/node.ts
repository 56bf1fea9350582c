import type { IncomingMessage, ServerResponse } from 'node:http';
import { fromNodeRequest } from '../request.ts';
import { metadataResponse, type ProtectedResourceMetadata } from '../resource-metadata.ts';
import type { RouteRequirement } from '../route-requirement.ts';
import type { BearerVerifier, VerifiedToken } from '../verifier.ts';
import { writeNodeResponse } from './response.ts';

/**
 * node:http: verifies the request; on failure writes the RFC 6750 response and resolves
 * `undefined`, so the caller just returns.
 *
 * @example
 * ```ts
 * import { authenticateNode } from '@rampart/bearer/node';
 * createServer(async (req, res) => {
 *   const auth = await authenticateNode(verifier, req, res, { scopes: { all: ['orders:read'] } });
 *   if (!auth) return;
 *   res.end(auth.subject);
 * });
 * ```
 */
export async function authenticateNode<S extends string>(
  verifier: BearerVerifier<S>,
  req: IncomingMessage,
  res: ServerResponse,
  route?: RouteRequirement<S>,
): Promise<VerifiedToken | undefined> {
  try {
    const result = await verifier.authenticate(fromNodeRequest(req), route);
    for (const [name, value] of Object.entries(result.responseHeaders)) res.setHeader(name, value);
    return result;
  } catch (error) {
    writeNodeResponse(res, verifier.toResponse(error));
    return undefined;
  }
}

/**
 * Wraps a node:http handler so it only runs for requests that pass the route's requirement.
 *
 * @example
 * ```ts
 * import { withBearer } from '@rampart/bearer/node';
 * createServer(withBearer(verifier, { scopes: { any: ['orders:read'] } }, (req, res, auth) => res.end(auth.subject)));
 * ```
 */
export function withBearer<S extends string>(
  verifier: BearerVerifier<S>,
  route: RouteRequirement<S> | undefined,
  handler: (req: IncomingMessage, res: ServerResponse, auth: VerifiedToken) => void | Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => void {
  const declared = route === undefined ? undefined : verifier.route(route);
  return (req, res) => {
    authenticateNode(verifier, req, res, declared).then(
      (auth) => (auth === undefined ? undefined : handler(req, res, auth)),
      () => writeNodeResponse(res, verifier.toResponse(undefined)),
    );
  };
}

/**
 * A node:http handler serving an RFC 9728 protected-resource metadata document.
 *
 * @example
 * ```ts
 * import { serveResourceMetadata } from '@rampart/bearer/node';
 * const metadataHandler = serveResourceMetadata(metadata);
 * createServer((req, res) => (req.url === '/.well-known/oauth-protected-resource' ? metadataHandler(req, res) : app(req, res)));
 * ```
 */
export function serveResourceMetadata(
  metadata: ProtectedResourceMetadata,
): (req: IncomingMessage, res: ServerResponse) => void {
  const answer = metadataResponse(metadata);
  return (_req, res) => {
    res.statusCode = answer.status;
    for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
    res.end(answer.body);
  };
}
