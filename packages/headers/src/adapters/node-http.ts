import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import {
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  crossSiteProtection,
} from '../cross-site.ts';
import { bindNodeResponse, rejectionBody, stateOf } from '../response-binding.ts';
import type { SecurityHeaders } from '../security-headers.ts';

/** Options of the node:http adapter. */
export interface NodeSecurityHeadersOptions {
  /** Whether the request came over TLS. Default: the socket is a TLS socket. */
  readonly isSecure?: (req: IncomingMessage) => boolean;
}

const socketIsTls = (req: IncomingMessage): boolean => (req.socket as TLSSocket).encrypted === true;

/**
 * Applies `policy` to this request's response (call it first in your handler, or again in a route
 * to switch to a per-route variant). Returns the request's nonce, if the policy uses one.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { webAppPreset } from '@rampart/headers';
 * import { applySecurityHeaders } from '@rampart/headers/node';
 * const headers = webAppPreset();
 * createServer((req, res) => {
 *   const nonce = applySecurityHeaders(req, res, headers);
 *   res.end(`<script nonce="${nonce}">boot()</script>`);
 * });
 * ```
 */
export function applySecurityHeaders(
  req: IncomingMessage,
  res: ServerResponse,
  policy: SecurityHeaders,
  options: NodeSecurityHeadersOptions = {},
): string | undefined {
  return bindNodeResponse(req, res, policy, (options.isSecure ?? socketIsTls)(req)).nonce;
}

/**
 * Wraps a node:http handler: every response carries `policy`, and a handler that throws or
 * rejects gets a 500 with the same headers instead of a dropped connection.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * import { apiPreset } from '@rampart/headers';
 * import { withSecurityHeaders } from '@rampart/headers/node';
 * createServer(withSecurityHeaders(apiPreset(), (req, res) => res.end('{}')));
 * ```
 */
export function withSecurityHeaders(
  policy: SecurityHeaders,
  handler: (req: IncomingMessage, res: ServerResponse) => unknown,
  options: NodeSecurityHeadersOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const isSecure = options.isSecure ?? socketIsTls;
  const fail = (req: IncomingMessage, res: ServerResponse): void => {
    // The handler finished its response before failing: let it flush rather than cut it off.
    if (res.writableEnded) return;
    // Only a genuinely half-written response is destroyed: its status is already out.
    if (res.headersSent) {
      res.destroy();
      return;
    }
    // When isSecure threw, nothing is bound yet; bind now so the 500 carries the policy (no HSTS
    // when it is limited to TLS, since TLS could not be established).
    if (stateOf(res) === undefined) bindNodeResponse(req, res, policy, false);
    // Drop everything the failed handler set: a stale Content-Length would leave the client waiting
    // for bytes that never come, and a half-done login's Set-Cookie or Location must not go out.
    // The policy's headers are written again when the head goes out (applyOnWriteHead).
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    const body = '{"error":"internal server error"}';
    res.statusCode = 500;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.setHeader('content-length', Buffer.byteLength(body));
    res.end(body);
  };
  return (req, res) => {
    try {
      bindNodeResponse(req, res, policy, isSecure(req));
      const result = handler(req, res);
      if (result instanceof Promise) result.catch(() => fail(req, res));
    } catch {
      fail(req, res);
    }
  };
}

function toCrossSiteRequest(req: IncomingMessage): CrossSiteRequest {
  return {
    method: req.method ?? 'GET',
    header: (name) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    selfOrigin: req.headers.host ? `${socketIsTls(req) ? 'https' : 'http'}://${req.headers.host}` : undefined,
  };
}

/**
 * Cross-site request protection for node:http. The returned function answers 403 (with a JSON
 * body naming the error code) and returns false when the request is rejected.
 *
 * @example
 * ```ts
 * import { crossSiteGuard } from '@rampart/headers/node';
 * const guard = crossSiteGuard({ allowedOrigins: ['https://app.example'] });
 * // in a handler: if (!guard(req, res)) return;
 * ```
 */
export function crossSiteGuard(
  options: CrossSiteOptions | CrossSiteProtection = {},
): (req: IncomingMessage, res: ServerResponse) => boolean {
  const protection = 'check' in options ? options : crossSiteProtection(options);
  return (req, res) => {
    const decision = protection.check(toCrossSiteRequest(req));
    if (decision.allowed) return true;
    res.statusCode = 403;
    res.setHeader('content-type', 'application/json; charset=utf-8');
    res.end(rejectionBody(decision));
    return false;
  };
}

/** The same function as {@link applySecurityHeaders}, named for its per-route use. */
export const routeHeaders: typeof applySecurityHeaders = applySecurityHeaders;
