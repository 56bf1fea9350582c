import type { IncomingMessage } from 'node:http';
import { BearerError } from './errors.ts';

/**
 * The framework-neutral view of a request the verifier needs. Adapters build it; build one yourself
 * for another framework with {@link fromWebRequest} or {@link fromNodeRequest} as models.
 */
export interface BearerRequestLike {
  /** HTTP method, upper case. */
  readonly method: string;
  /** Every `Authorization` header line, unjoined (so duplicates can be refused). */
  readonly authorization: readonly string[];
  /** The request target (path and query), for opt-in query tokens. */
  readonly url?: string | undefined;
  /** Any header by lower-case name, for verification steps (DPoP, mTLS) added later. */
  header(name: string): string | undefined;
  /** `access_token` values of an already-parsed urlencoded body, for opt-in body tokens. */
  readonly bodyAccessTokens?: readonly string[] | undefined;
  /**
   * The DER bytes of the client certificate presented on this request's TLS connection (mTLS,
   * RFC 8705), or undefined when there is none. Never read from a header here: a trusted proxy's
   * header is configured on the verifier (`mtls.trustedProxyHeader`).
   */
  clientCertificate?(): Uint8Array | undefined;
}

/** The authentication scheme a token arrived with. Query and body tokens count as `Bearer`. */
export type TokenScheme = 'Bearer' | 'DPoP';

/** A token and the scheme it came with. */
export interface ExtractedToken {
  readonly token: string;
  readonly scheme: TokenScheme;
}

/** Which `Authorization` schemes the verifier accepts. */
export interface AcceptedSchemes {
  readonly bearer: boolean;
  readonly dpop: boolean;
}

/** Where tokens may come from, beyond the `Authorization` header. */
export interface TokenSourceOptions {
  /** Accept `?access_token=` (RFC 6750 §2.3). Default false: URLs end up in logs. */
  readonly allowQueryToken?: boolean | undefined;
  /** Accept `access_token` from a urlencoded body (RFC 6750 §2.2). Default false. */
  readonly allowBodyToken?: boolean | undefined;
}

/** RFC 9110 token: the auth-scheme. */
const AUTH_SCHEME_TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** RFC 7235 token68, which is RFC 6750's b64token: also what verify() may send to introspection. */
export const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;

const invalidRequest = (message: string): BearerError => new BearerError('ERR_BEARER_INVALID_REQUEST', message);

/** Strips RFC 9110 optional whitespace (SP, HTAB) only; other characters stay and fail later checks. */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value.charCodeAt(start) === 0x20 || value.charCodeAt(start) === 0x09)) start++;
  while (end > start && (value.charCodeAt(end - 1) === 0x20 || value.charCodeAt(end - 1) === 0x09)) end--;
  return start === 0 && end === value.length ? value : value.slice(start, end);
}

/**
 * The scheme and credentials after an accepted scheme (`Bearer` or `DPoP`, any case, 1*SP), with
 * `''` credentials when there are none, or `undefined` for another scheme. A malformed header is a
 * 400. Hand-written rather than one regex so a long token is scanned once.
 */
function schemeCredentials(
  authorization: string,
  accepted: AcceptedSchemes,
): { scheme: TokenScheme; credentials: string } | undefined {
  const space = authorization.indexOf(' ');
  const name = space === -1 ? authorization : authorization.slice(0, space);
  if (!AUTH_SCHEME_TOKEN.test(name)) throw invalidRequest('The Authorization header is malformed.');
  const lower = name.toLowerCase();
  let scheme: TokenScheme;
  if (accepted.bearer && lower === 'bearer') scheme = 'Bearer';
  else if (accepted.dpop && lower === 'dpop') scheme = 'DPoP';
  else return undefined;
  if (space === -1) return { scheme, credentials: '' };
  let start = space;
  while (authorization.charCodeAt(start) === 0x20) start++;
  return { scheme, credentials: authorization.slice(start) };
}

const BEARER_ONLY: AcceptedSchemes = { bearer: true, dpop: false };

/**
 * Extracts the bearer token. No credentials (or another scheme) → `ERR_BEARER_TOKEN_MISSING`;
 * duplicate headers, an empty or non-token68 credential, or a token in more than one place →
 * `ERR_BEARER_INVALID_REQUEST` (RFC 6750 §2, §3.1).
 *
 * @example
 * ```ts
 * import { extractBearerToken } from '@rampart/bearer';
 * const token = extractBearerToken({ method: 'GET', authorization: ['Bearer abc'], header: () => undefined });
 * ```
 */
export function extractBearerToken(request: BearerRequestLike, sources: TokenSourceOptions = {}): string {
  return extractAccessToken(request, sources, BEARER_ONLY).token;
}

/**
 * Like {@link extractBearerToken}, also accepting the `DPoP` scheme (RFC 9449 §7.1) when enabled,
 * and reporting which scheme carried the token. A scheme that is not accepted counts as no token.
 *
 * @example
 * ```ts
 * import { extractAccessToken } from '@rampart/bearer';
 * const { token, scheme } = extractAccessToken(view, {}, { bearer: true, dpop: true });
 * ```
 */
export function extractAccessToken(
  request: BearerRequestLike,
  sources: TokenSourceOptions,
  accepted: AcceptedSchemes,
): ExtractedToken {
  return extractAccessTokenNotingScheme(request, sources, accepted, {});
}

/**
 * {@link extractAccessToken}, also writing the `Authorization` scheme to `noted.scheme` as soon as
 * it is known, so a credential refused afterwards (empty, not token68) is still answered under the
 * scheme the client used (RFC 9449 §7.1). Internal: the verifier's view.
 */
export function extractAccessTokenNotingScheme(
  request: BearerRequestLike,
  sources: TokenSourceOptions,
  accepted: AcceptedSchemes,
  noted: { scheme?: TokenScheme },
): ExtractedToken {
  const found: string[] = [];
  let headerToken: string | undefined;
  let scheme: TokenScheme = 'Bearer';
  if (request.authorization.length > 1) {
    throw invalidRequest('The request has more than one Authorization header; send exactly one.');
  }
  const line = request.authorization[0];
  const authorization = line === undefined ? undefined : trimOws(line);
  if (authorization !== undefined && authorization !== '') {
    const parsed = schemeCredentials(authorization, accepted);
    if (parsed !== undefined) {
      const credentials = parsed.credentials;
      scheme = parsed.scheme;
      noted.scheme = scheme;
      if (credentials === '') throw invalidRequest(`The Authorization header has the ${scheme} scheme but no token.`);
      if (!TOKEN68.test(credentials)) {
        throw invalidRequest('The Authorization header credentials are not a single token68 value.');
      }
      found.push(credentials);
      headerToken = credentials;
    }
  }
  if (sources.allowQueryToken === true && request.url !== undefined) {
    const query = request.url.indexOf('?');
    if (query !== -1) {
      const values = new URLSearchParams(request.url.slice(query + 1)).getAll('access_token');
      if (values.length > 1) throw invalidRequest('The query has more than one access_token parameter.');
      if (values[0] !== undefined) found.push(values[0]);
    }
  }
  if (sources.allowBodyToken === true && request.bodyAccessTokens !== undefined) {
    if (request.method === 'GET') {
      if (request.bodyAccessTokens.length > 0) throw invalidRequest('GET requests cannot carry a body token.');
    } else {
      if (request.bodyAccessTokens.length > 1) throw invalidRequest('The body has more than one access_token.');
      if (request.bodyAccessTokens[0] !== undefined) found.push(request.bodyAccessTokens[0]);
    }
  }
  if (found.length > 1) {
    throw invalidRequest('The request carries a token in more than one place; use only the Authorization header.');
  }
  const token = found[0];
  if (token === undefined) {
    throw new BearerError('ERR_BEARER_TOKEN_MISSING', 'The request has no bearer token in the Authorization header.');
  }
  // Header tokens were checked above; query and body tokens are checked here.
  if (token !== headerToken && !TOKEN68.test(token)) throw invalidRequest('The access token is not a token68 value.');
  return { token, scheme };
}

/**
 * The request path (no query), from a path-only target or an absolute URL. Only the path is
 * taken from the request: the origin comes from configuration, never from `Host`.
 */
export function requestPath(url: string | undefined): string | undefined {
  if (url === undefined || url === '') return undefined;
  if (url.startsWith('/')) {
    const end = url.search(/[?#]/);
    return end === -1 ? url : url.slice(0, end);
  }
  try {
    return new URL(url).pathname;
  } catch {
    return undefined;
  }
}

/**
 * Neutral view of a Web `Request` (Hono, Next.js route handlers, Deno, Bun, workers). Duplicate
 * `Authorization` headers arrive joined by a comma, which the token68 check refuses.
 *
 * @example
 * ```ts
 * const result = await verifier.authenticate(fromWebRequest(request));
 * ```
 */
export function fromWebRequest(
  request: Request,
  bodyAccessTokens?: readonly string[],
  clientCertificate?: () => Uint8Array | undefined,
): BearerRequestLike {
  const authorization = request.headers.get('authorization');
  return {
    method: request.method.toUpperCase(),
    authorization: authorization === null ? [] : [authorization],
    url: request.url,
    header: (name) => request.headers.get(name) ?? undefined,
    bodyAccessTokens,
    clientCertificate: clientCertificate ?? (() => undefined),
  };
}

/** The DER client certificate of a node socket, when it is a TLS socket that received one. */
export function socketCertificate(socket: unknown): Uint8Array | undefined {
  const tls = socket as { getPeerCertificate?: (detailed?: boolean) => { raw?: Buffer } | null } | null;
  if (tls === null || typeof tls?.getPeerCertificate !== 'function') return undefined;
  const raw = tls.getPeerCertificate(false)?.raw;
  return raw instanceof Uint8Array && raw.length > 0 ? raw : undefined;
}

/**
 * Neutral view of a `node:http` request. Node keeps only the first of several `Authorization`
 * headers in `req.headers`; this reads the raw header lines so duplicates are seen and refused.
 *
 * @example
 * ```ts
 * const result = await verifier.authenticate(fromNodeRequest(req));
 * ```
 */
export function fromNodeRequest(request: IncomingMessage, bodyAccessTokens?: readonly string[]): BearerRequestLike {
  // Express rewrites req.url under a mounted router; originalUrl is what the client sent.
  const originalUrl = (request as { originalUrl?: unknown }).originalUrl;
  return {
    method: (request.method ?? 'GET').toUpperCase(),
    authorization: authorizationLines(request),
    url: typeof originalUrl === 'string' ? originalUrl : request.url,
    clientCertificate: () => socketCertificate(request.socket),
    header: (name) => {
      const value = request.headers[name.toLowerCase()];
      return Array.isArray(value) ? value.join(', ') : value;
    },
    bodyAccessTokens,
  };
}

/** Every `Authorization` line as sent. Scanning `rawHeaders` is cheaper than building `headersDistinct`. */
function authorizationLines(request: IncomingMessage): string[] {
  const raw = request.rawHeaders;
  if (Array.isArray(raw)) {
    const lines: string[] = [];
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i] as string;
      if (name.length === 13 && name.toLowerCase() === 'authorization') lines.push(raw[i + 1] as string);
    }
    return lines;
  }
  const distinct = request.headersDistinct?.authorization;
  const single = request.headers.authorization;
  return distinct ?? (single === undefined ? [] : [single]);
}

/**
 * `access_token` values from a parsed body (Express/Fastify `req.body`), only for urlencoded bodies.
 *
 * @example
 * ```ts
 * import { bodyTokensOf, fromNodeRequest } from '@rampart/bearer';
 * const view = fromNodeRequest(req, bodyTokensOf(req.body, req.headers['content-type']));
 * ```
 */
export function bodyTokensOf(body: unknown, contentType: string | undefined): string[] | undefined {
  if (contentType === undefined || !/^application\/x-www-form-urlencoded\b/i.test(contentType)) return undefined;
  if (typeof body !== 'object' || body === null || !Object.hasOwn(body, 'access_token')) return [];
  const value = (body as Record<string, unknown>).access_token;
  if (typeof value === 'string') return [value];
  // Non-string values become '' so the token68 check answers 400 instead of coercing objects.
  if (Array.isArray(value)) return value.map((entry) => (typeof entry === 'string' ? entry : ''));
  return [''];
}
