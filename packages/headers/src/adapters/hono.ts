import type { Context, MiddlewareHandler } from 'hono';
import {
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  resolveCrossSiteProtection,
} from '../cross-site.ts';
import { generateNonce } from '../nonce.ts';
import {
  addFetchHeaderValue,
  assertAdapterArguments,
  type BindingState,
  bindState,
  rejectionBody,
  stateOf,
} from '../response-binding.ts';
import type { SecurityHeaders } from '../security-headers.ts';

/** Context variables the Hono adapter sets. */
export interface SecurityHeadersVariables {
  /** The request's CSP nonce, when the policy uses one. */
  cspNonce: string;
}

/** Options of the Hono adapter. */
export interface HonoSecurityHeadersOptions {
  /**
   * Whether the request came over TLS. Default: on @hono/node-server, whether the connection is TLS
   * (the socket, as in the node:http adapter); on runtimes without a Node socket, whether the request
   * URL is https, counted only when the URL's host is the `Host` header (or there is no `Host`
   * header, as in a fetch-style `Request`). Behind a TLS-terminating proxy (h2c behind Envoy or
   * Istio included: their `:scheme` is not read), pass your own.
   */
  readonly isSecure?: (c: Context) => boolean;
}

/**
 * The default `isSecure`: the scheme the cross-site guard takes for the server's own origin. Not the
 * URL's alone: @hono/node-server writes an absolute-form request line's scheme into it
 * (`GET https://app.example/` over plain HTTP), and HTTP/2's `:scheme`, which the client sends.
 */
const isHttps = (c: Context): boolean => schemeOf(c, c.req.header('host') || undefined) === 'https:';

function bind(c: Context, policy: SecurityHeaders, secure: boolean): void {
  const state = bindState(c, [c, c.req.raw], policy, secure);
  if (state.nonce !== undefined) c.set('cspNonce' as never, state.nonce as never);
}

/**
 * Hono 4 middleware applying `policy` to every response, including `notFound` and `onError`
 * responses (headers are written after the handler ran). Use it again on a route with a
 * variant to override it there. The nonce is `c.get('cspNonce')` and `getNonce(c)`.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono';
 * import { webAppPreset } from '@rampart/headers';
 * import { securityHeaders, type SecurityHeadersVariables } from '@rampart/headers/hono';
 * const app = new Hono<{ Variables: SecurityHeadersVariables }>();
 * app.use(securityHeaders(webAppPreset()));
 * app.get('/', (c) => c.html(`<script nonce="${c.get('cspNonce')}">boot()</script>`));
 * ```
 */
export function securityHeaders(
  policy: SecurityHeaders,
  options: HonoSecurityHeadersOptions = {},
): MiddlewareHandler<{ Variables: SecurityHeadersVariables }> {
  assertAdapterArguments('securityHeaders (hono)', policy, options);
  const isSecure = options.isSecure ?? isHttps;
  return async function rampartSecurityHeaders(c, next) {
    const outermost = stateOf(c) === undefined;
    let secure: boolean;
    try {
      secure = isSecure(c);
    } catch (error) {
      bind(c, policy, false);
      const state = stateOf(c) as NonNullable<ReturnType<typeof stateOf>>;
      // Hono answers the error with onError's response, built after this middleware returned.
      // Headers set on the context now reach one built with c.json, c.text, ...: on a request only
      // this middleware matched, Hono sends onError's result as it is, so they are all it gets.
      state.policy.applyTo(
        (name, value) => c.header(name, value),
        state,
        (name, value) => c.header(name, value, { append: true }),
      );
      // Everywhere else Hono assigns that response to c.res: the policy goes onto it then, as on
      // the `await next()` path below.
      applyWhenResponseIsSet(c);
      throw error;
    }
    bind(c, policy, secure);
    await next();
    // Only the outermost middleware writes, once, with whichever policy a route chose last.
    if (!outermost) return;
    const state = stateOf(c);
    if (state === undefined) return;
    applyToResponse(c, state, (response) => {
      c.res = response;
    });
  };
}

/**
 * Writes the state's headers onto `c.res`, as the policy says: its headers replace the response's,
 * and its appended ones (the rollout's enforced frame-ancestors) go next to the response's own.
 * `replace` assigns a mutable copy when the response's headers are immutable (a fetch() Response).
 */
function applyToResponse(c: Context, state: BindingState, replace: (response: Response) => void): void {
  if (state.policy.usesNonce && state.nonce === undefined) state.nonce = generateNonce();
  let headers = c.res.headers;
  try {
    for (const name of state.policy.remove) headers.delete(name);
  } catch {
    // A Response from fetch() has immutable headers; copy it once.
    replace(new Response(c.res.body, c.res));
    headers = c.res.headers;
    for (const name of state.policy.remove) headers.delete(name);
  }
  state.policy.applyTo(
    (name, value) => headers.set(name, value),
    state,
    (name, value) => addFetchHeaderValue(headers, name, value),
  );
}

/** Hono 4's `res` accessor pair, found on the context's prototype chain. */
function resAccessor(c: Context): { get: () => Response; set: (response: Response | undefined) => void } | undefined {
  for (let proto = Object.getPrototypeOf(c); proto !== null; proto = Object.getPrototypeOf(proto)) {
    const descriptor = Object.getOwnPropertyDescriptor(proto, 'res');
    if (descriptor === undefined) continue;
    if (typeof descriptor.get !== 'function' || typeof descriptor.set !== 'function') return undefined;
    return { get: descriptor.get, set: descriptor.set };
  }
  return undefined;
}

/**
 * After `isSecure` threw, nothing of this middleware runs after onError: the next response
 * assigned to `c.res` (onError's, which Hono assigns) gets the policy the way the `await next()`
 * path applies it, and the accessor is Hono's own again after that one. Hono's setter first copies the context's headers into it with `set`, so the
 * context's enforced CSP (during a rollout only our frame-ancestors) would replace the one the app
 * put on its own Response: that value is put back before ours is added next to it.
 */
function applyWhenResponseIsSet(c: Context): void {
  const accessor = resAccessor(c);
  if (accessor === undefined) return;
  Object.defineProperty(c, 'res', {
    configurable: true,
    enumerable: false,
    get(this: Context): Response {
      return accessor.get.call(this);
    },
    set(this: Context, response: Response | undefined): void {
      const state = stateOf(this);
      if (response === undefined || response === null || state === undefined) {
        accessor.set.call(this, response);
        return;
      }
      // Only onError's response, the first one assigned: an outer middleware that replaces it
      // later gets what it gets after a route threw (Hono's own accessor, nothing of ours).
      delete (this as { res?: unknown }).res;
      const own = state.policy.appended.map(([name]) => [name, response.headers.get(name)] as const);
      accessor.set.call(this, response);
      // The setter copied the context's values into a new Response: put the app's own back first.
      const headers = accessor.get.call(this).headers;
      for (const [name, value] of own) {
        if (value !== null && headers.get(name) !== value) headers.set(name, value);
      }
      applyToResponse(this, state, (copy) => accessor.set.call(this, copy));
    },
  });
}

/** What @hono/node-server puts in `c.env`: the Node request, whose socket says whether TLS was used. */
interface NodeServerBindings {
  readonly incoming?: {
    readonly socket?: { readonly encrypted?: unknown; readonly remoteAddress?: unknown } | null;
  } | null;
}

/**
 * The scheme the request arrived with, for `isSecure` and the guard's own origin alike. On
 * @hono/node-server, from the socket, like the node:http adapter: that server builds the request URL
 * of an absolute-form request line (`POST https://app.example/form` sent over plain HTTP) from that
 * line, and over HTTP/2 from the client's `:scheme`. Elsewhere the runtime builds the URL from `Host`
 * and the connection, so its scheme is taken when its host is the `Host` header (or there is none,
 * HTTP/2); otherwise the URL came from the request line and nothing is known.
 */
function schemeOf(c: Context, host: string | undefined): string | undefined {
  const encrypted = socketEncryption(c);
  if (encrypted !== undefined) return encrypted ? 'https:' : 'http:';
  // The URL is parsed only here: on @hono/node-server the socket answered above.
  const url = new URL(c.req.url);
  return host === undefined || url.host === hostAsParsed(url.protocol, host) ? url.protocol : undefined;
}

/**
 * Whether @hono/node-server's socket is TLS; undefined when `c.env` holds no Node socket (another
 * runtime, or a binding that merely is named `incoming`: only a boolean `encrypted` counts) or
 * reading it throws.
 */
function socketEncryption(c: Context): boolean | undefined {
  try {
    const socket = (c.env as NodeServerBindings | undefined)?.incoming?.socket;
    if (!socket) return undefined;
    // A TLSSocket's `encrypted` is true; a plain net.Socket has none, but has its peer's address.
    if (socket.encrypted === true) return true;
    return socket.encrypted === undefined && typeof socket.remoteAddress === 'string' ? false : undefined;
  } catch {
    return undefined;
  }
}

/** `host` as the URL parser writes it under `scheme` (lower case, default port dropped), or undefined. */
function hostAsParsed(scheme: string, host: string): string | undefined {
  try {
    return new URL(`${scheme}//${host}`).host;
  } catch {
    return undefined;
  }
}

/**
 * The server's own origin as the other adapters take it: its scheme plus the `Host` header.
 * Not the URL's host: @hono/node-server builds the URL of an absolute-form request line
 * (`POST http://evil.example/form`) from that line, whatever `Host` says. Only without a `Host`
 * header (HTTP/2, whose `:authority` Hono's headers leave out) is the URL's host used. Undefined
 * when the scheme is unknown: then no `Origin` counts as this server's.
 */
function selfOriginOf(c: Context): string | undefined {
  const host = c.req.header('host') || undefined;
  const scheme = schemeOf(c, host);
  if (scheme === undefined) return undefined;
  return `${scheme}//${host ?? new URL(c.req.url).host}`;
}

function toCrossSiteRequest(c: Context): CrossSiteRequest {
  return {
    method: c.req.method,
    header: (name) => c.req.header(name),
    selfOrigin: selfOriginOf(c),
  };
}

/**
 * Hono middleware rejecting cross-site state-changing requests with 403.
 *
 * @example
 * ```ts
 * import { crossSiteGuard } from '@rampart/headers/hono';
 * app.post('/settings', crossSiteGuard({ allowedOrigins: ['https://app.example'] }), save);
 * ```
 */
export function crossSiteGuard(options: CrossSiteOptions | CrossSiteProtection = {}): MiddlewareHandler {
  const protection = resolveCrossSiteProtection(options);
  return async function rampartCrossSiteGuard(c, next) {
    const decision = protection.check(toCrossSiteRequest(c));
    if (!decision.allowed) {
      return c.body(rejectionBody(decision), 403, { 'content-type': 'application/json; charset=utf-8' });
    }
    await next();
    return undefined;
  };
}

/** The same middleware as {@link securityHeaders}, named for its per-route use. */
export const routeHeaders: typeof securityHeaders = securityHeaders;
