import { readBoundedText } from './bounded-body.ts';
import {
  authenticateClient,
  type ClientAuthentication,
  clientAuthenticationProblems,
  formEncode,
} from './client-authentication.ts';
import { type DpopKeyPair, dpopProofSigner } from './dpop-proof.ts';
import { BearerError } from './errors.ts';

export type { ClientAuthentication } from './client-authentication.ts';

/** Options of {@link createTokenProvider}. Durations in milliseconds unless named seconds. */
export interface TokenProviderOptions {
  /** The issuer's token endpoint (https; loopback http allowed for tests). */
  readonly tokenEndpoint: string;
  readonly clientId: string;
  readonly authentication: ClientAuthentication;
  /** Parameter that names the target API: RFC 8707 `resource` (default) or `audience` (Auth0 style). */
  readonly audienceParameter?: 'resource' | 'audience';
  /** Refresh once this fraction of the lifetime has passed. Default 0.8. */
  readonly refreshAheadRatio?: number;
  /** Up to this fraction of the lifetime is subtracted at random from the refresh time, so pods spread out. Default 0.05. */
  readonly jitterRatio?: number;
  /** Retries after a network error, 429 or 5xx. Default 2, at most 5. */
  readonly maxRetries?: number;
  /** First retry delay, doubled each time (with jitter). Default 200, 0 to 5000. */
  readonly retryBaseDelayMs?: number;
  /** Abort one token request after this long. Default 5000, 1 to 60000. */
  readonly timeoutMs?: number;
  /**
   * Lifetime assumed when the response has no `expires_in`. Default 60 seconds, 1 to 86400. A
   * token is cached at most 24 hours, whatever `expires_in` it claims.
   */
  readonly defaultExpiresInSeconds?: number;
  readonly fetch?: typeof fetch;
  /**
   * Obtain DPoP-bound tokens (RFC 9449): token requests carry a proof of this key, a
   * `use_dpop_nonce` answer is retried once with the server's nonce, and the response must have
   * `token_type: DPoP`. Use {@link TokenProvider.getRequestHeaders} for calls with the token.
   */
  readonly dpop?: DpopKeyPair;
  /** Clock in ms, for tests. */
  readonly now?: () => number;
  /** Random in [0, 1), for tests. */
  readonly random?: () => number;
  /** Waits between retries, for tests. Default a timer. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What a token is requested for. */
export interface TokenRequest {
  /** The target API (sent as `resource` or `audience`). */
  readonly audience?: string;
  readonly scopes?: readonly string[];
}

/** Outbound client-credentials tokens, cached per (issuer, audience, scopes). */
export interface TokenProvider {
  /** A valid access token for `request`; from cache when fresh. */
  getToken(request?: TokenRequest): Promise<string>;
  /** `Bearer <token>` for an `Authorization` header. */
  getAuthorizationHeader(request?: TokenRequest): Promise<string>;
  /**
   * `authorization` (and with DPoP, a `dpop` proof for this method and URL) for one outbound call.
   * Pass the API's latest `DPoP-Nonce` when it sent one.
   */
  getRequestHeaders(
    target: { readonly method: string; readonly url: string; readonly nonce?: string },
    request?: TokenRequest,
  ): Promise<Record<string, string>>;
  /** Drops the cached token (e.g. after the API answered 401 `invalid_token`). */
  invalidate(request?: TokenRequest): void;
}

interface CacheEntry {
  readonly token: string;
  readonly refreshAt: number;
  /** Last moment the token is handed out: expiry minus the safety margin. */
  readonly usableUntil: number;
}

/** The last failed refresh of one cache key, and how long the endpoint is not asked again. */
interface FailureEntry {
  readonly error: unknown;
  readonly failures: number;
  /** Clock time of the failure; relative, so a clock stepped back ends the wait instead of extending it. */
  readonly recordedAt: number;
  readonly waitMs: number;
}

const RFC6749_ERRORS = new Set([
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'invalid_target',
]);
const TOKEN68 = /^[A-Za-z0-9\-._~+/]+=*$/;
const LOOPBACK = /^(127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/i;
/** Token responses are small; anything larger is refused. */
const MAX_RESPONSE_BYTES = 65_536;
/** Upper bound of one retry wait, so a caller is never parked for long. */
const MAX_RETRY_DELAY_MS = 5_000;
/**
 * Tokens are never used this close to expiry (the request could arrive after it); for a token
 * living under 10 s, half its lifetime instead, so it is still cached for its first half.
 */
const EXPIRY_SAFETY_MS = 5_000;
/**
 * Longest lifetime a token is cached for, whatever `expires_in` it claims: a token claiming a
 * longer life (or a server bug such as `1e308`) is still refreshed at least daily.
 */
const MAX_CACHED_LIFETIME_MS = 86_400_000;
/** Longest `timeoutMs` accepted. */
const MAX_TIMEOUT_MS = 60_000;
/** Backoff between refreshes after a failed one: doubled per failure, with jitter, within these bounds. */
const FAILURE_BACKOFF_MIN_MS = 1_000;
const FAILURE_BACKOFF_MAX_MS = 60_000;
/** A `Retry-After` longer than this is capped, so a bad header cannot park a pod for hours. */
const MAX_RETRY_AFTER_MS = 300_000;

/**
 * `Retry-After` (RFC 9110 §10.2.3) in whole seconds, capped at MAX_RETRY_AFTER_MS: delta-seconds
 * (digits only, so `1e3` or `0x3c` are not numbers here) or an HTTP-date. Undefined when absent or
 * invalid, so the provider's own backoff applies.
 */
function retryAfterSecondsOf(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const value = header.trim();
  let seconds: number;
  if (/^\d+$/.test(value)) {
    seconds = Number(value);
  } else {
    const at = /^[A-Za-z]/.test(value) ? Date.parse(value) : Number.NaN;
    if (!Number.isFinite(at)) return undefined;
    seconds = Math.max(0, Math.ceil((at - now) / 1000));
  }
  return Math.min(seconds, MAX_RETRY_AFTER_MS / 1000);
}

function endpointError(message: string, retryable: boolean, cause?: unknown, retryAfterSeconds?: number): BearerError {
  return new BearerError('ERR_BEARER_TOKEN_ENDPOINT', message, {
    cause,
    retryable,
    ...(retryAfterSeconds === undefined ? {} : { retryAfterSeconds }),
  });
}

/**
 * Client-credentials tokens for calling other services. Tokens are cached per (issuer, audience,
 * scopes), refreshed in the background once `refreshAheadRatio` of their lifetime has passed
 * (minus random jitter so pods do not refresh in lock-step), with one request in flight per key
 * and bounded retries with exponential backoff on network errors, 429 and 5xx. After a failed
 * refresh, the endpoint is not asked again for that key before a backoff (1 s doubling to 60 s,
 * with jitter) or the server's `Retry-After` (at most 5 min) has passed: meanwhile a still-valid
 * token is served, and without one the last error is thrown again with `retryAfterSeconds` set.
 *
 * > This is a per-pod (per-process) cache by design: each pod holds its own tokens. That keeps
 * > token material out of shared stores, and N pods cost N token requests per lifetime.
 *
 * @example
 * ```ts
 * import { createTokenProvider } from '@rampart/bearer';
 * const tokens = createTokenProvider({
 *   tokenEndpoint: 'https://id.example.com/token',
 *   clientId: 'billing',
 *   authentication: { method: 'client_secret_basic', clientSecret: secrets.billingClientSecret },
 * });
 * await fetch(url, { headers: { authorization: await tokens.getAuthorizationHeader({ audience: 'https://orders.example.com', scopes: ['orders:read'] }) } });
 * ```
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const problems: string[] = [];
  let endpoint: URL | undefined;
  try {
    endpoint = new URL(options.tokenEndpoint);
    if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && LOOPBACK.test(endpoint.hostname))) {
      problems.push('tokenEndpoint must be https');
    }
  } catch {
    problems.push('tokenEndpoint must be an absolute URL');
  }
  if (typeof options.clientId !== 'string' || options.clientId === '') problems.push('clientId is required');
  const auth = options.authentication;
  problems.push(...clientAuthenticationProblems(auth, 'authentication.'));
  const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
  const ratio = options.refreshAheadRatio ?? 0.8;
  if (!(isNumber(ratio) && ratio > 0 && ratio < 1)) problems.push('refreshAheadRatio must be in (0, 1)');
  const jitterRatio = options.jitterRatio ?? 0.05;
  if (!(isNumber(jitterRatio) && jitterRatio >= 0 && jitterRatio < ratio)) {
    problems.push('jitterRatio must be in [0, refreshAheadRatio)');
  }
  const maxRetries = options.maxRetries ?? 2;
  if (!(Number.isInteger(maxRetries) && maxRetries >= 0 && maxRetries <= 5)) problems.push('maxRetries must be 0..5');
  const timeoutMs = options.timeoutMs ?? 5_000;
  if (!(isNumber(timeoutMs) && timeoutMs >= 1 && timeoutMs <= MAX_TIMEOUT_MS)) {
    problems.push(`timeoutMs must be a number of milliseconds between 1 and ${MAX_TIMEOUT_MS}`);
  }
  const baseDelay = options.retryBaseDelayMs ?? 200;
  if (!(isNumber(baseDelay) && baseDelay >= 0 && baseDelay <= MAX_RETRY_DELAY_MS)) {
    problems.push(`retryBaseDelayMs must be a number of milliseconds between 0 and ${MAX_RETRY_DELAY_MS}`);
  }
  const defaultExpiresIn = options.defaultExpiresInSeconds ?? 60;
  if (!(isNumber(defaultExpiresIn) && defaultExpiresIn >= 1 && defaultExpiresIn <= MAX_CACHED_LIFETIME_MS / 1000)) {
    problems.push(`defaultExpiresInSeconds must be a number of seconds between 1 and ${MAX_CACHED_LIFETIME_MS / 1000}`);
  }
  const audienceParameter = options.audienceParameter ?? 'resource';
  if (audienceParameter !== 'resource' && audienceParameter !== 'audience') {
    problems.push('audienceParameter must be "resource" or "audience"');
  }
  for (const name of ['fetch', 'now', 'random', 'sleep'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') problems.push(`${name} must be a function`);
  }
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid token provider options: ${problems.join('; ')}.`);
  }
  const tokenEndpoint = (endpoint as URL).href;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const clock = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const defaultLifetime = defaultExpiresIn * 1000;

  const signer = options.dpop === undefined ? undefined : dpopProofSigner(options.dpop, clock);
  /** The authorization server's latest DPoP nonce (RFC 9449 §8). */
  let serverNonce: string | undefined;
  const cache = new Map<string, CacheEntry>();
  const inFlight = new Map<string, Promise<CacheEntry>>();

  const keyOf = (request: TokenRequest): string =>
    JSON.stringify([tokenEndpoint, request.audience ?? null, [...new Set(request.scopes ?? [])].sort()]);

  /** The request for `request`, and the DPoP nonce its proof carries (undefined: none). */
  const buildRequest = async (request: TokenRequest): Promise<{ init: RequestInit; nonce: string | undefined }> => {
    const params: [string, string][] = [['grant_type', 'client_credentials']];
    if (request.scopes && request.scopes.length > 0) params.push(['scope', [...new Set(request.scopes)].join(' ')]);
    if (request.audience !== undefined) params.push([audienceParameter, request.audience]);
    const headers: Record<string, string> = {
      'content-type': 'application/x-www-form-urlencoded',
      accept: 'application/json',
    };
    await authenticateClient(auth, options.clientId, tokenEndpoint, params, headers, clock());
    // Read once: concurrent requests may update serverNonce while this one is being built.
    const nonce = signer === undefined ? undefined : serverNonce;
    if (signer !== undefined) {
      headers.dpop = await signer.proof({
        method: 'POST',
        url: tokenEndpoint,
        ...(nonce === undefined ? {} : { nonce }),
      });
    }
    return {
      init: {
        method: 'POST',
        headers,
        body: params.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`).join('&'),
        redirect: 'manual',
      },
      nonce,
    };
  };

  const requestOnce = async (request: TokenRequest, nonceRetry = true): Promise<CacheEntry> => {
    let response: Response;
    let sentNonce: string | undefined;
    try {
      const built = await buildRequest(request);
      sentNonce = built.nonce;
      response = await fetchImpl(tokenEndpoint, { ...built.init, signal: AbortSignal.timeout(timeoutMs) });
    } catch (cause) {
      throw endpointError('The token endpoint could not be reached (network error or timeout).', true, cause);
    }
    let text = '';
    try {
      text = await readBoundedText(response, MAX_RESPONSE_BYTES);
    } catch (cause) {
      throw endpointError('The token endpoint response is too large or not UTF-8.', false, cause);
    }
    let body: Record<string, unknown> = {};
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null) body = parsed as Record<string, unknown>;
    } catch {
      // handled below by status / field checks
    }
    const nonce = response.headers.get('dpop-nonce');
    if (signer !== undefined && nonce !== null && /^[\x21-\x7e]{1,512}$/.test(nonce)) {
      serverNonce = nonce;
      // RFC 9449 §8: the server wants a nonce in the proof; one immediate retry with it. Decided per
      // request (did this proof carry that nonce?), so concurrent requests each get their retry.
      if (response.status === 400 && body.error === 'use_dpop_nonce' && nonce !== sentNonce && nonceRetry) {
        return requestOnce(request, false);
      }
    }
    if (response.status !== 200) {
      const code = typeof body.error === 'string' && RFC6749_ERRORS.has(body.error) ? ` (${body.error})` : '';
      const retryable = response.status === 429 || response.status >= 500;
      throw endpointError(
        `The token endpoint answered HTTP ${response.status}${code}; check clientId, credentials, scopes and audience.`,
        retryable,
        undefined,
        retryAfterSecondsOf(response.headers.get('retry-after'), clock()),
      );
    }
    const token = body.access_token;
    if (typeof token !== 'string' || !TOKEN68.test(token)) {
      throw endpointError('The token endpoint response has no usable access_token.', false);
    }
    const expectedType = signer === undefined ? 'bearer' : 'dpop';
    if (typeof body.token_type !== 'string' || body.token_type.toLowerCase() !== expectedType) {
      throw endpointError(
        signer === undefined
          ? 'The token endpoint issued a token_type other than Bearer; configure dpop for DPoP-bound tokens.'
          : 'The token endpoint issued a token_type other than DPoP; it did not bind the token to the DPoP key.',
        false,
      );
    }
    const expiresIn = body.expires_in;
    const lifetime = Math.min(
      typeof expiresIn === 'number' && Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn * 1000 : defaultLifetime,
      MAX_CACHED_LIFETIME_MS,
    );
    const obtained = clock();
    const safety = Math.min(EXPIRY_SAFETY_MS, lifetime / 2);
    const usable = lifetime - safety;
    // Refresh at `ratio` of the lifetime, but never later than halfway between `ratio` of the
    // usable window and its end: for a short token (under ~45 s at the default ratio) `ratio` of
    // the lifetime falls inside the safety margin, and callers would block on every expiry.
    const refreshAfter = Math.min(lifetime * ratio, (usable * (1 + ratio)) / 2);
    // Jitter scales with the refresh point (jitterRatio < ratio keeps it after `obtained`); for
    // long tokens this is jitterRatio of the lifetime, as documented.
    const jitter = random() * (jitterRatio / ratio) * refreshAfter;
    return { token, usableUntil: obtained + usable, refreshAt: obtained + refreshAfter - jitter };
  };

  const fetchWithRetries = async (request: TokenRequest): Promise<CacheEntry> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await requestOnce(request);
      } catch (error) {
        if (!(error instanceof BearerError) || !error.retryable || attempt >= maxRetries) throw error;
        const backoff = baseDelay * 2 ** attempt * (0.5 + random() / 2);
        // Honour the server's Retry-After, but never wait longer than MAX_RETRY_DELAY_MS per attempt.
        const delay = Math.min(Math.max(backoff, (error.retryAfterSeconds ?? 0) * 1000), MAX_RETRY_DELAY_MS);
        await sleep(delay);
      }
    }
  };

  /** Per cache key: the last failed refresh. Cleared by the next successful one. */
  const failures = new Map<string, FailureEntry>();

  const recordFailure = (key: string, error: unknown): void => {
    const count = (failures.get(key)?.failures ?? 0) + 1;
    const backoff = Math.min(FAILURE_BACKOFF_MIN_MS * 2 ** (count - 1), FAILURE_BACKOFF_MAX_MS) * (0.5 + random() / 2);
    const retryAfterMs =
      error instanceof BearerError && error.retryAfterSeconds !== undefined
        ? Math.min(error.retryAfterSeconds * 1000, MAX_RETRY_AFTER_MS)
        : 0;
    failures.set(key, { error, failures: count, recordedAt: clock(), waitMs: Math.max(backoff, retryAfterMs) });
  };

  /** The last error again, with `retryAfterSeconds` counting down to the next allowed attempt. */
  const replayFailure = (failure: FailureEntry, now: number): unknown => {
    const error = failure.error;
    if (!(error instanceof BearerError)) return error;
    return new BearerError(error.code, error.message, {
      cause: error.cause,
      retryable: error.retryable,
      retryAfterSeconds: Math.max(1, Math.ceil((failure.recordedAt + failure.waitMs - now) / 1000)),
    });
  };

  const refresh = (key: string, request: TokenRequest): Promise<CacheEntry> => {
    const pending = inFlight.get(key);
    if (pending) return pending;
    const next = fetchWithRetries(request)
      .then(
        (entry) => {
          cache.set(key, entry);
          failures.delete(key);
          return entry;
        },
        (error: unknown) => {
          recordFailure(key, error);
          throw error;
        },
      )
      .finally(() => inFlight.delete(key));
    inFlight.set(key, next);
    return next;
  };

  const getToken = async (request: TokenRequest = {}): Promise<string> => {
    const key = keyOf(request);
    const cached = cache.get(key);
    const now = clock();
    const failure = failures.get(key);
    // After a failed refresh the endpoint is not asked again for waitMs (backoff and Retry-After),
    // however many requests arrive: a rejected client must not hammer its issuer. A clock that
    // stepped back to before the failure ends the wait rather than stretching it by the step.
    const backingOff =
      failure !== undefined &&
      now >= failure.recordedAt &&
      now - failure.recordedAt < failure.waitMs &&
      !inFlight.has(key);
    if (cached && now < cached.usableUntil) {
      if (now >= cached.refreshAt && !backingOff) {
        refresh(key, request).catch(() => {
          // The cached token stays valid until expiry; the next call after the backoff retries.
        });
      }
      return cached.token;
    }
    if (backingOff) throw replayFailure(failure, now);
    return (await refresh(key, request)).token;
  };

  return {
    getToken,
    getAuthorizationHeader: async (request) => `${signer === undefined ? 'Bearer' : 'DPoP'} ${await getToken(request)}`,
    async getRequestHeaders(target, request) {
      const token = await getToken(request);
      if (signer === undefined) return { authorization: `Bearer ${token}` };
      const proof = await signer.proof({
        method: target.method,
        url: target.url,
        accessToken: token,
        ...(target.nonce === undefined ? {} : { nonce: target.nonce }),
      });
      return { authorization: `DPoP ${token}`, dpop: proof };
    },
    invalidate: (request = {}) => {
      cache.delete(keyOf(request));
    },
  };
}
