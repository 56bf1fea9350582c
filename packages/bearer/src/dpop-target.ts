import type { DpopOptions } from './dpop-options.ts';
import { proofError } from './errors.ts';
import { type BearerRequestLike, requestPath } from './request.ts';

interface PublicOrigin {
  readonly origin: string;
  readonly host: string;
  /** `origin` + `publicPathPrefix` + `/`: what a target under the prefix starts with. */
  readonly prefixedRoot: string;
}

/** Whether a forwarded `host` names `origin`, also with its scheme's default port spelled out. */
function sameHost(origin: PublicOrigin, host: string): boolean {
  if (origin.host === host) return true;
  const defaultPort = origin.origin.startsWith('https:') ? ':443' : ':80';
  return host.endsWith(defaultPort) && origin.host === host.slice(0, -defaultPort.length);
}

/** The last host named by the trusted proxy header, lower case, or undefined. */
function forwardedHost(request: BearerRequestLike, header: 'x-forwarded-host' | 'forwarded'): string | undefined {
  const value = request.header(header);
  if (value === undefined) return undefined;
  const last = value.split(',').at(-1)?.trim();
  if (last === undefined || last === '') return undefined;
  if (header === 'x-forwarded-host') return last.toLowerCase();
  for (const pair of last.split(';')) {
    const eq = pair.indexOf('=');
    if (eq !== -1 && pair.slice(0, eq).trim().toLowerCase() === 'host') {
      return pair
        .slice(eq + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .toLowerCase();
    }
  }
  return undefined;
}

/**
 * RFC 3986 §6.2.2 normalization of a path, which RFC 9449 §4.3 asks for when comparing `htu`:
 * percent-encoded unreserved characters decoded (`%7E` → `~`), other percent-encodings in upper
 * case (`%2f` → `%2F`). Dot segments, also encoded ones, the URL parser has already resolved.
 */
function normalizePercentEncoding(path: string): string {
  return path.replace(/%[0-9A-Fa-f]{2}/g, (encoded) => {
    const char = String.fromCharCode(Number.parseInt(encoded.slice(1), 16));
    return /^[A-Za-z0-9._~-]$/.test(char) ? char : encoded.toUpperCase();
  });
}

/** `scheme://host[:port]/path` of a URL with query and fragment dropped, or undefined. */
export function normalizedTarget(value: string): string | undefined {
  try {
    const url = new URL(value);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
    if (url.username !== '' || url.password !== '') return undefined;
    return `${url.origin}${normalizePercentEncoding(url.pathname)}`;
  } catch {
    return undefined;
  }
}

/**
 * The `htu` a proof for `request` must carry (RFC 9449 §4.3): the configured public origin (the
 * one the trusted proxy header names, with several) and prefix, then the request path, normalized.
 */
export function createExpectedTarget(options: DpopOptions): (request: BearerRequestLike) => string {
  const pathPrefix = options.publicPathPrefix ?? '';
  const origins: PublicOrigin[] = options.publicOrigins.map((origin) => {
    const url = new URL(origin);
    return { origin: url.origin, host: url.host.toLowerCase(), prefixedRoot: `${url.origin}${pathPrefix}/` };
  });

  return (request) => {
    let origin: PublicOrigin | undefined = origins[0];
    if (options.trustedProxyHeader !== undefined) {
      const host = forwardedHost(request, options.trustedProxyHeader);
      origin = host === undefined ? undefined : origins.find((candidate) => sameHost(candidate, host));
      if (origin === undefined) {
        throw proofError(
          `The request's ${options.trustedProxyHeader} header does not name one of dpop.publicOrigins; the proof's "htu" cannot be checked.`,
        );
      }
    }
    const path = requestPath(request.url);
    if (origin === undefined || path === undefined) {
      throw proofError('The request target is unknown; the proof\'s "htu" cannot be checked.');
    }
    const target = normalizedTarget(`${origin.origin}${pathPrefix}${path}`);
    if (target === undefined) throw proofError('The request target is not a valid URL.');
    // Dot segments in the request path (`/%2e%2e/admin`) must not lead out of the prefix, to a
    // sibling service behind the same proxy.
    if (pathPrefix !== '' && !target.startsWith(origin.prefixedRoot)) {
      throw proofError('The request path leaves dpop.publicPathPrefix; the proof\'s "htu" cannot be checked.');
    }
    return target;
  };
}
