import type { Context, MiddlewareHandler } from 'hono';
import {
  type CrossSiteOptions,
  type CrossSiteProtection,
  type CrossSiteRequest,
  crossSiteProtection,
} from '../cross-site.ts';
import { generateNonce } from '../nonce.ts';
import { addFetchHeaderValue, assertAdapterArguments, bindState, rejectionBody, stateOf } from '../response-binding.ts';
import type { SecurityHeaders } from '../security-headers.ts';

/** Context variables the Hono adapter sets. */
export interface SecurityHeadersVariables {
  /** The request's CSP nonce, when the policy uses one. */
  cspNonce: string;
}

/** Options of the Hono adapter. */
export interface HonoSecurityHeadersOptions {
  /** Whether the request came over TLS. Default: the request URL is https. */
  readonly isSecure?: (c: Context) => boolean;
}

const isHttps = (c: Context): boolean => c.req.url.startsWith('https:');

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
      // Hono answers a thrown error with onError's response, which is built after this middleware
      // has returned; headers set on the context now are copied into it (c.json, c.text, ...).
      bind(c, policy, false);
      const state = stateOf(c) as NonNullable<ReturnType<typeof stateOf>>;
      // Reading c.res creates the context's response, so c.header writes to it: when Hono then
      // assigns onError's result to c.res, its setter copies these headers into that response
      // too, also into a `new Response(...)` onError built itself.
      void c.res;
      // onError runs after this and nothing of ours runs after it: a CSP it sets with
      // c.header(name, value) replaces these values, the rollout's frame-ancestors included; one
      // set with { append: true } goes out next to them. `append` here only keeps a value set earlier.
      state.policy.applyTo(
        (name, value) => c.header(name, value),
        state,
        (name, value) => c.header(name, value, { append: true }),
      );
      throw error;
    }
    bind(c, policy, secure);
    await next();
    // Only the outermost middleware writes, once, with whichever policy a route chose last.
    if (!outermost) return;
    const state = stateOf(c);
    if (state === undefined) return;
    if (state.policy.usesNonce && state.nonce === undefined) state.nonce = generateNonce();
    let headers = c.res.headers;
    try {
      for (const name of state.policy.remove) headers.delete(name);
    } catch {
      // A Response from fetch() has immutable headers; copy it once.
      c.res = new Response(c.res.body, c.res);
      headers = c.res.headers;
      for (const name of state.policy.remove) headers.delete(name);
    }
    state.policy.applyTo(
      (name, value) => headers.set(name, value),
      state,
      (name, value) => addFetchHeaderValue(headers, name, value),
    );
  };
}

function toCrossSiteRequest(c: Context): CrossSiteRequest {
  return {
    method: c.req.method,
    header: (name) => c.req.header(name),
    selfOrigin: new URL(c.req.url).origin,
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
  const protection = 'check' in options ? options : crossSiteProtection(options);
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
