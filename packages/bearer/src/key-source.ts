import {
  createLocalJWKSet,
  createRemoteJWKSet,
  customFetch,
  type FlattenedJWSInput,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  errors as joseErrors,
} from 'jose';
import { readBoundedText } from './bounded-body.ts';
import { BearerError } from './errors.ts';
import { isJsonObject, type JsonObject, type JsonValue, parseStrictJson } from './strict-json.ts';

/** What a key source hands to `jose.jwtVerify`. */
export type KeyResolver = (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<CryptoKey>;

/** Something the key source reports for logs and metrics. Never carries a token or key. */
export type KeySourceEvent =
  | { readonly type: 'jwks.refreshed'; readonly url: string; readonly keys: number }
  | { readonly type: 'jwks.refresh_failed'; readonly url: string; readonly reason: string }
  | { readonly type: 'jwks.stale_served'; readonly url: string; readonly ageMs: number }
  | { readonly type: 'jwks.unavailable'; readonly url: string }
  /**
   * One entry of a fetched key set was left out (symmetric key, private members, duplicate
   * member, not an object); the other entries are used. Carries the entry's `kid` when it has a
   * short printable one, never key material.
   */
  | {
      readonly type: 'jwks.key_refused';
      readonly url: string;
      readonly kid: string | undefined;
      readonly reason: string;
    };

/** Where an issuer's verification keys come from. Build one with {@link remoteJwks} or {@link staticJwks}. */
export interface KeySource {
  /** `remote` or `static`. */
  readonly kind: 'remote' | 'static';
  /** Resolves the key for a token header; throws `BearerError` (`ERR_BEARER_KEYS_UNAVAILABLE` on outage). */
  readonly getKey: KeyResolver;
  /** Fetches the key set now (start-up pre-warm). Rejects with `ERR_BEARER_KEYS_UNAVAILABLE` on failure. */
  warm(): Promise<void>;
  /**
   * True once keys were obtained at least once and are within their (stale-if-error) lifetime.
   * For a remote source, a call also starts a background refresh (at most one in flight, at most
   * one attempt per failure backoff) when keys are due for one or the last attempt failed, so a
   * readiness probe alone keeps an idle service's keys fresh and brings it back once the issuer
   * recovers.
   */
  isReady(): boolean;
  /** True while the last attempt to refresh failed (keys are being served stale, or not at all). */
  isDegraded(): boolean;
  /** Seconds a client should wait when keys are unavailable. */
  readonly retryAfterSeconds: number;
}

/** Options of {@link remoteJwks}. Durations in milliseconds. */
export interface RemoteJwksOptions {
  /** Abort a JWKS request after this long. Default 5000, at most 30000. */
  readonly timeoutMs?: number;
  /** Minimum time between refetches caused by an unknown `kid`. Default 30000. */
  readonly cooldownMs?: number;
  /** Keys are refreshed after this age. Default 600000 (10 min). */
  readonly cacheMaxAgeMs?: number;
  /** Start a background refresh once keys reach this fraction of `cacheMaxAgeMs`. Default 0.8. */
  readonly refreshAheadRatio?: number;
  /** Keep serving the last good key set this long past `cacheMaxAgeMs` while the issuer is down. Default 3600000 (1 h), at most 86400000. */
  readonly staleIfErrorMs?: number;
  /** After a failed fetch, wait this long before the next attempt; also the `Retry-After`. Default 5000. */
  readonly failureBackoffMs?: number;
  /** Refuse JWKS responses larger than this. Default 65536. */
  readonly maxBodyBytes?: number;
  /** `fetch` to use (tests, proxies). Default the global `fetch`. Redirects are never followed. */
  readonly fetch?: typeof fetch;
  /** Allow `http:` to a non-loopback host. Default false: https only (loopback http is allowed for tests). */
  readonly allowInsecureHttp?: boolean;
  /** Metrics/logging hook. Exceptions thrown by it are ignored. */
  readonly onEvent?: (event: KeySourceEvent) => void;
}

const unavailable = (retryAfterSeconds: number, cause?: unknown): BearerError =>
  new BearerError(
    'ERR_BEARER_KEYS_UNAVAILABLE',
    "The issuer's signing keys could not be obtained (JWKS unreachable, timed out, oversized or invalid). Retry later; check the issuer's jwksUri.",
    { cause, retryable: true, retryAfterSeconds },
  );

const LOOPBACK_HOSTS = /^(127(?:\.\d{1,3}){3}|\[::1\]|localhost)$/i;

function checkDuration(problems: string[], name: string, value: number | undefined, min: number, max: number): void {
  if (value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min || value > max) {
    problems.push(`${name} must be a number of milliseconds between ${min} and ${max}`);
  }
}

/** Validates remote JWKS options; returns the problems (empty when fine). */
export function remoteJwksProblems(url: string | URL, options: RemoteJwksOptions, prefix = ''): string[] {
  const problems: string[] = [];
  let parsed: URL | undefined;
  try {
    parsed = new URL(String(url));
  } catch {
    problems.push(`${prefix}jwksUri must be an absolute URL`);
  }
  if (parsed) {
    if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') problems.push(`${prefix}jwksUri must be https`);
    if (parsed.protocol === 'http:' && !LOOPBACK_HOSTS.test(parsed.hostname) && options.allowInsecureHttp !== true) {
      problems.push(`${prefix}jwksUri must be https (set allowInsecureHttp only for a trusted private network)`);
    }
    if (parsed.username !== '' || parsed.password !== '')
      problems.push(`${prefix}jwksUri must not contain credentials`);
    if (parsed.hash !== '') problems.push(`${prefix}jwksUri must not contain a fragment`);
  }
  checkDuration(problems, `${prefix}timeoutMs`, options.timeoutMs, 1, 30_000);
  checkDuration(problems, `${prefix}cooldownMs`, options.cooldownMs, 0, 3_600_000);
  checkDuration(problems, `${prefix}cacheMaxAgeMs`, options.cacheMaxAgeMs, 1_000, 86_400_000);
  checkDuration(problems, `${prefix}staleIfErrorMs`, options.staleIfErrorMs, 0, 86_400_000);
  checkDuration(problems, `${prefix}failureBackoffMs`, options.failureBackoffMs, 0, 600_000);
  checkDuration(problems, `${prefix}maxBodyBytes`, options.maxBodyBytes, 256, 10_485_760);
  if (
    options.refreshAheadRatio !== undefined &&
    !(typeof options.refreshAheadRatio === 'number' && options.refreshAheadRatio > 0 && options.refreshAheadRatio <= 1)
  ) {
    problems.push(`${prefix}refreshAheadRatio must be a number in (0, 1]`);
  }
  return problems;
}

/** JWK members that only a private or secret key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; `priv` of ML-DSA "AKP" keys). */
const PRIVATE_MEMBERS = ['d', 'k', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'priv'];
/** Key types a verifier can use, and the public members each needs (RFC 7518 §6.2.1, §6.3.1; RFC 8037 §2). */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  EC: ['crv', 'x', 'y'],
  RSA: ['n', 'e'],
  OKP: ['crv', 'x'],
};
const PRINTABLE_KID = /^[\x20-\x7e]{1,128}$/;

/**
 * Why one JWK entry must never be trusted (secret or private key material, not an object), or
 * undefined. A key set holding one is an issuer misconfiguration whatever else it holds.
 */
function securityRefusalOf(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) return 'not a JSON object';
  const jwk = entry as Record<string, unknown>;
  if (jwk.kty === 'oct') return 'symmetric ("oct") key';
  if (PRIVATE_MEMBERS.some((member) => Object.hasOwn(jwk, member))) return 'private key material';
  return undefined;
}

/** Why one JWK entry cannot be used as a public verification key, or undefined when it can. */
function refusalOf(entry: unknown): string | undefined {
  const security = securityRefusalOf(entry);
  if (security !== undefined) return security;
  const jwk = entry as Record<string, unknown>;
  // An entry that cannot be a verification key must count as refused, or one junk entry next to
  // refused ones would let the set through as "not every entry refused".
  const kty = jwk.kty;
  if (typeof kty !== 'string' || !Object.hasOwn(PUBLIC_MEMBERS, kty)) return 'missing or unsupported "kty"';
  if (PUBLIC_MEMBERS[kty]?.some((member) => typeof jwk[member] !== 'string' || jwk[member] === '')) {
    return `missing public key members for "${kty}"`;
  }
  return undefined;
}

/** Whether a public JWK may verify signatures: not marked for encryption only, not an ECDH curve. */
function canVerify(key: JsonObject): boolean {
  if (key.use !== undefined && key.use !== 'sig') return false;
  if (Array.isArray(key.key_ops) && !key.key_ops.includes('verify')) return false;
  if (key.kty === 'OKP' && (key.crv === 'X25519' || key.crv === 'X448')) return false;
  return typeof key.alg !== 'string' || !/^(RSA-OAEP|RSA1_5|ECDH-ES|A\d+KW|dir)/.test(key.alg);
}

function assertUsableJwks(value: unknown): asserts value is JSONWebKeySet {
  if (typeof value !== 'object' || value === null || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new Error('JWKS response is not a JSON Web Key Set');
  }
  // Only what must never be trusted refuses a configured set: an entry of another or future key
  // type (an x5c-only certificate, a post-quantum key) is left to jose, which never selects it.
  for (const key of (value as { keys: unknown[] }).keys) {
    const refusal = securityRefusalOf(key);
    if (refusal !== undefined) throw new Error(`JWKS member refused: ${refusal}`);
  }
  createLocalJWKSet(value as JSONWebKeySet);
}

/** True when `value` is, or contains, one of `marked`. */
function containsMarked(value: JsonValue, marked: ReadonlySet<JsonObject>): boolean {
  if (Array.isArray(value)) return value.some((item) => containsMarked(item, marked));
  if (!isJsonObject(value)) return false;
  return marked.has(value) || Object.values(value).some((item) => containsMarked(item, marked));
}

/**
 * Splits a fetched JWKS body into usable public keys and refused entries. Throws when the body is
 * not a key set at all (not JSON, no `keys` array, a duplicate member outside the entries): a
 * transport-level failure that stale-if-error may cover.
 */
function screenJwks(body: string): {
  keys: JsonObject[];
  refused: { kid: string | undefined; reason: string }[];
} {
  const marked = new Set<JsonObject>();
  // Strict like token JSON: a member given twice could mean two things. Entries are judged one by
  // one, so one bad entry does not take the whole set down.
  const json = parseStrictJson(body, { onRefusedMember: (object) => marked.add(object) });
  if (!isJsonObject(json) || marked.has(json) || !Array.isArray(json.keys)) {
    throw new Error('JWKS response is not a JSON Web Key Set');
  }
  const keys: JsonObject[] = [];
  const refused: { kid: string | undefined; reason: string }[] = [];
  for (const entry of json.keys) {
    const reason = containsMarked(entry, marked) ? 'duplicate or "__proto__" member' : refusalOf(entry);
    if (reason === undefined) {
      keys.push(entry as JsonObject);
      continue;
    }
    const kid = isJsonObject(entry) ? entry.kid : undefined;
    refused.push({ kid: typeof kid === 'string' && PRINTABLE_KID.test(kid) ? kid : undefined, reason });
  }
  return { keys, refused };
}

function emit(onEvent: RemoteJwksOptions['onEvent'], event: KeySourceEvent): void {
  try {
    onEvent?.(event);
  } catch {
    // A broken metrics hook must not break authentication.
  }
}

/**
 * An issuer's key set fetched from its `jwks_uri`, built on jose's `createRemoteJWKSet` (single
 * flight, cooldown on unknown `kid`, key import cache) with a hardened transport and outage
 * handling on top:
 *
 * - **stale-if-error**: when a refresh fails, the last good key set keeps verifying tokens for
 *   `staleIfErrorMs` past its normal lifetime; after that the verifier answers 503, never 401;
 * - **refresh-ahead**: a background refresh starts at `refreshAheadRatio` of `cacheMaxAgeMs`;
 * - **kid floods**: an unknown `kid` triggers at most one fetch per `cooldownMs`, and a failed
 *   fetch at most one retry per `failureBackoffMs`; known keys keep working throughout;
 * - **transport**: timeout, body-size cap, redirects refused, https only.
 *
 * @example
 * ```ts
 * import { remoteJwks } from '@rampart/bearer';
 * const keys = remoteJwks('https://id.example.com/jwks', { staleIfErrorMs: 3_600_000 });
 * await keys.warm(); // at start-up; readiness probe uses keys.isReady()
 * ```
 */
export function remoteJwks(url: string | URL, options: RemoteJwksOptions = {}): KeySource {
  const problems = remoteJwksProblems(url, options);
  if (problems.length > 0) {
    throw new BearerError('ERR_BEARER_INVALID_OPTIONS', `Invalid remoteJwks options: ${problems.join('; ')}.`);
  }
  const href = new URL(String(url)).href;
  const timeoutMs = options.timeoutMs ?? 5_000;
  const cooldownMs = options.cooldownMs ?? 30_000;
  const cacheMaxAgeMs = options.cacheMaxAgeMs ?? 600_000;
  const refreshAfterMs = cacheMaxAgeMs * (options.refreshAheadRatio ?? 0.8);
  const staleIfErrorMs = options.staleIfErrorMs ?? 3_600_000;
  const failureBackoffMs = options.failureBackoffMs ?? 5_000;
  const maxBodyBytes = options.maxBodyBytes ?? 65_536;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const retryAfterSeconds = Math.max(1, Math.ceil(failureBackoffMs / 1000));

  let lastGood: { body: string; at: number } | undefined;
  let lastFailureAt = Number.NEGATIVE_INFINITY;
  let degraded = false;

  const withinStaleWindow = (now: number): boolean =>
    lastGood !== undefined && now - lastGood.at <= cacheMaxAgeMs + staleIfErrorMs;
  const backingOff = (now: number): boolean => degraded && now - lastFailureAt < failureBackoffMs;

  const hardenedFetch = async (input: string, init: RequestInit): Promise<Response> => {
    const now = Date.now();
    if (backingOff(now)) {
      if (withinStaleWindow(now) && lastGood) return new Response(lastGood.body, { status: 200 });
      throw unavailable(retryAfterSeconds);
    }
    let refusedEverything = false;
    try {
      const signal = init.signal
        ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)])
        : AbortSignal.timeout(timeoutMs);
      const response = await fetchImpl(input, { ...init, redirect: 'manual', signal });
      if (response.status !== 200) {
        await response.body?.cancel().catch(() => {});
        throw new Error(`JWKS endpoint answered HTTP ${response.status}`);
      }
      const screened = screenJwks(await readBoundedText(response, maxBodyBytes));
      for (const { kid, reason } of screened.refused) {
        emit(options.onEvent, { type: 'jwks.key_refused', url: href, kid, reason });
      }
      // Only keys that can verify a signature count: a set with none (every entry refused, only
      // encryption keys such as use "enc" or X25519, or `{"keys":[]}`) has nothing usable.
      if (!screened.keys.some(canVerify)) {
        // The issuer answered, but with nothing usable: a misconfiguration, not an outage. Fail
        // closed: no stale keys, 503 (not ready) until it publishes public signing keys again.
        refusedEverything = true;
        throw new Error('the JWKS has no public key that can verify signatures');
      }
      const body = JSON.stringify({ keys: screened.keys });
      lastGood = { body, at: Date.now() };
      degraded = false;
      emit(options.onEvent, { type: 'jwks.refreshed', url: href, keys: screened.keys.length });
      return new Response(body, { status: 200 });
    } catch (error) {
      if (refusedEverything) lastGood = undefined;
      lastFailureAt = Date.now();
      degraded = true;
      const reason = error instanceof Error ? error.message.slice(0, 200) : 'unknown';
      emit(options.onEvent, { type: 'jwks.refresh_failed', url: href, reason });
      if (withinStaleWindow(lastFailureAt) && lastGood) {
        emit(options.onEvent, { type: 'jwks.stale_served', url: href, ageMs: lastFailureAt - lastGood.at });
        return new Response(lastGood.body, { status: 200 });
      }
      emit(options.onEvent, { type: 'jwks.unavailable', url: href });
      throw unavailable(retryAfterSeconds, error);
    }
  };

  const remote = createRemoteJWKSet(new URL(href), {
    timeoutDuration: timeoutMs,
    cooldownDuration: cooldownMs,
    cacheMaxAge: cacheMaxAgeMs,
    [customFetch]: hardenedFetch,
  });

  const reloadInBackground = (): void => {
    if (remote.reloading) return;
    remote.reload().catch(() => {
      // Recorded by hardenedFetch; the request that triggered this is served from cache.
    });
  };

  const getKey: KeyResolver = async (header, token) => {
    const now = Date.now();
    if (lastGood === undefined || !withinStaleWindow(now)) {
      // Never had keys, or the stale window is over: jose may still think its copy is fresh
      // (it stamps stale copies as new), so force a real attempt, bounded by the backoff.
      try {
        await remote.reload();
      } catch (error) {
        throw error instanceof BearerError ? error : unavailable(retryAfterSeconds, error);
      }
      if (!withinStaleWindow(Date.now())) throw unavailable(retryAfterSeconds);
    } else if (now - lastGood.at >= refreshAfterMs || (degraded && !backingOff(now))) {
      reloadInBackground();
    }
    try {
      return (await remote(header, token)) as CryptoKey;
    } catch (error) {
      if (error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
      if (error instanceof joseErrors.JWKSNoMatchingKey) {
        if (degraded) throw unavailable(retryAfterSeconds, error);
        throw new BearerError(
          'ERR_BEARER_TOKEN_INVALID',
          'No key in the issuer\'s JWKS matches the token\'s "kid" and "alg".',
        );
      }
      if (error instanceof BearerError) throw error;
      if (error instanceof joseErrors.JWKSTimeout) throw unavailable(retryAfterSeconds, error);
      // Fetch failures arrive as BearerError from hardenedFetch, and a key too weak for the
      // algorithm is judged later (isKeyForAlgorithm, a verdict on the token). What is left is the
      // issuer publishing a key that does not import (bad modulus, point off the curve): the
      // issuer's fault, so 503 and retry, not a 401 that logs every client out mid-rotation.
      throw unavailable(retryAfterSeconds, error);
    }
  };

  return {
    kind: 'remote',
    getKey,
    retryAfterSeconds,
    async warm(): Promise<void> {
      try {
        await remote.reload();
      } catch (error) {
        throw error instanceof BearerError ? error : unavailable(retryAfterSeconds, error);
      }
      if (degraded && !withinStaleWindow(Date.now())) throw unavailable(retryAfterSeconds);
    },
    isReady(): boolean {
      const now = Date.now();
      // Keys otherwise refresh only on a request, and an unready pod gets none: the probe itself
      // must start the refresh, or an idle pod past the stale window stays unready for good. A
      // failed attempt (including a failed warm()) is retried here too, once per failure backoff.
      const due = degraded || (lastGood !== undefined && now - lastGood.at >= refreshAfterMs);
      if (due && !backingOff(now)) reloadInBackground();
      return withinStaleWindow(now);
    },
    isDegraded: () => degraded,
  };
}

/**
 * A fixed key set (keys distributed with the deployment, or an issuer without a JWKS endpoint).
 * Private or symmetric keys are refused.
 *
 * @example
 * ```ts
 * import { staticJwks } from '@rampart/bearer';
 * const keys = staticJwks({ keys: [publicJwk] });
 * ```
 */
export function staticJwks(jwks: JSONWebKeySet): KeySource {
  try {
    assertUsableJwks(jwks);
  } catch (cause) {
    throw new BearerError(
      'ERR_BEARER_INVALID_OPTIONS',
      'Invalid staticJwks key set: it must be {"keys": [...]} of public asymmetric JWKs (no "oct" keys, no private members).',
      { cause },
    );
  }
  const local = createLocalJWKSet(jwks);
  return {
    kind: 'static',
    retryAfterSeconds: 1,
    getKey: async (header, token) => {
      try {
        return (await local(header, token)) as CryptoKey;
      } catch (error) {
        if (error instanceof joseErrors.JWKSMultipleMatchingKeys) throw error;
        throw new BearerError(
          'ERR_BEARER_TOKEN_INVALID',
          'No key in the static JWKS matches the token\'s "kid" and "alg".',
        );
      }
    },
    warm: async () => {},
    isReady: () => true,
    isDegraded: () => false,
  };
}
