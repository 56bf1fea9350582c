import { BearerError } from './errors.ts';
import type { Introspector } from './introspection.ts';
import { DEFAULT_SCOPE_CLAIMS, type ScopeClaim } from './scopes.ts';
import type { JsonObject } from './strict-json.ts';
import type { CommonVerifierOptions } from './verifier-options.ts';

/** A token's claims and where they came from: local JWT verification or introspection. */
export interface TokenSource {
  readonly claims: JsonObject;
  readonly header: JsonObject;
  readonly issuer: string;
  readonly tenant: string | undefined;
  readonly scopeClaims: readonly ScopeClaim[];
  /** Seconds of clock skew this token's times are judged with: its issuer's, or the introspection's. */
  readonly clockTolerance: number;
  /** Set when the claims are an introspection response (RFC 7662), not a verified JWT. */
  readonly introspected?: true;
}

const EMPTY_HEADER: JsonObject = Object.freeze(Object.create(null));

/**
 * A JWT to verify locally (hybrid mode): three non-empty dot-separated segments, the first a
 * base64url JSON object (its first byte after optional whitespace is `{`). Other dotted formats
 * (PASETO `v4.local.…`, vendor handles) are opaque and go to introspection.
 */
function isCompactJws(token: string): boolean {
  const first = token.indexOf('.');
  const second = first === -1 ? -1 : token.indexOf('.', first + 1);
  if (!(first > 0 && second > first + 1 && token.indexOf('.', second + 1) === -1 && second < token.length - 1)) {
    return false;
  }
  const head = Buffer.from(token.slice(0, Math.min(first, 16)), 'base64url').toString('latin1');
  return /^[\t\n\r ]*\{/.test(head);
}

/** What {@link createTokenSource} routes between. */
interface TokenSourceRouting {
  readonly verifyLocally: (token: string) => Promise<TokenSource>;
  /** Whether any issuer is configured for local verification. */
  readonly hasIssuers: boolean;
  readonly introspector: Introspector | undefined;
  readonly maxTokenBytes: number;
  /** The verifier's options, whose `scopeClaims` (read per call) serve an introspector without its own. */
  readonly options: Pick<CommonVerifierOptions, 'scopeClaims'>;
}

/**
 * Hybrid mode: a compact JWS goes to local verification when issuers are configured; anything
 * else (an opaque handle, or every token when only introspection is configured) is introspected.
 */
export function createTokenSource(routing: TokenSourceRouting): (token: string) => Promise<TokenSource> {
  const { verifyLocally, hasIssuers, introspector, maxTokenBytes } = routing;

  const introspect = async (token: string): Promise<TokenSource> => {
    const active = introspector as Introspector;
    const claims = await active.introspect(token);
    return {
      claims,
      header: EMPTY_HEADER,
      issuer: active.issuer,
      tenant: active.tenant,
      scopeClaims: active.scopeClaims ?? routing.options.scopeClaims ?? DEFAULT_SCOPE_CLAIMS,
      clockTolerance: active.clockTolerance,
      introspected: true,
    };
  };

  return (token) => {
    // A JavaScript caller can pass anything to verify(): refuse it here, before routing reads it as
    // a string or an introspection call hashes it (a TypeError would otherwise become a 500).
    if (typeof token !== 'string') {
      return Promise.reject(new BearerError('ERR_BEARER_TOKEN_MALFORMED', 'The token is not a string.'));
    }
    if (introspector === undefined) return verifyLocally(token);
    if (hasIssuers && isCompactJws(token)) return verifyLocally(token);
    if (token.length > maxTokenBytes) {
      return Promise.reject(
        new BearerError('ERR_BEARER_TOKEN_MALFORMED', `The token is larger than maxTokenBytes (${maxTokenBytes}).`),
      );
    }
    return introspect(token);
  };
}
