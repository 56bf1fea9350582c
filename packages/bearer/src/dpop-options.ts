import { ASYMMETRIC_ALGORITHMS, type AsymmetricAlgorithm } from './compact-jws.ts';
import type { DpopNonceSource } from './dpop-nonce.ts';
import type { ReplayStore } from './replay-store.ts';

/** DPoP (RFC 9449) options of the verifier. */
export interface DpopOptions {
  /**
   * The origins clients use to reach this API (`https://api.example.com`), from which the expected
   * `htu` is built with the request path. The request's `Host` is never trusted.
   */
  readonly publicOrigins: readonly string[];
  /**
   * With several `publicOrigins`: the header your reverse proxy sets (overwriting any client
   * value) that says which host the client used. The last entry (the nearest proxy's) is read
   * and must match one of `publicOrigins`. Only set this when every request passes that proxy.
   */
  readonly trustedProxyHeader?: 'x-forwarded-host' | 'forwarded';
  /**
   * The path prefix your reverse proxy strips before requests reach this service, e.g.
   * `'/orders'` when the gateway forwards `https://api.example.com/orders/items` as `/items`. It
   * is put in front of the request path to build the expected `htu` (the request path `/` stands
   * for `/orders/`). Default: none, the path is the one the client sent. A path the proxy does not
   * strip (an Express router mounted at `/orders`) needs no prefix: `originalUrl` is used.
   */
  readonly publicPathPrefix?: string;
  /** Where proof `jti`s are remembered: `redisReplayStore(guard)` across pods, or `memoryReplayStore()`. Required. */
  readonly replayStore: ReplayStore;
  /** Proof algorithms accepted (asymmetric only). Default `['ES256', 'EdDSA', 'PS256', 'RS256']`. */
  readonly algorithms?: readonly AsymmetricAlgorithm[];
  /** Refuse the `Bearer` scheme entirely (only DPoP-bound tokens). Default false. */
  readonly required?: boolean;
  /** How old a proof's `iat` may be, in seconds. Default 60, at most 300. */
  readonly maxProofAgeSeconds?: number;
  /** Clock skew allowed for a proof's `iat` in the future, in seconds. Default 5, at most 60. */
  readonly clockToleranceSeconds?: number;
  /** Server-issued nonces (`hmacDpopNonces(...)`); when set, every proof must carry a current one. */
  readonly nonces?: DpopNonceSource;
}

function originProblems(value: unknown): string | undefined {
  try {
    const url = new URL(String(value));
    if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'must be http(s)';
    if (url.pathname !== '/' || url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
      return 'must be an origin only (scheme, host, port)';
    }
    return undefined;
  } catch {
    return 'must be an absolute URL';
  }
}

/** Why `value` is not a usable path prefix, or undefined. */
function pathPrefixProblem(value: unknown): string | undefined {
  if (typeof value !== 'string' || !value.startsWith('/') || value.length < 2 || value.endsWith('/')) {
    return 'must start with "/" and not end with "/"';
  }
  if (/[?#\s\\]/.test(value) || value.includes('//')) return 'must be a plain path';
  try {
    // Already in the form URL parsing gives it (no dot segments, canonical escapes), so the
    // expected htu is exactly prefix + request path.
    if (new URL(value, 'https://prefix.invalid').pathname !== value) return 'must be a normalized path';
  } catch {
    return 'must be a plain path';
  }
  return undefined;
}

/** Problems with the `dpop` options (empty when fine). */
export function dpopProblems(options: DpopOptions): string[] {
  const problems: string[] = [];
  if (typeof options !== 'object' || options === null) return ['dpop must be an object'];
  if (!Array.isArray(options.publicOrigins) || options.publicOrigins.length === 0) {
    problems.push(
      "dpop.publicOrigins is required (e.g. ['https://api.example.com']); the Host header is never trusted",
    );
  } else {
    for (const origin of options.publicOrigins) {
      const problem = originProblems(origin);
      if (problem !== undefined) {
        problems.push(`dpop.publicOrigins entries ${problem}`);
        break;
      }
    }
    if (options.publicOrigins.length > 1 && options.trustedProxyHeader === undefined) {
      problems.push('dpop.publicOrigins lists several origins: set dpop.trustedProxyHeader to tell them apart');
    }
  }
  if (options.publicPathPrefix !== undefined && pathPrefixProblem(options.publicPathPrefix) !== undefined) {
    problems.push(
      `dpop.publicPathPrefix ${pathPrefixProblem(options.publicPathPrefix)} (e.g. '/orders': a leading '/', no trailing '/', no query, fragment or dot segments)`,
    );
  }
  if (
    options.trustedProxyHeader !== undefined &&
    options.trustedProxyHeader !== 'x-forwarded-host' &&
    options.trustedProxyHeader !== 'forwarded'
  ) {
    problems.push("dpop.trustedProxyHeader must be 'x-forwarded-host' or 'forwarded'");
  }
  if (typeof options.replayStore?.check !== 'function') {
    problems.push(
      'dpop.replayStore is required: redisReplayStore(guard) from @rampart/bearer/redis, or memoryReplayStore() for a single pod',
    );
  }
  if (options.algorithms !== undefined) {
    if (
      !Array.isArray(options.algorithms) ||
      options.algorithms.length === 0 ||
      !options.algorithms.every((alg) => (ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg))
    ) {
      problems.push('dpop.algorithms must list asymmetric algorithms only; "none" and HMAC are refused');
    }
  }
  const seconds = (value: number | undefined, name: string, max: number, min: number): void => {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= min && value <= max)) {
      problems.push(`dpop.${name} must be between ${min} and ${max}`);
    }
  };
  seconds(options.maxProofAgeSeconds, 'maxProofAgeSeconds', 300, 1);
  seconds(options.clockToleranceSeconds, 'clockToleranceSeconds', 60, 0);
  if (options.required !== undefined && typeof options.required !== 'boolean') {
    problems.push('dpop.required must be a boolean');
  }
  if (
    options.nonces !== undefined &&
    (typeof options.nonces?.issue !== 'function' || typeof options.nonces?.check !== 'function')
  ) {
    problems.push('dpop.nonces must be a nonce source such as hmacDpopNonces(...)');
  }
  return problems;
}
