import { createHash } from 'node:crypto';
import { errors as joseErrors } from 'jose';
import { deepFreeze, parseCompactJws } from './compact-jws.ts';
import { BearerError, invalidToken } from './errors.ts';
import type {
  IntrospectionOptions,
  IntrospectionTimePolicy,
  JwtIntrospectionResponseOptions,
} from './introspection-options.ts';
import {
  createIntrospectionTransport,
  type IntrospectionReply,
  MAX_RESPONSE_BYTES,
  monotonic,
  type Refusal,
  unavailable,
} from './introspection-transport.ts';
import { isKeyForAlgorithm, verifyJwsSignature } from './jws-signature.ts';
import { TOKEN68 } from './request.ts';
import type { ScopeClaim } from './scopes.ts';
import { isJsonObject, type JsonObject, type JsonValue, parseStrictJson } from './strict-json.ts';

const JWT_MEDIA_TYPE = 'application/token-introspection+jwt';

/**
 * `token_type` values of access tokens, lower-cased: RFC 6750 and RFC 9449, and Duende
 * IdentityServer's `access_token` (a bearer token, or DPoP-bound when it has `cnf.jkt`).
 */
const ACCESS_TOKEN_TYPES: ReadonlySet<string> = new Set(['bearer', 'dpop', 'access_token']);
/** Keycloak's `typ` values of tokens that are not access tokens, lower-cased. */
const OTHER_TOKEN_TYP: ReadonlySet<string> = new Set(['refresh', 'offline', 'id', 'logout']);

/**
 * Refuses an active response for a token that is not an access token: RFC 7662 servers answer for
 * refresh tokens too (oidc-provider without `token_type`, Hydra with `token_use: refresh_token`).
 */
function checkAccessToken(claims: JsonObject, requireTokenType: boolean): void {
  const type = claims.token_type;
  if (type === undefined) {
    if (requireTokenType) {
      throw invalidToken(
        'The introspection response has no "token_type", as for a refresh token; only access tokens are accepted. ' +
          'If the authorization server never sends token_type, set introspection.requireTokenType: false.',
      );
    }
  } else if (typeof type !== 'string' || !ACCESS_TOKEN_TYPES.has(type.toLowerCase())) {
    throw invalidToken(
      'The introspected token is not an access token ("token_type" is not Bearer, DPoP or access_token).',
    );
  } else if (isDpopTokenType(claims) && !hasDpopConfirmation(claims.cnf)) {
    // RFC 9449 §6.2: the server names the key of a DPoP-bound token in cnf.jkt. Without it the
    // response contradicts itself, and accepting it as a plain bearer token would drop the binding.
    throw invalidToken('The introspection response says "token_type" DPoP but has no "cnf.jkt".');
  }
  const use = claims.token_use;
  if (use !== undefined && use !== 'access_token') {
    throw invalidToken('The introspected token is not an access token ("token_use" is not access_token).');
  }
  const typ = claims.typ;
  if (typeof typ === 'string' && OTHER_TOKEN_TYP.has(typ.toLowerCase())) {
    throw invalidToken('The introspected token is not an access token ("typ" names another kind of token).');
  }
}

/** Whether a `cnf` member names a DPoP key thumbprint (`jkt`). */
function hasDpopConfirmation(cnf: JsonValue | undefined): boolean {
  if (!isJsonObject(cnf)) return false;
  const jkt = cnf.jkt;
  return typeof jkt === 'string' && jkt !== '';
}

/**
 * Whether an introspection response says the token is DPoP-bound: `token_type` DPoP (any case), or
 * Duende's `access_token` with a `cnf.jkt`.
 */
export function isDpopTokenType(claims: JsonObject): boolean {
  const type = claims.token_type;
  if (typeof type !== 'string') return false;
  const lower = type.toLowerCase();
  return lower === 'dpop' || (lower === 'access_token' && hasDpopConfirmation(claims.cnf));
}

/** An active introspection result: the response members, as claims. */
export interface IntrospectedToken {
  readonly claims: JsonObject;
}

/**
 * What the server said about a token: its claims when active, `inactive`, or a {@link Refusal}
 * (HTTP 400 `invalid_request` or `unsupported_token_type` from an endpoint known to answer
 * introspections: the server refused the token itself, e.g. oidc-provider for an oversized or a
 * JWS- or JWE-shaped one).
 */
type Answer = JsonObject | 'inactive' | Refusal;

interface CacheEntry {
  readonly answer: Answer;
  /** Monotonic milliseconds (`performance.now()`) until which the answer is used. */
  readonly until: number;
}

/** The introspection client: cached, single-flight per token. */
export interface Introspector {
  readonly issuer: string;
  readonly tenant: string | undefined;
  readonly scopeClaims: readonly ScopeClaim[] | undefined;
  /** Seconds of clock skew the introspected times are judged with (`exp`/`nbf`/`iat`, and a step-up route's `auth_time`). */
  readonly clockTolerance: number;
  /** Active claims, or throws `ERR_BEARER_TOKEN_INVALID` (inactive) / `ERR_BEARER_INTROSPECTION_UNAVAILABLE`. */
  introspect(token: string): Promise<JsonObject>;
  /** Calls made to the endpoint (for tests and metrics). */
  readonly calls: number;
  /** Whether a token is remembered to confirm an outage with (for tests: it is a raw token in memory). */
  readonly holdsWitness: boolean;
}

/** Builds the introspection client of a verifier. */
export function createIntrospector(
  options: IntrospectionOptions,
  clock: () => number,
  policy: IntrospectionTimePolicy = {},
): Introspector {
  const jwt = options.jwtResponse;
  const transport = createIntrospectionTransport(
    options,
    clock,
    jwt === undefined ? 'application/json' : JWT_MEDIA_TYPE,
    // Every answer, a confirmation's included, is read alike (and within the call's timeoutMs).
    (reply) => read(reply),
  );
  const maxTtlMs = (options.cacheMaxTtlSeconds ?? 60) * 1000;
  const negativeTtlMs = (options.negativeCacheTtlSeconds ?? 5) * 1000;
  const maxEntries = options.cacheMaxEntries ?? 10_000;
  const tolerance = options.clockToleranceSeconds ?? policy.clockToleranceSeconds ?? 30;
  const maxTokenAge = policy.maxTokenAgeSeconds;
  const audiences = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  const requireAudience = options.requireAudience ?? true;
  const requireTokenType = options.requireTokenType ?? true;
  const jwtAlgorithms = new Set<string>(jwt?.algorithms ?? []);
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<Answer>>();

  const remember = (key: string, entry: CacheEntry): void => {
    cache.delete(key);
    if (cache.size >= maxEntries) {
      const oldest = cache.keys().next().value;
      if (oldest !== undefined) cache.delete(oldest);
    }
    cache.set(key, entry);
  };

  /** RFC 9701: a signed JWT whose `token_introspection` member is the response. */
  const verifySignedResponse = async (text: string): Promise<JsonObject> => {
    const keys = (jwt as JwtIntrospectionResponseOptions).keys;
    let parsed: ReturnType<typeof parseCompactJws>;
    try {
      parsed = parseCompactJws(text.trim(), jwtAlgorithms, { maxTokenBytes: MAX_RESPONSE_BYTES });
    } catch (cause) {
      throw unavailable('The signed introspection response is malformed or uses an algorithm not allowed.', cause);
    }
    if (parsed.typ?.toLowerCase() !== 'token-introspection+jwt') {
      throw unavailable('The signed introspection response "typ" is not "token-introspection+jwt".');
    }
    const dot = parsed.signingInput.indexOf('.');
    let key: unknown;
    try {
      key = await keys.getKey(parsed.kid === undefined ? { alg: parsed.alg } : { alg: parsed.alg, kid: parsed.kid }, {
        protected: parsed.signingInput.slice(0, dot),
        payload: parsed.signingInput.slice(dot + 1),
        signature: parsed.signature,
      });
    } catch (cause) {
      if (cause instanceof joseErrors.JWKSMultipleMatchingKeys) {
        throw unavailable('Several keys match the signed introspection response; it needs a "kid".', cause);
      }
      throw unavailable("The authorization server's keys for signed introspection responses are unavailable.", cause);
    }
    const ok =
      isKeyForAlgorithm(key, parsed.alg) &&
      (await verifyJwsSignature(
        parsed.alg,
        key,
        Buffer.from(parsed.signingInput, 'latin1') as Uint8Array<ArrayBuffer>,
        Buffer.from(parsed.signature, 'base64url') as Uint8Array<ArrayBuffer>,
      ));
    if (!ok) throw unavailable('The signed introspection response signature is invalid.');
    const payload = parsed.payload;
    // RFC 9701 §5: `aud` identifies this resource server, by its client id or its resource URI.
    const named = typeof payload.aud === 'string' ? [payload.aud] : Array.isArray(payload.aud) ? payload.aud : [];
    const audOk = named.some(
      (entry) => typeof entry === 'string' && (entry === options.clientId || audiences.includes(entry)),
    );
    if (payload.iss !== options.issuer || !audOk) {
      throw unavailable(
        'The signed introspection response is not from introspection.issuer for introspection.clientId.',
      );
    }
    const body = payload.token_introspection;
    if (!isJsonObject(body))
      throw unavailable('The signed introspection response has no "token_introspection" object.');
    return body;
  };

  /** The response object of an HTTP 200 answer: strict JSON, or a verified RFC 9701 JWT. */
  const read = async ({ response, text }: IntrospectionReply): Promise<JsonObject> => {
    if (jwt !== undefined) {
      const type = response.headers.get('content-type') ?? '';
      if (!type.toLowerCase().startsWith(JWT_MEDIA_TYPE)) {
        throw unavailable('The introspection endpoint did not answer with a signed (RFC 9701) response.');
      }
      return verifySignedResponse(text);
    }
    let value: ReturnType<typeof parseStrictJson>;
    try {
      value = parseStrictJson(text);
    } catch (cause) {
      throw unavailable('The introspection response is not strict JSON.', cause);
    }
    if (!isJsonObject(value)) throw unavailable('The introspection response is not a JSON object.');
    return value;
  };

  const call = async (token: string): Promise<Answer> => {
    const body = await transport.post(token);
    if (typeof body === 'string') return body;
    // A real introspection answer, active or not: a refusal from now on is about the token, and the
    // token can confirm an outage with (an inactive answer shows the server answers it too).
    transport.answered(token, body.active === true);
    if (body.active !== true) return 'inactive';
    // Cached and shared by every request with this token (and by concurrent ones awaiting the
    // same call): frozen, like the claims of a locally verified token, so no handler can change
    // what the next request is authorized by.
    return deepFreeze(body);
  };

  const lookup = (token: string): Promise<Answer> => {
    const key = createHash('sha256').update(token).digest('base64url');
    const cached = cache.get(key);
    if (cached !== undefined && cached.until > monotonic()) {
      // Re-insert on a hit: a Map iterates in insertion order, so eviction is least recently used.
      remember(key, cached);
      return Promise.resolve(cached.answer);
    }
    const pending = inFlight.get(key);
    if (pending !== undefined) return pending;
    const next = call(token)
      .then((answer) => {
        const at = monotonic();
        if (typeof answer === 'string') {
          if (negativeTtlMs > 0) remember(key, { answer, until: at + negativeTtlMs });
        } else {
          // Never past exp: how long until then is read on the wall clock, once, and counted down on
          // the monotonic one. The wall-clock exp check of each request still applies.
          const untilExp = typeof answer.exp === 'number' ? answer.exp * 1000 - clock() : Number.POSITIVE_INFINITY;
          const ttl = Math.min(maxTtlMs, untilExp);
          if (ttl > 0) remember(key, { answer, until: at + ttl });
        }
        return answer;
      })
      .finally(() => inFlight.delete(key));
    inFlight.set(key, next);
    return next;
  };

  return {
    issuer: options.issuer,
    tenant: options.tenant,
    scopeClaims: options.scopeClaims,
    clockTolerance: tolerance,
    get calls() {
      return transport.calls;
    },
    get holdsWitness() {
      return transport.holdsWitness;
    },
    async introspect(token) {
      // RFC 6750 §2.1 b64token: anything else is refused before a call. A lone surrogate cannot even
      // be form-encoded, and other garbage is no question for the server.
      if (!TOKEN68.test(token)) {
        throw new BearerError(
          'ERR_BEARER_TOKEN_MALFORMED',
          'The token is not an RFC 6750 b64token (letters, digits, "-._~+/", then optional "=" padding).',
        );
      }
      const claims = await lookup(token);
      if (claims === 'inactive') throw invalidToken('The authorization server reports the token as not active.');
      if (claims === 'invalid_request') {
        throw invalidToken('The authorization server refused the token as malformed (HTTP 400 invalid_request).');
      }
      if (claims === 'unsupported_token_type') {
        throw invalidToken(
          'The authorization server refused the token as of a type it does not introspect (HTTP 400 ' +
            'unsupported_token_type), as oidc-provider does for any JWS- or JWE-shaped token.',
        );
      }
      const now = clock() / 1000;
      const { exp, nbf, iss, aud } = claims;
      if (exp !== undefined && (typeof exp !== 'number' || exp <= now - tolerance)) {
        throw new BearerError('ERR_BEARER_TOKEN_EXPIRED', 'The introspected token is past its "exp".');
      }
      if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + tolerance)) {
        throw invalidToken('The introspected token is not valid yet ("nbf").');
      }
      // iat matters only to maxTokenAgeSeconds: the server vouches for the token being active, and
      // its clock running ahead must not refuse fresh tokens when no age limit needs iat.
      if (maxTokenAge !== undefined) {
        const iat = claims.iat;
        if (typeof iat !== 'number') {
          throw invalidToken('The introspected token has no "iat", which maxTokenAgeSeconds requires.');
        }
        // As for JWTs: a future iat would make the token look young, so maxTokenAgeSeconds never ends it.
        if (iat > now + tolerance) throw invalidToken('The introspected token\'s "iat" is in the future.');
        if (now - iat - tolerance > maxTokenAge) {
          throw new BearerError('ERR_BEARER_TOKEN_EXPIRED', 'The introspected token is older than maxTokenAgeSeconds.');
        }
      }
      if (iss !== undefined && iss !== options.issuer) {
        throw invalidToken('The introspected token\'s "iss" is not introspection.issuer.');
      }
      const named = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
      if (
        aud === undefined
          ? requireAudience
          : !named.some((entry) => typeof entry === 'string' && audiences.includes(entry))
      ) {
        throw invalidToken('The introspected token is not for this audience ("aud").');
      }
      checkAccessToken(claims, requireTokenType);
      return claims;
    },
  };
}
