import type { Handler, MiddlewareHandler } from 'hono';
import { bodyTokensOf, fromWebRequest, socketCertificate } from '../request.ts';
import { metadataResponse, type ProtectedResourceMetadata } from '../resource-metadata.ts';
import type { RouteRequirement } from '../route-requirement.ts';
import type { BearerVerifier, VerifiedToken } from '../verifier.ts';

/** Hono environment with the verified token under `c.get('bearer')`. */
export interface BearerEnv {
  Variables: { bearer: VerifiedToken };
}

/**
 * Hono 4 middleware: verifies the bearer token and the route's scopes/claims, or returns the exact
 * RFC 6750 response (400/401/403, or 503 + `Retry-After`). Errors thrown by later handlers pass
 * through untouched. If the response was finalized while the token was being verified (hono/timeout
 * answered), it does nothing more and the route's handler does not run.
 *
 * @example
 * ```ts
 * import { bearerAuth } from '@rampart/bearer/hono';
 * app.get('/orders', bearerAuth(verifier, { scopes: { all: ['orders:read'] } }), (c) =>
 *   c.json({ caller: c.get('bearer').subject }));
 * ```
 */
export function bearerAuth<S extends string>(
  verifier: BearerVerifier<S>,
  route?: RouteRequirement<S>,
): MiddlewareHandler<BearerEnv> {
  const declared = route === undefined ? undefined : verifier.route(route);
  return async (c, next) => {
    // Only a response finalized during verification is someone else's answer to this request.
    const finalizedBefore = c.finalized;
    const answeredMeanwhile = (): boolean => c.finalized && !finalizedBefore;
    let result: VerifiedToken;
    try {
      let bodyTokens: string[] | undefined;
      const contentType = c.req.header('content-type');
      if (verifier.allowsBodyToken && contentType !== undefined && c.req.method !== 'GET') {
        // Hono caches the parsed body, so handlers can still read it.
        if (/^application\/x-www-form-urlencoded\b/i.test(contentType)) {
          const body = await c.req.parseBody({ all: true }).catch(() => null);
          // An unparsable body cannot be trusted to hold exactly one token: answer 400.
          bodyTokens = body === null ? [''] : bodyTokensOf(body, contentType);
        }
      }
      // @hono/node-server exposes the node request as env.incoming: its TLS socket has the client certificate.
      const incoming = (c.env as { incoming?: { socket?: unknown } } | undefined)?.incoming;
      const view = fromWebRequest(c.req.raw, bodyTokens, () => socketCertificate(incoming?.socket));
      result = await verifier.authenticate(view, declared);
    } catch (error) {
      if (answeredMeanwhile()) return undefined;
      const answer = verifier.toResponse(error);
      return new Response(answer.body === '' ? null : answer.body, { status: answer.status, headers: answer.headers });
    }
    if (answeredMeanwhile()) return undefined;
    c.set('bearer', result);
    for (const [name, value] of Object.entries(result.responseHeaders)) c.header(name, value);
    await next();
    return undefined;
  };
}

/**
 * A Hono handler serving an RFC 9728 protected-resource metadata document.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadataPath } from '@rampart/bearer';
 * import { serveResourceMetadata } from '@rampart/bearer/hono';
 * app.get(protectedResourceMetadataPath(metadata.resource), serveResourceMetadata(metadata));
 * ```
 */
export function serveResourceMetadata(metadata: ProtectedResourceMetadata): Handler {
  const answer = metadataResponse(metadata);
  return () => new Response(answer.body, { status: answer.status, headers: answer.headers });
}
