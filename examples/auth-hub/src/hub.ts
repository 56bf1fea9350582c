// The authorization hub: oidc-provider with the client-credentials grant and resource indicators
// (RFC 8707), issuing RFC 9068 JWT access tokens whose audience is the requested resource and whose
// scopes are what both the client and the resource server allow. All provider state lives in Redis
// through @rampart/redis's adapter, every request but GET/HEAD/OPTIONS (so every endpoint where a
// client authenticates: token, PAR, revocation) is rate-limited per client IP in Redis, and
// every response carries @rampart/headers' API preset.
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { createServer, IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Secret } from '@rampart/config';
import { apiPreset } from '@rampart/headers';
import { withSecurityHeaders } from '@rampart/headers/node';
import { createRateLimiter, type RedisClient } from '@rampart/redis';
import { nodeRateLimit } from '@rampart/redis/node';
import { createOidcProviderAdapter } from '@rampart/redis/oidc-provider';
import { BodyError, clientGone, endLingering, readBody } from 'example-service-runtime';
import Provider, { errors } from 'oidc-provider';
import type { ClientRegistration, ResourceServer } from './clients.ts';

export interface HubOptions {
  readonly issuer: string;
  readonly redis: RedisClient;
  readonly signingKey: Secret;
  readonly cookieKey: Secret;
  readonly clients: readonly ClientRegistration[];
  readonly clientSecrets: ReadonlyMap<string, Secret>;
  readonly resources: readonly ResourceServer[];
  readonly tokenRateLimitPerMinute: number;
  readonly accessTokenTtlSeconds: number;
}

/** Methods that never carry client credentials to oidc-provider: not rate-limited. */
const UNLIMITED_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS']);

/** oidc-provider's own cap on a form body (lib/shared/selective_body.js): a larger one it refuses too. */
const MAX_FORM_BYTES = 56 * 1024;

/** Whether a content-type header names a form body (type and subtype case-insensitive, parameters ignored). */
function isForm(header: string | undefined): boolean {
  return (header ?? '').split(';', 1)[0]?.trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

function sendError(res: ServerResponse, status: number, error: string, description: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify({ error, error_description: description }));
}

/**
 * A request that reads as `req` with `body` as its body, for oidc-provider once the hub has read the
 * original: the method, target, headers and connection are the original's.
 */
function withBody(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(req.socket);
  copy.method = req.method as string;
  copy.url = req.url as string;
  copy.headers = req.headers;
  copy.rawHeaders = req.rawHeaders;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  copy.complete = true;
  copy.push(body);
  copy.push(null);
  return copy;
}

/** The signing JWK (private) from a PKCS#8 DER EC P-256 key; the kid is the public key's thumbprint-like id. */
function signingJwk(signingKey: Secret): Record<string, unknown> {
  const key = createPrivateKey({ key: Buffer.from(signingKey.reveal(), 'base64url'), format: 'der', type: 'pkcs8' });
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256')
    throw new Error('HUB_SIGNING_KEY must be an EC P-256 private key (PKCS#8 DER, base64url)');
  const publicDer = createPublicKey(key).export({ format: 'der', type: 'spki' });
  const kid = Buffer.from(publicDer.subarray(-32)).toString('base64url').slice(0, 16);
  return { ...jwk, kid, alg: 'ES256', use: 'sig' };
}

/** Builds the provider and its HTTP server (not listening yet). */
export function createHub(options: HubOptions): {
  readonly provider: Provider;
  readonly server: Server;
  /** Loads the token limiter's scripts on Redis; await it before listening (a cold script can exceed its timeout). */
  readonly warm: () => Promise<void>;
} {
  const byResource = new Map(options.resources.map((r) => [r.resource, r]));
  const tenants = new Map(options.clients.map((c) => [c.clientId, c.tenant]));
  const clientScopes = new Map(options.clients.map((c) => [c.clientId, new Set(c.scopes)]));
  const allScopes = [...new Set(options.resources.flatMap((r) => r.scopes))];

  const provider = new Provider(options.issuer, {
    adapter: createOidcProviderAdapter({ redis: options.redis }),
    clients: options.clients.map((client) => ({
      client_id: client.clientId,
      client_secret: (options.clientSecrets.get(client.clientId) as Secret).reveal(),
      grant_types: [...client.grantTypes],
      response_types: client.grantTypes.includes('authorization_code') ? ['code'] : [],
      redirect_uris: [...client.redirectUris],
      scope: client.scopes.join(' '),
      token_endpoint_auth_method: 'client_secret_basic',
      id_token_signed_response_alg: 'ES256',
    })),
    // Every client is registered for client_secret_basic, yet oidc-provider (9.x,
    // lib/shared/client_auth.js) treats a secret as matching either secret method wherever it was
    // sent: a client_secret in the form body would pass, and body-logging proxies would keep it.
    // Only the methods listed here are read at all (and advertised by discovery).
    clientAuthMethods: ['client_secret_basic'],
    jwks: { keys: [signingJwk(options.signingKey)] },
    cookies: { keys: [options.cookieKey.reveal()] },
    scopes: allScopes,
    pkce: { required: () => true },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      introspection: { enabled: false },
      revocation: { enabled: true },
      pushedAuthorizationRequests: { enabled: true, requirePushedAuthorizationRequests: true },
      resourceIndicators: {
        enabled: true,
        // No default audience: a token is always minted for one named resource. Called without
        // `oneOf` when the request named none: refused, rather than an opaque token stored in Redis.
        defaultResource: (_ctx, _client, oneOf) => {
          if (oneOf === undefined) throw new errors.InvalidTarget('the resource parameter is required');
          return oneOf;
        },
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resourceIndicator) => {
          const server = byResource.get(resourceIndicator);
          if (!server) throw new errors.InvalidTarget('unknown resource indicator');
          // The client-credentials grant names one resource; oidc-provider would silently drop the
          // requested scopes that resource does not serve. A scope asked for is granted or refused.
          // (The code flow may split its scopes across several resources: not checked here.)
          const params = ctx.oidc.params;
          const scopeParam = typeof params?.scope === 'string' ? params.scope : '';
          const requested = scopeParam.split(' ').filter((s) => s !== '');
          if (params?.grant_type === 'client_credentials') {
            const served = new Set(server.scopes);
            if (requested.some((scope) => !served.has(scope)))
              throw new errors.InvalidScope('a requested scope is not served by the requested resource', scopeParam);
            // oidc-provider would mint an audience-bound token carrying no scope at all (no scope
            // parameter, or none the client holds): refused instead, whatever the client holds.
            const held = clientScopes.get(ctx.oidc.client?.clientId ?? '') ?? new Set<string>();
            if (!server.scopes.some((scope) => held.has(scope)))
              throw new errors.InvalidScope('the client holds no scope the requested resource serves', scopeParam);
            if (!requested.some((scope) => held.has(scope)))
              throw new errors.InvalidScope(
                'the scope parameter must name at least one scope the client holds at the requested resource',
                scopeParam,
              );
          } else if (ctx.oidc.route === 'pushed_authorization_request') {
            // A pushed request may name several resources: each requested scope (but the provider's
            // own openid) must be served by one of them, as at the token endpoint.
            const named = params?.resource;
            const resources: unknown[] = Array.isArray(named) ? named : [named];
            const served = new Set(
              resources.flatMap((r) => (typeof r === 'string' ? (byResource.get(r)?.scopes ?? []) : [])),
            );
            if (requested.some((scope) => scope !== 'openid' && !served.has(scope)))
              throw new errors.InvalidScope('a requested scope is not served by the requested resources', scopeParam);
          }
          return {
            scope: server.scopes.join(' '),
            audience: server.resource,
            accessTokenTTL: options.accessTokenTtlSeconds,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    // RFC 9068 access tokens also name the tenant the client acts for.
    extraTokenClaims: (_ctx, token) => {
      const tenant = tenants.get(token.clientId as string);
      return tenant === undefined ? undefined : { tenant };
    },
    ttl: { ClientCredentials: options.accessTokenTtlSeconds },
    clientBasedCORS: () => false,
    enabledJWA: { idTokenSigningAlgValues: ['ES256'] },
  });
  // Errors are logged without request bodies or tokens: only the error name and its description.
  provider.on('server_error', (_ctx, error) => process.stderr.write(`auth-hub: server_error ${error.name}\n`));

  const tokenLimiter = createRateLimiter({
    redis: options.redis,
    prefix: 'hub-token',
    limits: [
      { name: 'token-per-ip', algorithm: 'sliding-window', limit: options.tokenRateLimitPerMinute, windowMs: 60_000 },
    ],
  });
  const limitTokenRequests = nodeRateLimit({ limiter: tokenLimiter });
  const callback = provider.callback();

  // Limited by method, not by path: oidc-provider's router folds case and ignores a trailing slash
  // ('/TOKEN', '/token/'), so a path list is bypassable, and its route name (ctx.oidc.route) is
  // only known once routing ran, too late to stop client authentication. Every endpoint where a
  // client presents its secret (token, PAR, revocation, and introspection, device or CIBA if ever
  // enabled) is a POST; only the read-only methods (discovery, JWKS, CORS preflight) pass unlimited.
  //
  // The same requests are refused with a `client_secret` form field (invalid_request), before the
  // provider runs: with client_secret_basic only, oidc-provider ignores that field, so a request
  // with Basic and a body copy (even a wrong one) would pass, and secrets would keep travelling in
  // bodies that proxies log, with no sign of it. Their form body is read here, then handed over.
  const handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (UNLIMITED_METHODS.has(req.method ?? '')) return void callback(req, res);
    if (!(await limitTokenRequests(req, res))) return;
    if (!isForm(req.headers['content-type'])) return void callback(req, res);
    let body: Buffer;
    try {
      body = await readBody(req, MAX_FORM_BYTES);
    } catch (error) {
      if (!(error instanceof BodyError)) throw error;
      // Gone: nothing to answer. Cut short: as oidc-provider answers a body it cannot parse.
      if (clientGone(req, res)) return void res.end();
      if (error.code === 'ERR_BODY_NOT_RECEIVED')
        return sendError(res, 400, 'invalid_request', 'the request body was not received in full');
      res.statusCode = 413;
      res.setHeader('content-type', 'application/json; charset=utf-8');
      const description = `the request body must be at most ${MAX_FORM_BYTES} bytes`;
      return endLingering(req, res, JSON.stringify({ error: 'invalid_request', error_description: description }));
    }
    // Decoded as oidc-provider decodes it, so an encoded name (client%5Fsecret) counts too. Never echoed.
    // TextDecoder drops a leading byte-order mark, as oidc-provider's decoder does (Buffer#toString keeps it).
    if (new URLSearchParams(new TextDecoder().decode(body)).has('client_secret'))
      return sendError(
        res,
        400,
        'invalid_request',
        'client_secret must not be sent in the request body: send the client credentials only in the Authorization header (HTTP Basic, client_secret_basic)',
      );
    callback(withBody(req, body), res);
  };
  const server = createServer(
    withSecurityHeaders(apiPreset(), (req, res) => {
      handler(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"server_error"}');
      });
    }),
  );
  return { provider, server, warm: () => tokenLimiter.warm() };
}
