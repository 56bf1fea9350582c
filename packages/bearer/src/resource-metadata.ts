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
}

/** RFC 9728 protected resource metadata document. */
export interface ProtectedResourceMetadata {
  readonly resource: string;
  readonly authorization_servers: readonly string[];
  readonly bearer_methods_supported: readonly ['header'];
  readonly scopes_supported?: readonly string[];
  readonly resource_name?: string;
}

/**
 * Builds the RFC 9728 document to serve at `/.well-known/oauth-protected-resource`, and to point
 * at with the verifier's `resourceMetadata` option, so clients discover which authorization
 * server and scopes to use. Validated once; serve the returned object as JSON.
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
  const isHttpsUrl = (value: unknown): boolean => {
    try {
      const url = new URL(String(value));
      return url.protocol === 'https:' && url.hash === '';
    } catch {
      return false;
    }
  };
  if (!isHttpsUrl(options.resource)) problems.push('resource must be an https URL without a fragment');
  if (!Array.isArray(options.authorizationServers) || options.authorizationServers.length === 0) {
    problems.push('authorizationServers must list at least one issuer');
  } else if (!options.authorizationServers.every(isHttpsUrl)) {
    problems.push('authorizationServers must be https URLs');
  }
  if (options.scopesSupported !== undefined && !options.scopesSupported.every(isScopeToken)) {
    problems.push('scopesSupported must be RFC 6749 scope tokens');
  }
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid protected resource metadata: ${problems.join('; ')}.`);
  }
  return Object.freeze({
    resource: options.resource,
    authorization_servers: [...options.authorizationServers],
    bearer_methods_supported: ['header'] as const,
    ...(options.scopesSupported === undefined ? {} : { scopes_supported: [...options.scopesSupported] }),
    ...(options.resourceName === undefined ? {} : { resource_name: options.resourceName }),
  });
}
