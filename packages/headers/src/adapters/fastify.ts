import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  onRequestHookHandler,
} from 'fastify';
import {
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  crossSiteProtection,
} from '../cross-site.ts';
import { generateNonce } from '../nonce.ts';
import { applyOnWriteHead, bindState, rejectionBody, stateOf } from '../response-binding.ts';
import type { SecurityHeaders } from '../security-headers.ts';

/** Options of the Fastify adapter. */
export interface FastifySecurityHeadersOptions {
  /** Whether the request came over TLS. Default `request.protocol === 'https'` (honours `trustProxy`). */
  readonly isSecure?: (request: FastifyRequest) => boolean;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's CSP nonce, set by `@rampart/headers/fastify` when the policy uses one. */
    cspNonce?: string;
  }
}

const isHttps = (request: FastifyRequest): boolean => request.protocol === 'https';

function bind(request: FastifyRequest, policy: SecurityHeaders, secure: boolean): void {
  const state = bindState(request, [request, request.raw], policy, secure);
  if (state.nonce !== undefined) request.cspNonce = state.nonce;
}

/** Where a reply keeps the `hijack` that {@link hijackWithPolicy} replaced. */
const PREVIOUS_HIJACK = Symbol('@rampart/headers previous hijack');

/**
 * `reply.hijack()` with the policy: a hijacked reply skips `onSend`, so the headers go onto the raw
 * response when the handler writes its head, as on node:http (they replace what the handler set
 * with `setHeader`; headers it passes to `reply.raw.writeHead` win).
 */
function hijackWithPolicy(this: FastifyReply): FastifyReply {
  const state = stateOf(this.request);
  if (state !== undefined && !this.raw.headersSent) applyOnWriteHead(this.raw, state);
  // The hijack this one replaced: Fastify's, or another plugin's wrapper.
  const previous = (this as unknown as Record<symbol, () => FastifyReply>)[PREVIOUS_HIJACK] as () => FastifyReply;
  return previous.call(this);
}

/**
 * Fastify 5 plugin applying `policy` to every response of the instance, including 404 and error
 * replies (headers are written in `onSend`) and hijacked replies (written when `reply.hijack()` is
 * called). Per route, override with
 * `{ onRequest: routeHeaders(policy.forDownload()) }`. The nonce is `request.cspNonce` and `getNonce(request)`.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { webAppPreset } from '@rampart/headers';
 * import { securityHeaders } from '@rampart/headers/fastify';
 * const app = Fastify();
 * await app.register(securityHeaders(webAppPreset()));
 * app.get('/', (request, reply) => reply.type('text/html').send(`<script nonce="${request.cspNonce}"></script>`));
 * ```
 */
export function securityHeaders(
  policy: SecurityHeaders,
  options: FastifySecurityHeadersOptions = {},
): FastifyPluginCallback {
  const isSecure = options.isSecure ?? isHttps;
  const plugin: FastifyPluginCallback = (fastify: FastifyInstance, _opts, done) => {
    fastify.addHook('onRequest', (request, reply, next) => {
      bind(request, policy, isSecure(request));
      (reply as unknown as Record<symbol, unknown>)[PREVIOUS_HIJACK] = reply.hijack;
      reply.hijack = hijackWithPolicy;
      next();
    });
    fastify.addHook('onSend', (request, reply, payload, next) => {
      // A request that failed before onRequest ran (a body-parser error, say) still gets the policy.
      const state = stateOf(request) ?? { policy, nonce: undefined, secure: isSecure(request) };
      const active = state.policy;
      for (const name of active.remove) reply.removeHeader(name);
      if (active.usesNonce && state.nonce === undefined) state.nonce = generateNonce();
      active.applyTo((name, value) => reply.header(name, value), state);
      next(null, payload);
    });
    done();
  };
  // What fastify-plugin does: register the hooks on the parent, not in an encapsulated child.
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = '@rampart/headers';
  return plugin;
}

/**
 * A route-level `onRequest` hook that replaces the policy for that route.
 *
 * @example
 * ```ts
 * app.get('/files/:id', { onRequest: routeHeaders(headers.forDownload()) }, sendFile);
 * ```
 */
export function routeHeaders(
  policy: SecurityHeaders,
  options: FastifySecurityHeadersOptions = {},
): onRequestHookHandler {
  const isSecure = options.isSecure ?? isHttps;
  return (request, _reply, done) => {
    bind(request, policy, isSecure(request));
    done();
  };
}

function toCrossSiteRequest(request: FastifyRequest): CrossSiteRequest {
  return {
    method: request.method,
    header: (name) => {
      const value = request.headers[name];
      return Array.isArray(value) ? value[0] : value;
    },
    selfOrigin: request.host ? `${request.protocol}://${request.host}` : undefined,
  };
}

/**
 * A Fastify `onRequest` hook rejecting cross-site state-changing requests with 403.
 *
 * @example
 * ```ts
 * import { crossSiteGuard } from '@rampart/headers/fastify';
 * app.post('/settings', { onRequest: crossSiteGuard({ allowedOrigins: ['https://app.example'] }) }, save);
 * ```
 */
export function crossSiteGuard(options: CrossSiteOptions | CrossSiteProtection = {}): onRequestHookHandler {
  const protection = 'check' in options ? options : crossSiteProtection(options);
  return (request: FastifyRequest, reply: FastifyReply, done) => {
    const decision = protection.check(toCrossSiteRequest(request));
    if (decision.allowed) {
      done();
      return;
    }
    reply.code(403).type('application/json; charset=utf-8').send(rejectionBody(decision));
  };
}
