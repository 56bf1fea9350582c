import { STATUS_CODES } from 'node:http';
import type {
  FastifyInstance,
  FastifyPluginCallback,
  FastifyReply,
  FastifyRequest,
  FastifyServerOptions,
  onRequestHookHandler,
} from 'fastify';
import {
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  resolveCrossSiteProtection,
} from '../cross-site.ts';
import { generateNonce } from '../nonce.ts';
import {
  addNodeHeaderValue,
  applyOnWriteHead,
  assertAdapterArguments,
  bindState,
  rejectionBody,
  stateOf,
} from '../response-binding.ts';
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

/** `isSecure(request)`, or false when it throws: an error path must not lose the policy. */
function secureOrPlain(isSecure: (request: FastifyRequest) => boolean, request: FastifyRequest): boolean {
  try {
    return isSecure(request);
  } catch {
    return false;
  }
}

function bind(request: FastifyRequest, policy: SecurityHeaders, secure: boolean): void {
  const state = bindState(request, [request, request.raw], policy, secure);
  if (state.nonce !== undefined) request.cspNonce = state.nonce;
}

/**
 * One more value of a reply header, after the route's own (Fastify writes an array as one header
 * line per value): `reply.header()` alone would replace the app's enforced CSP.
 */
function addReplyHeaderValue(reply: FastifyReply, name: string, value: string): void {
  addNodeHeaderValue(
    {
      getHeader: (n) => reply.getHeader(n),
      setHeader: (n, v) => {
        reply.header(n, v);
        return reply.raw;
      },
    },
    name,
    value,
  );
}

/** Where a reply keeps the `hijack` that {@link hijackWithPolicy} replaced. */
const PREVIOUS_HIJACK = Symbol('@rampart/headers previous hijack');

/**
 * `reply.hijack()` with the policy: a hijacked reply skips `onSend`, so the headers go onto the raw
 * response when the handler writes its head, as on node:http (they replace what the handler set
 * with `setHeader`; headers it passes to `reply.raw.writeHead` win, but a rollout's frame-ancestors
 * goes out next to a CSP there).
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
 * Registered more than once (a root policy and a child context's own), the innermost registration
 * applies to its routes, since a child's hooks run after its parent's.
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
  assertAdapterArguments('securityHeaders (fastify)', policy, options);
  const isSecure = options.isSecure ?? isHttps;
  const plugin: FastifyPluginCallback = (fastify: FastifyInstance, _opts, done) => {
    fastify.addHook('onRequest', (request, reply, next) => {
      let failure: unknown;
      let secure = false;
      try {
        secure = isSecure(request);
      } catch (error) {
        // Bound as plain HTTP, so the error reply Fastify sends for it carries the policy.
        failure = error;
      }
      // A later registration (a child context's, or the same plugin twice) replaces the policy.
      bind(request, policy, secure);
      // Wrap once per reply: a second registration would store this wrapper as the hijack it
      // replaced and call itself forever. Another plugin's wrapper around ours stays in place.
      const carrier = reply as unknown as Record<symbol, unknown>;
      if (!Object.hasOwn(carrier, PREVIOUS_HIJACK)) {
        carrier[PREVIOUS_HIJACK] = reply.hijack;
        reply.hijack = hijackWithPolicy;
      }
      next(failure as Error | undefined);
    });
    fastify.addHook('onSend', (request, reply, payload, next) => {
      // A request that failed before onRequest ran (an earlier hook's error, say) still gets the policy.
      const state = stateOf(request) ?? { policy, nonce: undefined, secure: secureOrPlain(isSecure, request) };
      const active = state.policy;
      for (const name of active.remove) reply.removeHeader(name);
      if (active.usesNonce && state.nonce === undefined) state.nonce = generateNonce();
      active.applyTo(
        (name, value) => reply.header(name, value),
        state,
        (name, value) => addReplyHeaderValue(reply, name, value),
      );
      next(null, payload);
    });
    done();
  };
  // What fastify-plugin does: register the hooks on the parent, not in an encapsulated child.
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('skip-override')] = true;
  (plugin as unknown as Record<symbol, unknown>)[Symbol.for('fastify.display-name')] = '@rampart/headers';
  return plugin;
}

/** The type of Fastify's `frameworkErrors` server option. */
export type FrameworkErrorsHandler = NonNullable<FastifyServerOptions['frameworkErrors']>;

/**
 * A handler for Fastify's `frameworkErrors` **server** option. Fastify answers a malformed URL
 * (`FST_ERR_BAD_URL`, 400), an over-long path parameter (`FST_ERR_MAX_PARAM_LENGTH`, 414) and a
 * failed async constraint (`FST_ERR_ASYNC_CONSTRAINT`, 500) before routing, where no plugin hook
 * runs, so without this handler those responses carry no security headers and echo the request path.
 * This one sends `policy` and a JSON body with the status and Fastify's error code only. A plugin
 * cannot set a server option, so pass it when creating the instance.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify';
 * import { apiPreset } from '@rampart/headers';
 * import { frameworkErrors, securityHeaders } from '@rampart/headers/fastify';
 * const headers = apiPreset();
 * const app = Fastify({ frameworkErrors: frameworkErrors(headers) });
 * await app.register(securityHeaders(headers));
 * ```
 */
export function frameworkErrors(
  policy: SecurityHeaders,
  options: FastifySecurityHeadersOptions = {},
): FrameworkErrorsHandler {
  assertAdapterArguments('frameworkErrors (fastify)', policy, options);
  const isSecure = options.isSecure ?? isHttps;
  return (error, request, reply) => {
    // Fastify types this option generically over route schemas; none applies before routing.
    const plain = request as unknown as FastifyRequest;
    const plainReply = reply as unknown as FastifyReply;
    // On this error path a throwing isSecure must not drop the response: treat the request as plain HTTP.
    const state = bindState(plain, [plain, plain.raw], policy, secureOrPlain(isSecure, plain));
    for (const name of state.policy.remove) plainReply.removeHeader(name);
    state.policy.applyTo(
      (name, value) => plainReply.header(name, value),
      state,
      (name, value) => addReplyHeaderValue(plainReply, name, value),
    );
    const status =
      typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode <= 599
        ? error.statusCode
        : 500;
    // Fastify's own body quotes the path; this one names only the status and the error code.
    const body = JSON.stringify({ statusCode: status, error: STATUS_CODES[status] ?? 'Error', code: error.code });
    plainReply.code(status).type('application/json; charset=utf-8').send(body);
  };
}

/**
 * A route-level `onRequest` hook that replaces the policy for that route. An `isSecure` that
 * throws binds the route's policy as for plain HTTP and hands the error to Fastify, whose 500
 * carries that policy.
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
  assertAdapterArguments('routeHeaders (fastify)', policy, options);
  const isSecure = options.isSecure ?? isHttps;
  return (request, _reply, done) => {
    let failure: unknown;
    let secure = false;
    try {
      secure = isSecure(request);
    } catch (error) {
      // As in securityHeaders: bound as plain HTTP, so the 500 carries this route's variant.
      failure = error;
    }
    bind(request, policy, secure);
    done(failure as Error | undefined);
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
  const protection = resolveCrossSiteProtection(options);
  return (request: FastifyRequest, reply: FastifyReply, done) => {
    const decision = protection.check(toCrossSiteRequest(request));
    if (decision.allowed) {
      done();
      return;
    }
    reply.code(403).type('application/json; charset=utf-8').send(rejectionBody(decision));
  };
}
