import { ASYMMETRIC_ALGORITHMS } from './compact-jws.ts';
import { BearerError } from './errors.ts';
import { isScopeToken } from './scopes.ts';

/** Input of {@link protectedResourceMetadata}. */
export interface ProtectedResourceMetadataOptions {
  /** This API's resource identifier (the `aud` its tokens carry); an https URL. */
  readonly resource: string;
  /** Issuers whose tokens this API accepts. */
  readonly authorizationServers: readonly string[];
  /** Scopes a client may request for this API. */
  readonly scopesSupported?: readonly string[];
  /** Human-readable name. */
  readonly resourceName?: string;
  /** DPoP proof algorithms accepted (the verifier's `dpop.algorithms`). */
  readonly dpopSigningAlgValuesSupported?: readonly string[];
  /** True when only DPoP-bound tokens are accepted (`dpop.required`). */
  readonly dpopBoundAccessTokensRequired?: boolean;
  /** True when the API accepts mTLS certificate-bound tokens (RFC 8705). */
  readonly tlsClientCertificateBoundAccessTokens?: boolean;
  /** URL of human-readable documentation. */
  readonly resourceDocumentation?: string;
  /** True when the verifier has `allowBodyToken`: `body` is listed in `bearer_methods_supported`. */
  readonly allowBodyToken?: boolean;
  /** True when the verifier has `allowQueryToken`: `query` is listed in `bearer_methods_supported`. */
  readonly allowQueryToken?: boolean;
}

/** RFC 9728 `bearer_methods_supported` values (RFC 6750 §2.1-2.3). */
export type BearerMethod = 'header' | 'body' | 'query';

/** RFC 9728 protected resource metadata document. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly bearer_methods_supported: readonly BearerMethod[];
  readonly scopes_supported?: readonly string[];
  readonly resource_name?: string;
  readonly dpop_signing_alg_values_supported?: readonly string[];
  readonly dpop_bound_access_tokens_required?: boolean;
  readonly tls_client_certificate_bound_access_tokens?: boolean;
  readonly resource_documentation?: string;
}

/** `https://` + authority + optional path and query, in URI characters only (RFC 3986), no `#`. */
const HTTPS_URL = /^https:\/\/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?[\]]+$/i;

/**
 * Whether `value` is an absolute https URL with a host and without a fragment (even an empty one)
 * or userinfo, as RFC 9728 §1.2 requires of a resource identifier. It is checked as written, not
 * as parsed: the document publishes the string verbatim, and WHATWG parsing would quietly accept
 * surrounding whitespace, backslashes, `https:host` and an empty `#`.
 */
function isHttpsUrl(value: unknown): boolean {
  if (typeof value !== 'string' || !HTTPS_URL.test(value)) return false;
  const authority = value.slice('https://'.length).split(/[/?]/, 1)[0] ?? '';
  if (authority === '' || authority.includes('@')) return false;
  try {
    return new URL(value).hostname !== '';
  } catch {
    return false;
  }
}

/**
 * Builds the RFC 9728 document to serve at `/.well-known/oauth-protected-resource`, and to point
 * at with the verifier's `resourceMetadata` option, so clients discover which authorization
 * server and scopes to use. Validated once; serve the returned object as JSON. Pass the verifier's
 * `allowBodyToken` / `allowQueryToken` so `bearer_methods_supported` lists what it accepts.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadata } from '@rampart/bearer';
 * const metadata = protectedResourceMetadata({
 *   resource: 'https://orders.example.com',
 *   authorizationServers: ['https://id.example.com'],
 *   scopesSupported: ['orders:read', 'orders:write'],
 * });
 * app.get('/.well-known/oauth-protected-resource', (_req, res) => res.json(metadata));
 * ```
 */
export function protectedResourceMetadata(options: ProtectedResourceMetadataOptions): ProtectedResourceMetadata {
  const problems: string[] = [];
  if (!isHttpsUrl(options.resource)) {
    problems.push(
      'resource must be an absolute https URL without a fragment or credentials, written as clients use it ' +
        '(e.g. "https://api.example.com/orders")',
    );
  }
  if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0) {
    problems.push('authorizationServers must list at least one issuer');
  } else if (!options.authorizationServers.every(isHttpsUrl)) {
    problems.push('authorizationServers must be https URLs');
  }
  if (options.scopesSupported !== undefined && !options.scopesSupported.every(isScopeToken)) {
    problems.push('scopesSupported must be RFC 6749 scope tokens');
  }
  if (
    options.dpopSigningAlgValuesSupported !== undefined &&
    !(
      Array.isArray(options.dpopSigningAlgValuesSupported) &&
      options.dpopSigningAlgValuesSupported.every((alg) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg))
    )
  ) {
    problems.push('dpopSigningAlgValuesSupported must list asymmetric JWS algorithms');
  }
  if (options.resourceDocumentation !== undefined && !isHttpsUrl(options.resourceDocumentation)) {
    problems.push('resourceDocumentation must be an https URL');
  }
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid protected resource metadata: ${problems.join('; ')}.`);
  }
  const methods: BearerMethod[] = ['header'];
  if (options.allowBodyToken === true) methods.push('body');
  if (options.allowQueryToken === true) methods.push('query');
  return Object.freeze({
    resource: options.resource,
    authorization_servers: [...options.authorizationServers],
    bearer_methods_supported: methods,
    ...(options.scopesSupported === undefined ? {} : { scopes_supported: [...options.scopesSupported] }),
    ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
    ...(options.dpopSigningAlgValuesSupported === undefined
      ? {}
      : { dpop_signing_alg_values_supported: [...options.dpopSigningAlgValuesSupported] }),
    ...(options.dpopBoundAccessTokensRequired === undefined
      ? {}
      : { dpop_bound_access_tokens_required: options.dpopBoundAccessTokensRequired === true }),
    ...(options.tlsClientCertificateBoundAccessTokens === undefined
      ? {}
      : { tls_client_certificate_bound_access_tokens: options.tlsClientCertificateBoundAccessTokens === true }),
    ...(options.resourceDocumentation === undefined ? {} : { resource_documentation: options.resourceDocumentation }),
  });
}

/**
 * Where the document is served (RFC 9728 §3.1): `/.well-known/oauth-protected-resource` inserted
 * before the resource's path, e.g. `https://api.example.com/orders` →
 * `/.well-known/oauth-protected-resource/orders`. Use the full URL as the verifier's
 * `resourceMetadata` so challenges point at it.
 *
 * @example
 * ```ts
 * import { protectedResourceMetadataPath } from '@rampart/bearer';
 * protectedResourceMetadataPath('https://api.example.com/orders'); // '/.well-known/oauth-protected-resource/orders'
 * ```
 */
export function protectedResourceMetadataPath(resource: string): string {
  const { pathname } = new URL(resource);
  return `/.well-known/oauth-protected-resource${pathname === '/' ? '' : pathname}`;
}

/** The HTTP answer serving a metadata document (`serveResourceMetadata` in each adapter). */
export interface MetadataResponse {
  readonly status: 200;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/**
 * The 200 response carrying the document: JSON, cacheable for an hour (it changes with deploys).
 *
 * @example
 * ```ts
 * const { status, headers, body } = metadataResponse(metadata);
 * ```
 */
export function metadataResponse(metadata: ProtectedResourceMetadata): MetadataResponse {
  return {
    status: 200,
    headers: { 'content-type': 'application/json', 'cache-control': 'public, max-age=3600' },
    body: JSON.stringify(metadata),
  };
}
