import type { NextFunction, Request, RequestHandler, Response } from 'express';
import {
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  resolveCrossSiteProtection,
} from '../cross-site.ts';
import { assertAdapterArguments, bindNodeResponse, rejectionBody } from '../response-binding.ts';
import type { SecurityHeaders } from '../security-headers.ts';

/** Options of the Express adapter. */
export interface ExpressSecurityHeadersOptions {
  /** Whether the request came over TLS. Default `req.secure` (honours Express's `trust proxy`). */
  readonly isSecure?: (req: Request) => boolean;
}

/**
 * Express 5 middleware applying `policy` to every response, including Express's own 404 and
 * error pages. Use it once with `app.use(...)`, and again on a route with a variant
 * (`policy.forDownload()`, `.forEmbedding([...])`, `.forOAuthPopup()`) to override it there.
 * The nonce is at `res.locals.cspNonce` and `getNonce(req)`.
 *
 * @example
 * ```ts
 * import express from 'express';
 * import { webAppPreset } from '@rampart/headers';
 * import { securityHeaders } from '@rampart/headers/express';
 * const headers = webAppPreset();
 * const app = express();
 * app.use(securityHeaders(headers));
 * app.get('/', (_req, res) => res.send(`<script nonce="${res.locals.cspNonce}">boot()</script>`));
 * app.get('/files/:id', securityHeaders(headers.forDownload()), (_req, res) => res.download('report.pdf'));
 * ```
 */
export function securityHeaders(policy: SecurityHeaders, options: ExpressSecurityHeadersOptions = {}): RequestHandler {
  assertAdapterArguments('securityHeaders (express)', policy, options);
  const isSecure = options.isSecure ?? ((req: Request) => req.secure);
  return function rampartSecurityHeaders(req: Request, res: Response, next: NextFunction): void {
    let failure: unknown;
    let secure = false;
    try {
      secure = isSecure(req);
    } catch (error) {
      // Bound as plain HTTP, so the error response Express sends for it carries the policy.
      failure = error;
    }
    const state = bindNodeResponse(req, res, policy, secure);
    if (state.nonce !== undefined) res.locals.cspNonce = state.nonce;
    if (failure === undefined) next();
    else next(failure);
  };
}

function toCrossSiteRequest(req: Request): CrossSiteRequest {
  const host = req.get('host');
  return {
    method: req.method,
    header: (name) => req.get(name),
    selfOrigin: host ? `${req.protocol}://${host}` : undefined,
  };
}

/**
 * Express middleware rejecting cross-site state-changing requests with 403 (JSON body with the
 * error code). Put it on cookie-authenticated routes.
 *
 * @example
 * ```ts
 * import { crossSiteGuard } from '@rampart/headers/express';
 * app.post('/settings', crossSiteGuard({ allowedOrigins: ['https://app.example'] }), saveSettings);
 * ```
 */
export function crossSiteGuard(options: CrossSiteOptions | CrossSiteProtection = {}): RequestHandler {
  const protection = resolveCrossSiteProtection(options);
  return function rampartCrossSiteGuard(req: Request, res: Response, next: NextFunction): void {
    const decision = protection.check(toCrossSiteRequest(req));
    if (decision.allowed) {
      next();
      return;
    }
    res.status(403).type('application/json').send(rejectionBody(decision));
  };
}

/** The same middleware as {@link securityHeaders}, named for its per-route use. */
export const routeHeaders: typeof securityHeaders = securityHeaders;
